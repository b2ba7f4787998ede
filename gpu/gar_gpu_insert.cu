/* garner: gather insertion on a GPU (see gar_gpu.h for the contract).
 *
 * Per batch, on the device's kernel stream: the particles are normalised and
 * zero-padded (pad_images), transformed by one batched R2C cuFFT, and turned
 * into prepared planes with the shift phase and the CTF (make_planes); then
 * the gather kernel adds every slice (particle × insertion operator) to the
 * volumes. The next batch is copied on the copy stream meanwhile.
 *
 * The gather comes in two families, each with compile-time variants that the
 * run-time tuning times against each other (Štřelák et al., IJHPCA 2019,
 * found the best variant changes with the GPU and the image size):
 *   voxel:  one thread per voxel (or TZ voxels along z), every slice of the
 *           batch in order, sums kept in registers and added to the volume
 *           once per batch: no atomics, deterministic. Variants: block shape,
 *           TZ (thread tiling along z), blob weights from a table in shared
 *           or global memory or computed on the fly. Blocks skip the slices
 *           that pass farther than the blob radius from their tile.
 *   column: the CPU's loop: one thread per column of the coordinate plane
 *           most parallel to a slice, walking the few voxels within the blob
 *           radius; PPL slices per launch, with atomics when PPL > 1; the
 *           particle's plane read from global memory or staged in shared
 *           memory (when it fits).
 * Every variant computes q = A·K and the gather with gar_kernels.h. */
#include <cuda_runtime.h>
#include <cufft.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "gar_cuda_check.h"
#include "gar_gpu.h"
#include "gar_kernels.h"
#include "gar_log.h"

