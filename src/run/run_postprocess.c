/* garner postprocess, the run (see gar_run_postprocess.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "gar_locres.h"
#include "gar_log.h"
#include "gar_mrc.h"
#include "gar_outdir.h"
#include "gar_plot.h"
#include "gar_run_postprocess.h"
#include "run_files.h"

/* A mask value may stray this far outside [0, 1] (rounding in another
 * program's resampling) and still count as a mask. */
#define MASK_SLACK 1e-3

static gar_status check_map(const char *path, const gar_map *m, const gar_map *like)
{
    size_t bad;
    if (m->nx != m->ny || m->nx != m->nz || m->nx < 4 || m->nx % 2 != 0)
        return gar_error(GAR_ERR_DATA, "%s is %zu x %zu x %zu: expected a cube with an even side", path, m->nx,
                         m->ny, m->nz);
    if (like != NULL && m->nx != like->nx)
        return gar_error(GAR_ERR_DATA, "%s is %zu³ and the first half map %zu³: expected one size", path, m->nx,
                         like->nx);
    if ((bad = gar_map_nonfinite_voxels(m)) != 0)
        return gar_error(GAR_ERR_DATA, "%s: %zu voxels are NaN or infinite: expected finite values", path, bad);
    return GAR_OK;
}

static gar_status check_mask(const char *path, const gar_map *m)
{
    size_t n = gar_map_voxels(m);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (m->data[i] < -MASK_SLACK || m->data[i] > 1 + MASK_SLACK)
            return gar_error(GAR_ERR_DATA, "%s: voxel %zu is %g: expected a mask with values from 0 to 1", path, i,
                             m->data[i]);
        sum += m->data[i];
    }
    if (!(sum > 0))
        return gar_error(GAR_ERR_DATA, "%s: every voxel is 0: expected a mask around the particle", path);
    return GAR_OK;
}

static void json_number(FILE *f, const char *key, double v, const char *fmt)
{
    fprintf(f, "  \"%s\": ", key);
    if (isfinite(v))
        fprintf(f, fmt, v);
    else
        fputs("null", f);
    fputs(",\n", f);
}

static gar_status write_fsc_csv(const char *path, const gar_postprocess_result *r)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return gar_error(GAR_ERR_OUTPUT, "%s: cannot create", path);
    fprintf(f, "shell,resolution_A,fsc_unmasked,fsc_masked,fsc_phase_randomised,fsc_corrected\n");
    for (size_t s = 1; s < r->n_shells; s++)
        fprintf(f, "%zu,%.4f,%.6f,%.6f,%.6f,%.6f\n", s, r->box * r->pixel_A / (double)s, r->fsc_unmasked[s],
                r->fsc_masked[s], r->fsc_randomised[s], r->fsc_corrected[s]);
    if (fclose(f) != 0)
        return gar_error(GAR_ERR_IO, "%s: write failed", path);
    return GAR_OK;
}

static gar_status write_guinier_csv(const char *path, const gar_postprocess_result *r)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return gar_error(GAR_ERR_OUTPUT, "%s: cannot create", path);
    fprintf(f, "shell,resolution_A,s2_per_A2,ln_amplitude,ln_amplitude_fsc_weighted,ln_amplitude_sharpened\n");
    for (size_t s = 1; s < r->n_shells; s++)
        fprintf(f, "%zu,%.4f,%.6g,%.6f,%.6f,%.6f\n", s, r->box * r->pixel_A / (double)s, r->guinier_x[s],
                r->guinier_ln[s], r->guinier_ln_weighted[s], r->guinier_ln_sharpened[s]);
    if (fclose(f) != 0)
        return gar_error(GAR_ERR_IO, "%s: write failed", path);
    return GAR_OK;
}

