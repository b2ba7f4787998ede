/* NumPy .npy tables (see gar_npy.h). The format, as numpy documents it
 * (numpy/lib/format.py): the magic "\x93NUMPY", a major and a minor version
 * byte, the header length (2 bytes little-endian in 1.0; 4 bytes in 2.0 and
 * 3.0), the header (a Python dict literal, ASCII; UTF-8 in 3.0) padded with
 * spaces and a newline, then the records, back to back. */
#include "gar_npy.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* numpy's own reader stops at 10000 bytes unless told more; cryoSPARC's
 * tools raise it (a .cs with many columns has a long header). 64 MiB is far
 * beyond any real table and keeps a corrupt length from allocating
 * gigabytes. */
#define NPY_MAX_HEADER (64u << 20)
#define NPY_MAX_COLUMNS 100000

struct gar_npy {
    char *path;
    gar_npy_column *cols;
    size_t n_cols;
    size_t rows;
    size_t record;          /* bytes per row */
    unsigned char *data;    /* rows * record */
};

static int host_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* ---- the header dict ---- */

typedef struct parser {
    const char *s;
    size_t pos, len;
    const char *name; /* the file, for messages */
} parser;

static void skip_ws(parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
                               p->s[p->pos] == '\r'))
        p->pos++;
}

static int peek(parser *p)
{
    skip_ws(p);
    return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static gar_status expect_char(parser *p, char c, const char *where)
{
    if (peek(p) != (unsigned char)c)
        return gar_error(GAR_ERR_DATA, "%s: .npy header: expected '%c' %s at byte %zu", p->name, c, where, p->pos);
    p->pos++;
    return GAR_OK;
}

/* A Python string literal in single or double quotes (the escapes repr
 * writes: backslash, quotes). */
static gar_status parse_string(parser *p, char *buf, size_t cap, const char *what)
{
    int q = peek(p);
    size_t n = 0;
    if (q != '\'' && q != '"')
        return gar_error(GAR_ERR_DATA, "%s: .npy header: expected a quoted %s at byte %zu", p->name, what, p->pos);
    p->pos++;
    while (p->pos < p->len && p->s[p->pos] != q) {
        char c = p->s[p->pos++];
        if (c == '\\' && p->pos < p->len)
            c = p->s[p->pos++];
        if (n + 1 >= cap)
            return gar_error(GAR_ERR_DATA, "%s: .npy header: %s longer than %zu characters", p->name, what, cap - 1);
        buf[n++] = c;
    }
    if (p->pos >= p->len)
        return gar_error(GAR_ERR_DATA, "%s: .npy header: unterminated %s", p->name, what);
    p->pos++;
    buf[n] = '\0';
    return GAR_OK;
}

static gar_status parse_size(parser *p, size_t *out, const char *what)
{
    size_t v = 0;
    int digits = 0;
    skip_ws(p);
    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
        size_t d = (size_t)(p->s[p->pos++] - '0');
        if (v > (SIZE_MAX - d) / 10)
            return gar_error(GAR_ERR_DATA, "%s: .npy header: %s too large", p->name, what);
        v = v * 10 + d;
        digits++;
    }
    if (digits == 0)
        return gar_error(GAR_ERR_DATA, "%s: .npy header: expected a non-negative integer for %s at byte %zu",
                         p->name, what, p->pos);
    *out = v;
    return GAR_OK;
}

/* A tuple of sizes: "()", "(n,)", "(a, b)". */
static gar_status parse_dims(parser *p, size_t *dims, int max, int *ndim, const char *what)
{
    gar_status st;
    *ndim = 0;
    if ((st = expect_char(p, '(', what)) != GAR_OK)
        return st;
    while (peek(p) != ')') {
        if (*ndim == max)
            return gar_error(GAR_ERR_DATA, "%s: .npy header: %s has more than %d dimensions", p->name, what, max);
        if ((st = parse_size(p, &dims[(*ndim)++], what)) != GAR_OK)
            return st;
        if (peek(p) == ',')
            p->pos++;
        else if (peek(p) != ')')
            return gar_error(GAR_ERR_DATA, "%s: .npy header: expected ',' or ')' in %s at byte %zu", p->name,
                             what, p->pos);
    }
    p->pos++;
    return GAR_OK;
}

