/* garner: paths in run parameters: resolution against the parameter file's
 * folder, and the expansion of path lists (globs, missing files, the same
 * file listed twice). See gar_params_impl.h. */
#include "gar_params_impl.h"

#include <errno.h>
#include <glob.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* ------------------------------------------------------------------ paths */

static int is_glob_special(char c) { return c == '*' || c == '?' || c == '[' || c == '\\'; }

/* Whether a list token has glob characters not escaped with '\'. */
static int has_magic(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\' && s[1] != '\0')
            s++;
        else if (*s == '*' || *s == '?' || *s == '[')
            return 1;
    }
    return 0;
}

/* A glob pattern with its escapes removed: the one path it names. */
static char *unescape(const char *pattern)
{
    char *out = malloc(strlen(pattern) + 1);
    char *o = out;
    if (out == NULL)
        return NULL;
    for (const char *s = pattern; *s != '\0'; s++) {
        if (*s == '\\' && s[1] != '\0')
            s++;
        *o++ = *s;
    }
    *o = '\0';
    return out;
}

/* "./data" is "data", "." is "": leading "./" says nothing about where the
 * file is and only clutters the absolute path. */
static const char *skip_dot_slash(const char *rel)
{
    for (;;) {
        if (rel[0] == '.' && rel[1] == '/') {
            rel += 2;
            while (*rel == '/')
                rel++;
        } else if (rel[0] == '.' && rel[1] == '\0') {
            return rel + 1;
        } else {
            return rel;
        }
    }
}

/* `rel` resolved against the absolute folder `base`. For glob patterns
 * (as_pattern) the folder's own glob characters are escaped so that only the
 * user's part of the pattern matches anything but itself. NULL when out of memory. */
char *gar_params_resolve(const char *base, const char *rel, int as_pattern)
{
    size_t blen, rlen;
    char *out, *o;
    const char *home = getenv("HOME");
    if (rel[0] == '/')
        return strdup(rel);
    /* "~" and "~/..." are the home folder, as a shell expands them (a value
     * `dir = ~/run1` would otherwise make a folder named "~"); "~user" is
     * not expanded. Only an absolute $HOME is used. */
    if (rel[0] == '~' && (rel[1] == '\0' || rel[1] == '/') && home != NULL && home[0] == '/') {
        base = home;
        rel += rel[1] == '/' ? 2 : 1;
    }
    blen = strlen(base);
    rel = skip_dot_slash(rel);
    rlen = strlen(rel);
    out = malloc(2 * blen + rlen + 2);
    if (out == NULL)
        return NULL;
    o = out;
    for (const char *b = base; *b != '\0'; b++) {
        if (as_pattern && is_glob_special(*b))
            *o++ = '\\';
        *o++ = *b;
    }
    if (rlen > 0 && (o == out || o[-1] != '/'))
        *o++ = '/';
    memcpy(o, rel, rlen + 1);
    return out;
}

gar_status gar_params_cwd(char **out)
{
    *out = getcwd(NULL, 0);
    if (*out == NULL)
        return gar_error(GAR_ERR_NOINPUT, "cannot determine the current folder: %s",
                         strerror(errno));
    return GAR_OK;
}

gar_status gar_params_abs_dir(const char *dir, char **out)
{
    gar_status st;
    char *cwd = NULL;
    *out = NULL;
    if (dir == NULL || dir[0] != '/') {
        st = gar_params_cwd(&cwd);
        if (st != GAR_OK)
            return st;
    }
    *out = dir == NULL ? strdup(cwd) : gar_params_resolve(cwd != NULL ? cwd : "/", dir, 0);
    free(cwd);
    if (*out == NULL)
        return gar_error(GAR_ERR_NOMEM, "cannot allocate a path");
    return GAR_OK;
}

/* ------------------------------------------------------------------ expansion */

typedef struct file_id {
    dev_t dev;
    ino_t ino;
    size_t pos;     /* index in the expanded list */
    size_t token;   /* the token that produced it */
} file_id;

static int compare_ids(const void *a, const void *b)
{
    const file_id *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino)
        return x->ino < y->ino ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

typedef struct expansion {
    char **paths;
    file_id *ids;
    size_t n, cap;
} expansion;

static loc token_loc(const gar_params *p, const param_value *v, size_t t)
{
    loc at = {LOC_DEFAULT, NULL, 0};
    if (v->set && v->token_lines[t] > 0) {
        at.kind = LOC_FILE;
        at.file = p->path;
        at.line = v->token_lines[t];
    } else if (v->set) {
        at.kind = LOC_SET;
    }
    return at;
}

