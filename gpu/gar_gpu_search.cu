/* garner: the coarse stage of a global pose search on one GPU (gar_gpu.h).
 *
 * The scores of a chunk of particles against every coarse slice are one
 * cuBLAS product (the slices stay on the device for the whole search); a
 * kernel takes each pose's best origin by NCC, and another keeps each
 * particle's best k poses, so only n × k poses and scores come back. NCC and
 * the ranking are gar_ncc and gar_top_offer of src/gar_kernels.h, as on the
 * CPU; the products differ from OpenBLAS's only by the order of float
 * additions. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "gar_cuda_check.h"
#include "gar_cuda_compat.h"
#include "gar_cuda_libs.h"
#include "gar_gpu.h"
#include "gar_kernels.h"
#include "gar_sysinfo.h"

/* The products of one chunk: n_shift × n_pose floats a particle. */
#define SCORE_BUDGET_BYTES ((size_t)256 << 20)
#define TOP_THREADS 128

struct gar_gpu_scorer {
    gar_gpu_scorer_config cfg;
    char device_name[128];
    char where[192];              /* "GPU 0 (name): search": the start of its error messages */
    size_t chunk;                 /* particles per product */
    cudaStream_t stream;
    const gar_cublas_table *blas_lib;   /* loaded on the first scorer (gar_cuda_libs.h) */
    cublasHandle_t blas;
    int have_stream, have_blas;
    float *P[2], *P2[2];          /* P[1] may alias P[0] */
    float *Y, *W, *S, *NP;
    double *normX, *V, *topv;
    size_t *top;
};

static size_t chunk_of(const gar_gpu_scorer_config *cfg)
{
    const size_t per = cfg->n_shift * cfg->n_pose * sizeof(float) + cfg->n_pose * (sizeof(float) + sizeof(double));
    size_t c = per > 0 ? SCORE_BUDGET_BYTES / per : 1;
    if (c < 1)
        c = 1;
    if (c > cfg->max_particles)
        c = cfg->max_particles > 0 ? cfg->max_particles : 1;
    if (c > 65535)   /* a chunk's particles are the y dimension of best_over_origins' grid */
        c = 65535;
    return c;
}

static size_t memory_of(const gar_gpu_scorer_config *cfg, size_t chunk)
{
    const int two = cfg->P[1] != cfg->P[0];
    const size_t slices = (size_t)(two ? 2 : 1) * cfg->n_pose * 3 * cfg->nb * sizeof(float);
    const size_t per = cfg->n_shift * 2 * cfg->nb * sizeof(float) + cfg->nb * sizeof(float) + sizeof(double) +
                       cfg->n_shift * cfg->n_pose * sizeof(float) + cfg->n_pose * (sizeof(float) + sizeof(double)) +
                       (size_t)cfg->k * (sizeof(size_t) + sizeof(double));
    return slices + chunk * per;
}

extern "C" size_t gar_gpu_scorer_memory(const gar_gpu_scorer_config *cfg) { return memory_of(cfg, chunk_of(cfg)); }

extern "C" void gar_gpu_scorer_destroy(gar_gpu_scorer **pg)
{
    if (pg == NULL || *pg == NULL)
        return;
    gar_gpu_scorer *g = *pg;
    cudaSetDevice(g->cfg.device);
    if (g->have_stream)
        cudaStreamSynchronize(g->stream);
    if (g->P[1] != g->P[0]) {
        cudaFree(g->P[1]);
        cudaFree(g->P2[1]);
    }
    cudaFree(g->P[0]);
    cudaFree(g->P2[0]);
    cudaFree(g->Y);
    cudaFree(g->W);
    cudaFree(g->S);
    cudaFree(g->NP);
    cudaFree(g->normX);
    cudaFree(g->V);
    cudaFree(g->topv);
    cudaFree(g->top);
    if (g->have_blas)
        g->blas_lib->cublasDestroy_v2(g->blas);
    if (g->have_stream)
        cudaStreamDestroy(g->stream);
    free(g);
    *pg = NULL;
}

