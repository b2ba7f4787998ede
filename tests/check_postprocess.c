/* Post-processing (gar_postprocess) against analytic values and a known
 * truth: docs/ARCHITECTURE.md, "Post-processing". */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gar_locres.h"
#include "gar_phantom.h"
#include "gar_postprocess.h"
#include "gar_rng.h"
#include "gar_stats.h"
#include "gar_symmetry.h"
#include "testutil.h"

#define PI 3.14159265358979323846

/* A map with one value per voxel from f(distance from the centre). */
static gar_map *radial_map(size_t n, double pixel, double (*f)(double r, double a), double a)
{
    gar_map *m = NULL;
    ck_assert_int_eq(gar_map_create(n, n, n, pixel, &m), GAR_OK);
    for (size_t z = 0; z < n; z++)
        for (size_t y = 0; y < n; y++)
            for (size_t x = 0; x < n; x++) {
                double dx = (double)x - n / 2, dy = (double)y - n / 2, dz = (double)z - n / 2;
                m->data[(z * n + y) * n + x] = (float)f(sqrt(dx * dx + dy * dy + dz * dz), a);
            }
    return m;
}

static double ball(double r, double radius) { return r <= radius ? 1.0 : 0.0; }
static double gaussian(double r, double sigma_px) { return exp(-r * r / (2 * sigma_px * sigma_px)); }

/* The made mask of a ball of radius 10 px (low-pass 3 px, so the threshold
 * at half its maximum keeps the ball's surface): 1 to 10 + extend, the
 * cosine edge over the next soft px, 0 beyond; checked along the x axis
 * to within a pixel of the analytic radii. */
START_TEST(test_mask_extend_and_edge)
{
    gar_map *b = radial_map(64, 1.0, ball, 10.0), *mask = NULL;
    gar_mask_settings s;
    double level;
    gar_mask_settings_default(&s);
    s.lowpass_A = 3.0;
    s.threshold_fraction = 0.5;
    s.extend_px = 4;
    s.soft_px = 5;
    ck_assert_int_eq(gar_mask_from_map(b, &s, &mask, &level), GAR_OK);
    for (size_t x = 32; x < 64; x++) {
        double r = (double)x - 32, v = mask->data[(32 * 64 + 32) * 64 + x];
        if (r <= 13)
            ck_assert_msg(v == 1.0f, "r %g: %g, expected 1 inside the extended ball", r, v);
        else if (r >= 20)
            ck_assert_msg(v == 0.0f, "r %g: %g, expected 0 beyond the edge", r, v);
        else if (r >= 15 && r <= 18) {
            /* The edge's cosine, from the last voxel inside, at 9 or 10 px
             * (the low-pass moves the half-maximum level by under a pixel). */
            double hi = 0.5 * (1 + cos(PI * (r - 10 - 4) / 5)), lo = 0.5 * (1 + cos(PI * (r - 9 - 4) / 5));
            ck_assert_msg(v >= lo - 1e-6 && v <= hi + 1e-6, "r %g: %g, expected %g to %g", r, v, lo, hi);
        }
    }
    gar_map_destroy(&mask);
    s.threshold = 2.0;   /* above everything */
    ck_assert_int_eq(gar_mask_from_map(b, &s, &mask, NULL), GAR_ERR_DATA);
    ck_assert_ptr_null(mask);
    gar_map_destroy(&b);
}
END_TEST

/* refine's particle diameter (gar_mask_extent_diameter): the same ball of
 * 10 px and mask settings as above, 2 Å a pixel: the mask is non-zero to
 * the ball's radius + extend + soft edge (19 px, within a pixel), so the
 * diameter is 76 Å within 4 Å; the ball moved 6 px off the centre along x
 * widens it by 2 × 6 px = 24 Å (± 3 Å: the farthest voxel on the grid
 * is not on the axis of the shift); a map above the threshold nowhere is
 * gar_mask_from_map's error. */
