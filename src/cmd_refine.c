/* garner refine: gold-standard refinement by projection matching.
 *
 * Each iteration searches every particle against its half set's reference
 * (gar_search), reconstructs both half maps from the new poses (gar_recon, in
 * the same pass over the stacks), and measures the FSC between them. The
 * references of the next iteration are the half maps weighted by
 * sqrt(2 FSC / (1 + FSC)) and cut at a little beyond the resolution; while
 * the resolution is worse than [refine] join_below both half sets use their
 * average. The angular step halves when the resolution stops improving;
 * below [refine] local_search_below the search is local. The run ends when
 * the resolution has stalled at the finest useful step and few poses still
 * move, or after [refine] iterations. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cmd_common.h"
#include "config.h"
#include "gar_cli.h"
#include "gar_fsc.h"
#include "gar_geometry.h"
#include "gar_inputs.h"
#include "gar_kernels.h"
#include "gar_log.h"
#include "gar_mpi.h"
#include "gar_mrc.h"
#include "gar_outdir.h"
#include "gar_params.h"
#include "gar_plot.h"
#include "gar_poses.h"
#include "gar_recon.h"
#include "gar_refproj.h"
#include "gar_search.h"
#include "gar_stack.h"
#include "gar_symmetry.h"
#include "gar_sysinfo.h"

static const char refine_help[] =
    "usage: garner refine PARAMS [--set section.key=value ...] [--continue]\n"
    "\n"
    "Find every particle's pose and origin by projection matching against the\n"
    "current map, reconstruct the two half maps from the new poses, and repeat\n"
    "until the resolution stops improving (gold standard: the half sets are\n"
    "refined independently below [refine] join_below). Starts from\n"
    "[refine] initial_map, low-pass filtered to [refine] initial_resolution; the\n"
    "poses stored in the stacks are not used. The reconstructions use the\n"
    "[reconstruct] keys (ctf, pad, blob_*, threads, batch).\n"
    "\n"
    "Writes into [output] dir:\n"
    "  iter_NNN/       per iteration: half1.mrc, half2.mrc, fsc.csv, poses.h5\n"
    "  map.mrc         the final map from all particles; half1.mrc, half2.mrc\n"
    "  fsc.csv         FSC between the final half maps (and against\n"
    "                  [reconstruct] reference when given); fsc.png\n"
    "  angdist.png     the distribution of directions; slices.png\n"
    "  poses.h5        the final poses (garner export writes them as STAR)\n"
    "  summary.json    resolution, iterations, time, parameters\n"
    "\n"
    "options:\n"
    "  --set section.key=value   override a parameter (repeatable)\n"
    "  --continue                go on from the last finished iteration in [output] dir\n"
    "  -h, --help                this help\n"
    "\n"
    "SIGTERM or SIGUSR1 (Slurm's --signal) stops the run between shards with exit\n"
    "75, keeping the finished iterations for --continue.\n";

typedef struct refine_settings {
    const char *initial_map, *symmetry;
    double initial_res, step, shift_range, shift_step, local_below, join_below, mask_diameter;
    long iterations;
} refine_settings;

/* One iteration's record, for the log and summary.json. */
typedef struct iter_record {
    double step, resolution, changed, seconds, band, memory;
    double search_seconds;   /* in gar_search_batch, mean over the searching processes */
    int local;
} iter_record;

typedef struct refine_run {
    const gar_params *p;
    recon_settings rs;
    refine_settings f;
    gar_inputs *in;
    size_t n, box;
    double px, mask_px;
    const gar_optics *optics;
    size_t n_optics;
    gar_symmetry *sym;
    gar_recon_config rcfg;
    gar_pose *poses;
    gar_refine_state state;
    double finest_step;
    gar_map *half[2];          /* the last iteration's half maps */
    double *fsc;               /* and their FSC */
    size_t n_shells;
    iter_record rec[1000];
    double search_seconds;     /* this process's time in gar_search_batch, this pass */
    size_t n_rec;
    int rank, size;
    size_t *stack_base;        /* global index of each stack's first particle */
} refine_run;

static gar_status read_refine_settings(const gar_params *p, refine_settings *f)
{
    gar_status st;
    memset(f, 0, sizeof *f);
    if ((st = gar_params_get_path(p, "refine", "initial_map", &f->initial_map)) != GAR_OK ||
        (st = gar_params_get_double(p, "refine", "initial_resolution", &f->initial_res)) != GAR_OK ||
        (st = gar_params_get_string(p, "refine", "symmetry", &f->symmetry)) != GAR_OK ||
        (st = gar_params_get_double(p, "refine", "angular_step", &f->step)) != GAR_OK ||
        (st = gar_params_get_double(p, "refine", "shift_range", &f->shift_range)) != GAR_OK ||
        (st = gar_params_get_double(p, "refine", "shift_step", &f->shift_step)) != GAR_OK ||
        (st = gar_params_get_int(p, "refine", "iterations", &f->iterations)) != GAR_OK ||
        (st = gar_params_get_double(p, "refine", "local_search_below", &f->local_below)) != GAR_OK ||
        (st = gar_params_get_double(p, "refine", "join_below", &f->join_below)) != GAR_OK ||
        (st = gar_params_get_double(p, "refine", "mask_diameter", &f->mask_diameter)) != GAR_OK)
        return st;
    return GAR_OK;
}

/* Shell of the box at a resolution in Å. */
static double shell_of(const refine_run *r, double res_A) { return (double)r->box * r->px / res_A; }

/* 1 up to shell r0, a raised cosine to 0 over 3 shells beyond. */
static void low_pass(double r0, double *w, size_t n)
{
    for (size_t s = 0; s < n; s++)
        w[s] = (double)s <= r0 ? 1.0 : (double)s >= r0 + 3 ? 0.0 : 0.5 + 0.5 * cos(GAR_PI * ((double)s - r0) / 3.0);
}

/* The search band (shells) for a resolution: a little beyond it, within the box. */
static double search_band(const refine_run *r, double res_A)
{
    double b = 1.2 * shell_of(r, res_A) + 2.0, top = r->box / 2.0 - 3.0;
    return b < 3.0 ? 3.0 : b > top ? top : b;
}

/* The first search's band: the initial resolution. */
static double first_band(const refine_run *r) { return fmin(shell_of(r, r->f.initial_res), r->box / 2.0 - 3.0); }

