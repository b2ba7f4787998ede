/* The CPU's gather in AVX-512 registers: the 4 × 4 pixels around each
 * voxel's foot on the plane are taken as four rows of four lanes, and the
 * blob is a piecewise polynomial held in registers, so a voxel needs no
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

/* 1 when this CPU and build can run the AVX-512 code (gather, plane
 * preparation) and GARNER_SCALAR_GATHER does not ask for the scalar code. */
int gar_simd_cpu_available(void);

/* 1 when this CPU and build can run the AVX-512 gather for a blob of radius
 * a: the 4 × 4 window holds every pixel within a of any point when a < 2,
 * and stays inside a plane of radius kmax + a + 1 when a >= 1.5. */
int gar_gather_simd_available(double a);

/* How far ahead, in queued voxels, the gather prefetches a voxel's sums;
 * the reconstructor's voxel queue keeps that many slack entries in every
 * build, so it is defined for all of them. */
#ifndef GAR_GATHER_PREFETCH
#define GAR_GATHER_PREFETCH 32
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#define GAR_HAVE_AVX512_GATHER 1
#include <immintrin.h>

#define GAR_AVX512_TARGET __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))

/* The pieces' coefficients in registers: lo[k] pieces 0-15, hi[k] 16-31. */
typedef struct gar_blob_zmm {
    __m512 lo[5], hi[5];
    __m512 scale, a2, col;
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
    z->a = p->a;
}

/* Four 4-pixel rows of one plane, from indices b0 .. b3, as lanes 4·k + column. */
GAR_AVX512_TARGET static inline __attribute__((always_inline)) __m512 gar_plane_rows4(const float *p, int b0, int b1,
                                                                                       int b2, int b3)
{
    __m512 v = _mm512_castps128_ps512(_mm_loadu_ps(p + b0));
    v = _mm512_insertf32x4(v, _mm_loadu_ps(p + b1), 1);
    v = _mm512_insertf32x4(v, _mm_loadu_ps(p + b2), 2);
    return _mm512_insertf32x4(v, _mm_loadu_ps(p + b3), 3);
}

/* The blob at squared distances d2 (0 at a² and beyond), from the pieces. */
GAR_AVX512_TARGET static inline __attribute__((always_inline)) __m512 gar_blob_eval_zmm(const gar_blob_zmm *z,
                                                                                        __m512 d2)
{
    const __mmask16 inside = _mm512_cmp_ps_mask(d2, z->a2, _CMP_LT_OQ);
    const __m512 x = _mm512_mul_ps(d2, z->scale);
    const __m512i piece = _mm512_min_epi32(_mm512_cvttps_epi32(x), _mm512_set1_epi32(GAR_BLOB_PIECES - 1));
    const __m512 t = _mm512_sub_ps(x, _mm512_cvtepi32_ps(piece));
    __m512 b = _mm512_permutex2var_ps(z->lo[4], piece, z->hi[4]);
#pragma GCC unroll 4
    for (int k = 3; k >= 0; k--)
        b = _mm512_fmadd_ps(b, t, _mm512_permutex2var_ps(z->lo[k], piece, z->hi[k]));
    return _mm512_maskz_mov_ps(inside, b);
}

/* Adds one voxel's sums (re, im, c2, -) to its data and weight. */
GAR_AVX512_TARGET static inline __attribute__((always_inline)) void gar_gather_add(float *G, float *W, size_t x,
                                                                                    __m128 s)
{
    const __m128 old = _mm_castpd_ps(_mm_load_sd((const double *)&G[2 * x]));
    _mm_store_sd((double *)&G[2 * x], _mm_castps_pd(_mm_add_ps(old, s)));
    W[x] += _mm_cvtss_f32(_mm_movehl_ps(s, s));
}

