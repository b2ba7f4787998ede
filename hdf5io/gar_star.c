/* garner: STAR file reader (see gar_star.h for the contract).
 *
 * The whole file is read into one buffer and tokenised in place: every field
 * is NUL-terminated where it lies (quotes dropped), so the buffer itself is the
 * string arena. A table stores, per row, the row's offset in the buffer and its
 * line, and per cell a 32-bit offset from the row start: about 4 bytes per cell
 * plus 16 per row, with no allocation per row or cell. */
#include "gar_star.h"

#include "gar_decompress.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Where a table is in its block, to tell which lines are allowed next. */
typedef enum {
    BLOCK_EMPTY,     /* after data_, before anything else */
    BLOCK_LABELS,    /* after loop_, reading _labels */
    BLOCK_ROWS,      /* reading loop rows */
    BLOCK_ENDED,     /* a blank line ended the loop */
    BLOCK_PAIRS      /* _label value lines */
} block_state;

struct gar_star_table {
    const char *buf;        /* the owning gar_star's buffer */
    const char *name;       /* without "data_" */
    long line;              /* of the data_ line */
    block_state state;
    int ncols, cols_cap;
    const char **labels;    /* without '_' */
    size_t nrows, rows_cap;
    size_t *row_off;        /* offset of the row's first field in buf */
    long *row_line;
    uint32_t *cells;        /* nrows * ncols offsets from row_off; for a
                             * label/value block one row of cols_cap */
};

struct gar_star {
    char *path;
    char *dir;              /* folder of path with a trailing '/', or "" */
    char *buf;
    size_t ntables, tables_cap;
    gar_star_table *tables;
};

/* ------------------------------------------------------------ growth */

/* Grows *p to hold at least need elements, doubling; *cap is left to the
 * caller so several arrays can share one capacity and stay consistent if a
 * later one fails. */
static gar_status grow_array(void **p, size_t need, size_t elem, const char *what)
{
    size_t bytes;
    void *q;
    if (!gar_size_mul(need, elem, &bytes))
        return gar_error(GAR_ERR_NOMEM, "%s: %zu entries of %zu bytes overflow", what, need, elem);
    q = realloc(*p, bytes ? bytes : 1);
    if (q == NULL)
        return gar_error(GAR_ERR_NOMEM, "%s: cannot allocate %.1f MiB", what, bytes / 1048576.0);
    *p = q;
    return GAR_OK;
}

static size_t next_cap(size_t cap, size_t need)
{
    size_t c = cap ? cap : 16;
    while (c < need)
        c = c > SIZE_MAX / 2 ? need : 2 * c;
    return c;
}

/* ------------------------------------------------------------ reading the file */

/* The bytes read, *buf of *len, replaced by their decompression when they
 * are gzip or bzip2 (told by the magic bytes, so `--star <(zcat p.star.gz)`
 * and a gzip'ed file named .star both work); other binary formats a STAR
 * file is confused with are named instead of failing as odd text. */
static gar_status slurp_decompress(const char *path, char **buf, size_t *len)
{
    gar_file_kind kind = gar_file_sniff((const unsigned char *)*buf, *len);
    unsigned char *plain = NULL;
    size_t plain_len = 0;
    gar_status st;
    if (kind == GAR_FILE_UNKNOWN || kind == GAR_FILE_TEXT || kind == GAR_FILE_STAR)
        return GAR_OK;
    if (!gar_file_is_compressed(kind))
        return gar_file_refuse(path, kind, GAR_WANT_STAR);
    if ((st = gar_decompress_buffer(*buf, *len, path, gar_decompress_limit(), &plain, &plain_len)) != GAR_OK)
        return st;
    /* Decompressed text ends in a NUL (gar_decompress_buffer), as the
     * tokeniser needs. */
    free(*buf);
    *buf = (char *)plain;
    *len = plain_len;
    return GAR_OK;
}

/* The most STAR text garner reads: 16 GiB (some 50 million particles of
 * RELION's usual columns), or half the memory available where that is less
 * (the decompression limit). Without it /dev/zero, or a file of something
 * else, was read until memory ran out. No regular-file rule: a STAR file may
 * be a pipe (`--star <(zcat p.star.gz)`). */
