/* The simulator against independent computations: the projection-slice
 * theorem (exact at the identity pose, a direct non-uniform DFT at others),
 * the SNR of the noise it adds, thread independence, and RELION's own
 * simulated particles (conventions for angles, shifts and CTF sign); default
 * stacks unchanged since before the realism options, and those options
 * (docs/SIMULATE.md) against their formulas: B-factor envelope, noise
 * spectrum and variance, ramp, contrast, junk. */
#include <check.h>
#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gar_kernels.h"
#include "gar_mrc.h"
#include "gar_project.h"
#include "gar_simulate.h"
#include "gar_stack.h"
#include "gar_star.h"
#include "testutil.h"

#define ck_assert_msg_has_text(t) \
    ck_assert_msg(strstr(gar_errmsg(), (t)) != NULL, "message '%s' lacks '%s'", gar_errmsg(), (t))

static int cmp_double_asc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static gar_map *load_tii64(void)
{
    gar_map *m = NULL;
    gar_status st = gar_mrc_read(test_example("tii-64.mrc"), &m);
    ck_assert_msg(st == GAR_OK, "%s", gar_errmsg());
    ck_assert_uint_eq(m->nx, 64);
    return m;
}

/* At the identity pose the ray sum is the sum along z, whose 2D DFT is the
 * kz = 0 plane of the map's 3D DFT (computed here with FFTW directly). */
START_TEST(test_projection_identity_is_central_slice)
{
    gar_map *m = load_tii64();
    const int n = 64, h = n / 2 + 1;
    double A[9];
    float *proj = fftwf_alloc_real(n * n);
    fftwf_complex *p2 = fftwf_alloc_complex(n * h);
    fftwf_complex *v3 = fftwf_alloc_complex((size_t)n * n * h);
    float *vin = fftwf_alloc_real((size_t)n * n * n);
    memcpy(vin, m->data, sizeof(float) * n * n * n);
    gar_euler_to_matrix(0, 0, 0, A);
    ck_assert_int_eq(gar_project_real(m, A, proj), GAR_OK);
    fftwf_plan a = fftwf_plan_dft_r2c_2d(n, n, proj, p2, FFTW_ESTIMATE);
    fftwf_plan b = fftwf_plan_dft_r2c_3d(n, n, n, vin, v3, FFTW_ESTIMATE);
    fftwf_execute(a);
    fftwf_execute(b);
    double num = 0, den = 0;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < h; i++) {
            /* 3D layout [z][y][x/2+1]; the kz = 0 plane is z index 0. */
            const float *s = v3[(size_t)j * h + i];
            const float *p = p2[(size_t)j * h + i];
            num += (s[0] - p[0]) * (s[0] - p[0]) + (s[1] - p[1]) * (s[1] - p[1]);
            den += s[0] * s[0] + s[1] * s[1];
        }
    fprintf(stderr, "measured: identity projection vs kz=0 plane, relative L2 %.3g\n", sqrt(num / den));
    ck_assert_msg(sqrt(num / den) < 1e-5, "relative L2 difference %g (tolerance 1e-5)", sqrt(num / den));
    fftwf_destroy_plan(a);
    fftwf_destroy_plan(b);
    fftwf_free(proj);
    fftwf_free(p2);
    fftwf_free(v3);
    fftwf_free(vin);
    gar_map_destroy(&m);
}
END_TEST

/* At arbitrary poses, compare the simulator's projection (solvent, prefilter,
 * ray sums) with the exact central slice V^(Aᵀk) of the map in solvent,
 * evaluated as a direct (non-uniform) DFT of the voxels, over |k| <= N/4.
 * Measured: 0.5-1.4 % relative L2 (plain trilinear rays: 6 % at k = 1, 21 % at N/4). */
START_TEST(test_projection_matches_direct_slice)
{
    gar_map *m = load_tii64(), *prepared = NULL;
    const int n = 64, kmax = n / 4;
    const double c = n / 2;
    float *proj = malloc(sizeof(float) * n * n);
    const double poses[3][3] = {{37.0, 71.0, -122.0}, {-150.0, 23.0, 80.0}, {95.0, 131.0, 12.0}};
    ck_assert_int_eq(gar_sim_prepare_map(m, &prepared), GAR_OK);
    gar_sim_solvent(m);
    for (int q = 0; q < 3; q++) {
        double A[9], num = 0, den = 0;
        gar_euler_to_matrix(poses[q][0], poses[q][1], poses[q][2], A);
        ck_assert_int_eq(gar_project_real(prepared, A, proj), GAR_OK);
        for (int ky = -kmax; ky <= kmax; ky++)
            for (int kx = 0; kx <= kmax; kx++) {
                if (kx * kx + ky * ky > kmax * kmax || (kx == 0 && ky < 0))
                    continue;
                double k3[3], kk[3] = {kx, ky, 0};
                double pre = 0, pim = 0, sre = 0, sim = 0;
                gar_mat3_apply_t(A, kk, k3);
                for (int y = 0; y < n; y++)
                    for (int x = 0; x < n; x++) {
                        double ph = -2 * GAR_PI * (kx * (x - c) + ky * (y - c)) / n;
                        pre += proj[y * n + x] * cos(ph);
                        pim += proj[y * n + x] * sin(ph);
                    }
                /* The phase is separable: accumulate e^{-iφ} per axis. */
                for (int z = 0; z < n; z++)
                    for (int y = 0; y < n; y++) {
                        double base = k3[1] * (y - c) + k3[2] * (z - c);
                        for (int x = 0; x < n; x++) {
                            float v = m->data[((size_t)z * n + y) * n + x];
                            if (v == 0.0f)
                                continue;
                            double ph = -2 * GAR_PI * (k3[0] * (x - c) + base) / n;
                            sre += v * cos(ph);
                            sim += v * sin(ph);
                        }
                    }
                num += (pre - sre) * (pre - sre) + (pim - sim) * (pim - sim);
                den += sre * sre + sim * sim;
            }
        fprintf(stderr, "measured: pose %d: simulator vs exact slice, relative L2 %.4f over |k| <= %d\n", q,
                sqrt(num / den), kmax);
        ck_assert_msg(sqrt(num / den) < 0.02, "pose %d: relative L2 difference %g over |k| <= %d (tolerance 0.02)",
                      q, sqrt(num / den), kmax);
    }
    free(proj);
    gar_map_destroy(&prepared);
    gar_map_destroy(&m);
}
END_TEST

