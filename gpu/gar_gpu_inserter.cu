/* garner: gather insertion on a GPU: the inserter's handle and its host
 * thread (see gar_gpu.h for the contract).
 *
 * Per batch, on the device's kernel stream: the particles are normalised and
 * zero-padded (pad_images), transformed by one batched R2C cuFFT, and turned
 * into prepared planes with the shift phase and the CTF (make_planes); then
 * the gather kernel adds every slice (particle × insertion operator) to the
 * volumes. The next batch is copied on the copy stream meanwhile. The kernels
 * are in gar_gpu_gather.cu, the choice among the gather's variants in
 * gar_gpu_tuning.cu. */
#include <cuda_runtime.h>
#include <cufft.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "gar_cuda_check.h"
#include "gar_fixedsum.h"
#include "gar_gpu.h"
#include "gar_gpu_gather.h"
#include "gar_gpu_inserter.h"
#include "gar_kernels.h"
#include "gar_log.h"

using gar_gather::GatherArgs;
using gar_gather::LaunchCtx;
using gar_gather::n_variants;
using gar_gather::variant_usable;
using gar_gather::variants;


extern "C" gar_status gar_gpu_memory_need(const gar_gpu_insert_config *cfg, size_t *fixed, size_t *per_particle,
                                          size_t *per_particle_other)
{
    const size_t M = (size_t)cfg->padded, H = M / 2 + 1, N = (size_t)cfg->box;
    const size_t side = 2 * (size_t)cfg->plane_radius + 1, pp = side * side;
    size_t fft_work = 0;
    int n[2] = {(int)M, (int)M};
    /* Both half sets' data and weights, the sphere's rows, the blob table,
     * and during a tuning one scratch set. */
    if (cfg->sphere == NULL)
        return gar_error(GAR_ERR_INTERNAL, "GPU memory estimate: no layout for the sums");
    const size_t nvox = cfg->sphere->count;
    *fixed = nvox * 2 * 3 * sizeof(float) + gar_sphere_table_bytes(cfg->sphere->K) + GAR_BLOB_TABLE * sizeof(float) +
             (cfg->tuning == GAR_TUNE_AUTO || cfg->tuning == GAR_TUNE_FORCE ? nvox * 3 * sizeof(float) : 0) +
             ((size_t)64 << 20);   /* the CUDA context's own margin */
    const size_t meta = 2 * (sizeof(gar_particle_geom) + cfg->n_ops * sizeof(gar_slice_geom));
    /* An estimate, not a failure: without cuFFT's, assume a transform's size. */
    const gar_cufft_table *fft = cfg->fft_on_gpu ? gar_cufft_load(NULL) : NULL;
    if (fft == NULL || fft->cufftEstimateMany(2, n, NULL, 1, 0, NULL, 1, 0, CUFFT_R2C, 1, &fft_work) != CUFFT_SUCCESS)
        fft_work = M * H * 2 * sizeof(float);
    /* On the device: two staged batches of images, the padded images, their
     * transforms and cuFFT's work area, and the planes; else two staged
     * batches of planes. */
    const size_t with_fft = 2 * N * N * sizeof(float) + M * M * sizeof(float) + M * H * 2 * sizeof(float) +
                            fft_work + 3 * pp * sizeof(float) + meta;
    const size_t without = 2 * 3 * pp * sizeof(float) + meta;
    *per_particle = cfg->fft_on_gpu ? with_fft : without;
    *per_particle_other = cfg->fft_on_gpu ? without : with_fft;
    return GAR_OK;
}

