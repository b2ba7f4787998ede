/* garner: the reconstructor object (gar_recon.h): its plan, the batches it
 * takes and the partial sums it holds. The work is done elsewhere, each part
 * in its own file (gar_recon_impl.h lists them): planes, insertion, maps. */
#include "gar_recon.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gar_log.h"
#include "gar_recon_impl.h"

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
    static const gar_recon_kernels scalar = {gar_recon_plane_rows_scalar, gar_recon_insert_slice_scalar,
                                             gar_recon_insert_slice_scalar_fixed};
    const gar_recon_kernels *k =
        gar_recon_kernels_avx512(r->cfg.blob_radius, r->cfg.blob_alpha, r->cfg.blob_order, &r->poly);
    return k != NULL ? k : &scalar;
}

/* Both half sets' data and weights: floats, or with cfg.fixed_sums int64. */
static gar_status alloc_sums(gar_recon *r)
{
    gar_status st = GAR_OK;
    const size_t value = r->cfg.fixed_sums ? sizeof(int64_t) : sizeof(float);
    for (int h = 0; h < 2 && st == GAR_OK; h++) {
        void **data = r->cfg.fixed_sums ? (void **)&r->Gq[h] : (void **)&r->G[h];
        void **weight = r->cfg.fixed_sums ? (void **)&r->Wq[h] : (void **)&r->W[h];
        if ((st = gar_recon_volume_alloc(data, r->nvox * 2 * value, r->threads, "Fourier data volume")) == GAR_OK)
            st = gar_recon_volume_alloc(weight, r->nvox * value, r->threads, "Fourier weight volume");
    }
    return st;
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
    gar_recon_bounds(cfg, r->M, &r->kmax, &r->kbound, &r->kxbound);
    if ((st = gar_sphere_create(r->kmax, r->kbound, r->kxbound, &r->sphere)) != GAR_OK)
        goto fail;
    r->nvox = r->sphere->count;
    r->lattice = 1;
    if (cfg->image_model == GAR_IMAGE_PERIODIC) {
        /* The box's own frequency grid is every pad-th pixel of the padded
         * transform only when M is pad × N exactly. */
        if (r->M != (size_t)cfg->pad * cfg->box) {
            st = gar_error(GAR_ERR_USAGE,
                           "[reconstruct] image_model = periodic needs the padded box pad x %zu = %zu, but %zu is "
                           "not FFT-friendly (2^a 3^b 5^c 7^d) and is padded to %zu: change pad or say boxed",
                           cfg->box, (size_t)cfg->pad * cfg->box, (size_t)cfg->pad * cfg->box, r->M);
            goto fail;
        }
        r->lattice = cfg->pad;
    }
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

    if ((st = alloc_sums(r)) != GAR_OK)
        goto fail;
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
    if ((st = gar_recon_gridding_table(r, &r->grid, &r->ngrid, &r->gstep)) != GAR_OK)
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
        free(r->Gq[h]);
        free(r->Wq[h]);
    }
    if (r->fft != NULL)
        for (int t = 0; t < r->threads; t++)
            gar_fft2_destroy(&r->fft[t]);
    free(r->fft);
    free(r->planes);
    free(r->kx);
    free(r->F);
    free(r->Gs);
    free(r->Ws);
    gar_sphere_destroy(&r->sphere);
    free(r->vol);
    free(r->geoms);
    free(r->optics);
    free(r->ops);
    free(r->grid);
    free(r);
    *pr = NULL;
}

gar_status gar_recon_insert(gar_recon *r, const float *images, const gar_particle *meta, size_t count)
{
    return gar_recon_insert_scaled(r, images, meta, NULL, count);
}

gar_status gar_recon_insert_scaled(gar_recon *r, const float *images, const gar_particle *meta, const float *scale,
                                   size_t count)
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
    if (r->cfg.fixed_sums && !r->fixed_ready)
        return gar_error(GAR_ERR_INTERNAL, "gar_recon_insert: fixed-point sums without their scale");
    for (size_t i = 0; i < count; i++) {
        if (scale != NULL && !(scale[i] >= 0 && isfinite(scale[i])))
            return gar_error(GAR_ERR_DATA, "particle with contrast scale %g: expected a finite value >= 0", scale[i]);
        if ((st = gar_recon_particle_geom(r, &meta[i], &r->geoms[i])) != GAR_OK)
            return st;
        if (scale != NULL)
            r->geoms[i].scale = scale[i];
        /* Nothing may pass the fixed-point range unseen: each particle is
         * held to the bound the quanta were sized for (gar_fixedsum.h). */
        if (r->cfg.fixed_sums &&
            (st = gar_fixed_check_particle(&r->fixed, gar_fixed_image_bound(images + i * r->N * r->N, r->N),
                                           r->geoms[i].scale)) != GAR_OK)
            return gar_error_context(st, "the batch's particle %zu (from 0)", i);
    }
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