static void run_garner(const char *args)
{
    char cmd[4096];
    const char *garner = getenv("GARNER");
    snprintf(cmd, sizeof cmd, "%s %s", garner ? garner : "./garner", args);
    int rc = system(cmd);
    ck_assert_msg(rc == 0, "command failed (%d): %s", rc, cmd);
}

static float *read_all_images(const char *path, size_t *count, gar_particle **meta)
{
    gar_stack *s = NULL;
    ck_assert_msg(gar_stack_open(path, &s) == GAR_OK, "%s", gar_errmsg());
    size_t n = gar_stack_count(s), box = gar_stack_box(s);
    float *img = malloc(sizeof(float) * n * box * box);
    *meta = malloc(sizeof **meta * n);
    ck_assert_int_eq(gar_stack_read_images(s, 0, n, img), GAR_OK);
    ck_assert_int_eq(gar_stack_read_meta(s, 0, n, *meta), GAR_OK);
    *count = n;
    gar_stack_close(&s);
    return img;
}

/* `garner simulate` twice with one seed, without and with noise: the
 * difference is the noise, whose variance must give the requested SNR. */
START_TEST(test_cli_snr_and_threads)
{
    char args[2048];
    const char *clean = test_tmpfile("sim", "clean.h5");
    const char *noisy = test_tmpfile("sim", "noisy.h5");
    const char *noisy1 = test_tmpfile("sim", "noisy1.h5");
    const double snr = 0.3;
    size_t n1, n2, n3;
    gar_particle *m1, *m2, *m3;
    snprintf(args, sizeof args, "simulate --map %s --count 120 --snr inf --seed 11 --shift-sigma 2 "
             "--threads 2 --out %s 2>/dev/null", test_example("tii-64.mrc"), clean);
    run_garner(args);
    snprintf(args, sizeof args, "simulate --map %s --count 120 --snr %g --seed 11 --shift-sigma 2 "
             "--threads 2 --out %s 2>/dev/null", test_example("tii-64.mrc"), snr, noisy);
    run_garner(args);
    snprintf(args, sizeof args, "simulate --map %s --count 120 --snr %g --seed 11 --shift-sigma 2 "
             "--threads 1 --out %s 2>/dev/null", test_example("tii-64.mrc"), snr, noisy1);
    run_garner(args);
    float *a = read_all_images(clean, &n1, &m1);
    float *b = read_all_images(noisy, &n2, &m2);
    float *b1 = read_all_images(noisy1, &n3, &m3);
    ck_assert_uint_eq(n1, 120);
    ck_assert_uint_eq(n2, 120);
    double sig = 0, noise = 0;
    const size_t npix = 64 * 64;
    for (size_t i = 0; i < n1; i++) {
        double ma = 0, mn = 0;
        ck_assert_double_eq(m1[i].rot_deg, m2[i].rot_deg);
        ck_assert_double_eq(m1[i].origin_x_A, m2[i].origin_x_A);
        ck_assert_int_eq(m1[i].half_set, (int)(1 + i % 2));
        for (size_t k = 0; k < npix; k++) {
            ma += a[i * npix + k];
            mn += b[i * npix + k] - a[i * npix + k];
        }
        ma /= npix;
        mn /= npix;
        for (size_t k = 0; k < npix; k++) {
            double s = a[i * npix + k] - ma, e = b[i * npix + k] - a[i * npix + k] - mn;
            sig += s * s;
            noise += e * e;
        }
    }
    double measured = sig / noise;
    fprintf(stderr, "measured: SNR %.4f for --snr %g\n", measured, snr);
    ck_assert_msg(fabs(measured / snr - 1) < 0.05, "measured SNR %.4f, requested %.4f (tolerance 5 %%)",
                  measured, snr);
    /* One thread or two: the same stack, bit for bit. */
    ck_assert_msg(memcmp(b, b1, sizeof(float) * n1 * npix) == 0, "stack differs between 1 and 2 threads");
    free(a);
    free(b);
    free(b1);
    free(m1);
    free(m2);
    free(m3);
}
END_TEST