/* One batch: copy (copy stream), prepare and gather (kernel stream). */
static gar_status process_stage(gar_gpu_inserter *g, stage_buf *s)
{
    gar_status st = GAR_OK;
    const int M = g->cfg.padded, N = g->cfg.box;
    const size_t n_sl = s->count * g->cfg.n_ops;
    GatherArgs args;
    /* The slices: each particle under each insertion operator, in the CPU's
     * order (particles, then operators). */
    for (size_t i = 0; i < s->count; i++)
        for (size_t k = 0; k < g->cfg.n_ops; k++) {
            double As[9];
            gar_mat3_mul_bt(s->host_geoms[i].A, g->ops + 9 * k, As);
            gar_slice_geom_make(As, s->host_geoms[i].half, (int)i, &s->host_slices[i * g->cfg.n_ops + k]);
        }
    GAR_CUDA_TRY(cudaStreamWaitEvent(g->copy_stream, s->computed, 0), g->where, "stream wait");
    GAR_CUDA_TRY(cudaMemcpyAsync(s->dev_data, s->host_data, s->count * g->data_floats * sizeof(float),
                                 cudaMemcpyHostToDevice, g->copy_stream),
                 g->where, "copy of particles");
    GAR_CUDA_TRY(cudaMemcpyAsync(s->dev_geoms, s->host_geoms, s->count * sizeof(gar_particle_geom),
                                 cudaMemcpyHostToDevice, g->copy_stream),
                 g->where, "copy of particle geometry");
    GAR_CUDA_TRY(cudaMemcpyAsync(s->dev_slices, s->host_slices, n_sl * sizeof(gar_slice_geom),
                                 cudaMemcpyHostToDevice, g->copy_stream),
                 g->where, "copy of slices");
    GAR_CUDA_TRY(cudaEventRecord(s->copied, g->copy_stream), g->where, "event");
    GAR_CUDA_TRY(cudaStreamWaitEvent(g->compute_stream, s->copied, 0), g->where, "stream wait");
    const float *planes;
    if (g->cfg.fft_on_gpu) {
        gar_gather::launch_pad_images(s->dev_data, s->count, N, M, g->real, g->compute_stream);
        GAR_CUDA_TRY(cudaGetLastError(), g->where, "padding kernel");
        cufftHandle plan = g->plan;
        if (s->count < g->cfg.batch) {
            /* A short batch (the last): transform only its particles, not
             * the stale slots after them. */
            if (g->short_count != s->count) {
                int n[2] = {M, M};
                if (g->short_count != 0)
                    g->fft->cufftDestroy(g->short_plan);
                g->short_count = 0;
                GAR_CUFFT_TRY_AS(GAR_ERR_NOMEM, g->fft->cufftPlanMany(&g->short_plan, 2, n, NULL, 1, 0, NULL, 1, 0,
                                                                      CUFFT_R2C, (int)s->count),
                                 g->where, "cannot plan the FFT of a short batch");
                g->short_count = s->count;
                GAR_CUFFT_TRY(g->fft->cufftSetStream(g->short_plan, g->compute_stream), g->where,
                              "FFT of a short batch");
            }
            plan = g->short_plan;
        }
        GAR_CUFFT_TRY(g->fft->cufftExecR2C(plan, (cufftReal *)g->real, (cufftComplex *)g->spec), g->where,
                      "transform of the particles");
        gar_gather::launch_make_planes(g->spec, s->dev_geoms, s->count, M, g->cfg.plane_radius, g->rlim,
                                       (double)M * g->cfg.pixel_size_A, g->cfg.lattice, g->pp, g->planes,
                                       g->max_grid_y, g->compute_stream);
        GAR_CUDA_TRY(cudaGetLastError(), g->where, "plane kernel");
        planes = g->planes;
    } else {
        planes = s->dev_data;
    }
    args = g->ctx.g;
    args.planes = planes;
    args.slices = s->dev_slices;
    args.n_slices = (int)n_sl;
    args.first_slice = 0;
    if (!g->tuned && (g->cfg.tuning == GAR_TUNE_AUTO || g->cfg.tuning == GAR_TUNE_FORCE) && n_sl > 0 &&
        (st = gar_tuning_run(g, args)) != GAR_OK)
        goto done;
    {
        LaunchCtx c = g->ctx;
        c.g = args;
        GAR_CUDA_TRY(variants[g->variant].launch(c), g->where, "gather kernel");
    }
    GAR_CUDA_TRY(cudaEventRecord(s->computed, g->compute_stream), g->where, "event");
    /* The pinned buffer may be refilled once its copy is done. */
    GAR_CUDA_TRY(cudaEventSynchronize(s->copied), g->where, "copy of particles");
done:
    return st;
}

