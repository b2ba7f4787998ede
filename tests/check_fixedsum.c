/* Fixed-point sums of an MPI worker with exact sums (src/gar_fixedsum.h):
 * the image bound bounds every plane pixel, the quanta are the least that
 * fit, the sums equal the float sums to within their rounding, any order
 * and grouping of the particles gives the same integers (where float sums
 * do not), and a particle beyond the headroom is refused. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gar_fixedsum.h"
#include "gar_mrc.h"
#include "gar_recon.h"
#include "testsim.h"
#include "testutil.h"

static gar_map *load_map(const char *name)
{
    gar_map *m = NULL;
    ck_assert_int_eq(gar_mrc_read(test_example(name), &m), GAR_OK);
    return m;
}

/* The largest image bound of a set. */
static double set_bound(const sim_set *s)
{
    double b = 0;
    for (size_t i = 0; i < s->n; i++) {
        double x = gar_fixed_image_bound(s->images + i * s->box * s->box, s->box);
        b = x > b ? x : b;
    }
    return b;
}

/* A fixed-point reconstructor for s with quanta sized from its own particles. */
static gar_recon *fixed_recon(const sim_set *s, int threads, size_t batch, int scalar, gar_fixed_scale *fs)
{
    gar_recon_config c = test_recon_config(s, 1, threads, batch);
    gar_recon *r = NULL;
    c.fixed_sums = 1;
    if (scalar)
        setenv("GARNER_SCALAR_GATHER", "1", 1);
    ck_assert_msg(gar_recon_create(&c, &r) == GAR_OK, "%s", gar_errmsg());
    unsetenv("GARNER_SCALAR_GATHER");
    ck_assert_msg(gar_fixed_scale_make(set_bound(s), 1.0, s->n * gar_recon_insert_ops(r), gar_recon_blob_sum(r),
                                       fs) == GAR_OK, "%s", gar_errmsg());
    ck_assert_msg(gar_recon_set_fixed_scale(r, fs) == GAR_OK, "%s", gar_errmsg());
    return r;
}

/* Inserts particles order[0 .. n) in batches of `batch`. */
static void insert_in(gar_recon *r, const sim_set *s, const size_t *order, size_t n, size_t batch)
{
    const size_t npix = s->box * s->box;
    float *images = malloc(batch * npix * sizeof *images);
    gar_particle *meta = malloc(batch * sizeof *meta);
    for (size_t f = 0; f < n; f += batch) {
        size_t m = n - f < batch ? n - f : batch;
        for (size_t i = 0; i < m; i++) {
            memcpy(images + i * npix, s->images + order[f + i] * npix, npix * sizeof *images);
            meta[i] = s->meta[order[f + i]];
        }
        ck_assert_msg(gar_recon_insert(r, images, meta, m) == GAR_OK, "%s", gar_errmsg());
    }
    free(images);
    free(meta);
}

START_TEST(test_image_bound_bounds_the_plane)
{
    gar_map *truth = load_map("tii-64.mrc");
    sim_set s;
    gar_recon *r = NULL;
    simulate(truth, 8, 0.5, 1, 2.0, 31, &s);
    gar_recon_config c = test_recon_config(&s, 1, 1, 8);
    ck_assert_int_eq(gar_recon_create(&c, &r), GAR_OK);
    const size_t P = gar_recon_plane_pixels(r);
    float *plane = malloc(3 * P * sizeof *plane);
    double worst = 0;
    for (size_t i = 0; i < s.n; i++) {
        const float *im = s.images + i * s.box * s.box;
        double bound = gar_fixed_image_bound(im, s.box), most = 0, c2 = 0;
        ck_assert_int_eq(gar_recon_prepare_plane(r, 0, im, &s.meta[i], plane), GAR_OK);
        for (size_t k = 0; k < P; k++) {
            most = fmax(most, fmax(fabs(plane[k]), fabs(plane[P + k])));
            c2 = fmax(c2, plane[2 * P + k]);
        }
        ck_assert_msg(most <= bound, "particle %zu: plane pixel %g beyond the bound %g", i, most, bound);
        ck_assert_msg(c2 <= 1.0f + 1e-6f, "particle %zu: CTF² %g above 1", i, c2);
        worst = fmax(worst, most / bound);
    }
    fprintf(stderr, "measured: largest plane pixel / image bound %.3f\n", worst);
    ck_assert_msg(worst > 0.01, "the bound is %g times the plane: too loose to be the right quantity", 1 / worst);
    free(plane);
    gar_recon_destroy(&r);
    sim_free(&s);
    gar_map_destroy(&truth);
}
END_TEST