/* FNV-1a (64 bit) over the bytes of n floats. */
static uint64_t fnv1a_floats(uint64_t h, const float *v, size_t n)
{
    const unsigned char *b = (const unsigned char *)v;
    for (size_t k = 0; k < n * sizeof(float); k++) {
        h ^= b[k];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* A stack made without the realism options (coloured noise, B-factor, ramp,
 * contrast, junk) is bitwise what it was before they existed: the hashes of
 * the images of two tiny default stacks, taken with the code of commit
 * 2ba92d2 (before the options) on an x86-64 AMD EPYC (AVX-512) with Debian's
 * FFTW 3.3. FFTW picks its codelets by the CPU's SIMD set, so another CPU
 * family may round differently: a mismatch there is first to be checked
 * against the pre-option code on that machine. */
START_TEST(test_default_stack_unchanged)
{
    static const struct {
        const char *args;
        uint64_t hash;
    } cases[] = {
        {"--count 6", UINT64_C(0x8ecd16509c642e18)},
        {"--count 6 --snr 0.3 --shift-sigma 2 --seed 7 --no-ctf", UINT64_C(0x394d5bac0695bf67)},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char args[2048];
        const char *out = test_tmpfile("sim", "default.h5");
        size_t n;
        gar_particle *m;
        snprintf(args, sizeof args, "simulate --map %s %s --overwrite --out %s 2>/dev/null",
                 test_example("tii-64.mrc"), cases[c].args, out);
        run_garner(args);
        float *img = read_all_images(out, &n, &m);
        uint64_t h = fnv1a_floats(UINT64_C(0xcbf29ce484222325), img, n * 64 * 64);
        fprintf(stderr, "measured: default stack '%s': images hash 0x%016llx\n", cases[c].args,
                (unsigned long long)h);
        ck_assert_msg(h == cases[c].hash, "'simulate %s': images hash 0x%016llx, expected 0x%016llx",
                      cases[c].args, (unsigned long long)h, (unsigned long long)cases[c].hash);
        free(img);
        free(m);
    }
}
END_TEST

/* The canvas the CTF is applied on: the box without CTF or without
 * ctf_canvas (the default); else box + the CTF's largest spread. At 3 Å/px, 300 kV, Cs 2.7 mm and
 * defocus up to 2.5 µm + 200 Å the spread to the corner frequency (√2/6 Å⁻¹)
 * is (λ·25200·0.2357 + Cs·λ³·0.2357³) / 3 = (116.9 + 2.7) / 3 = 39.9 px, so
 * 64 + 40 + 2 = 106 → 108, the next FFT-friendly size. */
START_TEST(test_ctf_canvas)
{
    gar_sim_config cfg;
    gar_sim_config_default(&cfg);
    cfg.pixel_size_A = 3.0;
    ck_assert_uint_eq(gar_sim_canvas(&cfg, 64), 64);   /* the default: the box's own grid */
    cfg.ctf_canvas = 1;
    ck_assert_uint_eq(gar_sim_canvas(&cfg, 64), 108);
    cfg.defocus_max_A = 50000;
    ck_assert_uint_gt(gar_sim_canvas(&cfg, 64), 64 + 2 * 39);
    cfg.ctf_canvas = 0;
    ck_assert_uint_eq(gar_sim_canvas(&cfg, 64), 64);
    cfg.ctf_canvas = 1;
    cfg.apply_ctf = 0;
    ck_assert_uint_eq(gar_sim_canvas(&cfg, 64), 64);
}
END_TEST

/* RELION's own simulated particles (relion_project: CTF, shifts, noise at
 * SNR ~0.5) must correlate with our noise-free simulation of the same poses
 * at about sqrt(0.5 / 1.5) = 0.577; a wrong sign of the shift, the CTF or the
 * Euler convention drops it far below (measured: 0.41 with the shift negated,
 * -0.57 with the CTF negated, 0.25 with the transposed rotation). */
START_TEST(test_relion_conventions)
{
    gar_map *raw = load_tii64(), *m = NULL;
    ck_assert_int_eq(gar_sim_prepare_map(raw, &m), GAR_OK);
    gar_map_destroy(&raw);
    gar_star *star = NULL;
    gar_mrc *mrc = NULL;
    gar_sim_worker *w = NULL;
    const size_t n = 64, npix = n * n;
    float *img = malloc(sizeof(float) * npix), *clean = malloc(sizeof(float) * npix);
    float *part = malloc(sizeof(float) * npix);
    ck_assert_int_eq(gar_star_read(test_data("relion-sim/particles.star"), &star), GAR_OK);
    ck_assert_int_eq(gar_mrc_open(test_data("relion-sim/particles.mrcs"), &mrc), GAR_OK);
    ck_assert_int_eq(gar_sim_worker_create(n, &w), GAR_OK);
    const gar_star_table *t = gar_star_block(star, "particles");
    const char *labels[8] = {"rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi", "rlnOriginXAngst",
                             "rlnOriginYAngst", "rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle"};
    int cols[8];
    for (int k = 0; k < 8; k++)
        ck_assert_int_ge(cols[k] = gar_star_column(t, labels[k]), 0);
    gar_sim_config cfg;
    gar_sim_config_default(&cfg);
    cfg.pixel_size_A = 3.0;
    cfg.snr = INFINITY;
    cfg.ctf_canvas = 0;   /* relion_project applies the CTF on the box's own grid */
    double sum_r[2] = {0, 0};
    size_t rows = gar_star_rows(t);
    ck_assert_uint_eq(rows, 400);
    for (size_t r = 0; r < rows; r++) {
        double v[8];
        for (int k = 0; k < 8; k++)
            ck_assert_int_eq(gar_star_cell_double(star, t, r, cols[k], &v[k]), GAR_OK);
        ck_assert_int_eq(gar_mrc_read_sections(mrc, r, 1, part), GAR_OK);
        for (int flip = 0; flip < 2; flip++) {
            gar_particle p = {0};
            p.rot_deg = v[0];
            p.tilt_deg = v[1];
            p.psi_deg = v[2];
            p.origin_x_A = flip ? -v[3] : v[3];
            p.origin_y_A = flip ? -v[4] : v[4];
            p.defocus_u_A = v[5];
            p.defocus_v_A = v[6];
            p.defocus_angle_deg = v[7];
            ck_assert_int_eq(gar_sim_render(w, m, &cfg, r, &p, img, clean), GAR_OK);
            double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
            for (size_t k = 0; k < npix; k++) {
                ma += part[k];
                mb += clean[k];
            }
            ma /= npix;
            mb /= npix;
            for (size_t k = 0; k < npix; k++) {
                sab += (part[k] - ma) * (clean[k] - mb);
                saa += (part[k] - ma) * (part[k] - ma);
                sbb += (clean[k] - mb) * (clean[k] - mb);
            }
            sum_r[flip] += sab / sqrt(saa * sbb);
        }
    }
    fprintf(stderr, "measured: correlation with RELION's particles %.4f (shifts negated: %.4f)\n",
            sum_r[0] / rows, sum_r[1] / rows);
    ck_assert_msg(sum_r[0] / rows > 0.55, "mean correlation with RELION's particles %.4f (expected ~0.577)",
                  sum_r[0] / rows);
    ck_assert_msg(sum_r[1] / rows < sum_r[0] / rows - 0.1, "negated shifts correlate as well (%.4f vs %.4f)",
                  sum_r[1] / rows, sum_r[0] / rows);
    free(img);
    free(clean);
    free(part);
    gar_sim_worker_destroy(&w);
    gar_mrc_close(&mrc);
    gar_star_destroy(&star);
    gar_map_destroy(&m);
}
END_TEST

/* ---- realism (issue 16) ---- */

/* The radially averaged amplitude |F| of image `img` (n x n) in shells
 * [r0, r1) of |k| (pixels of the transform), over the half plane; with `w`
 * (n x (n/2+1)) the sum of |F| * w instead. */
static double shell_sum(const float *img, size_t n, double r0, double r1, int power, const double *w,
                        double *count)
{
    size_t h = n / 2 + 1;
    float *in = fftwf_alloc_real(n * n);
    fftwf_complex *out = fftwf_alloc_complex(n * h);
    fftwf_plan plan = fftwf_plan_dft_r2c_2d((int)n, (int)n, in, out, FFTW_ESTIMATE);
    double sum = 0, cnt = 0;
    memcpy(in, img, sizeof(float) * n * n);
    fftwf_execute(plan);
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < h; i++) {
            double ky = j < n / 2 ? (double)j : (double)j - (double)n, r = hypot((double)i, ky);
            if (r < r0 || r >= r1)
                continue;
            double a2 = (double)out[j * h + i][0] * out[j * h + i][0] + (double)out[j * h + i][1] * out[j * h + i][1];
            double v = power ? a2 : sqrt(a2);
            sum += w ? v * w[j * h + i] : v;
            cnt += 1;
        }
    fftwf_destroy_plan(plan);
    fftwf_free(in);
    fftwf_free(out);
    if (count)
        *count = cnt;
    return sum;
}

/* The B-factor envelope: a noise-free render with B over one without, shell
 * by shell, is the amplitude-weighted mean of exp(−B s²/4) over the shell,
 * with the CTF and without (--no-ctf applies it too). */
START_TEST(test_bfactor_envelope)
{
    gar_map *raw = load_tii64(), *m = NULL;
    gar_sim_worker *w = NULL;
    const size_t n = 64, h = n / 2 + 1;
    const double B = 200.0, pix = 3.0;
    float *img = malloc(sizeof(float) * n * n), *c0 = malloc(sizeof(float) * n * n);
    float *cb = malloc(sizeof(float) * n * n);
    double *env = malloc(sizeof(double) * n * h);
    ck_assert_int_eq(gar_sim_prepare_map(raw, &m), GAR_OK);
    ck_assert_int_eq(gar_sim_worker_create(n, &w), GAR_OK);
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < h; i++) {
            double ky = j < n / 2 ? (double)j : (double)j - (double)n;
            double s2 = ((double)i * i + ky * ky) / (n * pix * n * pix);
            env[j * h + i] = exp(-B * s2 / 4.0);
        }
    for (int ctf = 0; ctf < 2; ctf++) {
        gar_sim_config cfg;
        gar_particle meta;
        gar_sim_config_default(&cfg);
        cfg.pixel_size_A = pix;
        cfg.snr = INFINITY;
        cfg.apply_ctf = ctf;
        cfg.shift_sigma_A = 2.0;
        gar_sim_draw(&cfg, 3, &meta);
        ck_assert_int_eq(gar_sim_render(w, m, &cfg, 3, &meta, img, c0), GAR_OK);
        cfg.bfactor_A2 = B;
        ck_assert_int_eq(gar_sim_render(w, m, &cfg, 3, &meta, img, cb), GAR_OK);
        const double shells[5] = {4, 10, 16, 24, 30};
        for (int q = 0; q < 5; q++) {
            double a0 = shell_sum(c0, n, shells[q] - 0.5, shells[q] + 0.5, 0, NULL, NULL);
            double ab = shell_sum(cb, n, shells[q] - 0.5, shells[q] + 0.5, 0, NULL, NULL);
            double want = shell_sum(c0, n, shells[q] - 0.5, shells[q] + 0.5, 0, env, NULL) / a0;
            double s = shells[q] / (n * pix);
            fprintf(stderr, "measured: B %g, %s, shell %g (s %.4f 1/Å): ratio %.5f, exp(-B s²/4) %.5f\n", B,
                    ctf ? "CTF" : "no CTF", shells[q], s, ab / a0, want);
            ck_assert_msg(fabs(ab / a0 / want - 1) < 2e-3,
                          "%s, shell %g: amplitude ratio %.5f, envelope %.5f (tolerance 0.2 %%)",
                          ctf ? "CTF" : "no CTF", shells[q], ab / a0, want);
            ck_assert_msg(fabs(want - exp(-B * s * s / 4)) < 0.02 * exp(-B * s * s / 4), "shell mean");
        }
    }
    free(img);
    free(c0);
    free(cb);
    free(env);
    gar_sim_worker_destroy(&w);
    gar_map_destroy(&m);
    gar_map_destroy(&raw);
}
END_TEST

