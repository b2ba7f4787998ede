/* garner: the kernels of GPU insertion (gar_gpu_gather.h): the gather
 * variants and the two that prepare the particles (pad_images, make_planes).
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
#include <math.h>
#include <stddef.h>

#include "config.h"
#include "gar_cuda_compat.h"
#include "gar_gpu_gather.h"
#include "gar_kernels.h"

namespace gar_gather {

/* The kernels and their launchers stay in this file. */
namespace {

const int SLICE_CHUNK = 32;

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
    GAR_SHARED_DYNAMIC(float, smem);
    GAR_SHARED(gar_slice_geom, sl, [SLICE_CHUNK]);
    GAR_SHARED(int, keep, [SLICE_CHUNK]);
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
        const size_t idx = gar_sphere_lookup(g.rows, K, g.side, kx, ky, (int)z0 + tz + t * BZ);
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
    GAR_SHARED_DYNAMIC(float, smem);
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
        const size_t idx = gar_sphere_lookup(g.rows, K, g.side, k[0], k[1], k[2]);
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
    GAR_LAUNCH((gather_voxels<BX, BY, BZ, TZ, BLOB>), grid, block, smem, c.stream, c.g);
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
        GAR_LAUNCH((gather_columns<BLOCK, PPL, BLOB, STAGE>), grid, BLOCK, smem, c.stream, g);
        if ((err = cudaGetLastError()) != cudaSuccess)
            return err;
    }
    return cudaSuccess;
}

/* ------------------------------------------------------------ preparation */

/* Background mean removed, zero-padded to M × M at offset M/2 − N/2: the
 * CPU's normalisation (gar_recon_plane.c), one block per particle. */
__global__ void pad_images(const float *images, int N, int M, float *real)
{
    GAR_SHARED(double, ssum, [256]);
    GAR_SHARED(int, scount, [256]);
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
                            double Mpx, int lattice, size_t pp, float *planes)
{
    const int side = 2 * R + 1;
    const long p = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= (long)side * side)
        return;
    const gar_particle_geom &geo = geoms[blockIdx.y];
    const int u = (int)(p % side) - R, v = (int)(p / side) - R;
    const int umax = gar_plane_row_umax(v, rlim, M / 2);
    float px[3] = {0.0f, 0.0f, 0.0f};
    if ((u < 0 ? -u : u) <= umax && gar_plane_on_lattice(u, v, lattice)) {
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

/* ------------------------- the variants, and the launchers of the preparation */

/* The first is the default (tuning = off, or cached with no entry). */
const Variant variants[] = {
    {"voxel 32x4x1 table:shared tz1", launch_voxels<32, 4, 1, 1, BLOB_SHARED>, BLOB_SHARED, NULL, 0},
    {"voxel 32x4x1 table:global tz1", launch_voxels<32, 4, 1, 1, BLOB_GLOBAL>, BLOB_GLOBAL, NULL, 0},
    {"voxel 32x4x1 on-the-fly tz1", launch_voxels<32, 4, 1, 1, BLOB_OTF>, BLOB_OTF, NULL, 0},
    {"voxel 32x4x1 table:global tz2", launch_voxels<32, 4, 1, 2, BLOB_GLOBAL>, BLOB_GLOBAL, NULL, 0},
    {"voxel 16x8x1 table:shared tz1", launch_voxels<16, 8, 1, 1, BLOB_SHARED>, BLOB_SHARED, NULL, 0},
    {"voxel 16x8x1 table:shared tz2", launch_voxels<16, 8, 1, 2, BLOB_SHARED>, BLOB_SHARED, NULL, 0},
    {"voxel 32x8x1 table:shared tz1", launch_voxels<32, 8, 1, 1, BLOB_SHARED>, BLOB_SHARED, NULL, 0},
    {"voxel 32x8x1 table:shared tz2", launch_voxels<32, 8, 1, 2, BLOB_SHARED>, BLOB_SHARED, NULL, 0},
    {"voxel 16x4x4 table:shared tz1", launch_voxels<16, 4, 4, 1, BLOB_SHARED>, BLOB_SHARED, NULL, 0},
    {"voxel 64x2x1 table:shared tz1", launch_voxels<64, 2, 1, 1, BLOB_SHARED>, BLOB_SHARED, NULL, 0},
    {"voxel 16x4x1 table:shared tz2", launch_voxels<16, 4, 1, 2, BLOB_SHARED>, BLOB_SHARED, NULL, 0},
    {"column 128 ppl1 table:shared direct", launch_columns<128, 1, BLOB_SHARED, 0>, BLOB_SHARED, NULL, 0},
    {"column 128 ppl1 table:global staged", launch_columns<128, 1, BLOB_GLOBAL, 1>, BLOB_GLOBAL,
     columns_smem<128, 1, BLOB_GLOBAL, 1>, 0},
    {"column 256 ppl8 table:shared direct atomic", launch_columns<256, 8, BLOB_SHARED, 0>, BLOB_SHARED, NULL, 1},
    {"column 128 ppl32 table:global direct atomic", launch_columns<128, 32, BLOB_GLOBAL, 0>, BLOB_GLOBAL, NULL, 1},
    {"column 128 ppl8 on-the-fly direct atomic", launch_columns<128, 8, BLOB_OTF, 0>, BLOB_OTF, NULL, 1},
};
const int n_variants = (int)(sizeof variants / sizeof variants[0]);

bool variant_usable(const Variant &v, const LaunchCtx &c)
{
    if (v.blob == BLOB_OTF && c.blob_order != 0)
        return false;
    return v.smem == NULL || v.smem(c) <= c.max_smem;
}

void launch_pad_images(const float *images, size_t count, int N, int M, float *real, cudaStream_t stream)
{
    GAR_LAUNCH(pad_images, (unsigned)count, 256, 0, stream, images, N, M, real);
}

void launch_make_planes(const float *spec, const gar_particle_geom *geoms, size_t count, int M, int R, double rlim,
                        double Mpx, int lattice, size_t pp, float *planes, unsigned max_grid_y, cudaStream_t stream)
{
    const size_t side = 2 * (size_t)R + 1, spec_floats = (size_t)M * (M / 2 + 1) * 2;
    const size_t most = max_grid_y > 0 ? max_grid_y : 65535;
    /* The particles are the grid's y dimension, at most the device's
     * cudaDevAttrMaxGridDimY (65535) a launch. */
    for (size_t first = 0; first < count; first += most) {
        const size_t n = count - first < most ? count - first : most;
        dim3 grid((unsigned)((side * side + 255) / 256), (unsigned)n);
        GAR_LAUNCH(make_planes, grid, 256, 0, stream, spec + first * spec_floats, geoms + first, M, R, rlim, Mpx,
                   lattice, pp, planes + first * 3 * pp);
    }
}

} /* namespace gar_gather */
