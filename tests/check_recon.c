/* The reconstructor: blob against its closed form, gather against an
 * independent scatter of the same sum, bitwise identity across thread counts,
 * known-pose quality, and symmetry (D7 with 300 particles = C1 with 4200). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gar_fft.h"
#include "gar_fsc.h"
#include "gar_gather_simd.h"
#include "gar_geometry.h"
#include "gar_kernels.h"
#include "gar_mrc.h"
#include "gar_phantom.h"
#include "gar_recon.h"
#include "gar_simulate.h"
#include "gar_sphere.h"
#include "gar_symmetry.h"
#include "testsim.h"
#include "testutil.h"

static gar_recon *reconstruct(const gar_recon_config *c, const sim_set *s, size_t count)
{
    gar_recon *r = NULL;
    ck_assert_msg(gar_recon_create(c, &r) == GAR_OK, "%s", gar_errmsg());
    for (size_t first = 0; first < count; first += c->batch) {
        size_t n = count - first < c->batch ? count - first : c->batch;
        ck_assert_msg(gar_recon_insert(r, s->images + first * s->box * s->box, s->meta + first, n) == GAR_OK,
                      "%s", gar_errmsg());
    }
    return r;
}

static gar_map *load_map(const char *name)
{
    gar_map *m = NULL;
    ck_assert_int_eq(gar_mrc_read(test_example(name), &m), GAR_OK);
    return m;
}

START_TEST(test_bessel_values)
{
    /* Reference values from the series summed in exact rational arithmetic. */
    ck_assert_double_eq_tol(gar_bessel_i(0, 1.0), 1.2660658777520084, 1e-14);
    ck_assert_double_eq_tol(gar_bessel_i(1, 1.0), 0.565159103992485, 1e-14);
    ck_assert_double_eq_tol(gar_bessel_i(0, 10.0) / 2815.7166284662544, 1.0, 1e-13);
    ck_assert_double_eq_tol(gar_bessel_i(2, 5.0) / 17.505614966624236, 1.0, 1e-13);
    ck_assert_double_eq_tol(gar_bessel_i(0, 15.0) / 339649.3732979139, 1.0, 1e-13);
    /* b(0) = 1, b(a) = 1/I0(α) for m = 0, zero beyond. */
    ck_assert_double_eq_tol(gar_blob_value(0.0, 1.9, 15.0, 0), 1.0, 1e-15);
    ck_assert_double_eq_tol(gar_blob_value(1.9 - 1e-12, 1.9, 15.0, 0), 1.0 / 339649.3732979139, 1e-12);
    ck_assert_double_eq(gar_blob_value(1.9, 1.9, 15.0, 0), 0.0);
}
END_TEST

/* The table the gather uses against the closed form (I_m series), to 1e-6. */
START_TEST(test_blob_table_matches_closed_form)
{
    const double a = 1.9, alpha = 15.0;
    for (int order = 0; order <= 2; order++) {
        sim_set s = {0};
        gar_recon *r = NULL;
        gar_recon_config c;
        s.box = 16;
        s.optics.pixel_size_A = 2.0;
        s.optics.group = 1;
        c = test_recon_config(&s, 0, 1, 1);
        c.blob_order = order;
        ck_assert_int_eq(gar_recon_create(&c, &r), GAR_OK);
        float inv_step;
        const float *table = gar_recon_blob_table(r, &inv_step);
        double worst = 0;
        for (int i = 0; i < 5000; i++) {
            double rr = a * i / 5000.0;
            double want = gar_blob_value(rr, a, alpha, order);
            double got = gar_blob_lookup(table, inv_step, (float)(rr * rr));
            if (fabs(got - want) > worst)
                worst = fabs(got - want);
        }
        fprintf(stderr, "measured: blob order %d: table vs closed form, max |difference| %.2e\n", order, worst);
        ck_assert_msg(worst < 1e-6, "order %d: table differs from the closed form by %g", order, worst);
        gar_recon_destroy(&r);
    }
}
END_TEST

/* The gather's table read (gar_blob_table_weight) stays inside the table
 * for every tap within the radius. The table is built as gar_recon builds it
 * (a float a², inv_step = (GAR_BLOB_TABLE − 1)/a² rounded to float) for the
 * radii 1 to 4 in steps of 0.001, and read at the largest float d² below a²,
 * where x = d²·inv_step can round up to GAR_BLOB_TABLE − 1; the word after
 * the table is NaN, as it may be on a GPU, so a read of it poisons the
 * weight. Before the clamp, 555 of the 3001 radii (2.2 and 2.4 among them)
 * read it. */
START_TEST(test_blob_table_read_stays_inside)
{
    static float table[GAR_BLOB_TABLE + 1];
    int bad = 0, at_end = 0;
    double first_bad = 0;
    for (int k = 0; k <= 3000; k++) {
        const double a = 1.0 + k / 1000.0, step = a * a / (GAR_BLOB_TABLE - 1);
        for (int i = 0; i < GAR_BLOB_TABLE; i++)
            table[i] = (float)gar_blob_value(sqrt(i * step), a, 15.0, 0);
        table[GAR_BLOB_TABLE] = NAN;
        const float a2 = (float)(a * a), inv_step = (float)(1.0 / step);
        const float d2 = nextafterf(a2, 0.0f);
        at_end += (int)(d2 * inv_step) >= GAR_BLOB_TABLE - 1;
        const float w = gar_blob_table_weight(table, inv_step, d2);
        /* The blob at the edge: between the last two entries. */
        const float lo = fminf(table[GAR_BLOB_TABLE - 2], table[GAR_BLOB_TABLE - 1]),
                    hi = fmaxf(table[GAR_BLOB_TABLE - 2], table[GAR_BLOB_TABLE - 1]);
        if (!(w >= lo - 1e-7f && w <= hi + 1e-7f)) {
            if (bad++ == 0)
                first_bad = a;
        }
    }
    fprintf(stderr, "measured: blob table: %d of 3001 radii put d² just below a² at the table's last entry; "
            "%d read outside it (first at a = %.3f)\n", at_end, bad, first_bad);
    ck_assert_msg(at_end > 0, "no radius reaches the table's end: the test shows nothing");
    ck_assert_msg(bad == 0, "%d radii read past the blob table (first a = %.3f)", bad, first_bad);
}
END_TEST

/* The GPU's table-free variant evaluates the order-0 blob per tap in single
 * precision: it must match the closed form as closely as the table does. */