static float *read_truth(const char *path, size_t *count, gar_particle **meta, int32_t **junk, double **scale)
{
    gar_stack *s = NULL;
    float *img = read_all_images(path, count, meta);
    ck_assert_msg(gar_stack_open(path, &s) == GAR_OK, "%s", gar_errmsg());
    ck_assert_msg(gar_stack_has_sim_truth(s), "%s has no sim_junk, sim_scale", path);
    *junk = malloc(sizeof **junk * *count);
    *scale = malloc(sizeof **scale * *count);
    ck_assert_msg(gar_stack_read_sim_truth(s, 0, *count, *junk, *scale) == GAR_OK, "%s", gar_errmsg());
    gar_stack_close(&s);
    return img;
}

static double image_variance(const float *v, size_t npix)
{
    double m = 0, var = 0;
    for (size_t k = 0; k < npix; k++)
        m += v[k];
    m /= npix;
    for (size_t k = 0; k < npix; k++)
        var += (v[k] - m) * (v[k] - m);
    return var / npix;
}

/* The built-in ice model, written out again here. */
static double ice_model(double s) { return 1.0 + 6.0 * exp(-(40.0 * s) * (40.0 * s)); }
static double step_model(double s) { return s <= 0.03 ? 4.0 : s >= 0.06 ? 1.0 : 4.0 - 3.0 * (s - 0.03) / 0.03; }

