/* The map from the sums: symmetrised if so configured, weighted, inverse
 * transformed, corrected for the blob's gridding and cropped. Run a few
 * times a run (three maps in reconstruct, two an iteration in refine), so
 * its buffers are kept in the reconstructor from one call to the next. */
#include <math.h>
#include <stdlib.h>

#include "gar_log.h"
#include "gar_recon_impl.h"

/* What a map is made from: one half set's sums (b = NULL) or both added
 * voxel by voxel, in float as a summed copy would hold them. */
typedef struct fin_source {
    const float *Ga, *Wa, *Gb, *Wb;
} fin_source;

static inline float source_w(const fin_source *s, size_t i) { return s->Wb ? s->Wa[i] + s->Wb[i] : s->Wa[i]; }
static inline float source_g(const fin_source *s, size_t i) { return s->Gb ? s->Ga[i] + s->Gb[i] : s->Ga[i]; }

/* Trilinear sample of the Hermitian half volume at p (padded voxels); points
 * with px < 0 read the Friedel mate. */
static void sample_half(const gar_recon *r, const fin_source *src, double px, double py, double pz, double *gre,
                        double *gim, double *w)
{
    double sgn = 1.0;
    if (px < 0) {
        px = -px;
        py = -py;
        pz = -pz;
        sgn = -1.0;
    }
    int x0 = (int)floor(px), y0 = (int)floor(py), z0 = (int)floor(pz);
    double fx = px - x0, fy = py - y0, fz = pz - z0;
    double re = 0, im = 0, ww = 0;
    for (int dz = 0; dz < 2; dz++)
        for (int dy = 0; dy < 2; dy++)
            for (int dx = 0; dx < 2; dx++) {
                double wt = (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy) * (dz ? fz : 1 - fz);
                size_t idx;
                /* Beyond the resolution limit the sums are zero. */
                if (wt == 0.0 || (idx = gar_sphere_find(r->sphere, x0 + dx, y0 + dy, z0 + dz)) == SIZE_MAX)
                    continue;
                re += wt * source_g(src, 2 * idx);
                im += wt * source_g(src, 2 * idx + 1);
                ww += wt * source_w(src, idx);
            }
    *gre = re;
    *gim = sgn * im;
    *w = ww;
}

/* G and W summed over the group by trilinear interpolation (RELION's approach). */
static void symmetrise_volume(const gar_recon *r, const fin_source *src, float *Gs, float *Ws)
{
    const int K = r->kbound, KX = r->kxbound;
    const double kmax2 = r->kmax * r->kmax;
#pragma omp parallel for num_threads(r->threads) schedule(static)
    for (int kz = -K; kz <= K; kz++)
        for (int ky = -K; ky <= K; ky++)
            for (int kx = 0; kx <= KX; kx++) {
                double k2 = (double)kx * kx + (double)ky * ky + (double)kz * kz;
                if (k2 > kmax2)
                    continue;
                double sre = 0, sim = 0, sw = 0;
                for (size_t s = 0; s < r->n_ops; s++) {
                    const double *R = r->ops + 9 * s;
                    double px = R[0] * kx + R[1] * ky + R[2] * kz;
                    double py = R[3] * kx + R[4] * ky + R[5] * kz;
                    double pz = R[6] * kx + R[7] * ky + R[8] * kz;
                    double a, b, c;
                    sample_half(r, src, px, py, pz, &a, &b, &c);
                    sre += a;
                    sim += b;
                    sw += c;
                }
                size_t idx = vox_index(r, kx, ky, kz);
                Gs[2 * idx] = (float)sre;
                Gs[2 * idx + 1] = (float)sim;
                Ws[idx] = (float)sw;
            }
}

double gar_recon_outer_mask(size_t box, double radius)
{
    double w = box / 20.0 < 3.0 ? 3.0 : box / 20.0, edge = 0.5 * (double)box, start = edge - w;
    if (radius <= start)
        return 1.0;
    if (radius >= edge)
        return 0.0;
    return 0.5 + 0.5 * cos(GAR_PI * (radius - start) / w);
}

/* Real-space transform of the blob, B(ω) = 4π ∫₀^a b(s) s² sinc(2π s ω) ds, as a
 * function of radius in padded real-space voxels (ω = r/M), normalised to B(0) = 1. */
