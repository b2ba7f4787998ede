/* garner refine: the files: the iteration folders (iter_NNN), the last
 * finished one for --continue, and the final outputs (see gar_refine.h). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "config.h"
#include "gar_atomic.h"
#include "gar_fsc.h"
#include "gar_log.h"
#include "gar_mrc.h"
#include "gar_outdir.h"
#include "gar_plot.h"
#include "gar_sysinfo.h"
#include "gar_run_postprocess.h"
#include "refine_impl.h"
#include "run_files.h"
#include "run_fprint.h"

/* dir/name into buf. */
static const char *join(char *buf, size_t len, const char *dir, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= len)   /* too long a path: fails later, named in the error */
        buf[len - 1] = '\0';
    return buf;
}

/* Where this run's files go: rank 0's locked folder (gar_outdir.h), whose
 * partial folder is put in place once the first iteration is written. */
static const char *out_dir(const gar_refine *r)
{
    return r->out != NULL ? gar_outdir_current(r->out) : r->set->output.dir;
}

gar_status refine_make_dir(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return gar_error(GAR_ERR_OUTPUT, "%s: cannot create the folder: %s", path, strerror(errno));
    return GAR_OK;
}

static const char *const iter_files[] = {"half1.mrc", "half2.mrc", "fsc.csv", "poses.h5", "noise_spectrum.csv", NULL};

/* Remove an iteration folder garner wrote (its known files, then the folder). */
static void remove_iteration_dir(const char *dir)
{
    char path[4200];
    for (int i = 0; iter_files[i] != NULL; i++)
        unlink(join(path, sizeof path, dir, iter_files[i]));
    rmdir(dir);
}

/* Write iteration `it`'s folder under a temporary name, then rename it. */
gar_status refine_write_iteration(gar_refine *r, size_t it)
{
    gar_status st;
    gar_atomic dir;
    char final[4200], name[64], path[4400];
    snprintf(name, sizeof name, "iter_%03zu", it);
    join(final, sizeof final, out_dir(r), name);
    if ((st = gar_atomic_begin(&dir, final, 1)) != GAR_OK || (st = refine_make_dir(dir.tmp)) != GAR_OK)
        return st;
    if ((st = gar_mrc_write(join(path, sizeof path, dir.tmp, "half1.mrc"), r->half[0], GAR_MRC_VOLUME)) != GAR_OK ||
        (st = gar_mrc_write(join(path, sizeof path, dir.tmp, "half2.mrc"), r->half[1], GAR_MRC_VOLUME)) != GAR_OK ||
        (st = run_write_fsc_csv(join(path, sizeof path, dir.tmp, "fsc.csv"), r->fsc, NULL, r->n_shells, r->box,
                                r->px)) != GAR_OK ||
        (st = gar_poses_write(join(path, sizeof path, dir.tmp, "poses.h5"), r->poses, r->n, &r->state, r->noise,
                             r->fingerprint)) !=
            GAR_OK ||
        (r->noise != NULL &&
         (st = refine_noise_write_csv(r, join(path, sizeof path, dir.tmp, "noise_spectrum.csv"))) != GAR_OK))
        goto fail;
    remove_iteration_dir(final);   /* a stale one from an overwritten run */
    if ((st = gar_atomic_commit(&dir)) != GAR_OK)
        goto fail;
    /* The run's first iteration: its folder replaces the output folder. */
    if (r->out != NULL && (st = gar_outdir_publish(r->out)) != GAR_OK)
        return st;
    return GAR_OK;
fail:
    remove_iteration_dir(dir.tmp);
    return st;
}

/* The last finished iteration in the output folder (0: none). */
size_t refine_last_iteration(const gar_refine *r)
{
    DIR *d = opendir(out_dir(r));
    struct dirent *e;
    size_t best = 0;
    char path[4200], sub[4400];
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        unsigned it;
        char tail;
        if (sscanf(e->d_name, "iter_%3u%c", &it, &tail) == 1 && it > best &&
            access(join(sub, sizeof sub, join(path, sizeof path, out_dir(r), e->d_name), "poses.h5"),
                   R_OK) == 0)
            best = it;
    }
    closedir(d);
    return best;
}

/* --continue goes on from another run's poses and half maps only if they
 * came from the same stacks and result-shaping settings (issue 18, case
 * 4). A poses file of an older garner has no fingerprint: it is continued
 * with a warning, since refusing would throw away finished iterations. */
