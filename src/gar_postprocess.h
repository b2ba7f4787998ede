/* garner: post-processing of two half maps: a soft solvent mask, the
 * masked FSC corrected for the mask's own correlation by phase
 * randomisation (Chen et al. 2013), the B-factor from a Guinier fit
 * (Rosenthal & Henderson 2003) and the FSC-weighted, sharpened map.
 * The formulas, ranges and defaults are in docs/ARCHITECTURE.md,
 * "Post-processing"; `garner postprocess` runs it (src/run/run_postprocess.c).
 *
 * Maps are cubic N³ of one size; frequencies are in Fourier voxels k
 * (spatial frequency k / (N·p) in 1/Å) and shells s = round(|k|), as in
 * gar_fsc.h. */
#ifndef GAR_POSTPROCESS_H
#define GAR_POSTPROCESS_H

#include <stddef.h>
#include <stdint.h>
#include "gar_fsc.h"
#include "gar_map.h"
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A solvent mask made from a map: low-passed to lowpass_A, thresholded,
 * the region grown by extend_px and given a raised-cosine edge soft_px wide
 * (1 inside, 0.5 (1 + cos(π (d − extend) / soft)) at distance d from the
 * thresholded region, 0 beyond). */
typedef struct gar_mask_settings {
    double lowpass_A;            /* resolution of the low-pass before thresholding (Å) */
    double threshold;            /* absolute level in the low-passed map; NaN: threshold_fraction */
    double threshold_fraction;   /* the level as a fraction of the low-passed map's maximum */
    double extend_px;            /* grow the thresholded region by this distance (px) */
    double soft_px;              /* width of the cosine edge (px) */
} gar_mask_settings;

/* The defaults: 15 Å, 0.2 of the maximum, 3 px, 6 px. */
void gar_mask_settings_default(gar_mask_settings *s);

/* The mask of `map` (cubic, pixel size > 0), values in [0, 1]; *level_used
 * (may be NULL) the threshold applied. GAR_ERR_DATA when nothing or
 * everything is above the threshold (naming the level). */
gar_status gar_mask_from_map(const gar_map *map, const gar_mask_settings *s, gar_map **out, double *level_used);

/* The diameter (Å) of the smallest sphere about the box centre (voxel
 * N/2 on each axis) that holds every non-zero voxel of the mask
 * gar_mask_from_map makes of `map` with `s`: refine's particle diameter when
 * none is given. Its errors are gar_mask_from_map's. */
gar_status gar_mask_extent_diameter(const gar_map *map, const gar_mask_settings *s, double *diameter_A);

/* Whether `m` is a usable mask: every value within [0, 1] (to a slack of
 * GAR_MASK_SLACK, another program's resampling) and not all 0.
 * GAR_ERR_DATA naming the first bad voxel otherwise (callers add the file). */
#define GAR_MASK_SLACK 1e-3
gar_status gar_mask_check(const gar_map *m);

/* The mask made from the average (h1 + h2) / 2 of two half maps (cubic, one
 * size; pixel size h1's), as gar_mask_from_map: what `garner postprocess`
 * and refine's solvent-corrected FSC make when no mask is given. */
gar_status gar_mask_from_halves(const gar_map *h1, const gar_map *h2, const gar_mask_settings *s, gar_map **out,
                                double *level_used);

/* Multiply each Fourier coefficient of `map` (cubic) by gain(|k|, ctx), |k|
 * its frequency in Fourier voxels. */
gar_status gar_map_filter_radial(gar_map *map, double (*gain)(double k, void *ctx), void *ctx);

/* Replace the phases of `map` (cubic) at shells round(|k|) >= from_shell by
 * uniform random ones, amplitudes kept, Friedel pairs kept conjugate so the
 * map stays real. The phase of each frequency depends only on (seed, k). */
gar_status gar_map_randomise_phases(gar_map *map, size_t from_shell, uint64_t seed);

/* The corrected FSC of Chen et al. (2013): FSC_t below shell `from` + 2 and
 * (FSC_t − FSC_n) / (1 − FSC_n) from there on (0 where FSC_n > FSC_t), with
 * FSC_t the masked and FSC_n the phase-randomised masked FSC (RELION's
 * rule: two shells' margin past the randomisation). n values. */
void gar_fsc_correct_masked(const double *fsc_masked, const double *fsc_randomised, size_t n, size_t from,
                            double *out);

