/* garner: reading run parameter files (the INI syntax, through inih) and
 * --set overrides. See gar_params_impl.h.
 *
 * inih gives its handler neither the line number nor whether the line was a
 * continuation, so the file goes through our own line reader (read_line),
 * which counts lines and classifies each one the way inih is about to. */
#include "gar_params_impl.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

/* ------------------------------------------------------------------ loading */

typedef enum line_kind { LINE_OTHER, LINE_KEY, LINE_CONTINUATION, LINE_SECTION } line_kind;

typedef struct load_ctx {
    gar_params *p;
    FILE *f;            /* the file, or NULL when reading `text` */
    const char *text;   /* gar_params_load_buffer: text[0..text_len) */
    size_t text_len, text_pos;
    char *buf;          /* getline's buffer (or the current line of `text`) */
    size_t cap;
    long lineno;        /* the line inih is about to parse */
    line_kind kind;     /* what inih will make of it */
    int in_key;         /* mirrors inih: a key line was seen since the last [section] */
    size_t last;        /* schema row of the last key line, for continuations */
    int have_last;
    gar_status st;      /* first error (the message is in gar_errmsg) */
    long err_line;
} load_ctx;

static void fail_at(load_ctx *c, gar_status st)
{
    c->st = st;
    c->err_line = c->lineno;
}

/* getline() for gar_params_load_buffer: the next line of c->text (with its
 * '\n') into c->buf; -1 at the end, -2 when out of memory. */
static ssize_t text_getline(load_ctx *c)
{
    const char *start = c->text + c->text_pos, *nl;
    size_t left = c->text_len - c->text_pos, len;
    if (left == 0)
        return -1;
    nl = memchr(start, '\n', left);
    len = nl != NULL ? (size_t)(nl - start) + 1 : left;
    if (len >= (size_t)SSIZE_MAX)
        return -2;
    if (len + 1 > c->cap) {
        char *b = realloc(c->buf, len + 1);
        if (b == NULL)
            return -2;
        c->buf = b;
        c->cap = len + 1;
    }
    memcpy(c->buf, start, len);
    c->buf[len] = '\0';
    c->text_pos += len;
    return (ssize_t)len;
}

/* inih's reader. Hands inih whole lines only (inih would silently split a long
 * line into two) and notes what inih will take each line for, since inih
 * calls the handler with the same key for a continuation line as for the key
 * line. Returning NULL ends the parse, which is how the first error stops it. */
static char *read_line(char *str, int num, void *stream)
{
    load_ctx *c = stream;
    ssize_t n;
    size_t len;
    const char *s, *start;
    if (c->st != GAR_OK)
        return NULL;
    errno = 0;
    n = c->f != NULL ? getline(&c->buf, &c->cap, c->f) : text_getline(c);
    if (n == -2) {
        c->lineno++;
        fail_at(c, gar_error(GAR_ERR_NOMEM, "%s:%ld: cannot allocate the line", c->p->path,
                             c->lineno));
        return NULL;
    }
    if (n < 0 && c->f == NULL)
        return NULL;
    if (n < 0) {
        if (!feof(c->f)) {
            c->lineno++;
            fail_at(c, gar_error(errno == ENOMEM ? GAR_ERR_NOMEM : GAR_ERR_IO,
                                 "%s:%ld: cannot read: %s", c->p->path, c->lineno,
                                 strerror(errno != 0 ? errno : EIO)));
        }
        return NULL;
    }
    c->lineno++;
    len = (size_t)n;
    if (len > 0 && c->buf[len - 1] == '\n')
        c->buf[--len] = '\0';
    if (len > 0 && c->buf[len - 1] == '\r')
        c->buf[--len] = '\0';
    /* The commonest wrong file: a particle stack given for the parameters. */
    if (c->lineno == 1 && len >= 4 && memcmp(c->buf, "\211HDF", 4) == 0) {
        fail_at(c, gar_error(GAR_ERR_USAGE,
                             "%s: an HDF5 file, expected a parameter file (text: [section] "
                             "headers and key = value lines)",
                             c->p->path));
        return NULL;
    }
    if (memchr(c->buf, '\0', len) != NULL) {
        fail_at(c, gar_error(GAR_ERR_USAGE, "%s:%ld: line holds a NUL byte (not a text file?)",
                             c->p->path, c->lineno));
        return NULL;
    }
    start = c->buf;
    /* A byte order mark is dropped here so that the line classification
     * below sees the line as inih does. */
    if (c->lineno == 1 && strncmp(start, "\xEF\xBB\xBF", 3) == 0) {
        start += 3;
        len -= 3;
    }
    if (num < 1 || len > (size_t)num - 1) {
        fail_at(c, gar_error(GAR_ERR_USAGE,
                             "%s:%ld: line longer than %d characters; split the list over "
                             "indented continuation lines",
                             c->p->path, c->lineno, num - 1));
        return NULL;
    }
    memcpy(str, start, len + 1);

    /* The order of these tests is inih's (ini_parse_stream). */
    s = str;
    while (*s != '\0' && isspace((unsigned char)*s))
        s++;
    if (*s == '\0' || *s == ';' || *s == '#') {
        c->kind = LINE_OTHER;
    } else if (c->in_key && s > str) {
        c->kind = LINE_CONTINUATION;
    } else if (*s == '[') {
        c->kind = LINE_SECTION;
        c->in_key = 0;
    } else {
        c->kind = LINE_KEY;
        c->in_key = 1;
    }
    return str;
}