/* Coloured noise, through the command: stacks of empty ice only (junk
 * fraction 1), so the images are the noise. Its variance over the box is the
 * one σ² of the stack, (mean variance of the clean particles 0..63) / SNR,
 * measured from a clean stack of the same seed; its radial power follows the
 * model: low (|k| in [1, 4) px) over high ([20, 30) px) as the model's mean
 * over the same pixels, within 15 %. */
START_TEST(test_noise_spectrum)
{
    char args[2048];
    const char *clean = test_tmpfile("sim", "ref-clean.h5"), *ice = test_tmpfile("sim", "ice.h5");
    const char *specfile = test_tmpfile("sim", "spectrum.txt");
    const size_t n = 64, h = n / 2 + 1, npix = n * n;
    const double snr = 0.5, pix = 3.0;
    size_t cnt;
    gar_particle *meta;
    int32_t *junk;
    double *scale, ref = 0;
    FILE *f = fopen(specfile, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "# step: 4 below 1/33 1/A, 1 above 1/17 1/A\n0 4\n0.03 4  # flat\n\n0.06 1\n1.0 1\n");
    fclose(f);
    snprintf(args, sizeof args, "simulate --map %s --count 64 --snr inf --seed 5 --out %s 2>/dev/null",
             test_example("tii-64.mrc"), clean);
    run_garner(args);
    float *c = read_all_images(clean, &cnt, &meta);
    for (size_t i = 0; i < cnt; i++)
        ref += image_variance(c + i * npix, npix);
    ref /= (double)cnt;
    free(c);
    free(meta);
    for (int model = 0; model < 2; model++) {
        double (*S)(double) = model ? step_model : ice_model;
        snprintf(args, sizeof args, "simulate --map %s --count 1000 --snr %g --seed 5 --junk-fraction 1 "
                 "--noise-spectrum %s --overwrite --out %s 2>/dev/null", test_example("tii-64.mrc"), snr,
                 model ? specfile : "ice", ice);
        run_garner(args);
        float *img = read_truth(ice, &cnt, &meta, &junk, &scale);
        double *wt = malloc(sizeof(double) * n * h), var = 0, plo = 0, phi = 0, clo, chi;
        for (size_t j = 0; j < n; j++)
            for (size_t i = 0; i < h; i++) {
                double ky = j < n / 2 ? (double)j : (double)j - (double)n;
                wt[j * h + i] = S(hypot((double)i, ky) / (n * pix));
            }
        for (size_t i = 0; i < cnt; i++) {
            ck_assert_int_eq(junk[i], GAR_STACK_SIM_ICE);
            ck_assert_double_eq(scale[i], 0.0);
            var += image_variance(img + i * npix, npix);
            plo += shell_sum(img + i * npix, n, 1, 4, 1, NULL, &clo);
            phi += shell_sum(img + i * npix, n, 20, 30, 1, NULL, &chi);
        }
        var /= (double)cnt;
        clo *= (double)cnt;
        chi *= (double)cnt;
        /* The model's mean over the same pixels. */
        double mlo = 0, mhi = 0, nlo = 0, nhi = 0;
        for (size_t j = 0; j < n; j++)
            for (size_t i = 0; i < h; i++) {
                double ky = j < n / 2 ? (double)j : (double)j - (double)n, r = hypot((double)i, ky);
                if (r >= 1 && r < 4) {
                    mlo += wt[j * h + i];
                    nlo++;
                }
                if (r >= 20 && r < 30) {
                    mhi += wt[j * h + i];
                    nhi++;
                }
            }
        ck_assert_double_eq(nlo * cnt, clo);
        ck_assert_double_eq(nhi * cnt, chi);
        double ratio = (plo / clo) / (phi / chi), want = (mlo / nlo) / (mhi / nhi);
        fprintf(stderr, "measured: %s noise: variance %.4f, sigma^2 %.4f; power low/high %.3f, model %.3f\n",
                model ? "file" : "ice", var, ref / snr, ratio, want);
        ck_assert_msg(fabs(var / (ref / snr) - 1) < 0.03, "%s: noise variance %.4f, expected %.4f (3 %%)",
                      model ? "file" : "ice", var, ref / snr);
        ck_assert_msg(fabs(ratio / want - 1) < 0.15, "%s: low/high power %.3f, model %.3f (15 %%)",
                      model ? "file" : "ice", ratio, want);
        free(wt);
        free(img);
        free(meta);
        free(junk);
        free(scale);
    }
}
END_TEST

