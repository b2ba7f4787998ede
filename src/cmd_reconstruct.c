/* garner reconstruct: particles with known poses into a map, half maps and FSC. */
#include <getopt.h>
#include <signal.h>
#include <unistd.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "cmd_common.h"
#include "gar_checkpoint.h"
#include "gar_cli.h"
#include "gar_fsc.h"
#include "gar_inputs.h"
#include "gar_log.h"
#include "gar_mpi.h"
#include "gar_mrc.h"
#include "gar_outdir.h"
#include "gar_params.h"
#include "gar_plot.h"
#include "gar_recon.h"
#include "gar_symmetry.h"
#include "gar_sysinfo.h"

static const char reconstruct_help[] =
    "usage: garner reconstruct PARAMS [--set section.key=value ...]\n"
    "\n"
    "Reconstruct a map from the particle stacks named in the parameter file,\n"
    "with the poses, shifts and CTF parameters stored in them, by gather-based\n"
    "direct Fourier inversion with a Kaiser-Bessel blob. Writes into [output] dir:\n"
    "  map.mrc         both half sets\n"
    "  half1.mrc       half set 1 (rlnRandomSubset 1)\n"
    "  half2.mrc       half set 2\n"
    "  fsc.csv         shell, resolution (Å), FSC between the half maps\n"
    "                  (and against [reconstruct] reference, if given)\n"
    "  fsc.png         the FSC curve with the 0.143 line and the resolution\n"
    "  slices.png      three central sections of the map\n"
    "  summary.json    particles, resolution, time, rate, memory, parameters\n"
    "  params.ini      the parameter file as given; params-effective.ini with\n"
    "                  every key's value (defaults and --set included)\n"
    "The folder appears only when complete. docs/PARAMETERS.md lists every key.\n"
    "\n"
    "SIGTERM or SIGUSR1 (Slurm's --signal), or [output] checkpoint_minutes, writes\n"
    "a checkpoint DIR.checkpoint.h5 beside the output folder; after a signal garner\n"
    "exits 75 and --resume continues from the checkpoint.\n"
    "\n"
    "options:\n"
    "  --set section.key=value   override a parameter (repeatable)\n"
    "  --resume                  continue from the checkpoint of an interrupted run\n"
    "  -h, --help                this help\n";

typedef struct run_figures {
    size_t used[2], skipped;
    double resolution, resolution_ref, mean_fsc_ref, seconds;
    size_t box, padded;
    double pixel;
    int threads;
    size_t memory_estimate;
    double t_read, t_prepare, t_insert, t_finalize;
    size_t gpu_inserters;        /* over all ranks */
    char gpu_variant[128];       /* device 0's gather variant (one process only) */
} run_figures;

static gar_status write_summary(const char *path, const gar_params *p, const run_figures *r)
{
    FILE *f = fopen(path, "w");
    size_t total = r->used[0] + r->used[1];
    if (f == NULL)
        return gar_error(GAR_ERR_OUTPUT, "%s: cannot create", path);
    fprintf(f, "{\n  \"garner_version\": \"%s\",\n", PACKAGE_VERSION);
    fprintf(f, "  \"particles_used\": %zu,\n  \"particles_half1\": %zu,\n  \"particles_half2\": %zu,\n",
            total, r->used[0], r->used[1]);
    fprintf(f, "  \"particles_skipped_nonfinite\": %zu,\n", r->skipped);
    fprintf(f, "  \"resolution_A\": %.4f,\n  \"resolution_criterion\": \"FSC 0.143 between half maps\",\n",
            r->resolution);
    if (r->resolution_ref > 0)
        fprintf(f, "  \"resolution_reference_A\": %.4f,\n  \"mean_fsc_reference\": %.6f,\n",
                r->resolution_ref, r->mean_fsc_ref);
    fprintf(f, "  \"wall_time_s\": %.3f,\n  \"particles_per_second\": %.2f,\n", r->seconds,
            r->seconds > 0 ? total / r->seconds : 0.0);
    fprintf(f, "  \"seconds\": {\"read\": %.3f, \"prepare\": %.3f, \"insert\": %.3f, \"finalize\": %.3f},\n",
            r->t_read, r->t_prepare, r->t_insert, r->t_finalize);
    fprintf(f, "  \"peak_memory_bytes\": %zu,\n  \"memory_estimate_bytes\": %zu,\n", gar_peak_rss_bytes(),
            r->memory_estimate);
    fprintf(f, "  \"box\": %zu,\n  \"pixel_size_A\": %.6g,\n  \"padded_size\": %zu,\n  \"threads\": %d,\n",
            r->box, r->pixel, r->padded, r->threads);
    fprintf(f, "  \"gpu_inserters\": %zu,\n", r->gpu_inserters);
    if (r->gpu_variant[0]) {
        fprintf(f, "  \"gpu_variant\": ");
        cmd_json_string(f, r->gpu_variant);
        fprintf(f, ",\n");
    }
    cmd_json_parameters(f, p);
    fprintf(f, "}\n");
    if (fclose(f) != 0)
        return gar_error(GAR_ERR_IO, "%s: write failed", path);
    return GAR_OK;
}