#define GAR_STAR_MAX_BYTES ((size_t)16 << 30)

static gar_status star_too_big(const char *path, const char *size, size_t limit)
{
    return gar_error(GAR_ERR_DATA, "%s: %s, more than a STAR file holds (at most %zu bytes: 16 GiB, or half the "
                     "memory available); is it the right file?", path, size, limit);
}

static gar_status slurp(const char *path, char **out, size_t *out_len)
{
    FILE *f = NULL;
    char *buf = NULL;
    size_t len = 0, cap, limit = gar_decompress_limit();
    struct stat sb;
    gar_status st;

    *out = NULL;
    f = fopen(path, "rb");
    if (f == NULL) {
        st = gar_error(GAR_ERR_NOINPUT, "%s: cannot open STAR file: %s", path, strerror(errno));
        goto done;
    }
    if (fstat(fileno(f), &sb) != 0) {
        st = gar_error(GAR_ERR_NOINPUT, "%s: cannot stat: %s", path, strerror(errno));
        goto done;
    }
    if (S_ISDIR(sb.st_mode)) {
        st = gar_error(GAR_ERR_NOINPUT, "%s: is a folder, expected a STAR file", path);
        goto done;
    }
    if (limit > GAR_STAR_MAX_BYTES)
        limit = GAR_STAR_MAX_BYTES;
    if (S_ISREG(sb.st_mode) && (uintmax_t)sb.st_size > limit) {
        char size[48];
        snprintf(size, sizeof size, "%jd bytes", (intmax_t)sb.st_size);
        st = star_too_big(path, size, limit);
        goto done;
    }
    /* Sized from fstat so a regular file is read with one allocation; the
     * loop still copes with pipes and files that grow while being read. */
    cap = sb.st_size > 0 ? (size_t)sb.st_size + 1 : 65536;
    if ((st = gar_alloc((void **)&buf, cap, 1, "STAR file buffer")) != GAR_OK)
        goto done;
    for (;;) {
        size_t r = fread(buf + len, 1, cap - 1 - len, f);
        int c;
        len += r;
        if (len < cap - 1) {
            if (ferror(f)) {
                st = gar_error(GAR_ERR_IO, "%s: read failed after %zu bytes: %s", path, len, strerror(errno));
                goto done;
            }
            break;
        }
        if ((c = fgetc(f)) == EOF) {
            if (ferror(f)) {
                st = gar_error(GAR_ERR_IO, "%s: read failed after %zu bytes: %s", path, len, strerror(errno));
                goto done;
            }
            break;
        }
        if (len >= limit) {   /* a pipe or device that does not end */
            st = star_too_big(path, "read on past the limit", limit);
            goto done;
        }
        {
            size_t ncap = next_cap(cap, cap + 1);
            if (ncap > limit + 1)
                ncap = limit + 1;
            if ((st = grow_array((void **)&buf, ncap, 1, "STAR file buffer")) != GAR_OK)
                goto done;
            cap = ncap;
        }
        buf[len++] = (char)c;
    }
    buf[len] = '\0';
    if ((st = slurp_decompress(path, &buf, &len)) != GAR_OK)
        goto done;
    *out = buf;
    *out_len = len;
    buf = NULL;
    st = GAR_OK;
done:
    free(buf);
    if (f != NULL)
        fclose(f);
    return st;
}

/* ------------------------------------------------------------ tokenising */

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

typedef struct {
    char **v;
    size_t n, cap;
} field_list;

/* Splits one NUL-terminated line in place. *blank is set when the line holds
 * nothing at all, not even a comment (a blank line ends a loop; a comment
 * line does not). *first_quoted says the first field was quoted, so that a
 * quoted '_x' or 'data_x' value is never taken for a label or a block. */