namespace {

enum { BLOB_SHARED = 0, BLOB_GLOBAL = 1, BLOB_OTF = 2 };
const int SLICE_CHUNK = 32;

struct GatherArgs {
    float *G[2];                 /* complex interleaved, per half set */
    float *W[2];
    const float *planes;         /* batch × 3 × pp */
    size_t pp;                   /* (2R+1)² */
    int R;
    const float *table;
    float inv_step, a2, alpha, inv_i0;
    int terms;
    double a, kmax2;
    int M, kbound, kxbound;
    const gar_slice_geom *slices;
    int n_slices;                /* voxel kernels: every slice of the batch */
    int first_slice;             /* column kernels: the first of this launch */
};

__device__ __forceinline__ gar_plane plane_of(const GatherArgs &g, const float *base)
{
    gar_plane pl;
    pl.re = base;
    pl.im = base + g.pp;
    pl.c2 = base + 2 * g.pp;
    pl.R = g.R;
    return pl;
}

template <int BLOB>
__device__ __forceinline__ int voxel_gather(const GatherArgs &g, const float *table, const float A[9], int kx,
                                            int ky, int kz, const gar_plane *pl, float *s)
{
    if (BLOB == BLOB_OTF) {
        float q[3];
        if (!gar_slice_q(A, kx, ky, kz, g.a2, q))
            return 0;
        gar_gather_voxel_otf(pl, q[0], q[1], q[2], g.a2, g.alpha, g.inv_i0, g.terms, &s[0], &s[1], &s[2]);
        return 1;
    }
    return gar_slice_voxel(A, kx, ky, kz, pl, g.a2, table, g.inv_step, &s[0], &s[1], &s[2]);
}

template <int BX, int BY, int BZ, int TZ, int BLOB>
__global__ void __launch_bounds__(BX *BY *BZ) gather_voxels(GatherArgs g)
{
    extern __shared__ float smem[];
    __shared__ gar_slice_geom sl[SLICE_CHUNK];
    __shared__ int keep[SLICE_CHUNK];
    const int NT = BX * BY * BZ;
    const int tx = (int)threadIdx.x, ty = (int)threadIdx.y, tz = (int)threadIdx.z;
    const int tid = tx + BX * (ty + BY * tz);
    const int K = g.kbound;
    /* The block's tile: its centre and half diagonal, for culling slices and
     * for skipping tiles outside the resolution sphere. */
    const float x0 = (float)(blockIdx.x * BX), y0 = (float)(-K + (int)(blockIdx.y * BY)),
                z0 = (float)(-K + (int)(blockIdx.z * BZ * TZ));
    const float cx = x0 + 0.5f * (BX - 1), cy = y0 + 0.5f * (BY - 1), cz = z0 + 0.5f * (BZ * TZ - 1);
    const float rt = 0.5f * sqrtf((float)((BX - 1) * (BX - 1) + (BY - 1) * (BY - 1) + (BZ * TZ - 1) * (BZ * TZ - 1)));
    if (sqrtf(cx * cx + cy * cy + cz * cz) - rt > (float)sqrt(g.kmax2) + 1.0f)
        return;   /* uniform over the block, before any barrier */
    const float *table = g.table;
    if (BLOB == BLOB_SHARED) {
        for (int i = tid; i < GAR_BLOB_TABLE; i += NT)
            smem[i] = g.table[i];
        table = smem;
    }
    const int kx = (int)x0 + tx, ky = (int)y0 + ty;
    /* Per voxel and half set: Σ data (re, im), Σ weight, and whether any
     * slice reached it. Indexed by constants only (unrolled loops, the half
     * set chosen by a branch) so they stay in registers. */
    int active[TZ];
    float s1[TZ][3], s2[TZ][3];
    int t1[TZ], t2[TZ];
#pragma unroll
    for (int t = 0; t < TZ; t++) {
        const int kz = (int)z0 + tz + t * BZ;
        const double k2 = (double)kx * kx + (double)ky * ky + (double)kz * kz;
        active[t] = kx <= g.kxbound && ky <= K && kz <= K && k2 <= g.kmax2;
        t1[t] = t2[t] = 0;
        s1[t][0] = s1[t][1] = s1[t][2] = s2[t][0] = s2[t][1] = s2[t][2] = 0.0f;
    }
    const float reach = (float)g.a + rt + 1e-3f;
    for (int c0 = 0; c0 < g.n_slices; c0 += SLICE_CHUNK) {
        const int n = g.n_slices - c0 < SLICE_CHUNK ? g.n_slices - c0 : SLICE_CHUNK;
        __syncthreads();
        for (int j = tid; j < n; j += NT) {
            sl[j] = g.slices[c0 + j];
            const float d = (float)sl[j].n[0] * cx + (float)sl[j].n[1] * cy + (float)sl[j].n[2] * cz;
            keep[j] = fabsf(d) < reach;
        }
        __syncthreads();
        for (int j = 0; j < n; j++) {
            if (!keep[j])
                continue;
            const gar_plane pl = plane_of(g, g.planes + (size_t)sl[j].plane * 3 * g.pp);
#pragma unroll
            for (int t = 0; t < TZ; t++) {
                if (!active[t])
                    continue;
                const int kz = (int)z0 + tz + t * BZ;
                if (sl[j].half == 0)
                    t1[t] |= voxel_gather<BLOB>(g, table, sl[j].A, kx, ky, kz, &pl, s1[t]);
                else
                    t2[t] |= voxel_gather<BLOB>(g, table, sl[j].A, kx, ky, kz, &pl, s2[t]);
            }
        }
    }
#pragma unroll
    for (int t = 0; t < TZ; t++) {
        if (!active[t])
            continue;
        const size_t idx = gar_vox_index((size_t)g.M, kx, ky, (int)z0 + tz + t * BZ);
        if (t1[t]) {
            g.G[0][2 * idx] += s1[t][0];
            g.G[0][2 * idx + 1] += s1[t][1];
            g.W[0][idx] += s1[t][2];
        }
        if (t2[t]) {
            g.G[1][2 * idx] += s2[t][0];
            g.G[1][2 * idx + 1] += s2[t][1];
            g.W[1][idx] += s2[t][2];
        }
    }
}

template <int BLOCK, int PPL, int BLOB, int STAGE>
__global__ void __launch_bounds__(BLOCK) gather_columns(GatherArgs g)
{
    extern __shared__ float smem[];
    const int K = g.kbound;
    const gar_slice_geom s = g.slices[g.first_slice + blockIdx.y];
    const float *table = g.table;
    float *next = smem;
    if (BLOB == BLOB_SHARED) {
        for (int i = threadIdx.x; i < GAR_BLOB_TABLE; i += BLOCK)
            smem[i] = g.table[i];
        table = smem;
        next = smem + GAR_BLOB_TABLE;
    }
    const float *base = g.planes + (size_t)s.plane * 3 * g.pp;
    if (STAGE) {
        for (size_t i = threadIdx.x; i < 3 * g.pp; i += BLOCK)
            next[i] = base[i];
        base = next;
    }
    if (BLOB == BLOB_SHARED || STAGE)
        __syncthreads();
    const gar_plane pl = plane_of(g, base);
    const int lo_b[3] = {0, -K, -K}, hi_b[3] = {g.kxbound, K, K};
    const long n_i = hi_b[s.i] - lo_b[s.i] + 1, n_o = hi_b[s.o] - lo_b[s.o] + 1;
    const long flat = (long)blockIdx.x * BLOCK + threadIdx.x;
    if (flat >= n_o * n_i)
        return;
    int k[3];
    k[s.o] = lo_b[s.o] + (int)(flat / n_i);
    k[s.i] = lo_b[s.i] + (int)(flat % n_i);
    double rr;
    int lo, hi;
    if (!gar_slice_column(&s, k[s.o], k[s.i], g.a, g.kmax2, lo_b, hi_b, &rr, &lo, &hi))
        return;
    for (k[s.c] = lo; k[s.c] <= hi; k[s.c]++) {
        if (rr + (double)k[s.c] * k[s.c] > g.kmax2)
            continue;
        float sum[3] = {0.0f, 0.0f, 0.0f};
        if (!voxel_gather<BLOB>(g, table, s.A, k[0], k[1], k[2], &pl, sum))
            continue;
        const size_t idx = gar_vox_index((size_t)g.M, k[0], k[1], k[2]);
        float *G = g.G[s.half], *W = g.W[s.half];
        if (PPL == 1) {
            /* One slice per launch, launches in order on one stream: each
             * voxel has one writer at a time. */
            G[2 * idx] += sum[0];
            G[2 * idx + 1] += sum[1];
            W[idx] += sum[2];
        } else {
            atomicAdd(&G[2 * idx], sum[0]);
            atomicAdd(&G[2 * idx + 1], sum[1]);
            atomicAdd(&W[idx], sum[2]);
        }
    }
}

/* What a variant needs of the run to be usable, and how to launch it. */
struct LaunchCtx {
    GatherArgs g;
    cudaStream_t stream;
    size_t max_smem;             /* the device's opt-in shared memory per block */
    int blob_order;
};

typedef cudaError_t (*launch_fn)(const LaunchCtx &c);

template <int BX, int BY, int BZ, int TZ, int BLOB>
cudaError_t launch_voxels(const LaunchCtx &c)
{
    const int K = c.g.kbound;
    dim3 block(BX, BY, BZ);
    dim3 grid((unsigned)((c.g.kxbound + BX) / BX), (unsigned)((2 * K + BY) / BY),
              (unsigned)((2 * K + BZ * TZ) / (BZ * TZ)));
    const size_t smem = BLOB == BLOB_SHARED ? GAR_BLOB_TABLE * sizeof(float) : 0;
    if (c.g.n_slices == 0)
        return cudaSuccess;
    gather_voxels<BX, BY, BZ, TZ, BLOB><<<grid, block, smem, c.stream>>>(c.g);
    return cudaGetLastError();
}

template <int BLOCK, int PPL, int BLOB, int STAGE>
size_t columns_smem(const LaunchCtx &c)
{
    return (BLOB == BLOB_SHARED ? GAR_BLOB_TABLE * sizeof(float) : 0) + (STAGE ? 3 * c.g.pp * sizeof(float) : 0);
}

template <int BLOCK, int PPL, int BLOB, int STAGE>
cudaError_t launch_columns(const LaunchCtx &c)
{
    const int K = c.g.kbound;
    const long plane = (long)(2 * K + 1) * (2 * K + 1);
    const size_t smem = columns_smem<BLOCK, PPL, BLOB, STAGE>(c);
    cudaError_t err;
    if (smem > 48 * 1024 &&
        (err = cudaFuncSetAttribute(gather_columns<BLOCK, PPL, BLOB, STAGE>,
                                    cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem)) != cudaSuccess)
        return err;
    for (int first = 0; first < c.g.n_slices; first += PPL) {
        GatherArgs g = c.g;
        g.first_slice = first;
        const int n = c.g.n_slices - first < PPL ? c.g.n_slices - first : PPL;
        dim3 grid((unsigned)((plane + BLOCK - 1) / BLOCK), (unsigned)n);
        gather_columns<BLOCK, PPL, BLOB, STAGE><<<grid, BLOCK, smem, c.stream>>>(g);
        if ((err = cudaGetLastError()) != cudaSuccess)
            return err;
    }
    return cudaSuccess;
}

struct Variant {
    const char *name;
    launch_fn launch;
    int blob;                    /* BLOB_OTF needs blob order 0 */
    size_t (*smem)(const LaunchCtx &c);   /* NULL: fits any device */
};

/* The first is the default (tuning = off, or cached with no entry). */
const Variant variants[] = {
    {"voxel 32x4x1 table:shared tz1", launch_voxels<32, 4, 1, 1, BLOB_SHARED>, BLOB_SHARED, NULL},
    {"voxel 32x4x1 table:global tz1", launch_voxels<32, 4, 1, 1, BLOB_GLOBAL>, BLOB_GLOBAL, NULL},
    {"voxel 32x4x1 on-the-fly tz1", launch_voxels<32, 4, 1, 1, BLOB_OTF>, BLOB_OTF, NULL},
    {"voxel 32x4x1 table:global tz2", launch_voxels<32, 4, 1, 2, BLOB_GLOBAL>, BLOB_GLOBAL, NULL},
    {"voxel 16x8x1 table:shared tz1", launch_voxels<16, 8, 1, 1, BLOB_SHARED>, BLOB_SHARED, NULL},
    {"voxel 16x8x1 table:shared tz2", launch_voxels<16, 8, 1, 2, BLOB_SHARED>, BLOB_SHARED, NULL},
    {"voxel 32x8x1 table:shared tz1", launch_voxels<32, 8, 1, 1, BLOB_SHARED>, BLOB_SHARED, NULL},
    {"voxel 32x8x1 table:shared tz2", launch_voxels<32, 8, 1, 2, BLOB_SHARED>, BLOB_SHARED, NULL},
    {"voxel 16x4x4 table:shared tz1", launch_voxels<16, 4, 4, 1, BLOB_SHARED>, BLOB_SHARED, NULL},
    {"voxel 64x2x1 table:shared tz1", launch_voxels<64, 2, 1, 1, BLOB_SHARED>, BLOB_SHARED, NULL},
    {"voxel 16x4x1 table:shared tz2", launch_voxels<16, 4, 1, 2, BLOB_SHARED>, BLOB_SHARED, NULL},
    {"column 128 ppl1 table:shared direct", launch_columns<128, 1, BLOB_SHARED, 0>, BLOB_SHARED, NULL},
    {"column 128 ppl1 table:global staged", launch_columns<128, 1, BLOB_GLOBAL, 1>, BLOB_GLOBAL,
     columns_smem<128, 1, BLOB_GLOBAL, 1>},
    {"column 256 ppl8 table:shared direct atomic", launch_columns<256, 8, BLOB_SHARED, 0>, BLOB_SHARED, NULL},
    {"column 128 ppl32 table:global direct atomic", launch_columns<128, 32, BLOB_GLOBAL, 0>, BLOB_GLOBAL, NULL},
    {"column 128 ppl8 on-the-fly direct atomic", launch_columns<128, 8, BLOB_OTF, 0>, BLOB_OTF, NULL},
};
const int n_variants = (int)(sizeof variants / sizeof variants[0]);

bool variant_usable(const Variant &v, const LaunchCtx &c)
{
    if (v.blob == BLOB_OTF && c.blob_order != 0)
        return false;
    return v.smem == NULL || v.smem(c) <= c.max_smem;
}

/* ------------------------------------------------------------ preparation */

/* Background mean removed, zero-padded to M × M at offset M/2 − N/2: the
 * CPU's normalisation (gar_recon.c), one block per particle. */
__global__ void pad_images(const float *images, int N, int M, float *real)
{
    __shared__ double ssum[256];
    __shared__ int scount[256];
    const float *img = images + (size_t)blockIdx.x * N * N;
    float *out = real + (size_t)blockIdx.x * M * M;
    double s = 0.0;
    int n = 0;
    for (int p = threadIdx.x; p < N * N; p += blockDim.x)
        if (gar_is_background(p % N, p / N, N)) {
            s += img[p];
            n++;
        }
    ssum[threadIdx.x] = s;
    scount[threadIdx.x] = n;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w /= 2) {
        if ((int)threadIdx.x < w) {
            ssum[threadIdx.x] += ssum[threadIdx.x + w];
            scount[threadIdx.x] += scount[threadIdx.x + w];
        }
        __syncthreads();
    }
    const double bg = scount[0] ? ssum[0] / scount[0] : 0.0;
    const int off = M / 2 - N / 2;
    for (int p = threadIdx.x; p < M * M; p += blockDim.x) {
        const int x = p % M - off, y = p / M - off;
        out[p] = (x >= 0 && x < N && y >= 0 && y < N) ? (float)(img[y * N + x] - bg) : 0.0f;
    }
}

