/* garner postprocess, the run (see gar_run_postprocess.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "gar_locres.h"
#include "gar_log.h"
#include "gar_mpi.h"
#include "gar_mrc.h"
#include "gar_outdir.h"
#include "gar_plot.h"
#include "gar_run_postprocess.h"
#include "run_files.h"

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

static void json_number(FILE *f, const char *key, double v, const char *fmt)
{
    fprintf(f, "  \"%s\": ", key);
    run_json_number(f, v, fmt);
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
    fprintf(f, "shell,resolution_A,s2_per_A2,ln_amplitude,ln_amplitude_fsc_weighted,ln_amplitude_sharpened,"
            "ln_amplitude_reference\n");
    for (size_t s = 1; s < r->n_shells; s++)
        fprintf(f, "%zu,%.4f,%.6g,%.6f,%.6f,%.6f,%.6f\n", s, r->box * r->pixel_A / (double)s, r->guinier_x[s],
                r->guinier_ln[s], r->guinier_ln_weighted[s], r->guinier_ln_sharpened[s], r->guinier_ln_reference[s]);
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
    fprintf(f, "  \"bfactor_source\": \"%s\",\n", !isnan(req->settings.bfactor) ? "given"
                                                 : req->reference != NULL ? "fitted, less the reference's"
                                                                           : "fitted");
    json_number(f, "bfactor_fitted_A2", r->bfactor_fitted, "%.3f");
    json_number(f, "bfactor_reference_A2", r->bfactor_reference, "%.3f");
    fprintf(f, "  \"reference\": ");
    if (req->reference != NULL)
        run_json_string(f, req->reference);
    else
        fputs("null", f);
    fputs(",\n", f);
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

/* Rank 0: the files into the output folder. */
static gar_status write_outputs(const gar_postprocess_request *req, gar_outdir *out, const gar_postprocess_result *r,
                                const gar_locres_result *lr, const gar_map *mask, double level, double fraction,
                                double pixel, gar_map **masked)
{
    gar_status st;
    size_t nvox = gar_map_voxels(mask);
    const double *curves[4] = {r->fsc_corrected, r->fsc_masked, r->fsc_unmasked, r->fsc_randomised};
    const char *labels[4] = {"corrected", "masked", "unmasked", "phase-randomised, masked"};
    const double *gcurves[3] = {r->guinier_ln_weighted, r->guinier_ln, r->guinier_ln_sharpened};
    const char *glabels[3] = {"FSC-weighted (fitted)", "average map", "sharpened"};
    double lo = 1.0 / (r->fit_from_A * r->fit_from_A), hi = 1.0 / (r->fit_to_A * r->fit_to_A);
    if ((st = gar_map_create(mask->nx, mask->ny, mask->nz, pixel, masked)) != GAR_OK)
        return st;
    for (size_t i = 0; i < nvox; i++)
        (*masked)->data[i] = r->sharpened->data[i] * mask->data[i];
    if ((st = gar_mrc_write(gar_outdir_file(out, "mask.mrc"), mask, GAR_MRC_VOLUME)) != GAR_OK ||
        (st = gar_mrc_write(gar_outdir_file(out, "postprocess.mrc"), r->sharpened, GAR_MRC_VOLUME)) != GAR_OK ||
        (st = gar_mrc_write(gar_outdir_file(out, "postprocess_masked.mrc"), *masked, GAR_MRC_VOLUME)) != GAR_OK ||
        (st = write_fsc_csv(gar_outdir_file(out, "fsc.csv"), r)) != GAR_OK ||
        (st = write_guinier_csv(gar_outdir_file(out, "guinier.csv"), r)) != GAR_OK ||
        (st = gar_plot_fsc_curves(gar_outdir_file(out, "fsc.png"), curves, labels, 4, r->n_shells, r->box, pixel,
                                  0.143, r->resolution_A, "garner postprocess: FSC between half maps")) != GAR_OK ||
        (st = gar_plot_guinier(gar_outdir_file(out, "guinier.png"), r->guinier_x, gcurves, glabels, 3, r->n_shells,
                               lo, hi, r->fit_points ? -r->bfactor_fitted / 4 : NAN, r->fit_intercept,
                               "garner postprocess: Guinier plot")) != GAR_OK ||
        (st = gar_mrc_write(gar_outdir_file(out, "locres.mrc"), lr->map, GAR_MRC_VOLUME)) != GAR_OK ||
        (st = write_json(gar_outdir_file(out, "postprocess.json"), req, r, lr, req->mask == NULL, level, fraction)) !=
            GAR_OK)
        return st;
    return GAR_OK;
}