static gar_status split_line(const char *path, long line_no, char *p, field_list *fl, int *blank,
                             int *first_quoted)
{
    gar_status st;
    fl->n = 0;
    *blank = 1;
    *first_quoted = 0;
    for (;;) {
        char *start;
        while (is_blank(*p))
            p++;
        if (*p == '\0')
            return GAR_OK;
        *blank = 0;
        if (*p == '#')
            return GAR_OK;
        if (*p == '\'' || *p == '"') {
            /* As in STAR, a quote closes only when followed by whitespace or
             * the end of the line, so 'it's' is one field. */
            char q = *p, *e = p + 1;
            start = e;
            while (*e != '\0' && !(*e == q && (e[1] == '\0' || is_blank(e[1]))))
                e++;
            if (*e == '\0')
                return gar_error(GAR_ERR_DATA, "%s:%ld: unterminated %c quote: %.60s", path, line_no, q,
                                 start - 1);
            *e = '\0';
            p = e + 1;
            if (fl->n == 0)
                *first_quoted = 1;
        } else {
            start = p;
            while (*p != '\0' && !is_blank(*p))
                p++;
            if (*p != '\0')
                *p++ = '\0';
        }
        if (fl->n == fl->cap) {
            size_t ncap = next_cap(fl->cap, fl->n + 1);
            if ((st = grow_array((void **)&fl->v, ncap, sizeof *fl->v, "STAR field list")) != GAR_OK)
                return st;
            fl->cap = ncap;
        }
        fl->v[fl->n++] = start;
    }
}

/* ------------------------------------------------------------ building tables */

static void table_free(gar_star_table *t)
{
    free(t->labels);
    free(t->row_off);
    free(t->row_line);
    free(t->cells);
}

static gar_status table_add_label(const char *path, long line_no, gar_star_table *t, const char *label)
{
    int c;
    gar_status st;
    for (c = 0; c < t->ncols; c++)
        if (strcmp(t->labels[c], label) == 0)
            return gar_error(GAR_ERR_DATA, "%s:%ld: label _%s appears twice in data_%s", path, line_no,
                             label, t->name);
    if (t->ncols == INT_MAX)
        return gar_error(GAR_ERR_DATA, "%s:%ld: too many labels in data_%s", path, line_no, t->name);
    if (t->ncols == t->cols_cap) {
        size_t ncap = next_cap((size_t)t->cols_cap, (size_t)t->ncols + 1);
        if (ncap > INT_MAX)
            ncap = INT_MAX;
        if ((st = grow_array((void **)&t->labels, ncap, sizeof *t->labels, "STAR labels")) != GAR_OK)
            return st;
        /* A label/value block keeps its single row of cells in step with the labels. */
        if (t->state == BLOCK_PAIRS &&
            (st = grow_array((void **)&t->cells, ncap, sizeof *t->cells, "STAR cells")) != GAR_OK)
            return st;
        t->cols_cap = (int)ncap;
    }
    t->labels[t->ncols++] = label;
    return GAR_OK;
}

static gar_status cell_offset(const char *path, long line_no, size_t row_start, const char *buf,
                              const char *field, uint32_t *out)
{
    size_t rel = (size_t)(field - buf) - row_start;
    if (rel > UINT32_MAX)
        return gar_error(GAR_ERR_DATA, "%s:%ld: a row spans more than 4 GiB", path, line_no);
    *out = (uint32_t)rel;
    return GAR_OK;
}

static gar_status table_reserve_rows(gar_star_table *t, size_t need)
{
    size_t ncap, ncells;
    gar_status st;
    if (need <= t->rows_cap)
        return GAR_OK;
    ncap = next_cap(t->rows_cap, need);
    if (!gar_size_mul(ncap, (size_t)(t->ncols > 0 ? t->ncols : 1), &ncells))
        return gar_error(GAR_ERR_NOMEM, "STAR table data_%s: %zu rows overflow", t->name, ncap);
    if ((st = grow_array((void **)&t->row_off, ncap, sizeof *t->row_off, "STAR rows")) != GAR_OK ||
        (st = grow_array((void **)&t->row_line, ncap, sizeof *t->row_line, "STAR row lines")) != GAR_OK ||
        (st = grow_array((void **)&t->cells, ncells, sizeof *t->cells, "STAR cells")) != GAR_OK)
        return st;
    t->rows_cap = ncap;
    return GAR_OK;
}