START_TEST(test_mask_extent_diameter)
{
    gar_map *b = radial_map(64, 2.0, ball, 10.0), *moved = NULL;
    gar_mask_settings s;
    double d = 0, dm = 0;
    gar_mask_settings_default(&s);
    s.lowpass_A = 6.0;
    s.threshold_fraction = 0.5;
    s.extend_px = 4;
    s.soft_px = 5;
    ck_assert_int_eq(gar_mask_extent_diameter(b, &s, &d), GAR_OK);
    ck_assert_int_eq(gar_map_create(64, 64, 64, 2.0, &moved), GAR_OK);
    for (size_t z = 0; z < 64; z++)
        for (size_t y = 0; y < 64; y++)
            for (size_t x = 6; x < 64; x++)
                moved->data[(z * 64 + y) * 64 + x] = b->data[(z * 64 + y) * 64 + x - 6];
    ck_assert_int_eq(gar_mask_extent_diameter(moved, &s, &dm), GAR_OK);
    fprintf(stderr, "measured: mask extent of a 40 Å ball: %.1f Å (expected 76), moved 12 Å: %.1f Å (expected 100)\n",
            d, dm);
    ck_assert_msg(fabs(d - 76.0) <= 4.0, "centred ball: diameter %g Å, expected 76 ± 4", d);
    ck_assert_msg(fabs(dm - d - 24.0) <= 3.0, "ball 6 px off centre: diameter %g Å, expected %g + 24 ± 3", dm, d);
    s.threshold = 2.0; /* above everything */
    ck_assert_int_eq(gar_mask_extent_diameter(b, &s, &d), GAR_ERR_DATA);
    gar_map_destroy(&moved);
    gar_map_destroy(&b);
}
END_TEST

/* A line fit through exact points, and the correction's formula. */
START_TEST(test_line_fit_and_correction)
{
    double x[6] = {0, 1, 2, 3, 4, 100}, y[6], slope, icpt, r;
    double t[6] = {1, 0.9, 0.8, 0.6, 0.5, 0.2}, n[6] = {1, 0.9, 0.5, 0.2, 0.6, 0.0}, c[6];
    for (int i = 0; i < 6; i++)
        y[i] = 2.5 - 0.75 * x[i];
    y[5] = 1e9;   /* outside the range: ignored */
    ck_assert_uint_eq(gar_line_fit(x, y, 6, 0.5, 4.5, &slope, &icpt, &r), 4);
    ck_assert_msg(fabs(slope + 0.75) < 1e-12 && fabs(icpt - 2.5) < 1e-12 && fabs(r + 1) < 1e-12,
                  "slope %g intercept %g r %g", slope, icpt, r);
    gar_fsc_correct_masked(t, n, 6, 1, c);
    ck_assert(c[0] == 1 && c[1] == 0.9 && c[2] == 0.8);                   /* below from + 2: as masked */
    ck_assert_msg(fabs(c[3] - (0.6 - 0.2) / 0.8) < 1e-12, "shell 3: %g", c[3]);
    ck_assert_msg(c[4] == 0.0, "shell 4, random above masked: %g, expected 0", c[4]);
    ck_assert_msg(c[5] == 0.2, "shell 5: %g", c[5]);
}
END_TEST

/* Random phases keep the amplitudes: the FSC of a map with itself
 * randomised is 1 below the shell, about 0 from it on (|FSC| < 4/√(voxels in
 * the shell)), and the Guinier curves of both agree shell by shell. */
START_TEST(test_randomise_phases)
{
    const size_t n = 48;
    gar_map *a = radial_map(n, 1.0, gaussian, 1.0), *b = NULL;
    double fsc[25];
    ck_assert_int_eq(gar_map_create(n, n, n, 1.0, &b), GAR_OK);
    memcpy(b->data, a->data, n * n * n * sizeof(float));
    ck_assert_int_eq(gar_map_randomise_phases(b, 6, 7), GAR_OK);
    ck_assert_int_eq(gar_fsc_compute(a, b, fsc), GAR_OK);
    for (size_t s = 1; s < 6; s++)
        ck_assert_msg(fsc[s] > 0.9999, "shell %zu: FSC %g, expected 1 below the randomised shells", s, fsc[s]);
    for (size_t s = 6; s < 25; s++) {
        double bound = 4.0 / sqrt(4 * PI * s * s);
        ck_assert_msg(fabs(fsc[s]) < bound, "shell %zu: FSC %g, expected |FSC| < %.3f", s, fsc[s], bound);
    }
    gar_map_destroy(&a);
    gar_map_destroy(&b);
}
END_TEST