/* The prepared plane of each particle from its transform: grid (pixels, particles). */
__global__ void make_planes(const float *spec, const gar_particle_geom *geoms, int M, int R, double rlim,
                            double Mpx, size_t pp, float *planes)
{
    const int side = 2 * R + 1;
    const long p = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= (long)side * side)
        return;
    const gar_particle_geom &geo = geoms[blockIdx.y];
    const int u = (int)(p % side) - R, v = (int)(p / side) - R;
    const int umax = gar_plane_row_umax(v, rlim, M / 2);
    float px[3] = {0.0f, 0.0f, 0.0f};
    if ((u < 0 ? -u : u) <= umax) {
        double cu, su, cv, sv;
        gar_shift_phase(u, geo.ox, (double)M, &cu, &su);
        gar_shift_phase(v, geo.oy, (double)M, &cv, &sv);
        gar_plane_pixel(spec + (size_t)blockIdx.y * M * (M / 2 + 1) * 2, M, u, v, cu, su, cv, sv,
                        gar_plane_ctf_weight(&geo, u, v, Mpx), px);
    }
    float *out = planes + (size_t)blockIdx.y * 3 * pp;
    out[p] = px[0];
    out[pp + p] = px[1];
    out[2 * pp + p] = px[2];
}

} /* namespace */

