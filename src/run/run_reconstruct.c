/* garner reconstruct, the run: particles with known poses into a map, half
 * maps and FSC, with checkpoints (see gar_run.h; the command line:
 * src/cli/cmd_reconstruct.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "gar_checkpoint.h"
#include "gar_fsc.h"
#include "gar_inputs.h"
#include "gar_log.h"
#include "gar_mpi.h"
#include "gar_mrc.h"
#include "gar_outdir.h"
#include "gar_partials.h"
#include "gar_plot.h"
#include "gar_recon.h"
#include "gar_run.h"
#include "gar_stack.h"
#include "gar_symmetry.h"
#include "gar_sysinfo.h"
#include "run_files.h"
#include "run_fprint.h"
#include "run_settings.h"
#include "run_shards.h"

typedef struct run_figures {
    size_t used[2], skipped;
    double resolution, resolution_ref, mean_fsc_ref, seconds;
    gar_fsc_crossing cross, cross_ref;   /* how each resolution was found */
    int has_ref;
    size_t box, padded;
    double pixel;
    int threads;
    size_t memory_estimate;
    double t_read, t_prepare, t_insert, t_finalize;
    size_t gpu_inserters;        /* over all ranks */
    char gpu_variant[128];       /* device 0's gather variant (one process only) */
} run_figures;

static gar_status write_summary(const char *path, const gar_params *p, const run_figures *r, const char *fingerprint)
{
    FILE *f = fopen(path, "w");
    size_t total = r->used[0] + r->used[1];
    if (f == NULL)
        return gar_error(GAR_ERR_OUTPUT, "%s: cannot create", path);
    fprintf(f, "{\n  \"garner_version\": \"%s\",\n", PACKAGE_VERSION);
    fprintf(f, "  \"particles_used\": %zu,\n  \"particles_half1\": %zu,\n  \"particles_half2\": %zu,\n",
            total, r->used[0], r->used[1]);
    fprintf(f, "  \"particles_skipped_nonfinite\": %zu,\n", r->skipped);
    run_json_resolution(f, "resolution_A", "resolution_note", r->resolution, r->cross, 0.143);
    fprintf(f, "  \"resolution_criterion\": \"FSC 0.143 between half maps\",\n");
    if (r->has_ref) {
        run_json_resolution(f, "resolution_reference_A", "resolution_reference_note", r->resolution_ref,
                            r->cross_ref, 0.5);
        fprintf(f, "  \"mean_fsc_reference\": %.6f,\n", r->mean_fsc_ref);
    }
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
        run_json_string(f, r->gpu_variant);
        fprintf(f, ",\n");
    }
    run_json_fingerprint(f, fingerprint);
    run_json_parameters(f, p);
    fprintf(f, "}\n");
    if (fclose(f) != 0)
        return gar_error(GAR_ERR_IO, "%s: write failed", path);
    return GAR_OK;
}


/* Default shards of a reconstruction (whatever the rank count), and the
 * largest shard size [mpi] shard_size allows. */
#define RECON_SHARDS 128
#define GAR_SHARD_SIZE_MAX 100000000

/* A reconstruction's pass and what its checkpoints need to know. */
typedef struct recon_pass {
    const recon_settings *s;
    gar_recon *rec;
    gar_partials *parts;
    run_figures *fig;
    int rank, size;
    char path[4096];
    char *fingerprint;         /* rank 0: this run's (run_fprint.h), saved in each checkpoint */
    size_t box, shard_size, n_shards, particles;
    double every_s, last;
} recon_pass;

/* A worker, or the one process: insert a batch. */
static gar_status insert_batch(void *arg, run_batch *b)
{
    recon_pass *c = arg;
    gar_status st = gar_recon_insert(c->rec, b->images, b->meta, b->count);
    if (st != GAR_OK)
        return gar_error_context(st, "%s: particles %zu-%zu", b->path, b->first, b->first + b->span - 1);
    return GAR_OK;
}

/* After each shard: the GPUs' sums into the host's (with exact sums, so
 * that a device's float sum covers one shard only, whoever took it). */
static gar_status flush_shard(void *arg)
{
    recon_pass *c = arg;
    return gar_recon_flush(c->rec);
}

static int want_checkpoint(void *arg)
{
    const recon_pass *c = arg;
    return gar_signal_received() != 0 || (c->every_s > 0 && gar_wall_seconds() - c->last >= c->every_s);
}

