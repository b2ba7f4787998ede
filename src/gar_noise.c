/* garner: the noise model (see gar_noise.h). */
#include "gar_noise.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gar_kernels.h"

struct gar_noise {
    size_t n_groups, n_shells;
    int32_t *group;
    double *sigma2;      /* n_groups × n_shells */
    unsigned char *set;  /* per value: estimated at least once */
};

gar_status gar_noise_create(const int32_t *groups, size_t n_groups, size_t n_shells, gar_noise **out)
{
    gar_status st;
    gar_noise *nm = NULL;
    *out = NULL;
    if (n_groups == 0 || n_shells == 0)
        return gar_error(GAR_ERR_INTERNAL, "noise model of %zu groups and %zu shells", n_groups, n_shells);
    if ((st = gar_calloc((void **)&nm, 1, sizeof *nm, "noise model")) != GAR_OK)
        return st;
    nm->n_groups = n_groups;
    nm->n_shells = n_shells;
    if ((st = gar_alloc((void **)&nm->group, n_groups, sizeof *nm->group, "noise model")) != GAR_OK ||
        (st = gar_alloc((void **)&nm->sigma2, n_groups * n_shells, sizeof *nm->sigma2, "noise model")) != GAR_OK ||
        (st = gar_calloc((void **)&nm->set, n_groups * n_shells, 1, "noise model")) != GAR_OK) {
        gar_noise_destroy(&nm);
        return st;
    }
    memcpy(nm->group, groups, n_groups * sizeof *groups);
    for (size_t k = 0; k < n_groups * n_shells; k++)
        nm->sigma2[k] = 1.0;
    *out = nm;
    return GAR_OK;
}

void gar_noise_destroy(gar_noise **pnm)
{
    if (pnm == NULL || *pnm == NULL)
        return;
    free((*pnm)->group);
    free((*pnm)->sigma2);
    free((*pnm)->set);
    free(*pnm);
    *pnm = NULL;
}

size_t gar_noise_groups(const gar_noise *nm) { return nm->n_groups; }
size_t gar_noise_shells(const gar_noise *nm) { return nm->n_shells; }
int32_t gar_noise_group_id(const gar_noise *nm, size_t gi) { return nm->group[gi]; }
const double *gar_noise_sigma2(const gar_noise *nm, size_t gi) { return nm->sigma2 + gi * nm->n_shells; }
size_t gar_noise_sum_count(const gar_noise *nm) { return nm->n_groups * nm->n_shells * 2; }

long gar_noise_index(const gar_noise *nm, int32_t group)
{
    for (size_t i = 0; i < nm->n_groups; i++)
        if (nm->group[i] == group)
            return (long)i;
    return -1;
}

gar_status gar_noise_set(gar_noise *nm, size_t gi, const double *sigma2)
{
    if (gi >= nm->n_groups)
        return gar_error(GAR_ERR_INTERNAL, "noise model row %zu of %zu", gi, nm->n_groups);
    for (size_t s = 0; s < nm->n_shells; s++)
        if (!(sigma2[s] > 0) || !isfinite(sigma2[s]))
            return gar_error(GAR_ERR_DATA, "noise power %g in shell %zu of optics group %d: expected a positive "
                             "finite value", sigma2[s], s, nm->group[gi]);
    memcpy(nm->sigma2 + gi * nm->n_shells, sigma2, nm->n_shells * sizeof *sigma2);
    memset(nm->set + gi * nm->n_shells, 1, nm->n_shells);
    return GAR_OK;
}

int gar_noise_is_white(const gar_noise *nm)
{
    for (size_t k = 0; k < nm->n_groups * nm->n_shells; k++)
        if (nm->sigma2[k] != 1.0)
            return 0;
    return 1;
}

gar_status gar_noise_update(gar_noise *nm, const float *sums, size_t n_update)
{
    const size_t S = nm->n_shells;
    if (n_update > S)
        n_update = S;
    for (size_t g = 0; g < nm->n_groups; g++) {
        double *row = nm->sigma2 + g * S, ratio = 0.0;
        unsigned char *set = nm->set + g * S;
        const float *in = sums + 2 * g * S;
        int n_ratio = 0;
        for (size_t s = 0; s < S; s++) {
            const double p = in[2 * s], w = in[2 * s + 1];
            if (!(p >= 0) || !(w >= 0))
                return gar_error(GAR_ERR_DATA, "noise sums of optics group %d, shell %zu: %g over %g", nm->group[g],
                                 s, p, w);
        }
        for (size_t s = 0; s < n_update; s++) {
            const double p = in[2 * s], w = in[2 * s + 1];
            if (!(w > 0 && p > 0))
                continue;
            if (set[s] && s + 3 >= n_update) {
                ratio += (p / w) / row[s];
                n_ratio++;
            }
            row[s] = p / w;
            set[s] = 1;
        }
        if (n_ratio > 0)
            for (size_t s = n_update; s < S; s++)
                if (set[s])
                    row[s] *= ratio / n_ratio;
        /* Shells never estimated take the nearest estimated one below (or
         * above, for shell 0), so the model has no step to 1. */
        for (size_t s = 1; s < S; s++)
            if (!set[s] && set[s - 1])
                row[s] = row[s - 1];
        for (size_t s = S - 1; s-- > 0;)
            if (!set[s] && set[s + 1])
                row[s] = row[s + 1];
    }
    return GAR_OK;
}

void gar_noise_background_sums(gar_fft2 *fft, const float *image, size_t N, double mask_radius_px, size_t n_shells,
                               float *row)
{
    float *real = gar_fft2_real(fft);
    const float *c;
    const size_t H = N / 2 + 1;
    double sm = 0.0, sb = 0.0, scale;
    for (size_t y = 0; y < N; y++)
        for (size_t x = 0; x < N; x++) {
            const double dx = (double)x - N / 2, dy = (double)y - N / 2;
            const float m = gar_particle_mask((float)sqrt(dx * dx + dy * dy), (float)mask_radius_px);
            real[y * N + x] = image[y * N + x] * (1.0f - m);
            sm += (double)m * m;
            sb += (1.0 - m) * (1.0 - m);
        }
    if (!(sb > 0))
        return;
    scale = sm / sb / ((double)N * (double)N);
    gar_fft2_forward(fft);
    c = gar_fft2_complex(fft);
    for (size_t j = 0; j < N; j++) {
        const long v = j <= N / 2 ? (long)j : (long)j - (long)N;
        for (size_t u = 0; u < H; u++) {
            const size_t s = (size_t)lround(sqrt((double)u * u + (double)v * v));
            const float *z = c + 2 * (j * H + u);
            const double h = u == 0 ? 1.0 : 2.0;
            if (s >= n_shells)
                continue;
            row[2 * s] += (float)(h * scale * ((double)z[0] * z[0] + (double)z[1] * z[1]));
            row[2 * s + 1] += (float)h;
        }
    }
}
