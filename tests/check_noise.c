/* The image preparation (gar_image), the noise model (gar_noise) and the
 * whitened pose score (gar_search with a model), against analytic values:
 * docs/ARCHITECTURE.md, "Image preparation" and "Noise model and pose
 * score". */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gar_fft.h"
#include "gar_geometry.h"
#include "gar_image.h"
#include "gar_kernels.h"
#include "gar_noise.h"
#include "gar_phantom.h"
#include "gar_refproj.h"
#include "gar_rng.h"
#include "gar_search.h"
#include "gar_simulate.h"
#include "gar_symmetry.h"
#include "testsim.h"
#include "testutil.h"

/* A plane plus Gaussian noise of σ 3 (seeded): the fit finds the plane, and
 * the background ends with mean 0 and σ 1. */
START_TEST(test_normalise_removes_ramp)
{
    const size_t N = 64;
    float *img = malloc(N * N * sizeof *img);
    gar_rng rng;
    gar_image_norm info;
    double sum = 0, ss = 0;
    size_t n = 0;
    gar_rng_init(&rng, 11, 0);
    for (size_t y = 0; y < N; y++)
        for (size_t x = 0; x < N; x++)
            img[y * N + x] = (float)(5.0 + 0.4 * ((double)x - 32) - 0.25 * ((double)y - 32) + 3.0 * gar_rng_normal(&rng));
    gar_image_normalise(img, N, gar_image_background_radius(N), &info);
    ck_assert_msg(fabs(info.slope_x - 0.4) < 0.02 && fabs(info.slope_y + 0.25) < 0.02,
                  "slopes %.4f %.4f, expected 0.4 and -0.25", info.slope_x, info.slope_y);
    ck_assert_msg(fabs(info.mean - 5.0) < 0.5, "plane at the centre %.3f, expected 5", info.mean);
    ck_assert_msg(fabs(info.sigma - 3.0) < 0.15, "background σ %.3f, expected 3", info.sigma);
    for (size_t y = 0; y < N; y++)
        for (size_t x = 0; x < N; x++) {
            const double dx = (double)x - 32, dy = (double)y - 32;
            if (dx * dx + dy * dy <= 32.0 * 32.0)
                continue;
            sum += img[y * N + x];
            ss += (double)img[y * N + x] * img[y * N + x];
            n++;
        }
    ck_assert_msg(fabs(sum / n) < 1e-4, "background mean %.2e after, expected 0", sum / n);
    ck_assert_msg(fabs(sqrt(ss / (n - 3)) - 1.0) < 1e-4, "background σ %.5f after, expected 1", sqrt(ss / (n - 3)));
    /* A noise-free plane: removed, and no division by its σ of 0. */
    for (size_t k = 0; k < N * N; k++)
        img[k] = (float)(2.0 + 0.1 * (double)(k % N));
    gar_image_normalise(img, N, gar_image_background_radius(N), &info);
    for (size_t k = 0; k < N * N; k++)
        ck_assert_msg(fabs(img[k]) < 1e-4, "pixel %zu: %g after removing an exact plane", k, img[k]);
    free(img);
}
END_TEST

/* Noise of spectrum shape S(s) = 1 + 6 exp(−(s/6)²) (shells of a 64 box),
 * made in Fourier space, of pixel variance `var` on average. */
static void coloured_noise(gar_fft2 *fft, size_t N, uint64_t seed, float *out)
{
    gar_rng rng;
    float *real = gar_fft2_real(fft), *c;
    const size_t H = N / 2 + 1;
    gar_rng_init(&rng, seed, 1);
    for (size_t k = 0; k < N * N; k++)
        real[k] = (float)gar_rng_normal(&rng);
    gar_fft2_forward(fft);
    c = gar_fft2_complex(fft);
    for (size_t j = 0; j < N; j++)
        for (size_t u = 0; u < H; u++) {
            const double v = j <= N / 2 ? (double)j : (double)j - (double)N, s = sqrt((double)u * u + v * v);
            const double g = sqrt(1.0 + 6.0 * exp(-(s / 6.0) * (s / 6.0))) / (double)(N * N);
            c[2 * (j * H + u)] *= (float)g;
            c[2 * (j * H + u) + 1] *= (float)g;
        }
    gar_fft2_inverse(fft);
    memcpy(out, real, N * N * sizeof *out);
}

/* The background estimate of white and of coloured noise: flat at the
 * expected level (the mask's Σ m²/N² times the pixel variance) for white;
 * the shape of S for coloured, within 12 % away from its steep edge. */