/* Check that `path`, which token t produced, is a readable file, and add it. */
static gar_status add_file(const gar_params *p, const gar_param_spec *spec, const param_value *v,
                           size_t t, const char *path, expansion *x)
{
    loc at = token_loc(p, v, t);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT && !has_magic(v->tokens[t]))
            return gar_params_key_error(GAR_ERR_NOINPUT, &at, spec->section, spec->key,
                                        "'%s' does not exist (looked for %s)", v->tokens[t], path);
        return gar_params_key_error(GAR_ERR_NOINPUT, &at, spec->section, spec->key, "'%s': %s",
                                    path, strerror(errno));
    }
    if (S_ISDIR(sb.st_mode))
        return gar_params_key_error(GAR_ERR_USAGE, &at, spec->section, spec->key,
                                    "'%s' is a directory, expected an HDF5 stack file", path);
    if (access(path, R_OK) != 0)
        return gar_params_key_error(GAR_ERR_NOINPUT, &at, spec->section, spec->key,
                                    "'%s' cannot be read: %s", path, strerror(errno));
    if (x->n == x->cap) {
        size_t cap = x->cap != 0 ? 2 * x->cap : 16;
        char **np;
        file_id *ni;
        if (cap > SIZE_MAX / sizeof(file_id))
            return gar_error(GAR_ERR_NOMEM, "path list of %zu files is too long", x->n);
        np = realloc(x->paths, cap * sizeof *np);
        if (np == NULL)
            return gar_error(GAR_ERR_NOMEM, "cannot grow a path list to %zu files", cap);
        x->paths = np;
        ni = realloc(x->ids, cap * sizeof *ni);
        if (ni == NULL)
            return gar_error(GAR_ERR_NOMEM, "cannot grow a path list to %zu files", cap);
        x->ids = ni;
        x->cap = cap;
    }
    x->paths[x->n] = strdup(path);
    if (x->paths[x->n] == NULL)
        return gar_error(GAR_ERR_NOMEM, "cannot allocate a path");
    x->ids[x->n] = (file_id){sb.st_dev, sb.st_ino, x->n, t};
    x->n++;
    return GAR_OK;
}

/* Reading the same particles twice would weight them double in the
 * reconstruction, so the same file reached twice (also through another name
 * or a hard link) is an error. */
static gar_status check_duplicates(const gar_params *p, const gar_param_spec *spec,
                                   const param_value *v, expansion *x)
{
    gar_status st = GAR_OK;
    file_id *ids = NULL;
    if (x->n < 2)
        return GAR_OK;
    st = gar_alloc((void **)&ids, x->n, sizeof *ids, "path list check");
    if (st != GAR_OK)
        goto done;
    memcpy(ids, x->ids, x->n * sizeof *ids);
    qsort(ids, x->n, sizeof *ids, compare_ids);
    for (size_t i = 1; i < x->n; i++) {
        const file_id *a = &ids[i - 1], *b = &ids[i];
        loc at;
        if (a->dev != b->dev || a->ino != b->ino)
            continue;
        at = token_loc(p, v, b->token);
        if (strcmp(x->paths[a->pos], x->paths[b->pos]) == 0)
            st = gar_params_key_error(GAR_ERR_USAGE, &at, spec->section, spec->key,
                                      "'%s' is listed twice (by '%s' and '%s')", x->paths[b->pos],
                                      v->tokens[a->token], v->tokens[b->token]);
        else
            st = gar_params_key_error(GAR_ERR_USAGE, &at, spec->section, spec->key,
                                      "'%s' and '%s' are the same file (listed by '%s' and '%s')",
                                      x->paths[a->pos], x->paths[b->pos], v->tokens[a->token],
                                      v->tokens[b->token]);
        goto done;
    }
done:
    free(ids);
    return st;
}

gar_status gar_params_expand(const gar_params *p, const gar_param_spec *spec, param_value *v)
{
    gar_status st = GAR_OK;
    expansion x = {NULL, NULL, 0, 0};
    glob_t g;
    int have_glob = 0;
    char *plain = NULL;
    for (size_t t = 0; t < v->n_tokens; t++) {
        loc at = token_loc(p, v, t);
        int rc;
        if (!has_magic(v->tokens[t])) {
            plain = unescape(v->patterns[t]);
            if (plain == NULL) {
                st = gar_error(GAR_ERR_NOMEM, "cannot allocate a path");
                goto done;
            }
            st = add_file(p, spec, v, t, plain, &x);
            if (st != GAR_OK)
                goto done;
            free(plain);
            plain = NULL;
            continue;
        }
        /* Sorted here rather than by glob(), which sorts by the locale's
         * collation: the order must not depend on the user's LANG. */
        rc = glob(v->patterns[t], GLOB_NOSORT, NULL, &g);
        have_glob = rc == 0 || rc == GLOB_NOMATCH;
        if (rc == GLOB_NOMATCH) {
            st = gar_params_key_error(GAR_ERR_NOINPUT, &at, spec->section, spec->key,
                                      "'%s' matches no file (looked for %s)", v->tokens[t],
                                      v->patterns[t]);
            goto done;
        }
        if (rc != 0) {
            st = gar_params_key_error(rc == GLOB_NOSPACE ? GAR_ERR_NOMEM : GAR_ERR_NOINPUT, &at,
                                      spec->section, spec->key, "cannot expand '%s': %s",
                                      v->tokens[t],
                                      rc == GLOB_NOSPACE ? "out of memory" : "read error");
            goto done;
        }
        qsort(g.gl_pathv, g.gl_pathc, sizeof *g.gl_pathv, compare_strings);
        for (size_t i = 0; i < g.gl_pathc; i++) {
            st = add_file(p, spec, v, t, g.gl_pathv[i], &x);
            if (st != GAR_OK)
                goto done;
        }
        globfree(&g);
        have_glob = 0;
    }
    st = check_duplicates(p, spec, v, &x);
    if (st != GAR_OK)
        goto done;
    v->expanded = x.paths;
    v->n_expanded = x.n;
    v->expanded_ok = 1;
    x.paths = NULL;
    x.n = 0;
done:
    if (have_glob)
        globfree(&g);
    free(plain);
    gar_params_free_strings(x.paths, x.n);
    free(x.ids);
    return st;
}