START_TEST(test_quanta_least_that_fit)
{
    gar_fixed_scale fs;
    const double bound = 3.7e4, cap = 2.5, S = 16;
    const size_t n = 123457;
    ck_assert_int_eq(gar_fixed_scale_make(bound, cap, n, S, &fs), GAR_OK);
    const double P = GAR_FIXED_HEADROOM * cap * bound;
    ck_assert_double_eq(fs.plane_limit, P);
    ck_assert_double_eq(fs.scale_limit, cap);
    /* n·S·P <= 2^60·q < 2·n·S·P, for the data and for the weights (P = a²). */
    ck_assert(n * S * P <= ldexp(1.0, 60 + fs.data_exp) && ldexp(1.0, 59 + fs.data_exp) < n * S * P);
    ck_assert(n * S * cap * cap <= ldexp(1.0, 60 + fs.weight_exp) &&
              ldexp(1.0, 59 + fs.weight_exp) < n * S * cap * cap);
    /* A particle at the limit passes; beyond it, or beyond the scale cap, is refused. */
    ck_assert_int_eq(gar_fixed_check_particle(&fs, P / cap, cap), GAR_OK);
    ck_assert_int_eq(gar_fixed_check_particle(&fs, P / cap * 1.01, cap), GAR_ERR_DATA);
    ck_assert_msg(strstr(gar_errmsg(), "reproducible = no") != NULL, "%s", gar_errmsg());
    ck_assert_int_eq(gar_fixed_check_particle(&fs, 1.0, cap * 1.01), GAR_ERR_DATA);
    /* A blank sample cannot size them. */
    ck_assert_int_eq(gar_fixed_scale_make(0.0, 1.0, n, S, &fs), GAR_ERR_DATA);
    ck_assert_msg(strstr(gar_errmsg(), "blank") != NULL, "%s", gar_errmsg());
}
END_TEST

START_TEST(test_add_floats_checked)
{
    int64_t acc[4] = {0, 5, 0, 0};
    const float x[4] = {1.5f, -2.25f, 0.75f, 3.0f};
    float back[4];
    /* Quantum 2^-2: 1.5 → 6, −2.25 → −9 (+5 = −4), 0.75 → 3, 3 → 12. */
    ck_assert_int_eq(gar_fixed_add_floats(acc, x, 4, -2, 1), GAR_OK);
    ck_assert(acc[0] == 6 && acc[1] == -4 && acc[2] == 3 && acc[3] == 12);
    gar_fixed_to_floats(acc, 4, -2, back, 1);
    ck_assert(back[0] == 1.5f && back[1] == -1.0f && back[2] == 0.75f && back[3] == 3.0f);
    /* Ties round to even, as the kernels' llrintf. */
    const float half[2] = {0.125f, 0.375f};
    int64_t t[2] = {0, 0};
    ck_assert_int_eq(gar_fixed_add_floats(t, half, 2, -2, 1), GAR_OK);
    ck_assert(t[0] == 0 && t[1] == 2);
    ck_assert(gar_fixed_quantise(0.125f, 4.0f) == 0 && gar_fixed_quantise(0.375f, 4.0f) == 2);
    /* Beyond 2^62 quanta, and a NaN, name their index. */
    const float big[2] = {1.0f, ldexpf(1.0f, 61)};
    int64_t b[2] = {0, 0};
    ck_assert_int_eq(gar_fixed_add_floats(b, big, 2, -2, 1), GAR_ERR_DATA);
    ck_assert_msg(strstr(gar_errmsg(), "at 1") != NULL, "%s", gar_errmsg());
    const float nan[1] = {NAN};
    ck_assert_int_eq(gar_fixed_add_floats(b, nan, 1, 0, 1), GAR_ERR_DATA);
}
END_TEST

/* Fixed-point sums against float sums of the same particles and the same
 * kernel: the AVX-512 one (where the CPU has it) and the scalar one (the
 * two kernels differ by their blob's evaluation, about 1e-6). */