/* The references of the next iteration. Iteration 1: the initial map, low
 * pass filtered, for both half sets. Later: each half map (or, while the
 * resolution is worse than join_below, their average) weighted by
 * sqrt(2 FSC / (1 + FSC)) within the band. */
static gar_status make_references(refine_run *r, const gar_map *initial, double band, gar_refproj *ref[2])
{
    gar_status st = GAR_OK;
    const size_t ns = r->box / 2 + 1;
    double *w = NULL;
    gar_map *avg = NULL;
    ref[0] = ref[1] = NULL;
    if ((st = gar_alloc((void **)&w, ns, sizeof *w, "filter")) != GAR_OK)
        return st;
    if (initial != NULL) {
        low_pass(shell_of(r, r->f.initial_res), w, ns);
        st = gar_refproj_create(initial, r->mask_px, w, ns, &ref[0]);
        ref[1] = ref[0];
        goto done;
    }
    for (size_t s = 0; s < ns; s++) {
        double F = r->fsc[s] > 0 ? r->fsc[s] : 0;
        w[s] = (double)s <= band ? sqrt(2 * F / (1 + F)) : 0;
    }
    w[0] = 1;
    if (r->state.resolution_A > r->f.join_below) {
        if ((st = gar_map_create(r->box, r->box, r->box, r->px, &avg)) != GAR_OK)
            goto done;
        for (size_t i = 0; i < gar_map_voxels(avg); i++)
            avg->data[i] = 0.5f * (r->half[0]->data[i] + r->half[1]->data[i]);
        st = gar_refproj_create(avg, r->mask_px, w, ns, &ref[0]);
        ref[1] = ref[0];
        goto done;
    }
    if ((st = gar_refproj_create(r->half[0], r->mask_px, w, ns, &ref[0])) == GAR_OK)
        st = gar_refproj_create(r->half[1], r->mask_px, w, ns, &ref[1]);
done:
    free(w);
    gar_map_destroy(&avg);
    return st;
}

static void free_references(gar_refproj *ref[2])
{
    if (ref[1] != ref[0])
        gar_refproj_destroy(&ref[1]);
    gar_refproj_destroy(&ref[0]);
    ref[1] = NULL;
}

/* Buffers for one range of particles at a time. */
typedef struct pass_buf {
    float *images;
    gar_particle *meta;
    double *score;
    size_t *idx;
} pass_buf;

/* Particles searched per second by one process, from the searching
 * processes' mean time in the search (0 when there was none). */
static double search_rate(const refine_run *r, double search_seconds)
{
    const double per_process = r->size > 1 ? (double)r->n / (double)(r->size - 1) : (double)r->n;
    return search_seconds > 0 ? per_process / search_seconds : 0;
}

/* Particles [first, first + count) of stack k (global indices from base):
 * search each batch (when `search` is given), then insert it with the poses
 * found. Found poses go to r->poses and updated[i] is set; *moved counts the
 * poses that moved by more than `step` degrees (modulo the symmetry). */
static gar_status search_range(refine_run *r, gar_search *search, gar_recon *rec, pass_buf *b, size_t k, size_t first0,
                               size_t count, size_t base, double step, unsigned char *updated, size_t *moved)
{
    gar_status st;
    const size_t batch = (size_t)r->rs.batch, npix = r->box * r->box, end = first0 + count;
    gar_stack *stack = gar_inputs_stack(r->in, k);
    for (size_t first = first0; first < end; first += batch) {
        size_t cnt = end - first < batch ? end - first : batch, kept = 0;
        if ((st = gar_stack_read_images(stack, first, cnt, b->images)) != GAR_OK ||
            (st = gar_stack_read_meta(stack, first, cnt, b->meta)) != GAR_OK)
            return st;
        for (size_t i = 0; i < cnt; i++) {
            const gar_pose *q = &r->poses[base + first + i];
            if (!gar_image_is_finite(b->images + i * npix, npix)) {
                if (!r->rs.skip_nonfinite)
                    return gar_error(GAR_ERR_DATA, "%s: particle %zu: image holds NaN or Inf (set [input] "
                                     "nonfinite = skip to leave such particles out)", gar_stack_path(stack), first + i);
                continue;
            }
            if (kept != i)
                memcpy(b->images + kept * npix, b->images + i * npix, npix * sizeof(float));
            b->meta[kept] = b->meta[i];
            b->meta[kept].rot_deg = q->rot_deg;
            b->meta[kept].tilt_deg = q->tilt_deg;
            b->meta[kept].psi_deg = q->psi_deg;
            b->meta[kept].origin_x_A = q->origin_x_A;
            b->meta[kept].origin_y_A = q->origin_y_A;
            b->meta[kept].half_set = q->half_set;
            b->idx[kept] = base + first + i;
            kept++;
        }
        if (search != NULL && kept > 0) {
            const double t = gar_wall_seconds();
            if ((st = gar_search_batch(search, b->images, b->meta, b->score, kept)) != GAR_OK)
                return st;
            r->search_seconds += gar_wall_seconds() - t;
        }
        for (size_t i = 0; i < kept && search != NULL; i++) {
            gar_pose *q = &r->poses[b->idx[i]];
            double A[9], B[9];
            gar_euler_to_matrix(q->rot_deg, q->tilt_deg, q->psi_deg, A);
            gar_euler_to_matrix(b->meta[i].rot_deg, b->meta[i].tilt_deg, b->meta[i].psi_deg, B);
            *moved += gar_symmetry_angle_between(r->sym, A, B) > step;
            q->rot_deg = b->meta[i].rot_deg;
            q->tilt_deg = b->meta[i].tilt_deg;
            q->psi_deg = b->meta[i].psi_deg;
            q->origin_x_A = b->meta[i].origin_x_A;
            q->origin_y_A = b->meta[i].origin_y_A;
            q->score = b->score[i];
            updated[b->idx[i]] = 1;
        }
        if (kept > 0 && (st = gar_recon_insert(rec, b->images, b->meta, kept)) != GAR_OK)
            return st;
    }
    return GAR_OK;
}

static void shard_progress(size_t handed_out, void *arg) { gar_progress_update((gar_progress *)arg, handed_out); }

/* A signal (Slurm's --signal before the time limit) stops the pass between
 * shards; the finished iterations stay on disk for --continue. */
