#include "gar_recon.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "gar_log.h"
#include "gar_recon_impl.h"

size_t gar_recon_padded_size(size_t box, int pad) { return gar_fft_good_size((size_t)pad * box); }

static double resolution_to_kmax(const gar_recon_config *cfg, size_t M)
{
    double nyquist = 0.5 * (double)M;
    double k;
    if (cfg->max_resolution_A <= 0)
        return nyquist;
    k = (double)M * cfg->pixel_size_A / cfg->max_resolution_A;
    return k > nyquist ? nyquist : k;
}

/* Planes held at once: a whole batch for GPUs that take planes from the
 * host, none for GPUs that make them; on the CPU a few per thread, since
 * every thread inserts every plane and a plane of a 128² particle at pad 2
 * takes 0.8 MB (fresh memory is slow to touch on some machines). */
static size_t gar_recon_plane_slots(const gar_recon_config *cfg, size_t n_gpu)
{
    size_t slots = 2 * (size_t)cfg->threads < 16 ? 16 : 2 * (size_t)cfg->threads;
    if (n_gpu > 0)
        return cfg->gpu_fft ? 0 : cfg->batch;
    return slots < cfg->batch ? slots : cfg->batch;
}

size_t gar_recon_config_voxels(const gar_recon_config *cfg)
{
    size_t M = gar_recon_padded_size(cfg->box, cfg->pad);
    return M * M * (M / 2 + 1);
}

size_t gar_recon_memory_bytes(const gar_recon_config *cfg)
{
    size_t M = gar_recon_padded_size(cfg->box, cfg->pad), H = M / 2 + 1;
    size_t nvox = gar_recon_config_voxels(cfg);
    double kmax = resolution_to_kmax(cfg, M);
    size_t R = (size_t)ceil(kmax + cfg->blob_radius) + 1, side = 2 * R + 1;
    size_t volumes = 2 * nvox * 3 * sizeof(float);
    /* finalize: the complex map (which holds the symmetrised data when the
     * volume is symmetrised, with a copy of the weights beside it), the real
     * N³ map before correction and the map returned, and the cropped inverse
     * FFT's buffers per thread */
    const size_t N = cfg->box;
    size_t finish = nvox * 2 * sizeof(float) + 2 * N * N * N * sizeof(float) +
                    (size_t)cfg->threads * ((N * H > 8 * M ? N * H : 8 * M) * 2 + N * (M + 2) + 64) * sizeof(float);
    if (cfg->sym_mode == GAR_SYM_VOLUME && cfg->n_ops > 1)
        finish += nvox * sizeof(float);
    /* Planes on the host unless GPUs make them from the images. */
    size_t planes = gar_recon_plane_slots(cfg, cfg->n_gpu_devices) * side * side * 3 * sizeof(float);
    size_t ffts = (size_t)cfg->threads * (M * M + M * H * 2) * sizeof(float);
    return volumes + finish + planes + ffts;
}

static void build_blob_table(gar_recon *r)
{
    double a = r->cfg.blob_radius;
    double step = a * a / (GAR_BLOB_TABLE - 1);
    for (int i = 0; i < GAR_BLOB_TABLE; i++)
        r->blob[i] = (float)gar_blob_value(sqrt(i * step), a, r->cfg.blob_alpha, r->cfg.blob_order);
    r->inv_step = (float)(1.0 / step);
    r->a = (float)a;
    r->a2 = (float)(a * a);
}

/* The CPU's kernels, chosen once: AVX-512 where the build and the CPU have
 * it, else the scalar ones (which the GPU's kernels share). */
static const gar_recon_kernels *choose_kernels(gar_recon *r)
{
    static const gar_recon_kernels scalar = {gar_recon_plane_rows_scalar, gar_recon_insert_slice_scalar};
    const gar_recon_kernels *k =
        gar_recon_kernels_avx512(r->cfg.blob_radius, r->cfg.blob_alpha, r->cfg.blob_order, &r->poly);
    return k != NULL ? k : &scalar;
}

static gar_status gridding_table(const gar_recon *r, double **table, size_t *n, double *step);

/* Zeroes a volume on the run's threads. Touching memory a process has not
 * used yet costs far more than writing it (the kernel clears each page, and
 * on virtual machines the host may have to back it first: about 3 ms per
 * MiB on the development VMs), and that cost divides among threads. */
