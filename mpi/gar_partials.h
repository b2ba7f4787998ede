/* garner: the partial volumes of a parallel run, summed on rank 0.
 *
 * Every rank of a reconstruct or refine run has a gar_recon; workers insert
 * the shards they are handed, and the sums meet on rank 0. Rank 0 hands a
 * shard to whichever worker asks first, so with two or more workers the split
 * of shards between them, and with it the order of float sums, changes from
 * run to run. With exact sums ([mpi] reproducible = yes under MPI, one
 * worker or more) a worker's reconstructor holds fixed-point sums (cfg.fixed_sums,
 * src/gar_fixedsum.h): each particle's contribution to a voxel is rounded
 * to a multiple of a quantum every rank sizes alike, and added as an
 * integer, so its sums are the same whichever shards it took, in whatever
 * order. The workers' integers are summed on rank 0, which rounds the
 * total to float once: the map no longer depends on who took which shard.
 * One worker needs no exact sums to be repeatable, but has them all the
 * same, so that P = 2 gives the bits of P = 3 and more. One process sums
 * the shards in the same order every run, in floats: repeatable, and
 * within 1e-6 of the others (at half a worker's memory).
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

/* Whether a run of `size` ranks sums exactly: reproducible asked for, under
 * MPI (one worker or more). */
int gar_partials_exact(int reproducible, int size);

/* Bytes `rank` holds for the reduction beyond its gar_recon, for volumes of
 * nvox voxels: with exact sums, rank 0's buffer of int64 (at most
 * chunk_bytes; the workers send from their volumes); with float sums and
 * `reduces` (gar_partials_reduce is called: under MPI, and in every
 * refine), the reduction's buffer of doubles, at most chunk_bytes. A
 * worker's fixed-point volumes themselves are its gar_recon's
 * (gar_recon_insert_memory_bytes with cfg.fixed_sums). */
size_t gar_partials_memory_bytes(size_t nvox, int exact, size_t chunk_bytes, int rank, int reduces);

/* For volumes of nvox voxels; reductions in calls of at most chunk_bytes;
 * `threads` convert to and from fixed point. */
gar_status gar_partials_create(size_t nvox, int exact, size_t chunk_bytes, int threads, int rank,
                               gar_partials **out);
void gar_partials_destroy(gar_partials **p);   /* NULL-safe */

/* With exact sums, every rank before a pass: the quanta (the same on every
 * rank; a worker gives them to its reconstructor too). */
void gar_partials_set_fixed_scale(gar_partials *p, const gar_fixed_scale *fs);

/* Collective: the sums and counts of every rank's view summed into rank 0's,
 * and extra[0 .. n_extra) (n_extra <= 6) summed into rank 0's extra. Other
 * ranks keep theirs. */
gar_status gar_partials_reduce(gar_partials *p, gar_recon_partial *view, double *extra, size_t n_extra);

#ifdef __cplusplus
}
#endif
#endif