/* The checkpoint's shape, and its volumes from the view (flushed). */
static gar_status checkpoint_shape(const recon_pass *c, gar_checkpoint *k, gar_recon_partial *v)
{
    gar_status st = gar_recon_partial_view(c->rec, v);
    memset(k, 0, sizeof *k);
    k->box = c->box;
    k->padded = v->padded;
    k->shard_size = c->shard_size;
    k->n_shards = c->n_shards;
    k->particles = c->particles;
    k->fingerprint = c->fingerprint;
    k->nvox = v->nvox;
    for (int h = 0; h < 2; h++) {
        k->G[h] = v->data[h];
        k->W[h] = v->weight[h];
    }
    return st;
}

/* Collective: the partial volumes, counts and skips of all ranks summed on rank 0. */
static gar_status reduce_partials(recon_pass *c)
{
    double skipped = (double)c->fig->skipped;
    gar_recon_partial v;
    gar_status st = gar_recon_partial_view(c->rec, &v);
    if (st == GAR_OK)
        st = gar_partials_reduce(c->parts, &v, &skipped, 1);
    if (st == GAR_OK && c->rank == 0)
        c->fig->skipped = (size_t)skipped;
    return st;
}

/* Collective: sum every rank's work so far into rank 0, which writes the
 * checkpoint; the workers start again from zero. GAR_ERR_CHECKPOINT if the run
 * is to stop (a signal reached rank 0), GAR_OK to go on. */
static gar_status take_checkpoint(void *arg, const unsigned char *done)
{
    recon_pass *c = arg;
    gar_status st = GAR_OK;
    int stop;
    if (c->size > 1) {
        st = reduce_partials(c);
        if (st == GAR_OK && c->rank != 0) {
            st = gar_recon_reset(c->rec);
            c->fig->skipped = 0;
        }
    }
    if (st == GAR_OK && c->rank == 0) {
        gar_checkpoint k;
        gar_recon_partial v;
        if ((st = checkpoint_shape(c, &k, &v)) == GAR_OK) {
            k.count[0] = v.count[0];
            k.count[1] = v.count[1];
            k.skipped = c->fig->skipped;
            k.done = (unsigned char *)done;
            st = gar_checkpoint_save(c->path, &k);
        }
    }
    if ((st = gar_mpi_agree_report(st, c->size)) != GAR_OK)
        return st;
    stop = c->size > 1 ? gar_mpi_bcast_int(gar_signal_received() != 0, 0) : gar_signal_received() != 0;
    c->last = gar_wall_seconds();
    if (stop)
        return gar_error(GAR_ERR_CHECKPOINT, "stopped by a signal: checkpoint written to %s; run again with "
                         "--resume to continue", c->path);
    gar_log_info("checkpoint written to %s", c->path);
    return GAR_OK;
}

/* Insert this rank's share (run_shards.h): shards done in a resumed
 * checkpoint are skipped, a checkpoint is taken between shards when asked for. */
static gar_status distribute(gar_inputs *in, recon_pass *c, const unsigned char *resumed_done)
{
    gar_status st;
    run_shards *shards = NULL;
    const gar_settings *set = &c->s->set;
    const run_shard_plan plan = {"inserted", 10.0, (size_t)set->reconstruct.batch,
                                 set->input.nonfinite == GAR_NONFINITE_SKIP, &c->fig->skipped, &c->fig->t_read,
                                 insert_batch, flush_shard, want_checkpoint, take_checkpoint, c,
                                 set->input.normalize};
    if ((st = run_shards_create(in, c->shard_size, &shards)) != GAR_OK)
        return st;
    if ((st = run_set_fixed_scale(c->s, c->rank, c->size, shards, c->rec, c->parts, c->particles, 1.0)) != GAR_OK) {
        run_shards_destroy(&shards);
        return st;
    }
    if (resumed_done != NULL)
        for (size_t k = 0; k < c->n_shards; k++)
            if (resumed_done[k])
                run_shards_mark_done(shards, k);
    st = run_shards_drive(shards, c->rank, c->size, &plan);
    run_shards_destroy(&shards);
    return st;
}