START_TEST(test_fixed_sums_match_float)
{
    gar_map *truth = load_map("tii-64.mrc");
    sim_set s;
    simulate(truth, 48, 0.5, 1, 2.0, 37, &s);
    size_t *order = malloc(s.n * sizeof *order);
    for (size_t i = 0; i < s.n; i++)
        order[i] = i;
    for (int scalar = 0; scalar <= 1; scalar++) {
        gar_recon *fl = NULL;
        gar_recon_config c = test_recon_config(&s, 1, 2, 16);
        gar_recon_partial vf;
        if (scalar)
            setenv("GARNER_SCALAR_GATHER", "1", 1);
        ck_assert_int_eq(gar_recon_create(&c, &fl), GAR_OK);
        unsetenv("GARNER_SCALAR_GATHER");
        insert_in(fl, &s, order, s.n, 16);
        ck_assert_int_eq(gar_recon_partial_view(fl, &vf), GAR_OK);
        gar_fixed_scale fs;
        gar_recon *fx = fixed_recon(&s, 2, 16, scalar, &fs);
        gar_recon_partial vx;
        insert_in(fx, &s, order, s.n, 16);
        ck_assert_int_eq(gar_recon_partial_view(fx, &vx), GAR_OK);
        ck_assert(vx.fixed != NULL && vx.data[0] == NULL && vf.fixed == NULL);
        ck_assert(vx.count[0] == vf.count[0] && vx.count[1] == vf.count[1]);
        for (int h = 0; h < 2; h++)
            for (int w = 0; w <= 1; w++) {
                const size_t n = w ? vf.nvox : 2 * vf.nvox;
                const float *f = w ? vf.weight[h] : vf.data[h];
                const int64_t *q = w ? vx.weight_fixed[h] : vx.data_fixed[h];
                const int e = w ? fs.weight_exp : fs.data_exp;
                double most = 0, diff = 0, ss = 0, sd = 0;
                for (size_t i = 0; i < n; i++) {
                    const double v = ldexp((double)q[i], e), d = v - f[i];
                    most = fmax(most, fabs(f[i]));
                    diff = fmax(diff, fabs(d));
                    ss += (double)f[i] * f[i];
                    sd += d * d;
                }
                fprintf(stderr, "measured: %s kernel, half set %d %s: quantum 2^%d = %.3g of the largest sum; "
                        "largest difference %.3g of it, relative L2 %.3g\n", scalar ? "scalar" : "default", h + 1,
                        w ? "weights" : "data", e, ldexp(1.0, e) / most, diff / most, sqrt(sd / ss));
                ck_assert(most > 0);
                ck_assert_msg(diff <= 1e-5 * most, "largest difference %g of the largest sum %g", diff, most);
                ck_assert_msg(sqrt(sd / ss) <= 1e-6, "relative L2 %g", sqrt(sd / ss));
            }
        /* Only the reduction turns fixed-point sums into a map. */
        gar_map *m = NULL;
        ck_assert_int_eq(gar_recon_finalize(fx, 0, &m), GAR_ERR_INTERNAL);
        gar_recon_destroy(&fx);
        gar_recon_destroy(&fl);
    }
    free(order);
    sim_free(&s);
    gar_map_destroy(&truth);
}
END_TEST

/* The same particles in another order, other batches and another thread
 * count: the same integers. Float sums of the same two orders differ,
 * which is what the fixed point is for (and shows the comparison can fail). */
