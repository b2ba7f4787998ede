/* Exact sums (gar_exactsum): the same terms in any order and any grouping
 * give bitwise the same floats; the total is the exact sum rounded to the
 * nearest float; what lies outside the fixed-point range is refused. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gar_exactsum.h"
#include "gar_rng.h"
#include "gar_status.h"
#include "testutil.h"

enum { N = 5000, K = 12 };   /* values per array, arrays */

/* K arrays of N floats: magnitudes log-uniform over 1e-8 .. 1e8, random
 * signs, and some zeros (most of a real volume). */
static float *make_terms(uint64_t seed)
{
    float *x = malloc(sizeof(float) * N * K);
    gar_rng rng;
    ck_assert_ptr_nonnull(x);
    gar_rng_init(&rng, seed, 0);
    for (size_t i = 0; i < (size_t)N * K; i++) {
        double mag = pow(10.0, -8.0 + 16.0 * gar_rng_uniform(&rng));
        x[i] = gar_rng_uniform(&rng) < 0.1 ? 0.0f : (float)(gar_rng_uniform(&rng) < 0.5 ? -mag : mag);
    }
    return x;
}

/* Sum the arrays in the order `order` into one accumulator, and read it back. */
static void sum_in_order(const float *x, const int *order, float *out)
{
    gar_exactsum *a = NULL;
    int64_t *limbs = malloc(sizeof(int64_t) * GAR_EXACT_LIMBS * N);
    ck_assert_ptr_nonnull(limbs);
    ck_assert_int_eq(gar_exactsum_create(N, 2, &a), GAR_OK);
    for (int k = 0; k < K; k++)
        ck_assert_int_eq(gar_exactsum_add(a, 0, x + (size_t)order[k] * N, N), GAR_OK);
    ck_assert_int_eq(gar_exactsum_pack(a, 0, NULL, N, limbs, 2), GAR_OK);
    gar_exactsum_unpack(limbs, N, out, 2);
    gar_exactsum_destroy(&a);
    ck_assert_ptr_null(a);
    free(limbs);
}

/* As MPI does it: the arrays dealt to `ranks` accumulators in turn (array k
 * to rank k mod ranks, the last rank's share passed as floats to pack, as
 * rank 0 passes its own volume), each packed, the limbs summed in reverse
 * rank order, and unpacked. */
static void sum_as_ranks(const float *x, int ranks, float *out)
{
    int64_t *limbs = malloc(sizeof(int64_t) * GAR_EXACT_LIMBS * N);
    int64_t *total = calloc((size_t)GAR_EXACT_LIMBS * N, sizeof(int64_t));
    float *own = calloc(N, sizeof(float));
    ck_assert(limbs != NULL && total != NULL && own != NULL);
    for (int r = ranks - 1; r >= 0; r--) {
        gar_exactsum *a = NULL;
        ck_assert_int_eq(gar_exactsum_create(N, 1, &a), GAR_OK);
        for (int k = r; k < K; k += ranks)
            ck_assert_int_eq(gar_exactsum_add(a, 0, x + (size_t)k * N, N), GAR_OK);
        /* One more term for this rank, given as floats beside the accumulator. */
        for (int i = 0; i < N; i++)
            own[i] = x[(size_t)((r + 5) % K) * N + i];
        ck_assert_int_eq(gar_exactsum_pack(a, 0, own, N, limbs, 1), GAR_OK);
        for (size_t i = 0; i < (size_t)GAR_EXACT_LIMBS * N; i++)
            total[i] += limbs[i];
        gar_exactsum_destroy(&a);
    }
    /* The extra terms again, with the opposite sign: the total is the plain sum. */
    for (int r = 0; r < ranks; r++) {
        for (int i = 0; i < N; i++)
            own[i] = -x[(size_t)((r + 5) % K) * N + i];
        ck_assert_int_eq(gar_exactsum_pack(NULL, 0, own, N, limbs, 1), GAR_OK);
        for (size_t i = 0; i < (size_t)GAR_EXACT_LIMBS * N; i++)
            total[i] += limbs[i];
    }
    gar_exactsum_unpack(total, N, out, 1);
    free(limbs);
    free(total);
    free(own);
}