gar_status gar_recon_gridding_table(const gar_recon *r, double **table, size_t *n, double *step)
{
    /* The integrand turns through at most 2π·a·ω <= 6 rad over [0, a]: 400
     * Simpson intervals are exact to ~1e-10. Radii reach the corner of the
     * cropped N³ box. */
    const int S = 400;
    double a = r->cfg.blob_radius, ds = a / S;
    double *b = NULL, *out = NULL;
    gar_status st;
    *n = (size_t)(0.5 * sqrt(3.0) * r->N * 4) + 8;
    *step = 0.25;
    if ((st = gar_alloc((void **)&b, S + 1, sizeof(double), "blob samples")) != GAR_OK)
        return st;
    if ((st = gar_alloc((void **)&out, *n, sizeof(double), "gridding table")) != GAR_OK) {
        free(b);
        return st;
    }
    for (int i = 0; i <= S; i++)
        b[i] = gar_blob_value(i * ds, a, r->cfg.blob_alpha, r->cfg.blob_order);
    for (size_t j = 0; j < *n; j++) {
        double omega = j * *step / (double)r->M, sum = 0;
        for (int i = 0; i <= S; i++) {
            double s = i * ds, x = 2 * GAR_PI * s * omega;
            double sinc = x < 1e-8 ? 1.0 : sin(x) / x;
            double wt = (i == 0 || i == S) ? 1 : (i % 2 ? 4 : 2);   /* Simpson */
            sum += wt * b[i] * s * s * sinc;
        }
        out[j] = sum;
    }
    for (size_t j = *n; j-- > 0;)
        out[j] /= out[0];
    free(b);
    *table = out;
    return GAR_OK;
}

/* What the inverse FFT's lines are made from: the source, its weights'
 * floor per shell. */
typedef struct fin_lines {
    const gar_recon *r;
    const fin_source *src;
    const double *shell_sum;
    const size_t *shell_n;
} fin_lines;

/* gar_fft_line_fill: the weighted map F = G / max(W, floor) along z, for
 * columns x0 .. x0 + nb − 1 of FFT row y; zero beyond kmax and where no
 * weight. (−1)^(kx+ky+kz) puts the real-space origin at M/2. */
static void fill_lines(void *ctx, size_t y, size_t x0, size_t nb, float *lines)
{
    const fin_lines *fl = ctx;
    const gar_recon *r = fl->r;
    const int M = (int)r->M, ky = (int)gar_fft_freq(y, r->M);
    const double kmax2 = r->kmax * r->kmax;
    for (size_t b = 0; b < nb; b++) {
        const int kx = (int)(x0 + b);
        float *line = lines + 2 * b * (size_t)M;
        for (int z = 0; z < M; z++) {
            const int kz = (int)gar_fft_freq((size_t)z, r->M);
            const double k2 = (double)kx * kx + (double)ky * ky + (double)kz * kz;
            float re = 0.0f, im = 0.0f;
            if (k2 <= kmax2 && ky >= -r->kbound && ky <= r->kbound && kz >= -r->kbound && kz <= r->kbound) {
                const size_t idx = vox_index(r, kx, ky, kz), s = (size_t)(sqrt(k2) + 0.5);
                double w = source_w(fl->src, idx);
                const double floor_w = fl->shell_n[s] ? 1e-3 * fl->shell_sum[s] / fl->shell_n[s] : 0.0;
                const double sg = ((kx + ky + kz) & 1) ? -1.0 : 1.0;
                if (w > 0) {
                    if (w < floor_w)
                        w = floor_w;
                    re = (float)(sg * source_g(fl->src, 2 * idx) / w);
                    im = (float)(sg * source_g(fl->src, 2 * idx + 1) / w);
                }
            }
            line[2 * z] = re;
            line[2 * z + 1] = im;
        }
    }
}