/* One type string of a column, e.g. "<f4", "|S31", "<U8", "|V4", "<M8[ns]". */
static gar_status parse_type(const char *file, gar_npy_column *c)
{
    const char *t = c->type;
    char order = t[0], kind;
    size_t size = 0;
    const char *q;
    if (order != '<' && order != '>' && order != '|' && order != '=')
        return gar_error(GAR_ERR_DATA, "%s: column '%s': type '%s': expected a byte order '<', '|' or '=' first",
                         file, c->name, t);
    kind = t[1];
    if (kind == 'O')
        return gar_error(GAR_ERR_DATA, "%s: column '%s' is a Python object column ('%s'); re-export with string "
                         "paths (fixed-width byte strings, numpy 'S')", file, c->name, t);
    if (kind == '\0')
        return gar_error(GAR_ERR_DATA, "%s: column '%s': type '%s' has no kind", file, c->name, t);
    for (q = t + 2; *q >= '0' && *q <= '9'; q++) {
        if (size > 100000000)
            return gar_error(GAR_ERR_DATA, "%s: column '%s': type '%s' is too wide", file, c->name, t);
        size = size * 10 + (size_t)(*q - '0');
    }
    if (q == t + 2 || (*q != '\0' && *q != '['))
        return gar_error(GAR_ERR_DATA, "%s: column '%s': type '%s': expected a size after the kind", file,
                         c->name, t);
    switch (kind) {
    case 'b':
    case 'u':
        c->kind = GAR_NPY_UINT;
        break;
    case 'i':
        c->kind = GAR_NPY_INT;
        break;
    case 'f':
        c->kind = (size == 4 || size == 8) ? GAR_NPY_FLOAT : GAR_NPY_OTHER;
        break;
    case 'S':
        c->kind = GAR_NPY_BYTES;
        break;
    case 'U':
        c->kind = GAR_NPY_UNICODE;
        break;
    default:
        c->kind = GAR_NPY_OTHER;
    }
    if ((c->kind == GAR_NPY_UINT || c->kind == GAR_NPY_INT) && size != 1 && size != 2 && size != 4 && size != 8)
        return gar_error(GAR_ERR_DATA, "%s: column '%s': type '%s': integers of %zu bytes are not a numpy type",
                         file, c->name, t, size);
    if (kind == 'b' && size != 1)
        return gar_error(GAR_ERR_DATA, "%s: column '%s': type '%s': a bool has 1 byte", file, c->name, t);
    c->item = kind == 'U' ? 4 * size : size;
    if (order == '>' && c->item > 1)
        return gar_error(GAR_ERR_DATA, "%s: column '%s' has the big-endian type '%s'; garner reads little-endian "
                         "files (numpy: a.astype(a.dtype.newbyteorder('<')))", file, c->name, t);
    if (order == '=' && !host_little_endian())
        return gar_error(GAR_ERR_DATA, "%s: column '%s': native byte order on a big-endian host", file, c->name);
    return GAR_OK;
}