START_TEST(test_blob_on_the_fly_matches_closed_form)
{
    for (int k = 0; k < 3; k++) {
        const double a = k == 0 ? 1.9 : k == 1 ? 2.5 : 1.5, alpha = k == 0 ? 15.0 : k == 1 ? 20.0 : 8.0;
        const int terms = (int)ceil(1.2 * alpha) + 8;   /* as gpu/gar_gpu_inserter.cu */
        const float inv_i0 = (float)(1.0 / gar_bessel_i(0, alpha)), inv_a2 = (float)(1.0 / (a * a));
        double worst = 0;
        for (int i = 0; i <= 5000; i++) {
            double rr = a * i / 5000.0;
            double want = gar_blob_value(rr, a, alpha, 0);
            double got = gar_blob_otf((float)(rr * rr), inv_a2, (float)alpha, inv_i0, terms);
            if (i == 5000)
                want = gar_blob_value(a * (1 - 1e-12), a, alpha, 0);   /* the limit at r = a */
            if (fabs(got - want) > worst)
                worst = fabs(got - want);
        }
        fprintf(stderr, "measured: blob a %.1f alpha %.0f: on the fly vs closed form, max |difference| %.2e\n", a,
                alpha, worst);
        /* float rounding over ~30 terms of the series: a few 1e-7 of b(0) = 1 */
        ck_assert_msg(worst < 5e-6, "a %g alpha %g: on-the-fly blob differs by %g", a, alpha, worst);
    }
}
END_TEST

/* Gather (each voxel sums the pixels near its position in the slice) must
 * equal scatter (each pixel adds to the voxels near its 3D position), at the
 * default blob radius and a wider one. */
static void gather_vs_scatter(double radius)
{
    gar_map *truth = load_map("tii-64.mrc");
    sim_set s;
    simulate(truth, 1, 2.0, 1, 3.0, 5, &s);
    s.meta[0].rot_deg = 23.0;
    s.meta[0].tilt_deg = 67.0;
    s.meta[0].psi_deg = -141.0;
    gar_recon_config c = test_recon_config(&s, 1, 2, 1);
    c.blob_radius = radius;
    gar_recon *r = reconstruct(&c, &s, 1);
    int R = gar_recon_plane_radius(r), side = 2 * R + 1;
    size_t M = gar_recon_size(r), H = M / 2 + 1, nvox = M * M * H, pp = gar_recon_plane_pixels(r);
    double kmax = gar_recon_kmax(r), A[9];
    float *plane = malloc(sizeof(float) * 3 * pp);
    float *G = calloc(nvox * 2, sizeof(float)), *W = calloc(nvox, sizeof(float));
    float inv_step;
    const float *table = gar_recon_blob_table(r, &inv_step);
    const double a2 = radius * radius;
    const int K = (int)M / 2 - 1, KX = (int)floor(kmax), reach = (int)ceil(radius);
    ck_assert_int_eq(gar_recon_prepare_plane(r, 0, s.images, &s.meta[0], plane), GAR_OK);
    gar_euler_to_matrix(s.meta[0].rot_deg, s.meta[0].tilt_deg, s.meta[0].psi_deg, A);
    for (int v = -R; v <= R; v++)
        for (int u = -R; u <= R; u++) {
            size_t pix = (size_t)(v + R) * side + (u + R);
            float pre = plane[pix], pim = plane[pp + pix], pc2 = plane[2 * pp + pix];
            double uv[3] = {u, v, 0}, x[3];
            if (pc2 == 0.0f && pre == 0.0f && pim == 0.0f)
                continue;
            gar_mat3_apply_t(A, uv, x);
            for (int kz = (int)floor(x[2]) - reach; kz <= (int)ceil(x[2]) + reach; kz++)
                for (int ky = (int)floor(x[1]) - reach; ky <= (int)ceil(x[1]) + reach; ky++)
                    for (int kx = (int)floor(x[0]) - reach; kx <= (int)ceil(x[0]) + reach; kx++) {
                        if (kx < 0 || kx > KX || abs(ky) > K || abs(kz) > K)
                            continue;
                        if ((double)kx * kx + (double)ky * ky + (double)kz * kz > kmax * kmax)
                            continue;
                        double d2 = (kx - x[0]) * (kx - x[0]) + (ky - x[1]) * (ky - x[1]) + (kz - x[2]) * (kz - x[2]);
                        if (d2 >= a2)
                            continue;
                        float b = gar_blob_lookup(table, inv_step, (float)d2);
                        size_t idx = ((size_t)((kz + (int)M) % (int)M) * M + (size_t)((ky + (int)M) % (int)M)) * H + kx;
                        G[2 * idx] += b * pre;
                        G[2 * idx + 1] += b * pim;
                        W[idx] += b * pc2;
                    }
        }
    gar_recon_partial view;
    ck_assert_int_eq(gar_recon_partial_view(r, &view), GAR_OK);
    const float *Gg = view.data[s.meta[0].half_set - 1], *Wg = view.weight[s.meta[0].half_set - 1];
    double num = 0, den = 0, wnum = 0, wden = 0;
    /* The scatter's full layout against the reconstructor's stored sphere:
     * a voxel the sphere does not hold must have received nothing. */
    for (size_t z = 0; z < M; z++)
        for (size_t y = 0; y < M; y++)
            for (size_t x = 0; x < H; x++) {
                const size_t i = (z * M + y) * H + x;
                const size_t j = gar_recon_voxel_index(r, (int)x, (int)gar_fft_freq(y, M), (int)gar_fft_freq(z, M));
                const float gre = j == SIZE_MAX ? 0.0f : Gg[2 * j], gim = j == SIZE_MAX ? 0.0f : Gg[2 * j + 1];
                const float w = j == SIZE_MAX ? 0.0f : Wg[j];
                num += (G[2 * i] - gre) * (G[2 * i] - gre) + (G[2 * i + 1] - gim) * (G[2 * i + 1] - gim);
                den += (double)G[2 * i] * G[2 * i] + (double)G[2 * i + 1] * G[2 * i + 1];
                wnum += (W[i] - w) * (W[i] - w);
                wden += (double)W[i] * W[i];
            }
    ck_assert_uint_lt(view.nvox, nvox);
    fprintf(stderr, "measured: blob radius %.1f: gather vs scatter, relative L2 data %.2e, weights %.2e\n",
            radius, sqrt(num / den), sqrt(wnum / wden));
    ck_assert(den > 0 && wden > 0);
    ck_assert_msg(sqrt(num / den) < 1e-5, "data: relative L2 %g", sqrt(num / den));
    ck_assert_msg(sqrt(wnum / wden) < 1e-5, "weights: relative L2 %g", sqrt(wnum / wden));
    free(plane);
    free(G);
    free(W);
    gar_recon_destroy(&r);
    sim_free(&s);
    gar_map_destroy(&truth);
}

