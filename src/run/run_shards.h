/* garner: the shard driver of every run that works through particles
 * (reconstruct, refine): one process, or a master and workers under MPI.
 *
 * The stacks are cut into shards (consecutive particles of one stack), the
 * unit workers ask for and checkpoints count. With one process it works
 * through them itself, in order; with several, rank 0 hands them out on
 * request (gar_sched) and the others do what they get. Between shards rank
 * 0 (or the one process) may pause the run: every rank then takes part in
 * the plan's `pause` (reconstruct: a checkpoint; refine: a stop). */
#ifndef GAR_RUN_SHARDS_H
#define GAR_RUN_SHARDS_H

#include "gar_signal.h"
#include <stddef.h>
#include "gar_fixedsum.h"
#include "gar_inputs.h"
#include "gar_particle.h"
#include "gar_status.h"

/* A shard: consecutive particles of one stack. */
typedef struct run_shard {
    size_t stack, first, count;
} run_shard;

/* A batch read from a stack, its particles with non-finite images left
 * out: count of the span particles [first, first + span) of stack `stack`. */
typedef struct run_batch {
    float *images;            /* count × box² */
    gar_particle *meta;       /* count */
    const size_t *index;      /* each particle's index in its stack */
    size_t count;
    size_t stack, first, span;
    const char *path;         /* the stack's file */
} run_batch;

/* What a pass over the shards does. */
typedef struct run_shard_plan {
    const char *label;          /* the progress line's name: "reconstruct", "search" */
    double progress_seconds;    /* between progress lines */
    size_t batch;               /* particles read at once (one contiguous HDF5 read) */
    int skip_nonfinite;         /* leave out particles whose image holds NaN or Inf; else fail */
    size_t *skipped;            /* += particles left out so */
    double *read_seconds;       /* += wall seconds spent reading */
    /* A worker, or the one process: one batch of a shard. */
    gar_status (*batch_fn)(void *arg, run_batch *b);
    /* A worker, or the one process: after each shard (the fold of partial
     * sums). NULL: nothing. */
    gar_status (*shard_done)(void *arg);
    /* Rank 0, or the one process, between shards: whether to pause. */
    int (*want_pause)(void *arg);
    /* Every rank, once paused (collective where it communicates): GAR_OK
     * goes on; any other status ends the pass with it. `done` (rank 0 or
     * the one process): one flag per shard, the shards finished. */
    gar_status (*pause)(void *arg, const unsigned char *done);
    void *arg;
    /* Prepare each image as it is read ([input] normalize, gar_image.h). */
    int normalize;
} run_shard_plan;

typedef struct run_shards run_shards;

/* The shard size: `asked` if positive, else the particles cut into `pieces`
 * shards (`pieces_per_worker` per worker under MPI, `pieces_single` for one
 * process), never below a batch. */
size_t run_shard_size(long asked, size_t particles, int size, size_t pieces_per_worker, size_t pieces_single,
                      size_t batch);
/* The same with a default that ignores the rank count: the particles cut
 * into `pieces` shards, never below a batch. For runs whose shards outlive
 * the run (reconstruct's checkpoints), which may resume on another rank count. */
size_t run_shard_size_fixed(long asked, size_t particles, size_t pieces, size_t batch);

/* Every stack of `in` cut into shards of `shard_size` particles (the last of
 * each stack shorter). Collective: every rank calls it alike. */
gar_status run_shards_create(gar_inputs *in, size_t shard_size, run_shards **out);
void run_shards_destroy(run_shards **s);   /* NULL-safe */
size_t run_shards_count(const run_shards *s);
/* Before the pass: a shard already done (a resumed checkpoint's). */
void run_shards_mark_done(run_shards *s, size_t shard);

/* The pass. Returns this rank's status (the caller agrees it over the
 * ranks). Rank 0 of several logs how many shards each worker took. */
gar_status run_shards_drive(run_shards *s, int rank, int size, const run_shard_plan *plan);

/* Collective, with exact sums ([mpi] reproducible, src/gar_fixedsum.h):
 * the fixed-point quanta of a pass, the same on every rank. Rank 0 sizes
 * them from a sample of particles (the first 8 of up to 32 stacks spread
 * over the inputs, read and prepared as the pass reads them: non-finite
 * images left out, `normalize` applied), `contributions` (particles ×
 * inserted operators), the contrast scale cap and the blob's sum, and
 * sends them to the others. */
gar_status run_shards_fixed_scale(run_shards *s, int rank, int size, int normalize, double scale_cap,
                                  size_t contributions, double blob_sum, gar_fixed_scale *out);

/* A stop signal (SIGINT, SIGTERM, SIGHUP, SIGUSR1) is gar_signal_received()
 * under GAR_SIGNALS_CHECKPOINT (gar_signal.h, installed by gar_run_parallel):
 * reconstruct writes a checkpoint and stops, refine stops keeping its
 * finished iterations; both exit 75. */

/* GARNER_TEST_SHARD_DELAY (seconds): a pause after every shard, for the
 * tests that signal or kill a run part way and those that make the workers
 * split the shards differently. It makes "part way" a matter of work, not of
 * the machine's speed: without it a fast machine can finish before the
 * test's signal arrives. A signal ends the pause early. Not for production
 * use. */
void run_test_shard_pause(void);

#endif