static int want_stop(void *arg)
{
    (void)arg;
    return cmd_stop_signal != 0;
}

static gar_status stopped(const refine_run *r)
{
    return gar_error(GAR_ERR_CHECKPOINT, "stopped by a signal during iteration %llu: %s holds the iterations "
                     "finished before it; run again with --continue to go on from there",
                     (unsigned long long)r->state.iteration + 1, r->rs.out_dir);
}

/* Sum the workers' partial volumes and counts (cmd_partials_reduce, exact
 * as for reconstruct), and bring the poses they found to rank 0 (each
 * particle was searched by one rank: a sum of the rows, with a flag for the
 * rows a rank wrote, adds only zeros to each row and is exact). Collective. */
static gar_status gather_results(refine_run *r, cmd_partials *parts, const unsigned char *updated, size_t *moved)
{
    gar_status st = GAR_OK;
    const size_t chunk = (size_t)r->rs.reduce_chunk_mb << 20, n = r->n;
    double sums[2] = {(double)*moved, r->search_seconds};
    double *rows = NULL;
    if ((st = cmd_partials_reduce(parts, sums, 2)) != GAR_OK ||
        (st = gar_calloc((void **)&rows, n ? n : 1, 7 * sizeof(double), "poses")) != GAR_OK)
        return st;
    for (size_t i = 0; i < n; i++)
        if (updated[i]) {
            const gar_pose *q = &r->poses[i];
            double *x = rows + 7 * i;
            x[0] = q->rot_deg, x[1] = q->tilt_deg, x[2] = q->psi_deg;
            x[3] = q->origin_x_A, x[4] = q->origin_y_A, x[5] = q->score, x[6] = 1;
        }
    if ((st = gar_mpi_reduce_sum(rows, rows, 7 * n, 0, chunk)) == GAR_OK) {
        *moved = (size_t)sums[0];
        r->search_seconds = sums[1] / (double)(r->size - 1);   /* rank 0 hands out, workers search */
        for (size_t i = 0; i < n; i++) {
            const double *x = rows + 7 * i;
            if (x[6] > 0.5) {
                gar_pose *q = &r->poses[i];
                q->rot_deg = x[0], q->tilt_deg = x[1], q->psi_deg = x[2];
                q->origin_x_A = x[3], q->origin_y_A = x[4], q->score = x[5];
            }
        }
    }
    free(rows);
    return st;
}

/* One pass over all particles: with one process it works through the shards
 * itself; with several, rank 0 hands them out on request and the workers
 * search and insert them into `rec`, folding it into `parts` after each shard;
 * then the results meet on rank 0. *changed (rank 0): the fraction of
 * particles whose pose moved by more than `step`. */
static gar_status iteration_pass(refine_run *r, int searching, gar_search *search, cmd_partials *parts,
                                 gar_recon *rec, double step, double *changed)
{
    gar_status st = GAR_OK;
    const size_t batch = (size_t)r->rs.batch, npix = r->box * r->box;
    pass_buf b = {NULL, NULL, NULL, NULL};
    unsigned char *updated = NULL;
    cmd_shard *shards = NULL;
    gar_sched *sched = NULL;
    size_t n_shards = 0, moved = 0, shard_size = (size_t)r->rs.shard_size;
    gar_progress *prog = NULL;
    r->search_seconds = 0;
    if (shard_size == 0) {
        size_t pieces = r->size > 1 ? 8 * (size_t)(r->size - 1) : 16;
        shard_size = (r->n + pieces - 1) / pieces;
        if (shard_size < batch)
            shard_size = batch;
    }
    if ((st = gar_alloc((void **)&b.images, batch, npix * sizeof(float), "particle batch")) != GAR_OK ||
        (st = gar_alloc((void **)&b.meta, batch, sizeof *b.meta, "metadata batch")) != GAR_OK ||
        (st = gar_alloc((void **)&b.score, batch, sizeof *b.score, "scores")) != GAR_OK ||
        (st = gar_alloc((void **)&b.idx, batch, sizeof *b.idx, "particle indices")) != GAR_OK ||
        (st = gar_calloc((void **)&updated, r->n ? r->n : 1, 1, "pose flags")) != GAR_OK ||
        (st = cmd_make_shards(r->in, shard_size, &shards, &n_shards)) != GAR_OK)
        goto done;
    if (r->size > 1 && (st = gar_sched_create(n_shards, &sched)) != GAR_OK)
        goto done;
    if (r->rank == 0)
        prog = gar_progress_create(searching ? "search" : "reconstruct", "shards", n_shards, 30.0);
    if (r->size == 1) {
        for (size_t k = 0; k < n_shards && st == GAR_OK; k++) {
            const cmd_shard *sh = &shards[k];
            if (want_stop(NULL)) {
                st = stopped(r);
                break;
            }
            st = search_range(r, search, rec, &b, sh->stack, sh->first, sh->count, r->stack_base[sh->stack], step,
                              updated, &moved);
            gar_progress_update(prog, k + 1);
            cmd_test_shard_pause(&cmd_stop_signal);
        }
    } else if (r->rank == 0) {
        if ((st = gar_sched_serve(sched, 2e-3, shard_progress, want_stop, prog)) == GAR_OK)
            cmd_log_spread(sched, r->size);
        else if (st == GAR_ERR_CHECKPOINT)
            st = stopped(r);
    } else {
        long k;
        while ((st = gar_sched_next(sched, &k)) == GAR_OK && k >= 0) {
            const cmd_shard *sh = &shards[k];
            st = search_range(r, search, rec, &b, sh->stack, sh->first, sh->count, r->stack_base[sh->stack], step,
                              updated, &moved);
            if (st == GAR_OK)
                st = cmd_partials_fold(parts);
            if (st != GAR_OK) {
                gar_sched_fail(sched, st);
                break;
            }
            cmd_test_shard_pause(&cmd_stop_signal);
        }
        if (st == GAR_OK && k == -2)   /* rank 0 stops the run */
            st = stopped(r);
    }
    if ((st = gar_mpi_agree_report(st, r->size)) != GAR_OK)
        goto done;
    gar_progress_finish(&prog);
    if (r->size > 1 && (st = gather_results(r, parts, updated, &moved)) != GAR_OK)
        goto done;
    *changed = r->n ? (double)moved / (double)r->n : 0;
done:
    gar_progress_destroy(&prog);
    gar_sched_destroy(&sched);
    free(shards);
    free(updated);
    free(b.images);
    free(b.meta);
    free(b.score);
    free(b.idx);
    return st;
}

