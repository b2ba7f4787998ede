/* garner: the shard driver (see run_shards.h). */
#include "run_shards.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "gar_image.h"
#include "gar_log.h"
#include "gar_mpi.h"
#include "gar_stack.h"

struct run_shards {
    gar_inputs *in;
    run_shard *list;
    size_t n, size;    /* shards, particles per shard */
    size_t *before;    /* n + 1: particles in the shards before each (the progress line counts particles) */
    gar_sched *sched;
    /* a worker's (or the one process's) batch */
    float *images;
    gar_particle *meta;
    size_t *index;
};

size_t run_shard_size(long asked, size_t particles, int size, size_t pieces_per_worker, size_t pieces_single,
                      size_t batch)
{
    size_t pieces, s;
    if (asked > 0)
        return (size_t)asked;
    pieces = size > 1 ? pieces_per_worker * (size_t)(size - 1) : pieces_single;
    s = (particles + pieces - 1) / pieces;
    return s < batch ? batch : s;
}

size_t run_shard_size_fixed(long asked, size_t particles, size_t pieces, size_t batch)
{
    return run_shard_size(asked, particles, 1, pieces, pieces, batch);
}

gar_status run_shards_create(gar_inputs *in, size_t size, run_shards **out)
{
    size_t n = 0, k = 0;
    run_shards *s = NULL;
    gar_status st;
    *out = NULL;
    for (size_t i = 0; i < gar_inputs_n_stacks(in); i++)
        n += (gar_stack_count(gar_inputs_stack(in, i)) + size - 1) / size;
    if ((st = gar_calloc((void **)&s, 1, sizeof *s, "shards")) != GAR_OK)
        return st;
    if ((st = gar_alloc((void **)&s->list, n ? n : 1, sizeof *s->list, "shard list")) != GAR_OK ||
        (st = gar_alloc((void **)&s->before, n + 1, sizeof *s->before, "shard list")) != GAR_OK)
        goto fail;
    s->before[0] = 0;
    for (size_t i = 0; i < gar_inputs_n_stacks(in); i++) {
        size_t count = gar_stack_count(gar_inputs_stack(in, i));
        for (size_t first = 0; first < count; first += size) {
            s->list[k].stack = i;
            s->list[k].first = first;
            s->list[k].count = count - first < size ? count - first : size;
            s->before[k + 1] = s->before[k] + s->list[k].count;
            k++;
        }
    }
    s->in = in;
    s->n = n;
    s->size = size;
    if ((st = gar_sched_create(n, &s->sched)) != GAR_OK)
        goto fail;
    *out = s;
    return GAR_OK;
fail:
    run_shards_destroy(&s);
    return st;
}

void run_shards_destroy(run_shards **s)
{
    if (s == NULL || *s == NULL)
        return;
    gar_sched_destroy(&(*s)->sched);
    free((*s)->list);
    free((*s)->before);
    free((*s)->images);
    free((*s)->meta);
    free((*s)->index);
    free(*s);
    *s = NULL;
}

size_t run_shards_count(const run_shards *s) { return s->n; }

void run_shards_mark_done(run_shards *s, size_t shard) { gar_sched_mark_done(s->sched, shard); }

/* Rank 0 of a parallel run, once every shard is handed out: how many each
 * worker took (how the work was spread). */
static void log_spread(const gar_sched *sched, int size)
{
    char line[1024];
    size_t used = 0;
    line[0] = '\0';
    for (int r = 1; r < size && used + 1 < sizeof line; r++) {
        int w = snprintf(line + used, sizeof line - used, "%s%zu", r > 1 ? " " : "", gar_sched_taken(sched, r));
        if (w < 0)
            break;
        used += (size_t)w;
    }
    gar_log_info("shards per worker (ranks 1 to %d): %s", size - 1, line);
}

/* What the scheduler's callbacks on rank 0 see: the shards, the plan and
 * the progress line. */
typedef struct master_ctx {
    const run_shards *s;
    const run_shard_plan *plan;
    gar_progress *progress;
} master_ctx;

/* The scheduler hands shards out in list order (a resumed run skipping the
 * finished ones): the particles of the first `handed_out` shards are those
 * handed out, to within a resumed run's skipped shards. */
static void shard_progress(size_t handed_out, void *arg)
{
    const master_ctx *ctx = arg;
    gar_progress_update(ctx->progress, ctx->s->before[handed_out < ctx->s->n ? handed_out : ctx->s->n]);
}