static gar_status check_fingerprint(const gar_refine *r, const char *poses)
{
    gar_status st;
    char *stored = NULL, where[4400];
    if ((st = gar_poses_fingerprint(poses, &stored)) != GAR_OK)
        return st;
    if (stored == NULL) {
        gar_log_warn("%s: written by an older garner without a run fingerprint; its settings and stacks are not "
                     "checked against this run's", poses);
        return GAR_OK;
    }
    snprintf(where, sizeof where, "%s", poses);
    st = run_fprint_compare(r->fingerprint, stored, 0, "--continue", where,
                            "; continue with the settings and stacks that wrote it, or start a new run in another "
                            "[output] dir");
    free(stored);
    return st;
}

/* Load iteration `it`: poses, state, half maps, FSC. */
gar_status refine_load_iteration(gar_refine *r, size_t it)
{
    gar_status st;
    char dir[4200], name[64], path[4400];
    snprintf(name, sizeof name, "iter_%03zu", it);
    join(dir, sizeof dir, out_dir(r), name);
    int has_noise = 0;
    if ((st = check_fingerprint(r, join(path, sizeof path, dir, "poses.h5"))) != GAR_OK)
        return st;
    if ((st = gar_poses_read(join(path, sizeof path, dir, "poses.h5"), r->poses, r->n, &r->state, r->noise,
                             &has_noise)) != GAR_OK ||
        (st = gar_mrc_read(join(path, sizeof path, dir, "half1.mrc"), &r->half[0])) != GAR_OK ||
        (st = gar_mrc_read(join(path, sizeof path, dir, "half2.mrc"), &r->half[1])) != GAR_OK)
        return st;
    if (r->half[0]->nx != r->box || r->half[1]->nx != r->box)
        return gar_error(GAR_ERR_DATA, "%s: half maps of another box than the particles' %zu", dir, r->box);
    return gar_fsc_compute(r->half[0], r->half[1], r->fsc);
}

static gar_status write_summary(const gar_refine *r, const char *path, double seconds, double res_ref,
                                gar_fsc_crossing cross_ref, double mean_ref)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return gar_error(GAR_ERR_OUTPUT, "%s: cannot create", path);
    fprintf(f, "{\n  \"garner_version\": \"%s\",\n  \"particles\": %zu,\n", PACKAGE_VERSION, r->n);
    fprintf(f, "  \"iterations\": %llu,\n  \"converged\": %s,\n", (unsigned long long)r->state.iteration,
            r->state.converged ? "true" : "false");
    gar_fsc_crossing cross;
    double res = gar_fsc_find_resolution(r->fsc, r->n_shells, r->box, r->px, 0.143, &cross);
    run_json_resolution(f, "resolution_A", "resolution_note", res, cross, 0.143);
    fprintf(f, "  \"resolution_criterion\": \"FSC 0.143 between half maps\",\n");
    /* The last iteration's solvent-corrected resolution (its half maps are the final ones). */
    fputs("  \"resolution_masked_A\": ", f);
    run_json_number(f, r->n_rec ? r->rec_log[r->n_rec - 1].resolution_masked : NAN, "%.4f");
    fputs(",\n", f);
    fprintf(f, "  \"resolution_masked_criterion\": \"corrected masked FSC 0.143 between half maps (Chen et al. "
            "2013), from [refine] solvent_fsc_below\",\n");
    if (r->truth != NULL) {
        run_json_resolution(f, "resolution_reference_A", "resolution_reference_note", res_ref, cross_ref, 0.5);
        fprintf(f, "  \"mean_fsc_reference\": %.6f,\n", mean_ref);
    }
    fprintf(f, "  \"score\": \"%s\",\n  \"junk_particles\": %llu,\n  \"junk_threshold\": ",
            r->f->score == GAR_SCORE_WHITENED ? "whitened" : "ncc", (unsigned long long)r->state.junk_count);
    if (isfinite(r->state.junk_threshold))
        fprintf(f, "%.6g,\n  \"junk_misfit_threshold\": %.6g,\n", r->state.junk_threshold, r->state.misfit_threshold);
    else
        fprintf(f, "null,\n  \"junk_misfit_threshold\": null,\n");
    fprintf(f, "  \"wall_time_s\": %.3f,\n  \"history\": [", seconds);
    for (size_t i = 0; i < r->n_rec; i++) {
        fprintf(f, "%s\n    {\"step_deg\": %.4g, \"search\": \"%s\", \"band_shells\": %.2f, \"resolution_A\": %.4f, "
                "\"resolution_unmasked_A\": %.4f, ", i ? "," : "", r->rec_log[i].step,
                r->rec_log[i].local ? "local" : "global", r->rec_log[i].band, r->rec_log[i].resolution,
                r->rec_log[i].resolution_unmasked);
        fputs("\"resolution_masked_A\": ", f);
        run_json_number(f, r->rec_log[i].resolution_masked, "%.4f");
        fputs(", ", f);
        fprintf(f, "\"changed_fraction\": %.4f, \"seconds\": %.2f, \"search_seconds\": %.2f, "
                "\"search_particles_per_s\": %.1f, \"memory_estimate_bytes\": %.0f}",
                r->rec_log[i].changed, r->rec_log[i].seconds, r->rec_log[i].search_seconds,
                refine_search_rate(r, r->rec_log[i].search_seconds), r->rec_log[i].memory);
    }
    fprintf(f, "\n  ],\n  \"peak_memory_bytes\": %zu,\n", gar_peak_rss_bytes());
    run_json_fingerprint(f, r->fingerprint);
    run_json_parameters(f, r->p);
    fprintf(f, "}\n");
    if (fclose(f) != 0)
        return gar_error(GAR_ERR_IO, "%s: write failed", path);
    return GAR_OK;
}