/* The ramp: the least-squares plane through noise-only images (empty ice,
 * white noise of σ 1) has slopes whose value at the box edge (half a box from
 * the centre) has standard deviation R along each axis. */
START_TEST(test_ramp)
{
    const size_t n = 64, npix = n * n, count = 500;
    const double R = 1.5, sigma = 2.0;
    gar_sim_worker *w = NULL;
    gar_sim_config cfg;
    float *img = malloc(sizeof(float) * npix);
    double sxx = 0, s2 = 0, sm = 0;
    gar_sim_config_default(&cfg);
    cfg.pixel_size_A = 3.0;
    cfg.junk_fraction = 1.0;
    cfg.ramp_sigma = R;
    cfg.noise_sigma = sigma;
    ck_assert_int_eq(gar_sim_worker_create(n, &w), GAR_OK);
    for (size_t x = 0; x < n; x++)
        sxx += ((double)x - n / 2.0 + 0.5) * ((double)x - n / 2.0 + 0.5);
    sxx *= n;
    for (size_t i = 0; i < count; i++) {
        gar_particle meta;
        gar_sim_draw(&cfg, i, &meta);
        ck_assert_int_eq(gar_sim_render(w, NULL, &cfg, i, &meta, img, NULL), GAR_OK);
        double bx = 0, by = 0;
        for (size_t y = 0; y < n; y++)
            for (size_t x = 0; x < n; x++) {
                bx += img[y * n + x] * ((double)x - n / 2.0 + 0.5);
                by += img[y * n + x] * ((double)y - n / 2.0 + 0.5);
            }
        /* slope per pixel, in σ at the edge */
        double ex = bx / sxx * (n / 2.0) / sigma, ey = by / sxx * (n / 2.0) / sigma;
        s2 += ex * ex + ey * ey;
        sm += ex + ey;
    }
    double sd = sqrt(s2 / (2.0 * count)), mean = sm / (2.0 * count);
    fprintf(stderr, "measured: ramp: edge value sd %.4f noise sigmas (R %g), mean %.4f\n", sd, R, mean);
    ck_assert_msg(fabs(sd / R - 1) < 0.1, "ramp edge sd %.4f, expected %g (10 %%)", sd, R);
    ck_assert_msg(fabs(mean) < 0.2, "ramp mean %.4f, expected 0", mean);
    free(img);
    gar_sim_worker_destroy(&w);
}
END_TEST

/* Contrast: log(scale) has standard deviation S and median 0 (20000 draws),
 * and the clean image is the scale-1 image times the scale. */
START_TEST(test_contrast)
{
    const size_t n = 64, npix = n * n, draws = 20000;
    const double S = 0.3;
    gar_sim_config cfg;
    double *lg = malloc(sizeof(double) * draws), s1 = 0, s2 = 0;
    gar_sim_config_default(&cfg);
    cfg.pixel_size_A = 3.0;
    cfg.contrast_sigma = S;
    for (size_t i = 0; i < draws; i++) {
        gar_sim_truth t;
        gar_sim_draw_truth(&cfg, i, &t);
        ck_assert_int_eq(t.junk, GAR_SIM_PARTICLE);
        lg[i] = log(t.scale);
        s1 += lg[i];
        s2 += lg[i] * lg[i];
    }
    double mean = s1 / draws, sd = sqrt(s2 / draws - mean * mean);
    qsort(lg, draws, sizeof *lg, cmp_double_asc);
    double median = exp(lg[draws / 2]);
    fprintf(stderr, "measured: contrast: sd of log scale %.4f (S %g), median scale %.4f\n", sd, S, median);
    ck_assert_msg(fabs(sd / S - 1) < 0.05, "sd of log(scale) %.4f, expected %g (5 %%)", sd, S);
    ck_assert_msg(fabs(median - 1) < 0.02, "median scale %.4f, expected 1 (+-0.02)", median);
    free(lg);

    gar_map *raw = load_tii64(), *m = NULL;
    gar_sim_worker *w = NULL;
    float *img = malloc(sizeof(float) * npix), *c1 = malloc(sizeof(float) * npix), *cs = malloc(sizeof(float) * npix);
    ck_assert_int_eq(gar_sim_prepare_map(raw, &m), GAR_OK);
    ck_assert_int_eq(gar_sim_worker_create(n, &w), GAR_OK);
    for (size_t i = 0; i < 4; i++) {
        gar_particle meta;
        gar_sim_truth t;
        gar_sim_config one = cfg;
        one.contrast_sigma = 0;
        one.snr = INFINITY;
        cfg.snr = INFINITY;
        gar_sim_draw(&cfg, i, &meta);
        gar_sim_draw_truth(&cfg, i, &t);
        ck_assert_int_eq(gar_sim_render(w, m, &one, i, &meta, img, c1), GAR_OK);
        ck_assert_int_eq(gar_sim_render(w, m, &cfg, i, &meta, img, cs), GAR_OK);
        double num = 0, den = 0;
        for (size_t k = 0; k < npix; k++) {
            num += (cs[k] - t.scale * c1[k]) * (cs[k] - t.scale * c1[k]);
            den += (double)cs[k] * cs[k];
        }
        ck_assert_msg(sqrt(num / den) < 1e-6, "particle %zu: clean image is not scale %.4f times the scale-1 one "
                      "(relative L2 %g)", i, t.scale, sqrt(num / den));
    }
    free(img);
    free(c1);
    free(cs);
    gar_sim_worker_destroy(&w);
    gar_map_destroy(&m);
    gar_map_destroy(&raw);
}
END_TEST