/* A batch of images and metadata read from a stack. */
typedef struct batch_buf {
    float *images;
    gar_particle *meta;
    size_t batch, npix;
} batch_buf;

/* Read, filter and insert particles [first0, first0 + count) of one stack,
 * batch by batch (one contiguous HDF5 read each). *done counts particles. */
static gar_status insert_range(gar_stack *stack, size_t first0, size_t count, gar_recon *rec,
                               const recon_settings *s, batch_buf *b, run_figures *fig,
                               gar_progress *progress, size_t *done)
{
    gar_status st;
    const size_t npix = b->npix, end = first0 + count;
    for (size_t first = first0; first < end; first += b->batch) {
        size_t cnt = end - first < b->batch ? end - first : b->batch, kept = 0;
        double t0 = gar_wall_seconds();
        if ((st = gar_stack_read_images(stack, first, cnt, b->images)) != GAR_OK ||
            (st = gar_stack_read_meta(stack, first, cnt, b->meta)) != GAR_OK)
            return st;
        fig->t_read += gar_wall_seconds() - t0;
        for (size_t i = 0; i < cnt; i++) {
            if (!gar_image_is_finite(b->images + i * npix, npix)) {
                if (!s->skip_nonfinite)
                    return gar_error(GAR_ERR_DATA, "%s: particle %zu: image holds NaN or Inf (set "
                                     "[input] nonfinite = skip to leave such particles out)",
                                     gar_stack_path(stack), first + i);
                fig->skipped++;
                continue;
            }
            if (kept != i) {
                memcpy(b->images + kept * npix, b->images + i * npix, npix * sizeof(float));
                b->meta[kept] = b->meta[i];
            }
            kept++;
        }
        if (kept > 0 && (st = gar_recon_insert(rec, b->images, b->meta, kept)) != GAR_OK)
            return gar_error_context(st, "%s: particles %zu-%zu", gar_stack_path(stack), first, first + cnt - 1);
        *done += cnt;
        gar_progress_update(progress, *done);
    }
    return GAR_OK;
}



/* What a checkpoint needs to know about the run. */
typedef struct ckpt_ctx {
    const recon_settings *s;
    gar_recon *rec;
    cmd_partials *parts;
    run_figures *fig;
    gar_sched *sched;
    gar_progress *progress;
    int rank, size;
    char path[4096];
    size_t box, shard_size, n_shards, particles;
    double every_s, last;
} ckpt_ctx;

static int want_checkpoint(void *arg)
{
    const ckpt_ctx *c = arg;
    return cmd_stop_signal != 0 || (c->every_s > 0 && gar_wall_seconds() - c->last >= c->every_s);
}

static void shard_progress(size_t handed_out, void *arg)
{
    gar_progress_update(((ckpt_ctx *)arg)->progress, handed_out);
}

static void checkpoint_shape(const ckpt_ctx *c, gar_checkpoint *k)
{
    memset(k, 0, sizeof *k);
    k->box = c->box;
    k->padded = gar_recon_size(c->rec);
    k->shard_size = c->shard_size;
    k->n_shards = c->n_shards;
    k->particles = c->particles;
    k->nvox = gar_recon_voxels(c->rec);
    gar_recon_partial v;
    gar_recon_partial_view(c->rec, &v);   /* the GPUs' sums are flushed before a checkpoint */
    for (int h = 0; h < 2; h++) {
        k->G[h] = v.data[h];
        k->W[h] = v.weight[h];
    }
}