/* A reconstruct run: what its steps share. */
typedef struct recon_job {
    const gar_params *p;
    int rank, size;
    recon_settings s;
    const gar_settings *set;   /* s.set */
    gar_symmetry *sym;
    gar_inputs *in;
    gar_recon *rec;
    gar_recon_config cfg;
    gar_outdir *out;
    gar_map *ref;              /* [reconstruct] reference, rank 0 */
    size_t box;
    run_figures fig;
    recon_pass ck;
    unsigned char *resumed_done;
    char need[32], avail[32];  /* memory, for the log */
    char node_note[96];        /* the node's total, for the log ("" for one rank on it) */
} recon_job;

/* The settings, the symmetry and the stacks, each checked, with an error
 * naming the key. */
static gar_status check_inputs(recon_job *j)
{
    gar_status st;
    const gar_params *p = j->p;
    recon_settings *s = &j->s;
    char loc[512];
    if ((st = run_read_recon_settings(p, s)) != GAR_OK)
        return st;
    if ((st = gar_symmetry_create(s->set.reconstruct.symmetry, &j->sym)) != GAR_OK) {
        run_where(p, "reconstruct", "symmetry", loc, sizeof loc);
        return gar_error_context(st, "%s", loc);
    }
    if ((st = gar_inputs_open(s->set.input.stacks, s->set.input.n_stacks, &j->in)) != GAR_OK ||
        (st = gar_inputs_check_halves(j->in)) != GAR_OK)
        return st;
    j->box = j->fig.box = gar_inputs_box(j->in);
    j->fig.pixel = gar_inputs_pixel_size(j->in);
    if (!(gar_inputs_columns(j->in) & GAR_COL_POSE))
        return gar_error(GAR_ERR_DATA, "%s: the stacks hold no poses (rot_deg, tilt_deg, psi_deg); "
                         "reconstruct needs known poses", s->set.input.stacks[0]);
    if (s->set.reconstruct.ctf && !(gar_inputs_columns(j->in) & GAR_COL_CTF)) {
        run_where(p, "reconstruct", "ctf", loc, sizeof loc);
        return gar_error(GAR_ERR_DATA, "%s = yes, but the stacks hold no defocus columns; set it to no for "
                         "data without a CTF", loc);
    }
    if (s->set.reconstruct.max_resolution > 0 && s->set.reconstruct.max_resolution < 2.0 * j->fig.pixel - 1e-9) {
        run_where(p, "reconstruct", "max_resolution", loc, sizeof loc);
        return gar_error(GAR_ERR_USAGE, "%s: %g Å is finer than Nyquist (%g Å for %g Å pixels)", loc,
                         s->set.reconstruct.max_resolution,
                         2.0 * j->fig.pixel, j->fig.pixel);
    }
    if (s->set.reconstruct.reference != NULL && j->rank == 0) {
        if ((st = gar_mrc_read(s->set.reconstruct.reference, &j->ref)) != GAR_OK)
            return st;
        if ((st = run_check_map_values(p, "reconstruct", "reference", s->set.reconstruct.reference, j->ref, j->box,
                                       j->fig.pixel)) != GAR_OK)
            return st;
    }
    return GAR_OK;
}

/* Memory: checked before anything large is allocated, and collective: the
 * ranks on one node share its memory and its cgroup (Slurm's --mem), so
 * their needs are summed and compared with what the node has (issue 20:
 * three ranks that each fitted alone were all started and the kernel's OOM
 * killer ended the job). Each rank's own limits (ulimit -v, -d) are
 * compared with its own need. A worker of a run with exact sums holds its
 * sums in int64 fixed point, twice the size of float volumes; rank 0 alone
 * makes the maps. The log gives a worker's need, the largest with exact sums. Every
 * rank must call this (start agrees on the inputs first). */