START_TEST(test_gather_matches_scatter)
{
    /* Where the CPU has AVX-512, radius 1.9 runs the SIMD gather; once more
     * with the scalar one (radius 2.5 always runs the scalar gather). */
    fprintf(stderr, "gather at radius 1.9: %s\n", gar_gather_simd_available(1.9) ? "AVX-512" : "scalar");
    gather_vs_scatter(1.9);
    setenv("GARNER_SCALAR_GATHER", "1", 1);
    ck_assert(!gar_gather_simd_available(1.9));
    gather_vs_scatter(1.9);
    unsetenv("GARNER_SCALAR_GATHER");
    gather_vs_scatter(2.5);
}
END_TEST

/* The SIMD gather's blob pieces against the closed form, evaluated here
 * (float Horner, as the registers do) at points between the fit's nodes. */
START_TEST(test_blob_pieces_match_closed_form)
{
    const double radii[3] = {1.5, 1.9, 1.99}, alphas[3] = {8.0, 15.0, 20.0};
    for (int k = 0; k < 3; k++)
        for (int order = 0; order <= 2; order++) {
            const double a = radii[k], alpha = alphas[k];
            gar_blob_poly p;
            double fit = gar_blob_poly_fit(a, alpha, order, &p), worst = 0;
            for (int i = 0; i < 7919; i++) {
                double x = (i + 0.5) / 7919.0, y = x * GAR_BLOB_PIECES;
                int piece = (int)y;
                float t = (float)(y - piece), b = p.c[4][piece];
                for (int j = 3; j >= 0; j--)
                    b = fmaf(b, t, p.c[j][piece]);
                double e = fabs((double)b - gar_blob_value(a * sqrt(x), a, alpha, order));
                if (e > worst)
                    worst = e;
            }
            fprintf(stderr, "measured: blob a %.2f alpha %.0f order %d: pieces vs closed form %.2e (fit says %.2e)\n",
                    a, alpha, order, worst, fit);
            ck_assert_msg(worst < 1e-6 && fit < 1e-6, "a %g alpha %g order %d: pieces differ by %g", a, alpha, order,
                          worst);
        }
}
END_TEST

#ifdef GAR_HAVE_AVX512_GATHER
/* Queued voxels at random positions against a random plane: the SIMD
 * gather against gar_gather_voxel (the scalar maths the GPU shares). */
GAR_AVX512_TARGET static void simd_vs_scalar(double a, double alpha, double *worst_abs, double *worst_rel)
{
    const int R = 12, side = 2 * R + 1;
    float *buf = malloc(3 * (size_t)side * side * sizeof(float)), inv_step;
    gar_blob_poly p;
    gar_blob_zmm z;
    /* The scalar gather's table as the reconstructor builds it. */
    sim_set sm = {0};
    gar_recon *r = NULL;
    sm.box = 16;
    sm.optics.pixel_size_A = 2.0;
    sm.optics.group = 1;
    gar_recon_config c = test_recon_config(&sm, 0, 1, 1);
    c.blob_radius = a;
    c.blob_alpha = alpha;
    ck_assert_int_eq(gar_recon_create(&c, &r), GAR_OK);
    const float *table = gar_recon_blob_table(r, &inv_step);
    ck_assert_ptr_nonnull(buf);
    srand(17);
    for (int i = 0; i < 3 * side * side; i++)
        buf[i] = (float)rand() / RAND_MAX - (i >= 2 * side * side ? 0.0f : 0.5f);
    ck_assert(gar_blob_poly_fit(a, alpha, 0, &p) < 1e-6);
    gar_blob_zmm_load(&p, &z);
    gar_plane pl = {buf, buf + side * side, buf + 2 * side * side, R};
    const float a2 = (float)(a * a), lim = (float)(R - a - 1);
    /* Queues of 37 voxels (not a multiple of 4), positions read past the
     * end at the plane's centre as the reconstructor's queue holds them. */
    enum { NQ = 37, SLACK = 16 + GAR_GATHER_PREFETCH };
    float qx[NQ + SLACK] = {0}, qy[NQ + SLACK] = {0}, qz[NQ + SLACK] = {0}, G[2 * NQ], W[NQ];
    size_t idx[NQ + SLACK] = {0};
    for (int q = 0; q < 600; q++) {
        for (int j = 0; j < NQ; j++) {
            qx[j] = lim * (2.0f * rand() / RAND_MAX - 1);
            qy[j] = lim * (2.0f * rand() / RAND_MAX - 1);
            qz[j] = (float)a * 0.999f * (2.0f * rand() / RAND_MAX - 1);
            idx[j] = (size_t)(NQ - 1 - j);
            G[2 * j] = G[2 * j + 1] = W[j] = 0.0f;
        }
        gar_gather_queue_avx512(&pl, qx, qy, qz, idx, NQ, &z, G, W, NULL, NULL, _mm_setzero_ps());
        for (int j = 0; j < NQ; j++) {
            float s[3] = {0, 0, 0};
            const size_t x = idx[j];
            gar_gather_voxel(&pl, qx[j], qy[j], qz[j], a2, table, inv_step, &s[0], &s[1], &s[2]);
            /* Each tap's weight is within ~1e-7 of the closed form in both
             * (the table, the pieces), so up to 16 taps differ by a few 1e-6
             * in all; and a tap at r = a to rounding may be in one and not
             * the other, a difference of up to b(a) = 1/I0(α) (3e-6 at α 15,
             * 4e-4 at 10). */
            const double e = fmax(fabs(G[2 * x] - s[0]), fmax(fabs(G[2 * x + 1] - s[1]), fabs(W[x] - s[2])));
            if (e > *worst_abs)
                *worst_abs = e;
            if (s[2] > 0.5 && e / s[2] > *worst_rel)
                *worst_rel = e / s[2];
        }
    }
    free(buf);
    gar_recon_destroy(&r);
}
#endif

