/* The junk rule (gar_junk.h). Why a combined length and not "u > z or
 * m > z": for a real particle u and m are each about a half-normal and
 * nearly independent, so u² + m² > z² flags P(χ²₂ > z²)/4 + P(N(0,1) > z)
 * of them (0.41 % at z = 3, against 0.27 % for either-or), while another
 * protein, which fits the reference in part, shows both signs at once and,
 * at low SNR, neither far enough alone (measured in docs/ARCHITECTURE.md). */
#include <math.h>
#include <stdlib.h>

#include "gar_junk.h"
#include "gar_stats.h"

static double log_scale(double a) { return log(fmax(a, 1e-6)); }

gar_status gar_junk_rule_fit(const double *scale, const double *misfit, size_t n, double z, gar_junk_rule *rule)
{
    double *x = NULL, *scratch = NULL;
    gar_status st = GAR_OK;
    *rule = (gar_junk_rule){z, 0, 0, 0, 0};
    if (n == 0)
        return GAR_OK;
    if ((st = gar_alloc((void **)&x, n, sizeof *x, "junk rule")) != GAR_OK ||
        (st = gar_alloc((void **)&scratch, n, sizeof *scratch, "junk rule")) != GAR_OK)
        goto done;
    for (size_t i = 0; i < n; i++)
        x[i] = log_scale(scale[i]);
    gar_robust_stats(x, n, scratch, &rule->log_scale_median, &rule->log_scale_sigma);
    gar_robust_stats(misfit, n, scratch, &rule->misfit_median, &rule->misfit_sigma);
done:
    free(x);
    free(scratch);
    return st;
}

/* A one-sided deviation in units of the set's robust σ: 0 when it points
 * away from junk, or when the set has no spread (no scale for it). */
static double deviation(double d, double sigma) { return d > 0 && sigma > 0 ? d / sigma : 0.0; }

int gar_junk_is(const gar_junk_rule *rule, double scale, double misfit)
{
    const double u = deviation(rule->log_scale_median - log_scale(scale), rule->log_scale_sigma);
    const double m = deviation(misfit - rule->misfit_median, rule->misfit_sigma);
    return rule->z > 0 && u * u + m * m > rule->z * rule->z;
}

double gar_junk_scale_threshold(const gar_junk_rule *rule)
{
    if (!(rule->z > 0) || !(rule->log_scale_sigma > 0))
        return 0.0;
    return exp(rule->log_scale_median - rule->z * rule->log_scale_sigma);
}

double gar_junk_misfit_threshold(const gar_junk_rule *rule)
{
    if (!(rule->z > 0) || !(rule->misfit_sigma > 0))
        return INFINITY;
    return rule->misfit_median + rule->z * rule->misfit_sigma;
}