static int master_wants_pause(void *arg)
{
    const run_shard_plan *plan = ((master_ctx *)arg)->plan;
    return plan->want_pause(plan->arg);
}

/* One shard, batch by batch: read (one contiguous HDF5 read each), leave
 * out the particles whose image is not finite, hand the rest on. */
static gar_status work_shard(run_shards *s, const run_shard_plan *plan, const run_shard *sh)
{
    gar_status st;
    gar_stack *stack = gar_inputs_stack(s->in, sh->stack);
    const size_t box = gar_inputs_box(s->in), npix = box * box, end = sh->first + sh->count;
    for (size_t first = sh->first; first < end; first += plan->batch) {
        size_t cnt = end - first < plan->batch ? end - first : plan->batch, kept = 0;
        double t0 = gar_wall_seconds();
        if ((st = gar_stack_read_images(stack, first, cnt, s->images)) != GAR_OK ||
            (st = gar_inputs_read_meta(s->in, sh->stack, first, cnt, s->meta)) != GAR_OK)
            return st;
        *plan->read_seconds += gar_wall_seconds() - t0;
        for (size_t i = 0; i < cnt; i++) {
            if (!gar_image_is_finite(s->images + i * npix, npix)) {
                if (!plan->skip_nonfinite)
                    return gar_error(GAR_ERR_DATA, "%s: particle %zu: image holds NaN or Inf (set "
                                     "[input] nonfinite = skip to leave such particles out)",
                                     gar_stack_path(stack), first + i);
                (*plan->skipped)++;
                continue;
            }
            if (kept != i) {
                memcpy(s->images + kept * npix, s->images + i * npix, npix * sizeof(float));
                s->meta[kept] = s->meta[i];
            }
            s->index[kept] = first + i;
            kept++;
        }
        if (plan->normalize)
            for (size_t i = 0; i < kept; i++)
                gar_image_normalise(s->images + i * npix, box, gar_image_background_radius(box), NULL);
        if (kept > 0) {
            run_batch b = {s->images, s->meta, s->index, kept, sh->stack, first, cnt, gar_stack_path(stack)};
            if ((st = plan->batch_fn(plan->arg, &b)) != GAR_OK)
                return st;
        }
    }
    return plan->shard_done != NULL ? plan->shard_done(plan->arg) : GAR_OK;
}

/* The one process: every shard in order, pausing between them when asked. */
static gar_status drive_single(run_shards *s, const run_shard_plan *plan, gar_progress *progress)
{
    gar_status st = GAR_OK;
    long k;
    for (size_t done = 0;;) {
        if (plan->want_pause(plan->arg) && (st = plan->pause(plan->arg, gar_sched_done(s->sched))) != GAR_OK)
            break;
        if ((st = gar_sched_next(s->sched, &k)) != GAR_OK || k < 0)
            break;
        if ((st = work_shard(s, plan, &s->list[k])) != GAR_OK)
            break;
        gar_sched_mark_done(s->sched, (size_t)k);
        done += s->list[k].count;
        gar_progress_update(progress, done);
        run_test_shard_pause();
    }
    return st;
}

/* Rank 0 of several: hand out shards on request; pause when asked, once
 * every worker has finished its shard. */
static gar_status drive_master(run_shards *s, int size, const run_shard_plan *plan, gar_progress *progress)
{
    gar_status st;
    master_ctx ctx = {s, plan, progress};
    while ((st = gar_sched_serve(s->sched, 2e-3, shard_progress, master_wants_pause, &ctx)) == GAR_ERR_CHECKPOINT)
        if ((st = plan->pause(plan->arg, gar_sched_done(s->sched))) != GAR_OK)
            break;
    if (st == GAR_OK)
        log_spread(s->sched, size);
    return st;
}

/* A worker: ask, work, ask again, until there is no more; take part in a
 * pause when rank 0 asks for one. */
static gar_status drive_worker(run_shards *s, const run_shard_plan *plan)
{
    gar_status st;
    long k;
    while ((st = gar_sched_next(s->sched, &k)) == GAR_OK && k != -1) {
        if (k == -2) {
            if ((st = plan->pause(plan->arg, NULL)) != GAR_OK)
                break;
            continue;
        }
        if ((st = work_shard(s, plan, &s->list[k])) != GAR_OK) {
            gar_sched_fail(s->sched, st);
            break;
        }
        run_test_shard_pause();
    }
    return st;
}

