/* garner: run parameter files (see gar_params.h for the contract and
 * docs/PARAMETERS.md for the user's side).
 *
 * inih does the INI syntax; everything else happens in the files of this
 * module (gar_params_impl.h lists them): the schema, type and range checks,
 * duplicate detection, path resolution and glob expansion. This file holds
 * the handle and its values: parsing a value of each type, the typed
 * getters, and writing the effective parameters back as a file. */
#include "gar_params_impl.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ values */

void gar_params_free_strings(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void gar_params_drop_expansion(param_value *v)
{
    gar_params_free_strings(v->expanded, v->n_expanded);
    v->expanded = NULL;
    v->n_expanded = 0;
    v->expanded_ok = 0;
}

static void value_clear(param_value *v)
{
    free(v->origin);
    free(v->text);
    gar_params_free_strings(v->tokens, v->n_tokens);
    gar_params_free_strings(v->patterns, v->n_tokens);
    free(v->token_lines);
    gar_params_drop_expansion(v);
    memset(v, 0, sizeof *v);
}

/* ------------------------------------------------------------------ messages */

/* "run.ini:7: [output] dir: ", "--set output.dir: " or "[output] dir (default): " */
static void key_prefix(char *buf, size_t size, const loc *at, const char *section, const char *key)
{
    switch (at->kind) {
    case LOC_FILE:
        snprintf(buf, size, "%s:%ld: [%s] %s: ", at->file, at->line, section, key);
        break;
    case LOC_SET:
        snprintf(buf, size, "--set %s.%s: ", section, key);
        break;
    case LOC_DEFAULT:
        snprintf(buf, size, "[%s] %s (default): ", section, key);
        break;
    }
}

gar_status gar_params_key_error(gar_status st, const loc *at, const char *section, const char *key,
                                const char *fmt, ...)
{
    char prefix[256];
    char body[768];
    va_list ap;
    key_prefix(prefix, sizeof prefix, at, section, key);
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    return gar_error(st, "%s%s", prefix, body);
}

/* A heap copy of a formatted string, or NULL when out of memory. */
static char *format_dup(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *format_dup(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *s;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    s = malloc((size_t)n + 1);
    if (s == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static gar_status dup_string(char **out, const char *s)
{
    *out = strdup(s);
    if (*out == NULL)
        return gar_error(GAR_ERR_NOMEM, "cannot allocate %zu bytes for a parameter value",
                         strlen(s) + 1);
    return GAR_OK;
}

/* ------------------------------------------------------------------ parsing values */

/* "'9' is out of range [1, 4]" (or "must be at least", "at most" for a
 * bound on one side) for an INT or DOUBLE value outside its row's bounds. */
static gar_status range_error(const gar_param_spec *spec, const loc *at, const char *text)
{
    char range[128];
    if (isfinite(spec->min) && isfinite(spec->max))
        snprintf(range, sizeof range, "is out of range [%.15g, %.15g]", spec->min, spec->max);
    else if (isfinite(spec->min))
        snprintf(range, sizeof range, "must be at least %.15g", spec->min);
    else
        snprintf(range, sizeof range, "must be at most %.15g", spec->max);
    return gar_params_key_error(GAR_ERR_USAGE, at, spec->section, spec->key, "'%s' %s", text,
                                range);
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 1;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 1;
        }
    }
    return 0;
}

/* The choice in "a|b|c" that `s` names (ignoring case), copied to *out. */
static gar_status parse_choice(const char *choices, const char *s, char **out, int *found, long *index)
{
    size_t slen = strlen(s);
    const char *c = choices;
    *found = 0;
    *out = NULL;
    for (*index = 0; *c != '\0'; (*index)++) {
        const char *bar = strchr(c, '|');
        size_t len = bar != NULL ? (size_t)(bar - c) : strlen(c);
        if (len == slen && strncasecmp(c, s, len) == 0) {
            *out = strndup(c, len);
            if (*out == NULL)
                return gar_error(GAR_ERR_NOMEM, "cannot allocate a parameter value");
            *found = 1;
            return GAR_OK;
        }
        c += len;
        if (*c == '|')
            c++;
    }
    return GAR_OK;
}

static gar_status grow_tokens(param_value *v)
{
    size_t cap = v->cap_tokens != 0 ? 2 * v->cap_tokens : 8;
    size_t bytes;
    char **t, **p;
    long *l;
    if (v->n_tokens < v->cap_tokens)
        return GAR_OK;
    if (!gar_size_mul(cap, sizeof(char *), &bytes))
        return gar_error(GAR_ERR_NOMEM, "path list of %zu entries is too long", v->n_tokens);
    /* Each realloc is stored at once so that a later failure leaves every
     * array owned by v and at least n_tokens long. */
    t = realloc(v->tokens, bytes);
    if (t == NULL)
        return gar_error(GAR_ERR_NOMEM, "cannot grow a path list to %zu entries", cap);
    v->tokens = t;
    p = realloc(v->patterns, bytes);
    if (p == NULL)
        return gar_error(GAR_ERR_NOMEM, "cannot grow a path list to %zu entries", cap);
    v->patterns = p;
    l = realloc(v->token_lines, cap * sizeof(long));
    if (l == NULL)
        return gar_error(GAR_ERR_NOMEM, "cannot grow a path list to %zu entries", cap);
    v->token_lines = l;
    v->cap_tokens = cap;
    return GAR_OK;
}

/* Split `text` at whitespace not escaped with '\' and append each token,
 * with its absolute pattern, to the list in v. */
gar_status gar_params_append_tokens(param_value *v, const char *text, const char *base_dir,
                                    long line)
{
    gar_status st = GAR_OK;
    char *token = NULL;
    const char *s = text;
    while (*s != '\0') {
        const char *start;
        while (*s != '\0' && isspace((unsigned char)*s))
            s++;
        if (*s == '\0')
            break;
        start = s;
        while (*s != '\0' && !isspace((unsigned char)*s)) {
            if (*s == '\\' && s[1] != '\0')
                s++;
            s++;
        }
        st = grow_tokens(v);
        if (st != GAR_OK)
            goto done;
        token = strndup(start, (size_t)(s - start));
        if (token == NULL) {
            st = gar_error(GAR_ERR_NOMEM, "cannot allocate a path list entry");
            goto done;
        }
        v->patterns[v->n_tokens] = gar_params_resolve(base_dir, token, 1);
        if (v->patterns[v->n_tokens] == NULL) {
            st = gar_error(GAR_ERR_NOMEM, "cannot allocate a path list entry");
            goto done;
        }
        v->tokens[v->n_tokens] = token;
        token = NULL;
        v->token_lines[v->n_tokens] = line;
        v->n_tokens++;
    }
done:
    free(token);
    return st;
}

/* Parse `text` as the value of `spec` into the empty v. An empty list is
 * left for the caller: a file may give a list entirely on continuation lines. */
static gar_status parse_value(const gar_param_spec *spec, const char *text, const char *base_dir,
                              const loc *at, param_value *v)
{
    gar_status st = GAR_OK;
    char *end = NULL;
    if (text[0] == '\0' && spec->type != GAR_PARAM_PATH_LIST)
        return gar_params_key_error(GAR_ERR_USAGE, at, spec->section, spec->key, "empty value");
    switch (spec->type) {
    case GAR_PARAM_STRING:
        st = dup_string(&v->text, text);
        break;
    case GAR_PARAM_PATH:
        v->text = gar_params_resolve(base_dir, text, 0);
        if (v->text == NULL)
            st = gar_error(GAR_ERR_NOMEM, "cannot allocate a path");
        break;
    case GAR_PARAM_PATH_LIST:
        st = gar_params_append_tokens(v, text, base_dir, at->kind == LOC_FILE ? at->line : 0);
        break;
    case GAR_PARAM_INT:
        errno = 0;
        v->ival = strtol(text, &end, 10);
        if (end == text || *end != '\0')
            return gar_params_key_error(GAR_ERR_USAGE, at, spec->section, spec->key,
                                        "'%s' is not an integer", text);
        if (errno == ERANGE || (double)v->ival < spec->min || (double)v->ival > spec->max)
            return range_error(spec, at, text);
        st = dup_string(&v->text, text);
        break;
    case GAR_PARAM_DOUBLE:
        v->dval = strtod(text, &end);
        if (end == text || *end != '\0')
            return gar_params_key_error(GAR_ERR_USAGE, at, spec->section, spec->key,
                                        "'%s' is not a number", text);
        if (!isfinite(v->dval))
            return gar_params_key_error(GAR_ERR_USAGE, at, spec->section, spec->key,
                                        "'%s' is not a finite number", text);
        if (v->dval < spec->min || v->dval > spec->max)
            return range_error(spec, at, text);
        st = dup_string(&v->text, text);
        break;
    case GAR_PARAM_BOOL:
        if (!parse_bool(text, &v->bval))
            return gar_params_key_error(GAR_ERR_USAGE, at, spec->section, spec->key,
                                        "expected yes or no (true/false, on/off, 1/0), got '%s'",
                                        text);
        st = dup_string(&v->text, v->bval ? "yes" : "no");
        break;
    case GAR_PARAM_ENUM: {
        int found = 0;
        st = parse_choice(spec->choices, text, &v->text, &found, &v->ival);   /* enums are ints after loading */
        if (st == GAR_OK && !found)
            return gar_params_key_error(GAR_ERR_USAGE, at, spec->section, spec->key,
                                        "expected one of %s, got '%s'", spec->choices, text);
        break;
    }
    }
    return st;
}

/* Give schema row `idx` the value `text`, replacing any earlier one. */
gar_status gar_params_assign(gar_params *p, size_t idx, const char *text, const char *base_dir,
                             const loc *at)
{
    gar_status st;
    param_value nv;
    memset(&nv, 0, sizeof nv);
    st = parse_value(&gar_params_table[idx], text, base_dir, at, &nv);
    if (st != GAR_OK)
        goto done;
    switch (at->kind) {
    case LOC_FILE: nv.origin = format_dup("%s:%ld", at->file, at->line); break;
    case LOC_SET: nv.origin = strdup("--set"); break;
    case LOC_DEFAULT: nv.origin = strdup("default"); break;
    }
    if (nv.origin == NULL) {
        st = gar_error(GAR_ERR_NOMEM, "cannot allocate a parameter origin");
        goto done;
    }
    nv.present = 1;
    nv.set = at->kind != LOC_DEFAULT;
    nv.line = at->kind == LOC_FILE ? at->line : 0;
    value_clear(&p->values[idx]);
    p->values[idx] = nv;
    memset(&nv, 0, sizeof nv);
done:
    value_clear(&nv);
    return st;
}

/* ------------------------------------------------------------------ handle */

/* A new handle with every default applied; `base_dir` must be absolute. */
gar_status gar_params_create(const char *base_dir, const char *path, gar_params **out)
{
    gar_params *p = NULL;
    gar_status st;
    size_t n = gar_params_count();
    *out = NULL;
    st = gar_params_check_schema();
    if (st != GAR_OK)
        goto done;
    st = gar_calloc((void **)&p, 1, sizeof *p, "parameter set");
    if (st != GAR_OK)
        goto done;
    st = gar_calloc((void **)&p->values, n, sizeof *p->values, "parameter values");
    if (st != GAR_OK)
        goto done;
    p->n_values = n;
    st = dup_string(&p->base_dir, base_dir);
    if (st != GAR_OK)
        goto done;
    st = dup_string(&p->path, path);
    if (st != GAR_OK)
        goto done;
    for (size_t i = 0; i < n; i++) {
        loc at = {LOC_DEFAULT, NULL, 0};
        if (gar_params_table[i].default_value == NULL)
            continue;
        st = gar_params_assign(p, i, gar_params_table[i].default_value, p->base_dir, &at);
        if (st != GAR_OK) {
            st = gar_error_context(GAR_ERR_INTERNAL, "schema");
            goto done;
        }
    }
    *out = p;
    p = NULL;
done:
    gar_params_destroy(&p);
    return st;
}

gar_status gar_params_create_empty(const char *base_dir, gar_params **out)
{
    gar_status st;
    char *abs = NULL;
    if (out == NULL)
        return gar_error(GAR_ERR_INTERNAL, "gar_params_create_empty: no output pointer");
    *out = NULL;
    st = gar_params_abs_dir(base_dir, &abs);
    if (st == GAR_OK)
        st = gar_params_create(abs, "", out);
    free(abs);
    return st;
}

void gar_params_destroy(gar_params **p)
{
    if (p == NULL || *p == NULL)
        return;
    if ((*p)->values != NULL)
        for (size_t i = 0; i < (*p)->n_values; i++)
            value_clear(&(*p)->values[i]);
    free((*p)->values);
    free((*p)->base_dir);
    free((*p)->path);
    free(*p);
    *p = NULL;
}

/* ------------------------------------------------------------------ getters */

static gar_status lookup(const gar_params *p, const char *section, const char *key,
                         gar_param_type want, param_value **out)
{
    const gar_param_spec *spec;
    size_t idx = 0;
    *out = NULL;
    if (p == NULL || section == NULL || key == NULL)
        return gar_error(GAR_ERR_INTERNAL, "parameter lookup without a parameter set or key");
    spec = gar_params_find(section, key, &idx);
    if (spec == NULL)
        return gar_error(GAR_ERR_INTERNAL, "[%s] %s: not a key in the parameter schema", section,
                         key);
    if (spec->type != want && !(want == GAR_PARAM_STRING && spec->type == GAR_PARAM_ENUM))
        return gar_error(GAR_ERR_INTERNAL, "[%s] %s: a %s key read as %s", section, key,
                         gar_params_type_name(spec->type), gar_params_type_name(want));
    if (!p->values[idx].present)
        return gar_error(GAR_ERR_USAGE,
                         "%s%s[%s] %s: required key missing (add it to the parameter file or "
                         "give --set %s.%s=...)",
                         p->path, p->path[0] != '\0' ? ": " : "", section, key, section, key);
    /* The handle's values live in their own allocation, so a const handle can
     * still fill the path list cache. */
    *out = &p->values[idx];
    return GAR_OK;
}

/* lookup(), then the value as the type asks into *out: a const char * for
 * STRING and PATH, a long, a double or an int (BOOL); zero or NULL when the
 * lookup fails. */
static gar_status get_typed(const gar_params *p, const char *section, const char *key,
                            gar_param_type want, void *out)
{
    param_value *v;
    gar_status st = lookup(p, section, key, want, &v);
    switch (want) {
    case GAR_PARAM_INT: *(long *)out = st == GAR_OK ? v->ival : 0; break;
    case GAR_PARAM_DOUBLE: *(double *)out = st == GAR_OK ? v->dval : 0.0; break;
    case GAR_PARAM_BOOL: *(int *)out = st == GAR_OK ? v->bval : 0; break;
    default: *(const char **)out = st == GAR_OK ? v->text : NULL; break;
    }
    return st;
}

gar_status gar_params_get_string(const gar_params *p, const char *section, const char *key,
                                 const char **out)
{
    return get_typed(p, section, key, GAR_PARAM_STRING, out);
}

gar_status gar_params_get_int(const gar_params *p, const char *section, const char *key,
                              long *out)
{
    return get_typed(p, section, key, GAR_PARAM_INT, out);
}

gar_status gar_params_get_double(const gar_params *p, const char *section, const char *key,
                                 double *out)
{
    return get_typed(p, section, key, GAR_PARAM_DOUBLE, out);
}

gar_status gar_params_get_bool(const gar_params *p, const char *section, const char *key,
                               int *out)
{
    return get_typed(p, section, key, GAR_PARAM_BOOL, out);
}

gar_status gar_params_get_path(const gar_params *p, const char *section, const char *key,
                               const char **out)
{
    return get_typed(p, section, key, GAR_PARAM_PATH, out);
}

gar_status gar_params_get_path_list(const gar_params *p, const char *section, const char *key,
                                    const char *const **out, size_t *count)
{
    param_value *v;
    gar_status st = lookup(p, section, key, GAR_PARAM_PATH_LIST, &v);
    *out = NULL;
    *count = 0;
    if (st != GAR_OK)
        return st;
    /* The first call fills the cache in p: make it before threads share p. */
    if (!v->expanded_ok) {
        st = gar_params_expand(p, gar_params_find(section, key, NULL), v);
        if (st != GAR_OK)
            return st;
    }
    *out = (const char *const *)v->expanded;
    *count = v->n_expanded;
    return GAR_OK;
}

gar_status gar_params_require(const gar_params *p, const char *section, const char *key)
{
    param_value *v;
    const gar_param_spec *spec = gar_params_find(section, key, NULL);
    if (spec == NULL)
        return gar_error(GAR_ERR_INTERNAL, "[%s] %s: not a key in the parameter schema", section, key);
    return lookup(p, section, key, spec->type, &v);
}

gar_status gar_params_settings(const gar_params *p, gar_settings *out)
{
    gar_status st;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < p->n_values; i++) {
        const gar_param_spec *spec = &gar_params_table[i];
        param_value *v = &p->values[i];
        char *field = (char *)out + spec->field;
        if (!v->present)
            continue;
        switch (spec->type) {
        case GAR_PARAM_INT: memcpy(field, &v->ival, sizeof v->ival); break;
        case GAR_PARAM_DOUBLE: memcpy(field, &v->dval, sizeof v->dval); break;
        case GAR_PARAM_BOOL: memcpy(field, &v->bval, sizeof v->bval); break;
        case GAR_PARAM_ENUM: {
            int index = (int)v->ival;
            memcpy(field, &index, sizeof index);
            break;
        }
        case GAR_PARAM_PATH_LIST: {
            const char *const *list = NULL;
            size_t n = 0;
            if ((st = gar_params_get_path_list(p, spec->section, spec->key, &list, &n)) != GAR_OK)
                return st;
            memcpy(field, &list, sizeof list);
            memcpy((char *)out + spec->count_field, &n, sizeof n);
            break;
        }
        default: {
            const char *text = v->text;
            memcpy(field, &text, sizeof text);
        }
        }
    }
    return GAR_OK;
}

int gar_params_is_set(const gar_params *p, const char *section, const char *key)
{
    size_t idx = 0;
    if (p == NULL || section == NULL || key == NULL || gar_params_find(section, key, &idx) == NULL)
        return 0;
    return p->values[idx].set;
}

const char *gar_params_origin(const gar_params *p, const char *section, const char *key)
{
    size_t idx = 0;
    if (p == NULL || section == NULL || key == NULL || gar_params_find(section, key, &idx) == NULL)
        return "unknown key";
    return p->values[idx].present ? p->values[idx].origin : "unset";
}

const char *gar_params_path(const gar_params *p) { return p != NULL ? p->path : ""; }

/* ------------------------------------------------------------------ writing */

/* The longest line the reader accepts (see read_line). */
#define WRITE_LINE_MAX (INI_MAX_LINE - 1)

static gar_status check_line(const gar_param_spec *spec, size_t len)
{
    if (len > WRITE_LINE_MAX)
        return gar_error(GAR_ERR_OUTPUT,
                         "cannot write parameters: [%s] %s: a line would be %zu characters, "
                         "longer than the %d a parameter file may hold",
                         spec->section, spec->key, len, WRITE_LINE_MAX);
    return GAR_OK;
}

/* The last token of the list line that starts with token t. A token ends in
 * whitespace only when that was escaped ("a\\ "), and it was then followed
 * by another token on its line: written at the end of a line, the reader
 * would strip the escaped space (inih trims line ends), so such a token keeps
 * the next one on its line. */
static size_t list_line_end(const param_value *v, size_t t)
{
    while (t + 1 < v->n_tokens) {
        size_t len = strlen(v->patterns[t]);
        if (len == 0 || !isspace((unsigned char)v->patterns[t][len - 1]))
            break;
        t++;
    }
    return t;
}

gar_status gar_params_write(const gar_params *p, FILE *f)
{
    gar_status st = GAR_OK;
    const char *section = NULL;
    if (p == NULL || f == NULL)
        return gar_error(GAR_ERR_INTERNAL, "gar_params_write: no parameter set or file");
    /* Every line is checked first so that a failure leaves no half-written file. */
    for (size_t i = 0; i < p->n_values; i++) {
        const gar_param_spec *spec = &gar_params_table[i];
        const param_value *v = &p->values[i];
        size_t klen = strlen(spec->key);
        if (!v->set) {
            /* comment lines count against the line limit too */
            if (spec->default_value != NULL) {
                st = check_line(spec, klen + strlen(spec->default_value) + 18);
                if (st != GAR_OK)
                    goto done;
            }
            continue;
        }
        if (spec->type != GAR_PARAM_PATH_LIST) {
            st = check_line(spec, klen + 3 + strlen(v->text));
            if (st != GAR_OK)
                goto done;
            continue;
        }
        if (v->n_tokens == 0) {
            st = gar_error(GAR_ERR_INTERNAL, "[%s] %s: given as an empty list", spec->section,
                           spec->key);
            goto done;
        }
        for (size_t t = 0; t < v->n_tokens;) {
            size_t end = list_line_end(v, t), len = t == 0 ? klen + 3 : 4;
            for (size_t k = t; k <= end; k++)
                len += strlen(v->patterns[k]) + (k > t);
            st = check_line(spec, len);
            if (st != GAR_OK)
                goto done;
            t = end + 1;
        }
    }
    /* The source file is named only where that cannot break the file. */
    if (p->path[0] != '\0' && strlen(p->path) + 25 <= WRITE_LINE_MAX &&
        strpbrk(p->path, "\r\n") == NULL)
        fprintf(f, "; garner parameters from %s\n", p->path);
    else
        fprintf(f, "; garner parameters\n");
    fprintf(f, "; given values are plain lines; defaults are commented out\n");
    for (size_t i = 0; i < p->n_values; i++) {
        const gar_param_spec *spec = &gar_params_table[i];
        const param_value *v = &p->values[i];
        if (section == NULL || strcmp(section, spec->section) != 0) {
            section = spec->section;
            fprintf(f, "\n[%s]\n", section);
        }
        if (v->set && spec->type == GAR_PARAM_PATH_LIST) {
            for (size_t t = 0; t < v->n_tokens;) {
                size_t end = list_line_end(v, t);
                if (t == 0)
                    fprintf(f, "%s = ", spec->key);
                else
                    fprintf(f, "    ");
                for (size_t k = t; k <= end; k++)
                    fprintf(f, "%s%s", k > t ? " " : "", v->patterns[k]);
                fprintf(f, "\n");
                t = end + 1;
            }
        } else if (v->set) {
            /* "key =;x" gives the value ";x", but "key = ;x" a comment: a
             * value that starts with ';' is written as it must have been
             * given, without the space. */
            fprintf(f, "%s =%s%s\n", spec->key, v->text[0] == ';' ? "" : " ", v->text);
        } else if (spec->default_value != NULL) {
            fprintf(f, "; %s = %s ; (default)\n", spec->key, spec->default_value);
        } else {
            fprintf(f, "; %s = ; (not set; no default)\n", spec->key);
        }
    }
    if (fflush(f) != 0 || ferror(f))
        st = gar_error(GAR_ERR_IO, "cannot write parameters: %s", strerror(errno));
done:
    return st;
}

/* ------------------------------------------------------------------ template */

/* "; " and text wrapped at 78 columns on spaces; a word longer than a line
 * stays whole. */
static void write_wrapped_comment(FILE *f, const char *text)
{
    const size_t width = 76;
    while (*text != '\0') {
        size_t len = strlen(text), cut = len;
        if (len > width) {
            cut = width;
            while (cut > 0 && text[cut] != ' ')
                cut--;
            if (cut == 0)
                cut = strcspn(text, " ");
        }
        fprintf(f, "; %.*s\n", (int)cut, text);
        text += cut;
        while (*text == ' ')
            text++;
    }
}

gar_status gar_params_write_template(FILE *f, const char *intro, const char *const *sections)
{
    const char *section = NULL;
    if (f == NULL || sections == NULL)
        return gar_error(GAR_ERR_INTERNAL, "gar_params_write_template: no file or sections");
    if (intro != NULL)
        fputs(intro, f);
    for (const gar_param_spec *spec = gar_params_table; spec->section != NULL; spec++) {
        char about[2048], kind[160];
        int wanted = 0;
        for (const char *const *s = sections; *s != NULL; s++)
            wanted |= strcmp(*s, spec->section) == 0;
        if (!wanted)
            continue;
        if (section == NULL || strcmp(section, spec->section) != 0) {
            section = spec->section;
            fprintf(f, "\n[%s]\n", section);
        } else {
            fputs("\n", f);
        }
        if ((spec->type == GAR_PARAM_INT || spec->type == GAR_PARAM_DOUBLE) && isfinite(spec->min) &&
            isfinite(spec->max))
            snprintf(kind, sizeof kind, "%s, %g to %g", gar_params_type_name(spec->type), spec->min, spec->max);
        else if (spec->type == GAR_PARAM_INT || spec->type == GAR_PARAM_DOUBLE)
            snprintf(kind, sizeof kind, "%s, %s %g", gar_params_type_name(spec->type),
                     isfinite(spec->min) ? "at least" : "at most", isfinite(spec->min) ? spec->min : spec->max);
        else if (spec->type == GAR_PARAM_ENUM)
            snprintf(kind, sizeof kind, "one of %s", spec->choices);
        else
            snprintf(kind, sizeof kind, "%s", gar_params_type_name(spec->type));
        snprintf(about, sizeof about, "%s (%s)", spec->doc, kind);
        write_wrapped_comment(f, about);
        if (spec->default_value != NULL)
            fprintf(f, "; %s = %s\n", spec->key, spec->default_value);
        else
            fprintf(f, "; %s = ; no default\n", spec->key);
    }
    if (fflush(f) != 0 || ferror(f))
        return gar_error(GAR_ERR_IO, "cannot write the parameter template: %s", strerror(errno));
    return GAR_OK;
}