START_TEST(test_gather_simd_matches_scalar)
{
#ifdef GAR_HAVE_AVX512_GATHER
    if (!gar_gather_simd_available(1.9)) {
        fprintf(stderr, "SKIP: this CPU has no AVX-512: the scalar gather runs, tested above\n");
        return;
    }
    for (int k = 0; k < 2; k++) {
        const double a = k ? 1.6 : 1.9, alpha = k ? 10.0 : 15.0;
        double worst_abs = 0, worst_rel = 0;
        simd_vs_scalar(a, alpha, &worst_abs, &worst_rel);
        fprintf(stderr, "measured: blob a %.1f alpha %.0f: AVX-512 gather vs scalar, worst %.2e absolute, %.2e "
                "relative (sums of weight > 0.5)\n", a, alpha, worst_abs, worst_rel);
        const double edge = gar_blob_value(a * (1 - 1e-12), a, alpha, 0), tol = 4e-6 + edge;
        ck_assert_msg(worst_abs < tol && worst_rel < 2 * tol, "AVX-512 gather differs from the scalar one by %g "
                      "(%g relative; tolerance %g)", worst_abs, worst_rel, tol);
    }
#else
    fprintf(stderr, "SKIP: built without the AVX-512 gather\n");
#endif
}
END_TEST

/* The AVX-512 plane preparation (vector CTF sine, fused products) against
 * the scalar loop the GPU shares, pixel by pixel, with and without CTF; a
 * shifted particle, so the phase's sines matter. */
START_TEST(test_plane_simd_matches_scalar)
{
    if (!gar_simd_cpu_available()) {
        fprintf(stderr, "SKIP: no AVX-512 here: the scalar preparation runs, tested with the gather\n");
        return;
    }
    gar_map *truth = load_map("tii-64.mrc");
    sim_set s;
    simulate(truth, 4, 2.0, 1, 3.0, 9, &s);
    for (int ctf = 0; ctf < 2; ctf++) {
        gar_recon_config c = test_recon_config(&s, ctf, 1, 4);
        gar_recon *rv = NULL, *rs = NULL;
        ck_assert_int_eq(gar_recon_create(&c, &rv), GAR_OK);
        setenv("GARNER_SCALAR_GATHER", "1", 1);
        ck_assert_int_eq(gar_recon_create(&c, &rs), GAR_OK);
        unsetenv("GARNER_SCALAR_GATHER");
        const size_t pp = gar_recon_plane_pixels(rv), npix = (size_t)s.box * s.box;
        float *pv = malloc(3 * pp * sizeof(float)), *ps = malloc(3 * pp * sizeof(float));
        ck_assert(pv && ps);
        for (size_t i = 0; i < 4; i++) {
            memset(pv, 0, 3 * pp * sizeof(float));
            memset(ps, 0, 3 * pp * sizeof(float));
            ck_assert_int_eq(gar_recon_prepare_plane(rv, 0, s.images + i * npix, &s.meta[i], pv), GAR_OK);
            ck_assert_int_eq(gar_recon_prepare_plane(rs, 0, s.images + i * npix, &s.meta[i], ps), GAR_OK);
            for (int ch = 0; ch < 3; ch++) {
                double peak = 0, worst = 0;
                size_t written_v = 0, written_s = 0;
                for (size_t k = ch * pp; k < (ch + 1) * pp; k++) {
                    peak = fmax(peak, fabs(ps[k]));
                    worst = fmax(worst, fabs((double)pv[k] - ps[k]));
                    written_v += pv[k] != 0.0f;
                    written_s += ps[k] != 0.0f;
                }
                if (i == 0)
                    fprintf(stderr, "measured: plane, CTF %s, channel %d: AVX-512 vs scalar, worst %.2e of peak %.3g\n",
                            ctf ? "yes" : "no", ch, worst, peak);
                /* The CTF's argument reaches ~100 rad, whose float ulp (1e-5)
                 * the two sines may round apart by a few. */
                ck_assert_msg(peak > 0 && worst <= 2e-5 * peak, "channel %d: differs by %g of %g", ch, worst, peak);
                ck_assert_msg(written_v > written_s - written_s / 100 && written_v < written_s + written_s / 100,
                              "channel %d: %zu pixels set against %zu", ch, written_v, written_s);
            }
        }
        free(pv);
        free(ps);
        gar_recon_destroy(&rv);
        gar_recon_destroy(&rs);
    }
    sim_free(&s);
    gar_map_destroy(&truth);
}
END_TEST

/* gar_fft_line_fill from a whole transform held in FFTW's layout. */
typedef struct crop_src {
    const float *spec;
    size_t m;
} crop_src;
static void crop_fill(void *ctx, size_t y, size_t x0, size_t nb, float *lines)
{
    const crop_src *c = ctx;
    const size_t m = c->m, H = m / 2 + 1;
    for (size_t b = 0; b < nb; b++)
        for (size_t z = 0; z < m; z++) {
            lines[2 * (b * m + z)] = c->spec[2 * ((z * m + y) * H + x0 + b)];
            lines[2 * (b * m + z) + 1] = c->spec[2 * ((z * m + y) * H + x0 + b) + 1];
        }
}

/* The stored sphere holds exactly the voxels within kmax of FFTW's
 * half-volume layout, each once, rows contiguous; and about π/6 of the
 * layout at Nyquist. */