static gar_status check_memory(recon_job *j)
{
    const gar_recon_config *cfg = &j->cfg;
    /* Workers never finalize: the maps and the inverse FFT are rank 0's.
     * Counting them overstated a worker's need by 0.6 GiB at box 256. */
    const size_t batch_bytes = cfg->batch * j->box * j->box * sizeof(float);
    const size_t inserting = gar_recon_insert_memory_bytes(cfg) + batch_bytes;
    const size_t common = inserting + (j->rank == 0 ? gar_recon_finalize_memory_bytes(cfg) : 0);
    const size_t partials = run_partials_memory_bytes(cfg, &j->s, j->rank, j->size, j->size > 1);
    gar_recon_config float_cfg = *cfg, worker_cfg = *cfg;
    float_cfg.fixed_sums = 0;
    worker_cfg.fixed_sums = run_exact_sums(&j->s, j->size);
    /* What exact sums cost: a worker's fixed-point volumes beyond floats,
     * rank 0's reduction buffer. */
    const size_t fixed_extra = gar_recon_insert_memory_bytes(cfg) - gar_recon_insert_memory_bytes(&float_cfg);
    const size_t exact = run_exact_sums(&j->s, j->size) ? partials + fixed_extra : 0;
    /* The fallbacks the refusals name (docs/PERFORMANCE.md, "Memory at
     * scale"): pad 1, and a resolution limit below Nyquist, since the sums
     * hold only the sphere within it (src/gar_sphere.h). */
    const char *fallback_hint = cfg->pad > 1 ? "set [reconstruct] pad = 1 (the fallback: volumes an eighth of pad 2's; "
                                          "its FSC cost in docs/PERFORMANCE.md, \"Memory at scale\"), a coarser "
                                          "[reconstruct] max_resolution (the volumes shrink with its cube), "
                                        : "set a coarser [reconstruct] max_resolution (the volumes shrink with its "
                                          "cube), ";
    char node_src[128], proc_src[128], exact_note[96] = "", exact_bytes[32], total_s[32], most_s[32], node_s[32];
    gar_status st;
    double node_need = 0, node_most = 0, node_exact = 0, exact_most = 0;
    int node_ranks = 1;
    const size_t node_avail = gar_node_memory_available(node_src, sizeof node_src);
    const size_t proc_left = gar_process_memory_left(proc_src, sizeof proc_src);
    const size_t avail_bytes = proc_left != SIZE_MAX && (node_avail == 0 || proc_left < node_avail) ? proc_left
                                                                                                      : node_avail;
    j->fig.memory_estimate = common + partials;
    if ((st = gar_mpi_node_sum((double)j->fig.memory_estimate, &node_need, &node_most, &node_ranks)) != GAR_OK ||
        (st = gar_mpi_node_sum((double)exact, &node_exact, &exact_most, &node_ranks)) != GAR_OK)
        return st;
    gar_format_bytes((double)j->fig.memory_estimate, j->need, sizeof j->need);
    gar_format_bytes((double)avail_bytes, j->avail, sizeof j->avail);
    if (exact > 0) {
        gar_format_bytes((double)exact, exact_bytes, sizeof exact_bytes);
        snprintf(exact_note, sizeof exact_note, ", %s of it for exact sums ([mpi] reproducible = no saves it)",
                 exact_bytes);
    }
    if (avail_bytes > 0 && j->fig.memory_estimate > avail_bytes)
        return gar_error(GAR_ERR_NOMEM, "this reconstruction needs %s (box %zu, padded %zu, batch %zu%s) but "
                         "only %s is available (%s); %slower [reconstruct] batch, or run on a node with more memory",
                         j->need, j->box, j->fig.padded, cfg->batch, exact_note, j->avail,
                         avail_bytes == proc_left ? proc_src : node_src, fallback_hint);
    if (node_ranks > 1 && node_avail > 0 && node_need > (double)node_avail) {
        /* Ranks that fit: the node's memory over the largest need (a
         * worker's), at least one. */
        const long fit = node_most > 0 ? (long)((double)node_avail / node_most) : 1;
        char fit_s[160];
        exact_note[0] = '\0';
        if (exact_most > 0) {
            gar_format_bytes(exact_most, exact_bytes, sizeof exact_bytes);
            snprintf(exact_note, sizeof exact_note, ", %s of it for exact sums ([mpi] reproducible = no saves it)",
                     exact_bytes);
        }
        gar_format_bytes(node_need, total_s, sizeof total_s);
        gar_format_bytes(node_most, most_s, sizeof most_s);
        gar_format_bytes((double)node_avail, node_s, sizeof node_s);
        run_node_fit_advice(fit, fit_s, sizeof fit_s);
        return gar_error(GAR_ERR_NOMEM, "the %d ranks on this node need %s together (up to %s each: box %zu, "
                         "padded %zu, batch %zu%s) but the node has %s (%s); %s%slower [reconstruct] batch",
                         node_ranks, total_s, most_s, j->box, j->fig.padded, cfg->batch, exact_note, node_s,
                         node_src, fit_s, fallback_hint);
    }
    /* Stacks are address space, not memory in use: they count against
     * ulimit -v only (issue 18, case 16: 256 threads under 2 GiB). */
    if ((st = run_check_thread_stacks(j->p, cfg->threads, j->fig.memory_estimate)) != GAR_OK)
        return st;
    if (j->rank == 0 && j->size > 1)
        gar_format_bytes((double)(gar_recon_insert_memory_bytes(&worker_cfg) + batch_bytes +
                                  run_partials_memory_bytes(cfg, &j->s, 1, j->size, 1)),
                         j->need, sizeof j->need);
    if (node_ranks > 1) {
        gar_format_bytes(node_need, total_s, sizeof total_s);
        snprintf(j->node_note, sizeof j->node_note, " (%s for the %d ranks of rank 0's node)", total_s, node_ranks);
    }
    return GAR_OK;
}