extern "C" gar_status gar_gpu_scorer_create(const gar_gpu_scorer_config *cfg, gar_gpu_scorer **out)
{
    gar_status st = GAR_OK;
    gar_gpu_scorer *g = NULL;
    size_t free_b = 0, total_b = 0, need;
    char need_s[32], free_s[32];
    *out = NULL;
    if (cfg->k < 1 || cfg->k > GAR_GPU_TOP_MAX || cfg->n_pose == 0 || cfg->nb == 0 || cfg->n_shift == 0)
        return gar_error(GAR_ERR_INTERNAL, "GPU search: %zu poses, %zu band pixels, %zu origins, keep %d: expected "
                         "each > 0 and keep <= %d", cfg->n_pose, cfg->nb, cfg->n_shift, cfg->k, GAR_GPU_TOP_MAX);
    const gar_cublas_table *blas = gar_cublas_load(&st);
    if (blas == NULL)
        return st;
    g = (gar_gpu_scorer *)calloc(1, sizeof *g);
    if (g == NULL)
        return gar_error(GAR_ERR_NOMEM, "GPU search: cannot allocate its handle");
    g->blas_lib = blas;
    g->cfg = *cfg;
    g->chunk = chunk_of(cfg);
    if ((st = gar_gpu_device_name(cfg->device, g->device_name, sizeof g->device_name)) != GAR_OK)
        goto done;
    snprintf(g->where, sizeof g->where, "GPU %d (%s): search", cfg->device, g->device_name);
    GAR_CUDA_TRY(cudaSetDevice(cfg->device), g->where, "select the device");
    GAR_CUDA_TRY(cudaMemGetInfo(&free_b, &total_b), g->where, "read free memory");
    need = memory_of(cfg, g->chunk);
    if (need > free_b) {
        gar_format_bytes((double)need, need_s, sizeof need_s);
        gar_format_bytes((double)free_b, free_s, sizeof free_s);
        st = gar_error(GAR_ERR_NOMEM, "GPU %d (%s): the global search's %zu coarse poses need %s of device memory, "
                       "%s is free; raise [refine] angular_step, or set [gpu] devices = none to search on the CPU",
                       cfg->device, g->device_name, cfg->n_pose, need_s, free_s);
        goto done;
    }
    GAR_CUDA_TRY(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking), g->where, "create a stream");
    g->have_stream = 1;
    GAR_CUBLAS_TRY(g->blas_lib->cublasCreate_v2(&g->blas), g->where, "create the cuBLAS handle");
    g->have_blas = 1;
    GAR_CUBLAS_TRY(g->blas_lib->cublasSetStream_v2(g->blas, g->stream), g->where, "set the cuBLAS stream");
    for (int h = 0; h < 2; h++) {
        if (h == 1 && cfg->P[1] == cfg->P[0]) {
            g->P[1] = g->P[0];
            g->P2[1] = g->P2[0];
            break;
        }
        const size_t np = cfg->n_pose * cfg->nb;
        GAR_CUDA_TRY(cudaMalloc((void **)&g->P[h], np * 2 * sizeof(float)), g->where, "allocate the coarse slices");
        GAR_CUDA_TRY(cudaMalloc((void **)&g->P2[h], np * sizeof(float)), g->where, "allocate the coarse slices");
        GAR_CUDA_TRY(cudaMemcpyAsync(g->P[h], cfg->P[h], np * 2 * sizeof(float), cudaMemcpyHostToDevice, g->stream),
                     g->where, "copy the coarse slices");
        GAR_CUDA_TRY(cudaMemcpyAsync(g->P2[h], cfg->P2[h], np * sizeof(float), cudaMemcpyHostToDevice, g->stream),
                     g->where, "copy the coarse slices");
    }
    {
        const size_t c = g->chunk, k = (size_t)cfg->k;
        GAR_CUDA_TRY(cudaMalloc((void **)&g->Y, c * cfg->n_shift * 2 * cfg->nb * sizeof(float)), g->where,
                     "allocate particle rows");
        GAR_CUDA_TRY(cudaMalloc((void **)&g->W, c * cfg->nb * sizeof(float)), g->where, "allocate CTF weights");
        GAR_CUDA_TRY(cudaMalloc((void **)&g->S, c * cfg->n_shift * cfg->n_pose * sizeof(float)), g->where,
                     "allocate scores");
        GAR_CUDA_TRY(cudaMalloc((void **)&g->NP, c * cfg->n_pose * sizeof(float)), g->where, "allocate slice norms");
        GAR_CUDA_TRY(cudaMalloc((void **)&g->normX, c * sizeof(double)), g->where, "allocate particle norms");
        GAR_CUDA_TRY(cudaMalloc((void **)&g->V, c * cfg->n_pose * sizeof(double)), g->where, "allocate pose scores");
        GAR_CUDA_TRY(cudaMalloc((void **)&g->topv, c * k * sizeof(double)), g->where, "allocate the best poses");
        GAR_CUDA_TRY(cudaMalloc((void **)&g->top, c * k * sizeof(size_t)), g->where, "allocate the best poses");
    }
    GAR_CUDA_TRY(cudaStreamSynchronize(g->stream), g->where, "copy the coarse slices");