static gar_status write_json(const char *path, const gar_postprocess_request *req, const gar_postprocess_result *r,
                             const gar_locres_result *lr, int mask_made, double mask_level, double mask_fraction)
{
    char *command = req->argc > 0 ? run_provenance(req->argc, req->argv) : NULL;
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        free(command);
        return gar_error(GAR_ERR_OUTPUT, "%s: cannot create", path);
    }
    fprintf(f, "{\n  \"garner_version\": \"%s\",\n", PACKAGE_VERSION);
    run_json_resolution(f, "resolution_A", "resolution_note", r->resolution_A, r->crossing, 0.143);
    fprintf(f, "  \"resolution_criterion\": \"corrected masked FSC 0.143 between half maps (Chen et al. 2013)\",\n");
    json_number(f, "resolution_unmasked_A", r->resolution_unmasked_A, "%.4f");
    json_number(f, "resolution_masked_uncorrected_A", r->resolution_masked_A, "%.4f");
    fprintf(f, "  \"phase_randomisation_from_shell\": %zu,\n", r->randomise_from);
    json_number(f, "phase_randomisation_from_A",
                r->randomise_from < r->n_shells ? r->box * r->pixel_A / (double)r->randomise_from : NAN, "%.4f");
    json_number(f, "bfactor_A2", r->bfactor_applied, "%.3f");
    fprintf(f, "  \"bfactor_source\": \"%s\",\n", isnan(req->settings.bfactor) ? "fitted" : "given");
    json_number(f, "bfactor_fitted_A2", r->bfactor_fitted, "%.3f");
    fprintf(f, "  \"guinier_fit\": {\"map\": \"%s\", \"from_A\": %.4f, \"to_A\": %.4f, \"shells\": %zu, ",
            req->settings.guinier_unmasked ? "average, unmasked" : "average times the mask", r->fit_from_A,
            r->fit_to_A, r->fit_points);
    if (r->fit_points)
        fprintf(f, "\"intercept\": %.6f, \"correlation\": %.6f},\n", r->fit_intercept, r->fit_r);
    else
        fprintf(f, "\"intercept\": null, \"correlation\": null},\n");
    fprintf(f, "  \"mask\": {\"file\": \"mask.mrc\", \"source\": ");
    run_json_string(f, mask_made ? "made from the average map" : req->mask);
    if (mask_made)
        fprintf(f, ", \"lowpass_A\": %.4g, \"threshold\": %.6g, \"extend_px\": %.4g, \"soft_edge_px\": %.4g",
                req->mask_settings.lowpass_A, mask_level, req->mask_settings.extend_px, req->mask_settings.soft_px);
    fprintf(f, ", \"volume_fraction\": %.6f},\n", mask_fraction);
    fprintf(f, "  \"local_resolution\": {\"file\": \"locres.mrc\", \"points\": %zu, \"median_A\": %.4f, "
            "\"p5_A\": %.4f, \"p95_A\": %.4f, \"step_A\": %.4g, \"window_A\": %.4g, \"edge_A\": %.4g},\n",
            lr->n_points, lr->median_A, lr->p5_A, lr->p95_A, req->locres_settings.step_A,
            req->locres_settings.radius_A, req->locres_settings.edge_A);
    fprintf(f, "  \"box\": %zu,\n  \"pixel_size_A\": %.6g,\n", r->box, r->pixel_A);
    fprintf(f, "  \"half1\": ");
    run_json_string(f, req->half1);
    fprintf(f, ",\n  \"half2\": ");
    run_json_string(f, req->half2);
    if (command != NULL) {
        fprintf(f, ",\n  \"command\": ");
        run_json_string(f, command);
        free(command);
    }
    fprintf(f, "\n}\n");
    if (fclose(f) != 0)
        return gar_error(GAR_ERR_IO, "%s: write failed", path);
    return GAR_OK;
}