/* ------------------------------------------------------------ the inserter */

enum { STAGE_FREE = 0, STAGE_FILLED = 1 };

struct stage_buf {
    float *host_data;                    /* pinned */
    gar_particle_geom *host_geoms;       /* pinned */
    gar_slice_geom *host_slices;         /* pinned */
    float *dev_data;
    gar_particle_geom *dev_geoms;
    gar_slice_geom *dev_slices;
    size_t count;
    int state;
    cudaEvent_t copied, computed;
};

struct gar_gpu_inserter {
    gar_gpu_insert_config cfg;
    double *ops;
    float *table_host;
    char *cache_path, *key;
    char device_name[256];
    char where[288];                     /* "GPU 0 (name)": the start of its error messages */
    size_t nvox, pp, data_floats;        /* data_floats: per particle in a stage */
    double rlim;
    cudaStream_t copy_stream, compute_stream;
    cufftHandle plan;
    int have_plan;
    float *G[2], *W[2];
    float *dev_table, *planes, *real, *spec;
    stage_buf stage[2];
    int fill, take;
    LaunchCtx ctx;
    int variant, tuned;
    char report[4096];
    /* the host thread */
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int quit, flush_req, flushed;
    gar_status err;
    char errmsg[1024];
};

static size_t padded_half_voxels(int M) { return (size_t)M * M * (M / 2 + 1); }