static gar_status table_add_row(const char *path, long line_no, gar_star_table *t, char **fields)
{
    size_t r = t->nrows, start = (size_t)(fields[0] - t->buf);
    uint32_t *cells;
    int c;
    gar_status st;
    if ((st = table_reserve_rows(t, r + 1)) != GAR_OK)
        return st;
    cells = t->cells + r * (size_t)t->ncols;
    for (c = 0; c < t->ncols; c++)
        if ((st = cell_offset(path, line_no, start, t->buf, fields[c], &cells[c])) != GAR_OK)
            return st;
    t->row_off[r] = start;
    t->row_line[r] = line_no;
    t->nrows = r + 1;
    return GAR_OK;
}

/* A "_label value" line: the value becomes a new column of the single row. */
static gar_status table_add_pair(const char *path, long line_no, gar_star_table *t, char **fields)
{
    gar_status st;
    if (t->nrows == 0) {
        if ((st = table_reserve_rows(t, 1)) != GAR_OK)
            return st;
        t->row_off[0] = (size_t)(fields[1] - t->buf);
        t->row_line[0] = line_no;
        t->nrows = 1;
    }
    if ((st = table_add_label(path, line_no, t, fields[0] + 1)) != GAR_OK)
        return st;
    return cell_offset(path, line_no, t->row_off[0], t->buf, fields[1], &t->cells[t->ncols - 1]);
}

static gar_status star_new_block(gar_star *s, const char *path, long line_no, const char *name)
{
    size_t i;
    gar_star_table *t;
    gar_status st;
    for (i = 0; i < s->ntables; i++)
        if (strcmp(s->tables[i].name, name) == 0)
            return gar_error(GAR_ERR_DATA, "%s:%ld: block data_%s repeats the one at line %ld", path,
                             line_no, name, s->tables[i].line);
    if (s->ntables == s->tables_cap) {
        size_t ncap = next_cap(s->tables_cap, s->ntables + 1);
        if ((st = grow_array((void **)&s->tables, ncap, sizeof *s->tables, "STAR blocks")) != GAR_OK)
            return st;
        s->tables_cap = ncap;
    }
    t = &s->tables[s->ntables++];
    memset(t, 0, sizeof *t);
    t->buf = s->buf;
    t->name = name;
    t->line = line_no;
    t->state = BLOCK_EMPTY;
    return GAR_OK;
}

/* Names the labels compactly for a field-count error: first ... last. */
static void label_span(const gar_star_table *t, char *out, size_t n)
{
    if (t->ncols == 1)
        snprintf(out, n, "%s", t->labels[0]);
    else
        snprintf(out, n, "%s ... %s", t->labels[0], t->labels[t->ncols - 1]);
}

