/* garner: order statistics of samples (medians, quantiles, robust spread),
 * shared by the junk rule and the local-resolution summary. */
#ifndef GAR_STATS_H
#define GAR_STATS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The q-quantile (0 <= q <= 1) of v[0 .. n), linearly interpolated between
 * order statistics (q = 0.5: the median, the mean of the middle two for even
 * n; R's type 7). Sorts v. 0 for n = 0. */
double gar_quantile(double *v, size_t n, double q);

/* The median of x[0 .. n) and its robust σ, 1.4826 × the median absolute
 * deviation (σ for normal samples, unmoved by a minority of outliers);
 * scratch holds n values. Both 0 for n = 0. */
void gar_robust_stats(const double *x, size_t n, double *scratch, double *median, double *sigma);

#ifdef __cplusplus
}
#endif
#endif
