/* garner: the MPI layer: process start-up, the master/worker shard scheduler
 * and the chunked reduction of partial volumes. The only part of garner
 * compiled with MPICH's flags; src/ never includes mpi.h, and this header
 * exposes no MPI types (all calls are over MPI_COMM_WORLD). */
#ifndef GAR_MPI_H
#define GAR_MPI_H

#include <stddef.h>
#include <stdint.h>
#include "gar_exactsum.h"
#include "gar_fixedsum.h"
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The MPI library's own version line (first line of MPI_Get_library_version),
 * callable before MPI_Init. */
void gar_mpi_describe(char *buf, size_t len);

/* MPI_Init_thread (funneled) if not yet initialised; rank and size out. */
gar_status gar_mpi_start(int *argc, char ***argv, int *rank, int *size);
void gar_mpi_stop(void);

/* Broadcast an int from root. Collective. */
int gar_mpi_bcast_int(int value, int root);

/* Collective: the sum and the largest of `mine` over the ranks that share
 * this rank's node (MPI_Comm_split_type, MPI_COMM_TYPE_SHARED), and their
 * number. With one rank, or MPI not running: mine, mine, 1, without
 * communication. For the memory preflight: ranks on one node share its
 * memory and its cgroup. */
gar_status gar_mpi_node_sum(double mine, double *sum, double *largest, int *ranks);

/* Broadcast n bytes from root (in calls of at most 1 GiB). Collective. */
gar_status gar_mpi_bcast_bytes(void *buf, size_t n, int root);
/* gar_mpi_agree for a command: every rank gets the status of the lowest
 * failing rank, whose message rank 0 then holds to report once. size 1: local.
 * Collective. */
gar_status gar_mpi_agree_report(gar_status local, int size);
/* Collective: on rank 0, buf receives "0: PID@HOST, 1: PID@HOST, ..." for
 * every rank (so a launcher's report of a dead PID names the rank); on other
 * ranks buf is "". */
void gar_mpi_rank_map(char *buf, size_t len);

/* Bytes per entry of gar_mpi_gather_lines. */
#define GAR_MPI_LINE 256
/* Collective: every rank's `line` (cut to GAR_MPI_LINE − 1 bytes) to rank 0,
 * where *all receives `size` entries of GAR_MPI_LINE bytes, rank r's at
 * r·GAR_MPI_LINE, each NUL-terminated; the caller frees it. On other ranks
 * *all is NULL. GAR_ERR_NOMEM (rank 0 only; nothing is gathered then). */
gar_status gar_mpi_gather_lines(const char *line, char **all);

/* This rank's place on its node, for binding it to GPUs: its rank among the
 * node's ranks (MPI_Comm_split_type with MPI_COMM_TYPE_SHARED, keyed by world
 * rank) and their number, and its index among the node's workers and their
 * number. Rank 0 of a run of two or more ranks is the master (worker 0 of 0)
 * and, keyed by world rank, local rank 0 of its node, so that node's workers
 * are its other ranks. Collective over MPI_COMM_WORLD when it has two ranks
 * or more; with one rank, or MPI not running, 0 of 1 throughout, without
 * communication. */
typedef struct gar_mpi_place {
    int local_rank, local_size;
    int worker, workers;
} gar_mpi_place;
gar_status gar_mpi_node_place(gar_mpi_place *place);

/* Element-wise sum of `count` doubles from every rank into `out` on `root`,
 * in calls of at most `chunk_bytes` each (and never more than INT_MAX
 * elements), so a volume of any size reduces without overflowing MPI's int
 * counts and without a second full-size buffer. `out` may be NULL on other
 * ranks; `in` and `out` may be the same buffer on root (MPI_IN_PLACE).
 * Collective.
 *
 * Cost (MPICH's binomial-tree MPI_Reduce for large messages uses a
 * reduce-scatter + gather, Rabenseifner): for n bytes on P ranks about
 * 2·n·(P−1)/P bytes cross each rank's link, in ⌈n/chunk⌉ calls of
 * 2·log2(P) steps; chunking adds only the per-call latency. */
gar_status gar_mpi_reduce_sum(const double *in, double *out, size_t count, int root,
                              size_t chunk_bytes);

/* The same for a float array, summed in double precision: each chunk is
 * widened to double, reduced, and narrowed back on root (in place there).
 * `data` is read on every rank and written only on root. Collective. */
gar_status gar_mpi_reduce_float_sum(float *data, size_t count, int root, size_t chunk_bytes);