/* A map that goes with the half maps (the mask, the reference), read and
 * checked: one cube of their size, `extra` (may be NULL) on its values, and
 * its header's pixel size, if any, theirs; then given theirs. */
static gar_status read_companion(const char *path, const gar_map *h1, double angpix, double pixel,
                                 gar_status (*extra)(const gar_map *m), gar_map **out)
{
    gar_status st;
    if ((st = gar_mrc_read(path, out)) != GAR_OK || (st = check_map(path, *out, h1)) != GAR_OK)
        return st;
    if (extra != NULL && (st = extra(*out)) != GAR_OK)
        return gar_error_context(st, "%s", path);
    if (angpix == 0 && (*out)->pixel_size > 0 && !gar_map_pixel_sizes_agree((*out)->pixel_size, pixel))
        return gar_error(GAR_ERR_DATA, "%s has %g Å pixels and the half maps %g Å: expected one pixel size", path,
                         (*out)->pixel_size, pixel);
    (*out)->pixel_size = pixel;
    return GAR_OK;
}

/* Every rank: the half maps, and the given mask and reference, read and checked. */
static gar_status read_inputs(const gar_postprocess_request *req, gar_map **h1, gar_map **h2, gar_map **mask,
                              gar_map **reference, double *pixel)
{
    gar_status st;
    if ((st = gar_mrc_read(req->half1, h1)) != GAR_OK || (st = check_map(req->half1, *h1, NULL)) != GAR_OK ||
        (st = gar_mrc_read(req->half2, h2)) != GAR_OK || (st = check_map(req->half2, *h2, *h1)) != GAR_OK)
        return st;
    if (req->angpix == 0 && ((*h1)->pixel_size == 0 || (*h2)->pixel_size == 0))
        return gar_error(GAR_ERR_DATA, "%s gives no pixel size (0 in its MRC header): expected one, or --angpix A",
                         (*h1)->pixel_size == 0 ? req->half1 : req->half2);
    if ((st = run_maps_pixel(req->half1, *h1, req->half2, *h2, req->angpix, pixel)) != GAR_OK)
        return st;
    (*h1)->pixel_size = (*h2)->pixel_size = *pixel;
    if (req->mask != NULL &&
        (st = read_companion(req->mask, *h1, req->angpix, *pixel, gar_mask_check, mask)) != GAR_OK)
        return st;
    if (req->reference != NULL &&
        (st = read_companion(req->reference, *h1, req->angpix, *pixel, NULL, reference)) != GAR_OK)
        return st;
    return GAR_OK;
}

/* Collective: the local resolution, its grid points split over the ranks in
 * contiguous blocks (rank r the points [N r / size, N (r + 1) / size)), the
 * values gathered to rank 0 in rank order, which is the points' order; rank 0
 * makes the map. Each point's value depends only on the maps and its place
 * (gar_locres.h), so the map is the one process's, bit for bit. */
