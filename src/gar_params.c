/* garner: run parameter files (see gar_params.h for the contract and
 * docs/PARAMETERS.md for the user's side).
 *
 * inih does the INI syntax; everything else happens here: the schema, type
 * and range checks, duplicate detection, path resolution and glob expansion.
 * inih gives its handler neither the line number nor whether the line was a
 * continuation, so the file goes through our own line reader (read_line),
 * which counts lines and classifies each one the way inih is about to. */
#include "gar_params.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* ------------------------------------------------------------------ schema */

/* Bounds for INT/DOUBLE keys that have none on one side. */
#define NO_MIN (-HUGE_VAL)
#define NO_MAX HUGE_VAL

/* The one place keys are declared. To add a key, add a row (keep the rows of a
 * section together) and document it in docs/PARAMETERS.md under
 * "## [section]" as "### `key`"; check_params fails until both agree.
 * INT and DOUBLE rows must give .min and .max (NO_MIN/NO_MAX for none), ENUM
 * rows .choices; .default_value NULL means the key has no default and the
 * commands that need it fail with "required key missing". */
static const gar_param_spec schema[] = {
    {.section = "input",
     .key = "stacks",
     .type = GAR_PARAM_PATH_LIST,
     .default_value = NULL,
     .doc = "HDF5 particle stacks: paths or globs, whitespace-separated, continued on "
            "indented lines"},
    {.section = "input",
     .key = "nonfinite",
     .type = GAR_PARAM_ENUM,
     .default_value = "error",
     .choices = "error|skip",
     .doc = "what to do with a particle whose image holds NaN or Inf"},
    {.section = "output",
     .key = "dir",
     .type = GAR_PARAM_PATH,
     .default_value = NULL,
     .doc = "output folder"},
    {.section = "output",
     .key = "overwrite",
     .type = GAR_PARAM_BOOL,
     .default_value = "no",
     .doc = "allow writing into an existing non-empty output folder"},
    {.section = "output",
     .key = "checkpoint_minutes",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "0",
     .min = 0,
     .max = 100000,
     .doc = "minutes between checkpoints of a reconstruction; 0: only on SIGTERM or SIGUSR1"},
    {.section = "reconstruct",
     .key = "symmetry",
     .type = GAR_PARAM_STRING,
     .default_value = "C1",
     .doc = "point group: C<n>, D<n>, T, O or I (RELION's conventions; I = I2)"},
    {.section = "reconstruct",
     .key = "symmetry_mode",
     .type = GAR_PARAM_ENUM,
     .default_value = "volume",
     .choices = "insert|volume",
     .doc = "insert each particle once per operator, or symmetrise the summed volume once"},
    {.section = "reconstruct",
     .key = "ctf",
     .type = GAR_PARAM_BOOL,
     .default_value = "yes",
     .doc = "correct for each particle's CTF (needs the stack's defocus columns)"},
    {.section = "reconstruct",
     .key = "pad",
     .type = GAR_PARAM_INT,
     .default_value = "2",
     .min = 1,
     .max = 4,
     .doc = "padding factor of the Fourier volume"},
    {.section = "reconstruct",
     .key = "blob_radius",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "1.9",
     .min = 0.5,
     .max = 4,
     .doc = "Kaiser-Bessel blob radius in padded Fourier voxels"},
    {.section = "reconstruct",
     .key = "blob_alpha",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "15",
     .min = 0,
     .max = 40,
     .doc = "Kaiser-Bessel blob taper parameter"},
    {.section = "reconstruct",
     .key = "blob_order",
     .type = GAR_PARAM_INT,
     .default_value = "0",
     .min = 0,
     .max = 2,
     .doc = "Kaiser-Bessel blob order m"},
    {.section = "reconstruct",
     .key = "max_resolution",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "0",
     .min = 0,
     .max = 1000,
     .doc = "resolution limit in Å; 0 means Nyquist (twice the pixel size)"},
    {.section = "reconstruct",
     .key = "threads",
     .type = GAR_PARAM_INT,
     .default_value = "0",
     .min = 0,
     .max = 4096,
     .doc = "CPU threads; 0 means all cores this process may use"},
    {.section = "reconstruct",
     .key = "batch",
     .type = GAR_PARAM_INT,
     .default_value = "128",
     .min = 1,
     .max = 65536,
     .doc = "particles read and inserted per batch"},
    {.section = "reconstruct",
     .key = "outer_mask",
     .type = GAR_PARAM_BOOL,
     .default_value = "yes",
     .doc = "soft-mask the map outside the sphere inscribed in the box"},
    {.section = "reconstruct",
     .key = "reference",
     .type = GAR_PARAM_PATH,
     .default_value = NULL,
     .doc = "optional map (MRC) to compute an FSC against, e.g. the truth of a simulation"},
    {.section = "refine",
     .key = "initial_map",
     .type = GAR_PARAM_PATH,
     .default_value = NULL,
     .doc = "the starting map (MRC), on the particles' pixel size and box"},
    {.section = "refine",
     .key = "initial_resolution",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "30",
     .min = 1,
     .max = 10000,
     .doc = "Å; the initial map is low-pass filtered to this before the first search"},
    {.section = "refine",
     .key = "symmetry",
     .type = GAR_PARAM_STRING,
     .default_value = "C1",
     .doc = "point group of the search and the reconstructions: C<n>, D<n>, T, O or I"},
    {.section = "refine",
     .key = "angular_step",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "7.5",
     .min = 0.1,
     .max = 30,
     .doc = "angular sampling of the first (global) search, degrees; halved when the resolution stalls"},
    {.section = "refine",
     .key = "shift_range",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "0",
     .min = 0,
     .max = 10000,
     .doc = "Å; a global search looks for origins within this of the previous one; 0: 5 pixels"},
    {.section = "refine",
     .key = "shift_step",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "0",
     .min = 0,
     .max = 1000,
     .doc = "Å; origin sampling of a global search (local searches use half); 0: 1 pixel"},
    {.section = "refine",
     .key = "iterations",
     .type = GAR_PARAM_INT,
     .default_value = "25",
     .min = 1,
     .max = 1000,
     .doc = "largest number of search-and-reconstruct iterations"},
    {.section = "refine",
     .key = "local_search_below",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "5",
     .min = 0,
     .max = 180,
     .doc = "degrees; from this angular step down, search only around each particle's previous pose"},
    {.section = "refine",
     .key = "join_below",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "40",
     .min = 0,
     .max = 10000,
     .doc = "Å; while the resolution is worse than this, both half sets search the average of the half maps"},
    {.section = "refine",
     .key = "mask_diameter",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "0",
     .min = 0,
     .max = 100000,
     .doc = "Å; soft circular mask on the particles and spherical mask on the references; 0: 90 % of the box"},
    {.section = "gpu",
     .key = "devices",
     .type = GAR_PARAM_STRING,
     .default_value = "auto",
     .doc = "auto (every GPU this rank may use, shared among the node's worker ranks), none (CPU), or "
            "device numbers such as 0,1; a device listed twice gets two inserters"},
    {.section = "gpu",
     .key = "fft_on_gpu",
     .type = GAR_PARAM_BOOL,
     .default_value = "yes",
     .doc = "pad, transform, shift and CTF-weight the particles on the GPU (no: on the CPU, and copy the planes)"},
    {.section = "gpu",
     .key = "tuning",
     .type = GAR_PARAM_ENUM,
     .default_value = "auto",
     .choices = "auto|off|cached",
     .doc = "auto: use the cached gather variant or time them all on the first batch; off: the default "
            "variant; cached: the cached one if any, never time"},
    {.section = "gpu",
     .key = "tuning_cache",
     .type = GAR_PARAM_STRING,
     .default_value = "auto",
     .doc = "file of tuned variants keyed by GPU model and run shape; auto: "
            "$XDG_CACHE_HOME/garner/gpu-tuning.tsv or ~/.cache/garner/gpu-tuning.tsv; none: no cache"},
    {.section = "mpi",
     .key = "shard_size",
     .type = GAR_PARAM_INT,
     .default_value = "0",
     .min = 0,
     .max = 100000000,
     .doc = "particles per shard handed to a worker; 0 chooses about 8 shards per worker"},
    {.section = "mpi",
     .key = "reduce_chunk_mb",
     .type = GAR_PARAM_INT,
     .default_value = "64",
     .min = 1,
     .max = 16384,
     .doc = "largest message of the reduction of partial volumes, in MiB"},
    {.section = "mpi",
     .key = "reproducible",
     .type = GAR_PARAM_BOOL,
     .default_value = "yes",
     .doc = "exact sums of the partial volumes: a repeated run gives the same map bit for bit (more memory)"},
    {.section = NULL},
};