/* "run.ini:4: [output] dir: ..." is the style for every error below. */
static gar_status start_key(load_ctx *c, const char *section_raw, const char *key,
                            const char *value)
{
    gar_params *p = c->p;
    loc at = {LOC_FILE, p->path, c->lineno};
    char section[INI_MAX_LINE];
    char hint[256];
    const gar_param_spec *spec;
    size_t idx = 0;
    char *s = section, *e;

    /* inih keeps the spaces inside "[ input ]". */
    snprintf(section, sizeof section, "%s", section_raw);
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';

    if (*s == '\0') {
        const gar_param_spec *home = gar_params_find_key(key);
        hint[0] = '\0';
        if (home != NULL)
            snprintf(hint, sizeof hint, " (put it under '[%s]')", home->section);
        return gar_error(GAR_ERR_USAGE, "%s:%ld: %s: key before any [section] header%s", p->path,
                         c->lineno, key, hint);
    }
    if (!gar_params_section_known(s)) {
        gar_params_section_hint(hint, sizeof hint, &at, s, key);
        return gar_error(GAR_ERR_USAGE, "%s:%ld: [%s]: unknown section%s", p->path, c->lineno, s,
                         hint);
    }
    spec = gar_params_find(s, key, &idx);
    if (spec == NULL) {
        gar_params_key_hint(hint, sizeof hint, &at, s, key);
        if (hint[0] == '\0') {
            snprintf(hint, sizeof hint, " (keys in [%s]: ", s);
            gar_params_list_names(hint, sizeof hint - 1, s);
            strcat(hint, ")");
        }
        return gar_params_key_error(GAR_ERR_USAGE, &at, s, key, "unknown key%s", hint);
    }
    if (p->values[idx].set)
        return gar_params_key_error(GAR_ERR_USAGE, &at, s, key,
                                    "duplicate key (first set on line %ld)", p->values[idx].line);
    c->last = idx;
    c->have_last = 1;
    return gar_params_assign(p, idx, value, p->base_dir, &at);
}

static gar_status continue_key(load_ctx *c, const char *value)
{
    gar_params *p = c->p;
    const gar_param_spec *spec = &gar_params_table[c->last];
    loc at = {LOC_FILE, p->path, c->lineno};
    const char *eq = strchr(value, '=');
    if (spec->type != GAR_PARAM_PATH_LIST)
        return gar_params_key_error(GAR_ERR_USAGE, &at, spec->section, spec->key,
                                    "indented line continues this key, which takes one value "
                                    "(remove the indentation to start a new key)");
    /* "   nonfinite = skip" under a list is almost surely a key that was
     * indented by mistake, not three more file names. */
    if (eq != NULL) {
        char word[INI_MAX_LINE];
        size_t n = (size_t)(eq - value);
        while (n > 0 && isspace((unsigned char)value[n - 1]))
            n--;
        snprintf(word, sizeof word, "%.*s", (int)n, value);
        if (gar_params_find_key(word) != NULL)
            return gar_params_key_error(GAR_ERR_USAGE, &at, spec->section, spec->key,
                                        "'%s' is indented, so it would continue this list "
                                        "(remove the indentation to start a new key)",
                                        value);
    }
    gar_params_drop_expansion(&p->values[c->last]);
    return gar_params_append_tokens(&p->values[c->last], value, p->base_dir, c->lineno);
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    load_ctx *c = user;
    gar_status st;
    if (c->st != GAR_OK)
        return 0;
    if (c->kind == LINE_CONTINUATION && c->have_last)
        st = continue_key(c, value);
    else
        st = start_key(c, section, name, value);
    if (st != GAR_OK) {
        fail_at(c, st);
        return 0;
    }
    return 1;
}

