/* Order statistics: sorting-based, exact and deterministic (the same samples
 * give the same figures whatever their order). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gar_stats.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double gar_quantile(double *v, size_t n, double q)
{
    double h, lo;
    size_t i;
    if (n == 0)
        return 0.0;
    qsort(v, n, sizeof *v, cmp_double);
    if (n == 1)
        return v[0];
    h = (q < 0 ? 0 : q > 1 ? 1 : q) * (double)(n - 1);
    lo = floor(h);
    i = (size_t)lo;
    if (i + 1 >= n)
        return v[n - 1];
    return v[i] + (h - lo) * (v[i + 1] - v[i]);
}

void gar_robust_stats(const double *x, size_t n, double *scratch, double *median, double *sigma)
{
    memcpy(scratch, x, n * sizeof *scratch);
    *median = gar_quantile(scratch, n, 0.5);
    for (size_t i = 0; i < n; i++)
        scratch[i] = fabs(x[i] - *median);
    *sigma = 1.4826 * gar_quantile(scratch, n, 0.5);
}