static void volume_zero(void *p, size_t bytes, int threads)
{
    const size_t chunk = (size_t)2 << 20, n = (bytes + chunk - 1) / chunk;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t c = 0; c < n; c++)
        memset((char *)p + c * chunk, 0, c + 1 < n ? chunk : bytes - c * chunk);
}

/* Zeroed, 2 MiB-aligned memory for a volume, with transparent huge pages
 * requested: each particle's slice touches voxels scattered over the whole
 * volume, and with 4 KiB pages nearly every update would also miss the TLB. */
static gar_status volume_alloc(void **out, size_t bytes, int threads, const char *what)
{
    const size_t huge = (size_t)2 << 20;
    size_t rounded = (bytes + huge - 1) / huge * huge;
    *out = NULL;
    if (posix_memalign(out, huge, rounded) != 0) {
        *out = NULL;
        return gar_error(GAR_ERR_NOMEM, "%s: cannot allocate %.1f MiB", what, bytes / 1048576.0);
    }
#ifdef MADV_HUGEPAGE
    madvise(*out, rounded, MADV_HUGEPAGE);
#endif
    volume_zero(*out, rounded, threads);
    return GAR_OK;
}

gar_status gar_recon_flush(gar_recon *r)
{
    gar_status st;
    /* In device order, so the host sums are the same from run to run. */
    for (size_t i = 0; i < r->n_inserters; i++)
        if ((st = r->inserters[i].ops->collect(r, &r->inserters[i])) != GAR_OK)
            return st;
    return GAR_OK;
}

size_t gar_recon_gpu_count(const gar_recon *r) { return r->n_gpu; }

const char *gar_recon_gpu_variant(const gar_recon *r, size_t d, char *report, size_t len)
{
    if (d >= r->n_gpu)
        return NULL;
    if (report != NULL)
        gar_gpu_inserter_tuning_report(r->inserters[d].gpu, report, len);
    return gar_gpu_inserter_variant(r->inserters[d].gpu);
}