gar_status gar_run_postprocess(const gar_postprocess_request *req)
{
    gar_status st;
    gar_map *h1 = NULL, *h2 = NULL, *mask = NULL, *masked = NULL;
    gar_postprocess_result *r = NULL;
    gar_locres_result *lr = NULL;
    gar_outdir *out = NULL;
    const char *inputs[3] = {req->half1, req->half2, req->mask};
    double pixel, level = NAN, fraction = 0;
    char words[160];
    size_t nvox;

    if ((st = gar_mrc_read(req->half1, &h1)) != GAR_OK || (st = check_map(req->half1, h1, NULL)) != GAR_OK ||
        (st = gar_mrc_read(req->half2, &h2)) != GAR_OK || (st = check_map(req->half2, h2, h1)) != GAR_OK)
        goto done;
    if (req->angpix == 0 && (h1->pixel_size == 0 || h2->pixel_size == 0)) {
        st = gar_error(GAR_ERR_DATA, "%s gives no pixel size (0 in its MRC header): expected one, or --angpix A",
                       h1->pixel_size == 0 ? req->half1 : req->half2);
        goto done;
    }
    if ((st = run_maps_pixel(req->half1, h1, req->half2, h2, req->angpix, &pixel)) != GAR_OK)
        goto done;
    h1->pixel_size = h2->pixel_size = pixel;
    nvox = gar_map_voxels(h1);
    if (req->mask != NULL) {
        if ((st = gar_mrc_read(req->mask, &mask)) != GAR_OK || (st = check_map(req->mask, mask, h1)) != GAR_OK ||
            (st = check_mask(req->mask, mask)) != GAR_OK)
            goto done;
        if (req->angpix == 0 && mask->pixel_size > 0 && !gar_map_pixel_sizes_agree(mask->pixel_size, pixel)) {
            st = gar_error(GAR_ERR_DATA, "%s has %g Å pixels and the half maps %g Å: expected one pixel size",
                           req->mask, mask->pixel_size, pixel);
            goto done;
        }
        mask->pixel_size = pixel;
    }
    if ((st = gar_outdir_begin(req->out, req->overwrite, inputs, req->mask != NULL ? 3 : 2, "--out", &out)) != GAR_OK)
        goto done;
    if (mask == NULL) {
        gar_map *avg = NULL;
        if ((st = gar_map_create(h1->nx, h1->ny, h1->nz, pixel, &avg)) != GAR_OK)
            goto done;
        for (size_t i = 0; i < nvox; i++)
            avg->data[i] = 0.5f * (h1->data[i] + h2->data[i]);
        st = gar_mask_from_map(avg, &req->mask_settings, &mask, &level);
        gar_map_destroy(&avg);
        if (st != GAR_OK) {
            gar_error_context(st, "%s + %s: ", req->half1, req->half2);
            goto done;
        }
    }
    for (size_t i = 0; i < nvox; i++)
        fraction += mask->data[i];
    fraction /= (double)nvox;
    if (req->mask == NULL)
        gar_log_info("mask made from the average map: low-pass %g Å, threshold %.4g, extended %g px, soft edge %g px; "
                     "%.1f %% of the box", req->mask_settings.lowpass_A, level, req->mask_settings.extend_px,
                     req->mask_settings.soft_px, 100 * fraction);
    else
        gar_log_info("mask %s: %.1f %% of the box", req->mask, 100 * fraction);
    if ((st = gar_postprocess(h1, h2, mask, pixel, &req->settings, &r)) != GAR_OK)
        goto done;
    if (r->randomise_from < r->n_shells)
        gar_log_info("FSC: unmasked %.2f Å, masked %.2f Å; phases randomised from shell %zu (%.2f Å, unmasked FSC "
                     "below %g)", r->resolution_unmasked_A, r->resolution_masked_A, r->randomise_from,
                     r->box * pixel / (double)r->randomise_from, req->settings.randomise_below);
    gar_log_info("resolution: %s (corrected masked FSC)",
                 run_resolution_words(r->resolution_A, r->crossing, 0.143, words, sizeof words));
    if (r->fit_points)
        gar_log_info("Guinier fit %.2f-%.2f Å over %zu shells: B = %.1f Å², correlation %.4f", r->fit_from_A,
                     r->fit_to_A, r->fit_points, r->bfactor_fitted, r->fit_r);
    else
        gar_log_warn("no Guinier fit: fewer than 3 shells between %.2f and %.2f Å", r->fit_from_A, r->fit_to_A);
    gar_log_info("sharpened with B = %.1f Å² (%s), FSC-weighted, low-passed at %.2f Å", r->bfactor_applied,
                 !isnan(req->settings.bfactor) ? "given" : r->fit_points ? "fitted" : "no fit: not sharpened",
                 r->resolution_A);
    if ((st = gar_local_resolution(h1, h2, mask, pixel, &req->locres_settings, 0, &lr)) != GAR_OK)
        goto done;
    gar_log_info("local resolution at %zu points every %g Å (window %g Å + %g Å edge): median %.2f Å, 5th "
                 "percentile %.2f Å, 95th %.2f Å", lr->n_points, req->locres_settings.step_A,
                 req->locres_settings.radius_A, req->locres_settings.edge_A, lr->median_A, lr->p5_A, lr->p95_A);
    if ((st = gar_map_create(h1->nx, h1->ny, h1->nz, pixel, &masked)) != GAR_OK)
        goto done;
    for (size_t i = 0; i < nvox; i++)
        masked->data[i] = r->sharpened->data[i] * mask->data[i];
    {
        const double *curves[4] = {r->fsc_corrected, r->fsc_masked, r->fsc_unmasked, r->fsc_randomised};
        const char *labels[4] = {"corrected", "masked", "unmasked", "phase-randomised, masked"};
        const double *gcurves[3] = {r->guinier_ln_weighted, r->guinier_ln, r->guinier_ln_sharpened};
        const char *glabels[3] = {"FSC-weighted (fitted)", "average map", "sharpened"};
        double lo = 1.0 / (r->fit_from_A * r->fit_from_A), hi = 1.0 / (r->fit_to_A * r->fit_to_A);
        if ((st = gar_mrc_write(gar_outdir_file(out, "mask.mrc"), mask, GAR_MRC_VOLUME)) != GAR_OK ||
            (st = gar_mrc_write(gar_outdir_file(out, "postprocess.mrc"), r->sharpened, GAR_MRC_VOLUME)) != GAR_OK ||
            (st = gar_mrc_write(gar_outdir_file(out, "postprocess_masked.mrc"), masked, GAR_MRC_VOLUME)) != GAR_OK ||
            (st = write_fsc_csv(gar_outdir_file(out, "fsc.csv"), r)) != GAR_OK ||
            (st = write_guinier_csv(gar_outdir_file(out, "guinier.csv"), r)) != GAR_OK ||
            (st = gar_plot_fsc_curves(gar_outdir_file(out, "fsc.png"), curves, labels, 4, r->n_shells, r->box, pixel,
                                      0.143, r->resolution_A, "garner postprocess: FSC between half maps")) != GAR_OK ||
            (st = gar_plot_guinier(gar_outdir_file(out, "guinier.png"), r->guinier_x, gcurves, glabels, 3,
                                   r->n_shells, lo, hi, r->fit_points ? -r->bfactor_fitted / 4 : NAN,
                                   r->fit_intercept, "garner postprocess: Guinier plot")) != GAR_OK ||
            (st = gar_mrc_write(gar_outdir_file(out, "locres.mrc"), lr->map, GAR_MRC_VOLUME)) != GAR_OK ||
            (st = write_json(gar_outdir_file(out, "postprocess.json"), req, r, lr, req->mask == NULL, level,
                             fraction)) !=
                GAR_OK)
            goto done;
    }
    if ((st = gar_outdir_commit(&out)) != GAR_OK)
        goto done;
    gar_log_info("wrote %s: postprocess.mrc, postprocess_masked.mrc, mask.mrc, locres.mrc, postprocess.json, fsc.csv, "
                 "fsc.png, guinier.csv, guinier.png", req->out);
done:
    gar_outdir_abort(&out);
    gar_postprocess_result_destroy(&r);
    gar_locres_result_destroy(&lr);
    gar_map_destroy(&h1);
    gar_map_destroy(&h2);
    gar_map_destroy(&mask);
    gar_map_destroy(&masked);
    return st;
}