extern "C" gar_status gar_gpu_memory_need(const gar_gpu_insert_config *cfg, size_t *fixed, size_t *per_particle,
                                          size_t *per_particle_other)
{
    const size_t M = (size_t)cfg->padded, H = M / 2 + 1, N = (size_t)cfg->box;
    const size_t side = 2 * (size_t)cfg->plane_radius + 1, pp = side * side;
    const size_t nvox = padded_half_voxels(cfg->padded);
    size_t fft_work = 0;
    int n[2] = {(int)M, (int)M};
    /* Both half sets' data and weights, the blob table, and during a tuning
     * one scratch set. */
    *fixed = nvox * 2 * 3 * sizeof(float) + GAR_BLOB_TABLE * sizeof(float) +
             (cfg->tuning == GAR_TUNE_AUTO || cfg->tuning == GAR_TUNE_FORCE ? nvox * 3 * sizeof(float) : 0) +
             ((size_t)64 << 20);   /* the CUDA context's own margin */
    const size_t meta = 2 * (sizeof(gar_particle_geom) + cfg->n_ops * sizeof(gar_slice_geom));
    /* An estimate, not a failure: without cuFFT's, assume a transform's size. */
    if (cufftEstimateMany(2, n, NULL, 1, 0, NULL, 1, 0, CUFFT_R2C, 1, &fft_work) != CUFFT_SUCCESS)
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

/* ---- tuning cache: lines "model<TAB>key<TAB>variant<TAB>µs per slice" ---- */

/* The variant named by a cache line (cut up in place) if the line is this
 * model's and run shape's entry, else NULL. strtok_r: inserters of several
 * devices may read and write the cache at once. */
static const char *cache_entry_name(const gar_gpu_inserter *g, char *line)
{
    char *save = NULL;
    const char *model = strtok_r(line, "\t\n", &save), *key = strtok_r(NULL, "\t\n", &save),
               *name = strtok_r(NULL, "\t\n", &save);
    if (model == NULL || key == NULL || name == NULL || model[0] == '#')
        return NULL;
    return strcmp(model, g->device_name) == 0 && strcmp(key, g->key) == 0 ? name : NULL;
}

static int cache_lookup(const gar_gpu_inserter *g)
{
    FILE *f;
    char line[1024];
    int found = -1;
    if (g->cache_path == NULL || (f = fopen(g->cache_path, "r")) == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        const char *name = cache_entry_name(g, line);
        if (name == NULL)
            continue;
        for (int v = 0; v < n_variants; v++)
            if (strcmp(variants[v].name, name) == 0 && variant_usable(variants[v], g->ctx))
                found = v;
    }
    fclose(f);
    return found;
}

static int make_parent_dirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return 0;
}

