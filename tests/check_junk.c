/* The order statistics (gar_stats) and the junk rule (gar_junk) against
 * analytic values: docs/ARCHITECTURE.md, "Junk". */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "gar_junk.h"
#include "gar_rng.h"
#include "gar_stats.h"
#include "testutil.h"

START_TEST(test_quantiles)
{
    double odd[3] = {3, 1, 2}, even[4] = {4, 1, 3, 2}, ends[5] = {5, -1, 2, 8, 0};
    ck_assert_double_eq(gar_quantile(odd, 3, 0.5), 2.0);
    ck_assert_double_eq(gar_quantile(even, 4, 0.5), 2.5);
    ck_assert_double_eq(gar_quantile(ends, 5, 0.0), -1.0);
    ck_assert_double_eq(gar_quantile(ends, 5, 1.0), 8.0);
    ck_assert_double_eq(gar_quantile(ends, 5, 0.25), 0.0);   /* h = 1: the second smallest */
    ck_assert_double_eq(gar_quantile(ends, 0, 0.5), 0.0);
}
END_TEST

/* Median and 1.4826 × MAD of 20001 normal samples of mean 5 and σ 2: both
 * within 0.06 (their standard errors are about 0.018 and 0.022), and moved
 * by less than 0.4 when a tenth of the samples are replaced by outliers at
 * +100 (the mean and standard deviation would move by 9.5 and 28). */
START_TEST(test_robust_stats)
{
    const size_t n = 20001;
    double *x = malloc(n * sizeof *x), *s = malloc(n * sizeof *s), med, sig;
    gar_rng rng;
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(s);
    gar_rng_init(&rng, 16, 0);
    for (size_t i = 0; i < n; i++)
        x[i] = 5.0 + 2.0 * gar_rng_normal(&rng);
    gar_robust_stats(x, n, s, &med, &sig);
    ck_assert_msg(fabs(med - 5.0) < 0.06 && fabs(sig - 2.0) < 0.06, "median %g sigma %g", med, sig);
    for (size_t i = 0; i < n; i += 10)
        x[i] = 100.0;
    gar_robust_stats(x, n, s, &med, &sig);
    ck_assert_msg(fabs(med - 5.0) < 0.4 && fabs(sig - 2.0) < 0.4, "with outliers: median %g sigma %g", med, sig);
    free(x);
    free(s);
}
END_TEST

/* A set of real particles, ln a ~ N(ln 0.8, 0.2²) and M ~ N(0.5, 1.5²),
 * independent: u and m are half-normal, so the rule flags
 * P(χ²₂ > 9)/4 + P(N(0,1) > 3) = e^-4.5/4 + 0.00135 = 0.00413 of them at
 * z = 3 (the either-or rule would flag 0.0027). 200000 particles: the
 * fraction's standard error is 0.00014; checked to ±0.0006. */
START_TEST(test_false_positive_rate)
{
    const size_t n = 200000;
    double *a = malloc(n * sizeof *a), *m = malloc(n * sizeof *m);
    gar_junk_rule rule;
    size_t flagged = 0;
    gar_rng rng;
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(m);
    gar_rng_init(&rng, 21, 3);
    for (size_t i = 0; i < n; i++) {
        a[i] = 0.8 * exp(0.2 * gar_rng_normal(&rng));
        m[i] = 0.5 + 1.5 * gar_rng_normal(&rng);
    }
    ck_assert_int_eq(gar_junk_rule_fit(a, m, n, 3.0, &rule), GAR_OK);
    for (size_t i = 0; i < n; i++)
        flagged += (size_t)gar_junk_is(&rule, a[i], m[i]);
    {
        const double expect = exp(-4.5) / 4 + 0.5 * erfc(3.0 / sqrt(2.0)), got = (double)flagged / n;
        ck_assert_msg(fabs(got - expect) < 0.0006, "flagged %.5f of real particles, expected %.5f", got, expect);
    }
    free(a);
    free(m);
}
END_TEST

/* The boundary u² + m² = z² against hand-placed particles, with a rule of
 * known statistics: ln a median 0, σ 0.1; M median 1, σ 2; z = 3. */
START_TEST(test_boundary)
{
    const gar_junk_rule rule = {3.0, 0.0, 0.1, 1.0, 2.0}, off = {0.0, 0.0, 0.1, 1.0, 2.0},
                        flat = {3.0, 0.0, 0.0, 1.0, 0.0};
    /* Either sign alone: beyond 3 σ junk, within not. */
    ck_assert(gar_junk_is(&rule, exp(-0.31), 1.0));
    ck_assert(!gar_junk_is(&rule, exp(-0.29), 1.0));
    ck_assert(gar_junk_is(&rule, 1.0, 1.0 + 6.2));
    ck_assert(!gar_junk_is(&rule, 1.0, 1.0 + 5.8));
    /* Both at 2.2 σ (length 3.11): junk; at 2.0 σ (2.83): not. */
    ck_assert(gar_junk_is(&rule, exp(-0.22), 1.0 + 4.4));
    ck_assert(!gar_junk_is(&rule, exp(-0.20), 1.0 + 4.0));
    /* The other side of either median does not count: a bright particle
     * with a good fit is no more junk than the median one. */
    ck_assert(!gar_junk_is(&rule, exp(+0.9), 1.0 + 5.8));
    ck_assert(!gar_junk_is(&rule, exp(-0.29), 1.0 - 40.0));
    /* No junk at z = 0, nor along a statistic without spread. */
    ck_assert(!gar_junk_is(&off, 1e-6, 1e6));
    ck_assert(!gar_junk_is(&flat, 1e-6, 1e6));
    /* Where the boundary meets the axes. */
    ck_assert_double_eq_tol(gar_junk_scale_threshold(&rule), exp(-0.3), 1e-12);
    ck_assert_double_eq_tol(gar_junk_misfit_threshold(&rule), 7.0, 1e-12);
    ck_assert_double_eq(gar_junk_scale_threshold(&off), 0.0);
    ck_assert(isinf(gar_junk_misfit_threshold(&off)));
}
END_TEST

int main(void)
{
    TCase *tc = TEST_CASE("core", 0, test_quantiles, test_robust_stats, test_false_positive_rate, test_boundary);
    return test_run_suite(test_suite("junk", tc, NULL));
}
