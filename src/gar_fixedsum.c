/* garner: the fixed-point sums of an MPI worker (see gar_fixedsum.h). */
#include "gar_fixedsum.h"

#include <math.h>
#include "gar_kernels.h"

/* 2^62: the checked adds' bound (gar_fixed_add_floats). */
#define FIXED_SUM_MAX 4611686018427387904.0
/* Below this many values a loop runs on one thread: starting a team costs more. */
#define PARALLEL_MIN 65536

double gar_fixed_image_bound(const float *image, size_t N)
{
    const double bg = gar_background_mean(image, N);
    double sum = 0.0;
    for (size_t i = 0; i < N * N; i++)
        sum += fabs((double)(float)(image[i] - bg));
    /* The FFT's own rounding may pass the exact bound by a few parts in 10^6. */
    return sum * 1.001;
}

/* The least e with need <= 2^60 · 2^e. */
static int exponent_for(double need) { return (int)ceil(log2(need) - 60.0); }

gar_status gar_fixed_scale_make(double sample_bound, double scale_cap, size_t contributions, double blob_sum,
                                gar_fixed_scale *out)
{
    const double n = (double)(contributions ? contributions : 1);
    const double a = scale_cap > 1e-6 ? scale_cap : 1e-6;
    if (!(sample_bound > 0) || !isfinite(sample_bound))
        return gar_error(GAR_ERR_DATA, "exact sums: the sampled particles' images are blank (or not finite), so "
                         "their scale cannot be measured (set [mpi] reproducible = no for float sums)");
    out->sample_bound = sample_bound;
    out->scale_limit = a;
    out->plane_limit = GAR_FIXED_HEADROOM * a * sample_bound;
    out->data_exp = exponent_for(n * blob_sum * out->plane_limit);
    out->weight_exp = exponent_for(n * blob_sum * a * a);
    /* The kernels scale by 2^-e in float. */
    if (out->data_exp < -125 || out->data_exp > 125 || out->weight_exp < -125 || out->weight_exp > 125)
        return gar_error(GAR_ERR_DATA, "exact sums: the particles' scale (image bound %g) is beyond float's "
                         "range (set [mpi] reproducible = no for float sums)", sample_bound);
    return GAR_OK;
}

gar_status gar_fixed_check_particle(const gar_fixed_scale *fs, double image_bound, double scale)
{
    if (scale > fs->scale_limit)
        return gar_error(GAR_ERR_DATA, "contrast scale %g is beyond the %g the exact sums were sized for (set "
                         "[mpi] reproducible = no for float sums)", scale, fs->scale_limit);
    if (!(scale * image_bound <= fs->plane_limit))
        return gar_error(GAR_ERR_DATA, "its image is %.3g times as strong as the brightest of the particles "
                         "sampled to size the exact sums, beyond their headroom of %g (are stacks of different "
                         "scales mixed? set [mpi] reproducible = no for float sums)",
                         image_bound / fs->sample_bound, GAR_FIXED_HEADROOM);
    return GAR_OK;
}

gar_status gar_fixed_add_floats(int64_t *acc, const float *x, size_t n, int e, int threads)
{
    size_t bad = n;
    /* A power of two within double's range: the products are exact. */
    const double scale = ldexp(1.0, -e);
#pragma omp parallel for num_threads(threads) if (n >= PARALLEL_MIN) schedule(static) reduction(min : bad)
    for (size_t i = 0; i < n; i++) {
        const double q = (double)x[i] * scale, s = q + (double)acc[i];
        if (!(fabs(q) < FIXED_SUM_MAX) || !(fabs(s) < FIXED_SUM_MAX)) {
            bad = i < bad ? i : bad;
            continue;
        }
        acc[i] += (int64_t)llrint(q);
    }
    if (bad < n)
        return gar_error(GAR_ERR_DATA, "exact sums: value %g at %zu is beyond the fixed-point range (2^62 "
                         "quanta of 2^%d; set [mpi] reproducible = no for float sums)", (double)x[bad], bad, e);
    return GAR_OK;
}

void gar_fixed_to_floats(const int64_t *v, size_t n, int e, float *x, int threads)
{
    const double scale = ldexp(1.0, e);
#pragma omp parallel for num_threads(threads) if (n >= PARALLEL_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((double)v[i] * scale);
}