START_TEST(test_background_spectrum)
{
    const size_t N = 64, S = N / 2 + 1, count = 400;
    const double rm = 0.4 * N;
    gar_fft2 *fft = NULL;
    float *img = malloc(N * N * sizeof *img), *sums = calloc(2 * S, sizeof *sums);
    int32_t group = 1;
    gar_noise *nm = NULL;
    double msum = 0;
    ck_assert_int_eq(gar_fft2_create(N, &fft), GAR_OK);
    ck_assert_int_eq(gar_noise_create(&group, 1, S, &nm), GAR_OK);
    ck_assert(gar_noise_is_white(nm));
    for (size_t y = 0; y < N; y++)
        for (size_t x = 0; x < N; x++) {
            const double r = hypot((double)x - N / 2, (double)y - N / 2);
            const double m = gar_particle_mask((float)r, (float)rm);
            msum += m * m;
        }
    for (int colour = 0; colour < 2; colour++) {
        memset(sums, 0, 2 * S * sizeof *sums);
        for (size_t i = 0; i < count; i++) {
            if (colour) {
                coloured_noise(fft, N, 100 + i, img);
            } else {
                gar_rng rng;
                gar_rng_init(&rng, 7, i);
                for (size_t k = 0; k < N * N; k++)
                    img[k] = (float)(2.0 * gar_rng_normal(&rng));   /* variance 4 */
            }
            gar_noise_background_sums(fft, img, N, rm, S, sums);
        }
        ck_assert_int_eq(gar_noise_update(nm, sums, S), GAR_OK);
        const double *s2 = gar_noise_sigma2(nm, 0);
        for (size_t s = 2; s < S - 1; s++) {
            const double expect = colour ? s2[30] * (1.0 + 6.0 * exp(-(s / 6.0) * (s / 6.0)))
                                         : 4.0 * msum / (double)(N * N);
            /* The window smooths the steep part of S (shells 4 to 10). */
            const double tol = colour && s >= 4 && s <= 10 ? 0.35 : 0.12;
            ck_assert_msg(fabs(s2[s] / expect - 1.0) < tol, "%s noise, shell %zu: σ² %.4g, expected %.4g",
                          colour ? "coloured" : "white", s, s2[s], expect);
        }
        if (colour)
            ck_assert_msg(s2[1] / s2[30] > 5.0, "coloured noise: low/high %.2f, expected about 7", s2[1] / s2[30]);
    }
    gar_noise_destroy(&nm);
    gar_fft2_destroy(&fft);
    free(img);
    free(sums);
}
END_TEST

/* An update over the first shells only: those take the new values, the
 * rest keep their shape scaled to meet them; bad sums are refused. */
START_TEST(test_noise_update_band)
{
    const size_t S = 10;
    int32_t groups[2] = {3, 5};
    gar_noise *nm = NULL;
    float sums[2 * 2 * 10];
    ck_assert_int_eq(gar_noise_create(groups, 2, S, &nm), GAR_OK);
    ck_assert_int_eq(gar_noise_index(nm, 5), 1);
    ck_assert_int_eq(gar_noise_index(nm, 4), -1);
    for (size_t g = 0; g < 2; g++)
        for (size_t s = 0; s < S; s++) {
            sums[2 * (g * S + s)] = (float)(10.0 * (s + 1) * (g + 1));
            sums[2 * (g * S + s) + 1] = 10.0f;
        }
    ck_assert_int_eq(gar_noise_update(nm, sums, S), GAR_OK);   /* σ² = (s + 1)(g + 1) */
    for (size_t g = 0; g < 2; g++)
        for (size_t s = 0; s < S; s++)
            sums[2 * (g * S + s)] *= 2.0f;                        /* twice, over shells < 6 */
    ck_assert_int_eq(gar_noise_update(nm, sums, 6), GAR_OK);
    for (size_t g = 0; g < 2; g++)
        for (size_t s = 0; s < S; s++)
            ck_assert_msg(fabs(gar_noise_sigma2(nm, g)[s] - 2.0 * (s + 1) * (g + 1)) < 1e-9,
                          "group %zu shell %zu: %g", g, s, gar_noise_sigma2(nm, g)[s]);
    sums[2 * 3] = -1.0f;
    ck_assert_int_eq(gar_noise_update(nm, sums, 6), GAR_ERR_DATA);
    gar_noise_destroy(&nm);
}
END_TEST