done:
    if (st != GAR_OK) {
        gar_gpu_scorer_destroy(&g);
        return st;
    }
    *out = g;
    return GAR_OK;
}

/* V[p][c]: pose c's best NCC over particle p's origins (−3 below any). */
__global__ void best_over_origins(const float *__restrict__ S, const float *__restrict__ NP,
                                  const double *__restrict__ normX, size_t n_shift, size_t n_pose, double *V)
{
    const size_t c = (size_t)blockIdx.x * blockDim.x + threadIdx.x, p = blockIdx.y;
    if (c >= n_pose)
        return;
    const float np = NP[p * n_pose + c];
    const double nx = normX[p];
    double v = -3.0;
    for (size_t i = 0; i < n_shift; i++) {
        const double x = gar_ncc(S[(p * n_shift + i) * n_pose + c], nx, np);
        if (x > v)
            v = x;
    }
    V[p * n_pose + c] = v;
}

/* One block a particle: each thread ranks a strided share of the poses, then
 * one thread merges the lists (gar_top_offer keeps the same first k in any
 * order of offers). */
__global__ void best_poses(const double *__restrict__ V, size_t n_pose, int k, size_t *top, double *topv)
{
    GAR_SHARED(double, sv, [TOP_THREADS * GAR_GPU_TOP_MAX]);
    GAR_SHARED(size_t, sc, [TOP_THREADS * GAR_GPU_TOP_MAX]);
    GAR_SHARED(int, sn, [TOP_THREADS]);
    const size_t p = blockIdx.x;
    const int t = threadIdx.x;
    double lv[GAR_GPU_TOP_MAX];
    size_t lc[GAR_GPU_TOP_MAX];
    int n = 0;
    for (size_t c = (size_t)t; c < n_pose; c += TOP_THREADS)
        gar_top_offer(lv, lc, &n, k, V[p * n_pose + c], c);
    for (int j = 0; j < n; j++) {
        sv[t * GAR_GPU_TOP_MAX + j] = lv[j];
        sc[t * GAR_GPU_TOP_MAX + j] = lc[j];
    }
    sn[t] = n;
    __syncthreads();
    if (t != 0)
        return;
    n = 0;
    for (int u = 0; u < TOP_THREADS; u++)
        for (int j = 0; j < sn[u]; j++)
            gar_top_offer(lv, lc, &n, k, sv[u * GAR_GPU_TOP_MAX + j], sc[u * GAR_GPU_TOP_MAX + j]);
    for (int j = 0; j < k; j++) {
        topv[p * (size_t)k + j] = j < n ? lv[j] : -3.0;
        top[p * (size_t)k + j] = j < n ? lc[j] : 0;
    }
}

