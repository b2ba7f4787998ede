/* garner: which GPUs a process drives ([gpu] devices), and where the tuning
 * cache lives. Pure logic over the device count, so the binding rules are
 * unit-tested on machines without a GPU (tests/check_gpusel.c).
 *
 * Binding (docs/PARAMETERS.md, [gpu] devices): a rank sees the devices that
 * CUDA_VISIBLE_DEVICES leaves it (Slurm's --gres/--gpus-per-task set it per
 * node or per task). With `auto`, the W worker ranks of a node share the G
 * visible devices: if W <= G, worker w takes devices w, w+W, w+2W, ... (all
 * GPUs of the node are used, each by one rank); if W > G, worker w takes
 * device w mod G (ranks share a GPU). The node-local worker index comes from
 * MPI_Comm_split_type, not SLURM_LOCALID, which is 0 for every rank under
 * mpiexec. Rank 0 of a multi-rank run is the master and drives no GPU. */
#ifndef GAR_GPUSEL_H
#define GAR_GPUSEL_H

#include <stddef.h>
#include "gar_status.h"

#define GAR_GPU_MAX_DEVICES 64

/* Parse "auto", "none" or a comma-separated list of device numbers (repeats
 * allowed). *is_auto set for "auto"; for a list, devices[0..*n) filled. */
gar_status gar_gpu_parse_devices(const char *spec, int *is_auto, int *devices, size_t *n);

/* The `auto` rule above for `visible` devices, worker `worker` of `workers`
 * on this node. */
void gar_gpu_bind(int visible, int worker, int workers, int *devices, size_t *n);

/* The devices this process drives for `spec`: `auto` with no GPU (or a build
 * without CUDA) gives none and says why in `why`; `emulated` binds as `auto`
 * on a build over the CUDA emulation (gar_gpu_emulated) and is a usage error
 * on any other; an explicit list on such a
 * build, or naming a device that does not exist, is an error. workers == 0:
 * this rank inserts nothing (the master), so none. */
gar_status gar_gpu_choose(const char *spec, int worker, int workers, int *devices, size_t *n, char *why,
                          size_t why_len);

/* The tuning cache for [gpu] tuning_cache = "" (the default):
 * $XDG_CACHE_HOME/garner/gpu-tuning.tsv, else $HOME/.cache/garner/gpu-tuning.tsv;
 * "" when neither variable is set. */
void gar_gpu_default_cache(char *buf, size_t len);

#endif