START_TEST(test_any_order_same_integers)
{
    gar_map *truth = load_map("tii-64.mrc");
    sim_set s;
    gar_fixed_scale fs1, fs2;
    simulate(truth, 40, 0.5, 1, 2.0, 41, &s);
    size_t *fwd = malloc(s.n * sizeof *fwd), *rev = malloc(s.n * sizeof *rev);
    for (size_t i = 0; i < s.n; i++) {
        fwd[i] = i;
        rev[i] = s.n - 1 - i;
    }
    gar_recon *a = fixed_recon(&s, 1, 16, 0, &fs1), *b = fixed_recon(&s, 2, 7, 0, &fs2);
    insert_in(a, &s, fwd, s.n, 16);
    insert_in(b, &s, rev, s.n, 7);
    gar_recon_partial va, vb;
    ck_assert_int_eq(gar_recon_partial_view(a, &va), GAR_OK);
    ck_assert_int_eq(gar_recon_partial_view(b, &vb), GAR_OK);
    for (int h = 0; h < 2; h++) {
        ck_assert_msg(memcmp(va.data_fixed[h], vb.data_fixed[h], 2 * va.nvox * sizeof(int64_t)) == 0,
                      "half set %d data differ", h + 1);
        ck_assert_msg(memcmp(va.weight_fixed[h], vb.weight_fixed[h], va.nvox * sizeof(int64_t)) == 0,
                      "half set %d weights differ", h + 1);
    }
    gar_recon_destroy(&a);
    gar_recon_destroy(&b);
    /* Floats, the same two orders. */
    gar_recon_config c = test_recon_config(&s, 1, 1, 16);
    gar_recon *fa = NULL, *fb = NULL;
    ck_assert_int_eq(gar_recon_create(&c, &fa), GAR_OK);
    c.batch = 7;
    ck_assert_int_eq(gar_recon_create(&c, &fb), GAR_OK);
    insert_in(fa, &s, fwd, s.n, 16);
    insert_in(fb, &s, rev, s.n, 7);
    ck_assert_int_eq(gar_recon_partial_view(fa, &va), GAR_OK);
    ck_assert_int_eq(gar_recon_partial_view(fb, &vb), GAR_OK);
    ck_assert_msg(memcmp(va.data[0], vb.data[0], 2 * va.nvox * sizeof(float)) != 0,
                  "float sums of two orders agree bit for bit: this test could not fail");
    gar_recon_destroy(&fa);
    gar_recon_destroy(&fb);
    free(fwd);
    free(rev);
    sim_free(&s);
    gar_map_destroy(&truth);
}
END_TEST

START_TEST(test_particle_beyond_headroom_refused)
{
    gar_map *truth = load_map("tii-64.mrc");
    sim_set s;
    gar_fixed_scale fs;
    simulate(truth, 4, 0.5, 1, 2.0, 43, &s);
    gar_recon *r = fixed_recon(&s, 1, 4, 0, &fs);
    const size_t npix = s.box * s.box;
    float *bright = malloc(npix * sizeof *bright), scale = 1.0f;
    for (size_t k = 0; k < npix; k++)
        bright[k] = s.images[k] * 2000.0f;
    ck_assert_int_eq(gar_recon_insert(r, bright, s.meta, 1), GAR_ERR_DATA);
    ck_assert_msg(strstr(gar_errmsg(), "headroom") != NULL && strstr(gar_errmsg(), "reproducible = no") != NULL,
                  "%s", gar_errmsg());
    fprintf(stderr, "refused: %s\n", gar_errmsg());
    /* 1000 times is within the headroom of 1024. */
    for (size_t k = 0; k < npix; k++)
        bright[k] = s.images[k] * 1000.0f;
    ck_assert_msg(gar_recon_insert(r, bright, s.meta, 1) == GAR_OK, "%s", gar_errmsg());
    /* A contrast scale beyond the cap the quanta were sized for. */
    scale = 1.5f;
    ck_assert_int_eq(gar_recon_insert_scaled(r, s.images, s.meta, &scale, 1), GAR_ERR_DATA);
    /* New quanta over sums not reset are refused; after a reset they are taken. */
    gar_fixed_scale other = fs;
    other.data_exp += 3;
    ck_assert_int_eq(gar_recon_set_fixed_scale(r, &other), GAR_ERR_INTERNAL);
    ck_assert_int_eq(gar_recon_reset(r), GAR_OK);
    ck_assert_int_eq(gar_recon_set_fixed_scale(r, &other), GAR_OK);
    free(bright);
    gar_recon_destroy(&r);
    sim_free(&s);
    gar_map_destroy(&truth);
}
END_TEST

int main(void)
{
    TCase *tc = TEST_CASE("core", 120,
                          test_image_bound_bounds_the_plane,
                          test_quanta_least_that_fit,
                          test_add_floats_checked,
                          test_fixed_sums_match_float,
                          test_any_order_same_integers,
                          test_particle_beyond_headroom_refused);
    return test_run_suite(test_suite("fixedsum", tc, NULL));
}
