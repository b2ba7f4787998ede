/* garner: a run's fingerprint, what --resume and --continue check before
 * they go on from another run's state (docs/RELIABILITY.md, "What --resume
 * and --continue check").
 *
 * The fingerprint is canonical text, one "KEY = VALUE" line each: the code
 * version, every setting that shapes the result, and for each stack its
 * path, size, modification time and a digest of its metadata (the particle
 * columns and the optics table; the images are not read). It is stored as
 * text, not as a hash, so that a refusal can name the setting or the stack
 * that differs. */
#ifndef GAR_RUN_FPRINT_H
#define GAR_RUN_FPRINT_H

#include <stddef.h>
#include "gar_params.h"
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum run_fprint_kind {
    RUN_FPRINT_RECONSTRUCT,   /* [input] and [reconstruct] keys */
    RUN_FPRINT_REFINE         /* those and [refine], less the schedule (run_fprint.c) */
} run_fprint_kind;

/* The fingerprint of a run of `kind` with parameters p into *out
 * (malloc'd, the caller frees). Opens each stack of [input] stacks anew and
 * reads its metadata. */
gar_status run_fprint_build(const gar_params *p, run_fprint_kind kind, char **out);
/* Only the stack lines of the fingerprint (for the check at the end of a
 * run, compared with run_fprint_compare against the full text). */
gar_status run_fprint_stacks(const gar_params *p, char **out);
/* GAR_OK if every line of `here` matches the line of the same key in
 * `stored` and neither holds a key the other lacks; else GAR_ERR_DATA
 * naming the first that differs: "<what>: [reconstruct] ctf = no here,
 * yes in <where><advice>", or for a stack "<what>: stack /d/s.h5: stack 1
 * metadata = ...". With subset set, keys of `stored` missing from `here`
 * are not compared. */
gar_status run_fprint_compare(const char *here, const char *stored, int subset, const char *what,
                              const char *where, const char *advice);

#ifdef __cplusplus
}
#endif
#endif