START_TEST(test_any_order_same_bits)
{
    float *x = make_terms(7), *ref = malloc(sizeof(float) * N), *got = malloc(sizeof(float) * N);
    float *naive_fwd = calloc(N, sizeof(float)), *naive_rev = calloc(N, sizeof(float));
    int order[K];
    gar_rng rng;
    size_t naive_differ = 0;
    ck_assert(ref != NULL && got != NULL && naive_fwd != NULL && naive_rev != NULL);
    for (int k = 0; k < K; k++)
        order[k] = k;
    sum_in_order(x, order, ref);
    /* Reversed, then ten shuffles. */
    for (int k = 0; k < K; k++)
        order[k] = K - 1 - k;
    sum_in_order(x, order, got);
    ck_assert_msg(memcmp(ref, got, sizeof(float) * N) == 0, "reversed order: different bits");
    gar_rng_init(&rng, 11, 0);
    for (int t = 0; t < 10; t++) {
        for (int k = K - 1; k > 0; k--) {
            int j = (int)(gar_rng_next(&rng) % (uint64_t)(k + 1)), tmp = order[k];
            order[k] = order[j];
            order[j] = tmp;
        }
        sum_in_order(x, order, got);
        ck_assert_msg(memcmp(ref, got, sizeof(float) * N) == 0, "shuffle %d: different bits", t);
    }
    /* Grouped as 1 to 5 ranks would group them. */
    for (int ranks = 1; ranks <= 5; ranks++) {
        sum_as_ranks(x, ranks, got);
        ck_assert_msg(memcmp(ref, got, sizeof(float) * N) == 0, "%d ranks: different bits", ranks);
    }
    /* The float sums these replace do depend on the order (the reason for all this). */
    for (int k = 0; k < K; k++)
        for (int i = 0; i < N; i++) {
            naive_fwd[i] += x[(size_t)k * N + i];
            naive_rev[i] += x[(size_t)(K - 1 - k) * N + i];
        }
    for (int i = 0; i < N; i++)
        naive_differ += memcmp(&naive_fwd[i], &naive_rev[i], sizeof(float)) != 0;
    ck_assert_msg(naive_differ > 0, "float sums in two orders agree everywhere: the test data is too easy");
    free(x);
    free(ref);
    free(got);
    free(naive_fwd);
    free(naive_rev);
}
END_TEST

/* The double-precision sum, with Neumaier's compensation so that it holds the
 * exact sum to far better than float precision, rounded to float. */
static float reference_sum(const float *x, int i)
{
    double s = 0, c = 0;
    for (int k = 0; k < K; k++) {
        double v = x[(size_t)k * N + i], t = s + v;
        c += fabs(s) >= fabs(v) ? (s - t) + v : (v - t) + s;
        s = t;
    }
    return (float)(s + c);
}

START_TEST(test_equals_rounded_double_sum)
{
    float *x = make_terms(23), *got = malloc(sizeof(float) * N);
    int order[K];
    ck_assert_ptr_nonnull(got);
    for (int k = 0; k < K; k++)
        order[k] = k;
    sum_in_order(x, order, got);
    for (int i = 0; i < N; i++) {
        float want = reference_sum(x, i);
        ck_assert_msg(memcmp(&want, &got[i], sizeof want) == 0, "value %d: %.9g, double sum %.9g", i,
                      (double)got[i], (double)want);
    }
    free(x);
    free(got);
}
END_TEST

