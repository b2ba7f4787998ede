/* garner: what the files of the parameter module share (private to
 * src/gar_params*.c; users include gar_params.h).
 *
 *   gar_params_schema.c    the table of keys (types, defaults, bounds, docs)
 *                          and lookups in it
 *   gar_params.c           the handle and its values: parsing a value,
 *                          typed getters, writing the effective parameters
 *   gar_params_load.c      the file syntax (inih with our own line reader)
 *                          and --set
 *   gar_params_suggest.c   "did you mean ...?" for unknown keys and sections
 *   gar_params_glob.c      paths: resolution against the file's folder, and
 *                          the expansion of path lists (globs, duplicates) */
#ifndef GAR_PARAMS_IMPL_H
#define GAR_PARAMS_IMPL_H

#include <stddef.h>
#include "gar_params.h"

/* The largest parameter file read: every key with long path lists fits in
 * a few kB; a larger file is the wrong file. */
#define GAR_PARAMS_MAX_FILE_BYTES (1 << 20)

/* ------------------------------------------------------------------ schema */

/* Every key, terminated by a row with section == NULL (gar_params_schema.c). */
extern const gar_param_spec gar_params_table[];

/* Rows in the table. */
size_t gar_params_count(void);
/* "integer", "path list", ... for messages. */
const char *gar_params_type_name(gar_param_type t);
/* The row of [section] key and its index (if `index` is not NULL); NULL if none. */
const gar_param_spec *gar_params_find(const char *section, const char *key, size_t *index);
/* The row of a key in any section, when exactly that key exists somewhere. */
const gar_param_spec *gar_params_find_key(const char *key);
/* Whether any row has this section. */
int gar_params_section_known(const char *section);
/* GAR_ERR_INTERNAL for a malformed table (empty names, empty bounds, an enum
 * without choices, a key declared twice). */
gar_status gar_params_check_schema(void);

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

/* Where a value came from, for the message prefix. */
typedef enum loc_kind { LOC_FILE, LOC_SET, LOC_DEFAULT } loc_kind;

typedef struct loc {
    loc_kind kind;
    const char *file;   /* LOC_FILE: the parameter file as given */
    long line;
} loc;

/* Free the first n strings of v, and v; NULL-safe. */
void gar_params_free_strings(char **v, size_t n);
/* Forget a path list's expansion (its tokens changed). */
void gar_params_drop_expansion(param_value *v);
/* gar_error(st, ...) with the prefix of the location:
 * "run.ini:7: [output] dir: ", "--set output.dir: " or "[output] dir (default): ". */
gar_status gar_params_key_error(gar_status st, const loc *at, const char *section, const char *key,
                                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Split `text` at whitespace not escaped with '\' and append each token,
 * with its absolute pattern, to the list in v. */
gar_status gar_params_append_tokens(param_value *v, const char *text, const char *base_dir,
                                    long line);
/* Give schema row `idx` the value `text`, replacing any earlier one. */
gar_status gar_params_assign(gar_params *p, size_t idx, const char *text, const char *base_dir,
                             const loc *at);
/* A new handle with every default applied; `base_dir` must be absolute. */
gar_status gar_params_create(const char *base_dir, const char *path, gar_params **out);

/* ------------------------------------------------------------------ suggestions */

/* " (did you mean '[output] dir'?)" in the style of the location, or "". */
void gar_params_key_hint(char *buf, size_t size, const loc *at, const char *section,
                         const char *key);
/* The same for an unknown section: the closest section, the section where
 * `key` belongs, or the list of sections. */
void gar_params_section_hint(char *buf, size_t size, const loc *at, const char *section,
                             const char *key);
/* Append "[input], [output]" (every section once, section NULL) or
 * "dir, overwrite" (the keys of `section`) to buf. */
void gar_params_list_names(char *buf, size_t size, const char *section);

/* ------------------------------------------------------------------ paths */

/* `rel` resolved against the absolute folder `base`; for glob patterns
 * (as_pattern) the folder's own glob characters are escaped. NULL when out
 * of memory. */
char *gar_params_resolve(const char *base, const char *rel, int as_pattern);
/* The current folder (malloc'd) into *out. */
gar_status gar_params_cwd(char **out);
/* `dir` made absolute against the current folder (NULL: the current folder
 * itself), malloc'd into *out. */
gar_status gar_params_abs_dir(const char *dir, char **out);
/* Expand the path list v of `spec` into v->expanded: globs sorted, every
 * file readable, no file twice. */
gar_status gar_params_expand(const gar_params *p, const gar_param_spec *spec, param_value *v);

#endif