static double correlation(const float *a, const float *b, size_t npix)
{
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (size_t k = 0; k < npix; k++) {
        ma += a[k];
        mb += b[k];
    }
    ma /= npix;
    mb /= npix;
    for (size_t k = 0; k < npix; k++) {
        sab += (a[k] - ma) * (b[k] - mb);
        saa += (a[k] - ma) * (a[k] - ma);
        sbb += (b[k] - mb) * (b[k] - mb);
    }
    return sab / sqrt(saa * sbb);
}

/* Junk: the share of junk and the split between another protein and empty
 * ice within binomial tolerance (4 standard deviations; 20000 draws of the
 * core, and the 400 particles of a stack written by the command, where one
 * or two threads give the same stack). Empty ice holds no particle: its
 * correlation with the clean projection of the particle's drawn pose is ~0,
 * while real particles correlate at about sqrt(SNR / (1 + SNR)). */
START_TEST(test_junk)
{
    char args[2048];
    const char *jmap = test_tmpfile("sim", "junk64.mrc"), *st1 = test_tmpfile("sim", "junk1.h5");
    const char *st2 = test_tmpfile("sim", "junk2.h5");
    const size_t n = 64, npix = n * n, draws = 20000, count = 400;
    const double F = 0.3, snr = 0.5;
    gar_sim_config cfg;
    gar_map dummy = {0};
    size_t nj = 0, np = 0;
    gar_sim_config_default(&cfg);
    cfg.junk_fraction = F;
    cfg.junk_map = &dummy;   /* only tested for NULL by the draw */
    for (size_t i = 0; i < draws; i++) {
        gar_sim_truth t;
        gar_sim_draw_truth(&cfg, i, &t);
        nj += t.junk != GAR_SIM_PARTICLE;
        np += t.junk == GAR_SIM_JUNK_PROTEIN;
        ck_assert_double_eq(t.scale, t.junk == GAR_SIM_JUNK_ICE ? 0.0 : 1.0);
    }
    double fj = (double)nj / draws, fp = (double)np / (double)nj;
    fprintf(stderr, "measured: junk (core, %zu draws): %.4f junk (F %g), %.4f of it another protein\n", draws,
            fj, F, fp);
    ck_assert_msg(fabs(fj - F) < 4 * sqrt(F * (1 - F) / draws), "junk share %.4f, expected %g", fj, F);
    ck_assert_msg(fabs(fp - 0.5) < 4 * sqrt(0.25 / nj), "protein share of junk %.4f, expected 0.5", fp);

    snprintf(args, sizeof args, "phantom --symmetry C2 --box 64 --pixel-size 3 --seed 4 --overwrite --out %s "
             "2>/dev/null", jmap);
    run_garner(args);
    for (int t = 1; t <= 2; t++) {
        snprintf(args, sizeof args, "simulate --map %s --count %zu --snr %g --seed 9 --junk-fraction %g "
                 "--junk-map %s --shift-sigma 2 --threads %d --overwrite --out %s 2>/dev/null",
                 test_example("tii-64.mrc"), count, snr, F, jmap, t, t == 1 ? st1 : st2);
        run_garner(args);
    }
    size_t cnt, cnt2;
    gar_particle *meta, *meta2;
    int32_t *junk;
    double *scale;
    float *img = read_truth(st1, &cnt, &meta, &junk, &scale);
    float *img2 = read_all_images(st2, &cnt2, &meta2);
    ck_assert_msg(memcmp(img, img2, sizeof(float) * cnt * npix) == 0, "stack differs between 1 and 2 threads");
    size_t k[3] = {0, 0, 0};
    double corr[3] = {0, 0, 0}, worst_ice = 0;
    gar_map *raw = load_tii64(), *m = NULL;
    gar_sim_worker *w = NULL;
    float *clean = malloc(sizeof(float) * npix), *tmp = malloc(sizeof(float) * npix);
    ck_assert_int_eq(gar_sim_prepare_map(raw, &m), GAR_OK);
    ck_assert_int_eq(gar_sim_worker_create(n, &w), GAR_OK);
    gar_sim_config_default(&cfg);
    cfg.pixel_size_A = 3.0;
    cfg.snr = INFINITY;
    for (size_t i = 0; i < cnt; i++) {
        ck_assert_int_ge(junk[i], 0);
        ck_assert_int_le(junk[i], 2);
        ck_assert_double_eq(scale[i], junk[i] == GAR_STACK_SIM_ICE ? 0.0 : 1.0);
        ck_assert_int_eq(gar_sim_render(w, m, &cfg, i, &meta[i], tmp, clean), GAR_OK);
        double r = correlation(img + i * npix, clean, npix);
        k[junk[i]]++;
        corr[junk[i]] += r;
        if (junk[i] == GAR_STACK_SIM_ICE && fabs(r) > worst_ice)
            worst_ice = fabs(r);
    }
    double sj = (double)(k[1] + k[2]) / cnt;
    fprintf(stderr, "measured: junk (stack of %zu): %zu particles, %zu another protein, %zu empty ice; "
            "correlation with the clean projection: %.3f, %.3f, %.3f (worst ice %.3f)\n",
            cnt, k[0], k[1], k[2], corr[0] / k[0], corr[1] / k[1], corr[2] / k[2], worst_ice);
    ck_assert_msg(fabs(sj - F) < 4 * sqrt(F * (1 - F) / cnt), "junk share %.3f, expected %g", sj, F);
    ck_assert_msg(fabs((double)k[1] / (k[1] + k[2]) - 0.5) < 4 * sqrt(0.25 / (k[1] + k[2])),
                  "protein share of junk %zu / %zu, expected half", k[1], k[1] + k[2]);
    ck_assert_msg(corr[0] / k[0] > 0.45, "real particles correlate at %.3f, expected ~0.58", corr[0] / k[0]);
    ck_assert_msg(fabs(corr[2] / k[2]) < 0.03 && worst_ice < 0.2,
                  "empty ice correlates with the particle at %.3f on average (worst %.3f); expected ~0",
                  corr[2] / k[2], worst_ice);
    /* tests/compare_poses leaves the junk out of its statistics. */
    {
        char cmd[4096], line[1024], want[128];
        const char *bdir = getenv("GAR_BUILDDIR");
        int saw_left_out = 0, saw_count = 0;
        snprintf(cmd, sizeof cmd, "%s/tests/compare_poses %s %s C1 0.9 1", bdir ? bdir : ".", st1, st2);
        FILE *p = popen(cmd, "r");
        ck_assert_ptr_nonnull(p);
        snprintf(want, sizeof want, "%zu of %zu particles are junk (sim_junk != 0) and left out", k[1] + k[2], cnt);
        while (fgets(line, sizeof line, p) != NULL) {
            char head[64];
            snprintf(head, sizeof head, "%zu particles: 100.0 %% within 5 degrees", k[0]);
            saw_left_out |= strstr(line, want) != NULL;
            saw_count |= strncmp(line, head, strlen(head)) == 0;
        }
        ck_assert_int_eq(pclose(p), 0);
        ck_assert_msg(saw_left_out && saw_count, "compare_poses did not leave the %zu junk particles out", k[1] + k[2]);
    }
    free(clean);
    free(tmp);
    free(img);
    free(img2);
    free(meta);
    free(meta2);
    free(junk);
    free(scale);
    gar_sim_worker_destroy(&w);
    gar_map_destroy(&m);
    gar_map_destroy(&raw);
}
END_TEST