/* Adds one voxel's sums (re, im, c2, -), quantised by inv_q = (1/q_data,
 * 1/q_data, 1/q_weight, 0) and rounded to nearest (ties to even, as
 * gar_fixed_quantise), to its fixed-point data and weight. */
GAR_AVX512_TARGET static inline __attribute__((always_inline)) void
gar_gather_add_fixed(int64_t *G, int64_t *W, size_t x, __m128 s, __m128 inv_q)
{
    const __m256i q = _mm256_cvtps_epi64(_mm_mul_ps(s, inv_q));
    __m128i *g = (__m128i *)&G[2 * x];
    _mm_storeu_si128(g, _mm_add_epi64(_mm_loadu_si128(g), _mm256_castsi256_si128(q)));
    W[x] += _mm256_extract_epi64(q, 2);
}

/* One voxel's sums into float sums (Gq NULL), or fixed-point ones; inlined
 * where Gq is a constant, so the test folds away. */
GAR_AVX512_TARGET static inline __attribute__((always_inline)) void
gar_gather_add_any(float *G, float *W, int64_t *Gq, int64_t *Wq, __m128 inv_q, size_t x, __m128 s)
{
    if (Gq != NULL)
        gar_gather_add_fixed(Gq, Wq, x, s, inv_q);
    else
        gar_gather_add(G, W, x, s);
}

/* The gathers of n queued voxels: voxel j sits at (qx[j], qy[j]) in the
 * plane and qz[j] from it (|qz| < a checked by the caller); Σ b·CTF·X is
 * added to G[2·idx[j]], G[2·idx[j] + 1] and Σ b·CTF² to W[idx[j]], over
 * the pixels within the blob radius, as gar_gather_voxel does. Four voxels
 * at a time, one row of the 4 × 4 window around each voxel's foot per step,
 * in lanes 4·voxel + column: the rows of a voxel add up in the lanes, and a
 * single in-lane reduction serves four voxels (one window per register
 * spent about 95 instructions a voxel, much of it on horizontal sums and
 * scalar set-up; this, about 45). Entries n .. n + 15 of qx, qy, qz are
 * read and must hold positions within the plane (their sums are not
 * written); idx[n .. n + 7] are prefetched. */
