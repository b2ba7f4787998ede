/* garner: run parameter files (INI, read with inih), one per run.
 *
 *   [input]
 *   stacks = data/run*.h5 more/extra.h5   ; list (whitespace or newline separated) or globs
 *   [output]
 *   dir = run1
 *
 * Every key is declared in one schema table (gar_params_schema.c) with its type,
 * default, bounds and a one-line doc; docs/PARAMETERS.md documents the same
 * keys and a test checks the two agree. Loading checks every key as it is
 * read: an unknown section or key, a duplicate key, a value of the wrong type
 * or out of range is GAR_ERR_USAGE with a one-line message naming the file,
 * line and key, and for unknown keys the closest valid key:
 *   "run.ini:7: [reconstruct] blob_radious: unknown key (did you mean 'blob_radius'?)"
 * Relative paths in values are resolved against the parameter file's folder. */
#ifndef GAR_PARAMS_H
#define GAR_PARAMS_H

#include <stddef.h>
#include <stdio.h>
#include <garner/params.h>
#include "gar_settings.h"
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gar_param_type {
    GAR_PARAM_STRING,
    GAR_PARAM_PATH,       /* one path, resolved against the file's folder */
    GAR_PARAM_PATH_LIST,  /* paths or globs, expanded (sorted within a glob) */
    GAR_PARAM_INT,
    GAR_PARAM_DOUBLE,
    GAR_PARAM_BOOL,       /* yes/no, true/false, on/off, 1/0 */
    GAR_PARAM_ENUM        /* one of a '|'-separated list */
} gar_param_type;

typedef struct gar_param_spec {
    const char *section;
    const char *key;
    gar_param_type type;
    const char *default_value;   /* NULL: required when the command needs it */
    double min, max;             /* bounds for INT/DOUBLE (inclusive) */
    const char *choices;         /* ENUM: "error|skip", in the order of the C enum it stands for */
    const char *doc;             /* one line for docs/PARAMETERS.md */
    size_t field;                /* the gar_settings field it fills: GAR_FIELD(section.key) (gar_settings.h);
                                  * long for INT, double for DOUBLE, int for BOOL and ENUM (the choice's
                                  * index), const char * for STRING and PATH, const char *const * for
                                  * PATH_LIST with its count in count_field (size_t) */
    size_t count_field;
} gar_param_spec;

/* The schema, terminated by an entry with section == NULL. */
const gar_param_spec *gar_params_schema(void);

/* The handle, loading, --set and destroy: <garner/params.h>. */

/* Whether the key was given (file or --set) rather than defaulted. */
int gar_params_is_set(const gar_params *p, const char *section, const char *key);
/* Typed getters; the value is the one given or the schema default. Asking for a
 * key not in the schema is GAR_ERR_INTERNAL. A required key with no value is
 * GAR_ERR_USAGE ("run.ini: [output] dir: required key missing"). */
gar_status gar_params_get_string(const gar_params *p, const char *section, const char *key,
                                 const char **out);
gar_status gar_params_get_int(const gar_params *p, const char *section, const char *key,
                              long *out);
gar_status gar_params_get_double(const gar_params *p, const char *section, const char *key,
                                 double *out);
gar_status gar_params_get_bool(const gar_params *p, const char *section, const char *key,
                               int *out);
/* PATH: absolute or resolved path (owned by p). */
gar_status gar_params_get_path(const gar_params *p, const char *section, const char *key,
                               const char **out);
/* PATH_LIST: expanded paths (owned by p). A glob that matches nothing, or a
 * listed file that does not exist, is GAR_ERR_NOINPUT naming the pattern. */
gar_status gar_params_get_path_list(const gar_params *p, const char *section, const char *key,
                                    const char *const **out, size_t *count);
/* Where the value came from, for messages: "run.ini:7", "--set", or "default". */
const char *gar_params_origin(const gar_params *p, const char *section, const char *key);
/* The parameter file's path ("" for an empty set). */
const char *gar_params_path(const gar_params *p);

/* Write the effective parameters (every schema key with its value, given ones
 * and defaults, defaults commented) as an INI file that loads back to the same
 * values. */
gar_status gar_params_write(const gar_params *p, FILE *f);

/* A template of every key of the listed sections (NULL-terminated), in the
 * schema's order: for each, its doc line and type (wrapped comments), then
 * "; key = default" (or "; key = ; no default"), all commented, so the file
 * loads as the defaults and a user uncomments what to change. `intro` (may
 * be NULL) is written first, as is. The schema is the one source: what this
 * writes cannot drift from what the loader takes. */
gar_status gar_params_write_template(FILE *f, const char *intro, const char *const *sections);

/* The word of `choices` (n of them) closest to `typed` by the edit distance
 * used for keys, when close enough to be a typo; NULL otherwise. */
const char *gar_params_suggest_word(const char *typed, const char *const *choices, size_t n);

/* Edit distance based suggestion; exposed for tests. Returns NULL if nothing is close. */
const char *gar_params_suggest_key(const char *section, const char *key);

/* Every key's typed value into *out (gar_settings.h): defaults and given
 * values; a key without a value (a required key not given, an unset
 * optional path) is 0 or NULL there, and gar_params_require names it.
 * Path lists are expanded here: a glob that matches nothing or an
 * unreadable file fails, naming the key. The strings belong to p. */
gar_status gar_params_settings(const gar_params *p, gar_settings *out);
/* GAR_OK if [section] key has a value; else the "required key missing"
 * error naming it (what a command that needs the key returns). */
gar_status gar_params_require(const gar_params *p, const char *section, const char *key);

#ifdef __cplusplus
}
#endif
#endif