gar_status gar_recon_flush(gar_recon *r)
{
    gar_status st;
    /* In the inserters' order (GPUs in device order), so the host sums are
     * the same from run to run. */
    for (size_t i = 0; i < r->n_inserters; i++)
        if ((st = r->inserters[i].ops->collect(r, &r->inserters[i])) != GAR_OK)
            return st;
    /* Fixed-point sums are flushed after every shard: the shard's next
     * batches go to the GPUs from the first again, so each device's float
     * sum is the same whichever shards came before. */
    if (r->cfg.fixed_sums)
        r->next_inserter = 0;
    return GAR_OK;
}

gar_status gar_recon_set_fixed_scale(gar_recon *r, const gar_fixed_scale *fs)
{
    gar_status st;
    if (!r->cfg.fixed_sums)
        return gar_error(GAR_ERR_INTERNAL, "gar_recon_set_fixed_scale: a reconstructor with float sums");
    /* Sums of the old quanta must not meet the new ones. */
    if ((st = gar_recon_flush(r)) != GAR_OK)
        return st;
    if (r->count[0] + r->count[1] > 0 && (fs->data_exp != r->fixed.data_exp || fs->weight_exp != r->fixed.weight_exp))
        return gar_error(GAR_ERR_INTERNAL, "gar_recon_set_fixed_scale: new quanta over sums not reset");
    r->fixed = *fs;
    r->inv_quantum[0] = ldexpf(1.0f, -fs->data_exp);
    r->inv_quantum[1] = ldexpf(1.0f, -fs->weight_exp);
    r->fixed_ready = 1;
    return GAR_OK;
}

size_t gar_recon_insert_ops(const gar_recon *r) { return r->cfg.sym_mode == GAR_SYM_INSERT ? r->n_ops : 1; }

double gar_recon_blob_sum(const gar_recon *r)
{
    /* The taps within radius a of any point: at most (2⌊a⌋ + 2)² pixels of
     * the bounding square, each weighted at most the blob's peak, 1. */
    const double side = 2.0 * floor(r->cfg.blob_radius) + 2.0;
    return side * side;
}

gar_status gar_recon_partial_view(gar_recon *r, gar_recon_partial *view)
{
    gar_status st = gar_recon_flush(r);
    for (int h = 0; h < 2; h++) {
        view->data[h] = r->G[h];
        view->weight[h] = r->W[h];
        view->data_fixed[h] = r->Gq[h];
        view->weight_fixed[h] = r->Wq[h];
    }
    view->fixed = r->cfg.fixed_sums ? &r->fixed : NULL;
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
        const size_t value = r->cfg.fixed_sums ? sizeof(int64_t) : sizeof(float);
        gar_recon_volume_zero(r->cfg.fixed_sums ? (void *)r->Gq[h] : (void *)r->G[h], r->nvox * 2 * value, r->threads);
        gar_recon_volume_zero(r->cfg.fixed_sums ? (void *)r->Wq[h] : (void *)r->W[h], r->nvox * value, r->threads);
        r->count[h] = 0;
    }
    /* Batches go to the inserters in turn from the first again, as in a new
     * reconstructor: the device sums, and so the map, are the same. */
    r->next_inserter = 0;
    return st;
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

size_t gar_recon_size(const gar_recon *r) { return r->M; }
size_t gar_recon_voxels(const gar_recon *r) { return r->nvox; }
size_t gar_recon_voxel_index(const gar_recon *r, int kx, int ky, int kz)
{
    return gar_sphere_find(r->sphere, kx, ky, kz);
}
int gar_recon_plane_radius(const gar_recon *r) { return r->R; }
double gar_recon_kmax(const gar_recon *r) { return r->kmax; }
size_t gar_recon_plane_pixels(const gar_recon *r) { return r->plane_pixels; }

const float *gar_recon_blob_table(const gar_recon *r, float *inv_step)
{
    *inv_step = r->inv_step;
    return r->blob;
}