/* Replace this model and key's entry, written to a temporary name and
 * renamed, so a reader never sees half a file. A failure only costs the next
 * run a tuning: it is logged, not fatal. */
static void cache_store(const gar_gpu_inserter *g, double us_per_slice)
{
    char tmp[4200], line[1024], copy[1024];
    FILE *in, *out;
    if (g->cache_path == NULL)
        return;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%d", g->cache_path, (long)getpid(), g->cfg.device);
    if (make_parent_dirs(g->cache_path) != 0 || (out = fopen(tmp, "w")) == NULL) {
        gar_log_warn("GPU tuning cache %s: cannot write (%s); later runs will tune again", g->cache_path,
                     strerror(errno));
        return;
    }
    fprintf(out, "# garner GPU tuning cache: device model, run key, fastest gather variant, microseconds per slice\n");
    if ((in = fopen(g->cache_path, "r")) != NULL) {
        while (fgets(line, sizeof line, in) != NULL) {
            if (line[0] == '#')
                continue;
            snprintf(copy, sizeof copy, "%s", line);
            if (cache_entry_name(g, copy) != NULL)
                continue;
            fputs(line, out);
        }
        fclose(in);
    }
    fprintf(out, "%s\t%s\t%s\t%.3f\n", g->device_name, g->key, variants[g->variant].name, us_per_slice);
    if (fclose(out) != 0 || rename(tmp, g->cache_path) != 0) {
        gar_log_warn("GPU tuning cache %s: cannot write (%s); later runs will tune again", g->cache_path,
                     strerror(errno));
        unlink(tmp);
    }
}