extern "C" gar_status gar_gpu_scorer_top(gar_gpu_scorer *g, int h, const float *Y, const float *wc2,
                                         const double *normX, size_t n, size_t *top, double *topv)
{
    gar_status st = GAR_OK;
    const gar_gpu_scorer_config *cfg = &g->cfg;
    const float one = 1.0f, zero = 0.0f;
    const size_t k = (size_t)cfg->k, nb = cfg->nb, ns = cfg->n_shift, npose = cfg->n_pose;
    if (h < 0 || h > 1 || n > cfg->max_particles)
        return gar_error(GAR_ERR_INTERNAL, "GPU search: half set %d, %zu particles (at most %zu)", h, n,
                         cfg->max_particles);
    GAR_CUDA_TRY(cudaSetDevice(cfg->device), g->where, "select the device");
    for (size_t first = 0; first < n; first += g->chunk) {
        const size_t m = n - first < g->chunk ? n - first : g->chunk;
        GAR_CUDA_TRY(cudaMemcpyAsync(g->Y, Y + first * ns * 2 * nb, m * ns * 2 * nb * sizeof(float),
                                     cudaMemcpyHostToDevice, g->stream),
                     g->where, "copy particle rows");
        GAR_CUDA_TRY(cudaMemcpyAsync(g->W, wc2 + first * nb, m * nb * sizeof(float), cudaMemcpyHostToDevice, g->stream),
                     g->where, "copy CTF weights");
        GAR_CUDA_TRY(cudaMemcpyAsync(g->normX, normX + first, m * sizeof(double), cudaMemcpyHostToDevice, g->stream),
                     g->where, "copy particle norms");
        /* Row-major S (m·ns × npose) = Y Pᵀ is column-major Sᵀ = Pᵀ' Y' (see the header). */
        GAR_CUBLAS_TRY(g->blas_lib->cublasSgemm_v2(g->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)npose, (int)(m * ns), (int)(2 * nb),
                                           &one, g->P[h], (int)(2 * nb), g->Y, (int)(2 * nb), &zero, g->S, (int)npose),
                       g->where, "score the coarse poses");
        GAR_CUBLAS_TRY(g->blas_lib->cublasSgemm_v2(g->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)npose, (int)m, (int)nb, &one,
                                           g->P2[h], (int)nb, g->W, (int)nb, &zero, g->NP, (int)npose),
                       g->where, "weigh the coarse slices");
        {
            dim3 grid((unsigned)((npose + 255) / 256), (unsigned)m);
            GAR_LAUNCH(best_over_origins, grid, 256, 0, g->stream, g->S, g->NP, g->normX, ns, npose, g->V);
            GAR_CUDA_TRY(cudaGetLastError(), g->where, "best origin kernel");
            GAR_LAUNCH(best_poses, (unsigned)m, TOP_THREADS, 0, g->stream, g->V, npose, cfg->k, g->top, g->topv);
            GAR_CUDA_TRY(cudaGetLastError(), g->where, "best poses kernel");
        }
        GAR_CUDA_TRY(cudaMemcpyAsync(top + first * k, g->top, m * k * sizeof(size_t), cudaMemcpyDeviceToHost,
                                     g->stream),
                     g->where, "copy the best poses");
        GAR_CUDA_TRY(cudaMemcpyAsync(topv + first * k, g->topv, m * k * sizeof(double), cudaMemcpyDeviceToHost,
                                     g->stream),
                     g->where, "copy the best poses");
        GAR_CUDA_TRY(cudaStreamSynchronize(g->stream), g->where, "coarse search");
    }
done:
    return st;
}