const gar_param_spec *gar_params_schema(void) { return schema; }

static size_t schema_count(void)
{
    size_t n = 0;
    while (schema[n].section != NULL)
        n++;
    return n;
}

static const char *type_name(gar_param_type t)
{
    switch (t) {
    case GAR_PARAM_STRING: return "string";
    case GAR_PARAM_PATH: return "path";
    case GAR_PARAM_PATH_LIST: return "path list";
    case GAR_PARAM_INT: return "integer";
    case GAR_PARAM_DOUBLE: return "number";
    case GAR_PARAM_BOOL: return "yes/no";
    case GAR_PARAM_ENUM: return "choice";
    }
    return "unknown type";
}

/* ------------------------------------------------------------------ values */

typedef struct param_value {
    int present;       /* has a value, given or defaulted */
    int set;           /* given in the file or with --set */
    long line;         /* line of the key in the file; 0 for --set and defaults */
    char *origin;      /* "run.ini:7", "--set" or "default" */
    char *text;        /* canonical text, written back by gar_params_write; for
                        * PATH the absolute path */
    long ival;
    double dval;
    int bval;
    /* PATH_LIST: the tokens as written, the absolute glob patterns they stand
     * for, and the line each came from (lists continue over lines) */
    char **tokens;
    char **patterns;
    long *token_lines;
    size_t n_tokens, cap_tokens;
    /* PATH_LIST expansion, done by the first get and kept */
    char **expanded;
    size_t n_expanded;
    int expanded_ok;
} param_value;