/* Two identical halves of a Gaussian blob of σ px: |F(s)| ∝ exp(−2π²σ²s²),
 * so the Guinier fit finds B = 8π²σ²p² exactly (to sampling: 2 %), and a
 * given B overrides it. */
START_TEST(test_guinier_gaussian)
{
    const double sigma = 1.2, pixel = 1.5, truth = 8 * PI * PI * sigma * sigma * pixel * pixel;
    gar_map *g = radial_map(64, pixel, gaussian, sigma), *mask = radial_map(64, pixel, ball, 30.0);
    gar_postprocess_settings s;
    gar_postprocess_result *r = NULL;
    gar_postprocess_settings_default(&s);
    s.fit_to_A = 4.0;
    ck_assert_int_eq(gar_postprocess(g, g, mask, pixel, &s, &r), GAR_OK);
    ck_assert_msg(fabs(r->bfactor_fitted - truth) < 0.02 * truth, "B %.2f Å², expected %.2f", r->bfactor_fitted,
                  truth);
    ck_assert_msg(r->fit_r < -0.999, "fit correlation %g", r->fit_r);
    ck_assert(r->bfactor_applied == r->bfactor_fitted);
    gar_postprocess_result_destroy(&r);
    s.bfactor = 50;
    ck_assert_int_eq(gar_postprocess(g, g, mask, pixel, &s, &r), GAR_OK);
    ck_assert(r->bfactor_applied == 50);
    gar_postprocess_result_destroy(&r);
    /* With a reference, a blob of σ0 < σ: only the fall-off beyond the
     * reference's is undone, 8π²(σ² − σ0²)p². */
    {
        const double sigma0 = 0.7, want = 8 * PI * PI * (sigma * sigma - sigma0 * sigma0) * pixel * pixel;
        gar_map *ref = radial_map(64, pixel, gaussian, sigma0), *small = radial_map(32, pixel, gaussian, sigma0);
        s.bfactor = NAN;
        s.reference = ref;
        ck_assert_int_eq(gar_postprocess(g, g, mask, pixel, &s, &r), GAR_OK);
        ck_assert_msg(fabs(r->bfactor_reference - 8 * PI * PI * sigma0 * sigma0 * pixel * pixel) < 0.02 * truth,
                      "reference B %.2f", r->bfactor_reference);
        ck_assert_msg(fabs(r->bfactor_applied - want) < 0.02 * truth, "applied B %.2f Å², expected %.2f",
                      r->bfactor_applied, want);
        ck_assert(r->bfactor_fitted == r->bfactor_fitted && fabs(r->bfactor_fitted - truth) < 0.02 * truth);
        gar_postprocess_result_destroy(&r);
        s.bfactor = 50;   /* a given B still overrides */
        ck_assert_int_eq(gar_postprocess(g, g, mask, pixel, &s, &r), GAR_OK);
        ck_assert(r->bfactor_applied == 50);
        gar_postprocess_result_destroy(&r);
        s.bfactor = NAN;
        s.reference = small;
        ck_assert_int_eq(gar_postprocess(g, g, mask, pixel, &s, &r), GAR_ERR_DATA);
        ck_assert_ptr_null(r);
        s.reference = NULL;
        gar_map_destroy(&ref);
        gar_map_destroy(&small);
    }
    s.bfactor = NAN;
    s.fit_from_A = 3.5;   /* 3.5 to 4 Å: fewer than 3 shells */
    ck_assert_int_eq(gar_postprocess(g, g, mask, pixel, &s, &r), GAR_ERR_DATA);
    ck_assert_ptr_null(r);
    gar_map_destroy(&g);
    gar_map_destroy(&mask);
}
END_TEST

static double cut_at(double k, void *ctx) { return k <= *(double *)ctx ? 1.0 : 0.0; }