/* dir/name into buf. */
static const char *join(char *buf, size_t len, const char *dir, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= len)   /* too long a path: fails later, named in the error */
        buf[len - 1] = '\0';
    return buf;
}

static gar_status make_dir(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return gar_error(GAR_ERR_OUTPUT, "%s: cannot create the folder: %s", path, strerror(errno));
    return GAR_OK;
}

static const char *const iter_files[] = {"half1.mrc", "half2.mrc", "fsc.csv", "poses.h5", NULL};

/* Remove an iteration folder garner wrote (its known files, then the folder). */
static void remove_iteration_dir(const char *dir)
{
    char path[4200];
    for (int i = 0; iter_files[i] != NULL; i++)
        unlink(join(path, sizeof path, dir, iter_files[i]));
    rmdir(dir);
}

/* Write iteration `it`'s folder under a temporary name, then rename it. */
static gar_status write_iteration(refine_run *r, size_t it)
{
    gar_status st;
    char tmp[4200], final[4200], name[64], path[4400];
    snprintf(name, sizeof name, ".iter_%03zu.tmp-%ld", it, (long)getpid());
    join(tmp, sizeof tmp, r->rs.out_dir, name);
    snprintf(name, sizeof name, "iter_%03zu", it);
    join(final, sizeof final, r->rs.out_dir, name);
    if ((st = make_dir(tmp)) != GAR_OK)
        return st;
    if ((st = gar_mrc_write(join(path, sizeof path, tmp, "half1.mrc"), r->half[0])) != GAR_OK ||
        (st = gar_mrc_write(join(path, sizeof path, tmp, "half2.mrc"), r->half[1])) != GAR_OK ||
        (st = cmd_write_fsc_csv(join(path, sizeof path, tmp, "fsc.csv"), r->fsc, NULL, r->n_shells, r->box,
                                r->px)) != GAR_OK ||
        (st = gar_poses_write(join(path, sizeof path, tmp, "poses.h5"), r->poses, r->n, &r->state)) != GAR_OK)
        goto fail;
    remove_iteration_dir(final);   /* a stale one from an overwritten run */
    if (rename(tmp, final) != 0) {
        st = gar_error(GAR_ERR_OUTPUT, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
        goto fail;
    }
    return GAR_OK;
fail:
    remove_iteration_dir(tmp);
    return st;
}

/* The last finished iteration in the output folder (0: none). */
static size_t last_iteration(const refine_run *r)
{
    DIR *d = opendir(r->rs.out_dir);
    struct dirent *e;
    size_t best = 0;
    char path[4200], sub[4400];
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        unsigned it;
        char tail;
        if (sscanf(e->d_name, "iter_%3u%c", &it, &tail) == 1 && it > best &&
            access(join(sub, sizeof sub, join(path, sizeof path, r->rs.out_dir, e->d_name), "poses.h5"), R_OK) == 0)
            best = it;
    }
    closedir(d);
    return best;
}

/* Load iteration `it`: poses, state, half maps, FSC. */
static gar_status load_iteration(refine_run *r, size_t it)
{
    gar_status st;
    char dir[4200], name[64], path[4400];
    snprintf(name, sizeof name, "iter_%03zu", it);
    join(dir, sizeof dir, r->rs.out_dir, name);
    if ((st = gar_poses_read(join(path, sizeof path, dir, "poses.h5"), r->poses, r->n, &r->state)) != GAR_OK ||
        (st = gar_mrc_read(join(path, sizeof path, dir, "half1.mrc"), &r->half[0])) != GAR_OK ||
        (st = gar_mrc_read(join(path, sizeof path, dir, "half2.mrc"), &r->half[1])) != GAR_OK)
        return st;
    if (r->half[0]->nx != r->box || r->half[1]->nx != r->box)
        return gar_error(GAR_ERR_DATA, "%s: half maps of another box than the particles' %zu", dir, r->box);
    return gar_fsc_compute(r->half[0], r->half[1], r->fsc);
}

/* Decide the next iteration's step and mode from this one's resolution. */
static void advance(refine_run *r, double resolution, double changed)
{
    gar_refine_state *s = &r->state;
    const double D = r->mask_px * 2 * r->px;
    s->resolution_A = resolution;
    s->changed_fraction = changed;
    if (s->best_resolution_A <= 0 || resolution < 0.99 * s->best_resolution_A) {
        s->best_resolution_A = resolution;
        s->stalls = 0;
    } else {
        s->stalls++;
    }
    /* The finest step worth searching: a quarter of the angle the resolution
     * subtends at the particle's radius. Half of it (as before) ended the
     * tii-64 benchmark one step coarser: one more local iteration there cost
     * 14-20 % more time and gave a median angular error of 0.54° instead of
     * 0.61° at SNR 1, 1.87° instead of 2.04° at SNR 0.2 (92.3 % within 5°
     * instead of 90.8 %). */
    r->finest_step = fmax(0.5, (s->best_resolution_A / (0.5 * D)) * 180.0 / GAR_PI * 0.25);
    if (s->stalls > 0) {
        if (s->angular_step_deg > r->finest_step) {
            s->angular_step_deg *= 0.5;
            s->stalls = 0;
        } else if (changed < 0.1) {
            s->converged = 1;
        }
    }
    s->local = s->angular_step_deg <= r->f.local_below;
}

