/* garner: an output folder that appears complete or not at all, written by
 * one run at a time.
 *
 * Results are written into a sibling "<dir>.partial-<pid>" folder and put in
 * place as a whole by gar_outdir_commit(): a new (or empty) folder by one
 * rename; an existing one, allowed only with overwrite, by swapping the two
 * folders (gar_outdir_publish), so the name holds the old results or the new
 * ones, never a mix. On failure gar_outdir_abort() removes the partial
 * folder, so an interrupted or failed run leaves nothing half-written under
 * the user's folder name.
 *
 * From begin (or attach) to commit or abort the run holds an exclusive
 * flock(2) on "<dir>.lock", which names its host and pid: a second run into
 * the same folder is refused at once, naming them, rather than replacing
 * the first run's files. The kernel drops the lock when the process dies
 * (kill -9), so a stale lock file never blocks a later run.
 *
 * Test hook: GARNER_TEST_FAIL_SWAP=1 makes the swap's second rename (the
 * new folder into place) fail, to test that the old folder is put back;
 * leave it unset in production. */
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
 * ("run.ini:4: [output] dir"). The parent folder is created if missing.
 * Takes the lock first: GAR_ERR_OUTPUT, naming the holder, when another run
 * holds it. Does not block. */
gar_status gar_outdir_begin(const char *dir, int overwrite, const char *const *inputs,
                            size_t n_inputs, const char *what, gar_outdir **out);
/* Take the lock of an existing folder that the run writes into directly
 * (refine --continue): no partial folder; commit and abort only let go. */
gar_status gar_outdir_attach(const char *dir, const char *what, gar_outdir **out);
/* Where files go now: the partial folder, or after publish (or attach) the
 * final one. */
const char *gar_outdir_current(const gar_outdir *o);
/* Path of a file inside gar_outdir_current (owned by o; valid until the next call). */
const char *gar_outdir_file(gar_outdir *o, const char *name);
/* The final folder's path. */
const char *gar_outdir_final(const gar_outdir *o);
/* Put the partial folder in place now and keep the lock (refine, whose
 * later iterations go into the final folder): a missing or empty folder
 * renamed over; with overwrite, an existing one swapped (renameat2
 * RENAME_EXCHANGE where the filesystem has it, else old aside, new in, old
 * back on failure) and the old results removed. Without overwrite a folder
 * that filled meanwhile is refused. On failure the final folder is as it
 * was and o stays usable for abort. Does nothing once done. */
gar_status gar_outdir_publish(gar_outdir *o);
/* Publish, then let go of the lock and free o (*o = NULL); on failure
 * aborts. */
gar_status gar_outdir_commit(gar_outdir **o);
/* Remove the partial folder unless published, let go of the lock, free o;
 * NULL-safe. */
void gar_outdir_abort(gar_outdir **o);

#ifdef __cplusplus
}
#endif
#endif