/* The mask's false correlation (Chen et al. 2013): a phantom with no signal
 * beyond shell 12 (of 32) plus independent white noise in each half, so the
 * true FSC is 0 beyond shell 12. A mask too tight (the density's upper part,
 * not extended, a 4 px edge) convolves the strong low-resolution signal into
 * the shells beyond: the masked FSC there rises above 0.17 up to shell 18.
 * The unmasked FSC falls below 0.8 at shell 9, so the phases are randomised
 * from there and the correction applies from shell 11 (RELION's two shells'
 * margin); from shell 15 on the corrected FSC is 0 within the FSC's noise (each
 * shell < 0.15, about 2.5 σ at shell 15 for the masked volume; mean < 0.03),
 * and its 0.143 crossing is before shell 15 while the masked one's is past
 * shell 17. */
START_TEST(test_tight_mask_false_correlation)
{
    const size_t n = 64, nvox = n * n * n;
    const double pixel = 2.0, edge = 12;
    gar_phantom_config pc = {n, pixel, 3, 0, 0.0};
    gar_symmetry *sym = NULL;
    gar_map *truth = NULL, *h[2] = {NULL, NULL}, *mask = NULL;
    gar_mask_settings ms;
    gar_postprocess_settings ps;
    gar_postprocess_result *r = NULL;
    double cut = edge, corrected_mean = 0;
    size_t count = 0;
    gar_rng rng;

    ck_assert_int_eq(gar_symmetry_create("C1", &sym), GAR_OK);
    ck_assert_int_eq(gar_phantom_create(&pc, sym, &truth), GAR_OK);
    ck_assert_int_eq(gar_map_filter_radial(truth, cut_at, &cut), GAR_OK);
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(gar_map_create(n, n, n, pixel, &h[k]), GAR_OK);
        gar_rng_init(&rng, 21, (uint64_t)k);
        for (size_t i = 0; i < nvox; i++)
            h[k]->data[i] = truth->data[i] + (float)(1.5 * gar_rng_normal(&rng));
    }
    gar_mask_settings_default(&ms);
    ms.lowpass_A = 2 * pixel;
    ms.threshold_fraction = 0.3;
    ms.extend_px = 0;
    ms.soft_px = 4;
    ck_assert_int_eq(gar_mask_from_map(truth, &ms, &mask, NULL), GAR_OK);
    gar_postprocess_settings_default(&ps);
    ps.bfactor = 0;
    ck_assert_int_eq(gar_postprocess(h[0], h[1], mask, pixel, &ps, &r), GAR_OK);
    ck_assert_uint_eq(r->randomise_from, 9);
    for (size_t s = 15; s <= 18; s++)
        ck_assert_msg(r->fsc_masked[s] > 0.17, "shell %zu: masked FSC %.4f, expected the mask's false correlation "
                      "(> 0.17; the truth is 0)", s, r->fsc_masked[s]);
    for (size_t s = 15; s < r->n_shells; s++) {
        ck_assert_msg(r->fsc_corrected[s] < 0.15, "shell %zu: corrected FSC %.4f, expected 0 within noise (< 0.15)",
                      s, r->fsc_corrected[s]);
        corrected_mean += r->fsc_corrected[s];
        count++;
    }
    corrected_mean /= (double)count;
    ck_assert_msg(corrected_mean < 0.03, "corrected FSC over shells 15-32: mean %.4f, expected < 0.03",
                  corrected_mean);
    ck_assert_msg(r->resolution_masked_A < n * pixel / 17.0, "masked resolution %.2f Å, expected finer than shell "
                  "17 (%.2f Å): the false correlation", r->resolution_masked_A, n * pixel / 17.0);
    ck_assert_msg(r->resolution_A > n * pixel / 15.0, "corrected resolution %.2f Å, expected coarser than shell 15 "
                  "(%.2f Å)", r->resolution_A, n * pixel / 15.0);
    gar_postprocess_result_destroy(&r);
    gar_map_destroy(&truth);
    gar_map_destroy(&h[0]);
    gar_map_destroy(&h[1]);
    gar_map_destroy(&mask);
    gar_symmetry_destroy(&sym);
}
END_TEST

/* Local resolution finds two regions of different quality: half maps of a
 * phantom plus independent white noise, where the phantom's right half
 * (x >= 32 of 64) is blurred, cut at shell 6 (16 Å at 1.5 Å/px), and its
 * left half is not. Each region's points are those whose windows stay in
 * it. The median local resolution on the right is at least 2 Å coarser
 * than on the left (measured 4.65 and 7.43 Å: a window's own transform
 * spreads the blurred region's coherent signal by a few of its shells, so
 * the right reads finer than 16 Å), the left's finer than 16 Å; the map
 * is 0 outside every window and the percentiles bracket the median. */
