#include "gar_fsc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gar_fft.h"

gar_status gar_fsc_compute(const gar_map *a, const gar_map *b, double *fsc)
{
    gar_status st = GAR_OK;
    size_t n = a->nx, h = n / 2 + 1, nvox = n * n * n, ncplx = n * n * h, nshell = n / 2 + 1;
    float *ra = NULL, *rb = NULL, *fa = NULL, *fb = NULL;
    double *num = NULL, *da = NULL, *db = NULL;
    if (a->ny != n || a->nz != n || b->nx != n || b->ny != n || b->nz != n)
        return gar_error(GAR_ERR_DATA, "FSC needs two cubic maps of one size, got %zu x %zu x %zu and "
                         "%zu x %zu x %zu", a->nx, a->ny, a->nz, b->nx, b->ny, b->nz);
    if ((st = gar_alloc((void **)&ra, nvox, sizeof(float), "FSC buffer")) != GAR_OK ||
        (st = gar_alloc((void **)&rb, nvox, sizeof(float), "FSC buffer")) != GAR_OK ||
        (st = gar_alloc((void **)&fa, ncplx, 2 * sizeof(float), "FSC buffer")) != GAR_OK ||
        (st = gar_alloc((void **)&fb, ncplx, 2 * sizeof(float), "FSC buffer")) != GAR_OK ||
        (st = gar_calloc((void **)&num, nshell, sizeof(double), "FSC sums")) != GAR_OK ||
        (st = gar_calloc((void **)&da, nshell, sizeof(double), "FSC sums")) != GAR_OK ||
        (st = gar_calloc((void **)&db, nshell, sizeof(double), "FSC sums")) != GAR_OK)
        goto done;
    memcpy(ra, a->data, nvox * sizeof(float));
    memcpy(rb, b->data, nvox * sizeof(float));
    if ((st = gar_fft3_r2c(n, ra, fa)) != GAR_OK || (st = gar_fft3_r2c(n, rb, fb)) != GAR_OK)
        goto done;
    for (size_t z = 0; z < n; z++) {
        long kz = gar_fft_freq(z, n);
        for (size_t y = 0; y < n; y++) {
            long ky = gar_fft_freq(y, n);
            for (size_t x = 0; x < h; x++) {
                double r = sqrt((double)(x * x) + (double)(ky * ky) + (double)(kz * kz));
                size_t s = (size_t)(r + 0.5);
                if (s >= nshell)
                    continue;
                /* Each kx > 0 term stands for itself and its Friedel mate. */
                double w = x == 0 ? 1.0 : 2.0;
                const float *p = fa + 2 * ((z * n + y) * h + x), *q = fb + 2 * ((z * n + y) * h + x);
                num[s] += w * ((double)p[0] * q[0] + (double)p[1] * q[1]);
                da[s] += w * ((double)p[0] * p[0] + (double)p[1] * p[1]);
                db[s] += w * ((double)q[0] * q[0] + (double)q[1] * q[1]);
            }
        }
    }
    for (size_t s = 0; s < nshell; s++)
        fsc[s] = da[s] > 0 && db[s] > 0 ? num[s] / sqrt(da[s] * db[s]) : 0.0;
done:
    free(ra);
    free(rb);
    free(fa);
    free(fb);
    free(num);
    free(da);
    free(db);
    return st;
}

double gar_fsc_find_resolution(const double *fsc, size_t n_shells, size_t box, double pixel_size_A,
                               double threshold, gar_fsc_crossing *crossing)
{
    gar_fsc_crossing c = GAR_FSC_NEVER_BELOW;
    double res = 2.0 * pixel_size_A;
    /* !(>=): a NaN shell counts as below, never as a perfect match. */
    if (n_shells > 1 && !(fsc[1] >= threshold)) {
        c = GAR_FSC_BELOW_AT_FIRST;
        res = (double)box * pixel_size_A;
    } else {
        for (size_t s = 2; s < n_shells; s++) {
            if (!(fsc[s] >= threshold)) {
                /* Interpolate the crossing between shells s-1 and s; fsc[s-1]
                 * >= threshold > fsc[s], so t is in [0, 1). */
                double f0 = fsc[s - 1], f1 = fsc[s];
                double t = isfinite(f1) ? (f0 - threshold) / (f0 - f1) : 0.0;
                c = GAR_FSC_CROSSES;
                res = (double)box * pixel_size_A / ((double)(s - 1) + t);
                break;
            }
        }
    }
    if (crossing != NULL)
        *crossing = c;
    return res;
}

double gar_fsc_resolution(const double *fsc, size_t n_shells, size_t box, double pixel_size_A,
                          double threshold)
{
    return gar_fsc_find_resolution(fsc, n_shells, box, pixel_size_A, threshold, NULL);
}

double gar_fsc_mean(const double *fsc, size_t first, size_t last)
{
    double sum = 0.0;
    if (last < first)
        return 0.0;
    for (size_t s = first; s <= last; s++)
        sum += fsc[s];
    return sum / (double)(last - first + 1);
}