gar_status run_shards_drive(run_shards *s, int rank, int size, const run_shard_plan *plan)
{
    gar_status st;
    gar_progress *progress = NULL;
    const size_t box = gar_inputs_box(s->in);
    /* Rank 0 of several only hands out shards: it reads no particles. */
    if ((rank != 0 || size == 1) && s->images == NULL &&
        ((st = gar_alloc((void **)&s->images, plan->batch, box * box * sizeof(float), "particle batch")) != GAR_OK ||
         (st = gar_alloc((void **)&s->meta, plan->batch, sizeof *s->meta, "metadata batch")) != GAR_OK ||
         (st = gar_alloc((void **)&s->index, plan->batch, sizeof *s->index, "particle indices")) != GAR_OK))
        return st;
    if (rank == 0 && size > 1)
        gar_log_info("%zu shards of up to %zu particles for %d workers", s->n, s->size, size - 1);
    if (rank == 0)
        progress = gar_progress_create(plan->label, "particles", s->before[s->n], plan->progress_seconds);
    if (size == 1)
        st = drive_single(s, plan, progress);
    else if (rank == 0)
        st = drive_master(s, size, plan, progress);
    else
        st = drive_worker(s, plan);
    if (st == GAR_OK)
        gar_progress_finish(&progress);
    gar_progress_destroy(&progress);
    return st;
}

void run_test_shard_pause(void)
{
    const char *env = getenv("GARNER_TEST_SHARD_DELAY");
    char *end;
    double v;
    struct timespec ts;
    if (env == NULL || *env == '\0')
        return;
    v = strtod(env, &end);
    if (*end != '\0' || !(v > 0 && v < 3600))
        return;
    ts.tv_sec = (time_t)v;
    ts.tv_nsec = (long)((v - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && gar_signal_received() == 0)
        ;
}

/* Rank 0: the largest image bound of the sample (see run_shards.h). */
static gar_status sample_bound(run_shards *s, int normalize, double *bound, size_t *sampled)
{
    gar_status st = GAR_OK;
    const size_t box = gar_inputs_box(s->in), npix = box * box, n_stacks = gar_inputs_n_stacks(s->in);
    const size_t per_stack = 8, stride = (n_stacks + 31) / 32;   /* at most 32 stacks */
    float *images = NULL;
    *bound = 0.0;
    *sampled = 0;
    if ((st = gar_alloc((void **)&images, per_stack, npix * sizeof(float), "sample of particles")) != GAR_OK)
        return st;
    for (size_t k = 0; k < n_stacks && st == GAR_OK; k += stride) {
        gar_stack *stack = gar_inputs_stack(s->in, k);
        const size_t cnt = gar_stack_count(stack) < per_stack ? gar_stack_count(stack) : per_stack;
        if (cnt == 0 || (st = gar_stack_read_images(stack, 0, cnt, images)) != GAR_OK)
            continue;
        for (size_t i = 0; i < cnt; i++) {
            float *im = images + i * npix;
            double b;
            if (!gar_image_is_finite(im, npix))
                continue;
            if (normalize)
                gar_image_normalise(im, box, gar_image_background_radius(box), NULL);
            b = gar_fixed_image_bound(im, box);
            *bound = b > *bound ? b : *bound;
            (*sampled)++;
        }
    }
    free(images);
    return st;
}

gar_status run_shards_fixed_scale(run_shards *s, int rank, int size, int normalize, double scale_cap,
                                  size_t contributions, double blob_sum, gar_fixed_scale *out)
{
    gar_status st = GAR_OK;
    memset(out, 0, sizeof *out);
    if (rank == 0) {
        double bound;
        size_t sampled;
        if ((st = sample_bound(s, normalize, &bound, &sampled)) == GAR_OK &&
            (st = gar_fixed_scale_make(bound, scale_cap, contributions, blob_sum, out)) == GAR_OK)
            gar_log_info("exact sums in fixed point: quanta 2^%d (data), 2^%d (weights), sized from %zu sampled "
                         "particles (largest image bound %.4g, headroom %g), contrast scales up to %.3g",
                         out->data_exp, out->weight_exp, sampled, bound, GAR_FIXED_HEADROOM, out->scale_limit);
    }
    if ((st = gar_mpi_agree_report(st, size)) != GAR_OK)
        return st;
    return gar_mpi_bcast_bytes(out, sizeof *out, 0);
}
