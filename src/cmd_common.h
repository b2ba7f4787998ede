/* garner: what the commands that reconstruct share (reconstruct, refine):
 * the [reconstruct] settings, and the files every run writes. */
#ifndef GAR_CMD_COMMON_H
#define GAR_CMD_COMMON_H

#include <stddef.h>
#include <stdio.h>
#include "gar_inputs.h"
#include "gar_gpusel.h"
#include "gar_params.h"
#include "gar_recon.h"
#include "gar_status.h"

typedef struct recon_settings {
    const char *const *stacks;
    size_t n_stacks;
    int skip_nonfinite;
    const char *out_dir;
    int overwrite;
    const char *symmetry;
    int sym_volume;
    int ctf, outer_mask;
    long pad, blob_order, threads, batch, shard_size, reduce_chunk_mb;
    double blob_radius, blob_alpha, max_res, checkpoint_minutes;
    const char *reference;
    /* [gpu]: the devices this rank drives (none: the CPU) and why */
    int gpus[GAR_GPU_MAX_DEVICES];
    size_t n_gpus;
    char gpu_why[512];
    int gpu_fft, gpu_tuning;
    char gpu_cache[4096];
} recon_settings;

/* The [input], [output], [reconstruct], [gpu] and [mpi] keys; the GPUs are
 * chosen for this rank's place on its node (cmd_parallel_main finds it). */
gar_status cmd_read_recon_settings(const gar_params *p, recon_settings *s);
/* The reconstructor's configuration from the settings, for particles of
 * `box` pixels of `pixel_A` Å, the stacks' optics and the symmetry
 * operators (copied by gar_recon_create; s must outlive that call). */
void cmd_recon_config(const recon_settings *s, size_t box, double pixel_A, const gar_optics *optics,
                      size_t n_optics, const double *ops, size_t n_ops, gar_recon_config *cfg);
/* Log the insertion's devices (GPUs, with the reason, or the CPU) with
 * rec = NULL before a run; with the reconstructor after it, each GPU's
 * gather variant. */
void cmd_log_devices(const recon_settings *s, const gar_recon *rec);

/* Copy a file byte for byte (the parameter file into the output). */
gar_status cmd_copy_file(const char *from, const char *to);
/* shell, resolution_A, fsc_half_maps[, fsc_reference] */
gar_status cmd_write_fsc_csv(const char *path, const double *fsc, const double *fsc_ref, size_t n, size_t box,
                             double pixel);
void cmd_json_string(FILE *f, const char *s);
/* "parameters": every schema key with its effective value, typed. */
void cmd_json_parameters(FILE *f, const gar_params *p);
/* A value's origin for messages: "run.ini:7: [reconstruct] symmetry". */
void cmd_where(const gar_params *p, const char *section, const char *key, char *buf, size_t len);

/* A shard: consecutive particles of one stack, the unit workers ask for. */
typedef struct cmd_shard {
    size_t stack, first, count;
} cmd_shard;
/* Every stack cut into shards of `size` particles (the last of each stack
 * shorter); *out is freed by the caller. */
gar_status cmd_make_shards(gar_inputs *in, size_t size, cmd_shard **out, size_t *n_out);

/* What a parallel command (reconstruct, refine) does once MPI is up. */
typedef gar_status (*cmd_run_fn)(gar_params *p, const char *params_path, int resume, int rank, int size);

/* The main of a command run as `[mpiexec -n P] garner NAME PARAMS [--set
 * section.key=value ...] [--RESUME_OPTION]`: options, MPI start-up (and
 * `on_start`, if not NULL, right after it), the rank map in the log, the
 * check against `srun --mpi=none`, the parameter file, `run`, and the exit
 * code (75 for a checkpoint, one message from rank 0 for an error).
 * resume_option NULL: the command has none. */
int cmd_parallel_main(int argc, char **argv, const char *name, const char *help, const char *resume_option,
                      void (*on_start)(void), cmd_run_fn run);

#endif