/* 'descr': [('name', 'type'), ('name', 'type', (shape)), ...]. */
static gar_status parse_descr(parser *p, gar_npy *t)
{
    gar_status st;
    size_t cap = 0;
    if (peek(p) == '\'' || peek(p) == '"')
        return gar_error(GAR_ERR_DATA, "%s: .npy header: 'descr' is a plain type, expected a structured array "
                         "(a list of (name, type) columns)", p->name);
    if ((st = expect_char(p, '[', "to open 'descr'")) != GAR_OK)
        return st;
    while (peek(p) != ']') {
        gar_npy_column *c;
        if (t->n_cols == NPY_MAX_COLUMNS)
            return gar_error(GAR_ERR_DATA, "%s: .npy header: more than %d columns", p->name, NPY_MAX_COLUMNS);
        if (t->n_cols == cap) {
            size_t ncap = cap ? 2 * cap : 32;
            gar_npy_column *nc = realloc(t->cols, ncap * sizeof *nc);
            if (nc == NULL)
                return gar_error(GAR_ERR_NOMEM, "%s: out of memory for the column list", p->name);
            t->cols = nc;
            cap = ncap;
        }
        c = &t->cols[t->n_cols];
        memset(c, 0, sizeof *c);
        if ((st = expect_char(p, '(', "to open a column of 'descr'")) != GAR_OK ||
            (st = parse_string(p, c->name, sizeof c->name, "column name")) != GAR_OK ||
            (st = expect_char(p, ',', "after a column name")) != GAR_OK)
            return st;
        if (peek(p) == '[')
            return gar_error(GAR_ERR_DATA, "%s: column '%s' is a nested structure; expected a plain type", p->name,
                             c->name);
        if ((st = parse_string(p, c->type, sizeof c->type, "column type")) != GAR_OK)
            return gar_error_context(st, "column '%s'", c->name);
        if ((st = parse_type(p->name, c)) != GAR_OK)
            return st;
        c->count = 1;
        if (peek(p) == ',') {
            p->pos++;
            if (peek(p) == '(') {
                if ((st = parse_dims(p, c->shape, 4, &c->ndim, "a column shape")) != GAR_OK)
                    return gar_error_context(st, "column '%s'", c->name);
                for (int k = 0; k < c->ndim; k++)
                    if (!gar_size_mul(c->count, c->shape[k], &c->count))
                        return gar_error(GAR_ERR_DATA, "%s: column '%s': shape too large", p->name, c->name);
                if (peek(p) == ',')
                    p->pos++;
            }
        }
        if ((st = expect_char(p, ')', "to close a column of 'descr'")) != GAR_OK)
            return gar_error_context(st, "column '%s'", c->name);
        c->offset = t->record;
        {
            size_t bytes;
            if (!gar_size_mul(c->item, c->count, &bytes) || t->record + bytes < t->record)
                return gar_error(GAR_ERR_DATA, "%s: column '%s': record size overflows", p->name, c->name);
            t->record += bytes;
        }
        /* numpy names padding '' and never repeats a name. */
        for (size_t k = 0; c->name[0] != '\0' && k < t->n_cols; k++)
            if (strcmp(t->cols[k].name, c->name) == 0)
                return gar_error(GAR_ERR_DATA, "%s: column '%s' appears twice in 'descr'", p->name, c->name);
        t->n_cols++;
        if (peek(p) == ',')
            p->pos++;
        else if (peek(p) != ']')
            return gar_error(GAR_ERR_DATA, "%s: .npy header: expected ',' or ']' in 'descr' at byte %zu", p->name,
                             p->pos);
    }
    p->pos++;
    if (t->n_cols == 0)
        return gar_error(GAR_ERR_DATA, "%s: .npy header: 'descr' has no columns", p->name);
    return GAR_OK;
}