/* The reconstructor, its partial sums and the pass's shards; with --resume
 * (rank 0) the checkpoint's sums, counts and finished shards. */
static gar_status prepare_pass(recon_job *j, int resume)
{
    gar_status st;
    recon_pass *ck = &j->ck;
    if ((st = gar_recon_create(&j->cfg, &j->rec)) != GAR_OK ||
        (st = run_partials_create(j->rec, &j->s, j->cfg.threads, j->rank, j->size, &ck->parts)) != GAR_OK)
        return st;
    /* Shards: the unit of work handed out, and of the checkpoints. */
    ck->s = &j->s;
    ck->rec = j->rec;
    ck->fig = &j->fig;
    ck->rank = j->rank;
    ck->size = j->size;
    ck->box = j->box;
    ck->particles = gar_inputs_count(j->in);
    ck->every_s = j->set->output.checkpoint_minutes * 60.0;
    ck->last = gar_wall_seconds();
    snprintf(ck->path, sizeof ck->path, "%s", j->set->output.dir);
    for (size_t n = strlen(ck->path); n > 1 && ck->path[n - 1] == '/'; n--)
        ck->path[n - 1] = '\0';
    strncat(ck->path, ".checkpoint.h5", sizeof ck->path - strlen(ck->path) - 1);
    if (j->rank == 0 && (st = run_fprint_build(j->p, RUN_FPRINT_RECONSTRUCT, &ck->fingerprint)) != GAR_OK)
        return st;
    /* The default shard size ignores the rank count: a checkpoint records its
     * shards, and one written on one rank count must resume on another (issue
     * 18, case 20). 128 shards give each of up to 16 workers 8 or more. */
    ck->shard_size = run_shard_size_fixed(j->set->mpi.shard_size, ck->particles, RECON_SHARDS,
                                          (size_t)j->set->reconstruct.batch);
    /* A resume with the default takes the checkpoint's shard size, which a
     * garner whose default followed the rank count may have chosen otherwise.
     * Rank 0 reads it, every rank cuts the same shards; a checkpoint that
     * cannot be read leaves the default, and its load below says why. */
    if (resume && j->set->mpi.shard_size == 0) {
        uint64_t kept = j->rank == 0 ? gar_checkpoint_shard_size(ck->path) : 0;
        if (j->size > 1)
            kept = (uint64_t)gar_mpi_bcast_int(kept <= (uint64_t)GAR_SHARD_SIZE_MAX ? (int)kept : 0, 0);
        if (kept > 0 && kept <= (uint64_t)GAR_SHARD_SIZE_MAX)
            ck->shard_size = (size_t)kept;
    }
    for (size_t i = 0; i < gar_inputs_n_stacks(j->in); i++)
        ck->n_shards += (gar_stack_count(gar_inputs_stack(j->in, i)) + ck->shard_size - 1) / ck->shard_size;
    if (resume && j->rank == 0) {
        gar_checkpoint k;
        gar_recon_partial v;
        size_t finished = 0;
        char *stored = NULL, where[4200];
        /* Before anything is loaded: sums from other settings or stacks
         * would finish as a map of neither run (issue 18, case 2). */
        snprintf(where, sizeof where, "the checkpoint %s", ck->path);
        if ((st = gar_checkpoint_fingerprint(ck->path, &stored)) == GAR_OK)
            st = run_fprint_compare(ck->fingerprint, stored, 0, "--resume", where,
                                    "; resume with the settings and stacks that wrote it, or remove it and start "
                                    "again without --resume");
        free(stored);
        if (st != GAR_OK)
            return st;
        if ((st = checkpoint_shape(ck, &k, &v)) != GAR_OK ||
            (st = gar_calloc((void **)&j->resumed_done, ck->n_shards ? ck->n_shards : 1, 1, "shard flags")) != GAR_OK)
            return st;
        k.done = j->resumed_done;
        if ((st = gar_checkpoint_load(ck->path, &k)) != GAR_OK)
            return st;
        v.count[0] = (size_t)k.count[0];
        v.count[1] = (size_t)k.count[1];
        j->fig.skipped = (size_t)k.skipped;
        for (size_t i = 0; i < ck->n_shards; i++)
            finished += j->resumed_done[i];
        gar_log_info("resuming from %s: %zu of %zu shards done, %zu particles inserted", ck->path, finished,
                     ck->n_shards, (size_t)(k.count[0] + k.count[1]));
    }
    return GAR_OK;
}

