/* The CPU's gather of one voxel in AVX-512 registers: the 4 × 4 pixels
 * around the voxel's foot on the plane are the 16 lanes of one register, and
 * the blob is a piecewise polynomial held in registers, so a voxel needs no
 * table loads and no data-dependent loop bounds (the scalar gather's trip
 * counts of 3 or 4 are mispredicted often). It computes the sum that
 * gar_gather_voxel (gar_kernels.h, shared with the GPU) computes, with the
 * blob from gar_blob_poly instead of the table: the two agree to about 1e-6
 * relative (tests/check_recon), the scalar one stays the reference. */
#ifndef GAR_GATHER_SIMD_H
#define GAR_GATHER_SIMD_H

#include "gar_kernels.h"

/* The blob b(r) as a function of x = r²/a² in [0, 1), in GAR_BLOB_PIECES
 * equal pieces, each a degree-4 polynomial in the offset t in [0, 1) within
 * its piece: b = Σ_k c[k][piece] t^k. The blob is an entire function of x
 * (I_m(α√(1−x)) times (1−x)^(m/2) is a power series in 1 − x), so a few
 * low-degree pieces reach float precision. */
#define GAR_BLOB_PIECES 32
/* The largest error of the pieces for which the AVX-512 gather is used. */
#define GAR_BLOB_POLY_TOLERANCE 2e-6
typedef struct gar_blob_poly {
    float c[5][GAR_BLOB_PIECES];
    float scale;   /* GAR_BLOB_PIECES / a² */
    float a, a2;
} gar_blob_poly;

/* Fits the pieces for a blob of radius a (padded voxels), α and order m;
 * returns the largest error against gar_blob_value over a fine sampling
 * (b(0) = 1, so it is relative to the peak). */
double gar_blob_poly_fit(double a, double alpha, int order, gar_blob_poly *p);

/* 1 when this CPU and build can run the AVX-512 gather for a blob of radius
 * a: the 4 × 4 window holds every pixel within a of any point when a < 2,
 * and stays inside a plane of radius kmax + a + 1 when a >= 1.5. */
int gar_gather_simd_available(double a);

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#define GAR_HAVE_AVX512_GATHER 1
#include <immintrin.h>

#define GAR_AVX512_TARGET __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))

/* The pieces' coefficients in registers: lo[k] pieces 0-15, hi[k] 16-31. */
typedef struct gar_blob_zmm {
    __m512 lo[5], hi[5];
    __m512 scale, a2, col, row;
    float a;
} gar_blob_zmm;