/* Collective: the partial volumes, counts and skips of all ranks summed on rank 0. */
static gar_status reduce_partials(ckpt_ctx *c)
{
    double skipped = (double)c->fig->skipped;
    gar_status st = cmd_partials_reduce(c->parts, &skipped, 1);
    if (st == GAR_OK && c->rank == 0)
        c->fig->skipped = (size_t)skipped;
    return st;
}

/* Collective: sum every rank's work so far into rank 0, which writes the
 * checkpoint; the workers start again from zero. GAR_ERR_CHECKPOINT if the run
 * is to stop (a signal reached rank 0), GAR_OK to go on. */
static gar_status take_checkpoint(ckpt_ctx *c)
{
    gar_status st = GAR_OK;
    int stop;
    if (c->size > 1) {
        st = reduce_partials(c);
        if (st == GAR_OK && c->rank != 0) {
            cmd_partials_clear(c->parts);
            c->fig->skipped = 0;
        }
    }
    if (st == GAR_OK && c->rank == 0 && (st = gar_recon_flush(c->rec)) == GAR_OK) {
        gar_checkpoint k;
        checkpoint_shape(c, &k);
        k.count[0] = gar_recon_count(c->rec, 1);
        k.count[1] = gar_recon_count(c->rec, 2);
        k.skipped = c->fig->skipped;
        k.done = (unsigned char *)gar_sched_done(c->sched);
        st = gar_checkpoint_save(c->path, &k);
    }
    if ((st = gar_mpi_agree_report(st, c->size)) != GAR_OK)
        return st;
    stop = c->size > 1 ? gar_mpi_bcast_int(cmd_stop_signal != 0, 0) : cmd_stop_signal != 0;
    c->last = gar_wall_seconds();
    if (stop)
        return gar_error(GAR_ERR_CHECKPOINT, "stopped by a signal: checkpoint written to %s; run again with "
                         "--resume to continue", c->path);
    gar_log_info("checkpoint written to %s", c->path);
    return GAR_OK;
}

/* Insert this rank's share. The stacks are cut into shards; with one process
 * it works through them itself, with several rank 0 hands them out on request
 * and the others insert what they get. Shards done in a resumed checkpoint are
 * skipped. A checkpoint is taken between shards when asked for. */
static gar_status distribute(gar_inputs *in, ckpt_ctx *c, const unsigned char *resumed_done, size_t box)
{
    gar_status st = GAR_OK;
    const recon_settings *s = c->s;
    batch_buf b = {NULL, NULL, (size_t)s->batch, box * box};
    cmd_shard *shards = NULL;
    size_t done = 0;
    if (c->rank != 0 || c->size == 1) {
        if ((st = gar_alloc((void **)&b.images, b.batch, b.npix * sizeof(float), "particle batch")) != GAR_OK ||
            (st = gar_alloc((void **)&b.meta, b.batch, sizeof *b.meta, "metadata batch")) != GAR_OK)
            goto done;
    }
    if ((st = cmd_make_shards(in, c->shard_size, &shards, &c->n_shards)) != GAR_OK ||
        (st = gar_sched_create(c->n_shards, &c->sched)) != GAR_OK)
        goto done;
    if (resumed_done != NULL)
        for (size_t k = 0; k < c->n_shards; k++)
            if (resumed_done[k])
                gar_sched_mark_done(c->sched, k);
    if (c->size == 1) {
        long k;
        c->progress = gar_progress_create("reconstruct", "shards", c->n_shards, 10.0);
        for (size_t n = 0;;) {
            if (want_checkpoint(c) && (st = take_checkpoint(c)) != GAR_OK)
                break;
            if ((st = gar_sched_next(c->sched, &k)) != GAR_OK || k < 0)
                break;
            const cmd_shard *sh = &shards[k];
            if ((st = insert_range(gar_inputs_stack(in, sh->stack), sh->first, sh->count, c->rec, s, &b,
                                   c->fig, NULL, &done)) != GAR_OK ||
                (st = cmd_partials_fold(c->parts)) != GAR_OK)
                break;
            gar_sched_mark_done(c->sched, (size_t)k);
            gar_progress_update(c->progress, ++n);
            cmd_test_shard_pause(&cmd_stop_signal);
        }
    } else if (c->rank == 0) {
        gar_log_info("%zu shards of up to %zu particles for %d workers", c->n_shards, c->shard_size, c->size - 1);
        c->progress = gar_progress_create("reconstruct", "shards", c->n_shards, 10.0);
        while ((st = gar_sched_serve(c->sched, 2e-3, shard_progress, want_checkpoint, c)) == GAR_ERR_CHECKPOINT)
            if ((st = take_checkpoint(c)) != GAR_OK)
                break;
        if (st == GAR_OK)
            cmd_log_spread(c->sched, c->size);
    } else {
        long k;
        while ((st = gar_sched_next(c->sched, &k)) == GAR_OK && k != -1) {
            if (k == -2) {
                if ((st = take_checkpoint(c)) != GAR_OK)
                    break;
                continue;
            }
            const cmd_shard *sh = &shards[k];
            st = insert_range(gar_inputs_stack(in, sh->stack), sh->first, sh->count, c->rec, s, &b, c->fig,
                              NULL, &done);
            if (st == GAR_OK)
                st = cmd_partials_fold(c->parts);
            if (st != GAR_OK) {
                gar_sched_fail(c->sched, st);
                break;
            }
            cmd_test_shard_pause(&cmd_stop_signal);
        }
    }
    if (st == GAR_OK)
        gar_progress_finish(&c->progress);
done:
    gar_progress_destroy(&c->progress);
    free(shards);
    free(b.images);
    free(b.meta);
    return st;
}