static gar_status parse_header(parser *p, gar_npy *t)
{
    gar_status st;
    int have_descr = 0, have_order = 0, have_shape = 0;
    if ((st = expect_char(p, '{', "to open the header dict")) != GAR_OK)
        return st;
    while (peek(p) != '}') {
        char key[32];
        if ((st = parse_string(p, key, sizeof key, "header key")) != GAR_OK ||
            (st = expect_char(p, ':', "after a header key")) != GAR_OK)
            return st;
        if (strcmp(key, "descr") == 0 && !have_descr) {
            if ((st = parse_descr(p, t)) != GAR_OK)
                return st;
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !have_order) {
            skip_ws(p);
            if (p->len - p->pos >= 5 && strncmp(p->s + p->pos, "False", 5) == 0) {
                p->pos += 5;
            } else if (p->len - p->pos >= 4 && strncmp(p->s + p->pos, "True", 4) == 0) {
                return gar_error(GAR_ERR_DATA, "%s: .npy header: 'fortran_order' is True, expected False (a "
                                 "1-D table has one order; write it with numpy.save of a C-ordered array)", p->name);
            } else {
                return gar_error(GAR_ERR_DATA, "%s: .npy header: 'fortran_order': expected False at byte %zu",
                                 p->name, p->pos);
            }
            have_order = 1;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            size_t dims[8];
            int nd;
            if ((st = parse_dims(p, dims, 8, &nd, "'shape'")) != GAR_OK)
                return st;
            if (nd != 1)
                return gar_error(GAR_ERR_DATA, "%s: .npy header: 'shape' has %d dimensions, expected 1 (n,)",
                                 p->name, nd);
            t->rows = dims[0];
            have_shape = 1;
        } else {
            return gar_error(GAR_ERR_DATA, "%s: .npy header: unexpected key '%s' (expected 'descr', "
                             "'fortran_order', 'shape', once each)", p->name, key);
        }
        if (peek(p) == ',')
            p->pos++;
        else if (peek(p) != '}')
            return gar_error(GAR_ERR_DATA, "%s: .npy header: expected ',' or '}' at byte %zu", p->name, p->pos);
    }
    p->pos++;
    if (!have_descr || !have_order || !have_shape)
        return gar_error(GAR_ERR_DATA, "%s: .npy header: missing key '%s'", p->name,
                         !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
    if (peek(p) != -1)
        return gar_error(GAR_ERR_DATA, "%s: .npy header: unexpected text after the dict at byte %zu", p->name,
                         p->pos);
    return GAR_OK;
}

/* ---- reading ---- */

static gar_status set_path(gar_npy *t, const char *name)
{
    size_t n = strlen(name) + 1;
    if ((t->path = malloc(n)) == NULL)
        return gar_error(GAR_ERR_NOMEM, "%s: out of memory", name);
    memcpy(t->path, name, n);
    return GAR_OK;
}

gar_status gar_npy_read_buffer(const void *buf, size_t len, const char *name, gar_npy **out)
{
    const unsigned char *b = buf;
    gar_npy *t = NULL;
    gar_status st = GAR_OK;
    size_t hlen, start, need;
    parser p;

    *out = NULL;
    if (!host_little_endian())
        return gar_error(GAR_ERR_INTERNAL, "%s: .npy tables are read on little-endian hosts only", name);
    if (len < NPY_MAGIC_LEN + 4 || memcmp(b, NPY_MAGIC, NPY_MAGIC_LEN) != 0) {
        if (len >= 6 && memcmp(b, "\x94" "CSDAT", 6) == 0)
            return gar_error(GAR_ERR_DATA, "%s: a cryoSPARC compressed dataset (CSDAT), not a NumPy .npy file; "
                             "save it in numpy format (cryosparc-tools: Dataset.save(path, format=NUMPY_FORMAT))",
                             name);
        return gar_error(GAR_ERR_DATA, "%s: not a NumPy .npy file (it does not start with \\x93NUMPY)", name);
    }
    if (b[6] == 1 && b[7] == 0) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        start = 10;
    } else if ((b[6] == 2 || b[6] == 3) && b[7] == 0) {
        if (len < 12)
            return gar_error(GAR_ERR_DATA, "%s: truncated .npy header", name);
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        start = 12;
    } else {
        return gar_error(GAR_ERR_DATA, "%s: .npy format version %u.%u, expected 1.0, 2.0 or 3.0", name, b[6], b[7]);
    }
    if (hlen > NPY_MAX_HEADER)
        return gar_error(GAR_ERR_DATA, "%s: .npy header of %zu bytes, more than the limit of %u (corrupt file?)",
                         name, hlen, NPY_MAX_HEADER);
    if (hlen > len - start)
        return gar_error(GAR_ERR_DATA, "%s: truncated: the .npy header needs %zu bytes, the file has %zu", name,
                         hlen, len - start);
    if ((st = gar_calloc((void **)&t, 1, sizeof *t, "npy table")) != GAR_OK)
        return st;
    if ((st = set_path(t, name)) != GAR_OK)
        goto done;
    p.s = (const char *)b + start;
    p.pos = 0;
    p.len = hlen;
    p.name = name;
    if ((st = parse_header(&p, t)) != GAR_OK)
        goto done;
    start += hlen;
    if (!gar_size_mul(t->rows, t->record, &need)) {
        st = gar_error(GAR_ERR_DATA, "%s: %zu rows of %zu bytes overflow (corrupt header?)", name, t->rows,
                       t->record);
        goto done;
    }
    if (len - start < need) {
        st = gar_error(GAR_ERR_DATA, "%s: truncated: %zu rows of %zu bytes need %zu bytes of data, the file has %zu",
                       name, t->rows, t->record, need, len - start);
        goto done;
    }
    if (len - start > need) {
        st = gar_error(GAR_ERR_DATA, "%s: %zu bytes after the %zu rows the header declares (not a .npy file "
                       "numpy wrote, or the header is wrong)", name, len - start - need, t->rows);
        goto done;
    }
    if ((st = gar_alloc((void **)&t->data, need ? need : 1, 1, "npy table rows")) != GAR_OK)
        goto done;
    memcpy(t->data, b + start, need);
done:
    if (st != GAR_OK)
        gar_npy_destroy(&t);
    *out = t;
    return st;
}

