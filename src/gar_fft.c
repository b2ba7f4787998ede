#include "gar_fft.h"

#include <fftw3.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* FFTW's planner keeps global state: serialise all planning here. */
static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;

struct gar_fft2 {
    size_t n;
    float *real;
    fftwf_complex *cplx;
    fftwf_plan forward;
    fftwf_plan inverse;
};

gar_status gar_fft2_create(size_t n, gar_fft2 **out)
{
    gar_status st = GAR_OK;
    gar_fft2 *f = NULL;
    size_t nreal, ncplx;
    *out = NULL;
    if (n < 2 || n % 2 != 0 || n > 1u << 16)
        return gar_error(GAR_ERR_INTERNAL, "FFT size %zu: expected an even size in [2, 65536]", n);
    nreal = n * n;
    ncplx = (n / 2 + 1) * n;
    st = gar_calloc((void **)&f, 1, sizeof *f, "FFT plan");
    if (st != GAR_OK)
        return st;
    f->n = n;
    f->real = fftwf_alloc_real(nreal);
    f->cplx = fftwf_alloc_complex(ncplx);
    if (f->real == NULL || f->cplx == NULL) {
        st = gar_error(GAR_ERR_NOMEM, "FFT buffers for %zu x %zu images", n, n);
        goto fail;
    }
    pthread_mutex_lock(&planner_lock);
    f->forward = fftwf_plan_dft_r2c_2d((int)n, (int)n, f->real, f->cplx, FFTW_ESTIMATE);
    f->inverse = fftwf_plan_dft_c2r_2d((int)n, (int)n, f->cplx, f->real, FFTW_ESTIMATE);
    pthread_mutex_unlock(&planner_lock);
    if (f->forward == NULL || f->inverse == NULL) {
        st = gar_error(GAR_ERR_INTERNAL, "FFTW could not plan a %zu x %zu transform", n, n);
        goto fail;
    }
    *out = f;
    return GAR_OK;
fail:
    gar_fft2_destroy(&f);
    return st;
}

void gar_fft2_destroy(gar_fft2 **pf)
{
    gar_fft2 *f;
    if (pf == NULL || *pf == NULL)
        return;
    f = *pf;
    pthread_mutex_lock(&planner_lock);
    if (f->forward)
        fftwf_destroy_plan(f->forward);
    if (f->inverse)
        fftwf_destroy_plan(f->inverse);
    pthread_mutex_unlock(&planner_lock);
    fftwf_free(f->real);
    fftwf_free(f->cplx);
    free(f);
    *pf = NULL;
}

size_t gar_fft2_size(const gar_fft2 *f) { return f->n; }
float *gar_fft2_real(gar_fft2 *f) { return f->real; }
float *gar_fft2_complex(gar_fft2 *f) { return (float *)f->cplx; }
void gar_fft2_forward(gar_fft2 *f) { fftwf_execute(f->forward); }
void gar_fft2_inverse(gar_fft2 *f) { fftwf_execute(f->inverse); }

static gar_status fft3(size_t n, float *real, float *cplx, int forward)
{
    fftwf_plan plan;
    if (n < 2 || n > 4096)
        return gar_error(GAR_ERR_INTERNAL, "3D FFT size %zu out of range", n);
    pthread_mutex_lock(&planner_lock);
    if (forward)
        plan = fftwf_plan_dft_r2c_3d((int)n, (int)n, (int)n, real, (fftwf_complex *)cplx, FFTW_ESTIMATE);
    else
        plan = fftwf_plan_dft_c2r_3d((int)n, (int)n, (int)n, (fftwf_complex *)cplx, real, FFTW_ESTIMATE);
    pthread_mutex_unlock(&planner_lock);
    if (plan == NULL)
        return gar_error(GAR_ERR_INTERNAL, "FFTW could not plan a %zu^3 transform", n);
    fftwf_execute(plan);
    pthread_mutex_lock(&planner_lock);
    fftwf_destroy_plan(plan);
    pthread_mutex_unlock(&planner_lock);
    return GAR_OK;
}