START_TEST(test_sphere_layout)
{
    const size_t sizes[3] = {20, 64, 130};
    for (int c = 0; c < 3; c++) {
        const size_t M = sizes[c], H = M / 2 + 1;
        const double kmaxes[3] = {0.5 * M, 0.31 * M, 3.0};
        for (int k = 0; k < 3; k++) {
            const double kmax = kmaxes[k];
            const int K = (int)floor(kmax) < (int)M / 2 - 1 ? (int)floor(kmax) : (int)M / 2 - 1, KX = (int)floor(kmax);
            gar_sphere *s = NULL;
            size_t inside = 0, next = 0;
            ck_assert_int_eq(gar_sphere_create(kmax, K, KX, &s), GAR_OK);
            ck_assert_uint_eq(s->count, gar_sphere_voxels(kmax, K, KX));
            for (int kz = -K; kz <= K; kz++)
                for (int ky = -K; ky <= K; ky++)
                    for (int kx = 0; kx < (int)H; kx++) {
                        const int in = (double)kx * kx + (double)ky * ky + (double)kz * kz <= kmax * kmax;
                        const size_t j = gar_sphere_find(s, kx, ky, kz);
                        ck_assert_msg(in == (j != SIZE_MAX), "M %zu kmax %g: (%d, %d, %d) %s", M, kmax, kx, ky, kz,
                                      in ? "missing" : "held but outside");
                        if (in) {
                            ck_assert_uint_eq(j, next++);   /* [kz][ky][kx] order, no gaps */
                            ck_assert_uint_eq(j, gar_sphere_index(s, kx, ky, kz));
                            inside++;
                        }
                    }
            ck_assert_uint_eq(inside, s->count);
            ck_assert_uint_eq(gar_sphere_find(s, 0, K + 1, 0), SIZE_MAX);
            ck_assert_uint_eq(gar_sphere_find(s, 0, 0, -K - 1), SIZE_MAX);
            ck_assert_uint_eq(gar_sphere_find(s, -1, 0, 0), SIZE_MAX);
            if (k == 0)
                fprintf(stderr, "measured: stored sphere at padded %zu, Nyquist: %.3f of the half volume (pi/6 = %.3f)\n",
                        M, (double)s->count / (M * M * H), GAR_PI / 6);
            if (k == 0 && M >= 64)
                ck_assert(fabs((double)s->count / (M * M * H) - GAR_PI / 6) < 0.03);
            gar_sphere_destroy(&s);
            ck_assert_ptr_null(s);
        }
    }
}
END_TEST

/* The cropped inverse 3D FFT of the finish against the centre of FFTW's
 * whole one, with the input zero beyond kmax as the finish leaves it, and
 * the same bits on 1, 2 and 3 threads. */
START_TEST(test_fft3_crop_matches_full)
{
    const size_t sizes[2][2] = {{48, 24}, {40, 14}};
    for (int c = 0; c < 2; c++) {
        const size_t m = sizes[c][0], n = sizes[c][1], H = m / 2 + 1, nc = m * m * H, o = m / 2 - n / 2;
        const double kmax = 0.4 * m;
        float *spec = malloc(nc * 2 * sizeof(float)), *work = malloc(nc * 2 * sizeof(float));
        float *full = malloc(m * m * m * sizeof(float)), *crop[3];
        ck_assert(spec && work && full);
        /* The transform of a random real volume (Hermitian where it must be),
         * zeroed beyond kmax. */
        srand(23);
        for (size_t i = 0; i < m * m * m; i++)
            full[i] = (float)rand() / RAND_MAX - 0.5f;
        ck_assert_int_eq(gar_fft3_r2c(m, full, spec), GAR_OK);
        for (size_t z = 0; z < m; z++)
            for (size_t y = 0; y < m; y++)
                for (size_t x = 0; x < H; x++) {
                    double kz = gar_fft_freq(z, m), ky = gar_fft_freq(y, m);
                    if (x * x + ky * ky + kz * kz > kmax * kmax)
                        spec[2 * ((z * m + y) * H + x)] = spec[2 * ((z * m + y) * H + x) + 1] = 0;
                }
        memcpy(work, spec, nc * 2 * sizeof(float));
        ck_assert_int_eq(gar_fft3_c2r(m, work, full), GAR_OK);
        double num = 0, den = 0;
        for (int t = 0; t < 3; t++) {
            crop[t] = malloc(n * n * n * sizeof(float));
            memcpy(work, spec, nc * 2 * sizeof(float));
            ck_assert_int_eq(gar_fft3_c2r_crop(m, n, kmax, work, crop[t], t + 1), GAR_OK);
        }
        for (size_t z = 0; z < n; z++)
            for (size_t y = 0; y < n; y++)
                for (size_t x = 0; x < n; x++) {
                    double want = full[((z + o) * m + y + o) * m + x + o], got = crop[0][(z * n + y) * n + x];
                    num += (got - want) * (got - want);
                    den += want * want;
                }
        fprintf(stderr, "measured: cropped inverse FFT %zu -> %zu against the full one: relative L2 %.2e\n", m, n,
                sqrt(num / den));
        ck_assert_msg(den > 0 && sqrt(num / den) < 1e-6, "relative L2 %g", sqrt(num / den));
        ck_assert(memcmp(crop[0], crop[1], n * n * n * sizeof(float)) == 0);
        ck_assert(memcmp(crop[0], crop[2], n * n * n * sizeof(float)) == 0);
        /* The finish's form, which makes the lines from a source and keeps
         * only n planes: the same bits as the in-place one. */
        for (int t = 0; t < 3; t++) {
            crop_src src = {spec, m};
            float *kept = malloc(n * m * H * 2 * sizeof(float)), *got = malloc(n * n * n * sizeof(float));
            ck_assert(kept && got);
            for (size_t i = 0; i < n * m * H * 2; i++)
                kept[i] = 1e30f;   /* every kept value must be written */
            ck_assert_int_eq(gar_fft3_c2r_crop_fill(m, n, kmax, crop_fill, &src, kept, got, t + 1), GAR_OK);
            ck_assert_msg(memcmp(crop[0], got, n * n * n * sizeof(float)) == 0,
                          "crop from lines differs from the in-place crop (%d threads)", t + 1);
            free(kept);
            free(got);
        }
        for (int t = 0; t < 3; t++)
            free(crop[t]);
        free(spec);
        free(work);
        free(full);
    }
}
END_TEST

START_TEST(test_threads_bitwise_identical)
{
    gar_map *truth = load_map("tii-64.mrc");
    sim_set s;
    gar_map *maps[3];
    const int threads[3] = {1, 2, 4};
    simulate(truth, 48, 0.5, 1, 2.0, 9, &s);
    for (int k = 0; k < 3; k++) {
        gar_recon_config c = test_recon_config(&s, 1, threads[k], 16);
        gar_recon *r = reconstruct(&c, &s, s.n);
        ck_assert_int_eq(gar_recon_finalize(r, 0, &maps[k]), GAR_OK);
        gar_recon_destroy(&r);
    }
    size_t n = gar_map_voxels(maps[0]);
    ck_assert_msg(memcmp(maps[0]->data, maps[1]->data, n * sizeof(float)) == 0, "1 and 2 threads differ");
    ck_assert_msg(memcmp(maps[0]->data, maps[2]->data, n * sizeof(float)) == 0, "1 and 4 threads differ");
    for (int k = 0; k < 3; k++)
        gar_map_destroy(&maps[k]);
    sim_free(&s);
    gar_map_destroy(&truth);
}
END_TEST