/* Exact element-wise sum of `count` values over every rank into x on root,
 * rounded once, to the nearest float (gar_exactsum.h): the result does not
 * depend on how the terms were spread over the ranks or in what order each
 * rank added its own. Each rank contributes values [offset, offset + count)
 * of its accumulator `acc` (NULL: none) plus x[0 .. count) (NULL: none); x is
 * read on every rank that passes it and written only on root, where it must
 * not be NULL. Collective; every rank passes the same count, offset, root and
 * chunk_bytes. `threads` OpenMP threads convert to and from limbs.
 *
 * In calls of at most `chunk_bytes` of limbs (24 bytes a value, never more
 * than INT_MAX limbs) with MPI_Reduce(MPI_INT64_T, MPI_SUM); before each call
 * the ranks agree that every rank's values are in range, so a value that is
 * not (NaN, infinity, beyond 2^62) fails every rank, with the failing rank's
 * message on rank 0 as gar_mpi_agree_report leaves it. Cost as for
 * gar_mpi_reduce_sum, with 3·count int64 in place of count doubles. */
gar_status gar_mpi_reduce_exact(const gar_exactsum *acc, size_t offset, float *x, size_t count, int root,
                                size_t chunk_bytes, int threads);

/* Exact sums (src/gar_fixedsum.h): on root x[i] = the float of the
 * fixed-point sum, over every rank, of mine[i] (the workers' fixed-point
 * sums; NULL on root) and root's own x[i] quantised with quantum 2^e (a
 * resumed checkpoint's floats; zeros otherwise). Integer sums: the result
 * is the same for any rank count and grouping. Collective; every rank
 * passes the same count, e, root and chunk_bytes.
 *
 * In calls of at most `chunk_bytes` of int64 (8 bytes a value, never more
 * than INT_MAX values) with MPI_Reduce(MPI_INT64_T, MPI_SUM); before each
 * call the ranks agree that root's floats were in range (GAR_ERR_DATA on
 * every rank if not). Workers send from `mine` itself: only root holds a
 * buffer. `threads` OpenMP threads convert. */
gar_status gar_mpi_reduce_fixed(const int64_t *mine, float *x, size_t count, int e, int root, size_t chunk_bytes,
                                int threads);

/* Collective: every rank's n_rows rows of row_bytes bytes each to root,
 * where *all receives them all, rank by rank in rank order, and *n_all their
 * number; the caller frees *all (NULL when there are none). On other ranks
 * *all is NULL and *n_all 0. For results that each rank computed for a few
 * items of a list (refine's poses: index and pose), in place of a sum over
 * a whole list. Rows per rank and in all at most INT_MAX. */
gar_status gar_mpi_gather_rows(const void *rows, size_t n_rows, size_t row_bytes, int root, void **all,
                               size_t *n_all);

/* Every rank passes its own status; all get back the status of the lowest
 * rank that failed (GAR_OK if none) and that rank in *first (-1 if none).
 * Collective. */
gar_status gar_mpi_agree(gar_status local, int *first);
/* Send this rank's current error message to root, which gets it back as its
 * own message ("rank 2: ..."); a no-op where rank == root. Collective between
 * the failing rank and root only: both must call it with the same `from`. */
void gar_mpi_forward_error(int from, int root);

/* ---- shards on request ----
 * Rank 0 (the master) hands out shard numbers 0 .. n−1 to workers as they
 * ask, so faster workers take more. While it waits the master sleeps between
 * polls instead of spinning in a blocking receive (MPICH's blocking calls
 * busy-wait, which would cost a core per node). */
typedef struct gar_sched gar_sched;

/* Collective: every rank calls it with the same n_shards. */
gar_status gar_sched_create(size_t n_shards, gar_sched **out);
void gar_sched_destroy(gar_sched **s);   /* NULL-safe */

/* Mark a shard done before serving (a resumed run skips it). */
void gar_sched_mark_done(gar_sched *s, size_t shard);
/* Done flags, one byte per shard: on the master (or a single rank) the shards
 * whose worker has since asked for more, i.e. finished. */
const unsigned char *gar_sched_done(const gar_sched *s);
/* Master: the shards handed to `rank` so far (how the work was spread). */
size_t gar_sched_taken(const gar_sched *s, int rank);

/* Master: serve requests. Returns GAR_OK once every worker has been told
 * there is no more work. If `want_checkpoint(arg)` becomes true, no new
 * shards are handed out; when every working rank has finished its shard and
 * been told so (gar_sched_next gives -2) it returns GAR_ERR_CHECKPOINT: the
 * caller takes the checkpoint with the workers and may call serve again.
 * `progress` (may be NULL) gets the count of shards handed out. A worker's
 * reported error stops the hand-out and is returned as this rank's. */
gar_status gar_sched_serve(gar_sched *s, double poll_seconds,
                           void (*progress)(size_t handed_out, void *arg),
                           int (*want_checkpoint)(void *arg), void *arg);
/* Worker (or a single rank): the next shard number; -1 when every shard is
 * finished; -2 when the master wants a checkpoint (take part, then ask
 * again). A worker with nothing to do waits here until one of those. */
gar_status gar_sched_next(gar_sched *s, long *shard);
/* Worker: tell the master this rank failed with st and the current message
 * (the master stops handing out work and returns the error). */
void gar_sched_fail(gar_sched *s, gar_status st);

#ifdef __cplusplus
}
#endif
#endif