/* The folder of `path`, absolute and with symbolic links resolved. */
static gar_status file_folder(const char *path, char **out)
{
    gar_status st = GAR_OK;
    char *dir = strdup(path);
    char *slash;
    *out = NULL;
    if (dir == NULL)
        return gar_error(GAR_ERR_NOMEM, "cannot allocate a path");
    slash = strrchr(dir, '/');
    if (slash == NULL)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    *out = realpath(dir, NULL);
    if (*out == NULL)
        st = gar_error(GAR_ERR_NOINPUT, "%s: cannot resolve its folder: %s", path, strerror(errno));
    free(dir);
    return st;
}

/* Parse the lines c->f or c->text hold into a new set named `name` whose
 * relative paths resolve against the absolute folder `base`. */
static gar_status load_stream(load_ctx *c, const char *name, const char *base, gar_params **out)
{
    gar_status st = GAR_OK;
    gar_params *p = NULL;
    int ret;
    st = gar_params_create(base, name, &p);
    if (st != GAR_OK)
        goto done;
    c->p = p;
    ret = ini_parse_stream(read_line, c, on_key, c);
    /* inih carries on past a syntax error, so an error of ours may come from
     * a later line than the one it reports; the earliest line wins. */
    if (ret > 0 && (c->st == GAR_OK || ret < c->err_line)) {
        st = gar_error(GAR_ERR_USAGE, "%s:%d: not a key = value line or [section] header", name,
                       ret);
        goto done;
    }
    if (c->st != GAR_OK) {
        st = c->st;
        goto done;
    }
    if (ret == -2) {
        st = gar_error(GAR_ERR_NOMEM, "%s: out of memory while parsing", name);
        goto done;
    }
    if (ret != 0) {
        st = gar_error(GAR_ERR_INTERNAL, "%s: inih failed (%d)", name, ret);
        goto done;
    }
    /* A list may start on its key line with nothing and go on indented; only
     * at the end is it known to be empty. */
    for (size_t i = 0; i < p->n_values; i++) {
        const param_value *v = &p->values[i];
        const gar_param_spec *spec = &gar_params_table[i];
        if (spec->type == GAR_PARAM_PATH_LIST && v->set && v->n_tokens == 0) {
            loc at = {LOC_FILE, p->path, v->line};
            st = gar_params_key_error(GAR_ERR_USAGE, &at, spec->section, spec->key, "empty value");
            goto done;
        }
    }
    *out = p;
    p = NULL;
done:
    free(c->buf);
    c->buf = NULL;
    c->cap = 0;
    gar_params_destroy(&p);
    return st;
}

gar_status gar_params_load(const char *path, gar_params **out)
{
    gar_status st = GAR_OK;
    char *base = NULL;
    load_ctx c;
    struct stat sb;
    memset(&c, 0, sizeof c);
    if (out == NULL)
        return gar_error(GAR_ERR_INTERNAL, "gar_params_load: no output pointer");
    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return gar_error(GAR_ERR_USAGE, "no parameter file given");
    if (stat(path, &sb) != 0) {
        st = gar_error(GAR_ERR_NOINPUT, "%s: cannot open parameter file: %s", path,
                       strerror(errno));
        goto done;
    }
    if (S_ISDIR(sb.st_mode)) {
        st = gar_error(GAR_ERR_USAGE, "%s: is a directory, expected a parameter file", path);
        goto done;
    }
    /* A FIFO would block the open until a writer comes, forever in a batch
     * job; /dev/zero would be read until memory runs out. */
    if (!S_ISREG(sb.st_mode)) {
        st = gar_error(GAR_ERR_NOINPUT, "%s: not a regular file (a FIFO, device or socket), expected a parameter "
                       "file", path);
        goto done;
    }
    if (sb.st_size > GAR_PARAMS_MAX_FILE_BYTES) {
        st = gar_error(GAR_ERR_DATA, "%s: %lld bytes, more than a parameter file holds (at most %d); is it the "
                       "right file?", path, (long long)sb.st_size, GAR_PARAMS_MAX_FILE_BYTES);
        goto done;
    }
    c.f = fopen(path, "r");
    if (c.f == NULL) {
        st = gar_error(GAR_ERR_NOINPUT, "%s: cannot open parameter file: %s", path,
                       strerror(errno));
        goto done;
    }
    st = file_folder(path, &base);
    if (st != GAR_OK)
        goto done;
    st = load_stream(&c, path, base, out);
done:
    if (c.f != NULL)
        fclose(c.f);
    free(base);
    return st;
}