static gar_status parse_line(gar_star *s, const char *path, long line_no, char **f, size_t nf, int blank,
                             int quoted)
{
    gar_star_table *t = s->ntables ? &s->tables[s->ntables - 1] : NULL;
    char span[160];

    if (nf == 0) {
        if (blank && t != NULL && t->state == BLOCK_ROWS)
            t->state = BLOCK_ENDED;
        return GAR_OK;
    }
    if (!quoted && strncmp(f[0], "data_", 5) == 0) {
        if (nf > 1)
            return gar_error(GAR_ERR_DATA, "%s:%ld: unexpected '%.60s' after %s", path, line_no, f[1], f[0]);
        /* The block before ends here whatever it holds: a loop_ with labels
         * and no rows is a table of 0 rows, and a loop_ without labels or a
         * block with nothing one of 0 columns too. RELION and other writers
         * leave such blocks for empty tables; a reader that needs rows says
         * so itself (garner import: "data_particles has no rows"). */
        return star_new_block(s, path, line_no, f[0] + 5);
    }
    if (!quoted && strcmp(f[0], "loop_") == 0) {
        if (t == NULL)
            return gar_error(GAR_ERR_DATA, "%s:%ld: loop_ outside any data_ block", path, line_no);
        if (nf > 1)
            return gar_error(GAR_ERR_DATA, "%s:%ld: unexpected '%.60s' after loop_", path, line_no, f[1]);
        if (t->state != BLOCK_EMPTY)
            return gar_error(GAR_ERR_DATA, "%s:%ld: second table in block data_%s (line %ld): expected one per block",
                             path, line_no, t->name, t->line);
        t->state = BLOCK_LABELS;
        return GAR_OK;
    }
    if (!quoted && f[0][0] == '_') {
        if (t == NULL)
            return gar_error(GAR_ERR_DATA, "%s:%ld: label %.80s outside any data_ block", path, line_no, f[0]);
        switch (t->state) {
        case BLOCK_LABELS:
            if (nf > 1)
                return gar_error(GAR_ERR_DATA, "%s:%ld: loop_ label %.80s followed by '%.60s': expected only the label",
                                 path, line_no, f[0], f[1]);
            return table_add_label(path, line_no, t, f[0] + 1);
        case BLOCK_EMPTY:
        case BLOCK_PAIRS:
            if (nf != 2)
                return gar_error(GAR_ERR_DATA, "%s:%ld: label %.80s has %zu values, expected 1", path,
                                 line_no, f[0], nf - 1);
            t->state = BLOCK_PAIRS;
            return table_add_pair(path, line_no, t, f);
        default:
            return gar_error(GAR_ERR_DATA, "%s:%ld: label %.80s after the rows of the loop_ in data_%s: expected one table per block",
                             path, line_no, f[0], t->name);
        }
    }
    if (t == NULL)
        return gar_error(GAR_ERR_DATA, "%s:%ld: '%.60s' outside any data_ block", path, line_no, f[0]);
    switch (t->state) {
    case BLOCK_LABELS:
        if (t->ncols == 0)
            return gar_error(GAR_ERR_DATA, "%s:%ld: row before any label in the loop_ of data_%s", path,
                             line_no, t->name);
        /* fall through */
    case BLOCK_ROWS:
        if (nf != (size_t)t->ncols) {
            label_span(t, span, sizeof span);
            return gar_error(GAR_ERR_DATA, "%s:%ld: row has %zu fields, expected %d (labels %s)", path,
                             line_no, nf, t->ncols, span);
        }
        t->state = BLOCK_ROWS;
        return table_add_row(path, line_no, t, f);
    case BLOCK_ENDED:
        return gar_error(GAR_ERR_DATA, "%s:%ld: row after the blank line that ended the loop_ of data_%s",
                         path, line_no, t->name);
    default:
        return gar_error(GAR_ERR_DATA, "%s:%ld: '%.60s' in data_%s: expected loop_ or a _label", path,
                         line_no, f[0], t->name);
    }
}

static gar_status parse_buffer(gar_star *s, const char *path, size_t len)
{
    field_list fl = {NULL, 0, 0};
    char *buf = s->buf;
    size_t pos = 0;
    long line_no = 0;
    char *nul = memchr(buf, '\0', len);
    gar_status st = GAR_OK;

    if (nul != NULL) {
        long nl = 1;
        const char *p;
        for (p = buf; p < nul; p++)
            nl += *p == '\n';
        st = gar_error(GAR_ERR_DATA, "%s:%ld: NUL byte: expected a text file", path, nl);
        goto done;
    }
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;  /* UTF-8 byte order mark from some editors */
    while (pos < len) {
        char *line = buf + pos, *eol = memchr(line, '\n', len - pos);
        int blank, quoted;
        line_no++;
        if (eol != NULL) {
            *eol = '\0';
            pos = (size_t)(eol - buf) + 1;
        } else {
            pos = len;
        }
        if ((st = split_line(path, line_no, line, &fl, &blank, &quoted)) != GAR_OK)
            goto done;
        if ((st = parse_line(s, path, line_no, fl.v, fl.n, blank, quoted)) != GAR_OK)
            goto done;
    }
    /* The last block may be empty too (see parse_line's data_). */
    if (s->ntables == 0)
        st = gar_error(GAR_ERR_DATA, "%s: no data_ block: expected a STAR file", path);
done:
    free(fl.v);
    return st;
}

/* ------------------------------------------------------------ public API */

static gar_status copy_string(const char *src, size_t n, char **out, const char *what)
{
    gar_status st = gar_alloc((void **)out, n + 1, 1, what);
    if (st != GAR_OK)
        return st;
    memcpy(*out, src, n);
    (*out)[n] = '\0';
    return GAR_OK;
}

/* A handle named `name` (messages, and the folder image names resolve
 * against), without a buffer yet. */