static void *device_thread(void *arg)
{
    gar_gpu_inserter *g = (gar_gpu_inserter *)arg;
    cudaSetDevice(g->cfg.device);
    pthread_mutex_lock(&g->mu);
    for (;;) {
        stage_buf *s = &g->stage[g->take];
        if (s->state == STAGE_FILLED) {
            pthread_mutex_unlock(&g->mu);
            gar_status st = g->err == GAR_OK ? process_stage(g, s) : GAR_OK;
            pthread_mutex_lock(&g->mu);
            if (st != GAR_OK && g->err == GAR_OK) {
                g->err = st;
                snprintf(g->errmsg, sizeof g->errmsg, "%s", gar_errmsg());
            }
            s->state = STAGE_FREE;
            g->take ^= 1;
            pthread_cond_broadcast(&g->cv);
        } else if (g->flush_req) {
            pthread_mutex_unlock(&g->mu);
            cudaError_t e = cudaStreamSynchronize(g->compute_stream);
            pthread_mutex_lock(&g->mu);
            if (e != cudaSuccess && g->err == GAR_OK) {
                g->err = gar_cuda_fail(e, GAR_ERR_INTERNAL, g->where, "gather kernel", "cudaStreamSynchronize");
                snprintf(g->errmsg, sizeof g->errmsg, "%s", gar_errmsg());
            }
            g->flush_req = 0;
            g->flushed = 1;
            pthread_cond_broadcast(&g->cv);
        } else if (g->quit) {
            break;
        } else {
            pthread_cond_wait(&g->cv, &g->mu);
        }
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

static void format_gib(double bytes, char *buf, size_t len) { snprintf(buf, len, "%.2f GiB", bytes / 1073741824.0); }

/* Does the run fit in the device's free memory? If not, say what would. */
static gar_status check_device_memory(const gar_gpu_inserter *g)
{
    size_t fixed, per, per_other, free_b = 0, total_b = 0;
    char need[32], avail[32];
    gar_gpu_memory_need(&g->cfg, &fixed, &per, &per_other);
    const cudaError_t e = cudaMemGetInfo(&free_b, &total_b);
    if (e != cudaSuccess)
        return gar_cuda_fail(e, GAR_ERR_NO_DEVICE, g->where, "cannot read its free memory", "cudaMemGetInfo");
    const size_t need_b = fixed + g->cfg.batch * per;
    if (need_b <= free_b)
        return GAR_OK;
    char tuning[160] = "";
    if (g->cfg.tuning == GAR_TUNE_AUTO || g->cfg.tuning == GAR_TUNE_FORCE)
        snprintf(tuning, sizeof tuning, "; [gpu] tuning = off (or cached) saves the tuning's scratch volume of %.2f GiB",
                 g->nvox * 3 * sizeof(float) / 1073741824.0);
    format_gib((double)need_b, need, sizeof need);
    format_gib((double)free_b, avail, sizeof avail);
    if (fixed >= free_b)
        return gar_error(GAR_ERR_NOMEM,
                         "GPU %d (%s): the run needs %s of device memory and %s is free; the volumes alone need "
                         "%.2f GiB: use a smaller [reconstruct] pad or max_resolution, or [gpu] devices = none%s",
                         g->cfg.device, g->device_name, need, avail, fixed / 1073741824.0, tuning);
    const size_t fits = (free_b - fixed) / per, fits_other = (free_b - fixed) / per_other;
    char other[160] = "";
    if (fits_other >= g->cfg.batch)
        snprintf(other, sizeof other, ", or [gpu] fft_on_gpu = %s with this batch",
                 g->cfg.fft_on_gpu ? "no" : "yes");
    else if (fits_other > fits)
        snprintf(other, sizeof other, ", or [gpu] fft_on_gpu = %s with [reconstruct] batch = %zu",
                 g->cfg.fft_on_gpu ? "no" : "yes", fits_other);
    return gar_error(GAR_ERR_NOMEM,
                     "GPU %d (%s): the run needs %s of device memory and %s is free; [reconstruct] batch = %zu "
                     "would fit (it is %zu)%s%s",
                     g->cfg.device, g->device_name, need, avail, fits, g->cfg.batch, other, tuning);
}

extern "C" gar_status gar_gpu_inserter_create(const gar_gpu_insert_config *cfg, gar_gpu_inserter **out)
{
    gar_status st = GAR_OK;
    gar_gpu_inserter *g = NULL;
    int count = 0, max_smem = 0, max_grid_y = 0;
    const size_t side = 2 * (size_t)cfg->plane_radius + 1;
    *out = NULL;
    if ((st = gar_gpu_device_count(&count)) != GAR_OK)
        return st;
    if (cfg->device < 0 || cfg->device >= count)
        return gar_error(GAR_ERR_USAGE, "[gpu] devices: GPU %d does not exist (this node has %d)", cfg->device,
                         count);
    if ((st = gar_calloc((void **)&g, 1, sizeof *g, "GPU inserter")) != GAR_OK)
        return st;
    g->cfg = *cfg;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    gar_gpu_device_name(cfg->device, g->device_name, sizeof g->device_name);
    snprintf(g->where, sizeof g->where, "GPU %d (%s)", cfg->device, g->device_name);
    if (cfg->sphere == NULL) {
        st = gar_error(GAR_ERR_INTERNAL, "GPU inserter: no layout for the sums");
        goto done;
    }
    g->nvox = cfg->sphere->count;
    g->pp = side * side;
    g->data_floats = cfg->fft_on_gpu ? (size_t)cfg->box * cfg->box : 3 * g->pp;
    g->rlim = cfg->kmax + cfg->blob_radius + 1.0;
    if ((st = gar_alloc((void **)&g->ops, cfg->n_ops, 9 * sizeof(double), "operators")) != GAR_OK ||
        (st = gar_alloc((void **)&g->table_host, GAR_BLOB_TABLE, sizeof(float), "blob table")) != GAR_OK)
        goto done;
    memcpy(g->ops, cfg->ops, cfg->n_ops * 9 * sizeof(double));
    memcpy(g->table_host, cfg->blob_table, GAR_BLOB_TABLE * sizeof(float));
    g->cfg.ops = g->ops;
    g->cfg.blob_table = g->table_host;
    g->cache_path = cfg->tuning_cache && cfg->tuning_cache[0] ? strdup(cfg->tuning_cache) : NULL;
    g->key = strdup(cfg->tuning_key ? cfg->tuning_key : "");
    g->cfg.tuning_cache = g->cache_path;
    g->cfg.tuning_key = g->key;
    if (g->key == NULL) {
        st = gar_error(GAR_ERR_NOMEM, "GPU inserter: out of memory");
        goto done;
    }
    GAR_CUDA_TRY(cudaSetDevice(cfg->device), g->where, "select device");
    if ((st = check_device_memory(g)) != GAR_OK)
        goto done;
    GAR_CUDA_TRY(cudaDeviceGetAttribute(&max_smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, cfg->device), g->where,
                 "device attributes");
    GAR_CUDA_TRY(cudaDeviceGetAttribute(&max_grid_y, cudaDevAttrMaxGridDimY, cfg->device), g->where,
                 "device attributes");
    g->max_grid_y = max_grid_y > 0 ? (unsigned)max_grid_y : 65535u;
    GAR_CUDA_TRY(cudaStreamCreateWithFlags(&g->copy_stream, cudaStreamNonBlocking), g->where, "stream");
    GAR_CUDA_TRY(cudaStreamCreateWithFlags(&g->compute_stream, cudaStreamNonBlocking), g->where, "stream");
    for (int h = 0; h < 2; h++) {
        GAR_CUDA_TRY(cudaMalloc((void **)&g->G[h], g->nvox * 2 * sizeof(float)), g->where, "data volume");
        GAR_CUDA_TRY(cudaMalloc((void **)&g->W[h], g->nvox * sizeof(float)), g->where, "weight volume");
        GAR_CUDA_TRY(cudaMemset(g->G[h], 0, g->nvox * 2 * sizeof(float)), g->where, "data volume");
        GAR_CUDA_TRY(cudaMemset(g->W[h], 0, g->nvox * sizeof(float)), g->where, "weight volume");
    }
    GAR_CUDA_TRY(cudaMalloc((void **)&g->dev_rows, gar_sphere_table_bytes(cfg->sphere->K)), g->where, "row table");
    GAR_CUDA_TRY(cudaMemcpy(g->dev_rows, cfg->sphere->row_start, gar_sphere_table_bytes(cfg->sphere->K),
                            cudaMemcpyHostToDevice),
                 g->where, "row table");
    GAR_CUDA_TRY(cudaMalloc((void **)&g->dev_table, GAR_BLOB_TABLE * sizeof(float)), g->where, "blob table");
    GAR_CUDA_TRY(cudaMemcpy(g->dev_table, g->table_host, GAR_BLOB_TABLE * sizeof(float), cudaMemcpyHostToDevice),
                 g->where, "blob table");
    if (cfg->fft_on_gpu) {
        const size_t M = (size_t)cfg->padded;
        int n[2] = {cfg->padded, cfg->padded};
        GAR_CUDA_TRY(cudaMalloc((void **)&g->real, cfg->batch * M * M * sizeof(float)), g->where,
                     "padded particles");
        GAR_CUDA_TRY(cudaMalloc((void **)&g->spec, cfg->batch * M * (M / 2 + 1) * 2 * sizeof(float)), g->where,
                     "transforms");
        GAR_CUDA_TRY(cudaMalloc((void **)&g->planes, cfg->batch * 3 * g->pp * sizeof(float)), g->where,
                     "particle planes");
        if ((g->fft = gar_cufft_load(&st)) == NULL)
            goto done;
        char what[128];
        snprintf(what, sizeof what, "cannot plan the batched FFT of %zu particles of %d²", cfg->batch, cfg->padded);
        /* Any failure to plan is out of memory, as it was before the checker:
         * a batch too large for the device is the usual cause. */
        GAR_CUFFT_TRY_AS(GAR_ERR_NOMEM, g->fft->cufftPlanMany(&g->plan, 2, n, NULL, 1, 0, NULL, 1, 0, CUFFT_R2C,
                                                      (int)cfg->batch), g->where, what);
        g->have_plan = 1;
        GAR_CUFFT_TRY_AS(GAR_ERR_NOMEM, g->fft->cufftSetStream(g->plan, g->compute_stream), g->where, what);
    }
    for (int b = 0; b < 2; b++) {
        stage_buf *s = &g->stage[b];
        GAR_CUDA_TRY(cudaHostAlloc((void **)&s->host_data, cfg->batch * g->data_floats * sizeof(float), 0), g->where,
                     "pinned particle buffer");
        GAR_CUDA_TRY(cudaHostAlloc((void **)&s->host_geoms, cfg->batch * sizeof(gar_particle_geom), 0), g->where,
                     "pinned geometry buffer");
        GAR_CUDA_TRY(cudaHostAlloc((void **)&s->host_slices, cfg->batch * cfg->n_ops * sizeof(gar_slice_geom), 0),
                     g->where, "pinned slice buffer");
        GAR_CUDA_TRY(cudaMalloc((void **)&s->dev_data, cfg->batch * g->data_floats * sizeof(float)), g->where,
                     "particle buffer");
        GAR_CUDA_TRY(cudaMalloc((void **)&s->dev_geoms, cfg->batch * sizeof(gar_particle_geom)), g->where,
                     "geometry buffer");
        GAR_CUDA_TRY(cudaMalloc((void **)&s->dev_slices, cfg->batch * cfg->n_ops * sizeof(gar_slice_geom)), g->where,
                     "slice buffer");
        GAR_CUDA_TRY(cudaEventCreateWithFlags(&s->copied, cudaEventDisableTiming), g->where, "event");
        GAR_CUDA_TRY(cudaEventCreateWithFlags(&s->computed, cudaEventDisableTiming), g->where, "event");
    }
    /* Everything above (on the legacy stream) done before the device
     * thread's non-blocking streams start. */
    GAR_CUDA_TRY(cudaDeviceSynchronize(), g->where, "device set-up");
    /* The launch context every batch starts from. */
    g->ctx.stream = g->compute_stream;
    g->ctx.max_smem = (size_t)max_smem;
    g->ctx.blob_order = cfg->blob_order;
    for (int h = 0; h < 2; h++) {
        g->ctx.g.G[h] = g->G[h];
        g->ctx.g.W[h] = g->W[h];
    }
    g->ctx.g.pp = g->pp;
    g->ctx.g.R = cfg->plane_radius;
    g->ctx.g.table = g->dev_table;
    g->ctx.g.inv_step = cfg->inv_step;
    g->ctx.g.a2 = (float)(cfg->blob_radius * cfg->blob_radius);
    g->ctx.g.a = (double)(float)cfg->blob_radius;   /* the CPU's float radius, widened */
    g->ctx.g.alpha = (float)cfg->blob_alpha;
    g->ctx.g.inv_i0 = (float)(1.0 / gar_bessel_i(0, cfg->blob_alpha));
    g->ctx.g.terms = (int)ceil(1.2 * cfg->blob_alpha) + 8;
    g->ctx.g.kmax2 = cfg->kmax * cfg->kmax;
    g->ctx.g.M = cfg->padded;
    g->ctx.g.kbound = cfg->kbound;
    g->ctx.g.kxbound = cfg->kxbound;
    g->ctx.g.rows = g->dev_rows;
    g->ctx.g.side = cfg->sphere->side;
    g->variant = 0;
    if (cfg->variant > 0) {
        if (cfg->variant > n_variants || !variant_usable(variants[cfg->variant - 1], g->ctx)) {
            st = gar_error(GAR_ERR_USAGE, "GPU %d (%s): gather variant %d does not exist or cannot run here",
                           cfg->device, g->device_name, cfg->variant - 1);
            goto done;
        }
        g->variant = cfg->variant - 1;
        g->tuned = 1;
    } else if (cfg->tuning != GAR_TUNE_OFF && cfg->tuning != GAR_TUNE_FORCE) {
        int v = gar_tuning_lookup(g);
        if (v >= 0) {
            g->variant = v;
            g->tuned = 1;
            gar_log_info("GPU %d (%s): gather variant from the tuning cache %s: %s", cfg->device, g->device_name,
                         g->cache_path, variants[v].name);
        } else if (cfg->tuning == GAR_TUNE_CACHED) {
            g->tuned = 1;
        }
    } else if (cfg->tuning == GAR_TUNE_OFF) {
        g->tuned = 1;
    }
    if (!g->tuned && (cfg->tuning == GAR_TUNE_AUTO || cfg->tuning == GAR_TUNE_FORCE))
        /* Now, not at the first batch: an inserter created after this one on
         * the same device (devices 0,0, or ranks sharing it) checks its
         * memory against what this one will use. */
        GAR_CUDA_TRY(cudaMalloc((void **)&g->tune_scratch, g->nvox * 3 * sizeof(float)), g->where,
                     "tuning scratch volume");
    if (pthread_create(&g->thread, NULL, device_thread, g) != 0) {
        st = gar_error(GAR_ERR_INTERNAL, "GPU %d: cannot start its host thread", cfg->device);
        goto done;
    }
    g->thread_started = 1;
    *out = g;
    g = NULL;
done:
    gar_gpu_inserter_destroy(&g);
    return st;
}

extern "C" void gar_gpu_inserter_destroy(gar_gpu_inserter **pg)
{
    gar_gpu_inserter *g;
    if (pg == NULL || *pg == NULL)
        return;
    g = *pg;
    if (g->thread_started) {
        pthread_mutex_lock(&g->mu);
        g->quit = 1;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        pthread_join(g->thread, NULL);
    }
    cudaSetDevice(g->cfg.device);
    if (g->compute_stream)
        cudaStreamSynchronize(g->compute_stream);
    if (g->copy_stream)
        cudaStreamSynchronize(g->copy_stream);
    for (int b = 0; b < 2; b++) {
        stage_buf *s = &g->stage[b];
        cudaFreeHost(s->host_data);
        cudaFreeHost(s->host_geoms);
        cudaFreeHost(s->host_slices);
        cudaFree(s->dev_data);
        cudaFree(s->dev_geoms);
        cudaFree(s->dev_slices);
        if (s->copied)
            cudaEventDestroy(s->copied);
        if (s->computed)
            cudaEventDestroy(s->computed);
    }
    if (g->have_plan)
        g->fft->cufftDestroy(g->plan);
    if (g->short_count != 0)
        g->fft->cufftDestroy(g->short_plan);
    cudaFree(g->tune_scratch);
    for (int h = 0; h < 2; h++) {
        cudaFree(g->G[h]);
        cudaFree(g->W[h]);
    }
    cudaFree(g->dev_table);
    cudaFree(g->dev_rows);
    cudaFree(g->planes);
    cudaFree(g->real);
    cudaFree(g->spec);
    if (g->copy_stream)
        cudaStreamDestroy(g->copy_stream);
    if (g->compute_stream)
        cudaStreamDestroy(g->compute_stream);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g->ops);
    free(g->table_host);
    free(g->cache_path);
    free(g->key);
    free(g);
    *pg = NULL;
}

static gar_status take_error(gar_gpu_inserter *g)
{
    /* Called with the lock held. */
    return g->err == GAR_OK ? GAR_OK : gar_error(g->err, "%s", g->errmsg);
}

extern "C" gar_status gar_gpu_inserter_submit(gar_gpu_inserter *g, const float *data, const gar_particle_geom *geoms,
                                              size_t count)
{
    gar_status st;
    stage_buf *s;
    if (count == 0)
        return GAR_OK;
    if (count > g->cfg.batch)
        return gar_error(GAR_ERR_INTERNAL, "GPU submit of %zu particles exceeds the batch of %zu", count,
                         g->cfg.batch);
    pthread_mutex_lock(&g->mu);
    s = &g->stage[g->fill];
    while (s->state != STAGE_FREE && g->err == GAR_OK)
        pthread_cond_wait(&g->cv, &g->mu);
    st = take_error(g);
    pthread_mutex_unlock(&g->mu);
    if (st != GAR_OK)
        return st;
    /* The stage is ours until it is marked filled. */
    memcpy(s->host_data, data, count * g->data_floats * sizeof(float));
    memcpy(s->host_geoms, geoms, count * sizeof *geoms);
    s->count = count;
    pthread_mutex_lock(&g->mu);
    s->state = STAGE_FILLED;
    g->fill ^= 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return GAR_OK;
}

extern "C" gar_status gar_gpu_inserter_collect(gar_gpu_inserter *g, const gar_gpu_sums *sums)
{
    gar_status st = GAR_OK;
    const size_t chunk = (size_t)4 << 20;   /* floats per copy: 16 MiB of host memory */
    float *buf = NULL;
    pthread_mutex_lock(&g->mu);
    g->flush_req = 1;
    pthread_cond_broadcast(&g->cv);
    while (!g->flushed)
        pthread_cond_wait(&g->cv, &g->mu);
    g->flushed = 0;
    st = take_error(g);
    pthread_mutex_unlock(&g->mu);
    if (st != GAR_OK)
        return st;
    if ((st = gar_alloc((void **)&buf, chunk, sizeof(float), "GPU download buffer")) != GAR_OK)
        return st;
    GAR_CUDA_TRY(cudaSetDevice(g->cfg.device), g->where, "select device");
    /* The device's volumes are in the host's layout (cfg.sphere): added as they are. */
    for (int h = 0; h < 2; h++)
        for (int part = 0; part < 2; part++) {
            float *dev = part == 0 ? g->G[h] : g->W[h];
            float *host = part == 0 ? sums->G[h] : sums->W[h];
            int64_t *fixed = part == 0 ? sums->Gq[h] : sums->Wq[h];
            const size_t n = part == 0 ? 2 * g->nvox : g->nvox;
            for (size_t off = 0; off < n; off += chunk) {
                const size_t m = n - off < chunk ? n - off : chunk;
                GAR_CUDA_TRY(cudaMemcpy(buf, dev + off, m * sizeof(float), cudaMemcpyDeviceToHost), g->where,
                             "download of sums");
                if (host != NULL)
                    for (size_t i = 0; i < m; i++)
                        host[off + i] += buf[i];
                else if ((st = gar_fixed_add_floats(fixed + off, buf, m, part == 0 ? sums->data_exp : sums->weight_exp,
                                                    sums->threads)) != GAR_OK) {
                    st = gar_error_context(st, "GPU %d: half set %d %s, from value %zu", g->cfg.device, h + 1,
                                           part == 0 ? "data" : "weights", off);
                    goto done;
                }
            }
            /* On the kernel stream, so the next batch's gather follows it. */
            GAR_CUDA_TRY(cudaMemsetAsync(dev, 0, n * sizeof(float), g->compute_stream), g->where, "clearing the sums");
        }
done:
    free(buf);
    return st;
}

extern "C" int gar_gpu_variant_count(void) { return n_variants; }

extern "C" const char *gar_gpu_variant_name(int i) { return i >= 0 && i < n_variants ? variants[i].name : NULL; }

extern "C" const char *gar_gpu_inserter_variant(const gar_gpu_inserter *g) { return variants[g->variant].name; }

extern "C" void gar_gpu_inserter_tuning_report(const gar_gpu_inserter *g, char *report, size_t len)
{
    snprintf(report, len, "%s", g->report);
}