/* The final outputs, each written under a temporary name, then all renamed. */
gar_status refine_write_final(gar_refine *r, double seconds)
{
    gar_status st;
    gar_map *full = NULL;
    double *fsc_ref = NULL, *rot = NULL, *tilt = NULL, res_ref = 0, mean_ref = 0;
    gar_fsc_crossing cross_ref = GAR_FSC_CROSSES;
    char words[160];
    char final[4400];
    enum { MAP, HALF1, HALF2, FSC_CSV, FSC_PNG, ANGDIST, SLICES, POSES, PARAMS, SUMMARY, NOISE, NOISE_PNG, EFFECTIVE,
           N_FILES };
    static const char *const names[N_FILES] = {"map.mrc",      "half1.mrc",          "half2.mrc",         "fsc.csv",
                                               "fsc.png",      "angdist.png",        "slices.png",        "poses.h5",
                                               "params.ini",   "summary.json",       "noise_spectrum.csv",
                                               "noise_spectrum.png", "params-effective.ini"};
    gar_atomic f[N_FILES];
    memset(f, 0, sizeof f);
    if ((st = gar_recon_finalize(r->rec, 0, &full)) == GAR_OK)
        refine_apply_gain(r, full);
    if (st != GAR_OK ||
        (st = gar_alloc((void **)&rot, r->n ? r->n : 1, sizeof *rot, "directions")) != GAR_OK ||
        (st = gar_alloc((void **)&tilt, r->n ? r->n : 1, sizeof *tilt, "directions")) != GAR_OK)
        goto done;
    for (size_t i = 0; i < r->n; i++) {
        rot[i] = r->poses[i].rot_deg;
        tilt[i] = r->poses[i].tilt_deg;
    }
    if (r->truth != NULL) {
        if ((st = gar_alloc((void **)&fsc_ref, r->n_shells, sizeof *fsc_ref, "FSC")) != GAR_OK ||
            (st = gar_fsc_compute(full, r->truth, fsc_ref)) != GAR_OK)
            goto done;
        res_ref = gar_fsc_find_resolution(fsc_ref, r->n_shells, r->box, r->px, 0.5, &cross_ref);
        mean_ref = gar_fsc_mean(fsc_ref, 1, r->n_shells - 1);
    }
    /* Without a parameter file (a program's own gar_params) no params.ini. */
    for (int i = 0; i < N_FILES; i++)
        if ((i != PARAMS || r->params_path != NULL) && ((i != NOISE && i != NOISE_PNG) || r->noise != NULL) &&
            (st = gar_atomic_begin(&f[i], join(final, sizeof final, out_dir(r), names[i]), 1)) != GAR_OK)
            goto done;
    if ((st = gar_mrc_write(f[MAP].tmp, full, GAR_MRC_VOLUME)) != GAR_OK ||
        (st = gar_mrc_write(f[HALF1].tmp, r->half[0], GAR_MRC_VOLUME)) != GAR_OK ||
        (st = gar_mrc_write(f[HALF2].tmp, r->half[1], GAR_MRC_VOLUME)) != GAR_OK ||
        (st = run_write_fsc_csv(f[FSC_CSV].tmp, r->fsc, fsc_ref, r->n_shells, r->box, r->px)) != GAR_OK ||
        (st = gar_plot_fsc2(f[FSC_PNG].tmp, r->fsc, fsc_ref, r->n_shells, r->box, r->px, 0.143, r->state.resolution_A,
                            "garner refine: FSC", "half maps", "against reference")) != GAR_OK ||
        (st = gar_plot_angdist(f[ANGDIST].tmp, rot, tilt, r->n, "garner refine: directions")) != GAR_OK ||
        (st = gar_plot_slices(f[SLICES].tmp, full, "garner refine: central sections")) != GAR_OK ||
        (st = gar_poses_write(f[POSES].tmp, r->poses, r->n, &r->state, r->noise, r->fingerprint)) != GAR_OK ||
        (r->noise != NULL && (st = refine_noise_write_csv(r, f[NOISE].tmp)) != GAR_OK) ||
        (r->noise != NULL && (st = refine_noise_write_png(r, f[NOISE_PNG].tmp)) != GAR_OK) ||
        (r->params_path != NULL && (st = run_copy_file(r->params_path, f[PARAMS].tmp)) != GAR_OK) ||
        (st = run_write_effective_params(r->p, f[EFFECTIVE].tmp)) != GAR_OK ||
        (st = write_summary(r, f[SUMMARY].tmp, seconds, res_ref, cross_ref, mean_ref)) != GAR_OK)
        goto done;
    for (int i = 0; i < N_FILES; i++)
        if (f[i].active && (st = gar_atomic_commit(&f[i])) != GAR_OK)
            goto done;
    if (r->truth != NULL)
        gar_log_info("against the reference: %s, mean FSC %.3f",
                     run_resolution_words(res_ref, cross_ref, 0.5, words, sizeof words), mean_ref);
done:
    for (int i = 0; i < N_FILES; i++)
        gar_atomic_abort(&f[i]);
    gar_map_destroy(&full);
    free(fsc_ref);
    free(rot);
    free(tilt);
    return st;
}