gar_status gar_fft3_r2c(size_t n, float *real_in, float *cplx_out) { return fft3(n, real_in, cplx_out, 1); }
gar_status gar_fft3_c2r(size_t n, float *cplx_in, float *real_out) { return fft3(n, real_out, cplx_in, 0); }

/* Lines gathered per transform call in the strided passes: 8 complex
 * values of consecutive x are one 64-byte line of memory. */
#define CROP_BLOCK 8

static int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* One block of a strided pass: the nb (<= CROP_BLOCK) lines of m complex
 * values starting at `first`, `first` + 1, ... with `stride` between a line's
 * elements, transformed by `plan` in `buf` (CROP_BLOCK × m); elements
 * [o, o + n) of each are written back in place. */
static void crop_lines(fftwf_plan plan, fftwf_complex *first, size_t stride, size_t m, size_t nb, size_t o,
                       size_t n, fftwf_complex *buf)
{
    if (nb < CROP_BLOCK)   /* the unused lines are transformed too: keep them finite */
        memset(buf + nb * m, 0, (CROP_BLOCK - nb) * m * sizeof *buf);
    for (size_t e = 0; e < m; e++)
        for (size_t b = 0; b < nb; b++)
            memcpy(buf[b * m + e], first[e * stride + b], sizeof *buf);
    fftwf_execute_dft(plan, buf, buf);
    for (size_t e = o; e < o + n; e++)
        for (size_t b = 0; b < nb; b++)
            memcpy(first[e * stride + b], buf[b * m + e], sizeof *buf);
}

/* The cropped inverse of gar_fft3_c2r_crop and gar_fft3_c2r_crop_fill:
 * pass 1 along z from `cplx` in place (fill NULL) or from the lines `fill`
 * makes, its n kept z planes into `kept` (plane zi at kept + zi·m·H: inside
 * cplx, from plane o, in place); passes 2 and 3 there. */
