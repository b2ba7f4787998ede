/* garner: the settings a run that reconstructs reads (reconstruct, refine,
 * tune): [input], [output], [reconstruct], [gpu] and [mpi]; the
 * reconstructor's configuration and the partial volumes' sizing from them. */
#ifndef GAR_RUN_SETTINGS_H
#define GAR_RUN_SETTINGS_H

#include <stddef.h>
#include "gar_gpusel.h"
#include "gar_params.h"
#include "gar_partials.h"
#include "gar_recon.h"
#include "gar_settings.h"
#include "gar_status.h"
#include "gar_symmetry.h"

struct run_shards;

typedef struct recon_settings {
    gar_settings set;          /* every key's typed value (gar_settings.h) */
    /* [gpu]: the devices this rank drives (none: the CPU) and why, and the
     * tuning cache's path ("" for none) */
    int gpus[GAR_GPU_MAX_DEVICES];
    size_t n_gpus;
    char gpu_why[512];
    char gpu_cache[4096];
} recon_settings;

/* This rank's index among its node's workers and their number, which the
 * GPU choice goes by (gar_run_parallel sets it once MPI is up). */
void run_set_node_place(int worker, int workers);

/* Every key's typed value, with the keys every run needs ([input] stacks,
 * [output] dir): the checks of the parameter file that need no GPU and no
 * stack opened, which `garner submit` makes before it writes a job. */
gar_status run_read_settings(const gar_params *p, gar_settings *set);
/* Every key's typed value (stacks and output folder required); the GPUs
 * are chosen for this rank's place on its node. */
gar_status run_read_recon_settings(const gar_params *p, recon_settings *s);
/* The reconstructor's configuration from the settings, for particles of
 * `box` pixels of `pixel_A` Å, the stacks' optics and the symmetry group
 * (copied by gar_recon_create; s and sym must outlive that call). */
void run_recon_config(const recon_settings *s, size_t box, double pixel_A, const gar_optics *optics,
                      size_t n_optics, const gar_symmetry *sym, gar_recon_config *cfg);
/* Log the insertion's devices (GPUs, with the reason, or the CPU) with
 * rec = NULL before a run; with the reconstructor after it, each GPU's
 * gather variant. */
void run_log_devices(const recon_settings *s, const gar_recon *rec);

/* Whether a run of `size` ranks sums its volumes exactly (gar_partials.h). */
int run_exact_sums(const recon_settings *s, int size);
/* The bytes `rank` holds for the reduction beyond its gar_recon; `reduces`:
 * whether the run reduces at all (reconstruct only under MPI). */
size_t run_partials_memory_bytes(const gar_recon_config *cfg, const recon_settings *s, int rank, int size,
                                 int reduces);
/* The partial volumes for `rec`'s sums. */
gar_status run_partials_create(const gar_recon *rec, const recon_settings *s, int threads, int rank, int size,
                               gar_partials **out);
/* Collective, before a pass of `particles` particles inserted with contrast
 * scales up to scale_cap: with exact sums, the fixed-point quanta sized on
 * rank 0 from a sample of `shards`' stacks (run_shards_fixed_scale) and given
 * to the partials and, on a worker, to its reconstructor; otherwise nothing.
 * The ranks' status agreed. */
gar_status run_set_fixed_scale(const recon_settings *s, int rank, int size, struct run_shards *shards,
                               gar_recon *rec, gar_partials *parts, size_t particles, double scale_cap);
/* Whether `threads` threads fit in the address space `ulimit -v` leaves
 * beside `other_bytes` (the run's memory estimate): each thread but the
 * calling one reserves a stack (gar_thread_stack_bytes), and OpenMP aborts
 * the process when it cannot start one. GAR_ERR_NOMEM naming
 * [reconstruct] threads, the count, the stacks and the limit if not;
 * GAR_OK without such a limit. */
gar_status run_check_thread_stacks(const gar_params *p, int threads, size_t other_bytes);

/* The advice of a node-memory refusal, from how many ranks of the largest
 * need fit on the node: "N ranks of this size fit: start fewer ranks per
 * node (srun --ntasks-per-node, mpiexec -ppn), or " when at least one does,
 * "not one rank of this size fits: " when a rank is larger than the node
 * (saying "1 rank fits" would be false); the caller's own remedy follows. */
void run_node_fit_advice(long fit, char *buf, size_t size);

#endif