gar_status gar_npy_read(const char *path, gar_npy **out)
{
    FILE *f = NULL;
    unsigned char *buf = NULL;
    long size;
    gar_status st = GAR_OK;
    *out = NULL;
    if ((f = fopen(path, "rb")) == NULL)
        return gar_error(errno == ENOENT ? GAR_ERR_NOINPUT : GAR_ERR_IO, "%s: cannot open: %s", path,
                         strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        st = gar_error(GAR_ERR_IO, "%s: cannot find its size: %s", path, strerror(errno));
        goto done;
    }
    if ((st = gar_alloc((void **)&buf, (size_t)size ? (size_t)size : 1, 1, "npy file")) != GAR_OK)
        goto done;
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        st = gar_error(GAR_ERR_IO, "%s: read failed", path);
        goto done;
    }
    st = gar_npy_read_buffer(buf, (size_t)size, path, out);
done:
    free(buf);
    if (f != NULL)
        fclose(f);
    return st;
}

/* ---- creating and writing ---- */

gar_status gar_npy_create(const gar_npy_spec *specs, size_t n_specs, size_t rows, gar_npy **out)
{
    gar_npy *t = NULL;
    gar_status st;
    size_t bytes;
    *out = NULL;
    if ((st = gar_calloc((void **)&t, 1, sizeof *t, "npy table")) != GAR_OK)
        return st;
    if ((st = set_path(t, "(new table)")) != GAR_OK ||
        (st = gar_calloc((void **)&t->cols, n_specs ? n_specs : 1, sizeof *t->cols, "npy columns")) != GAR_OK)
        goto done;
    for (size_t i = 0; i < n_specs; i++) {
        gar_npy_column *c = &t->cols[i];
        if (strlen(specs[i].name) >= sizeof c->name || strlen(specs[i].type) >= sizeof c->type ||
            strpbrk(specs[i].name, "'\"\\") != NULL || specs[i].count == 0) {
            st = gar_error(GAR_ERR_INTERNAL, "gar_npy_create: column '%s' ('%s' x %zu) cannot be written",
                           specs[i].name, specs[i].type, specs[i].count);
            goto done;
        }
        snprintf(c->name, sizeof c->name, "%s", specs[i].name);
        snprintf(c->type, sizeof c->type, "%s", specs[i].type);
        if ((st = parse_type("(new table)", c)) != GAR_OK)
            goto done;
        c->count = specs[i].count;
        c->ndim = c->count > 1;
        c->shape[0] = c->count;
        c->offset = t->record;
        t->record += c->item * c->count;
        t->n_cols++;
    }
    t->rows = rows;
    if (!gar_size_mul(rows, t->record, &bytes)) {
        st = gar_error(GAR_ERR_NOMEM, "npy table of %zu rows of %zu bytes: too large", rows, t->record);
        goto done;
    }
    st = gar_calloc((void **)&t->data, bytes ? bytes : 1, 1, "npy table rows");
done:
    if (st != GAR_OK)
        gar_npy_destroy(&t);
    *out = t;
    return st;
}