/* A default stack has no ground truth, and the reader says so with its own
 * status; a bad noise spectrum file is refused naming the file and line. */
START_TEST(test_truth_absent_and_bad_spectrum)
{
    char args[2048];
    const char *plain = test_tmpfile("sim", "plain.h5"), *bad = test_tmpfile("sim", "bad.txt");
    gar_stack *s = NULL;
    int32_t j;
    double sc;
    snprintf(args, sizeof args, "simulate --map %s --count 3 --overwrite --out %s 2>/dev/null",
             test_example("tii-64.mrc"), plain);
    run_garner(args);
    ck_assert_int_eq(gar_stack_open(plain, &s), GAR_OK);
    ck_assert_int_eq(gar_stack_has_sim_truth(s), 0);
    ck_assert_int_eq(gar_stack_read_sim_truth(s, 0, 1, &j, &sc), GAR_ERR_NOINPUT);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "sim_junk"));
    gar_stack_close(&s);

    static const struct {
        const char *text, *expect;
    } cases[] = {
        {"0 1\n0.1 x\n", "line 2: expected two numbers"},
        {"# c\n0 1\n0.1 2 3\n", "line 3: expected two numbers"},
        {"0 1\n0.2 1\n0.1 1\n", "line 3: frequency 0.1 is not above"},
        {"0 1\n0.1 -2\n", "line 2: relative power -2"},
        {"0 1\n0.1 0\n", "line 2: relative power 0"},
        {"# only one\n0.1 1\n", "1 row"},
        {"-0.1 1\n0.1 1\n", "line 1: frequency -0.1"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        gar_sim_spectrum *sp = NULL;
        FILE *f = fopen(bad, "w");
        fputs(cases[c].text, f);
        fclose(f);
        ck_assert_int_eq(gar_sim_spectrum_read(bad, &sp), GAR_ERR_DATA);
        ck_assert_ptr_null(sp);
        ck_assert_msg(strstr(gar_errmsg(), cases[c].expect) && strstr(gar_errmsg(), bad),
                      "case %zu: message '%s', expected '%s' and the file", c, gar_errmsg(), cases[c].expect);
    }
    gar_sim_spectrum *sp = NULL;
    ck_assert_int_eq(gar_sim_spectrum_read("/nonexistent/spectrum.txt", &sp), GAR_ERR_NOINPUT);
    /* A FIFO is refused at once, not waited on. */
    const char *fifo = test_tmpfile("sim", "spectrum.fifo");
    unlink(fifo);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(gar_sim_spectrum_read(fifo, &sp), GAR_ERR_NOINPUT);
    ck_assert_msg_has_text("not a regular file");
    FILE *f = fopen(bad, "w");
    fputs("# s  S\n0.0 3 # low\n0.1 1\n", f);
    fclose(f);
    ck_assert_int_eq(gar_sim_spectrum_read(bad, &sp), GAR_OK);
    ck_assert_double_eq_tol(gar_sim_spectrum_eval(sp, 0.05), 2.0, 1e-12);
    ck_assert_double_eq_tol(gar_sim_spectrum_eval(sp, 0.5), 1.0, 1e-12);
    gar_sim_spectrum_destroy(&sp);
}
END_TEST

int main(void)
{
    TCase *tc = TEST_CASE("core", 300,
                          test_projection_identity_is_central_slice,
                          test_projection_matches_direct_slice,
                          test_cli_snr_and_threads,
                          test_default_stack_unchanged,
                          test_bfactor_envelope,
                          test_noise_spectrum,
                          test_ramp,
                          test_contrast,
                          test_junk,
                          test_truth_absent_and_bad_spectrum,
                          test_ctf_canvas,
                          test_relion_conventions);
    return test_run_suite(test_suite("simulate", tc, NULL));
}