static gar_status write_summary(const refine_run *r, const char *path, double seconds, double res_ref,
                                double mean_ref)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return gar_error(GAR_ERR_OUTPUT, "%s: cannot create", path);
    fprintf(f, "{\n  \"garner_version\": \"%s\",\n  \"particles\": %zu,\n", PACKAGE_VERSION, r->n);
    fprintf(f, "  \"iterations\": %llu,\n  \"converged\": %s,\n", (unsigned long long)r->state.iteration,
            r->state.converged ? "true" : "false");
    fprintf(f, "  \"resolution_A\": %.4f,\n  \"resolution_criterion\": \"FSC 0.143 between half maps\",\n",
            r->state.resolution_A);
    if (res_ref > 0)
        fprintf(f, "  \"resolution_reference_A\": %.4f,\n  \"mean_fsc_reference\": %.6f,\n", res_ref, mean_ref);
    fprintf(f, "  \"wall_time_s\": %.3f,\n  \"history\": [", seconds);
    for (size_t i = 0; i < r->n_rec; i++)
        fprintf(f, "%s\n    {\"step_deg\": %.4g, \"search\": \"%s\", \"band_shells\": %.2f, \"resolution_A\": %.4f, "
                "\"changed_fraction\": %.4f, \"seconds\": %.2f, \"search_seconds\": %.2f, "
                "\"search_particles_per_s\": %.1f, \"memory_estimate_bytes\": %.0f}", i ? "," : "",
                r->rec[i].step, r->rec[i].local ? "local" : "global", r->rec[i].band, r->rec[i].resolution,
                r->rec[i].changed, r->rec[i].seconds, r->rec[i].search_seconds,
                search_rate(r, r->rec[i].search_seconds), r->rec[i].memory);
    fprintf(f, "\n  ],\n  \"peak_memory_bytes\": %zu,\n", gar_peak_rss_bytes());
    cmd_json_parameters(f, r->p);
    fprintf(f, "}\n");
    if (fclose(f) != 0)
        return gar_error(GAR_ERR_IO, "%s: write failed", path);
    return GAR_OK;
}