static gar_map *phantom(size_t box)
{
    gar_symmetry *sym = NULL;
    gar_map *m = NULL;
    gar_phantom_config pc = {box, 3.0, 7, 0, 0};
    ck_assert_int_eq(gar_symmetry_create("C1", &sym), GAR_OK);
    ck_assert_int_eq(gar_phantom_create(&pc, sym, &m), GAR_OK);
    gar_symmetry_destroy(&sym);
    return m;
}

/* A search of noise-free particles (CTF, no shifts), each multiplied by a
 * known contrast, at their true poses (local, small step): a model of one
 * σ² everywhere scores exactly as none (the score is scale-free), the
 * contrast scale found is the one applied (the reference is the map the
 * particles were made from), and the residual of a noise-free particle is
 * far below its power. */
START_TEST(test_whitened_score_and_scale)
{
    gar_map *m = phantom(48);
    sim_set s;
    gar_refproj *ref = NULL;
    gar_noise *nm = NULL;
    const size_t N = 48, S = N / 2 + 1;
    int32_t group = 1;
    double *flat = malloc(S * sizeof *flat);
    simulate(m, 6, 0, 1, 0.0, 9, &s);
    for (size_t i = 0; i < s.n; i++)
        for (size_t k = 0; k < N * N; k++)
            s.images[i * N * N + k] *= (float)(0.5 + 0.5 * i);
    gar_map *prepared = NULL;
    ck_assert_int_eq(gar_sim_prepare_map(m, &prepared), GAR_OK);
    ck_assert_int_eq(gar_refproj_create(prepared, 0.45 * N, NULL, 0, &ref), GAR_OK);
    ck_assert_int_eq(gar_noise_create(&group, 1, S, &nm), GAR_OK);
    for (size_t k = 0; k < S; k++)
        flat[k] = 7.0;
    ck_assert_int_eq(gar_noise_set(nm, 0, flat), GAR_OK);
    gar_search_result res[2][6];
    gar_particle found[2][6];
    float *noise = calloc(s.n * 2 * S, sizeof *noise);
    for (int with = 0; with < 2; with++) {
        gar_search *search = NULL;
        gar_search_config c = test_search_config(&s, ref, GAR_SEARCH_LOCAL, 1.0);
        c.noise = with ? nm : NULL;
        memcpy(found[with], s.meta, s.n * sizeof *s.meta);
        ck_assert_msg(gar_search_create(&c, &search) == GAR_OK, "%s", gar_errmsg());
        ck_assert_msg(gar_search_batch(search, s.images, found[with], res[with], with ? noise : NULL, s.n) == GAR_OK,
                      "%s", gar_errmsg());
        gar_search_destroy(&search);
    }
    for (size_t i = 0; i < s.n; i++) {
        const double applied = 0.5 + 0.5 * i;
        ck_assert_msg(fabs(res[1][i].score - res[0][i].score) < 1e-5, "particle %zu: score %.7f with a flat model, "
                      "%.7f without", i, res[1][i].score, res[0][i].score);
        double A[9], B[9];
        gar_euler_to_matrix(found[0][i].rot_deg, found[0][i].tilt_deg, found[0][i].psi_deg, A);
        gar_euler_to_matrix(found[1][i].rot_deg, found[1][i].tilt_deg, found[1][i].psi_deg, B);
        ck_assert_msg(gar_rotation_angle_between(A, B) < 1e-3, "particle %zu: pose %.5f degrees from the one found "
                      "without a model", i, gar_rotation_angle_between(A, B));
        /* The images hold the projection through the simulator's mask and
         * prefilter; the reference is the prepared map: a within 5 %. */
        ck_assert_msg(fabs(res[1][i].scale / applied - 1.0) < 0.05, "particle %zu: scale %.4f, applied %.4f", i,
                      res[1][i].scale, applied);
        double power = 0, resid = 0;
        for (size_t k = 1; k < S; k++)
            resid += noise[i * 2 * S + 2 * k];
        ck_assert(resid >= 0);
        (void)power;
    }
    /* The residual of the scaled particle 5 is the residual of particle 0
     * scaled by 3² (same pose error pattern is not guaranteed, so only: a
     * noise-free particle's residual is small against its signal, a score
     * near 1). */
    for (size_t i = 0; i < s.n; i++)
        ck_assert_msg(res[1][i].score > 0.95, "particle %zu: score %.4f for a noise-free particle at its pose", i,
                      res[1][i].score);
    free(noise);
    free(flat);
    gar_noise_destroy(&nm);
    gar_refproj_destroy(&ref);
    gar_map_destroy(&prepared);
    sim_free(&s);
    gar_map_destroy(&m);
}
END_TEST