static gar_status crop_inverse(size_t m, size_t n, double kmax, fftwf_complex *F, gar_fft_line_fill fill,
                               void *ctx, fftwf_complex *kept, float *out, int threads)
{
    gar_status st = GAR_OK;
    const size_t H = m / 2 + 1, o = m / 2 - n / 2, B = CROP_BLOCK, nblk = (H + B - 1) / B;
    const double kmax2 = kmax * kmax;
    fftwf_plan lines = NULL, rows = NULL;
    fftwf_complex *cbuf = NULL;
    float *rbuf = NULL;
    if (m < 2 || m % 2 || n % 2 || n > m || m > 4096 || threads < 1)
        return gar_error(GAR_ERR_INTERNAL, "cropped 3D FFT %zu -> %zu out of range", m, n);
    /* Per thread: B lines of m complex (passes 1, 2), then n rows of H
     * complex to n rows of m reals (pass 3); each thread's buffers keep
     * the alignment of the first, which FFTW's new-array execute needs. */
    const size_t cper = ((B * m > n * H ? B * m : n * H) + 15) / 16 * 16, rper = (n * (m + 2) + 31) / 32 * 32;
    cbuf = fftwf_alloc_complex(cper * (size_t)threads);
    rbuf = fftwf_alloc_real(rper * (size_t)threads);
    if (cbuf == NULL || rbuf == NULL) {
        st = gar_error(GAR_ERR_NOMEM, "buffers of a %zu^3 inverse FFT", m);
        goto done;
    }
    {
        const int len = (int)m;
        pthread_mutex_lock(&planner_lock);
        lines = fftwf_plan_many_dft(1, &len, (int)B, cbuf, NULL, 1, len, cbuf, NULL, 1, len, FFTW_BACKWARD,
                                    FFTW_ESTIMATE);
        rows = fftwf_plan_many_dft_c2r(1, &len, (int)n, cbuf, NULL, 1, (int)H, rbuf, NULL, 1, len + 2,
                                       FFTW_ESTIMATE);
        pthread_mutex_unlock(&planner_lock);
    }
    if (lines == NULL || rows == NULL) {
        st = gar_error(GAR_ERR_INTERNAL, "FFTW could not plan a cropped %zu^3 inverse transform", m);
        goto done;
    }
    /* Pass 1, along z: every (y, x-block) with a nonzero line; only the n
     * central z are kept. */
#pragma omp parallel for num_threads(threads) schedule(dynamic, 4)
    for (size_t job = 0; job < m * nblk; job++) {
        const size_t y = job / nblk, x0 = (job % nblk) * B, nb = H - x0 < B ? H - x0 : B;
        const double ky = (double)(y < m / 2 ? (long)y : (long)y - (long)m);
        const int nonzero = (double)x0 * x0 + ky * ky <= kmax2;
        fftwf_complex *buf = cbuf + cper * (size_t)thread_id();
        if (fill == NULL) {
            if (nonzero)
                crop_lines(lines, F + y * H + x0, m * H, m, nb, o, n, buf);
            continue;
        }
        if (nonzero) {
            if (nb < B)
                memset(buf + nb * m, 0, (B - nb) * m * sizeof *buf);
            fill(ctx, y, x0, nb, (float *)buf);
            fftwf_execute_dft(lines, buf, buf);
        }
        for (size_t e = o; e < o + n; e++)
            for (size_t b = 0; b < nb; b++) {
                fftwf_complex *to = kept + (e - o) * m * H + y * H + x0 + b;
                if (nonzero)
                    memcpy(to, buf[b * m + e], sizeof *buf);
                else
                    (*to)[0] = (*to)[1] = 0.0f;
            }
    }
    /* Pass 2, along y, in the n kept z planes; the n central y are kept. */
#pragma omp parallel for num_threads(threads) schedule(dynamic, 4)
    for (size_t job = 0; job < n * nblk; job++) {
        const size_t zi = job / nblk, x0 = (job % nblk) * B;
        crop_lines(lines, kept + zi * m * H + x0, H, m, H - x0 < B ? H - x0 : B, o, n,
                   cbuf + cper * (size_t)thread_id());
    }
    /* Pass 3, along x (complex to real), the n kept rows of each kept z
     * plane; the n central x are kept. */
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (size_t zi = 0; zi < n; zi++) {
        const int t = thread_id();
        fftwf_complex *buf = cbuf + cper * (size_t)t;
        float *rb = rbuf + rper * (size_t)t;
        memcpy(buf, kept[(zi * m + o) * H], n * H * sizeof *buf);
        fftwf_execute_dft_c2r(rows, buf, rb);
        for (size_t yi = 0; yi < n; yi++)
            memcpy(out + (zi * n + yi) * n, rb + yi * (m + 2) + o, n * sizeof(float));
    }
done:
    pthread_mutex_lock(&planner_lock);
    if (lines)
        fftwf_destroy_plan(lines);
    if (rows)
        fftwf_destroy_plan(rows);
    pthread_mutex_unlock(&planner_lock);
    fftwf_free(cbuf);
    fftwf_free(rbuf);
    return st;
}

gar_status gar_fft3_c2r_crop(size_t m, size_t n, double kmax, float *cplx, float *out, int threads)
{
    fftwf_complex *F = (fftwf_complex *)cplx;
    return crop_inverse(m, n, kmax, F, NULL, NULL, F + (m / 2 - n / 2) * m * (m / 2 + 1), out, threads);
}

gar_status gar_fft3_c2r_crop_fill(size_t m, size_t n, double kmax, gar_fft_line_fill fill, void *ctx, float *kept,
                                  float *out, int threads)
{
    return crop_inverse(m, n, kmax, NULL, fill, ctx, (fftwf_complex *)kept, out, threads);
}

size_t gar_fft_good_size(size_t n)
{
    for (size_t m = n < 2 ? 2 : n;; m++) {
        size_t r = m;
        if (r % 2 != 0)
            continue;
        while (r % 2 == 0)
            r /= 2;
        while (r % 3 == 0)
            r /= 3;
        while (r % 5 == 0)
            r /= 5;
        while (r % 7 == 0)
            r /= 7;
        if (r == 1)
            return m;
    }
}

const char *gar_fft_version(void) { return fftwf_version; }