gar_status gar_recon_create(const gar_recon_config *cfg, gar_recon **out)
{
    gar_status st = GAR_OK;
    gar_recon *r = NULL;
    *out = NULL;
    if (cfg->box < 4 || cfg->box % 2 != 0 || cfg->pad < 1 || cfg->pad > 4 || cfg->threads < 1 ||
        cfg->batch < 1 || !(cfg->pixel_size_A > 0) || !(cfg->blob_radius > 0))
        return gar_error(GAR_ERR_INTERNAL, "reconstructor configuration out of range");
    if ((st = gar_calloc((void **)&r, 1, sizeof *r, "reconstructor")) != GAR_OK)
        return st;
    r->cfg = *cfg;
    r->N = cfg->box;
    r->M = gar_recon_padded_size(cfg->box, cfg->pad);
    r->H = r->M / 2 + 1;
    r->nvox = r->M * r->M * r->H;
    r->kmax = resolution_to_kmax(cfg, r->M);
    /* ky, kz = ±M/2 alias one index, so those stop at M/2 − 1 (losing only the
     * axis points of the Nyquist shell); kx = M/2 has its own index. */
    r->kbound = (int)floor(r->kmax);
    if (r->kbound > (int)r->M / 2 - 1)
        r->kbound = (int)r->M / 2 - 1;
    r->kxbound = (int)floor(r->kmax);
    r->R = (int)ceil(r->kmax + cfg->blob_radius) + 1;
    if (r->R > GAR_RECON_MAX_R) {
        st = gar_error(GAR_ERR_USAGE, "padded box %zu is larger than garner supports (2048)", r->M);
        goto fail;
    }
    r->plane_pixels = (size_t)(2 * r->R + 1) * (size_t)(2 * r->R + 1);
    r->threads = cfg->threads;
    build_blob_table(r);
    r->kernels = choose_kernels(r);

    if ((st = gar_alloc((void **)&r->optics, cfg->n_optics ? cfg->n_optics : 1, sizeof *r->optics,
                        "optics")) != GAR_OK)
        goto fail;
    if (cfg->n_optics)
        memcpy(r->optics, cfg->optics, cfg->n_optics * sizeof *r->optics);
    r->cfg.optics = r->optics;
    r->n_ops = cfg->sym_ops && cfg->n_ops ? cfg->n_ops : 1;
    if ((st = gar_alloc((void **)&r->ops, r->n_ops, 9 * sizeof(double), "symmetry operators")) != GAR_OK)
        goto fail;
    if (cfg->sym_ops && cfg->n_ops)
        memcpy(r->ops, cfg->sym_ops, r->n_ops * 9 * sizeof(double));
    else {
        static const double identity[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
        memcpy(r->ops, identity, sizeof identity);
    }
    r->cfg.sym_ops = r->ops;
    r->cfg.n_ops = r->n_ops;

    for (int h = 0; h < 2; h++) {
        if ((st = volume_alloc((void **)&r->G[h], r->nvox * 2 * sizeof(float), r->threads, "Fourier data volume")) != GAR_OK ||
            (st = volume_alloc((void **)&r->W[h], r->nvox * sizeof(float), r->threads, "Fourier weight volume")) != GAR_OK)
            goto fail;
    }
    /* The inserters before the planes: a GPU that cannot hold the run says
     * so before the host allocates planes it would not need. */
    if ((st = gar_recon_inserters_create(r)) != GAR_OK)
        goto fail;
    r->plane_slots = gar_recon_plane_slots(cfg, r->n_gpu);
    /* Zeroed once: each particle writes the same pixels (those within
     * kmax + a + 1), and the gathers read a little beyond them. */
    if (r->plane_slots > 0 &&
        (st = gar_calloc((void **)&r->planes, r->plane_slots, 3 * r->plane_pixels * sizeof(float),
                         "particle planes")) != GAR_OK)
        goto fail;
    if ((st = gar_alloc((void **)&r->geoms, cfg->batch, sizeof *r->geoms, "particle geometry")) != GAR_OK ||
        (st = gar_calloc((void **)&r->fft, (size_t)r->threads, sizeof *r->fft, "FFT plans")) != GAR_OK)
        goto fail;
    /* The padding stays zero: each particle rewrites only the centre, and an
     * out-of-place r2c transform keeps its input (FFTW_PRESERVE_INPUT is
     * its default there). */
    for (int t = 0; t < r->threads; t++) {
        if ((st = gar_fft2_create(r->M, &r->fft[t])) != GAR_OK)
            goto fail;
        memset(gar_fft2_real(r->fft[t]), 0, r->M * r->M * sizeof(float));
    }
    if ((st = gar_alloc((void **)&r->kx, (size_t)(2 * r->R + 1), sizeof(float), "frequency table")) != GAR_OK)
        goto fail;
    for (int u = -r->R; u <= r->R; u++)
        r->kx[u + r->R] = (float)(u / ((double)r->M * cfg->pixel_size_A));
    if ((st = gridding_table(r, &r->grid, &r->ngrid, &r->gstep)) != GAR_OK)
        goto fail;
    r->cfg.gpu_devices = NULL;   /* the caller's array; the inserters hold what they need */
    *out = r;
    return GAR_OK;
fail:
    gar_recon_destroy(&r);
    return st;
}

void gar_recon_destroy(gar_recon **pr)
{
    gar_recon *r;
    if (pr == NULL || *pr == NULL)
        return;
    r = *pr;
    for (size_t i = 0; i < r->n_inserters; i++)
        r->inserters[i].ops->destroy(&r->inserters[i]);
    free(r->inserters);
    for (int h = 0; h < 2; h++) {
        free(r->G[h]);
        free(r->W[h]);
    }
    if (r->fft != NULL)
        for (int t = 0; t < r->threads; t++)
            gar_fft2_destroy(&r->fft[t]);
    free(r->fft);
    free(r->planes);
    free(r->kx);
    free(r->F);
    free(r->Ws);
    free(r->vol);
    free(r->geoms);
    free(r->optics);
    free(r->ops);
    free(r->grid);
    free(r);
    *pr = NULL;
}

void gar_recon_timings(const gar_recon *r, double *prepare, double *insert, double *finalize)
{
    *prepare = r->seconds[0];
    *insert = r->seconds[1];
    *finalize = r->seconds[2];
}

size_t gar_recon_count(const gar_recon *r, int half)
{
    return half == 1 ? r->count[0] : half == 2 ? r->count[1] : r->count[0] + r->count[1];
}

gar_status gar_recon_partial_view(gar_recon *r, gar_recon_partial *view)
{
    gar_status st = gar_recon_flush(r);
    for (int h = 0; h < 2; h++) {
        view->data[h] = r->G[h];
        view->weight[h] = r->W[h];
    }
    view->count = r->count;
    view->nvox = r->nvox;
    view->padded = r->M;
    return st;
}

gar_status gar_recon_reset(gar_recon *r)
{
    /* The GPUs' pending sums come into the host volumes first, and go with them. */
    gar_status st = gar_recon_flush(r);
    for (int h = 0; h < 2; h++) {
        volume_zero(r->G[h], r->nvox * 2 * sizeof(float), r->threads);
        volume_zero(r->W[h], r->nvox * sizeof(float), r->threads);
        r->count[h] = 0;
    }
    return st;
}
size_t gar_recon_size(const gar_recon *r) { return r->M; }
size_t gar_recon_voxels(const gar_recon *r) { return r->nvox; }
int gar_recon_plane_radius(const gar_recon *r) { return r->R; }
double gar_recon_kmax(const gar_recon *r) { return r->kmax; }
size_t gar_recon_plane_pixels(const gar_recon *r) { return r->plane_pixels; }

const float *gar_recon_blob_table(const gar_recon *r, float *inv_step)
{
    *inv_step = r->inv_step;
    return r->blob;
}

static const gar_optics *find_optics(const gar_recon *r, int32_t group)
{
    for (size_t i = 0; i < r->cfg.n_optics; i++)
        if (r->optics[i].group == group)
            return &r->optics[i];
    return NULL;
}

/* What the insertion needs of one particle: pose, shift in pixels, CTF,
 * half set (checked to be 1 or 2 by gar_recon_insert beforehand). */
static gar_status particle_geom(const gar_recon *r, const gar_particle *meta, gar_particle_geom *g)
{
    const gar_optics *o = find_optics(r, meta->optics_group);
    memset(g, 0, sizeof *g);
    if (r->cfg.ctf) {
        if (o == NULL)
            return gar_error(GAR_ERR_DATA, "optics group %d is not in the stack's optics table",
                             meta->optics_group);
        g->ctf = gar_ctf_prepare(meta->defocus_u_A, meta->defocus_v_A, meta->defocus_angle_deg,
                                 o->voltage_kV, o->cs_mm, o->amplitude_contrast, meta->phase_shift_deg);
        g->use_ctf = 1;
    }
    gar_euler_to_matrix(meta->rot_deg, meta->tilt_deg, meta->psi_deg, g->A);
    g->ox = meta->origin_x_A / r->cfg.pixel_size_A;
    g->oy = meta->origin_y_A / r->cfg.pixel_size_A;
    g->half = meta->half_set - 1;
    return GAR_OK;
}

/* Half the pixels: the plane of a real image is Hermitian, pixel −k the
 * conjugate of pixel k (the CTF is even, the shift phase's sines odd,
 * exactly so in floating point), so each is written twice. */
void gar_recon_plane_rows_scalar(const gar_recon *r, const float *c, const gar_particle_geom *g, const double *cu,
                                 const double *su, const double *cv, const double *sv, float *plane)
{
    const size_t M = r->M, pp = r->plane_pixels;
    const int R = r->R, side = 2 * R + 1, half = (int)(M / 2);
    float *pre = plane, *pim = plane + pp, *pc2 = plane + 2 * pp;
    const double Mpx = (double)M * r->cfg.pixel_size_A;
    double rlim = r->kmax + r->a + 1.0;
    for (int v = 0; v <= R; v++) {
        const size_t row = (size_t)(v + R) * side + R, mirror = (size_t)(R - v) * side + R;
        const int umax = gar_plane_row_umax(v, rlim, half);
        for (int u = v == 0 ? 0 : -umax; u <= umax; u++) {
            float px[3];
            gar_plane_pixel(c, (int)M, u, v, cu[u + R], su[u + R], cv[v + R], sv[v + R],
                            gar_plane_ctf_weight(g, u, v, Mpx), px);
            pre[row + u] = px[0];
            pim[row + u] = px[1];
            pc2[row + u] = px[2];
            pre[mirror - u] = px[0];
            pim[mirror - u] = -px[1];
            pc2[mirror - u] = px[2];
        }
    }
}

/* The plane of one particle from its image (the CPU twin of the GPU's
 * pad, FFT and plane kernels; the per-pixel maths is shared). */
static void prepare_plane_geom(gar_recon *r, int thread, const float *image, const gar_particle_geom *g,
                               float *plane)
{
    gar_fft2 *fft = r->fft[thread];
    float *real = gar_fft2_real(fft);
    const size_t N = r->N, M = r->M, off = M / 2 - N / 2;
    const int R = r->R;
    double bg = 0.0;
    size_t nbg = 0;
    /* Separable shift phase: one cos/sin per row and per column, not per pixel. */
    double ph_u[2][2 * GAR_RECON_MAX_R + 1], ph_v[2][2 * GAR_RECON_MAX_R + 1];

    /* Normalise: remove the mean of the background outside the particle
     * circle, so zero padding adds no step at the box edge. */
    for (size_t y = 0; y < N; y++)
        for (size_t x = 0; x < N; x++)
            if (gar_is_background((int)x, (int)y, (int)N)) {
                bg += image[y * N + x];
                nbg++;
            }
    bg = nbg ? bg / nbg : 0.0;
    for (size_t y = 0; y < N; y++)
        for (size_t x = 0; x < N; x++)
            real[(y + off) * M + x + off] = (float)(image[y * N + x] - bg);
    gar_fft2_forward(fft);

    for (int k = -R; k <= R; k++) {
        gar_shift_phase(k, g->ox, (double)M, &ph_u[0][k + R], &ph_u[1][k + R]);
        gar_shift_phase(k, g->oy, (double)M, &ph_v[0][k + R], &ph_v[1][k + R]);
    }
    r->kernels->plane_rows(r, gar_fft2_complex(fft), g, ph_u[0], ph_u[1], ph_v[0], ph_v[1], plane);
}

gar_status gar_recon_prepare_plane(gar_recon *r, int thread, const float *image,
                                   const gar_particle *meta, float *plane)
{
    gar_particle_geom g;
    gar_status st = particle_geom(r, meta, &g);
    /* The pixels beyond kmax + a + 1 are never written (the slots of a
     * batch are zeroed once), so a caller's plane is zeroed here. */
    memset(plane, 0, 3 * r->plane_pixels * sizeof(float));
    if (st == GAR_OK)
        prepare_plane_geom(r, thread, image, &g, plane);
    return st;
}

/* The planes of particles [first, first + n) of a batch whose geometry is
 * made, into plane slots 0 .. n − 1 (one FFT plan per thread). */
void gar_recon_prepare_planes(gar_recon *r, const float *images, size_t first, size_t n)
{
    const size_t npix = r->N * r->N;
#pragma omp parallel for num_threads(r->threads) schedule(dynamic, 1)
    for (size_t i = 0; i < n; i++) {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        prepare_plane_geom(r, t, images + (first + i) * npix, &r->geoms[first + i], r->planes + i * 3 * r->plane_pixels);
    }
}

gar_status gar_recon_insert(gar_recon *r, const float *images, const gar_particle *meta, size_t count)
{
    gar_status st = GAR_OK;
    gar_recon_inserter *in;
    if (count > r->cfg.batch)
        return gar_error(GAR_ERR_INTERNAL, "insert of %zu particles exceeds the batch of %zu", count,
                         r->cfg.batch);
    for (size_t i = 0; i < count; i++)
        if (meta[i].half_set != 1 && meta[i].half_set != 2)
            return gar_error(GAR_ERR_DATA, "particle with half set %d: expected 1 or 2", meta[i].half_set);

    double t0 = gar_wall_seconds();
    for (size_t i = 0; i < count; i++)
        if ((st = particle_geom(r, &meta[i], &r->geoms[i])) != GAR_OK)
            return st;
    r->seconds[0] += gar_wall_seconds() - t0;
    /* Batches go to the inserters in turn (a fixed order, so a run is
     * repeatable); a GPU inserts while the next batch is read, the CPU
     * before it returns. */
    in = &r->inserters[r->next_inserter];
    r->next_inserter = (r->next_inserter + 1) % r->n_inserters;
    if ((st = in->ops->submit(r, in, images, count)) != GAR_OK)
        return st;
    for (size_t i = 0; i < count; i++)
        r->count[r->geoms[i].half]++;
    return GAR_OK;
}

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
                int x = x0 + dx;
                double wt = (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy) * (dz ? fz : 1 - fz);
                if (wt == 0.0 || x >= (int)r->H)
                    continue;
                size_t idx = vox_index(r, x, y0 + dy, z0 + dz);
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
    volume_zero(Gs, r->nvox * 2 * sizeof(float), r->threads);
    volume_zero(Ws, r->nvox * sizeof(float), r->threads);
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
static gar_status gridding_table(const gar_recon *r, double **table, size_t *n, double *step)
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

gar_status gar_recon_finalize(gar_recon *r, int half, gar_map **out)
{
    gar_status st = GAR_OK;
    float *F, *vol;
    fin_source src = {r->G[0], r->W[0], r->G[1], r->W[1]};
    double *shell_sum = NULL, *plane_sum = NULL;
    size_t *shell_n = NULL, *plane_n = NULL;
    const double *grid = r->grid;
    const size_t ngrid = r->ngrid;
    const double gstep = r->gstep;
    gar_map *map = NULL;
    const int K = r->kbound, KX = r->kxbound, M = (int)r->M, N = (int)r->N;
    const double kmax2 = r->kmax * r->kmax;
    const size_t nshell = (size_t)KX + 2;
    const double t_start = gar_wall_seconds();
    *out = NULL;
    if ((st = gar_recon_flush(r)) != GAR_OK)
        return st;
    /* The Fourier map and the real map before correction are kept from one
     * call to the next: a run makes three maps (refine, two an iteration). */
    if (r->F == NULL && (st = volume_alloc((void **)&r->F, r->nvox * 2 * sizeof(float), r->threads, "Fourier map")) != GAR_OK)
        return st;
    if (r->vol == NULL &&
        (st = gar_alloc((void **)&r->vol, (size_t)N * N, (size_t)N * sizeof(float), "map before correction")) != GAR_OK)
        return st;
    F = r->F;
    vol = r->vol;
    if (half == 1 || half == 2) {
        src.Ga = r->G[half - 1];
        src.Wa = r->W[half - 1];
        src.Gb = src.Wb = NULL;
    }
    if (r->cfg.sym_mode == GAR_SYM_VOLUME && r->n_ops > 1) {
        /* The symmetrised data go into F, which the weighting below then
         * turns into the map in place. */
        if (r->Ws == NULL &&
            (st = volume_alloc((void **)&r->Ws, r->nvox * sizeof(float), r->threads, "symmetrised weights")) != GAR_OK)
            return st;
        symmetrise_volume(r, &src, F, r->Ws);
        src.Ga = F;
        src.Wa = r->Ws;
        src.Gb = src.Wb = NULL;
    } else
        volume_zero(F, r->nvox * 2 * sizeof(float), r->threads);

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

#pragma omp parallel for num_threads(r->threads) schedule(static)
    for (int kz = -K; kz <= K; kz++)
        for (int ky = -K; ky <= K; ky++)
            for (int kx = 0; kx <= KX; kx++) {
                double k2 = (double)kx * kx + (double)ky * ky + (double)kz * kz;
                if (k2 > kmax2)
                    continue;
                size_t idx = vox_index(r, kx, ky, kz), s = (size_t)(sqrt(k2) + 0.5);
                double w = source_w(&src, idx), floor_w = shell_n[s] ? 1e-3 * shell_sum[s] / shell_n[s] : 0.0;
                /* (−1)^(kx+ky+kz) puts the real-space origin at M/2. */
                double sg = ((kx + ky + kz) & 1) ? -1.0 : 1.0;
                double gre = source_g(&src, 2 * idx), gim = source_g(&src, 2 * idx + 1);
                if (!(w > 0)) {
                    F[2 * idx] = F[2 * idx + 1] = 0.0f;
                    continue;
                }
                if (w < floor_w)
                    w = floor_w;
                F[2 * idx] = (float)(sg * gre / w);
                F[2 * idx + 1] = (float)(sg * gim / w);
            }
    /* Only the central N³ of the M³ inverse is kept: the cropped transform
     * computes no more than that, on the run's threads. */
    if ((st = gar_fft3_c2r_crop(r->M, r->N, r->kmax + 1, F, vol, r->threads)) != GAR_OK)
        goto done;
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