static double rel_l2(const gar_map *a, const gar_map *b)
{
    double d = 0, n = 0;
    for (size_t k = 0; k < gar_map_voxels(a); k++) {
        d += ((double)a->data[k] - b->data[k]) * ((double)a->data[k] - b->data[k]);
        n += (double)b->data[k] * b->data[k];
    }
    return sqrt(d / n);
}

/* Contrast scales (gar_recon_insert_scaled): particles whose images are
 * multiplied by a and inserted with scale a give the map of the plain
 * particles: exactly (to rounding) for one a for all (Σ a C (a X) / Σ a² C²
 * = Σ C X / Σ C²), on the AVX-512 and the scalar plane paths; for a_i that
 * differ the same where the particles hold no noise (each X_i/C_i is then the
 * same slice, only weighted by a_i²: the slices' interpolation errors and
 * the CTF zeros are weighted differently, 3 % measured). A
 * scale of 0 leaves a particle out, whatever its image. */
START_TEST(test_insert_scaled)
{
    gar_map *truth = load_map("tii-64.mrc"), *plain = NULL, *half = NULL;
    sim_set s;
    simulate(truth, 32, INFINITY, 1, 2.0, 13, &s);
    const size_t npix = s.box * s.box;
    float *scaled = malloc(s.n * npix * sizeof *scaled), *a = malloc(s.n * sizeof *a);
    gar_recon_config c = test_recon_config(&s, 1, 2, 16);
    gar_recon *r = reconstruct(&c, &s, s.n);
    ck_assert_int_eq(gar_recon_finalize(r, 0, &plain), GAR_OK);
    gar_recon_destroy(&r);
    for (int scalar = 0; scalar < 4; scalar++) {
        gar_map *m = NULL;
        const int varying = scalar >= 2;
        for (size_t i = 0; i < s.n; i++) {
            a[i] = varying ? (float)(0.5 + 1.5 * (double)i / (double)(s.n - 1)) : 2.5f;
            for (size_t k = 0; k < npix; k++)
                scaled[i * npix + k] = s.images[i * npix + k] * a[i];
        }
        if (scalar % 2)
            setenv("GARNER_SCALAR_GATHER", "1", 1);
        ck_assert_int_eq(gar_recon_create(&c, &r), GAR_OK);
        unsetenv("GARNER_SCALAR_GATHER");
        for (size_t f = 0; f < s.n; f += 16)
            ck_assert_int_eq(gar_recon_insert_scaled(r, scaled + f * npix, s.meta + f, a + f, 16), GAR_OK);
        ck_assert_int_eq(gar_recon_finalize(r, 0, &m), GAR_OK);
        fprintf(stderr, "measured: %s scales, %s planes, against plain: relative L2 %.2e\n",
                varying ? "varying" : "equal", scalar % 2 ? "scalar" : "default", rel_l2(m, plain));
        ck_assert_msg(rel_l2(m, plain) < (varying ? 5e-2 : 1e-5), "%s scales: relative L2 %.3g from the plain map",
                      varying ? "varying" : "equal", rel_l2(m, plain));
        gar_map_destroy(&m);
        gar_recon_destroy(&r);
    }
    /* Half set 1 only, twice: plainly, and among garbage particles of half
     * set 2 relabelled 1 with scale 0. */
    ck_assert_int_eq(gar_recon_create(&c, &r), GAR_OK);
    for (size_t f = 0; f < s.n; f += 16) {
        float z[16];
        gar_particle meta[16];
        memcpy(meta, s.meta + f, sizeof meta);
        for (size_t i = 0; i < 16; i++) {
            z[i] = meta[i].half_set == 1 ? 1.0f : 0.0f;
            for (size_t k = 0; k < npix; k++)
                scaled[(f + i) * npix + k] =
                    meta[i].half_set == 2 ? 1000.0f * (float)((k * 7919) % 13) : s.images[(f + i) * npix + k];
            meta[i].half_set = 1;
        }
        ck_assert_int_eq(gar_recon_insert_scaled(r, scaled + f * npix, meta, z, 16), GAR_OK);
    }
    ck_assert_int_eq(gar_recon_finalize(r, 1, &half), GAR_OK);
    gar_recon_destroy(&r);
    gar_map *h1 = NULL;
    r = reconstruct(&c, &s, s.n);
    ck_assert_int_eq(gar_recon_finalize(r, 1, &h1), GAR_OK);
    gar_recon_destroy(&r);
    fprintf(stderr, "measured: scale 0 for the other half's garbage: relative L2 %.2e\n", rel_l2(half, h1));
    ck_assert_msg(rel_l2(half, h1) < 1e-5, "scale 0: relative L2 %.3g", rel_l2(half, h1));
    float bad = -1.0f;
    ck_assert_int_eq(gar_recon_create(&c, &r), GAR_OK);
    ck_assert_int_eq(gar_recon_insert_scaled(r, scaled, s.meta, &bad, 1), GAR_ERR_DATA);
    gar_recon_destroy(&r);
    gar_map_destroy(&h1);
    gar_map_destroy(&half);
    gar_map_destroy(&plain);
    free(scaled);
    free(a);
    sim_free(&s);
    gar_map_destroy(&truth);
}
END_TEST

static double mean_fsc_against(const gar_map *a, const gar_map *b, size_t last_shell)
{
    size_t n = a->nx / 2 + 1;
    double *fsc = malloc(sizeof(double) * n);
    ck_assert_int_eq(gar_fsc_compute(a, b, fsc), GAR_OK);
    double m = gar_fsc_mean(fsc, 1, last_shell);
    free(fsc);
    return m;
}

/* Noise-free, CTF-free known poses: the map must match the object the
 * simulator projects (the truth in solvent) closely up to 0.9 Nyquist. */
START_TEST(test_known_pose_noise_free)
{
    gar_map *truth = load_map("tii-64.mrc"), *map = NULL;
    sim_set s;
    simulate(truth, 400, INFINITY, 0, 2.0, 21, &s);
    gar_recon_config c = test_recon_config(&s, 0, 2, 64);
    gar_recon *r = reconstruct(&c, &s, s.n);
    ck_assert_int_eq(gar_recon_finalize(r, 0, &map), GAR_OK);
    gar_sim_solvent(truth);
    double m = mean_fsc_against(map, truth, 28);
    fprintf(stderr, "measured: noise-free 400 particles, mean FSC vs truth over shells 1-28: %.4f\n", m);
    ck_assert_msg(m > 0.97, "mean FSC %.4f (floor 0.97)", m);
    gar_map_destroy(&map);
    gar_recon_destroy(&r);
    sim_free(&s);
    gar_map_destroy(&truth);
}
END_TEST

