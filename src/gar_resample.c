/* garner: band-limited image resampling (see gar_resample.h). */
#include "gar_resample.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct gar_resampler {
    size_t N;
    float *m;    /* N x N: row i holds the weights of output position i */
    float *tmp;  /* N x N work */
};

double gar_resample_weight(size_t N, double x, size_t j)
{
    const double d = x - (double)j;
    double s = 1.0 + cos(M_PI * d);
    /* The direct sum rather than the closed form (a ratio of sines that is
     * 0/0 at integer d): the matrix is built once per optics group. */
    for (size_t k = 1; k < N / 2; k++)
        s += 2.0 * cos(2.0 * M_PI * (double)k * d / (double)N);
    return s / (double)N;
}

gar_status gar_resampler_create(size_t N, double in_A, double out_A, gar_resampler **out)
{
    gar_resampler *r = NULL;
    gar_status st;
    const double c = (double)(N / 2);

    *out = NULL;
    if (N < 2 || N % 2 != 0 || N > 65536)
        return gar_error(GAR_ERR_INTERNAL, "gar_resampler_create: box %zu: expected an even size", N);
    if (!(in_A > 0) || !(out_A > 0) || !isfinite(in_A) || !isfinite(out_A))
        return gar_error(GAR_ERR_INTERNAL, "gar_resampler_create: pixel sizes %g -> %g Å", in_A, out_A);
    if ((st = gar_calloc((void **)&r, 1, sizeof *r, "resampler")) != GAR_OK)
        return st;
    r->N = N;
    if ((st = gar_alloc((void **)&r->m, N * N, sizeof(float), "resampling matrix")) != GAR_OK ||
        (st = gar_alloc((void **)&r->tmp, N * N, sizeof(float), "resampling buffer")) != GAR_OK) {
        gar_resampler_destroy(&r);
        return st;
    }
    for (size_t i = 0; i < N; i++) {
        const double x = c + ((double)i - c) * out_A / in_A;
        for (size_t j = 0; j < N; j++)
            r->m[i * N + j] = (float)gar_resample_weight(N, x, j);
    }
    *out = r;
    return GAR_OK;
}

void gar_resampler_apply(gar_resampler *r, const float *in, float *out)
{
    const int n = (int)r->N;
    /* tmp = in · Mᵀ resamples each row (x), out = M · tmp each column (y). */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, in, n, r->m, n, 0.0f, r->tmp, n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, r->m, n, r->tmp, n, 0.0f, out, n);
}

void gar_resampler_destroy(gar_resampler **r)
{
    if (r == NULL || *r == NULL)
        return;
    free((*r)->m);
    free((*r)->tmp);
    free(*r);
    *r = NULL;
}