static gar_status local_resolution(const gar_postprocess_request *req, const gar_map *h1, const gar_map *h2,
                                   const gar_map *mask, double pixel, int rank, int size, gar_locres_result **out)
{
    gar_status st;
    gar_locres_result *lr = NULL;
    void *all = NULL;
    size_t first = 0, count = 0, n_all = 0;
    double *mine = NULL;

    *out = NULL;
    if ((st = gar_locres_grid(mask, pixel, &req->locres_settings, &lr)) == GAR_OK) {
        first = lr->n_points * (size_t)rank / (size_t)size;
        count = lr->n_points * (size_t)(rank + 1) / (size_t)size - first;
        st = gar_locres_measure(h1, h2, pixel, &req->locres_settings, 0, lr, first, count);
        if (st == GAR_OK && count > 0 &&
            (st = gar_alloc((void **)&mine, count, sizeof *mine, "local resolution values")) == GAR_OK)
            for (size_t k = 0; k < count; k++)
                mine[k] = lr->points[4 * (first + k) + 3];
    }
    if ((st = gar_mpi_agree_report(st, size)) != GAR_OK)
        goto done;
    if (size > 1) {
        if ((st = gar_mpi_gather_rows(mine, count, sizeof *mine, 0, &all, &n_all)) != GAR_OK)
            goto done;
        if (rank == 0) {
            if (n_all != lr->n_points) {
                st = gar_error(GAR_ERR_INTERNAL, "local resolution: %zu values gathered for %zu points", n_all,
                               lr->n_points);
                goto done;
            }
            for (size_t k = 0; k < n_all; k++)
                lr->points[4 * k + 3] = ((const double *)all)[k];
        }
    }
    if (rank == 0 && (st = gar_locres_finish(lr, h1->nx, pixel, &req->locres_settings)) == GAR_OK) {
        *out = lr;
        lr = NULL;
    }
done:
    free(mine);
    free(all);
    gar_locres_result_destroy(&lr);
    return st;
}