gar_status gar_params_load_buffer(const char *text, size_t len, const char *name,
                                  const char *base_dir, gar_params **out)
{
    gar_status st;
    char *abs = NULL;
    load_ctx c;
    memset(&c, 0, sizeof c);
    if (out == NULL)
        return gar_error(GAR_ERR_INTERNAL, "gar_params_load_buffer: no output pointer");
    *out = NULL;
    if (text == NULL && len > 0)
        return gar_error(GAR_ERR_INTERNAL, "gar_params_load_buffer: no text");
    if (name == NULL || name[0] == '\0')
        name = "parameters";
    st = gar_params_abs_dir(base_dir, &abs);
    if (st != GAR_OK)
        return st;
    c.text = len > 0 ? text : "";
    c.text_len = len;
    st = load_stream(&c, name, abs, out);
    free(abs);
    return st;
}

/* ------------------------------------------------------------------ --set */

/* A copy of s[0..n) without surrounding whitespace. */
static char *trimmed_dup(const char *s, size_t n)
{
    while (n > 0 && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    return strndup(s, n);
}

/* Whether a value given with --set can be written to a parameter file and
 * read back unchanged. */
static int representable(const char *value)
{
    for (const char *s = value; *s != '\0'; s++) {
        if (*s == '\n' || *s == '\r')
            return 0;
        if (*s == ';' && (s == value || isspace((unsigned char)s[-1])))
            return 0;
    }
    return 1;
}

gar_status gar_params_set(gar_params *p, const char *assignment)
{
    gar_status st = GAR_OK;
    char *lhs = NULL, *value = NULL, *cwd = NULL;
    const char *eq, *dot, *section, *key;
    char hint[256];
    loc at = {LOC_SET, NULL, 0};
    size_t idx = 0;
    if (p == NULL || assignment == NULL)
        return gar_error(GAR_ERR_INTERNAL, "gar_params_set: no parameter set or assignment");
    eq = strchr(assignment, '=');
    if (eq == NULL) {
        st = gar_error(GAR_ERR_USAGE, "--set '%s': expected section.key=value", assignment);
        goto done;
    }
    lhs = trimmed_dup(assignment, (size_t)(eq - assignment));
    value = trimmed_dup(eq + 1, strlen(eq + 1));
    if (lhs == NULL || value == NULL) {
        st = gar_error(GAR_ERR_NOMEM, "cannot allocate a --set value");
        goto done;
    }
    dot = strchr(lhs, '.');
    if (dot == NULL || dot == lhs || dot[1] == '\0') {
        const gar_param_spec *home = gar_params_find_key(lhs);
        hint[0] = '\0';
        if (home != NULL)
            snprintf(hint, sizeof hint, " (did you mean '%s.%s=%s'?)", home->section, home->key,
                     value);
        st = gar_error(GAR_ERR_USAGE, "--set '%s': expected section.key=value%s", assignment,
                       hint);
        goto done;
    }
    lhs[dot - lhs] = '\0';
    section = lhs;
    key = dot + 1;
    if (!gar_params_section_known(section)) {
        gar_params_section_hint(hint, sizeof hint, &at, section, key);
        st = gar_params_key_error(GAR_ERR_USAGE, &at, section, key, "unknown section '%s'%s",
                                  section, hint);
        goto done;
    }
    if (gar_params_find(section, key, &idx) == NULL) {
        gar_params_key_hint(hint, sizeof hint, &at, section, key);
        st = gar_params_key_error(GAR_ERR_USAGE, &at, section, key, "unknown key%s", hint);
        goto done;
    }
    if (value[0] == '\0') {
        st = gar_params_key_error(GAR_ERR_USAGE, &at, section, key, "empty value");
        goto done;
    }
    if (!representable(value)) {
        st = gar_params_key_error(GAR_ERR_USAGE, &at, section, key,
                                  "'%s' holds a line break or a ';' after a space, which a "
                                  "parameter file cannot hold",
                                  value);
        goto done;
    }
    st = gar_params_cwd(&cwd);
    if (st != GAR_OK)
        goto done;
    st = gar_params_assign(p, idx, value, cwd, &at);
done:
    free(lhs);
    free(value);
    free(cwd);
    return st;
}