/* Near Nyquist the image model decides (docs/ARCHITECTURE.md, "The
 * reconstruction's maths"). A CTF applied on the box's own grid (relion_project,
 * garner simulate by default) wraps the signal it spreads beyond the box back
 * into it: such an image is one period of a periodic image, and only the
 * samples of its padded transform on the box's grid obey X = CTF·P, the
 * others are interpolated across the wrap. A CTF applied on a larger canvas
 * and the box cut out (a micrograph; garner simulate's default) leaves an
 * image that is zero outside its box, which every padded sample states.
 * With defocus 3-4 µm at 3 Å/px the spread at Nyquist (λΔf/2p, ~45 px) is far
 * beyond the box, so each model must win on its own images, by more than
 * the measured margins' half, in the last eight shells (FSC against the
 * object simulated). Measured: see the message; with the lattice left
 * unapplied (periodic = boxed) the first check fails, with the canvas
 * wrapping into the box (canvas = box) the second does. */
START_TEST(test_image_model_near_nyquist)
{
    gar_map *raw = load_map("tii-64.mrc"), *truth = NULL;
    double f[2][2];   /* [images: wrapped, canvas][model: boxed, periodic] */
    ck_assert_int_eq(gar_sim_true_map(raw, &truth), GAR_OK);
    for (int wrap = 1; wrap >= 0; wrap--) {
        gar_sim_config sc = sim_config(raw, 1.0, 1, 2.0, 29);
        sim_set s;
        sc.defocus_min_A = 30000;
        sc.defocus_max_A = 40000;
        sc.ctf_canvas = !wrap;
        simulate_with(raw, 1500, &sc, &s);
        for (int model = 0; model < 2; model++) {
            gar_map *map = NULL;
            gar_recon_config c = test_recon_config(&s, 1, 2, 100);
            c.image_model = model ? GAR_IMAGE_PERIODIC : GAR_IMAGE_BOXED;
            gar_recon *r = reconstruct(&c, &s, s.n);
            ck_assert_int_eq(gar_recon_finalize(r, 0, &map), GAR_OK);
            size_t n = map->nx / 2 + 1;
            double *fsc = malloc(sizeof(double) * n);
            ck_assert_int_eq(gar_fsc_compute(map, truth, fsc), GAR_OK);
            f[!wrap][model] = gar_fsc_mean(fsc, 25, 32);
            free(fsc);
            gar_map_destroy(&map);
            gar_recon_destroy(&r);
        }
        sim_free(&s);
    }
    fprintf(stderr, "measured: mean FSC vs truth, shells 25-32: wrapped images: boxed %.4f, periodic %.4f; "
            "canvas images: boxed %.4f, periodic %.4f\n", f[0][0], f[0][1], f[1][0], f[1][1]);
    ck_assert_msg(f[0][1] > f[0][0] + 0.03, "wrapped images: periodic %.4f not above boxed %.4f + 0.03", f[0][1],
                  f[0][0]);
    ck_assert_msg(f[1][0] > f[1][1] + 0.03, "canvas images: boxed %.4f not above periodic %.4f + 0.03", f[1][0],
                  f[1][1]);
    gar_map_destroy(&truth);
    gar_map_destroy(&raw);
}
END_TEST

/* periodic keeps every pad-th pixel of the padded transform, which is the
 * box's own grid only when M = pad × N: a box whose pad × N is not
 * FFT-friendly (22 × 2 = 44 = 4 × 11, padded to 48) is refused, naming the
 * key; the same box is fine boxed. Planes keep exactly the pixels on the
 * grid. */
START_TEST(test_periodic_lattice)
{
    gar_optics o = {0};
    gar_recon_config c;
    gar_recon *r = NULL;
    o.group = 1;
    o.pixel_size_A = 3.0;
    o.voltage_kV = 300;
    o.cs_mm = 2.7;
    o.amplitude_contrast = 0.1;
    memset(&c, 0, sizeof c);
    c.box = 22;
    c.pixel_size_A = 3.0;
    c.pad = 2;
    c.blob_radius = 1.9;
    c.blob_alpha = 15;
    c.optics = &o;
    c.n_optics = 1;
    c.threads = 1;
    c.batch = 4;
    c.image_model = GAR_IMAGE_PERIODIC;
    ck_assert_int_eq(gar_recon_create(&c, &r), GAR_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "image_model = periodic"));
    c.image_model = GAR_IMAGE_BOXED;
    ck_assert_int_eq(gar_recon_create(&c, &r), GAR_OK);
    gar_recon_destroy(&r);
    /* A plane of a periodic image: zero off the grid, the boxed plane's
     * values on it. */
    c.box = 24;
    c.ctf = 1;
    {
        float *img = malloc(sizeof(float) * 24 * 24);
        gar_particle meta = {0};
        meta.rot_deg = 10;
        meta.tilt_deg = 70;
        meta.psi_deg = -30;
        meta.origin_x_A = 1.5;
        meta.defocus_u_A = meta.defocus_v_A = 15000;
        meta.half_set = 1;
        meta.optics_group = 1;
        for (int k = 0; k < 24 * 24; k++)
            img[k] = (float)sin(0.37 * k) + (float)(k % 7);
        float *pl[2];
        size_t pp = 0;
        int R = 0;
        for (int model = 0; model < 2; model++) {
            c.image_model = model ? GAR_IMAGE_PERIODIC : GAR_IMAGE_BOXED;
            ck_assert_int_eq(gar_recon_create(&c, &r), GAR_OK);
            R = gar_recon_plane_radius(r);
            pp = gar_recon_plane_pixels(r);
            pl[model] = malloc(3 * pp * sizeof(float));
            ck_assert_int_eq(gar_recon_prepare_plane(r, 0, img, &meta, pl[model]), GAR_OK);
            gar_recon_destroy(&r);
        }
        size_t on = 0, off = 0;
        for (int v = -R; v <= R; v++)
            for (int u = -R; u <= R; u++) {
                size_t at = (size_t)(v + R) * (2 * R + 1) + (size_t)(u + R);
                int keep = u % 2 == 0 && v % 2 == 0;
                for (int k = 0; k < 3; k++)
                    ck_assert_float_eq(pl[1][k * pp + at], keep ? pl[0][k * pp + at] : 0.0f);
                if (pl[0][2 * pp + at] > 0)
                    keep ? on++ : off++;
            }
        ck_assert_uint_gt(on, 100);
        ck_assert_uint_gt(off, 3 * on - 100);
        free(pl[0]);
        free(pl[1]);
        free(img);
    }
}
END_TEST