/* The final outputs, each written under a temporary name and renamed. */
static gar_status write_final(refine_run *r, gar_recon *rec, const char *params_path, const gar_map *truth,
                              double seconds)
{
    gar_status st;
    gar_map *full = NULL;
    double *fsc_ref = NULL, *rot = NULL, *tilt = NULL, res_ref = 0, mean_ref = 0;
    char tmp[4400], final[4400], name[128];
    static const char *const names[] = {"map.mrc", "half1.mrc", "half2.mrc", "fsc.csv", "fsc.png", "angdist.png",
                                        "slices.png", "poses.h5", "params.ini", "summary.json", NULL};
    if ((st = gar_recon_finalize(rec, 0, &full)) != GAR_OK ||
        (st = gar_alloc((void **)&rot, r->n ? r->n : 1, sizeof *rot, "directions")) != GAR_OK ||
        (st = gar_alloc((void **)&tilt, r->n ? r->n : 1, sizeof *tilt, "directions")) != GAR_OK)
        goto done;
    for (size_t i = 0; i < r->n; i++) {
        rot[i] = r->poses[i].rot_deg;
        tilt[i] = r->poses[i].tilt_deg;
    }
    if (truth != NULL) {
        if ((st = gar_alloc((void **)&fsc_ref, r->n_shells, sizeof *fsc_ref, "FSC")) != GAR_OK ||
            (st = gar_fsc_compute(full, truth, fsc_ref)) != GAR_OK)
            goto done;
        res_ref = gar_fsc_resolution(fsc_ref, r->n_shells, r->box, r->px, 0.5);
        mean_ref = gar_fsc_mean(fsc_ref, 1, r->n_shells - 1);
    }
#define TMP(n) (snprintf(name, sizeof name, ".%s.tmp-%ld", (n), (long)getpid()), join(tmp, sizeof tmp, r->rs.out_dir, name))
    if ((st = gar_mrc_write(TMP("map.mrc"), full)) != GAR_OK ||
        (st = gar_mrc_write(TMP("half1.mrc"), r->half[0])) != GAR_OK ||
        (st = gar_mrc_write(TMP("half2.mrc"), r->half[1])) != GAR_OK ||
        (st = cmd_write_fsc_csv(TMP("fsc.csv"), r->fsc, fsc_ref, r->n_shells, r->box, r->px)) != GAR_OK ||
        (st = gar_plot_fsc2(TMP("fsc.png"), r->fsc, fsc_ref, r->n_shells, r->box, r->px, 0.143, r->state.resolution_A,
                            "garner refine: FSC", "half maps", "against reference")) != GAR_OK ||
        (st = gar_plot_angdist(TMP("angdist.png"), rot, tilt, r->n, "garner refine: directions")) != GAR_OK ||
        (st = gar_plot_slices(TMP("slices.png"), full, "garner refine: central sections")) != GAR_OK ||
        (st = gar_poses_write(TMP("poses.h5"), r->poses, r->n, &r->state)) != GAR_OK ||
        (st = cmd_copy_file(params_path, TMP("params.ini"))) != GAR_OK ||
        (st = write_summary(r, TMP("summary.json"), seconds, res_ref, mean_ref)) != GAR_OK)
        goto done;
    for (int i = 0; names[i] != NULL; i++)
        if (rename(TMP(names[i]), join(final, sizeof final, r->rs.out_dir, names[i])) != 0) {
            st = gar_error(GAR_ERR_OUTPUT, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
            goto done;
        }
    if (truth != NULL)
        gar_log_info("against the reference: FSC 0.5 at %.2f Å, mean FSC %.3f", res_ref, mean_ref);
done:
    if (st != GAR_OK)
        for (int i = 0; names[i] != NULL; i++)
            unlink(TMP(names[i]));
#undef TMP
    gar_map_destroy(&full);
    free(fsc_ref);
    free(rot);
    free(tilt);
    return st;
}

/* An iteration's reconstructor and the partial volumes over it (every rank). */
static void search_config(const refine_run *r, double step, int local, double band, gar_search_config *sc)
{
    memset(sc, 0, sizeof *sc);
    sc->box = r->box;
    sc->pixel_size_A = r->px;
    sc->band_radius = band;
    sc->mask_radius_px = r->mask_px;
    sc->ctf = r->rs.ctf;
    sc->optics = r->optics;
    sc->n_optics = r->n_optics;
    sc->sym = r->sym;
    sc->mode = local ? GAR_SEARCH_LOCAL : GAR_SEARCH_GLOBAL;
    sc->angular_step_deg = step;
    sc->shift_range_A = r->f.shift_range > 0 ? r->f.shift_range : 5 * r->px;
    sc->shift_step_A = r->f.shift_step > 0 ? r->f.shift_step : r->px;
    sc->top_k = 8;
    sc->threads = r->rcfg.threads;
    sc->gpu_devices = r->rcfg.gpu_devices;
    sc->n_gpu_devices = r->rcfg.n_gpu_devices;
    sc->batch = (size_t)r->rs.batch;
}

/* Iteration `it`'s memory on a rank: its references, search and
 * reconstruction all live at once, beside the maps, the poses and a batch of
 * particles. */
typedef struct refine_memory {
    double search, refs, recon, total;
} refine_memory;

static gar_status iteration_memory(const refine_run *r, int rank, size_t it, double step, int local, double band,
                                   refine_memory *m)
{
    gar_status st;
    const int two_refs = it > 1 && r->state.resolution_A <= r->f.join_below;
    const double vol = (double)r->box * r->box * r->box * sizeof(float);
    double ref_kept, ref_extra;
    memset(m, 0, sizeof *m);
    if (rank != 0 || r->size == 1) {
        gar_search_config sc;
        search_config(r, step, local, band, &sc);
        if ((st = gar_search_memory_bytes(&sc, two_refs, &m->search)) != GAR_OK)
            return st;
        gar_refproj_memory_bytes(r->box, &ref_kept, &ref_extra);
        m->refs = (two_refs ? 2 : 1) * ref_kept + ref_extra;
    }
    m->recon = (double)gar_recon_memory_bytes(&r->rcfg) +
               (double)cmd_partials_memory_bytes(&r->rcfg, &r->rs, rank, r->size);
    /* Besides: half maps, their average, the initial map and the reference
     * map; the poses and their flags; a batch of particles with metadata. */
    m->total = m->search + m->refs + m->recon + 5 * vol + (double)r->n * (sizeof *r->poses + 1) +
               (double)r->rs.batch * ((double)r->box * r->box * sizeof(float) + sizeof(gar_particle) + 16);
    return GAR_OK;
}

/* Checked before the iteration's references, search and reconstruction are
 * made: iteration 1 before the output folder is made, each later one as it
 * starts (a later global search at a finer step may need much more).
 * *searching receives a searching rank's need, the largest, for the log
 * (this rank's own unless it is the master of a parallel run). */
static gar_status check_memory(const refine_run *r, size_t it, double step, int local, double band,
                               refine_memory *searching)
{
    gar_status st;
    refine_memory m;
    char mem_src[128], need_s[32], avail_s[32], search_s[32], refs_s[32], recon_s[32];
    size_t avail;
    if ((st = iteration_memory(r, r->rank, it, step, local, band, &m)) != GAR_OK)
        return st;
    *searching = m;
    if (r->rank == 0 && r->size > 1 && (st = iteration_memory(r, 1, it, step, local, band, searching)) != GAR_OK)
        return st;
    avail = gar_available_memory(mem_src, sizeof mem_src);
    if (avail == 0 || m.total <= (double)avail)
        return GAR_OK;
    gar_format_bytes(m.total, need_s, sizeof need_s);
    gar_format_bytes((double)avail, avail_s, sizeof avail_s);
    gar_format_bytes(m.search, search_s, sizeof search_s);
    gar_format_bytes(m.refs, refs_s, sizeof refs_s);
    gar_format_bytes(m.recon, recon_s, sizeof recon_s);
    return gar_error(GAR_ERR_NOMEM, "iteration %zu needs %s on this rank (%s search at %.3g degrees over %.1f shells "
                     "with %d threads: %s; references %s; reconstruction %s) but only %s is available (%s); %s",
                     it, need_s, local ? "local" : "global", step, band, r->rcfg.threads, search_s, refs_s, recon_s,
                     avail_s, mem_src,
                     local ? "lower [reconstruct] threads, batch or pad, or run on a node with more memory"
                           : "raise [refine] angular_step, or local_search_below to search locally from this step, "
                             "lower [reconstruct] threads, or run on a node with more memory");
}

static gar_status make_recon(refine_run *r, gar_recon **rec, cmd_partials **parts)
{
    gar_status st;
    if ((st = gar_recon_create(&r->rcfg, rec)) != GAR_OK)
        return st;
    return cmd_partials_create(*rec, &r->rs, r->rcfg.threads, r->rank, r->size, parts);
}

static gar_status run(gar_params *p, const char *params_path, int resume, int rank, int size)
{
    gar_status st = GAR_OK;
    refine_run *r = NULL;
    gar_map *initial = NULL, *truth = NULL;
    gar_recon *rec = NULL;
    cmd_partials *parts = NULL;
    gar_search *search = NULL;
    gar_refproj *ref[2] = {NULL, NULL};
    char loc[512], need_s[32], avail_s[32], mem_src[128], mem_note[128] = "";
    double t0 = gar_wall_seconds();

    if ((st = gar_calloc((void **)&r, 1, sizeof *r, "refinement")) != GAR_OK)
        return st;
    r->p = p;
    r->rank = rank;
    r->size = size;
    if ((st = cmd_read_recon_settings(p, &r->rs)) != GAR_OK || (st = read_refine_settings(p, &r->f)) != GAR_OK)
        goto checked;
    if (gar_params_is_set(p, "reconstruct", "symmetry") && strcmp(r->rs.symmetry, r->f.symmetry) != 0) {
        cmd_where(p, "reconstruct", "symmetry", loc, sizeof loc);
        st = gar_error(GAR_ERR_USAGE, "%s = %s, but refine uses [refine] symmetry (%s): set the symmetry there "
                       "only", loc, r->rs.symmetry, r->f.symmetry);
        goto checked;
    }
    if ((st = gar_symmetry_create(r->f.symmetry, &r->sym)) != GAR_OK) {
        cmd_where(p, "refine", "symmetry", loc, sizeof loc);
        gar_error_context(st, "%s", loc);
        goto checked;
    }
    if ((st = gar_inputs_open(r->rs.stacks, r->rs.n_stacks, &r->in)) != GAR_OK)
        goto checked;
    r->n = gar_inputs_count(r->in);
    r->box = gar_inputs_box(r->in);
    r->px = gar_inputs_pixel_size(r->in);
    r->n_shells = r->box / 2 + 1;
    if (r->rs.ctf && !(gar_inputs_columns(r->in) & GAR_COL_CTF)) {
        cmd_where(p, "reconstruct", "ctf", loc, sizeof loc);
        st = gar_error(GAR_ERR_DATA, "%s = yes, but the stacks hold no defocus columns; set it to no for data "
                       "without a CTF", loc);
        goto checked;
    }
    if ((st = gar_mrc_read(r->f.initial_map, &initial)) != GAR_OK)
        goto checked;
    if (initial->nx != r->box || initial->ny != r->box || initial->nz != r->box) {
        cmd_where(p, "refine", "initial_map", loc, sizeof loc);
        st = gar_error(GAR_ERR_DATA, "%s: %s is %zu x %zu x %zu, the particles are %zu x %zu", loc, r->f.initial_map,
                       initial->nx, initial->ny, initial->nz, r->box, r->box);
        goto checked;
    }
    if (initial->pixel_size > 0 && fabs(initial->pixel_size / r->px - 1) > 0.01) {
        cmd_where(p, "refine", "initial_map", loc, sizeof loc);
        st = gar_error(GAR_ERR_DATA, "%s: %s has %.4g Å pixels, the particles %.4g Å", loc, r->f.initial_map,
                       initial->pixel_size, r->px);
        goto checked;
    }
    if (r->rs.reference != NULL && (st = gar_mrc_read(r->rs.reference, &truth)) != GAR_OK)
        goto checked;
    if (truth != NULL && (truth->nx != r->box || truth->ny != r->box || truth->nz != r->box)) {
        cmd_where(p, "reconstruct", "reference", loc, sizeof loc);
        st = gar_error(GAR_ERR_DATA, "%s: %s is not a %zu³ map", loc, r->rs.reference, r->box);
        goto checked;
    }
    r->mask_px = r->f.mask_diameter > 0 ? 0.5 * r->f.mask_diameter / r->px : 0.45 * (double)r->box;
    if (r->mask_px > 0.5 * (double)r->box) {
        cmd_where(p, "refine", "mask_diameter", loc, sizeof loc);
        st = gar_error(GAR_ERR_USAGE, "%s: %g Å is wider than the box (%g Å)", loc, r->f.mask_diameter,
                       r->box * r->px);
        goto checked;
    }
    if (shell_of(r, r->f.initial_res) >= r->box / 2.0 - 3) {
        cmd_where(p, "refine", "initial_resolution", loc, sizeof loc);
        st = gar_error(GAR_ERR_USAGE, "%s: %g Å is too close to Nyquist (%g Å) to start from", loc,
                       r->f.initial_res, 2 * r->px);
        goto checked;
    }

    r->optics = gar_stack_optics(gar_inputs_stack(r->in, 0), &r->n_optics);
    if ((st = gar_calloc((void **)&r->poses, r->n ? r->n : 1, sizeof *r->poses, "poses")) != GAR_OK ||
        (st = gar_calloc((void **)&r->fsc, r->n_shells, sizeof *r->fsc, "FSC")) != GAR_OK ||
        (st = gar_calloc((void **)&r->stack_base, gar_inputs_n_stacks(r->in), sizeof *r->stack_base,
                         "stack offsets")) != GAR_OK)
        goto checked;
    memset(&r->rcfg, 0, sizeof r->rcfg);
    cmd_recon_config(&r->rs, r->box, r->px, r->optics, r->n_optics, r->sym, &r->rcfg);

    /* The start: half sets from the stacks, no poses (a global search needs none). */
    {
        size_t base = 0;
        gar_particle *m = NULL;
        if ((st = gar_alloc((void **)&m, 4096, sizeof *m, "metadata")) != GAR_OK)
            goto checked;
        for (size_t k = 0; k < gar_inputs_n_stacks(r->in) && st == GAR_OK; k++) {
            gar_stack *stack = gar_inputs_stack(r->in, k);
            r->stack_base[k] = base;
            for (size_t i = 0; i < gar_stack_count(stack) && st == GAR_OK; i += 4096) {
                size_t cnt = gar_stack_count(stack) - i < 4096 ? gar_stack_count(stack) - i : 4096;
                if ((st = gar_stack_read_meta(stack, i, cnt, m)) == GAR_OK)
                    for (size_t j = 0; j < cnt; j++)
                        r->poses[base + i + j].half_set = m[j].half_set;
            }
            base += gar_stack_count(stack);
        }
        free(m);
        if (st != GAR_OK)
            goto checked;
    }
    r->state.angular_step_deg = r->f.step;
    r->state.local = r->f.step <= r->f.local_below;
    if (!resume) {
        refine_memory m;
        if ((st = check_memory(r, 1, r->f.step, r->state.local, first_band(r), &m)) == GAR_OK) {
            gar_format_bytes(m.total, need_s, sizeof need_s);
            gar_format_bytes((double)gar_available_memory(mem_src, sizeof mem_src), avail_s, sizeof avail_s);
            snprintf(mem_note, sizeof mem_note, ", memory %s of %s available per rank", need_s, avail_s);
        }
    }
checked:
    /* Every rank checked the same inputs. */
    if ((st = gar_mpi_agree_report(st, size)) != GAR_OK)
        goto done;

    /* The output folder (rank 0): new, or the one to continue. */
    cmd_where(p, "output", "dir", loc, sizeof loc);
    if (rank == 0 && resume) {
        size_t last = last_iteration(r);
        if (last == 0)
            st = gar_error(GAR_ERR_NOINPUT, "%s: %s holds no finished iteration to continue from", loc, r->rs.out_dir);
        else if ((st = load_iteration(r, last)) == GAR_OK)
            gar_log_info("continuing from iteration %zu of %s: resolution %.2f Å, next step %.3g degrees", last,
                         r->rs.out_dir, r->state.resolution_A, r->state.angular_step_deg);
    } else if (rank == 0) {
        gar_outdir *out = NULL;
        /* Checks the folder (not an input, empty unless overwrite); refine writes into it directly. */
        if ((st = gar_outdir_begin(r->rs.out_dir, r->rs.overwrite, r->rs.stacks, r->rs.n_stacks, loc, &out)) == GAR_OK) {
            gar_outdir_abort(&out);
            st = make_dir(r->rs.out_dir);
        }
    }
    if ((st = gar_mpi_agree_report(st, size)) != GAR_OK)
        goto done;
    gar_log_info("%zu particles, %zu px at %.4g Å/px, symmetry %s, from %s at %g Å, step %g degrees, %d rank%s × %d "
                 "threads%s", r->n, r->box, r->px, gar_symmetry_name(r->sym), r->f.initial_map, r->f.initial_res,
                 r->f.step, size, size > 1 ? "s" : "", r->rcfg.threads, mem_note);
    if (rank == 0 || size == 1) {
        cmd_log_devices(&r->rs, NULL);
        if (r->rcfg.n_gpu_devices > 0)
            gar_log_info("search: the coarse stage of global searches on the same GPU%s (cuBLAS), the rest on "
                         "the CPU threads", r->rcfg.n_gpu_devices > 1 ? "s" : "");
    }

    for (;;) {
        /* Rank 0 holds the state: every rank starts the iteration from it. */
        if (size > 1 && ((st = gar_mpi_bcast_bytes(&r->state, sizeof r->state, 0)) != GAR_OK ||
                         (st = gar_mpi_bcast_bytes(r->poses, r->n * sizeof *r->poses, 0)) != GAR_OK ||
                         (st = gar_mpi_bcast_bytes(r->fsc, r->n_shells * sizeof *r->fsc, 0)) != GAR_OK))
            goto done;
        if (size > 1 && r->state.iteration > 0) {
            for (int h = 0; h < 2 && st == GAR_OK; h++)
                if (r->half[h] == NULL)
                    st = gar_map_create(r->box, r->box, r->box, r->px, &r->half[h]);
            if ((st = gar_mpi_agree_report(st, size)) != GAR_OK)
                goto done;
            for (int h = 0; h < 2 && st == GAR_OK; h++)
                st = gar_mpi_bcast_bytes(r->half[h]->data, gar_map_voxels(r->half[h]) * sizeof(float), 0);
            if (st != GAR_OK)
                goto done;
        }
        if (r->state.converged || r->state.iteration >= (uint64_t)r->f.iterations)
            break;
        const size_t it = (size_t)r->state.iteration + 1;
        const double t_it = gar_wall_seconds(), step = r->state.angular_step_deg;
        const int local = (int)r->state.local;
        const double band = it == 1 ? first_band(r) : search_band(r, r->state.resolution_A);
        double changed = 0, res;
        refine_memory it_mem;
        cmd_partials_destroy(&parts);
        gar_recon_destroy(&rec);
        if ((st = check_memory(r, it, step, local, band, &it_mem)) == GAR_OK)
            gar_format_bytes(it_mem.total, need_s, sizeof need_s);
        if (st == GAR_OK && (rank != 0 || size == 1)) {
            gar_search_config sc;
            search_config(r, step, local, band, &sc);
            if ((st = make_references(r, it == 1 ? initial : NULL, band, ref)) == GAR_OK) {
                sc.ref[0] = ref[0];
                sc.ref[1] = ref[1];
                st = gar_search_create(&sc, &search);
            }
        }
        if (st == GAR_OK)
            st = make_recon(r, &rec, &parts);
        if ((st = gar_mpi_agree_report(st, size)) != GAR_OK)
            goto done;
        gar_log_info("iteration %zu: %s search at %.3g degrees over %.1f shells (%.1f Å)%s, memory %s per rank", it,
                     local ? "local" : "global", step, band, r->box * r->px / band,
                     it > 1 && r->state.resolution_A > r->f.join_below ? ", half sets joined" : "", need_s);
        if ((st = iteration_pass(r, 1, search, parts, rec, step, &changed)) != GAR_OK)
            goto done;
        gar_search_destroy(&search);
        free_references(ref);
        if (rank == 0) {
            gar_map_destroy(&r->half[0]);
            gar_map_destroy(&r->half[1]);
            if ((st = gar_recon_finalize(rec, 1, &r->half[0])) == GAR_OK &&
                (st = gar_recon_finalize(rec, 2, &r->half[1])) == GAR_OK &&
                (st = gar_fsc_compute(r->half[0], r->half[1], r->fsc)) == GAR_OK) {
                res = gar_fsc_resolution(r->fsc, r->n_shells, r->box, r->px, 0.143);
                r->state.iteration = it;
                advance(r, res, it == 1 ? 1.0 : changed);
                if (r->n_rec < sizeof r->rec / sizeof r->rec[0])
                    r->rec[r->n_rec++] = (iter_record){step, res, it == 1 ? 1.0 : changed, gar_wall_seconds() - t_it,
                                                       band, it_mem.total, r->search_seconds, local};
                if ((st = write_iteration(r, it)) == GAR_OK)
                    gar_log_info("iteration %zu: resolution %.2f Å (FSC 0.143), %.0f %% of poses moved more than "
                                 "%.3g degrees, %.1f s (search %.1f s, %.0f particles/s per process)%s", it, res,
                                 100 * (it == 1 ? 1.0 : changed), step, gar_wall_seconds() - t_it, r->search_seconds,
                                 search_rate(r, r->search_seconds), r->state.converged ? "; converged" : "");
            }
        }
        if ((st = gar_mpi_agree_report(st, size)) != GAR_OK)
            goto done;
    }
    if (rec == NULL) {
        /* Continued after the last iteration: reconstruct from its poses. */
        double unused;
        st = make_recon(r, &rec, &parts);
        if ((st = gar_mpi_agree_report(st, size)) != GAR_OK ||
            (st = iteration_pass(r, 0, NULL, parts, rec, 0, &unused)) != GAR_OK)
            goto done;
    }
    if (rank == 0 && (st = write_final(r, rec, params_path, truth, gar_wall_seconds() - t0)) == GAR_OK) {
        gar_log_info("%s after %llu iterations in %.1f s", r->state.converged ? "converged" : "stopped",
                     (unsigned long long)r->state.iteration, gar_wall_seconds() - t0);
        gar_log_info("map: %s/map.mrc, resolution %.2f Å (FSC 0.143 between half maps)", r->rs.out_dir,
                     r->state.resolution_A);
    }
    st = gar_mpi_agree_report(st, size);
done:
    gar_search_destroy(&search);
    free_references(ref);
    cmd_partials_destroy(&parts);
    gar_recon_destroy(&rec);
    gar_map_destroy(&initial);
    gar_map_destroy(&truth);
    if (r != NULL) {
        gar_map_destroy(&r->half[0]);
        gar_map_destroy(&r->half[1]);
        free(r->fsc);
        free(r->poses);
        free(r->stack_base);
        gar_inputs_close(&r->in);
        gar_symmetry_destroy(&r->sym);
        free(r);
    }
    return st;
}

int gar_cmd_refine(int argc, char **argv)
{
    return cmd_parallel_main(argc, argv, "refine", refine_help, "continue", cmd_catch_stop_signals, run);
}
