/* garner: checkpoints of a reconstruction in progress.
 *
 * One HDF5 file beside the output folder, "<dir>.checkpoint.h5": the summed
 * data and weight volumes of both half sets so far, the particle counts, and
 * which shards are done, with the run's shape (box, padded size, shard size
 * and count, particles) so that a resume with different inputs or settings is
 * refused, and the run's fingerprint (src/run/run_fprint.h: the settings
 * and stacks that shape the result), which the run compares before it
 * loads the rest. Written under a temporary name and renamed, so an
 * interrupted write leaves the previous checkpoint in place and is never
 * loaded. */
#ifndef GAR_CHECKPOINT_H
#define GAR_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_checkpoint {
    /* shape: must match on resume */
    uint64_t box, padded, shard_size, n_shards, particles;
    /* state */
    uint64_t count[2], skipped;
    unsigned char *done;          /* n_shards flags */
    size_t nvox;                  /* entries of each weight volume; data has 2 × nvox floats */
    float *G[2], *W[2];           /* borrowed on save, owned by the caller on load */
    const char *fingerprint;      /* saved (borrowed); not read by gar_checkpoint_load */
} gar_checkpoint;

gar_status gar_checkpoint_save(const char *path, const gar_checkpoint *c);
/* Load into c: the shape fields must be set by the caller and are compared
 * with the file's (a mismatch is GAR_ERR_DATA naming the field); G, W and done
 * must point at caller buffers of the right sizes. A missing file is
 * GAR_ERR_NOINPUT. */
gar_status gar_checkpoint_load(const char *path, gar_checkpoint *c);
/* The shard size a checkpoint was written with, or 0 when the file is
 * missing or unreadable (gar_checkpoint_load then says why). A resume that
 * leaves the shard size to its default takes the checkpoint's, so that it
 * does not depend on how the shard size was chosen when it was written. */
uint64_t gar_checkpoint_shard_size(const char *path);
/* The fingerprint stored in the checkpoint at path into *out (malloc'd, the
 * caller frees). A checkpoint of an older garner is GAR_ERR_DATA saying
 * so: format version 1 had no fingerprint, so it cannot be checked against
 * the run; version 2 held its sums in FFTW's whole layout, before the stored
 * sphere (src/gar_sphere.h). Neither is resumed. A missing file is
 * GAR_ERR_NOINPUT. */
gar_status gar_checkpoint_fingerprint(const char *path, char **out);

#ifdef __cplusplus
}
#endif
#endif