/* Append to a growing string (the header). */
typedef struct strbuf {
    char *s;
    size_t len, cap;
} strbuf;

static int sb_add(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sb_add(strbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = b->cap - b->len;
        int n;
        va_start(ap, fmt);
        n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -1;
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return 0;
        }
        size_t ncap = (b->cap + (size_t)n + 1) * 2;
        char *ns = realloc(b->s, ncap);
        if (ns == NULL)
            return -1;
        b->s = ns;
        b->cap = ncap;
    }
}

gar_status gar_npy_write(const gar_npy *t, const char *path)
{
    strbuf h = {NULL, 0, 0};
    FILE *f = NULL;
    gar_status st = GAR_OK;
    unsigned char pre[12];
    size_t pre_len, total, hlen;
    int bad = sb_add(&h, "{'descr': [");
    for (size_t i = 0; i < t->n_cols && !bad; i++) {
        const gar_npy_column *c = &t->cols[i];
        if (c->ndim)
            bad = sb_add(&h, "%s('%s', '%s', (%zu,))", i ? ", " : "", c->name, c->type, c->count);
        else
            bad = sb_add(&h, "%s('%s', '%s')", i ? ", " : "", c->name, c->type);
    }
    if (!bad)
        bad = sb_add(&h, "], 'fortran_order': False, 'shape': (%zu,), }", t->rows);
    if (bad) {
        st = gar_error(GAR_ERR_NOMEM, "%s: out of memory for the .npy header", path);
        goto done;
    }
    /* Pad with spaces and end with a newline so that the data start on a
     * multiple of 64 bytes, as numpy does (and its memory maps expect);
     * version 1.0 while the header's length fits its 2 bytes. */
    pre_len = 10;
    for (;;) {
        total = pre_len + h.len + 1;
        hlen = h.len + 1 + (64 - total % 64) % 64;
        if (pre_len == 12 || hlen <= 65535)
            break;
        pre_len = 12;
    }
    while (h.len + 1 < hlen)
        if (sb_add(&h, " ") != 0) {
            st = gar_error(GAR_ERR_NOMEM, "%s: out of memory for the .npy header", path);
            goto done;
        }
    if (sb_add(&h, "\n") != 0) {
        st = gar_error(GAR_ERR_NOMEM, "%s: out of memory for the .npy header", path);
        goto done;
    }
    memcpy(pre, NPY_MAGIC, NPY_MAGIC_LEN);
    pre[6] = pre_len == 10 ? 1 : 2;
    pre[7] = 0;
    for (size_t k = 0; k < pre_len - 8; k++)
        pre[8 + k] = (unsigned char)(hlen >> (8 * k));
    if ((f = fopen(path, "wb")) == NULL) {
        st = gar_error(GAR_ERR_OUTPUT, "%s: cannot create: %s", path, strerror(errno));
        goto done;
    }
    if (fwrite(pre, 1, pre_len, f) != pre_len || fwrite(h.s, 1, hlen, f) != hlen ||
        fwrite(t->data, 1, t->rows * t->record, f) != t->rows * t->record) {
        st = gar_error(GAR_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        goto done;
    }
    if (fclose(f) != 0) {
        f = NULL;
        st = gar_error(GAR_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        goto done;
    }
    f = NULL;
done:
    if (f != NULL)
        fclose(f);
    free(h.s);
    return st;
}

void gar_npy_destroy(gar_npy **t)
{
    if (t == NULL || *t == NULL)
        return;
    free((*t)->path);
    free((*t)->cols);
    free((*t)->data);
    free(*t);
    *t = NULL;
}

/* ---- access ---- */

const char *gar_npy_path(const gar_npy *t) { return t->path; }
size_t gar_npy_rows(const gar_npy *t) { return t->rows; }
size_t gar_npy_n_columns(const gar_npy *t) { return t->n_cols; }
const gar_npy_column *gar_npy_column_at(const gar_npy *t, size_t i) { return i < t->n_cols ? &t->cols[i] : NULL; }

int gar_npy_find(const gar_npy *t, const char *name)
{
    for (size_t i = 0; i < t->n_cols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* The element's bytes, or an error naming what was wrong with the call. */
static gar_status element(const gar_npy *t, int col, size_t row, size_t elem, const gar_npy_column **c,
                          unsigned char **at)
{
    if (col < 0 || (size_t)col >= t->n_cols)
        return gar_error(GAR_ERR_INTERNAL, "%s: column %d does not exist", t->path, col);
    *c = &t->cols[col];
    if (row >= t->rows || elem >= (*c)->count)
        return gar_error(GAR_ERR_INTERNAL, "%s: column '%s': row %zu element %zu outside %zu rows of %zu", t->path,
                         (*c)->name, row, elem, t->rows, (*c)->count);
    *at = t->data + row * t->record + (*c)->offset + elem * (*c)->item;
    return GAR_OK;
}

static gar_status read_number(const gar_npy *t, int col, size_t row, size_t elem, double *d, uint64_t *u,
                              int *is_int)
{
    const gar_npy_column *c;
    unsigned char *at;
    gar_status st = element(t, col, row, elem, &c, &at);
    if (st != GAR_OK)
        return st;
    *is_int = 1;
    if (c->kind == GAR_NPY_UINT) {
        uint8_t v1; uint16_t v2; uint32_t v4; uint64_t v8;
        switch (c->item) {
        case 1: memcpy(&v1, at, 1); *u = v1; break;
        case 2: memcpy(&v2, at, 2); *u = v2; break;
        case 4: memcpy(&v4, at, 4); *u = v4; break;
        default: memcpy(&v8, at, 8); *u = v8; break;
        }
        *d = (double)*u;
        return GAR_OK;
    }
    if (c->kind == GAR_NPY_INT) {
        int8_t v1; int16_t v2; int32_t v4; int64_t v8, v;
        switch (c->item) {
        case 1: memcpy(&v1, at, 1); v = v1; break;
        case 2: memcpy(&v2, at, 2); v = v2; break;
        case 4: memcpy(&v4, at, 4); v = v4; break;
        default: memcpy(&v8, at, 8); v = v8; break;
        }
        *d = (double)v;
        *u = v < 0 ? UINT64_MAX : (uint64_t)v; /* a negative value never passes as unsigned */
        *is_int = v < 0 ? -1 : 1;
        return GAR_OK;
    }
    if (c->kind == GAR_NPY_FLOAT) {
        *is_int = 0;
        if (c->item == 4) {
            float f;
            memcpy(&f, at, 4);
            *d = f;
        } else {
            memcpy(d, at, 8);
        }
        return GAR_OK;
    }
    return gar_error(GAR_ERR_DATA, "%s: column '%s' has type '%s', expected a number", t->path, c->name, c->type);
}

gar_status gar_npy_get_double(const gar_npy *t, int col, size_t row, size_t elem, double *out)
{
    uint64_t u;
    int is_int;
    return read_number(t, col, row, elem, out, &u, &is_int);
}

gar_status gar_npy_get_u64(const gar_npy *t, int col, size_t row, size_t elem, uint64_t *out)
{
    double d;
    int is_int;
    gar_status st = read_number(t, col, row, elem, &d, out, &is_int);
    if (st != GAR_OK)
        return st;
    if (is_int != 1)
        return gar_error(GAR_ERR_DATA, "%s: column '%s': row %zu has %g, expected a non-negative integer", t->path,
                         t->cols[col].name, row, d);
    return GAR_OK;
}

gar_status gar_npy_get_string(const gar_npy *t, int col, size_t row, char *buf, size_t cap)
{
    const gar_npy_column *c;
    unsigned char *at;
    size_t n = 0;
    gar_status st = element(t, col, row, 0, &c, &at);
    if (st != GAR_OK)
        return st;
    if (c->kind == GAR_NPY_BYTES) {
        while (n < c->item && at[n] != 0)
            n++;
        if (n >= cap)
            return gar_error(GAR_ERR_DATA, "%s: column '%s': row %zu is longer than %zu bytes", t->path, c->name,
                             row, cap - 1);
        memcpy(buf, at, n);
    } else if (c->kind == GAR_NPY_UNICODE) {
        for (; n < c->item / 4; n++) {
            uint32_t cp;
            memcpy(&cp, at + 4 * n, 4);
            if (cp == 0)
                break;
            if (cp > 127)
                return gar_error(GAR_ERR_DATA, "%s: column '%s': row %zu holds non-ASCII text", t->path, c->name,
                                 row);
            if (n + 1 >= cap)
                return gar_error(GAR_ERR_DATA, "%s: column '%s': row %zu is longer than %zu characters", t->path,
                                 c->name, row, cap - 1);
            buf[n] = (char)cp;
        }
    } else {
        return gar_error(GAR_ERR_DATA, "%s: column '%s' has type '%s', expected a string ('S' or 'U')", t->path,
                         c->name, c->type);
    }
    buf[n] = '\0';
    return GAR_OK;
}

gar_status gar_npy_set_double(gar_npy *t, int col, size_t row, size_t elem, double v)
{
    const gar_npy_column *c;
    unsigned char *at;
    gar_status st = element(t, col, row, elem, &c, &at);
    if (st != GAR_OK)
        return st;
    if (c->kind == GAR_NPY_FLOAT) {
        if (c->item == 4) {
            float f = (float)v;
            memcpy(at, &f, 4);
        } else {
            memcpy(at, &v, 8);
        }
        return GAR_OK;
    }
    if (c->kind == GAR_NPY_UINT || c->kind == GAR_NPY_INT) {
        if (v != floor(v) || !isfinite(v) || fabs(v) > 9007199254740992.0)
            return gar_error(GAR_ERR_INTERNAL, "%s: column '%s': %g is not a whole number", t->path, c->name, v);
        if (c->kind == GAR_NPY_UINT) {
            if (v < 0)
                return gar_error(GAR_ERR_INTERNAL, "%s: column '%s': %g is negative", t->path, c->name, v);
            return gar_npy_set_u64(t, col, row, elem, (uint64_t)v);
        }
        int64_t i = (int64_t)v;
        double lim = ldexp(1.0, 8 * (int)c->item - 1);
        if (v < -lim || v >= lim)
            return gar_error(GAR_ERR_INTERNAL, "%s: column '%s': %g out of range", t->path, c->name, v);
        memcpy(at, &i, c->item); /* little-endian: the low bytes come first */
        return GAR_OK;
    }
    return gar_error(GAR_ERR_INTERNAL, "%s: column '%s' has type '%s', not a number", t->path, c->name, c->type);
}

gar_status gar_npy_set_u64(gar_npy *t, int col, size_t row, size_t elem, uint64_t v)
{
    const gar_npy_column *c;
    unsigned char *at;
    gar_status st = element(t, col, row, elem, &c, &at);
    if (st != GAR_OK)
        return st;
    if (c->kind == GAR_NPY_UINT) {
        if (c->item < 8 && v >> (8 * c->item) != 0)
            return gar_error(GAR_ERR_INTERNAL, "%s: column '%s': %llu out of range", t->path, c->name,
                             (unsigned long long)v);
        memcpy(at, &v, c->item);
        return GAR_OK;
    }
    return gar_npy_set_double(t, col, row, elem, (double)v);
}

gar_status gar_npy_set_string(gar_npy *t, int col, size_t row, const char *s)
{
    const gar_npy_column *c;
    unsigned char *at;
    size_t n = strlen(s);
    gar_status st = element(t, col, row, 0, &c, &at);
    if (st != GAR_OK)
        return st;
    if (c->kind != GAR_NPY_BYTES)
        return gar_error(GAR_ERR_INTERNAL, "%s: column '%s' has type '%s', not a byte string", t->path, c->name,
                         c->type);
    if (n > c->item)
        return gar_error(GAR_ERR_INTERNAL, "%s: column '%s': '%s' is longer than %zu bytes", t->path, c->name, s,
                         c->item);
    memset(at, 0, c->item);
    memcpy(at, s, n);
    return GAR_OK;
}