gar_status gar_recon_finalize(gar_recon *r, int half, gar_map **out)
{
    gar_status st = GAR_OK;
    float *vol;
    fin_source src = {r->G[0], r->W[0], r->G[1], r->W[1]};
    double *shell_sum = NULL, *plane_sum = NULL;
    size_t *shell_n = NULL, *plane_n = NULL;
    const double *grid = r->grid;
    const size_t ngrid = r->ngrid;
    const double gstep = r->gstep;
    gar_map *map = NULL;
    const int K = r->kbound, KX = r->kxbound, M = (int)r->M, N = (int)r->N;
    const double kmax2 = r->kmax * r->kmax;
    /* An MPI worker's fixed-point sums only meet in the reduction. */
    if (r->cfg.fixed_sums)
        return gar_error(GAR_ERR_INTERNAL, "gar_recon_finalize: a reconstructor with fixed-point sums");
    const size_t nshell = (size_t)KX + 2;
    const double t_start = gar_wall_seconds();
    *out = NULL;
    if ((st = gar_recon_flush(r)) != GAR_OK)
        return st;
    /* The inverse FFT's kept planes and the real map before correction are
     * kept from one call to the next: a run makes three maps (refine, two an
     * iteration). The whole weighted transform is never held: the FFT's
     * first pass makes its lines from the sums (fill_lines). */
    if (r->F == NULL && (st = gar_recon_volume_alloc((void **)&r->F, r->N * r->M * r->H * 2 * sizeof(float),
                                                     r->threads, "Fourier map")) != GAR_OK)
        return st;
    if (r->vol == NULL &&
        (st = gar_alloc((void **)&r->vol, (size_t)N * N, (size_t)N * sizeof(float), "map before correction")) != GAR_OK)
        return st;
    vol = r->vol;
    if (half == 1 || half == 2) {
        src.Ga = r->G[half - 1];
        src.Wa = r->W[half - 1];
        src.Gb = src.Wb = NULL;
    }
    if (r->cfg.sym_mode == GAR_SYM_VOLUME && r->n_ops > 1) {
        if ((r->Gs == NULL && (st = gar_recon_volume_alloc((void **)&r->Gs, r->nvox * 2 * sizeof(float), r->threads,
                                                           "symmetrised data")) != GAR_OK) ||
            (r->Ws == NULL && (st = gar_recon_volume_alloc((void **)&r->Ws, r->nvox * sizeof(float), r->threads,
                                                           "symmetrised weights")) != GAR_OK))
            return st;
        symmetrise_volume(r, &src, r->Gs, r->Ws);
        src.Ga = r->Gs;
        src.Wa = r->Ws;
        src.Gb = src.Wb = NULL;
    }

    /* Radial mean of W per integer shell: sums per kz plane in parallel, then
     * the planes added in kz order, so the result does not depend on the
     * thread count. */
    if ((st = gar_calloc((void **)&shell_sum, nshell, sizeof(double), "shell sums")) != GAR_OK ||
        (st = gar_calloc((void **)&shell_n, nshell, sizeof(size_t), "shell counts")) != GAR_OK ||
        (st = gar_calloc((void **)&plane_sum, (size_t)(2 * K + 1) * nshell, sizeof(double), "shell sums")) != GAR_OK ||
        (st = gar_calloc((void **)&plane_n, (size_t)(2 * K + 1) * nshell, sizeof(size_t), "shell counts")) != GAR_OK)
        goto done;
#pragma omp parallel for num_threads(r->threads) schedule(static)
    for (int kz = -K; kz <= K; kz++) {
        double *ps = plane_sum + (size_t)(kz + K) * nshell;
        size_t *pn = plane_n + (size_t)(kz + K) * nshell;
        for (int ky = -K; ky <= K; ky++)
            for (int kx = 0; kx <= KX; kx++) {
                double k2 = (double)kx * kx + (double)ky * ky + (double)kz * kz;
                if (k2 > kmax2)
                    continue;
                size_t s = (size_t)(sqrt(k2) + 0.5);
                ps[s] += source_w(&src, vox_index(r, kx, ky, kz));
                pn[s]++;
            }
    }
    for (int p = 0; p < 2 * K + 1; p++)
        for (size_t s = 0; s < nshell; s++) {
            shell_sum[s] += plane_sum[(size_t)p * nshell + s];
            shell_n[s] += plane_n[(size_t)p * nshell + s];
        }

    /* Only the central N³ of the M³ inverse is kept: the cropped transform
     * computes no more than that, on the run's threads. */
    {
        fin_lines fl = {r, &src, shell_sum, shell_n};
        if ((st = gar_fft3_c2r_crop_fill(r->M, r->N, r->kmax + 1, fill_lines, &fl, r->F, vol, r->threads)) != GAR_OK)
            goto done;
    }
    if ((st = gar_map_create(r->N, r->N, r->N, r->cfg.pixel_size_A, &map)) != GAR_OK)
        goto done;
    {
        const double norm = 1.0 / ((double)M * M * M);
#pragma omp parallel for num_threads(r->threads) schedule(static)
        for (int z = 0; z < N; z++)
            for (int y = 0; y < N; y++)
                for (int x = 0; x < N; x++) {
                    double dx = x - N / 2, dy = y - N / 2, dz = z - N / 2;
                    double rad = sqrt(dx * dx + dy * dy + dz * dz) / gstep;
                    size_t j = (size_t)rad;
                    double f = rad - j;
                    double corr = j + 1 < ngrid ? grid[j] + f * (grid[j + 1] - grid[j]) : grid[ngrid - 1];
                    const size_t at = ((size_t)z * N + (size_t)y) * N + (size_t)x;
                    double mask = r->cfg.outer_mask ? gar_recon_outer_mask(r->N, rad * gstep) : 1.0;
                    map->data[at] = (float)(mask * vol[at] * norm / corr);
                }
    }
    *out = map;
    map = NULL;
    r->seconds[2] += gar_wall_seconds() - t_start;
done:
    gar_map_destroy(&map);
    free(shell_sum);
    free(shell_n);
    free(plane_sum);
    free(plane_n);
    return st;
}
