/* garner: reference projector for projection matching (see gar_refproj.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gar_fft.h"
#include "gar_kernels.h"
#include "gar_refproj.h"

struct gar_refproj {
    size_t N, M;
    float *F;   /* (M/2 + 1) × M × M complex, interleaved */
};

static double sinc(double x) { return fabs(x) < 1e-12 ? 1.0 : sin(x) / x; }

gar_status gar_refproj_create(const gar_map *map, double mask_radius_px, const double *shell_weight,
                              size_t n_shells, gar_refproj **out)
{
    gar_status st;
    gar_refproj *p = NULL;
    float *real = NULL;
    double *corr = NULL;
    const size_t N = map->nx, M = 2 * N, H = M / 2 + 1;
    *out = NULL;
    if (map->ny != N || map->nz != N || N < 4 || N % 2 != 0)
        return gar_error(GAR_ERR_DATA, "reference map is %zu x %zu x %zu: expected a cube with an even box",
                         map->nx, map->ny, map->nz);
    if ((st = gar_calloc((void **)&p, 1, sizeof *p, "reference")) != GAR_OK ||
        (st = gar_calloc((void **)&real, M * M * M, sizeof(float), "padded reference")) != GAR_OK ||
        (st = gar_alloc((void **)&p->F, H * M * M, 2 * sizeof(float), "reference transform")) != GAR_OK ||
        (st = gar_alloc((void **)&corr, N, sizeof(double), "gridding correction")) != GAR_OK)
        goto fail;
    p->N = N;
    p->M = M;
    /* Trilinear interpolation in the padded transform multiplies the map by
     * sinc²(π x / M) per axis (x from the centre): divide it out first. */
    for (size_t i = 0; i < N; i++) {
        double s = sinc(GAR_PI * ((double)i - (double)(N / 2)) / (double)M);
        corr[i] = 1.0 / (s * s);
    }
    /* The map's centre N/2 goes to index 0 (wrapped), so the transform has no
     * (−1)^k factor and interpolates smoothly. */
    for (size_t z = 0; z < N; z++)
        for (size_t y = 0; y < N; y++)
            for (size_t x = 0; x < N; x++) {
                double dx = (double)x - N / 2, dy = (double)y - N / 2, dz = (double)z - N / 2;
                double m = mask_radius_px > 0
                               ? gar_soft_mask((float)sqrt(dx * dx + dy * dy + dz * dz), (float)mask_radius_px, 5.0f)
                               : 1.0;
                size_t zp = (z + M - N / 2) % M, yp = (y + M - N / 2) % M, xp = (x + M - N / 2) % M;
                real[(zp * M + yp) * M + xp] =
                    (float)(map->data[(z * N + y) * N + x] * m * corr[x] * corr[y] * corr[z]);
            }
    if ((st = gar_fft3_r2c(M, real, p->F)) != GAR_OK)
        goto fail;
    if (shell_weight != NULL)
        for (size_t z = 0; z < M; z++)
            for (size_t y = 0; y < M; y++)
                for (size_t x = 0; x < H; x++) {
                    double kz = (double)gar_fft_freq(z, M), ky = (double)gar_fft_freq(y, M);
                    double r = 0.5 * sqrt((double)x * x + ky * ky + kz * kz);   /* unpadded units */
                    size_t shell = (size_t)(r + 0.5);
                    float w = shell < n_shells ? (float)shell_weight[shell] : 0.0f;
                    float *v = p->F + 2 * ((z * M + y) * H + x);
                    v[0] *= w;
                    v[1] *= w;
                }
    free(real);
    free(corr);
    *out = p;
    return GAR_OK;
fail:
    free(real);
    free(corr);
    gar_refproj_destroy(&p);
    return st;
}

void gar_refproj_destroy(gar_refproj **pp)
{
    if (pp == NULL || *pp == NULL)
        return;
    free((*pp)->F);
    free(*pp);
    *pp = NULL;
}

size_t gar_refproj_box(const gar_refproj *p) { return p->N; }

void gar_refproj_memory_bytes(size_t box, double *kept, double *extra_while_made)
{
    const double M = 2.0 * (double)box, H = M / 2 + 1;
    *kept = H * M * M * 2 * sizeof(float);
    *extra_while_made = M * M * M * sizeof(float) + (double)box * sizeof(double);
}

GAR_CPU_CLONES
void gar_refproj_slice(const gar_refproj *p, const double A[9], const float *ku, const float *kv, size_t n,
                       float *re, float *im)
{
    /* K = A^T (u, v, 0), times 2 for the padded grid. */
    const float a0 = (float)(2 * A[0]), a1 = (float)(2 * A[1]), a2 = (float)(2 * A[2]);
    const float a3 = (float)(2 * A[3]), a4 = (float)(2 * A[4]), a5 = (float)(2 * A[5]);
    const int M = (int)p->M;
    for (size_t i = 0; i < n; i++) {
        const float u = ku[i], v = kv[i];
        gar_slice_sample(p->F, M, a0 * u + a3 * v, a1 * u + a4 * v, a2 * u + a5 * v, &re[i], &im[i]);
    }
}
