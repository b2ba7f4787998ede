/* garner: what the commands that reconstruct share (reconstruct, refine):
 * the [reconstruct] settings, and the files every run writes. */
#ifndef GAR_CMD_COMMON_H
#define GAR_CMD_COMMON_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include "gar_inputs.h"
#include "gar_gpusel.h"
#include "gar_mpi.h"
#include "gar_params.h"
#include "gar_recon.h"
#include "gar_status.h"
#include "gar_symmetry.h"

typedef struct recon_settings {
    const char *const *stacks;
    size_t n_stacks;
    int skip_nonfinite;
    const char *out_dir;
    int overwrite;
    const char *symmetry;
    int sym_volume;
    int ctf, outer_mask, reproducible;
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
 * `box` pixels of `pixel_A` Å, the stacks' optics and the symmetry group
 * (copied by gar_recon_create; s and sym must outlive that call). */
void cmd_recon_config(const recon_settings *s, size_t box, double pixel_A, const gar_optics *optics,
                      size_t n_optics, const gar_symmetry *sym, gar_recon_config *cfg);
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

/* ---- the partial volumes of a parallel run (reconstruct, refine) ----
 * Every rank has a gar_recon; workers insert the shards they are handed, and
 * the volumes meet on rank 0. Rank 0 hands a shard to whichever worker asks
 * first, so with two or more workers the split of shards between them, and
 * with it the order of float sums, changes from run to run. With [mpi]
 * reproducible = yes such a run sums exactly: after every shard a worker
 * folds its float volumes into a fixed-point accumulator (gar_exactsum) and
 * zeroes them, and the accumulators are summed in integers on rank 0, which
 * rounds the total to float once. Each shard's own float sum starts from
 * zero and takes its particles in order, so the map no longer depends on who
 * took which shard. One process, or one worker, sums the shards in the same
 * order every run: there float sums are repeatable and no accumulator is
 * kept. */
typedef struct cmd_partials cmd_partials;

/* Whether a run of `size` ranks sums its volumes exactly. */
int cmd_exact_sums(const recon_settings *s, int size);
/* The bytes `rank` holds for the reduction beyond its gar_recon: for exact
 * sums, the accumulator on a worker (16 bytes for each of the 6 floats of a
 * voxel: data and weight of both half sets) and a buffer of limbs of at most
 * [mpi] reduce_chunk_mb on every rank. */
size_t cmd_partials_memory_bytes(const gar_recon_config *cfg, const recon_settings *s, int rank, int size);
/* The partial volumes of `rec` (not owned; it must outlive *out); `threads`
 * convert to and from the fixed-point form. */
gar_status cmd_partials_create(gar_recon *rec, const recon_settings *s, int threads, int rank, int size,
                               cmd_partials **out);
void cmd_partials_destroy(cmd_partials **p);   /* NULL-safe */
/* A worker, after each shard: with exact sums, add the volumes into the
 * accumulator and zero them (the particle counts stay); otherwise nothing. */
gar_status cmd_partials_fold(cmd_partials *p);
/* Collective: the volumes and particle counts of every rank summed into rank
 * 0's gar_recon, and extra[0 .. n_extra) (n_extra <= 6) summed into rank 0's
 * extra. Other ranks keep theirs. */
gar_status cmd_partials_reduce(cmd_partials *p, double *extra, size_t n_extra);
/* Volumes, counts and accumulator back to zero (a worker, once rank 0 holds
 * the sums in a checkpoint). */
void cmd_partials_clear(cmd_partials *p);

/* Rank 0 of a parallel run, once every shard is handed out: log how many
 * each worker took (how the work was spread). */
void cmd_log_spread(const gar_sched *sched, int size);

/* Set by SIGTERM or SIGUSR1 (Slurm's --signal) once cmd_catch_stop_signals
 * has run: reconstruct writes a checkpoint and stops, refine stops keeping
 * its finished iterations; both exit 75. */
extern volatile sig_atomic_t cmd_stop_signal;
void cmd_catch_stop_signals(void);

/* GARNER_TEST_SHARD_DELAY (seconds): a pause after every shard, for the
 * tests that signal or kill a run part way and those that make the workers
 * split the shards differently. It makes "part way" a matter of work, not of
 * the machine's speed: without it a fast machine can finish before the
 * test's signal arrives. A signal ends the pause early once *stop (may be
 * NULL) is set. Not for production use. */
void cmd_test_shard_pause(const volatile sig_atomic_t *stop);

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
