/* garner: an output folder that appears complete or not at all.
 *
 * Results are written into a sibling "<dir>.partial-<pid>" folder and moved
 * into place by gar_outdir_commit(): a new folder by one rename, an existing one
 * (allowed only with overwrite, or when empty) file by file. On failure
 * gar_outdir_abort() removes the partial folder, so an interrupted or failed
 * run leaves nothing half-written under the user's folder name. */
#ifndef GAR_OUTDIR_H
#define GAR_OUTDIR_H

#include <stddef.h>
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_outdir gar_outdir;

/* Check and prepare: `dir` must not be an existing non-directory, must not be
 * a non-empty folder unless `overwrite`, and must not be one of `inputs`
 * (the run's input files). `what` names the setting for messages
 * ("run.ini:4: [output] dir"). The parent folder is created if missing. */
gar_status gar_outdir_begin(const char *dir, int overwrite, const char *const *inputs,
                            size_t n_inputs, const char *what, gar_outdir **out);
/* Path of a file inside the partial folder (owned by o; valid until the next call). */
const char *gar_outdir_file(gar_outdir *o, const char *name);
/* The final folder's path. */
const char *gar_outdir_final(const gar_outdir *o);
gar_status gar_outdir_commit(gar_outdir **o);
void gar_outdir_abort(gar_outdir **o);   /* NULL-safe */

#ifdef __cplusplus
}
#endif
#endif