static gar_status run(gar_params *p, const char *params_path, int resume, int rank, int size)
{
    gar_status st = GAR_OK;
    recon_settings s;
    gar_symmetry *sym = NULL;
    gar_inputs *in = NULL;
    gar_recon *rec = NULL;
    gar_outdir *out = NULL;
    gar_map *half[2] = {NULL, NULL}, *full = NULL, *ref = NULL;
    double *fsc = NULL, *fsc_ref = NULL;
    size_t box = 0, nshell, n_optics = 0;
    const gar_optics *optics;
    gar_recon_config cfg;
    run_figures fig;
    ckpt_ctx ck;
    unsigned char *resumed_done = NULL;
    char loc[512], mem_src[128], need[32], avail[32];
    double t0 = gar_wall_seconds();

    memset(&fig, 0, sizeof fig);
    memset(&ck, 0, sizeof ck);
    if ((st = cmd_read_recon_settings(p, &s)) != GAR_OK)
        goto checked;
    if ((st = gar_symmetry_create(s.symmetry, &sym)) != GAR_OK) {
        cmd_where(p, "reconstruct", "symmetry", loc, sizeof loc);
        gar_error_context(st, "%s", loc);
        goto checked;
    }
    if ((st = gar_inputs_open(s.stacks, s.n_stacks, &in)) != GAR_OK)
        goto checked;
    box = gar_inputs_box(in);
    fig.box = box;
    fig.pixel = gar_inputs_pixel_size(in);
    if (!(gar_inputs_columns(in) & GAR_COL_POSE)) {
        st = gar_error(GAR_ERR_DATA, "%s: the stacks hold no poses (rot_deg, tilt_deg, psi_deg); "
                       "reconstruct needs known poses", s.stacks[0]);
        goto checked;
    }
    if (s.ctf && !(gar_inputs_columns(in) & GAR_COL_CTF)) {
        cmd_where(p, "reconstruct", "ctf", loc, sizeof loc);
        st = gar_error(GAR_ERR_DATA, "%s = yes, but the stacks hold no defocus columns; set it to no for "
                       "data without a CTF", loc);
        goto checked;
    }
    if (s.max_res > 0 && s.max_res < 2.0 * fig.pixel - 1e-9) {
        cmd_where(p, "reconstruct", "max_resolution", loc, sizeof loc);
        st = gar_error(GAR_ERR_USAGE, "%s: %g Å is finer than Nyquist (%g Å for %g Å pixels)", loc, s.max_res,
                       2.0 * fig.pixel, fig.pixel);
        goto checked;
    }
    if (s.reference != NULL && rank == 0) {
        if ((st = gar_mrc_read(s.reference, &ref)) != GAR_OK)
            goto checked;
        if (ref->nx != box || ref->ny != box || ref->nz != box) {
            cmd_where(p, "reconstruct", "reference", loc, sizeof loc);
            st = gar_error(GAR_ERR_DATA, "%s: %s is %zu x %zu x %zu, the particles are %zu x %zu", loc,
                           s.reference, ref->nx, ref->ny, ref->nz, box, box);
            goto checked;
        }
    }

    /* Gather the optics of every stack (groups are numbered per stack, and
     * garner's import numbers them from RELION's, so they agree across stacks). */
    optics = gar_stack_optics(gar_inputs_stack(in, 0), &n_optics);
    cmd_recon_config(&s, box, fig.pixel, optics, n_optics, sym, &cfg);
    fig.threads = cfg.threads;
    fig.padded = gar_recon_padded_size(box, cfg.pad);

    /* Memory: check before allocating anything large. Each rank checks its
     * own need; a worker of a run with exact sums also holds an accumulator
     * four times the size of its volumes. The log gives a worker's need, the
     * largest. */
    {
        const size_t common = gar_recon_memory_bytes(&cfg) + cfg.batch * box * box * sizeof(float);
        const size_t exact = cmd_partials_memory_bytes(&cfg, &s, rank, size);
        size_t avail_bytes = gar_available_memory(mem_src, sizeof mem_src);
        char exact_note[96] = "", exact_bytes[32];
        fig.memory_estimate = common + exact;
        gar_format_bytes((double)fig.memory_estimate, need, sizeof need);
        gar_format_bytes((double)avail_bytes, avail, sizeof avail);
        if (exact > 0) {
            gar_format_bytes((double)exact, exact_bytes, sizeof exact_bytes);
            snprintf(exact_note, sizeof exact_note, ", %s of it for exact sums ([mpi] reproducible = no saves it)",
                     exact_bytes);
        }
        if (avail_bytes > 0 && fig.memory_estimate > avail_bytes) {
            st = gar_error(GAR_ERR_NOMEM, "this reconstruction needs %s (box %zu, padded %zu, batch %zu%s) but "
                           "only %s is available (%s); lower [reconstruct] pad, batch or max_resolution, "
                           "or run on a node with more memory",
                           need, box, fig.padded, cfg.batch, exact_note, avail, mem_src);
            goto checked;
        }
        if (rank == 0 && size > 1)
            gar_format_bytes((double)(common + cmd_partials_memory_bytes(&cfg, &s, 1, size)), need, sizeof need);
    }
    cmd_where(p, "output", "dir", loc, sizeof loc);
    if (rank == 0 && (st = gar_outdir_begin(s.out_dir, s.overwrite, s.stacks, s.n_stacks, loc, &out)) != GAR_OK)
        goto checked;
    gar_log_info("%zu particles, %zu px at %.4g Å/px, padded %zu, symmetry %s (%s), CTF %s, %d rank%s × "
                 "%d threads, memory %s of %s available per rank",
                 gar_inputs_count(in), box, fig.pixel, fig.padded, gar_symmetry_name(sym),
                 s.sym_volume ? "volume" : "insert", s.ctf ? "yes" : "no", size, size > 1 ? "s" : "",
                 cfg.threads, need, avail);
    if (rank == 0 || size == 1)
        cmd_log_devices(&s, NULL);
    if ((st = gar_recon_create(&cfg, &rec)) != GAR_OK ||
        (st = cmd_partials_create(rec, &s, cfg.threads, rank, size, &ck.parts)) != GAR_OK)
        goto checked;
    /* Shards: the unit of work handed out, and of the checkpoints. */
    ck.s = &s;
    ck.rec = rec;
    ck.fig = &fig;
    ck.rank = rank;
    ck.size = size;
    ck.box = box;
    ck.particles = gar_inputs_count(in);
    ck.every_s = s.checkpoint_minutes * 60.0;
    ck.last = gar_wall_seconds();
    ck.shard_size = (size_t)s.shard_size;
    if (ck.shard_size == 0) {
        size_t parts = size > 1 ? 8 * (size_t)(size - 1) : 64;
        ck.shard_size = (ck.particles + parts - 1) / parts;
        if (ck.shard_size < (size_t)s.batch)
            ck.shard_size = (size_t)s.batch;
    }
    for (size_t i = 0; i < gar_inputs_n_stacks(in); i++)
        ck.n_shards += (gar_stack_count(gar_inputs_stack(in, i)) + ck.shard_size - 1) / ck.shard_size;
    snprintf(ck.path, sizeof ck.path, "%s", s.out_dir);
    for (size_t n = strlen(ck.path); n > 1 && ck.path[n - 1] == '/'; n--)
        ck.path[n - 1] = '\0';
    strncat(ck.path, ".checkpoint.h5", sizeof ck.path - strlen(ck.path) - 1);
    if (resume && rank == 0) {
        gar_checkpoint k;
        checkpoint_shape(&ck, &k);
        if ((st = gar_calloc((void **)&resumed_done, ck.n_shards ? ck.n_shards : 1, 1, "shard flags")) != GAR_OK)
            goto checked;
        k.done = resumed_done;
        if ((st = gar_checkpoint_load(ck.path, &k)) != GAR_OK)
            goto checked;
        gar_recon_partial v;
        if ((st = gar_recon_partial_view(rec, &v)) != GAR_OK)
            goto checked;
        v.count[0] = (size_t)k.count[0];
        v.count[1] = (size_t)k.count[1];
        fig.skipped = (size_t)k.skipped;
        size_t finished = 0;
        for (size_t i = 0; i < ck.n_shards; i++)
            finished += resumed_done[i];
        gar_log_info("resuming from %s: %zu of %zu shards done, %zu particles inserted", ck.path, finished,
                     ck.n_shards, (size_t)(k.count[0] + k.count[1]));
    }
checked:
    /* The first collective: every rank has validated the same inputs. */
    if ((st = gar_mpi_agree_report(st, size)) != GAR_OK)
        goto done;
    st = distribute(in, &ck, resumed_done, box);
    gar_sched_destroy(&ck.sched);
    if ((st = gar_mpi_agree_report(st, size)) != GAR_OK)
        goto done;
    if (size > 1 && (st = reduce_partials(&ck)) != GAR_OK)
        goto done;
    fig.gpu_inserters = gar_recon_gpu_count(rec);
    if (size > 1) {
        /* Rank 0 only hands out shards: its log reports the workers' time
         * in each stage, summed over them, and their GPUs. */
        double t[4], unused;
        gar_recon_timings(rec, &t[1], &t[2], &unused);
        t[0] = fig.t_read;
        t[3] = (double)fig.gpu_inserters;
        if ((st = gar_mpi_reduce_sum(t, t, 4, 0, sizeof t)) != GAR_OK)
            goto done;
        fig.t_read = t[0];
        fig.t_prepare = t[1];
        fig.t_insert = t[2];
        fig.gpu_inserters = (size_t)t[3];
    } else if (fig.gpu_inserters > 0) {
        cmd_log_devices(&s, rec);
        snprintf(fig.gpu_variant, sizeof fig.gpu_variant, "%s", gar_recon_gpu_variant(rec, 0, NULL, 0));
    }
    if (rank != 0)
        goto done;
    fig.used[0] = gar_recon_count(rec, 1);
    fig.used[1] = gar_recon_count(rec, 2);
    if (fig.used[0] == 0 || fig.used[1] == 0) {
        st = gar_error(GAR_ERR_DATA, "half set %d has no particles (half 1: %zu, half 2: %zu); both half "
                       "sets are needed for the FSC", fig.used[0] == 0 ? 1 : 2, fig.used[0], fig.used[1]);
        goto done;
    }

    gar_log_info("finishing: weights, inverse FFT, gridding correction");
    if ((st = gar_recon_finalize(rec, 1, &half[0])) != GAR_OK ||
        (st = gar_recon_finalize(rec, 2, &half[1])) != GAR_OK ||
        (st = gar_recon_finalize(rec, 0, &full)) != GAR_OK)
        goto done;
    {
        double prepare, insert;
        gar_recon_timings(rec, &prepare, &insert, &fig.t_finalize);
        if (size == 1) {
            fig.t_prepare = prepare;
            fig.t_insert = insert;
        }
    }
    cmd_partials_destroy(&ck.parts);
    gar_recon_destroy(&rec);

    nshell = box / 2 + 1;
    if ((st = gar_alloc((void **)&fsc, nshell, sizeof(double), "FSC")) != GAR_OK ||
        (st = gar_fsc_compute(half[0], half[1], fsc)) != GAR_OK)
        goto done;
    fig.resolution = gar_fsc_resolution(fsc, nshell, box, fig.pixel, 0.143);
    if (ref != NULL) {
        if ((st = gar_alloc((void **)&fsc_ref, nshell, sizeof(double), "FSC")) != GAR_OK ||
            (st = gar_fsc_compute(full, ref, fsc_ref)) != GAR_OK)
            goto done;
        fig.resolution_ref = gar_fsc_resolution(fsc_ref, nshell, box, fig.pixel, 0.5);
        fig.mean_fsc_ref = gar_fsc_mean(fsc_ref, 1, nshell - 1);
    }
    fig.seconds = gar_wall_seconds() - t0;

    if ((st = gar_mrc_write(gar_outdir_file(out, "map.mrc"), full)) != GAR_OK ||
        (st = gar_mrc_write(gar_outdir_file(out, "half1.mrc"), half[0])) != GAR_OK ||
        (st = gar_mrc_write(gar_outdir_file(out, "half2.mrc"), half[1])) != GAR_OK ||
        (st = cmd_write_fsc_csv(gar_outdir_file(out, "fsc.csv"), fsc, fsc_ref, nshell, box, fig.pixel)) != GAR_OK ||
        (st = gar_plot_fsc2(gar_outdir_file(out, "fsc.png"), fsc, fsc_ref, nshell, box, fig.pixel, 0.143,
                            fig.resolution, "garner reconstruct: FSC", "half maps",
                            "against reference")) != GAR_OK ||
        (st = gar_plot_slices(gar_outdir_file(out, "slices.png"), full, "garner reconstruct: central sections")) != GAR_OK)
        goto done;
    if (params_path != NULL && (st = cmd_copy_file(params_path, gar_outdir_file(out, "params.ini"))) != GAR_OK)
        goto done;
    {
        const char *path = gar_outdir_file(out, "params-effective.ini");
        FILE *f = fopen(path, "w");
        if (f == NULL) {
            st = gar_error(GAR_ERR_OUTPUT, "%s: cannot create", path);
            goto done;
        }
        st = gar_params_write(p, f);
        if (fclose(f) != 0 && st == GAR_OK)
            st = gar_error(GAR_ERR_IO, "%s: write failed", path);
        if (st != GAR_OK)
            goto done;
    }
    if ((st = write_summary(gar_outdir_file(out, "summary.json"), p, &fig)) != GAR_OK)
        goto done;
    {
        char final_dir[4096];
        snprintf(final_dir, sizeof final_dir, "%s", gar_outdir_final(out));
        if ((st = gar_outdir_commit(&out)) != GAR_OK)
            goto done;
        unlink(ck.path);   /* the run is complete: its checkpoint is spent */
        gar_log_info("%zu particles (%zu + %zu) in %.1f s (%.1f particles/s): read %.1f s, prepare %.1f s, "
                     "insert %.1f s%s, finish %.1f s", fig.used[0] + fig.used[1], fig.used[0], fig.used[1],
                     fig.seconds, (fig.used[0] + fig.used[1]) / fig.seconds, fig.t_read, fig.t_prepare,
                     fig.t_insert, size > 1 ? " (summed over the workers)" : "", fig.t_finalize);
        if (ref != NULL)
            gar_log_info("against the reference: FSC 0.5 at %.2f Å, mean FSC %.3f", fig.resolution_ref,
                         fig.mean_fsc_ref);
        gar_log_info("map: %s/map.mrc, resolution %.2f Å (FSC 0.143 between half maps)", final_dir,
                     fig.resolution);
    }
done:
    gar_sched_destroy(&ck.sched);
    free(resumed_done);
    gar_outdir_abort(&out);
    cmd_partials_destroy(&ck.parts);
    gar_recon_destroy(&rec);
    gar_map_destroy(&half[0]);
    gar_map_destroy(&half[1]);
    gar_map_destroy(&full);
    gar_map_destroy(&ref);
    free(fsc);
    free(fsc_ref);
    gar_inputs_close(&in);
    gar_symmetry_destroy(&sym);
    return st;
}

int gar_cmd_reconstruct(int argc, char **argv)
{
    return cmd_parallel_main(argc, argv, "reconstruct", reconstruct_help, "resume", cmd_catch_stop_signals, run);
}