/* One value: the sum of `n` terms t, read back. */
static float sum_of(const float *t, size_t n)
{
    gar_exactsum *a = NULL;
    int64_t limbs[GAR_EXACT_LIMBS];
    float f;
    ck_assert_int_eq(gar_exactsum_create(1, 1, &a), GAR_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(gar_exactsum_add(a, 0, &t[i], 1), GAR_OK);
    ck_assert_int_eq(gar_exactsum_pack(a, 0, NULL, 1, limbs, 1), GAR_OK);
    gar_exactsum_unpack(limbs, 1, &f, 1);
    gar_exactsum_destroy(&a);
    return f;
}

START_TEST(test_range_edges)
{
    const float big = ldexpf(1.0f, 62), tiny = ldexpf(1.0f, -64);
    float t[4];
    /* Exact cancellation gives +0; the extremes of the range are exact. */
    t[0] = 3.25f, t[1] = -3.25f;
    ck_assert(sum_of(t, 2) == 0.0f && !signbit(sum_of(t, 2)));
    t[0] = big, t[1] = -1.0f, t[2] = 1.0f;
    ck_assert(sum_of(t, 3) == big);
    t[0] = -big, t[1] = -big;
    ck_assert(sum_of(t, 2) == -2.0f * big);   /* −2^63: the most negative sum */
    t[0] = tiny;
    ck_assert(sum_of(t, 1) == tiny);
    /* Below 2^-64 terms are rounded to multiples of it (ties to even). */
    t[0] = ldexpf(3.0f, -66);            /* 0.75 · 2^-64 */
    ck_assert(sum_of(t, 1) == tiny);
    t[0] = ldexpf(1.0f, -65);            /* a tie: to 0 */
    ck_assert(sum_of(t, 1) == 0.0f);
    t[0] = 1e-30f;
    ck_assert(sum_of(t, 1) == 0.0f);
    t[0] = 1.0f, t[1] = ldexpf(1.0f, -41);   /* exact from 2^-41: 1 + 2^-41 rounds to 1 in float */
    ck_assert(sum_of(t, 2) == 1.0f);
    t[0] = ldexpf(1.0f, 24), t[1] = 1.0f, t[2] = ldexpf(1.0f, -40);   /* just above a tie: rounds up */
    ck_assert(sum_of(t, 3) == ldexpf(1.0f, 24) + 2.0f);
    t[0] = ldexpf(1.0f, 24), t[1] = 1.0f;    /* a tie: to even */
    ck_assert(sum_of(t, 2) == ldexpf(1.0f, 24));
}
END_TEST

/* The limb sums of 2^20 packs (the most the headroom allows) still convert. */
START_TEST(test_headroom)
{
    const float x[3] = {nextafterf(ldexpf(1.0f, 62), 0.0f), -ldexpf(1.0f, 62), 1.5f};
    int64_t limbs[3 * GAR_EXACT_LIMBS];
    float f[3];
    ck_assert_int_eq(gar_exactsum_pack(NULL, 0, x, 3, limbs, 1), GAR_OK);
    for (int i = 0; i < 3 * GAR_EXACT_LIMBS; i++)
        limbs[i] *= (int64_t)GAR_EXACT_MAX_TERMS;   /* as if every one of 2^20 ranks sent it */
    gar_exactsum_unpack(limbs, 3, f, 1);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(f[i] == x[i] * 1048576.0f, "value %d: %g", i, (double)f[i]);
}
END_TEST

START_TEST(test_out_of_range)
{
    gar_exactsum *a = NULL;
    int64_t limbs[2 * GAR_EXACT_LIMBS];
    const float bad[] = {NAN, INFINITY, -INFINITY, ldexpf(1.0f, 63), -nextafterf(ldexpf(1.0f, 62), INFINITY)};
    float two[2] = {1.0f, 0.0f};
    ck_assert_int_eq(gar_exactsum_create(2, 1, &a), GAR_OK);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        two[1] = bad[i];
        ck_assert_int_eq(gar_exactsum_add(a, 0, two, 2), GAR_ERR_DATA);
        ck_assert_msg(strstr(gar_errmsg(), "at 1 ") != NULL, "%s", gar_errmsg());
        ck_assert_int_eq(gar_exactsum_pack(NULL, 0, two, 2, limbs, 1), GAR_ERR_DATA);
        gar_exactsum_clear(a);
    }
    /* In range, but the running sum passes 2^63. */
    two[0] = ldexpf(1.0f, 62), two[1] = ldexpf(1.0f, 62);
    ck_assert_int_eq(gar_exactsum_add(a, 0, two, 2), GAR_OK);
    ck_assert_int_eq(gar_exactsum_add(a, 1, two, 1), GAR_ERR_DATA);
    ck_assert_msg(strstr(gar_errmsg(), "passes 2^63") != NULL, "%s", gar_errmsg());
    ck_assert_int_eq(gar_exactsum_pack(a, 0, two, 1, limbs, 1), GAR_ERR_DATA);
    /* Past the end. */
    ck_assert_int_eq(gar_exactsum_add(a, 1, two, 2), GAR_ERR_INTERNAL);
    gar_exactsum_destroy(&a);
    gar_exactsum_destroy(&a);   /* NULL-safe */
}
END_TEST

int main(void)
{
    TCase *tc = TEST_CASE("core", 0,
                          test_any_order_same_bits,
                          test_equals_rounded_double_sum,
                          test_range_edges,
                          test_headroom,
                          test_out_of_range);
    return test_run_suite(test_suite("exactsum", tc, NULL));
}