/* Time every usable variant on the batch's slices into a scratch volume, keep
 * the fastest. Each is run once to warm up (and to drop a variant the device
 * cannot launch), then timed once. */
static gar_status tune(gar_gpu_inserter *g, const GatherArgs &args)
{
    gar_status st = GAR_OK;
    float *scratch = NULL;
    cudaEvent_t t0 = NULL, t1 = NULL;
    double best = 1e300;
    int best_v = 0;
    size_t used = 0;
    LaunchCtx c = g->ctx;
    c.g = args;
    GAR_CUDA_TRY(cudaMalloc((void **)&scratch, g->nvox * 3 * sizeof(float)), g->where, "tuning scratch volume");
    GAR_CUDA_TRY(cudaEventCreate(&t0), g->where, "event");
    GAR_CUDA_TRY(cudaEventCreate(&t1), g->where, "event");
    c.g.G[0] = c.g.G[1] = scratch;
    c.g.W[0] = c.g.W[1] = scratch + 2 * g->nvox;
    g->report[0] = '\0';
    for (int v = 0; v < n_variants; v++) {
        float ms = 0;
        int len = (int)strlen(g->report);
        if (!variant_usable(variants[v], c)) {
            snprintf(g->report + len, sizeof g->report - len, "  %-44s  not usable here\n", variants[v].name);
            continue;
        }
        cudaError_t e = variants[v].launch(c);
        if (e == cudaSuccess)
            e = cudaStreamSynchronize(c.stream);
        if (e != cudaSuccess) {
            /* A launch-configuration error leaves the context usable: the
             * variant is reported and skipped, not an error. */
            cudaGetLastError();
            snprintf(g->report + len, sizeof g->report - len, "  %-44s  failed: %s\n", variants[v].name,
                     cudaGetErrorString(e));
            continue;
        }
        GAR_CUDA_TRY(cudaEventRecord(t0, c.stream), g->where, "event");
        GAR_CUDA_TRY(variants[v].launch(c), g->where, "gather kernel");
        GAR_CUDA_TRY(cudaEventRecord(t1, c.stream), g->where, "event");
        GAR_CUDA_TRY(cudaEventSynchronize(t1), g->where, "gather kernel");
        GAR_CUDA_TRY(cudaEventElapsedTime(&ms, t0, t1), g->where, "event");
        snprintf(g->report + len, sizeof g->report - len, "  %-44s  %9.3f ms  %8.3f µs/slice\n", variants[v].name,
                 ms, 1e3 * ms / (args.n_slices > 0 ? args.n_slices : 1));
        used++;
        if (ms < best) {
            best = ms;
            best_v = v;
        }
    }
    if (used == 0) {
        st = gar_error(GAR_ERR_INTERNAL, "%s: no gather variant could run:\n%s", g->where, g->report);
        goto done;
    }
    g->variant = best_v;
    g->tuned = 1;
    gar_log_info("%s: tuned the gather on %d slices; fastest: %s (%.3f µs per slice)", g->where, args.n_slices,
                 variants[best_v].name, 1e3 * best / args.n_slices);
    cache_store(g, 1e3 * best / (args.n_slices > 0 ? args.n_slices : 1));
done:
    if (t0)
        cudaEventDestroy(t0);
    if (t1)
        cudaEventDestroy(t1);
    cudaFree(scratch);
    return st;
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
        const size_t side = 2 * (size_t)g->cfg.plane_radius + 1;
        pad_images<<<(unsigned)s->count, 256, 0, g->compute_stream>>>(s->dev_data, N, M, g->real);
        GAR_CUDA_TRY(cudaGetLastError(), g->where, "padding kernel");
        GAR_CUFFT_TRY(cufftExecR2C(g->plan, (cufftReal *)g->real, (cufftComplex *)g->spec), g->where,
                      "transform of the particles");
        dim3 grid((unsigned)((side * side + 255) / 256), (unsigned)s->count);
        make_planes<<<grid, 256, 0, g->compute_stream>>>(g->spec, s->dev_geoms, M, g->cfg.plane_radius, g->rlim,
                                                         (double)M * g->cfg.pixel_size_A, g->pp, g->planes);
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
        (st = tune(g, args)) != GAR_OK)
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
    format_gib((double)need_b, need, sizeof need);
    format_gib((double)free_b, avail, sizeof avail);
    if (fixed >= free_b)
        return gar_error(GAR_ERR_NOMEM,
                         "GPU %d (%s): the run needs %s of device memory and %s is free; the volumes alone need "
                         "%.2f GiB: use a smaller [reconstruct] pad or max_resolution, or [gpu] devices = none",
                         g->cfg.device, g->device_name, need, avail, fixed / 1073741824.0);
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
                     "would fit (it is %zu)%s",
                     g->cfg.device, g->device_name, need, avail, fits, g->cfg.batch, other);
}