static gar_status star_new(const char *name, gar_star **out)
{
    gar_star *s = NULL;
    const char *slash;
    gar_status st;

    *out = NULL;
    if ((st = gar_calloc((void **)&s, 1, sizeof *s, "STAR handle")) != GAR_OK)
        goto done;
    if ((st = copy_string(name, strlen(name), &s->path, "STAR path")) != GAR_OK)
        goto done;
    slash = strrchr(name, '/');
    if ((st = copy_string(name, slash ? (size_t)(slash - name) + 1 : 0, &s->dir, "STAR folder")) != GAR_OK)
        goto done;
    *out = s;
    s = NULL;
done:
    gar_star_destroy(&s);
    return st;
}

gar_status gar_star_read(const char *path, gar_star **out)
{
    gar_star *s = NULL;
    size_t len = 0;
    gar_status st;

    *out = NULL;
    if ((st = star_new(path, &s)) != GAR_OK)
        goto done;
    if ((st = slurp(path, &s->buf, &len)) != GAR_OK)
        goto done;
    if ((st = parse_buffer(s, path, len)) != GAR_OK)
        goto done;
    *out = s;
    s = NULL;
done:
    gar_star_destroy(&s);
    return st;
}

gar_status gar_star_parse_buffer(const char *text, size_t len, const char *name, gar_star **out)
{
    gar_star *s = NULL;
    gar_status st;

    if (out == NULL)
        return gar_error(GAR_ERR_INTERNAL, "gar_star_parse_buffer: no output pointer");
    *out = NULL;
    if (text == NULL && len > 0)
        return gar_error(GAR_ERR_INTERNAL, "gar_star_parse_buffer: no text");
    if (name == NULL)
        name = "STAR";
    if ((st = star_new(name, &s)) != GAR_OK)
        goto done;
    if (len == SIZE_MAX) {
        st = gar_error(GAR_ERR_NOMEM, "%s: text of %zu bytes is too large", name, len);
        goto done;
    }
    /* The parser tokenises in place and needs a NUL at the end: a copy. */
    if ((st = copy_string(len > 0 ? text : "", len, &s->buf, "STAR text")) != GAR_OK)
        goto done;
    if ((st = parse_buffer(s, name, len)) != GAR_OK)
        goto done;
    *out = s;
    s = NULL;
done:
    gar_star_destroy(&s);
    return st;
}

void gar_star_destroy(gar_star **star)
{
    size_t i;
    gar_star *s;
    if (star == NULL || *star == NULL)
        return;
    s = *star;
    for (i = 0; i < s->ntables; i++)
        table_free(&s->tables[i]);
    free(s->tables);
    free(s->buf);
    free(s->dir);
    free(s->path);
    free(s);
    *star = NULL;
}

const char *gar_star_path(const gar_star *star) { return star->path; }

size_t gar_star_nblocks(const gar_star *star) { return star ? star->ntables : 0; }

const gar_star_table *gar_star_block_at(const gar_star *star, size_t i)
{
    if (star == NULL || i >= star->ntables)
        return NULL;
    return &star->tables[i];
}

const char *gar_star_block_name(const gar_star_table *t) { return t ? t->name : NULL; }

const gar_star_table *gar_star_block(const gar_star *star, const char *name)
{
    size_t i;
    if (star == NULL || name == NULL)
        return NULL;
    for (i = 0; i < star->ntables; i++)
        if (strcmp(star->tables[i].name, name) == 0)
            return &star->tables[i];
    return NULL;
}

size_t gar_star_rows(const gar_star_table *t) { return t ? t->nrows : 0; }
int gar_star_ncols(const gar_star_table *t) { return t ? t->ncols : 0; }

const char *gar_star_label(const gar_star_table *t, int col)
{
    if (t == NULL || col < 0 || col >= t->ncols)
        return NULL;
    return t->labels[col];
}

int gar_star_column(const gar_star_table *t, const char *label)
{
    int c;
    if (t == NULL || label == NULL)
        return -1;
    if (label[0] == '_')
        label++;  /* forgive "_rlnAngleRot" */
    for (c = 0; c < t->ncols; c++)
        if (strcmp(t->labels[c], label) == 0)
            return c;
    return -1;
}