GAR_AVX512_TARGET static inline __attribute__((always_inline)) void
gar_gather_queue_avx512(const gar_plane *pl, const float *qx, const float *qy, const float *qz, const size_t *idx,
                        int n, const gar_blob_zmm *z, float *G, float *W, int64_t *Gq, int64_t *Wq, __m128 inv_q)
{
    const int s = 2 * pl->R + 1;
    const __m512 av = _mm512_set1_ps(z->a), Rf = _mm512_set1_ps((float)pl->R);
    const __m512i sv = _mm512_set1_epi32(s);
    const __m512i rep = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    for (int j = 0; j < n; j += 16) {
        /* Sixteen voxels' window corners (u0, v0) = ⌈q − a⌉, their offsets
         * from the foot and their first pixels' indices. */
        const __m512 qxv = _mm512_loadu_ps(qx + j), qyv = _mm512_loadu_ps(qy + j), qzv = _mm512_loadu_ps(qz + j);
        const __m512 u0 = _mm512_roundscale_ps(_mm512_sub_ps(qxv, av), _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC);
        const __m512 v0 = _mm512_roundscale_ps(_mm512_sub_ps(qyv, av), _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC);
        const __m512 fu = _mm512_sub_ps(u0, qxv), fv = _mm512_sub_ps(v0, qyv), q2 = _mm512_mul_ps(qzv, qzv);
        int base[16];
        _mm512_storeu_si512(base, _mm512_add_epi32(_mm512_mullo_epi32(_mm512_cvtps_epi32(_mm512_add_ps(v0, Rf)), sv),
                                                   _mm512_cvtps_epi32(_mm512_add_ps(u0, Rf))));
        const int groups = n - j >= 16 ? 4 : (n - j + 3) / 4;
        for (int gi = 0; gi < groups; gi++) {
            const int *b = base + 4 * gi;
            const size_t *ix = idx + j + 4 * gi;
            for (int k = 0; k < 4; k++) {
                const size_t xp = ix[GAR_GATHER_PREFETCH + k];
                if (Gq != NULL) {
                    __builtin_prefetch(&Gq[2 * xp], 1);
                    __builtin_prefetch(&Wq[xp], 1);
                } else {
                    __builtin_prefetch(&G[2 * xp], 1);
                    __builtin_prefetch(&W[xp], 1);
                }
            }
            const __m512i sel = _mm512_add_epi32(_mm512_set1_epi32(4 * gi), rep);
            const __m512 dx = _mm512_add_ps(z->col, _mm512_permutexvar_ps(sel, fu));
            const __m512 dy0 = _mm512_permutexvar_ps(sel, fv), qq = _mm512_permutexvar_ps(sel, q2);
            __m512 are = _mm512_setzero_ps(), aim = _mm512_setzero_ps(), ac2 = _mm512_setzero_ps();
#pragma GCC unroll 4
            for (int r = 0; r < 4; r++) {
                const __m512 dy = _mm512_add_ps(_mm512_set1_ps((float)r), dy0);
                const __m512 w = gar_blob_eval_zmm(z, _mm512_fmadd_ps(dx, dx, _mm512_fmadd_ps(dy, dy, qq)));
                const int o = r * s;
                are = _mm512_fmadd_ps(w, gar_plane_rows4(pl->re, b[0] + o, b[1] + o, b[2] + o, b[3] + o), are);
                aim = _mm512_fmadd_ps(w, gar_plane_rows4(pl->im, b[0] + o, b[1] + o, b[2] + o, b[3] + o), aim);
                ac2 = _mm512_fmadd_ps(w, gar_plane_rows4(pl->c2, b[0] + o, b[1] + o, b[2] + o, b[3] + o), ac2);
            }
            /* Columns (0 + 1) and (2 + 3) in each lane pair, then voxel k's
             * (re, im, c2) totals in lanes 4k .. 4k + 2. */
            are = _mm512_add_ps(are, _mm512_permute_ps(are, _MM_SHUFFLE(2, 3, 0, 1)));
            aim = _mm512_add_ps(aim, _mm512_permute_ps(aim, _MM_SHUFFLE(2, 3, 0, 1)));
            ac2 = _mm512_add_ps(ac2, _mm512_permute_ps(ac2, _MM_SHUFFLE(2, 3, 0, 1)));
            const __m512 lo = _mm512_mask_blend_ps(0x4444, _mm512_mask_blend_ps(0x2222, are, aim), ac2);
            const __m512 hi = _mm512_mask_blend_ps(0x8888, _mm512_mask_blend_ps(0x4444, ac2, are), aim);
            const __m512 sum = _mm512_add_ps(lo, _mm512_permute_ps(hi, _MM_SHUFFLE(1, 0, 3, 2)));
            if (n - j - 4 * gi >= 4) {
                gar_gather_add_any(G, W, Gq, Wq, inv_q, ix[0], _mm512_castps512_ps128(sum));
                gar_gather_add_any(G, W, Gq, Wq, inv_q, ix[1], _mm512_extractf32x4_ps(sum, 1));
                gar_gather_add_any(G, W, Gq, Wq, inv_q, ix[2], _mm512_extractf32x4_ps(sum, 2));
                gar_gather_add_any(G, W, Gq, Wq, inv_q, ix[3], _mm512_extractf32x4_ps(sum, 3));
            } else {
                float part[16];
                _mm512_storeu_ps(part, sum);
                for (int k = 0; k < n - j - 4 * gi; k++)
                    gar_gather_add_any(G, W, Gq, Wq, inv_q, ix[k], _mm_loadu_ps(part + 4 * k));
            }
        }
    }
}
#endif

#endif