GAR_AVX512_TARGET static inline __attribute__((always_inline)) void gar_blob_zmm_load(const gar_blob_poly *p,
                                                                                       gar_blob_zmm *z)
{
    for (int k = 0; k < 5; k++) {
        z->lo[k] = _mm512_loadu_ps(p->c[k]);
        z->hi[k] = _mm512_loadu_ps(p->c[k] + 16);
    }
    z->scale = _mm512_set1_ps(p->scale);
    z->a2 = _mm512_set1_ps(p->a2);
    z->col = _mm512_set_ps(3, 2, 1, 0, 3, 2, 1, 0, 3, 2, 1, 0, 3, 2, 1, 0);
    z->row = _mm512_set_ps(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    z->a = p->a;
}

/* Rows v0 .. v0 + 3, columns u0 .. u0 + 3 of one plane, from `base` (the
 * index of (u0, v0)) with row stride s, as lanes 4·row + column. */
GAR_AVX512_TARGET static inline __attribute__((always_inline)) __m512 gar_plane_window(const float *p, size_t base,
                                                                                        size_t s)
{
    __m512 v = _mm512_castps128_ps512(_mm_loadu_ps(p + base));
    v = _mm512_insertf32x4(v, _mm_loadu_ps(p + base + s), 1);
    v = _mm512_insertf32x4(v, _mm_loadu_ps(p + base + 2 * s), 2);
    return _mm512_insertf32x4(v, _mm_loadu_ps(p + base + 3 * s), 3);
}

/* gar_gather_voxel's sums for the voxel at (qx, qy) in the plane, qz from
 * it (|qz| < a checked by the caller), over the pixels within the blob
 * radius, added to g[0] (real), g[1] (imaginary) and w. */
GAR_AVX512_TARGET static inline __attribute__((always_inline)) void
gar_gather_voxel_avx512(const gar_plane *pl, float qx, float qy, float qz, const gar_blob_zmm *z, float *g, float *w)
{
    const int u0 = (int)ceilf(qx - z->a), v0 = (int)ceilf(qy - z->a);
    const size_t s = (size_t)(2 * pl->R + 1);
    const size_t base = (size_t)(v0 + pl->R) * s + (size_t)(u0 + pl->R);
    const __m512 dx = _mm512_add_ps(z->col, _mm512_set1_ps((float)u0 - qx));
    const __m512 dy = _mm512_add_ps(z->row, _mm512_set1_ps((float)v0 - qy));
    const __m512 d2 = _mm512_fmadd_ps(dx, dx, _mm512_fmadd_ps(dy, dy, _mm512_set1_ps(qz * qz)));
    const __mmask16 inside = _mm512_cmp_ps_mask(d2, z->a2, _CMP_LT_OQ);
    const __m512 x = _mm512_mul_ps(d2, z->scale);
    const __m512i piece = _mm512_min_epi32(_mm512_cvttps_epi32(x), _mm512_set1_epi32(GAR_BLOB_PIECES - 1));
    const __m512 t = _mm512_sub_ps(x, _mm512_cvtepi32_ps(piece));
    __m512 b = _mm512_permutex2var_ps(z->lo[4], piece, z->hi[4]);
#pragma GCC unroll 4
    for (int k = 3; k >= 0; k--)
        b = _mm512_fmadd_ps(b, t, _mm512_permutex2var_ps(z->lo[k], piece, z->hi[k]));
    b = _mm512_maskz_mov_ps(inside, b);
    const __m512 pre = _mm512_mul_ps(b, gar_plane_window(pl->re, base, s));
    const __m512 pim = _mm512_mul_ps(b, gar_plane_window(pl->im, base, s));
    const __m512 pc2 = _mm512_mul_ps(b, gar_plane_window(pl->c2, base, s));
    /* The three horizontal sums together: 128-bit lanes [re, im, c2, c2]
     * of partial sums, then each lane's four summed in place. */
    const __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(pre, pim, _MM_SHUFFLE(1, 0, 1, 0)),
                                    _mm512_shuffle_f32x4(pre, pim, _MM_SHUFFLE(3, 2, 3, 2)));
    const __m512 cc = _mm512_add_ps(_mm512_shuffle_f32x4(pc2, pc2, _MM_SHUFFLE(1, 0, 1, 0)),
                                    _mm512_shuffle_f32x4(pc2, pc2, _MM_SHUFFLE(3, 2, 3, 2)));
    __m512 u = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cc, _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(ab, cc, _MM_SHUFFLE(3, 1, 3, 1)));
    u = _mm512_add_ps(u, _mm512_permute_ps(u, _MM_SHUFFLE(2, 3, 0, 1)));
    u = _mm512_add_ps(u, _mm512_permute_ps(u, _MM_SHUFFLE(1, 0, 3, 2)));
    const __m128 reim = _mm_unpacklo_ps(_mm512_castps512_ps128(u), _mm512_extractf32x4_ps(u, 1));
    const __m128 old = _mm_castpd_ps(_mm_load_sd((const double *)g));
    _mm_store_sd((double *)g, _mm_castps_pd(_mm_add_ps(old, reim)));
    *w += _mm_cvtss_f32(_mm512_extractf32x4_ps(u, 2));
}
#endif

#endif