const char *gar_star_cell(const gar_star_table *t, size_t row, int col)
{
    if (t == NULL || row >= t->nrows || col < 0 || col >= t->ncols)
        return NULL;
    return t->buf + t->row_off[row] + t->cells[row * (size_t)t->ncols + (size_t)col];
}

long gar_star_row_line(const gar_star_table *t, size_t row)
{
    if (t == NULL || row >= t->nrows)
        return -1;
    return t->row_line[row];
}

static const char *star_name(const gar_star *star)
{
    return star ? star->path : "STAR";
}

static gar_status cell_or_error(const gar_star *star, const gar_star_table *t, size_t row, int col,
                                const char **out)
{
    *out = gar_star_cell(t, row, col);
    if (*out == NULL)
        return gar_error(GAR_ERR_INTERNAL, "%s: cell (row %zu, column %d) is outside the table (%zu x %d)",
                         star_name(star), row, col, gar_star_rows(t), gar_star_ncols(t));
    return GAR_OK;
}

/* Strict: the whole text must be the number, so "12abc" or " 12" is not 12. */
static int parse_double(const char *s, double *out)
{
    char *end;
    double v;
    if (*s == '\0' || isspace((unsigned char)*s))
        return 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v))
        return 0;
    /* Underflow to a tiny value is harmless; overflow was caught by isfinite. */
    *out = v;
    return 1;
}

gar_status gar_star_cell_double(const gar_star *star, const gar_star_table *t, size_t row, int col,
                                double *out)
{
    const char *s;
    gar_status st = cell_or_error(star, t, row, col, &s);
    if (st != GAR_OK)
        return st;
    if (!parse_double(s, out))
        return gar_error(GAR_ERR_DATA, "%s:%ld: %s: expected a number, got '%.80s'", star_name(star),
                         t->row_line[row], t->labels[col], s);
    return GAR_OK;
}

gar_status gar_star_cell_int(const gar_star *star, const gar_star_table *t, size_t row, int col,
                             long *out)
{
    const char *s;
    char *end;
    long v;
    double d;
    gar_status st = cell_or_error(star, t, row, col, &s);
    if (st != GAR_OK)
        return st;
    if (*s != '\0' && !isspace((unsigned char)*s)) {
        errno = 0;
        v = strtol(s, &end, 10);
        if (end != s && *end == '\0' && errno == 0) {
            *out = v;
            return GAR_OK;
        }
    }
    /* Some writers print integer columns as "2.000000". */
    if (parse_double(s, &d) && d == floor(d) && d >= (double)LONG_MIN && d < -(double)LONG_MIN) {
        *out = (long)d;
        return GAR_OK;
    }
    return gar_error(GAR_ERR_DATA, "%s:%ld: %s: expected an integer, got '%.80s'", star_name(star),
                     t->row_line[row], t->labels[col], s);
}

gar_status gar_star_image_name(const gar_star *star, const char *name, size_t *index, char **path)
{
    const char *at = strchr(name, '@');
    const char *file = name;
    const char *dir = star ? star->dir : "";
    size_t idx = 0, dlen, flen;
    gar_status st;

    *path = NULL;
    if (at != NULL) {
        const char *p;
        size_t v = 0;
        for (p = name; p < at; p++) {
            if (!isdigit((unsigned char)*p) || v > (SIZE_MAX - 9) / 10)
                return gar_error(GAR_ERR_DATA, "%s: image name '%.120s': expected a positive image number before '@'",
                                 star_name(star), name);
            v = 10 * v + (size_t)(*p - '0');
        }
        if (v == 0)
            return gar_error(GAR_ERR_DATA, "%s: image name '%.120s': expected a positive image number before '@' (they count from 1)",
                             star_name(star), name);
        idx = v - 1;
        file = at + 1;
    }
    if (*file == '\0')
        return gar_error(GAR_ERR_DATA, "%s: image name '%.120s': no file name", star_name(star), name);
    flen = strlen(file);
    dlen = file[0] == '/' ? 0 : strlen(dir);
    if ((st = gar_alloc((void **)path, dlen + flen + 1, 1, "image path")) != GAR_OK)
        return st;
    memcpy(*path, dir, dlen);
    memcpy(*path + dlen, file, flen + 1);
    *index = idx;
    return GAR_OK;
}
