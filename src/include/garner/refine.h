/* garner public API: gold-standard refinement by projection matching, as an
 * object.
 *
 * Each iteration searches every particle against its half set's reference
 * (gar_search), reconstructs both half maps from the new poses (gar_recon, in
 * the same pass over the stacks), and measures the FSC between them. The
 * references of the next iteration are the half maps Wiener filtered
 * (multiplied per shell by the FSC) and cut at a little beyond the
 * resolution; while the resolution is worse than [refine] join_below both
 * half sets use their average (multiplied by 2 FSC / (1 + FSC)). The angular step halves when the resolution stops improving;
 * below [refine] local_search_below the search is local. The run ends when
 * the resolution has stalled at the finest useful step and few poses still
 * move, or after [refine] iterations.
 *
 *   gar_refine_create(p, params_path, resume, rank, size, &r)
 *   while (!gar_refine_converged(r)) gar_refine_iterate(r)
 *   gar_refine_finish(r)      the final map, half maps, FSC, poses, summary
 *   gar_refine_destroy(&r)
 *
 * Every call is collective over the run's ranks (one process: rank 0, size
 * 1): rank 0 hands out shards and writes the files, the others search and
 * insert. MPI must be initialised (MPI_Init) before gar_refine_create, also
 * for one process; `garner refine` is this loop (src/run/refine.c). */
#ifndef GARNER_REFINE_H
#define GARNER_REFINE_H

#include <garner/params.h>
#include <garner/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_refine gar_refine;

/* From the parameters ([input], [output], [refine], [reconstruct], [gpu],
 * [mpi]): checks them and the inputs, makes the output folder, or with
 * `resume` loads its last finished iteration (refine --continue).
 * params_path (may be NULL) is copied into the output at the end. */
gar_status gar_refine_create(const gar_params *p, const char *params_path, int resume, int rank, int size,
                             gar_refine **out);
/* Whether the run is over: converged, or at [refine] iterations. The same
 * on every rank. */
int gar_refine_converged(const gar_refine *r);
/* One iteration: search, reconstruct, FSC, the next step, the iteration's
 * folder iter_NNN. GAR_ERR_CHECKPOINT when a signal stopped it (the finished
 * iterations are kept). */
gar_status gar_refine_iterate(gar_refine *r);
/* The final outputs into the output folder. */
gar_status gar_refine_finish(gar_refine *r);
void gar_refine_destroy(gar_refine **r);   /* NULL-safe */

#ifdef __cplusplus
}
#endif
#endif