/* Everything up to the pass, on every rank: checks, the output folder (rank
 * 0), the reconstructor. */
static gar_status start(recon_job *j, int resume)
{
    gar_status st;
    char loc[512];
    const gar_optics *optics;
    size_t n_optics = 0;
    /* Agreed here, because the memory check below is collective. */
    if ((st = gar_mpi_agree_report(check_inputs(j), j->size)) != GAR_OK)
        return st;
    /* The run-wide optics table: groups are numbered per stack, and two
     * stacks' groups of one number may differ; the metadata the shards read
     * carries run-wide numbers (gar_inputs.h). */
    optics = gar_inputs_optics(j->in, &n_optics);
    run_recon_config(&j->s, j->box, j->fig.pixel, optics, n_optics, j->sym, &j->cfg);
    /* A worker with exact sums inserts into fixed point (gar_partials.h). */
    j->cfg.fixed_sums = run_exact_sums(&j->s, j->size) && j->rank != 0;
    j->fig.threads = j->cfg.threads;
    j->fig.padded = gar_recon_padded_size(j->box, j->cfg.pad);
    if ((st = check_memory(j)) != GAR_OK)
        return st;
    run_where(j->p, "output", "dir", loc, sizeof loc);
    if (j->rank == 0 &&
        ((st = gar_outdir_begin(j->set->output.dir, j->set->output.overwrite, j->set->input.stacks,
                                j->set->input.n_stacks, loc, &j->out)) != GAR_OK ||
         (st = gar_log_tee_open(gar_outdir_file(j->out, "run.log"))) != GAR_OK))
        return st;
    gar_log_info("%zu particles, %zu px at %.4g Å/px, padded %zu, symmetry %s (%s), CTF %s, %d rank%s × "
                 "%d thread%s, memory %s of %s available per rank%s",
                 gar_inputs_count(j->in), j->box, j->fig.pixel, j->fig.padded, gar_symmetry_name(j->sym),
                 j->cfg.sym_mode == GAR_SYM_VOLUME ? "volume" : "insert", j->set->reconstruct.ctf ? "yes" : "no",
                 j->size, j->size > 1 ? "s" : "", j->cfg.threads, j->cfg.threads == 1 ? "" : "s", j->need, j->avail,
                 j->node_note);
    if (j->rank == 0 || j->size == 1)
        run_log_devices(&j->s, NULL);
    return prepare_pass(j, resume);
}

/* Collective, after the pass: the sums on rank 0, and the workers' times
 * and GPUs for its log. */
static gar_status gather(recon_job *j)
{
    gar_status st;
    run_figures *fig = &j->fig;
    if (j->size > 1 && (st = reduce_partials(&j->ck)) != GAR_OK)
        return st;
    fig->gpu_inserters = gar_recon_gpu_count(j->rec);
    if (j->size > 1) {
        /* Rank 0 only hands out shards: its log reports the workers' time
         * in each stage, summed over them, and their GPUs. */
        double t[4], unused;
        gar_recon_timings(j->rec, &t[1], &t[2], &unused);
        t[0] = fig->t_read;
        t[3] = (double)fig->gpu_inserters;
        if ((st = gar_mpi_reduce_sum(t, t, 4, 0, sizeof t)) != GAR_OK)
            return st;
        fig->t_read = t[0];
        fig->t_prepare = t[1];
        fig->t_insert = t[2];
        fig->gpu_inserters = (size_t)t[3];
    } else if (fig->gpu_inserters > 0) {
        run_log_devices(&j->s, j->rec);
        snprintf(fig->gpu_variant, sizeof fig->gpu_variant, "%s", gar_recon_gpu_variant(j->rec, 0, NULL, 0));
    }
    return GAR_OK;
}