/* The half maps' FSCs with `mask` (cubic, all one size), n = N/2 + 1 values
 * each: unmasked, masked (FSC_t), masked after randomising both halves'
 * phases independently (seeds `seed` and gar_mix64(seed + 1)) from
 * *randomise_from, the first shell where the unmasked FSC < randomise_below
 * (FSC_n; 0 throughout and *randomise_from = n when it never is), and the
 * corrected FSC of gar_fsc_correct_masked. For `garner postprocess` and for
 * refine's resolution (docs/ARCHITECTURE.md). */
gar_status gar_fsc_solvent_corrected(const gar_map *h1, const gar_map *h2, const gar_map *mask,
                                     double randomise_below, uint64_t seed, double *unmasked, double *masked,
                                     double *randomised, double *corrected, size_t *randomise_from);

/* Least-squares line y = a + b x through points i with lo <= x[i] <= hi
 * (and y finite): slope, intercept, Pearson r, points used. Returns the
 * points used (a fit needs 3). */
size_t gar_line_fit(const double *x, const double *y, size_t n, double lo, double hi, double *slope,
                    double *intercept, double *r);

typedef struct gar_postprocess_settings {
    double randomise_below;   /* phases randomised from the first shell where the unmasked FSC < this (0.8) */
    double fit_from_A;        /* Guinier fit's low-resolution end (10 Å) */
    double fit_to_A;          /* its high-resolution end; 0: the corrected resolution */
    double bfactor;           /* the B to undo (Å², > 0 sharpens); NaN: the fitted one (less the reference's) */
    const gar_map *reference; /* a model map of the structure (same box; NULL: none): with the B fitted, undo
                               * only the fall-off beyond the reference's, B_map − B_reference, both fitted
                               * alike over the same range, so the sharpened map's amplitudes fall as the
                               * model's instead of flat (docs/ARCHITECTURE.md, "Post-processing") */
    double lowpass_edge;      /* width of the cosine edge of the final low-pass, in shells (2) */
    int guinier_unmasked;     /* fit the unmasked average's Guinier plot, as relion_postprocess 3.1 (0: the
                               * masked average's, whose amplitudes match the masked FSC's weights) */
    uint64_t seed;            /* of the random phases */
    int unfitted_unsharpened; /* with bfactor NaN and too few shells to fit (a map coarser than about
                               * fit_from_A): B = 0 (FSC weighting and the low-pass only) instead of
                               * GAR_ERR_DATA; for refine, whose maps may be coarse (0) */
} gar_postprocess_settings;

void gar_postprocess_settings_default(gar_postprocess_settings *s);

typedef struct gar_postprocess_result {
    size_t box, n_shells;            /* n_shells = box/2 + 1; shell 0 the mean term */
    double pixel_A;
    double *fsc_unmasked, *fsc_masked, *fsc_randomised, *fsc_corrected;   /* n_shells each */
    size_t randomise_from;           /* shell where the phases were randomised from */
    double resolution_A;             /* corrected FSC at 0.143 */
    gar_fsc_crossing crossing;
    double resolution_unmasked_A, resolution_masked_A;
    /* Guinier plot per shell: x = (s / (N p))², ln of the mean amplitude of
     * the average map times the mask (unmasked with guinier_unmasked), of
     * the same after FSC weighting (the fitted curve), and of the sharpened
     * map (masked likewise). NaN where a shell is empty or zero. */
    double *guinier_x, *guinier_ln, *guinier_ln_weighted, *guinier_ln_sharpened;
    double fit_from_A, fit_to_A;     /* the range fitted */
    size_t fit_points;               /* 0: no fit (too few shells in the range) */
    double bfactor_fitted, fit_intercept, fit_r;   /* B = −4 × slope; NaN without a fit */
    double *guinier_ln_reference;    /* the reference's plot, masked likewise, not FSC-weighted (NaN: none) */
    double bfactor_reference, reference_fit_r;     /* its fit over the same range; NaN without a reference */
    double bfactor_applied;
    gar_map *average;                /* (half1 + half2) / 2 */
    gar_map *sharpened;              /* FSC-weighted, B undone, low-passed at resolution_A */
} gar_postprocess_result;

/* Post-process two half maps (cubic, one size, pixel size `pixel_A` > 0)
 * with `mask` (same size, values in [0, 1]). GAR_ERR_DATA when the B-factor
 * is to be fitted and fewer than 3 shells lie in the fit's range (the
 * message says so and names --bfactor), or when a reference is of another
 * size or has too few shells with amplitude in that range. */
gar_status gar_postprocess(const gar_map *half1, const gar_map *half2, const gar_map *mask, double pixel_A,
                           const gar_postprocess_settings *s, gar_postprocess_result **out);
void gar_postprocess_result_destroy(gar_postprocess_result **r);   /* NULL-safe */

#ifdef __cplusplus
}
#endif
#endif
