#include "gar_fft.h"

#include <fftw3.h>
#include <pthread.h>
#include <stdlib.h>

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