/* Rank 0, before anything is published: each stack as it was at the start
 * (size, modification time, metadata digest). A stack copied over during
 * the run has given particles from two files (issue 18, case 8); the run
 * fails naming it, and its output folder is never committed. */
static gar_status recheck_stacks(const gar_params *p, const char *at_start)
{
    gar_status st;
    char *now = NULL;
    if ((st = run_fprint_stacks(p, &now)) == GAR_OK)
        st = run_fprint_compare(now, at_start, 1, "a stack changed during the run", "the run's start",
                                "; nothing was written: run again once the stacks stay put");
    free(now);
    return st;
}

/* Rank 0: the maps, FSC, pictures and summary into the output folder, which
 * then appears under its name; the spent checkpoint goes. */
static gar_status finish(recon_job *j, const char *params_path, double t0)
{
    gar_status st;
    run_figures *fig = &j->fig;
    gar_outdir *out = j->out;
    gar_map *half[2] = {NULL, NULL}, *full = NULL;
    double *fsc = NULL, *fsc_ref = NULL, prepare, insert;
    const size_t box = j->box, nshell = box / 2 + 1;
    char final_dir[4096], words[160];
    fig->used[0] = gar_recon_count(j->rec, 1);
    fig->used[1] = gar_recon_count(j->rec, 2);
    if (fig->used[0] == 0 || fig->used[1] == 0)
        return gar_error(GAR_ERR_DATA, "half set %d has no particles (half 1: %zu, half 2: %zu); both half "
                         "sets are needed for the FSC", fig->used[0] == 0 ? 1 : 2, fig->used[0], fig->used[1]);
    if ((st = recheck_stacks(j->p, j->ck.fingerprint)) != GAR_OK)
        return st;
    gar_log_info("finishing: weights, inverse FFT, gridding correction");
    if ((st = gar_recon_finalize(j->rec, 1, &half[0])) != GAR_OK ||
        (st = gar_recon_finalize(j->rec, 2, &half[1])) != GAR_OK ||
        (st = gar_recon_finalize(j->rec, 0, &full)) != GAR_OK)
        goto done;
    gar_recon_timings(j->rec, &prepare, &insert, &fig->t_finalize);
    if (j->size == 1) {
        fig->t_prepare = prepare;
        fig->t_insert = insert;
    }
    gar_partials_destroy(&j->ck.parts);
    gar_recon_destroy(&j->rec);
    if ((st = gar_alloc((void **)&fsc, nshell, sizeof(double), "FSC")) != GAR_OK ||
        (st = gar_fsc_compute(half[0], half[1], fsc)) != GAR_OK)
        goto done;
    fig->resolution = gar_fsc_find_resolution(fsc, nshell, box, fig->pixel, 0.143, &fig->cross);
    if (j->ref != NULL) {
        if ((st = gar_alloc((void **)&fsc_ref, nshell, sizeof(double), "FSC")) != GAR_OK ||
            (st = gar_fsc_compute(full, j->ref, fsc_ref)) != GAR_OK)
            goto done;
        fig->resolution_ref = gar_fsc_find_resolution(fsc_ref, nshell, box, fig->pixel, 0.5, &fig->cross_ref);
        fig->has_ref = 1;
        fig->mean_fsc_ref = gar_fsc_mean(fsc_ref, 1, nshell - 1);
    }
    fig->seconds = gar_wall_seconds() - t0;
    if ((st = gar_mrc_write(gar_outdir_file(out, "map.mrc"), full, GAR_MRC_VOLUME)) != GAR_OK ||
        (st = gar_mrc_write(gar_outdir_file(out, "half1.mrc"), half[0], GAR_MRC_VOLUME)) != GAR_OK ||
        (st = gar_mrc_write(gar_outdir_file(out, "half2.mrc"), half[1], GAR_MRC_VOLUME)) != GAR_OK ||
        (st = run_write_fsc_csv(gar_outdir_file(out, "fsc.csv"), fsc, fsc_ref, nshell, box, fig->pixel)) != GAR_OK ||
        (st = gar_plot_fsc2(gar_outdir_file(out, "fsc.png"), fsc, fsc_ref, nshell, box, fig->pixel, 0.143,
                            fig->resolution, "garner reconstruct: FSC", "half maps",
                            "against reference")) != GAR_OK ||
        (st = gar_plot_slices(gar_outdir_file(out, "slices.png"), full, "garner reconstruct: central sections")) !=
            GAR_OK ||
        (params_path != NULL && (st = run_copy_file(params_path, gar_outdir_file(out, "params.ini"))) != GAR_OK) ||
        (st = run_write_effective_params(j->p, gar_outdir_file(out, "params-effective.ini"))) != GAR_OK ||
        (st = write_summary(gar_outdir_file(out, "summary.json"), j->p, fig, j->ck.fingerprint)) != GAR_OK)
        goto done;
    snprintf(final_dir, sizeof final_dir, "%s", gar_outdir_final(out));
    if ((st = gar_outdir_commit(&j->out)) != GAR_OK)
        goto done;
    unlink(j->ck.path);   /* the run is complete: its checkpoint is spent */
    gar_log_info("%zu particles (%zu + %zu) in %.1f s (%.1f particles/s): read %.1f s, prepare %.1f s, "
                 "insert %.1f s%s, finish %.1f s", fig->used[0] + fig->used[1], fig->used[0], fig->used[1],
                 fig->seconds, (fig->used[0] + fig->used[1]) / fig->seconds, fig->t_read, fig->t_prepare,
                 fig->t_insert, j->size > 1 ? " (summed over the workers)" : "", fig->t_finalize);
    if (j->ref != NULL)
        gar_log_info("against the reference: %s, mean FSC %.3f",
                     run_resolution_words(fig->resolution_ref, fig->cross_ref, 0.5, words, sizeof words),
                     fig->mean_fsc_ref);
    if (fig->cross == GAR_FSC_CROSSES)
        gar_log_info("map: %s/map.mrc, resolution %.2f Å (FSC 0.143 between half maps)", final_dir, fig->resolution);
    else if (fig->cross == GAR_FSC_NEVER_BELOW)
        /* The line users and scripts read keeps its form; the bound is said. */
        gar_log_info("map: %s/map.mrc, resolution %.2f Å (Nyquist: the half maps' FSC stays at or above 0.143 "
                     "up to it, so the map is resolved to Nyquist or finer)", final_dir, fig->resolution);
    else
        gar_log_info("map: %s/map.mrc, half maps: %s", final_dir,
                     run_resolution_words(fig->resolution, fig->cross, 0.143, words, sizeof words));
done:
    gar_map_destroy(&half[0]);
    gar_map_destroy(&half[1]);
    gar_map_destroy(&full);
    free(fsc);
    free(fsc_ref);
    return st;
}

gar_status gar_run_reconstruct(gar_params *p, const char *params_path, int resume, int rank, int size)
{
    gar_status st;
    recon_job j;
    const double t0 = gar_wall_seconds();
    memset(&j, 0, sizeof j);
    j.p = p;
    j.set = &j.s.set;
    j.rank = rank;
    j.size = size;
    st = start(&j, resume);
    /* The first collective: every rank has validated the same inputs. */
    if ((st = gar_mpi_agree_report(st, size)) != GAR_OK)
        goto done;
    st = distribute(j.in, &j.ck, j.resumed_done);
    if ((st = gar_mpi_agree_report(st, size)) != GAR_OK || (st = gather(&j)) != GAR_OK)
        goto done;
    if (rank == 0)
        st = finish(&j, params_path, t0);
done:
    /* The log file stays open to the process's end: the error line, if
     * any, printed after this returns, belongs in it too. */
    free(j.resumed_done);
    free(j.ck.fingerprint);
    gar_outdir_abort(&j.out);
    gar_partials_destroy(&j.ck.parts);
    gar_recon_destroy(&j.rec);
    gar_map_destroy(&j.ref);
    gar_inputs_close(&j.in);
    gar_symmetry_destroy(&j.sym);
    return st;
}