extern "C" gar_status gar_gpu_inserter_create(const gar_gpu_insert_config *cfg, gar_gpu_inserter **out)
{
    gar_status st = GAR_OK;
    gar_gpu_inserter *g = NULL;
    int count = 0, max_smem = 0;
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
    g->nvox = padded_half_voxels(cfg->padded);
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
    GAR_CUDA_TRY(cudaStreamCreateWithFlags(&g->copy_stream, cudaStreamNonBlocking), g->where, "stream");
    GAR_CUDA_TRY(cudaStreamCreateWithFlags(&g->compute_stream, cudaStreamNonBlocking), g->where, "stream");
    for (int h = 0; h < 2; h++) {
        GAR_CUDA_TRY(cudaMalloc((void **)&g->G[h], g->nvox * 2 * sizeof(float)), g->where, "data volume");
        GAR_CUDA_TRY(cudaMalloc((void **)&g->W[h], g->nvox * sizeof(float)), g->where, "weight volume");
        GAR_CUDA_TRY(cudaMemset(g->G[h], 0, g->nvox * 2 * sizeof(float)), g->where, "data volume");
        GAR_CUDA_TRY(cudaMemset(g->W[h], 0, g->nvox * sizeof(float)), g->where, "weight volume");
    }
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
        char what[128];
        snprintf(what, sizeof what, "cannot plan the batched FFT of %zu particles of %d²", cfg->batch, cfg->padded);
        /* Any failure to plan is out of memory, as it was before the checker:
         * a batch too large for the device is the usual cause. */
        GAR_CUFFT_TRY_AS(GAR_ERR_NOMEM, cufftPlanMany(&g->plan, 2, n, NULL, 1, 0, NULL, 1, 0, CUFFT_R2C,
                                                      (int)cfg->batch), g->where, what);
        g->have_plan = 1;
        GAR_CUFFT_TRY_AS(GAR_ERR_NOMEM, cufftSetStream(g->plan, g->compute_stream), g->where, what);
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
        int v = cache_lookup(g);
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
        cufftDestroy(g->plan);
    for (int h = 0; h < 2; h++) {
        cudaFree(g->G[h]);
        cudaFree(g->W[h]);
    }
    cudaFree(g->dev_table);
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

extern "C" gar_status gar_gpu_inserter_collect(gar_gpu_inserter *g, float *const G[2], float *const W[2])
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
    for (int h = 0; h < 2; h++)
        for (int part = 0; part < 2; part++) {
            float *dev = part == 0 ? g->G[h] : g->W[h];
            float *host = part == 0 ? G[h] : W[h];
            const size_t n = part == 0 ? 2 * g->nvox : g->nvox;
            for (size_t off = 0; off < n; off += chunk) {
                const size_t m = n - off < chunk ? n - off : chunk;
                GAR_CUDA_TRY(cudaMemcpy(buf, dev + off, m * sizeof(float), cudaMemcpyDeviceToHost), g->where,
                             "download of sums");
                for (size_t i = 0; i < m; i++)
                    host[off + i] += buf[i];
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