/* Collective, once the refinement's folder is complete: its final half maps
 * post-processed into <dir>/postprocess, as `garner postprocess --half1
 * half1.mrc --half2 half2.mrc` would ([postprocess] keys; docs/PARAMETERS.md).
 * The refinement's own results are already in place: a failure here is
 * reported, and they stay. */
gar_status refine_postprocess(const gar_refine *r)
{
    const gar_postprocess_run_settings *pp = &r->set->postprocess;
    gar_postprocess_request req;
    char half1[4200], half2[4200], out[4200], loc[512];
    gar_status st;
    memset(&req, 0, sizeof req);
    gar_mask_settings_default(&req.mask_settings);
    gar_postprocess_settings_default(&req.settings);
    gar_locres_settings_default(&req.locres_settings);
    if (pp->bfactor != NULL && strcmp(pp->bfactor, "auto") != 0) {
        char *end;
        req.settings.bfactor = strtod(pp->bfactor, &end);
        if (end == pp->bfactor || *end != '\0' || !isfinite(req.settings.bfactor)) {
            run_where(r->p, "postprocess", "bfactor", loc, sizeof loc);
            return gar_error(GAR_ERR_USAGE, "%s: expected auto or a B-factor in Å², got '%s'", loc, pp->bfactor);
        }
    }
    req.half1 = join(half1, sizeof half1, r->set->output.dir, "half1.mrc");
    req.half2 = join(half2, sizeof half2, r->set->output.dir, "half2.mrc");
    req.out = join(out, sizeof out, r->set->output.dir, "postprocess");
    req.mask = pp->mask;
    req.reference = pp->reference;
    req.overwrite = 1; /* inside this run's own folder: a continued run's replaces the earlier one's */
    /* A refinement may end coarser than the Guinier fit's 10 Å: then the
     * map is FSC-weighted and low-passed, not sharpened (said in the log). */
    req.settings.unfitted_unsharpened = 1;
    gar_log_info("post-processing the final half maps into %s ([postprocess] run = no skips it)", req.out);
    if ((st = gar_run_postprocess_ranks(&req, r->rank, r->size)) != GAR_OK)
        return gar_error_context(st, "postprocess (the refinement's results in %s are complete; run garner "
                                 "postprocess on its half maps by hand)", r->set->output.dir);
    return GAR_OK;
}