gar_status gar_run_postprocess_ranks(const gar_postprocess_request *req, int rank, int size)
{
    gar_status st;
    gar_map *h1 = NULL, *h2 = NULL, *mask = NULL, *masked = NULL, *reference = NULL;
    gar_postprocess_settings settings = req->settings;
    gar_postprocess_result *r = NULL;
    gar_locres_result *lr = NULL;
    gar_outdir *out = NULL;
    const char *inputs[4] = {req->half1, req->half2, req->mask, req->reference};
    size_t n_inputs = 2;
    double pixel = 0, level = NAN, fraction = 0;
    char words[160];
    size_t nvox = 0;

    /* Every rank reads the maps (the windows need both halves); a made mask
     * comes from rank 0, into a map the other ranks make ready here. */
    st = read_inputs(req, &h1, &h2, &mask, &reference, &pixel);
    settings.reference = reference;
    /* The files the output folder must not replace. */
    if (req->mask != NULL)
        inputs[n_inputs++] = req->mask;
    if (req->reference != NULL)
        inputs[n_inputs++] = req->reference;
    if (st == GAR_OK && rank != 0 && req->mask == NULL)
        st = gar_map_create(h1->nx, h1->ny, h1->nz, pixel, &mask);
    if ((st = gar_mpi_agree_report(st, size)) != GAR_OK)
        goto done;
    nvox = gar_map_voxels(h1);
    if (rank == 0) {
        if ((st = gar_outdir_begin(req->out, req->overwrite, inputs, n_inputs, "--out", &out)) !=
            GAR_OK)
            goto agreed;
        if (mask == NULL && (st = gar_mask_from_halves(h1, h2, &req->mask_settings, &mask, &level)) != GAR_OK) {
            gar_error_context(st, "%s + %s", req->half1, req->half2);
            goto agreed;
        }
        for (size_t i = 0; i < nvox; i++)
            fraction += mask->data[i];
        fraction /= (double)nvox;
        if (req->mask == NULL)
            gar_log_info("mask made from the average map: low-pass %g Å, threshold %.4g, extended %g px, soft edge "
                         "%g px; %.1f %% of the box", req->mask_settings.lowpass_A, level,
                         req->mask_settings.extend_px, req->mask_settings.soft_px, 100 * fraction);
        else
            gar_log_info("mask %s: %.1f %% of the box", req->mask, 100 * fraction);
        if ((st = gar_postprocess(h1, h2, mask, pixel, &settings, &r)) != GAR_OK)
            goto agreed;
        if (r->randomise_from < r->n_shells)
            gar_log_info("FSC: unmasked %.2f Å, masked %.2f Å; phases randomised from shell %zu (%.2f Å, unmasked "
                         "FSC below %g)", r->resolution_unmasked_A, r->resolution_masked_A, r->randomise_from,
                         r->box * pixel / (double)r->randomise_from, req->settings.randomise_below);
        gar_log_info("resolution: %s (corrected masked FSC)",
                     run_resolution_words(r->resolution_A, r->crossing, 0.143, words, sizeof words));
        if (r->fit_points)
            gar_log_info("Guinier fit %.2f-%.2f Å over %zu shells: B = %.1f Å², correlation %.4f", r->fit_from_A,
                         r->fit_to_A, r->fit_points, r->bfactor_fitted, r->fit_r);
        else
            gar_log_warn("no Guinier fit: fewer than 3 shells between %.2f and %.2f Å", r->fit_from_A, r->fit_to_A);
        if (!isnan(r->bfactor_reference))
            gar_log_info("reference %s over the same range: B = %.1f Å², correlation %.4f", req->reference,
                         r->bfactor_reference, r->reference_fit_r);
        gar_log_info("sharpened with B = %.1f Å² (%s), FSC-weighted, low-passed at %.2f Å", r->bfactor_applied,
                     !isnan(req->settings.bfactor) ? "given"
                     : !r->fit_points             ? "no fit: not sharpened"
                     : req->reference != NULL     ? "fitted, less the reference's: its amplitudes fall as the "
                                                    "reference's"
                                                  : "fitted",
                     r->resolution_A);
    }
agreed:
    if ((st = gar_mpi_agree_report(st, size)) != GAR_OK)
        goto done;
    if (size > 1 && req->mask == NULL &&
        (st = gar_mpi_agree_report(gar_mpi_bcast_bytes(mask->data, nvox * sizeof *mask->data, 0), size)) != GAR_OK)
        goto done;
    if (size > 1)
        gar_log_info("local resolution over %d ranks", size);
    if ((st = local_resolution(req, h1, h2, mask, pixel, rank, size, &lr)) != GAR_OK)
        goto done;
    if (rank == 0) {
        gar_log_info("local resolution at %zu points every %g Å (window %g Å + %g Å edge): median %.2f Å, 5th "
                     "percentile %.2f Å, 95th %.2f Å", lr->n_points, req->locres_settings.step_A,
                     req->locres_settings.radius_A, req->locres_settings.edge_A, lr->median_A, lr->p5_A, lr->p95_A);
        st = write_outputs(req, out, r, lr, mask, level, fraction, pixel, &masked);
        if (st == GAR_OK && (st = gar_outdir_commit(&out)) == GAR_OK)
            gar_log_info("wrote %s: postprocess.mrc, postprocess_masked.mrc, mask.mrc, locres.mrc, postprocess.json, "
                         "fsc.csv, fsc.png, guinier.csv, guinier.png", req->out);
    }
    st = gar_mpi_agree_report(st, size);
done:
    gar_outdir_abort(&out);
    gar_postprocess_result_destroy(&r);
    gar_locres_result_destroy(&lr);
    gar_map_destroy(&h1);
    gar_map_destroy(&h2);
    gar_map_destroy(&mask);
    gar_map_destroy(&masked);
    gar_map_destroy(&reference);
    return st;
}

gar_status gar_run_postprocess(const gar_postprocess_request *req, int *report)
{
    gar_status st;
    int rank = 0, size = 1;
    *report = 1;
    if ((st = gar_mpi_start(NULL, NULL, &rank, &size)) != GAR_OK)
        return st;
    if (rank != 0)
        gar_log_set_quiet(1);
    st = gar_run_postprocess_ranks(req, rank, size);
    gar_mpi_stop();
    /* Every rank has the same status; rank 0 says it once. */
    *report = rank == 0;
    return st;
}