/* Pose uncertainty (cfg.alternatives): noisy particles at their true poses
 * (local search), the model estimated from their background: the shares of
 * the best pose and the alternatives sum to 1, every alternative holds at
 * least 1 % of the best's share and at most cfg.alternatives are kept, and
 * some particle has one (at SNR 0.05 and a 1° step the grid's neighbours are
 * about as likely); noise-free particles keep the best pose only. */
START_TEST(test_alternatives)
{
    gar_map *m = phantom(48), *prepared = NULL;
    const size_t N = 48, S = N / 2 + 1;
    int32_t group = 1;
    ck_assert_int_eq(gar_sim_prepare_map(m, &prepared), GAR_OK);
    for (int noisy = 0; noisy < 2; noisy++) {
        sim_set s;
        gar_refproj *ref = NULL;
        gar_noise *nm = NULL;
        gar_fft2 *fft = NULL;
        float *sums = calloc(2 * S, sizeof *sums);
        simulate(m, 16, noisy ? 0.05 : 0, 1, 0.0, 17, &s);
        ck_assert_int_eq(gar_fft2_create(N, &fft), GAR_OK);
        ck_assert_int_eq(gar_noise_create(&group, 1, S, &nm), GAR_OK);
        if (noisy) {
            for (size_t i = 0; i < s.n; i++)
                gar_noise_background_sums(fft, s.images + i * N * N, N, 0.45 * N, S, sums);
            ck_assert_int_eq(gar_noise_update(nm, sums, S), GAR_OK);
        }
        ck_assert_int_eq(gar_refproj_create(prepared, 0.45 * N, NULL, 0, &ref), GAR_OK);
        gar_search *search = NULL;
        gar_search_config c = test_search_config(&s, ref, GAR_SEARCH_LOCAL, 1.0);
        c.noise = nm;
        c.alternatives = 5;
        gar_search_result *res = calloc(s.n, sizeof *res);
        gar_particle *found = malloc(s.n * sizeof *found);
        memcpy(found, s.meta, s.n * sizeof *found);
        ck_assert_msg(gar_search_create(&c, &search) == GAR_OK, "%s", gar_errmsg());
        ck_assert_msg(gar_search_batch(search, s.images, found, res, NULL, s.n) == GAR_OK, "%s", gar_errmsg());
        int with_alt = 0;
        for (size_t i = 0; i < s.n; i++) {
            double sum = res[i].best_weight;
            ck_assert_msg(res[i].n_alt >= 0 && res[i].n_alt <= 5, "particle %zu: %d alternatives", i, res[i].n_alt);
            for (int k = 0; k < res[i].n_alt; k++) {
                sum += res[i].alt[k].weight;
                ck_assert_msg(res[i].alt[k].weight >= 0.0099 * res[i].best_weight &&
                                  res[i].alt[k].weight <= res[i].best_weight * 1.0000001,
                              "particle %zu: alternative %d of weight %g, the best's %g", i, k, res[i].alt[k].weight,
                              res[i].best_weight);
            }
            ck_assert_msg(fabs(sum - 1.0) < 1e-9, "particle %zu: shares sum to %.12f", i, sum);
            with_alt += res[i].n_alt > 0;
        }
        fprintf(stderr, "measured: %s particles, %d of %zu with alternatives\n", noisy ? "SNR 0.05" : "noise-free",
                with_alt, s.n);
        if (noisy)
            ck_assert_msg(with_alt > 0, "no noisy particle has an alternative pose");
        else
            ck_assert_msg(with_alt == 0, "%d noise-free particles have alternatives", with_alt);
        free(res);
        free(found);
        free(sums);
        gar_search_destroy(&search);
        gar_refproj_destroy(&ref);
        gar_noise_destroy(&nm);
        gar_fft2_destroy(&fft);
        sim_free(&s);
    }
    gar_map_destroy(&prepared);
    gar_map_destroy(&m);
}
END_TEST

int main(void)
{
    TCase *tc = TEST_CASE("noise", 120, test_normalise_removes_ramp, test_background_spectrum, test_noise_update_band,
                          test_whitened_score_and_scale, test_alternatives);
    return test_run_suite(test_suite("noise", tc, NULL));
}