START_TEST(test_local_resolution_regions)
{
    const size_t n = 64, nvox = n * n * n;
    const double pixel = 1.5, cut = 6;
    gar_phantom_config pc = {n, pixel, 3, 0, 0.0};
    gar_symmetry *sym = NULL;
    gar_map *truth = NULL, *blurred = NULL, *h[2] = {NULL, NULL}, *mask = NULL;
    gar_mask_settings ms;
    gar_locres_settings ls;
    gar_locres_result *r = NULL;
    double left[512], right[512], ml, mr, reach;
    size_t nl = 0, nr = 0;
    gar_rng rng;

    ck_assert_int_eq(gar_symmetry_create("C1", &sym), GAR_OK);
    ck_assert_int_eq(gar_phantom_create(&pc, sym, &truth), GAR_OK);
    ck_assert_int_eq(gar_map_create(n, n, n, pixel, &blurred), GAR_OK);
    memcpy(blurred->data, truth->data, nvox * sizeof(float));
    ck_assert_int_eq(gar_map_filter_radial(blurred, cut_at, (void *)&cut), GAR_OK);
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(gar_map_create(n, n, n, pixel, &h[k]), GAR_OK);
        gar_rng_init(&rng, 33, (uint64_t)k);
        for (size_t i = 0; i < nvox; i++) {
            const gar_map *src = i % n >= n / 2 ? blurred : truth;
            h[k]->data[i] = src->data[i] + (float)(0.3 * gar_rng_normal(&rng));
        }
    }
    gar_mask_settings_default(&ms);
    ck_assert_int_eq(gar_mask_from_map(truth, &ms, &mask, NULL), GAR_OK);
    gar_locres_settings_default(&ls);
    ls.step_A = 4.5;
    reach = (ls.radius_A + ls.edge_A) / pixel;
    ck_assert_int_eq(gar_local_resolution(h[0], h[1], mask, pixel, &ls, 0, &r), GAR_OK);
    for (size_t k = 0; k < r->n_points; k++) {
        double x = r->points[4 * k], d = r->points[4 * k + 3];
        /* Each region's points: those whose windows stay inside it. */
        if (x + reach < n / 2 && nl < 512)
            left[nl++] = d;
        else if (x - reach >= n / 2 && nr < 512)
            right[nr++] = d;
    }
    ck_assert_msg(nl >= 5 && nr >= 5, "grid points: %zu left, %zu right", nl, nr);
    ml = gar_quantile(left, nl, 0.5);
    mr = gar_quantile(right, nr, 0.5);
    printf("local resolution: median %.2f Å left (sharp, %zu points), %.2f Å right (blurred at 16 Å, %zu points); "
           "all: median %.2f, 5th %.2f, 95th %.2f Å\n", ml, nl, mr, nr, r->median_A, r->p5_A, r->p95_A);
    ck_assert_msg(mr - ml >= 2.0, "median local resolution %.2f Å left, %.2f Å right: expected the blurred right "
                  "2 Å or more coarser", ml, mr);
    ck_assert_msg(ml < n * pixel / cut, "left median %.2f Å: expected finer than the right's blur (%.2f Å)", ml,
                  n * pixel / cut);
    ck_assert(r->p5_A <= r->median_A && r->median_A <= r->p95_A);
    ck_assert_float_eq(r->map->data[0], 0.0f);
    gar_locres_result_destroy(&r);
    gar_map_destroy(&truth);
    gar_map_destroy(&blurred);
    gar_map_destroy(&h[0]);
    gar_map_destroy(&h[1]);
    gar_map_destroy(&mask);
    gar_symmetry_destroy(&sym);
}
END_TEST

int main(void)
{
    TCase *tc = TEST_CASE("postprocess", 120, test_mask_extend_and_edge, test_mask_extent_diameter,
                          test_line_fit_and_correction,
                          test_randomise_phases, test_guinier_gaussian, test_tight_mask_false_correlation,
                          test_local_resolution_regions);
    return test_run_suite(test_suite("postprocess", tc, NULL));
}