struct gar_params {
    char *path;            /* the parameter file as given; "" for an empty set */
    char *base_dir;        /* absolute folder that relative file values resolve against */
    param_value *values;   /* one per schema row, same order */
    size_t n_values;
};

static void free_strings(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void drop_expansion(param_value *v)
{
    free_strings(v->expanded, v->n_expanded);
    v->expanded = NULL;
    v->n_expanded = 0;
    v->expanded_ok = 0;
}

static void value_clear(param_value *v)
{
    free(v->origin);
    free(v->text);
    free_strings(v->tokens, v->n_tokens);
    free_strings(v->patterns, v->n_tokens);
    free(v->token_lines);
    drop_expansion(v);
    memset(v, 0, sizeof *v);
}

/* ------------------------------------------------------------------ messages */

/* Where a value came from, for the message prefix. */
typedef enum loc_kind { LOC_FILE, LOC_SET, LOC_DEFAULT } loc_kind;

typedef struct loc {
    loc_kind kind;
    const char *file;   /* LOC_FILE: the parameter file as given */
    long line;
} loc;

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

static gar_status key_error(gar_status st, const loc *at, const char *section, const char *key,
                            const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static gar_status key_error(gar_status st, const loc *at, const char *section, const char *key,
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

/* ------------------------------------------------------------------ suggestions */

#define EDIT_MAX 64

/* Edit distance (Levenshtein, with a swap of two neighbours counting as one
 * edit, since that is the commonest typo), ignoring case. SIZE_MAX for
 * strings too long to be keys. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t rows[3][EDIT_MAX + 1];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    if (la > EDIT_MAX || lb > EDIT_MAX)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t *t;
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            size_t cost = ca != cb;
            size_t best = prev[j - 1] + cost;
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

static size_t suggest_limit(const char *typed)
{
    size_t third = strlen(typed) / 3;
    return third > 2 ? third : 2;
}

/* The schema row whose key is closest to `key`, looking in every section and
 * preferring `section` on a tie; NULL if nothing is close. */
static const gar_param_spec *suggest_spec(const char *section, const char *key)
{
    const gar_param_spec *best = NULL;
    size_t best_d = SIZE_MAX;
    int best_same = 0;
    size_t limit = suggest_limit(key);
    for (const gar_param_spec *s = schema; s->section != NULL; s++) {
        size_t d = edit_distance(key, s->key);
        int same = section != NULL && strcmp(s->section, section) == 0;
        if (d > limit || (same && strcmp(s->key, key) == 0))
            continue;
        if (d < best_d || (d == best_d && same && !best_same)) {
            best = s;
            best_d = d;
            best_same = same;
        }
    }
    return best;
}

const char *gar_params_suggest_key(const char *section, const char *key)
{
    const gar_param_spec *s = key != NULL ? suggest_spec(section, key) : NULL;
    return s != NULL ? s->key : NULL;
}

static int section_known(const char *section)
{
    for (const gar_param_spec *s = schema; s->section != NULL; s++)
        if (strcmp(s->section, section) == 0)
            return 1;
    return 0;
}

static const char *suggest_section(const char *section)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    size_t limit = suggest_limit(section);
    for (const gar_param_spec *s = schema; s->section != NULL; s++) {
        size_t d = edit_distance(section, s->section);
        if (d <= limit && d < best_d) {
            best = s->section;
            best_d = d;
        }
    }
    return best;
}

/* The row of a key in any section, when exactly that key exists somewhere. */
static const gar_param_spec *spec_anywhere(const char *key)
{
    for (const gar_param_spec *s = schema; s->section != NULL; s++)
        if (strcmp(s->key, key) == 0)
            return s;
    return NULL;
}

static const gar_param_spec *find_spec(const char *section, const char *key, size_t *index)
{
    for (size_t i = 0; schema[i].section != NULL; i++)
        if (strcmp(schema[i].section, section) == 0 && strcmp(schema[i].key, key) == 0) {
            if (index != NULL)
                *index = i;
            return &schema[i];
        }
    return NULL;
}

/* " (did you mean '[output] dir'?)" in the style of the location, or "". */
static void key_hint(char *buf, size_t size, const loc *at, const char *section, const char *key)
{
    const gar_param_spec *s = suggest_spec(section, key);
    buf[0] = '\0';
    if (s == NULL)
        return;
    if (at->kind == LOC_SET)
        snprintf(buf, size, " (did you mean '%s.%s'?)", s->section, s->key);
    else if (strcmp(s->section, section) == 0)
        snprintf(buf, size, " (did you mean '%s'?)", s->key);
    else
        snprintf(buf, size, " (did you mean '[%s] %s'?)", s->section, s->key);
}

/* Append "[input], [output]" (every section once) or "dir, overwrite" (the
 * keys of `section`) to buf. */
static void list_names(char *buf, size_t size, const char *section)
{
    size_t used = strlen(buf);
    const char *sep = "";
    for (size_t i = 0; schema[i].section != NULL && used < size; i++) {
        int seen = 0;
        int n;
        if (section != NULL && strcmp(schema[i].section, section) != 0)
            continue;
        for (size_t j = 0; section == NULL && j < i; j++)
            seen |= strcmp(schema[j].section, schema[i].section) == 0;
        if (seen)
            continue;
        if (section != NULL)
            n = snprintf(buf + used, size - used, "%s%s", sep, schema[i].key);
        else
            n = snprintf(buf + used, size - used, "%s[%s]", sep, schema[i].section);
        if (n < 0)
            return;
        used += (size_t)n;
        sep = ", ";
    }
}

static void section_hint(char *buf, size_t size, const loc *at, const char *section,
                         const char *key)
{
    const char *s = suggest_section(section);
    const gar_param_spec *home = spec_anywhere(key);
    if (s != NULL && at->kind == LOC_SET)
        snprintf(buf, size, " (did you mean '%s.%s'?)", s, key);
    else if (s != NULL)
        snprintf(buf, size, " (did you mean '[%s]'?)", s);
    else if (home != NULL && at->kind == LOC_SET)
        snprintf(buf, size, " (did you mean '%s.%s'?)", home->section, home->key);
    else if (home != NULL)
        snprintf(buf, size, " (did you mean '[%s]', where '%s' belongs?)", home->section, key);
    else {
        snprintf(buf, size, " (sections: ");
        list_names(buf, size - 1, NULL);
        strcat(buf, ")");
    }
}

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
static char *resolve(const char *base, const char *rel, int as_pattern)
{
    size_t blen = strlen(base), rlen;
    char *out, *o;
    if (rel[0] == '/')
        return strdup(rel);
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

static gar_status current_dir(char **out)
{
    *out = getcwd(NULL, 0);
    if (*out == NULL)
        return gar_error(GAR_ERR_NOINPUT, "cannot determine the current folder: %s",
                         strerror(errno));
    return GAR_OK;
}

/* ------------------------------------------------------------------ parsing values */

static void range_text(char *buf, size_t size, double min, double max)
{
    if (isfinite(min) && isfinite(max))
        snprintf(buf, size, "is out of range [%.15g, %.15g]", min, max);
    else if (isfinite(min))
        snprintf(buf, size, "must be at least %.15g", min);
    else
        snprintf(buf, size, "must be at most %.15g", max);
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
static gar_status parse_choice(const char *choices, const char *s, char **out, int *found)
{
    size_t slen = strlen(s);
    const char *c = choices;
    *found = 0;
    *out = NULL;
    while (*c != '\0') {
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
static gar_status append_tokens(param_value *v, const char *text, const char *base_dir, long line)
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
        v->patterns[v->n_tokens] = resolve(base_dir, token, 1);
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
    char range[128];
    if (text[0] == '\0' && spec->type != GAR_PARAM_PATH_LIST)
        return key_error(GAR_ERR_USAGE, at, spec->section, spec->key, "empty value");
    switch (spec->type) {
    case GAR_PARAM_STRING:
        st = dup_string(&v->text, text);
        break;
    case GAR_PARAM_PATH:
        v->text = resolve(base_dir, text, 0);
        if (v->text == NULL)
            st = gar_error(GAR_ERR_NOMEM, "cannot allocate a path");
        break;
    case GAR_PARAM_PATH_LIST:
        st = append_tokens(v, text, base_dir, at->kind == LOC_FILE ? at->line : 0);
        break;
    case GAR_PARAM_INT:
        errno = 0;
        v->ival = strtol(text, &end, 10);
        if (end == text || *end != '\0')
            return key_error(GAR_ERR_USAGE, at, spec->section, spec->key,
                             "'%s' is not an integer", text);
        if (errno == ERANGE || (double)v->ival < spec->min || (double)v->ival > spec->max) {
            range_text(range, sizeof range, spec->min, spec->max);
            return key_error(GAR_ERR_USAGE, at, spec->section, spec->key, "'%s' %s", text, range);
        }
        st = dup_string(&v->text, text);
        break;
    case GAR_PARAM_DOUBLE:
        v->dval = strtod(text, &end);
        if (end == text || *end != '\0')
            return key_error(GAR_ERR_USAGE, at, spec->section, spec->key,
                             "'%s' is not a number", text);
        if (!isfinite(v->dval))
            return key_error(GAR_ERR_USAGE, at, spec->section, spec->key,
                             "'%s' is not a finite number", text);
        if (v->dval < spec->min || v->dval > spec->max) {
            range_text(range, sizeof range, spec->min, spec->max);
            return key_error(GAR_ERR_USAGE, at, spec->section, spec->key, "'%s' %s", text, range);
        }
        st = dup_string(&v->text, text);
        break;
    case GAR_PARAM_BOOL:
        if (!parse_bool(text, &v->bval))
            return key_error(GAR_ERR_USAGE, at, spec->section, spec->key,
                             "expected yes or no (true/false, on/off, 1/0), got '%s'", text);
        st = dup_string(&v->text, v->bval ? "yes" : "no");
        break;
    case GAR_PARAM_ENUM: {
        int found = 0;
        st = parse_choice(spec->choices, text, &v->text, &found);
        if (st == GAR_OK && !found)
            return key_error(GAR_ERR_USAGE, at, spec->section, spec->key,
                             "expected one of %s, got '%s'", spec->choices, text);
        break;
    }
    }
    return st;
}

/* Give schema row `idx` the value `text`, replacing any earlier one. */
static gar_status assign(gar_params *p, size_t idx, const char *text, const char *base_dir,
                         const loc *at)
{
    gar_status st;
    param_value nv;
    memset(&nv, 0, sizeof nv);
    st = parse_value(&schema[idx], text, base_dir, at, &nv);
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

/* Catch schema mistakes (made by whoever adds a key) on first use rather than
 * as odd behaviour later. */
static gar_status check_schema(void)
{
    for (size_t i = 0; schema[i].section != NULL; i++) {
        const gar_param_spec *s = &schema[i];
        if (s->key == NULL || s->key[0] == '\0' || s->section[0] == '\0' || s->doc == NULL)
            return gar_error(GAR_ERR_INTERNAL, "schema row %zu: empty section, key or doc", i);
        if ((s->type == GAR_PARAM_INT || s->type == GAR_PARAM_DOUBLE) && !(s->min < s->max))
            return gar_error(GAR_ERR_INTERNAL, "schema: [%s] %s: bounds [%g, %g] are empty",
                             s->section, s->key, s->min, s->max);
        if (s->type == GAR_PARAM_ENUM && (s->choices == NULL || s->choices[0] == '\0'))
            return gar_error(GAR_ERR_INTERNAL, "schema: [%s] %s: enum without choices",
                             s->section, s->key);
        for (size_t j = 0; j < i; j++)
            if (strcmp(schema[j].section, s->section) == 0 && strcmp(schema[j].key, s->key) == 0)
                return gar_error(GAR_ERR_INTERNAL, "schema: [%s] %s is declared twice",
                                 s->section, s->key);
    }
    return GAR_OK;
}

/* A new handle with every default applied; `base_dir` must be absolute. */
static gar_status create(const char *base_dir, const char *path, gar_params **out)
{
    gar_params *p = NULL;
    gar_status st;
    size_t n = schema_count();
    *out = NULL;
    st = check_schema();
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
        if (schema[i].default_value == NULL)
            continue;
        st = assign(p, i, schema[i].default_value, p->base_dir, &at);
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
    gar_status st = GAR_OK;
    char *cwd = NULL;
    char *abs = NULL;
    if (out == NULL)
        return gar_error(GAR_ERR_INTERNAL, "gar_params_create_empty: no output pointer");
    *out = NULL;
    if (base_dir == NULL || base_dir[0] != '/') {
        st = current_dir(&cwd);
        if (st != GAR_OK)
            goto done;
    }
    abs = base_dir == NULL ? strdup(cwd) : resolve(cwd != NULL ? cwd : "/", base_dir, 0);
    if (abs == NULL) {
        st = gar_error(GAR_ERR_NOMEM, "cannot allocate a path");
        goto done;
    }
    st = create(abs, "", out);
done:
    free(cwd);
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
        const gar_param_spec *home = spec_anywhere(key);
        hint[0] = '\0';
        if (home != NULL)
            snprintf(hint, sizeof hint, " (put it under '[%s]')", home->section);
        return gar_error(GAR_ERR_USAGE, "%s:%ld: %s: key before any [section] header%s", p->path,
                         c->lineno, key, hint);
    }
    if (!section_known(s)) {
        section_hint(hint, sizeof hint, &at, s, key);
        return gar_error(GAR_ERR_USAGE, "%s:%ld: [%s]: unknown section%s", p->path, c->lineno, s,
                         hint);
    }
    spec = find_spec(s, key, &idx);
    if (spec == NULL) {
        key_hint(hint, sizeof hint, &at, s, key);
        if (hint[0] == '\0') {
            snprintf(hint, sizeof hint, " (keys in [%s]: ", s);
            list_names(hint, sizeof hint - 1, s);
            strcat(hint, ")");
        }
        return key_error(GAR_ERR_USAGE, &at, s, key, "unknown key%s", hint);
    }
    if (p->values[idx].set)
        return key_error(GAR_ERR_USAGE, &at, s, key, "duplicate key (first set on line %ld)",
                         p->values[idx].line);
    c->last = idx;
    c->have_last = 1;
    return assign(p, idx, value, p->base_dir, &at);
}

static gar_status continue_key(load_ctx *c, const char *value)
{
    gar_params *p = c->p;
    const gar_param_spec *spec = &schema[c->last];
    loc at = {LOC_FILE, p->path, c->lineno};
    const char *eq = strchr(value, '=');
    if (spec->type != GAR_PARAM_PATH_LIST)
        return key_error(GAR_ERR_USAGE, &at, spec->section, spec->key,
                         "indented line continues this key, which takes one value (remove the "
                         "indentation to start a new key)");
    /* "   nonfinite = skip" under a list is almost surely a key that was
     * indented by mistake, not three more file names. */
    if (eq != NULL) {
        char word[INI_MAX_LINE];
        size_t n = (size_t)(eq - value);
        while (n > 0 && isspace((unsigned char)value[n - 1]))
            n--;
        snprintf(word, sizeof word, "%.*s", (int)n, value);
        if (spec_anywhere(word) != NULL)
            return key_error(GAR_ERR_USAGE, &at, spec->section, spec->key,
                             "'%s' is indented, so it would continue this list (remove the "
                             "indentation to start a new key)",
                             value);
    }
    drop_expansion(&p->values[c->last]);
    return append_tokens(&p->values[c->last], value, p->base_dir, c->lineno);
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
    st = create(base, name, &p);
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
        if (schema[i].type == GAR_PARAM_PATH_LIST && v->set && v->n_tokens == 0) {
            loc at = {LOC_FILE, p->path, v->line};
            st = key_error(GAR_ERR_USAGE, &at, schema[i].section, schema[i].key, "empty value");
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
    gar_status st = GAR_OK;
    char *cwd = NULL, *abs = NULL;
    load_ctx c;
    memset(&c, 0, sizeof c);
    if (out == NULL)
        return gar_error(GAR_ERR_INTERNAL, "gar_params_load_buffer: no output pointer");
    *out = NULL;
    if (text == NULL && len > 0)
        return gar_error(GAR_ERR_INTERNAL, "gar_params_load_buffer: no text");
    if (name == NULL || name[0] == '\0')
        name = "parameters";
    if (base_dir == NULL || base_dir[0] != '/') {
        st = current_dir(&cwd);
        if (st != GAR_OK)
            goto done;
    }
    abs = base_dir == NULL ? strdup(cwd) : resolve(cwd != NULL ? cwd : "/", base_dir, 0);
    if (abs == NULL) {
        st = gar_error(GAR_ERR_NOMEM, "cannot allocate a path");
        goto done;
    }
    c.text = len > 0 ? text : "";
    c.text_len = len;
    st = load_stream(&c, name, abs, out);
done:
    free(cwd);
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
        const gar_param_spec *home = spec_anywhere(lhs);
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
    if (!section_known(section)) {
        section_hint(hint, sizeof hint, &at, section, key);
        st = key_error(GAR_ERR_USAGE, &at, section, key, "unknown section '%s'%s", section, hint);
        goto done;
    }
    if (find_spec(section, key, &idx) == NULL) {
        key_hint(hint, sizeof hint, &at, section, key);
        st = key_error(GAR_ERR_USAGE, &at, section, key, "unknown key%s", hint);
        goto done;
    }
    if (value[0] == '\0') {
        st = key_error(GAR_ERR_USAGE, &at, section, key, "empty value");
        goto done;
    }
    if (!representable(value)) {
        st = key_error(GAR_ERR_USAGE, &at, section, key,
                       "'%s' holds a line break or a ';' after a space, which a parameter file "
                       "cannot hold",
                       value);
        goto done;
    }
    st = current_dir(&cwd);
    if (st != GAR_OK)
        goto done;
    st = assign(p, idx, value, cwd, &at);
done:
    free(lhs);
    free(value);
    free(cwd);
    return st;
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
    spec = find_spec(section, key, &idx);
    if (spec == NULL)
        return gar_error(GAR_ERR_INTERNAL, "[%s] %s: not a key in the parameter schema", section,
                         key);
    if (spec->type != want && !(want == GAR_PARAM_STRING && spec->type == GAR_PARAM_ENUM))
        return gar_error(GAR_ERR_INTERNAL, "[%s] %s: a %s key read as %s", section, key,
                         type_name(spec->type), type_name(want));
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

gar_status gar_params_get_string(const gar_params *p, const char *section, const char *key,
                                 const char **out)
{
    param_value *v;
    gar_status st = lookup(p, section, key, GAR_PARAM_STRING, &v);
    *out = st == GAR_OK ? v->text : NULL;
    return st;
}

gar_status gar_params_get_int(const gar_params *p, const char *section, const char *key,
                              long *out)
{
    param_value *v;
    gar_status st = lookup(p, section, key, GAR_PARAM_INT, &v);
    *out = st == GAR_OK ? v->ival : 0;
    return st;
}

gar_status gar_params_get_double(const gar_params *p, const char *section, const char *key,
                                 double *out)
{
    param_value *v;
    gar_status st = lookup(p, section, key, GAR_PARAM_DOUBLE, &v);
    *out = st == GAR_OK ? v->dval : 0.0;
    return st;
}

gar_status gar_params_get_bool(const gar_params *p, const char *section, const char *key,
                               int *out)
{
    param_value *v;
    gar_status st = lookup(p, section, key, GAR_PARAM_BOOL, &v);
    *out = st == GAR_OK ? v->bval : 0;
    return st;
}

gar_status gar_params_get_path(const gar_params *p, const char *section, const char *key,
                               const char **out)
{
    param_value *v;
    gar_status st = lookup(p, section, key, GAR_PARAM_PATH, &v);
    *out = st == GAR_OK ? v->text : NULL;
    return st;
}

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
            return key_error(GAR_ERR_NOINPUT, &at, spec->section, spec->key,
                             "'%s' does not exist (looked for %s)", v->tokens[t], path);
        return key_error(GAR_ERR_NOINPUT, &at, spec->section, spec->key, "'%s': %s", path,
                         strerror(errno));
    }
    if (S_ISDIR(sb.st_mode))
        return key_error(GAR_ERR_USAGE, &at, spec->section, spec->key,
                         "'%s' is a directory, expected an HDF5 stack file", path);
    if (access(path, R_OK) != 0)
        return key_error(GAR_ERR_NOINPUT, &at, spec->section, spec->key, "'%s' cannot be read: %s",
                         path, strerror(errno));
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
            st = key_error(GAR_ERR_USAGE, &at, spec->section, spec->key,
                           "'%s' is listed twice (by '%s' and '%s')", x->paths[b->pos],
                           v->tokens[a->token], v->tokens[b->token]);
        else
            st = key_error(GAR_ERR_USAGE, &at, spec->section, spec->key,
                           "'%s' and '%s' are the same file (listed by '%s' and '%s')",
                           x->paths[a->pos], x->paths[b->pos], v->tokens[a->token],
                           v->tokens[b->token]);
        goto done;
    }
done:
    free(ids);
    return st;
}

static gar_status expand(const gar_params *p, const gar_param_spec *spec, param_value *v)
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
            st = key_error(GAR_ERR_NOINPUT, &at, spec->section, spec->key,
                           "'%s' matches no file (looked for %s)", v->tokens[t], v->patterns[t]);
            goto done;
        }
        if (rc != 0) {
            st = key_error(rc == GLOB_NOSPACE ? GAR_ERR_NOMEM : GAR_ERR_NOINPUT, &at,
                           spec->section, spec->key, "cannot expand '%s': %s", v->tokens[t],
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
    free_strings(x.paths, x.n);
    free(x.ids);
    return st;
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
        st = expand(p, find_spec(section, key, NULL), v);
        if (st != GAR_OK)
            return st;
    }
    *out = (const char *const *)v->expanded;
    *count = v->n_expanded;
    return GAR_OK;
}

int gar_params_is_set(const gar_params *p, const char *section, const char *key)
{
    size_t idx = 0;
    if (p == NULL || section == NULL || key == NULL || find_spec(section, key, &idx) == NULL)
        return 0;
    return p->values[idx].set;
}

const char *gar_params_origin(const gar_params *p, const char *section, const char *key)
{
    size_t idx = 0;
    if (p == NULL || section == NULL || key == NULL || find_spec(section, key, &idx) == NULL)
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
        const param_value *v = &p->values[i];
        size_t klen = strlen(schema[i].key);
        if (!v->set) {
            /* comment lines count against the line limit too */
            if (schema[i].default_value != NULL) {
                st = check_line(&schema[i], klen + strlen(schema[i].default_value) + 18);
                if (st != GAR_OK)
                    goto done;
            }
            continue;
        }
        if (schema[i].type != GAR_PARAM_PATH_LIST) {
            st = check_line(&schema[i], klen + 3 + strlen(v->text));
            if (st != GAR_OK)
                goto done;
            continue;
        }
        if (v->n_tokens == 0) {
            st = gar_error(GAR_ERR_INTERNAL, "[%s] %s: given as an empty list", schema[i].section,
                           schema[i].key);
            goto done;
        }
        for (size_t t = 0; t < v->n_tokens;) {
            size_t end = list_line_end(v, t), len = t == 0 ? klen + 3 : 4;
            for (size_t k = t; k <= end; k++)
                len += strlen(v->patterns[k]) + (k > t);
            st = check_line(&schema[i], len);
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
        const gar_param_spec *spec = &schema[i];
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