/* D7 with 300 particles holds the information of C1 with 300 × 14 = 4200. */
START_TEST(test_symmetry_d7_equals_c1_4200)
{
    gar_symmetry *d7 = NULL;
    gar_map *phantom = NULL, *map_d7 = NULL, *map_c1_big = NULL, *map_c1_small = NULL, *map_vol = NULL;
    gar_phantom_config pc = {64, 3.0, 4, 0, 0};
    sim_set s;
    const double *ops;
    ck_assert_int_eq(gar_symmetry_create("D7", &d7), GAR_OK);
    ops = gar_symmetry_matrices(d7);
    ck_assert_int_eq(gar_phantom_create(&pc, d7, &phantom), GAR_OK);
    simulate(phantom, 4200, 0.1, 1, 2.0, 17, &s);
    size_t order = gar_symmetry_order(d7);

    gar_recon_config c = test_recon_config(&s, 1, 2, 100);
    c.sym_ops = ops;
    c.n_ops = order;
    gar_recon *r = reconstruct(&c, &s, 300);
    ck_assert_int_eq(gar_recon_finalize(r, 0, &map_d7), GAR_OK);
    gar_recon_destroy(&r);
    c.sym_mode = GAR_SYM_VOLUME;
    r = reconstruct(&c, &s, 300);
    ck_assert_int_eq(gar_recon_finalize(r, 0, &map_vol), GAR_OK);
    gar_recon_destroy(&r);
    c = test_recon_config(&s, 1, 2, 100);
    r = reconstruct(&c, &s, 4200);
    ck_assert_int_eq(gar_recon_finalize(r, 0, &map_c1_big), GAR_OK);
    gar_recon_destroy(&r);
    r = reconstruct(&c, &s, 300);
    ck_assert_int_eq(gar_recon_finalize(r, 0, &map_c1_small), GAR_OK);
    gar_recon_destroy(&r);

    gar_sim_solvent(phantom);
    double f_d7 = mean_fsc_against(map_d7, phantom, 31);
    double f_vol = mean_fsc_against(map_vol, phantom, 31);
    double f_big = mean_fsc_against(map_c1_big, phantom, 31);
    double f_small = mean_fsc_against(map_c1_small, phantom, 31);
    fprintf(stderr, "measured: mean FSC vs truth: D7 insert 300 %.4f, D7 volume 300 %.4f, C1 4200 %.4f, "
            "C1 300 %.4f\n", f_d7, f_vol, f_big, f_small);
    ck_assert_msg(fabs(f_d7 - f_big) < 0.02, "D7 x 300 %.4f vs C1 x 4200 %.4f", f_d7, f_big);
    ck_assert_msg(f_small < f_big - 0.05, "C1 x 300 %.4f is not measurably worse than C1 x 4200 %.4f", f_small, f_big);
    ck_assert_msg(f_vol > f_small + 0.05, "volume symmetrisation %.4f no better than C1 x 300 %.4f", f_vol, f_small);
    gar_map_destroy(&map_d7);
    gar_map_destroy(&map_vol);
    gar_map_destroy(&map_c1_big);
    gar_map_destroy(&map_c1_small);
    gar_map_destroy(&phantom);
    gar_symmetry_destroy(&d7);
    sim_free(&s);
}
END_TEST

/* Issue 18, case 9: an FSC of 0 in every shell (a NaN reference) was
 * reported as 1.9e11 Å, the crossing interpolated toward shell 0. Every
 * value is now within what the box measures, and says how it was found. */
START_TEST(test_fsc_resolution_bounds)
{
    enum { N = 33 };   /* box 64 */
    double fsc[N];
    gar_fsc_crossing c;
    double r;
    for (size_t s = 0; s < N; s++)
        fsc[s] = 0.0;
    r = gar_fsc_find_resolution(fsc, N, 64, 3.0, 0.5, &c);
    ck_assert_int_eq(c, GAR_FSC_BELOW_AT_FIRST);
    ck_assert_double_eq_tol(r, 192.0, 1e-9);
    for (size_t s = 0; s < N; s++)
        fsc[s] = 1.0;
    r = gar_fsc_find_resolution(fsc, N, 64, 3.0, 0.5, &c);
    ck_assert_int_eq(c, GAR_FSC_NEVER_BELOW);
    ck_assert_double_eq_tol(r, 6.0, 1e-9);
    /* Above to shell 8, below from 9: crossing at 8.5 by interpolation. */
    for (size_t s = 0; s < N; s++)
        fsc[s] = s <= 8 ? 0.75 : 0.25;
    r = gar_fsc_find_resolution(fsc, N, 64, 3.0, 0.5, &c);
    ck_assert_int_eq(c, GAR_FSC_CROSSES);
    ck_assert_double_eq_tol(r, 192.0 / 8.5, 1e-9);
    ck_assert_double_eq(gar_fsc_resolution(fsc, N, 64, 3.0, 0.5), r);
    /* A NaN shell is below the threshold, never a match. */
    fsc[1] = NAN;
    r = gar_fsc_find_resolution(fsc, N, 64, 3.0, 0.5, &c);
    ck_assert_int_eq(c, GAR_FSC_BELOW_AT_FIRST);
    ck_assert_double_eq_tol(r, 192.0, 1e-9);
}
END_TEST

int main(void)
{
    TCase *tc = TEST_CASE("core", 600,
                          test_blob_table_read_stays_inside,
                          test_bessel_values,
                          test_blob_table_matches_closed_form,
                          test_blob_on_the_fly_matches_closed_form,
                          test_gather_matches_scatter,
                          test_blob_pieces_match_closed_form,
                          test_gather_simd_matches_scalar,
                          test_plane_simd_matches_scalar,
                          test_sphere_layout, test_fft3_crop_matches_full,
                          test_insert_scaled, test_threads_bitwise_identical,
                          test_known_pose_noise_free,
                          test_image_model_near_nyquist,
                          test_periodic_lattice,
                          test_symmetry_d7_equals_c1_4200);
    TCase *fsc = TEST_CASE("fsc", 10, test_fsc_resolution_bounds);
    return test_run_suite(test_suite("recon", tc, fsc, NULL));
}
