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
    "  -h, --help                this help\n";

typedef struct refine_settings {
    const char *initial_map, *symmetry;
    double initial_res, step, shift_range, shift_step, local_below, join_below, mask_diameter;
    long iterations;
} refine_settings;

/* One iteration's record, for the log and summary.json. */
typedef struct iter_record {
    double step, resolution, changed, seconds, band;
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
    double *ops;
    gar_recon_config rcfg;
    gar_pose *poses;
    gar_refine_state state;
    double finest_step;
    gar_map *half[2];          /* the last iteration's half maps */
    double *fsc;               /* and their FSC */
    size_t n_shells;
    iter_record rec[1000];
    size_t n_rec;
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

/* One pass over the stacks: search each batch (when `search` is given),
 * then insert it with the poses found. *changed: the fraction of particles
 * whose pose moved by more than `step` degrees (modulo the symmetry). */
static gar_status pass(refine_run *r, gar_search *search, gar_recon *rec, double step, double *changed)
{
    gar_status st = GAR_OK;
    const size_t batch = (size_t)r->rs.batch, npix = r->box * r->box;
    float *images = NULL;
    gar_particle *meta = NULL;
    double *score = NULL;
    size_t *idx = NULL, base = 0, moved = 0, done = 0;
    gar_progress *prog = gar_progress_create(search ? "search" : "reconstruct", "particles", r->n, 30.0);
    if ((st = gar_alloc((void **)&images, batch, npix * sizeof(float), "particle batch")) != GAR_OK ||
        (st = gar_alloc((void **)&meta, batch, sizeof *meta, "metadata batch")) != GAR_OK ||
        (st = gar_alloc((void **)&score, batch, sizeof *score, "scores")) != GAR_OK ||
        (st = gar_alloc((void **)&idx, batch, sizeof *idx, "particle indices")) != GAR_OK)
        goto done;
    for (size_t k = 0; k < gar_inputs_n_stacks(r->in); k++) {
        gar_stack *stack = gar_inputs_stack(r->in, k);
        const size_t count = gar_stack_count(stack);
        for (size_t first = 0; first < count; first += batch) {
            size_t cnt = count - first < batch ? count - first : batch, kept = 0;
            if ((st = gar_stack_read_images(stack, first, cnt, images)) != GAR_OK ||
                (st = gar_stack_read_meta(stack, first, cnt, meta)) != GAR_OK)
                goto done;
            for (size_t i = 0; i < cnt; i++) {
                const gar_pose *q = &r->poses[base + first + i];
                if (!gar_image_is_finite(images + i * npix, npix)) {
                    if (!r->rs.skip_nonfinite) {
                        st = gar_error(GAR_ERR_DATA, "%s: particle %zu: image holds NaN or Inf (set [input] "
                                       "nonfinite = skip to leave such particles out)", gar_stack_path(stack),
                                       first + i);
                        goto done;
                    }
                    continue;
                }
                if (kept != i)
                    memcpy(images + kept * npix, images + i * npix, npix * sizeof(float));
                meta[kept] = meta[i];
                meta[kept].rot_deg = q->rot_deg;
                meta[kept].tilt_deg = q->tilt_deg;
                meta[kept].psi_deg = q->psi_deg;
                meta[kept].origin_x_A = q->origin_x_A;
                meta[kept].origin_y_A = q->origin_y_A;
                meta[kept].half_set = q->half_set;
                idx[kept] = base + first + i;
                kept++;
            }
            if (search != NULL && kept > 0 && (st = gar_search_batch(search, images, meta, score, kept)) != GAR_OK)
                goto done;
            for (size_t i = 0; i < kept && search != NULL; i++) {
                gar_pose *q = &r->poses[idx[i]];
                double A[9], B[9], a;
                gar_euler_to_matrix(q->rot_deg, q->tilt_deg, q->psi_deg, A);
                gar_euler_to_matrix(meta[i].rot_deg, meta[i].tilt_deg, meta[i].psi_deg, B);
                a = gar_symmetry_angle_between(r->sym, A, B);
                moved += a > step;
                q->rot_deg = meta[i].rot_deg;
                q->tilt_deg = meta[i].tilt_deg;
                q->psi_deg = meta[i].psi_deg;
                q->origin_x_A = meta[i].origin_x_A;
                q->origin_y_A = meta[i].origin_y_A;
                q->score = score[i];
            }
            if (kept > 0 && (st = gar_recon_insert(rec, images, meta, kept)) != GAR_OK)
                goto done;
            done += cnt;
            gar_progress_update(prog, done);
        }
        base += count;
    }
    gar_progress_finish(&prog);
    *changed = r->n ? (double)moved / (double)r->n : 0;
done:
    gar_progress_destroy(&prog);
    free(images);
    free(meta);
    free(score);
    free(idx);
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
    /* The finest step worth searching: about the angle the resolution subtends
     * at the particle's radius. */
    r->finest_step = fmax(0.5, (s->best_resolution_A / (0.5 * D)) * 180.0 / GAR_PI * 0.5);
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
                "\"changed_fraction\": %.4f, \"seconds\": %.2f}", i ? "," : "", r->rec[i].step,
                r->rec[i].local ? "local" : "global", r->rec[i].band, r->rec[i].resolution, r->rec[i].changed,
                r->rec[i].seconds);
    fprintf(f, "\n  ],\n");
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

static gar_status run(gar_params *p, const char *params_path, int resume)
{
    gar_status st = GAR_OK;
    refine_run *r = NULL;
    gar_map *initial = NULL, *truth = NULL;
    gar_recon *rec = NULL;
    gar_search *search = NULL;
    gar_refproj *ref[2] = {NULL, NULL};
    char loc[512];
    double t0 = gar_wall_seconds();

    if ((st = gar_calloc((void **)&r, 1, sizeof *r, "refinement")) != GAR_OK)
        return st;
    r->p = p;
    if ((st = cmd_read_recon_settings(p, &r->rs)) != GAR_OK || (st = read_refine_settings(p, &r->f)) != GAR_OK)
        goto done;
    if (gar_params_is_set(p, "reconstruct", "symmetry") && strcmp(r->rs.symmetry, r->f.symmetry) != 0) {
        cmd_where(p, "reconstruct", "symmetry", loc, sizeof loc);
        st = gar_error(GAR_ERR_USAGE, "%s = %s, but refine uses [refine] symmetry (%s): set the symmetry there "
                       "only", loc, r->rs.symmetry, r->f.symmetry);
        goto done;
    }
    if ((st = gar_symmetry_create(r->f.symmetry, &r->sym)) != GAR_OK) {
        cmd_where(p, "refine", "symmetry", loc, sizeof loc);
        gar_error_context(st, "%s", loc);
        goto done;
    }
    if ((st = gar_inputs_open(r->rs.stacks, r->rs.n_stacks, &r->in)) != GAR_OK)
        goto done;
    r->n = gar_inputs_count(r->in);
    r->box = gar_inputs_box(r->in);
    r->px = gar_inputs_pixel_size(r->in);
    r->n_shells = r->box / 2 + 1;
    if (r->rs.ctf && !(gar_inputs_columns(r->in) & GAR_COL_CTF)) {
        cmd_where(p, "reconstruct", "ctf", loc, sizeof loc);
        st = gar_error(GAR_ERR_DATA, "%s = yes, but the stacks hold no defocus columns; set it to no for data "
                       "without a CTF", loc);
        goto done;
    }
    if ((st = gar_mrc_read(r->f.initial_map, &initial)) != GAR_OK)
        goto done;
    if (initial->nx != r->box || initial->ny != r->box || initial->nz != r->box) {
        cmd_where(p, "refine", "initial_map", loc, sizeof loc);
        st = gar_error(GAR_ERR_DATA, "%s: %s is %zu x %zu x %zu, the particles are %zu x %zu", loc, r->f.initial_map,
                       initial->nx, initial->ny, initial->nz, r->box, r->box);
        goto done;
    }
    if (initial->pixel_size > 0 && fabs(initial->pixel_size / r->px - 1) > 0.01) {
        cmd_where(p, "refine", "initial_map", loc, sizeof loc);
        st = gar_error(GAR_ERR_DATA, "%s: %s has %.4g Å pixels, the particles %.4g Å", loc, r->f.initial_map,
                       initial->pixel_size, r->px);
        goto done;
    }
    if (r->rs.reference != NULL && (st = gar_mrc_read(r->rs.reference, &truth)) != GAR_OK)
        goto done;
    if (truth != NULL && (truth->nx != r->box || truth->ny != r->box || truth->nz != r->box)) {
        cmd_where(p, "reconstruct", "reference", loc, sizeof loc);
        st = gar_error(GAR_ERR_DATA, "%s: %s is not a %zu³ map", loc, r->rs.reference, r->box);
        goto done;
    }
    r->mask_px = r->f.mask_diameter > 0 ? 0.5 * r->f.mask_diameter / r->px : 0.45 * (double)r->box;
    if (r->mask_px > 0.5 * (double)r->box) {
        cmd_where(p, "refine", "mask_diameter", loc, sizeof loc);
        st = gar_error(GAR_ERR_USAGE, "%s: %g Å is wider than the box (%g Å)", loc, r->f.mask_diameter,
                       r->box * r->px);
        goto done;
    }
    if (shell_of(r, r->f.initial_res) >= r->box / 2.0 - 3) {
        cmd_where(p, "refine", "initial_resolution", loc, sizeof loc);
        st = gar_error(GAR_ERR_USAGE, "%s: %g Å is too close to Nyquist (%g Å) to start from", loc,
                       r->f.initial_res, 2 * r->px);
        goto done;
    }

    r->optics = gar_stack_optics(gar_inputs_stack(r->in, 0), &r->n_optics);
    if ((st = gar_alloc((void **)&r->ops, gar_symmetry_order(r->sym), 9 * sizeof(double), "operators")) != GAR_OK ||
        (st = gar_calloc((void **)&r->poses, r->n ? r->n : 1, sizeof *r->poses, "poses")) != GAR_OK ||
        (st = gar_calloc((void **)&r->fsc, r->n_shells, sizeof *r->fsc, "FSC")) != GAR_OK)
        goto done;
    for (size_t i = 0; i < gar_symmetry_order(r->sym); i++)
        memcpy(r->ops + 9 * i, gar_symmetry_matrix(r->sym, i), 9 * sizeof(double));
    memset(&r->rcfg, 0, sizeof r->rcfg);
    r->rcfg.box = r->box;
    r->rcfg.pixel_size_A = r->px;
    r->rcfg.pad = (int)r->rs.pad;
    r->rcfg.blob_radius = r->rs.blob_radius;
    r->rcfg.blob_alpha = r->rs.blob_alpha;
    r->rcfg.blob_order = (int)r->rs.blob_order;
    r->rcfg.ctf = r->rs.ctf;
    r->rcfg.optics = r->optics;
    r->rcfg.n_optics = r->n_optics;
    r->rcfg.sym_ops = r->ops;
    r->rcfg.n_ops = gar_symmetry_order(r->sym);
    r->rcfg.sym_mode = r->rs.sym_volume ? GAR_SYM_VOLUME : GAR_SYM_INSERT;
    r->rcfg.threads = r->rs.threads > 0 ? (int)r->rs.threads : gar_usable_cores();
    r->rcfg.batch = (size_t)r->rs.batch;
    r->rcfg.outer_mask = r->rs.outer_mask;

    /* The start: half sets from the stacks, no poses (a global search needs none). */
    {
        size_t base = 0;
        gar_particle m;
        for (size_t k = 0; k < gar_inputs_n_stacks(r->in); k++) {
            gar_stack *stack = gar_inputs_stack(r->in, k);
            for (size_t i = 0; i < gar_stack_count(stack); i++) {
                if ((st = gar_stack_read_meta(stack, i, 1, &m)) != GAR_OK)
                    goto done;
                r->poses[base + i].half_set = m.half_set;
            }
            base += gar_stack_count(stack);
        }
    }
    r->state.angular_step_deg = r->f.step;
    r->state.local = r->f.step <= r->f.local_below;

    /* The output folder: new, or the one to continue. */
    cmd_where(p, "output", "dir", loc, sizeof loc);
    if (resume) {
        size_t last = last_iteration(r);
        if (last == 0) {
            st = gar_error(GAR_ERR_NOINPUT, "%s: %s holds no finished iteration to continue from", loc, r->rs.out_dir);
            goto done;
        }
        if ((st = load_iteration(r, last)) != GAR_OK)
            goto done;
        gar_log_info("continuing from iteration %zu of %s: resolution %.2f Å, next step %.3g degrees", last,
                     r->rs.out_dir, r->state.resolution_A, r->state.angular_step_deg);
    } else {
        gar_outdir *out = NULL;
        /* Checks the folder (not an input, empty unless overwrite); refine writes into it directly. */
        if ((st = gar_outdir_begin(r->rs.out_dir, r->rs.overwrite, r->rs.stacks, r->rs.n_stacks, loc, &out)) != GAR_OK)
            goto done;
        gar_outdir_abort(&out);
        if ((st = make_dir(r->rs.out_dir)) != GAR_OK)
            goto done;
    }
    gar_log_info("%zu particles, %zu px at %.4g Å/px, symmetry %s, from %s at %g Å, step %g degrees, %d threads",
                 r->n, r->box, r->px, gar_symmetry_name(r->sym), r->f.initial_map, r->f.initial_res, r->f.step,
                 r->rcfg.threads);

    while (!r->state.converged && r->state.iteration < (uint64_t)r->f.iterations) {
        const size_t it = (size_t)r->state.iteration + 1;
        const double t_it = gar_wall_seconds(), step = r->state.angular_step_deg;
        const int local = (int)r->state.local;
        const double band = it == 1 ? fmin(shell_of(r, r->f.initial_res), r->box / 2.0 - 3.0)
                                    : search_band(r, r->state.resolution_A);
        double changed = 0, res;
        gar_search_config sc;
        if ((st = make_references(r, it == 1 ? initial : NULL, band, ref)) != GAR_OK)
            goto done;
        memset(&sc, 0, sizeof sc);
        sc.box = r->box;
        sc.pixel_size_A = r->px;
        sc.band_radius = band;
        sc.mask_radius_px = r->mask_px;
        sc.ctf = r->rs.ctf;
        sc.optics = r->optics;
        sc.n_optics = r->n_optics;
        sc.sym = r->sym;
        sc.mode = local ? GAR_SEARCH_LOCAL : GAR_SEARCH_GLOBAL;
        sc.angular_step_deg = step;
        sc.shift_range_A = r->f.shift_range > 0 ? r->f.shift_range : 5 * r->px;
        sc.shift_step_A = r->f.shift_step > 0 ? r->f.shift_step : r->px;
        sc.top_k = 8;
        sc.threads = r->rcfg.threads;
        sc.ref[0] = ref[0];
        sc.ref[1] = ref[1];
        if ((st = gar_search_create(&sc, &search)) != GAR_OK || (st = gar_recon_create(&r->rcfg, &rec)) != GAR_OK)
            goto done;
        gar_log_info("iteration %zu: %s search at %.3g degrees over %.1f shells (%.1f Å)%s", it,
                     local ? "local" : "global", step, band, r->box * r->px / band,
                     ref[0] == ref[1] && it > 1 ? ", half sets joined" : "");
        if ((st = pass(r, search, rec, step, &changed)) != GAR_OK)
            goto done;
        gar_search_destroy(&search);
        free_references(ref);
        gar_map_destroy(&r->half[0]);
        gar_map_destroy(&r->half[1]);
        if ((st = gar_recon_finalize(rec, 1, &r->half[0])) != GAR_OK ||
            (st = gar_recon_finalize(rec, 2, &r->half[1])) != GAR_OK ||
            (st = gar_fsc_compute(r->half[0], r->half[1], r->fsc)) != GAR_OK)
            goto done;
        res = gar_fsc_resolution(r->fsc, r->n_shells, r->box, r->px, 0.143);
        r->state.iteration = it;
        advance(r, res, it == 1 ? 1.0 : changed);
        if (r->n_rec < sizeof r->rec / sizeof r->rec[0])
            r->rec[r->n_rec++] = (iter_record){step, res, it == 1 ? 1.0 : changed, gar_wall_seconds() - t_it, band,
                                               local};
        if ((st = write_iteration(r, it)) != GAR_OK)
            goto done;
        gar_log_info("iteration %zu: resolution %.2f Å (FSC 0.143), %.0f %% of poses moved more than %.3g degrees, "
                     "%.1f s%s", it, res, 100 * (it == 1 ? 1.0 : changed), step, gar_wall_seconds() - t_it,
                     r->state.converged ? "; converged" : "");
        if (r->state.iteration < (uint64_t)r->f.iterations && !r->state.converged)
            gar_recon_destroy(&rec);
    }
    if (rec == NULL) {
        /* Continued after the last iteration: reconstruct from its poses. */
        double unused;
        if ((st = gar_recon_create(&r->rcfg, &rec)) != GAR_OK || (st = pass(r, NULL, rec, 0, &unused)) != GAR_OK)
            goto done;
    }
    if ((st = write_final(r, rec, params_path, truth, gar_wall_seconds() - t0)) != GAR_OK)
        goto done;
    gar_log_info("%s after %llu iterations in %.1f s", r->state.converged ? "converged" : "stopped",
                 (unsigned long long)r->state.iteration, gar_wall_seconds() - t0);
    gar_log_info("map: %s/map.mrc, resolution %.2f Å (FSC 0.143 between half maps)", r->rs.out_dir,
                 r->state.resolution_A);
done:
    gar_search_destroy(&search);
    free_references(ref);
    gar_recon_destroy(&rec);
    gar_map_destroy(&initial);
    gar_map_destroy(&truth);
    if (r != NULL) {
        gar_map_destroy(&r->half[0]);
        gar_map_destroy(&r->half[1]);
        free(r->fsc);
        free(r->poses);
        free(r->ops);
        gar_inputs_close(&r->in);
        gar_symmetry_destroy(&r->sym);
        free(r);
    }
    return st;
}

int gar_cmd_refine(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"set", required_argument, NULL, 's'},
        {"continue", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *sets[256];
    size_t n_sets = 0;
    int c, rank = 0, size = 1, resume = 0;
    gar_params *p = NULL;
    gar_status st;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (n_sets == sizeof sets / sizeof sets[0])
                return gar_cli_usage_error("refine", "too many --set options");
            sets[n_sets++] = optarg;
            break;
        case 'c': resume = 1; break;
        case 'h': fputs(refine_help, stdout); return 0;
        default: return gar_cli_usage_error("refine", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return gar_cli_usage_error("refine", "expected one parameter file");
    if ((st = gar_mpi_start(NULL, NULL, &rank, &size)) != GAR_OK)
        return gar_cli_fail(st);
    if (size > 1) {
        st = gar_error(GAR_ERR_USAGE, "refine runs in one process with threads for now (%d MPI ranks started): "
                       "run it without mpiexec or srun, with [reconstruct] threads for the cores", size);
        goto out;
    }
    if ((st = gar_params_load(argv[optind], &p)) != GAR_OK)
        goto out;
    for (size_t i = 0; i < n_sets && st == GAR_OK; i++)
        st = gar_params_set(p, sets[i]);
    if (st == GAR_OK)
        st = run(p, argv[optind], resume);
    gar_params_destroy(&p);
out:
    gar_mpi_stop();
    if (st != GAR_OK && rank != 0)
        return gar_status_exit_code(st);
    return st == GAR_OK ? 0 : gar_cli_fail(st);
}
