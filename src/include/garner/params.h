/* garner public API: a run's parameters, as a parameter file holds them
 * (docs/PARAMETERS.md lists every key). Load a file, apply overrides, hand
 * the set to a run (<garner/refine.h>), destroy it. */
#ifndef GARNER_PARAMS_H
#define GARNER_PARAMS_H

#include <stddef.h>
#include <garner/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_params gar_params;

/* Parse and validate a file. A missing file is GAR_ERR_NOINPUT naming it. */
gar_status gar_params_load(const char *path, gar_params **out);
/* The same from text in memory: `len` bytes (a NUL byte is an error, as in a
 * file), `name` stands for the file in messages, and relative paths resolve
 * against `base_dir` (relative to the current folder; NULL: the current
 * folder). gar_params_load reads the file through the same parser. */
gar_status gar_params_load_buffer(const char *text, size_t len, const char *name,
                                  const char *base_dir, gar_params **out);
/* An empty parameter set (all defaults); paths resolve against `base_dir`. */
gar_status gar_params_create_empty(const char *base_dir, gar_params **out);
/* Apply one "section.key=value" override (from --set), validated like a file line
 * (messages name "--set" instead of file:line). Relative paths resolve against cwd. */
gar_status gar_params_set(gar_params *p, const char *assignment);
void gar_params_destroy(gar_params **p);   /* NULL-safe */

#ifdef __cplusplus
}
#endif
#endif
