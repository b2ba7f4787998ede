/* garner: the partial volumes of a parallel run, summed on rank 0.
 *
 * Every rank of a reconstruct or refine run has a gar_recon; workers insert
 * the shards they are handed, and the sums meet on rank 0. Rank 0 hands a
 * shard to whichever worker asks first, so with two or more workers the split
 * of shards between them, and with it the order of float sums, changes from
 * run to run. With exact sums ([mpi] reproducible = yes and two or more
 * workers) a worker, after every shard, folds its float sums into a
 * fixed-point accumulator (gar_exactsum) and zeroes them, and the
 * accumulators are summed in integers on rank 0, which rounds the total to
 * float once. Each shard's own float sum starts from zero and takes its
 * particles in order, so the map no longer depends on who took which shard.
 * One process, or one worker, sums the shards in the same order every run:
 * there float sums are repeatable and no accumulator is kept.
 *
 * Works on a reconstructor's partial view (gar_recon_partial_view): it never
 * sees the reconstructor itself. Collective calls are over MPI_COMM_WORLD. */
#ifndef GAR_PARTIALS_H
#define GAR_PARTIALS_H

#include <stddef.h>
#include "gar_recon.h"
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_partials gar_partials;

/* Whether a run of `size` ranks sums exactly: reproducible asked for, and
 * two or more workers. */
int gar_partials_exact(int reproducible, int size);

/* Bytes `rank` holds for the reduction beyond its gar_recon, for volumes of
 * nvox voxels: with exact sums, the accumulator on a worker (16 bytes for
 * each of the 6 floats of a voxel: data and weight of both half sets) and a
 * buffer of limbs of at most chunk_bytes on every rank; with float sums and
 * `reduces` (gar_partials_reduce is called: under MPI, and in every refine),
 * the reduction's buffer of doubles, at most chunk_bytes. */
size_t gar_partials_memory_bytes(size_t nvox, int exact, size_t chunk_bytes, int rank, int reduces);

/* For volumes of nvox voxels; reductions in calls of at most chunk_bytes;
 * `threads` convert to and from the fixed-point form. Rank 0 inserts
 * nothing: its sums (a resumed checkpoint's) enter the reduction as floats,
 * and it keeps no accumulator. */
gar_status gar_partials_create(size_t nvox, int exact, size_t chunk_bytes, int threads, int rank,
                               gar_partials **out);
void gar_partials_destroy(gar_partials **p);   /* NULL-safe */

/* A worker, after each shard: with exact sums, add the view's sums into the
 * accumulator and zero them (the counts stay); otherwise nothing. */
gar_status gar_partials_fold(gar_partials *p, const gar_recon_partial *view);

/* Collective: the sums and counts of every rank's view summed into rank 0's,
 * and extra[0 .. n_extra) (n_extra <= 6) summed into rank 0's extra. Other
 * ranks keep theirs. */
gar_status gar_partials_reduce(gar_partials *p, gar_recon_partial *view, double *extra, size_t n_extra);

/* The accumulator back to zero (a worker, once rank 0 holds the sums in a
 * checkpoint; it resets its reconstructor beside). */
void gar_partials_clear(gar_partials *p);

#ifdef __cplusplus
}
#endif
#endif
