/* The CPU's preparation of a particle's plane in AVX-512 registers: sixteen
 * pixels of a row at a time, the CTF's sine from glibc's vector maths
 * (libmvec) where the build has it. It computes what gar_plane_pixel and
 * gar_plane_ctf_weight (gar_kernels.h, shared with the GPU) compute, in
 * the same operations but fused multiply-adds and a vector sine (within 4
 * ulp); the scalar loop (gar_recon_plane.c) stays the reference, and
 * tests/check_recon compares the two. */
#ifndef GAR_PLANE_SIMD_H
#define GAR_PLANE_SIMD_H

#include "gar_gather_simd.h"

#ifdef GAR_HAVE_AVX512_GATHER

#ifdef GAR_HAVE_LIBMVEC
/* glibc's 16-lane AVX-512 sinf (the vector ABI's name). */
__m512 _ZGVeN16v_sinf(__m512 x);
#endif

GAR_AVX512_TARGET static inline __attribute__((always_inline)) __m512 gar_sin16(__m512 x)
{
#ifdef GAR_HAVE_LIBMVEC
    return _ZGVeN16v_sinf(x);
#else
    float v[16];
    _mm512_storeu_ps(v, x);
    for (int i = 0; i < 16; i++)
        v[i] = sinf(v[i]);
    return _mm512_loadu_ps(v);
#endif
}

/* What a row of the plane needs besides the transform: the spatial
 * frequency and shift phase of each column u (indexed u + R; kx(−u) =
 * −kx(u), cu(−u) = cu(u), su(−u) = −su(u) exactly), the row's, the CTF. */
typedef struct gar_plane_rowctx {
    const float *kx;          /* (float)(u / (M·px)) */
    const double *cu, *su;    /* gar_shift_phase of column u */
    double cv, sv;            /* gar_shift_phase of row v */
    float ky;                 /* (float)(v / (M·px)) */
    const gar_ctf *ctf;       /* NULL: no CTF, weight 1 */
    const float *c;           /* the r2c transform: M rows of M/2 + 1 complex */
    int M, R;
    float scale;              /* the particle's contrast scale (gar_particle_geom) */
} gar_plane_rowctx;

/* Sixteen lanes of sixteen consecutive elements from p (mask m). */
#define GAR_LOAD16(p, m) _mm512_maskz_loadu_ps((m), (p))

/* The CTF weights of sixteen pixels (kx lanes, ky), as gar_ctf_eval. */
GAR_AVX512_TARGET static inline __attribute__((always_inline)) __m512 gar_ctf16(const gar_ctf *c, __m512 kx,
                                                                                float ky)
{
    const __m512 kyv = _mm512_set1_ps(ky), kx2 = _mm512_mul_ps(kx, kx), ky2 = _mm512_mul_ps(kyv, kyv);
    const __m512 k2 = _mm512_add_ps(kx2, ky2);
    const __mmask16 nz = _mm512_cmp_ps_mask(k2, _mm512_setzero_ps(), _CMP_GT_OQ);
    const __m512 cos2phi = _mm512_mask_div_ps(_mm512_set1_ps(1.0f), nz, _mm512_sub_ps(kx2, ky2), k2);
    const __m512 sin2phi =
        _mm512_maskz_div_ps(nz, _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(2.0f), kx), kyv), k2);
    const __m512 ang = _mm512_fmadd_ps(cos2phi, _mm512_set1_ps(c->cos2a), _mm512_mul_ps(sin2phi, _mm512_set1_ps(c->sin2a)));
    const __m512 dz = _mm512_fmadd_ps(_mm512_set1_ps(c->defocus_dev), ang, _mm512_set1_ps(c->defocus_avg));
    const __m512 chi = _mm512_sub_ps(_mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(c->k1), dz), k2),
                                     _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(c->k2), k2), k2));
    return gar_sin16(_mm512_add_ps(chi, _mm512_set1_ps(c->phase)));
}

/* Eight lanes of a double product re·cr − im·ci (or re·ci + im·cr) to float. */
GAR_AVX512_TARGET static inline __attribute__((always_inline)) __m512 gar_phase16(__m512 re, __m512 im, __m512d cr_lo,
                                                                                  __m512d cr_hi, __m512d ci_lo,
                                                                                  __m512d ci_hi, int imag)
{
    const __m512d re_lo = _mm512_cvtps_pd(_mm512_castps512_ps256(re));
    const __m512d re_hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(re), 1)));
    const __m512d im_lo = _mm512_cvtps_pd(_mm512_castps512_ps256(im));
    const __m512d im_hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(im), 1)));
    __m512d lo, hi;
    if (imag) {
        lo = _mm512_fmadd_pd(re_lo, ci_lo, _mm512_mul_pd(im_lo, cr_lo));
        hi = _mm512_fmadd_pd(re_hi, ci_hi, _mm512_mul_pd(im_hi, cr_hi));
    } else {
        lo = _mm512_fmsub_pd(re_lo, cr_lo, _mm512_mul_pd(im_lo, ci_lo));
        hi = _mm512_fmsub_pd(re_hi, cr_hi, _mm512_mul_pd(im_hi, ci_hi));
    }
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1);
}

/* The lanes in reverse order. */
GAR_AVX512_TARGET static inline __attribute__((always_inline)) __m512 gar_reverse16(__m512 x)
{
    return _mm512_permutexvar_ps(_mm512_set_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), x);
}

/* Pixels (s·m, v) of row v >= 0, m = m0 .. m0 + n − 1 (n <= 16), s = +1 or
 * −1, written with their Friedel mates: pixel (u, v) to plane index
 * (v + R)·side + u + R, its conjugate (−u, −v) to (R − v)·side + R − u.
 * planes: re, im, c2 at offsets 0, pp, 2·pp. */
GAR_AVX512_TARGET static inline __attribute__((always_inline)) void
gar_plane_pixels16(const gar_plane_rowctx *x, int v, int s, int m0, int n, float *plane, size_t pp)
{
    const __mmask16 mask = (__mmask16)((1u << n) - 1u);
    const int M = x->M, R = x->R, side = 2 * R + 1, H = M / 2 + 1;
    /* The transform at column m of row v (s = +1) or the conjugate of
     * row −v (s = −1): complex pairs split into lanes. */
    const int row = s > 0 ? (v % M) : ((M - v) % M);
    const float *src = x->c + 2 * ((size_t)row * (size_t)H + (size_t)m0);
    const __mmask16 m_lo = (__mmask16)(n >= 8 ? 0xFFFFu : (1u << (2 * n)) - 1u);
    const __mmask16 m_hi = (__mmask16)(n <= 8 ? 0u : (1u << (2 * (n - 8))) - 1u);
    const __m512 a = GAR_LOAD16(src, m_lo), b = GAR_LOAD16(src + 16, m_hi);
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512 re = _mm512_permutex2var_ps(a, even, b);
    __m512 im = _mm512_permutex2var_ps(a, _mm512_add_epi32(even, _mm512_set1_epi32(1)), b);
    if (s < 0)
        im = _mm512_sub_ps(_mm512_setzero_ps(), im);
    /* Column tables at m (kx and su odd in u, cu even). */
    __m512 kx = GAR_LOAD16(x->kx + R + m0, mask);
    const __m512d cu_lo = _mm512_maskz_loadu_pd((__mmask8)mask, x->cu + R + m0);
    const __m512d cu_hi = _mm512_maskz_loadu_pd((__mmask8)(mask >> 8), x->cu + R + m0 + 8);
    __m512d su_lo = _mm512_maskz_loadu_pd((__mmask8)mask, x->su + R + m0);
    __m512d su_hi = _mm512_maskz_loadu_pd((__mmask8)(mask >> 8), x->su + R + m0 + 8);
    if (s < 0) {
        kx = _mm512_sub_ps(_mm512_setzero_ps(), kx);
        su_lo = _mm512_sub_pd(_mm512_setzero_pd(), su_lo);
        su_hi = _mm512_sub_pd(_mm512_setzero_pd(), su_hi);
    }
    /* cr = cu·cv − su·sv, ci = cu·sv + su·cv */
    const __m512d cv = _mm512_set1_pd(x->cv), sv = _mm512_set1_pd(x->sv);
    const __m512d cr_lo = _mm512_fmsub_pd(cu_lo, cv, _mm512_mul_pd(su_lo, sv));
    const __m512d cr_hi = _mm512_fmsub_pd(cu_hi, cv, _mm512_mul_pd(su_hi, sv));
    const __m512d ci_lo = _mm512_fmadd_pd(cu_lo, sv, _mm512_mul_pd(su_lo, cv));
    const __m512d ci_hi = _mm512_fmadd_pd(cu_hi, sv, _mm512_mul_pd(su_hi, cv));
    const __m512 rr = gar_phase16(re, im, cr_lo, cr_hi, ci_lo, ci_hi, 0);
    const __m512 ii = gar_phase16(re, im, cr_lo, cr_hi, ci_lo, ci_hi, 1);
    const __m512 w = _mm512_mul_ps(_mm512_set1_ps(x->scale),
                                   x->ctf != NULL ? gar_ctf16(x->ctf, kx, x->ky) : _mm512_set1_ps(1.0f));
    const __m512 ore = _mm512_mul_ps(w, rr), oim = _mm512_mul_ps(w, ii), oc2 = _mm512_mul_ps(w, w);
    const __m512 nim = _mm512_sub_ps(_mm512_setzero_ps(), oim);
    /* Ascending stores go where u = s·m grows with m, reversed ones where it
     * falls; lanes beyond n are masked (a reversed store's masked lanes lie
     * before its first element, and masked lanes never fault). */
    const size_t at = (size_t)(v + R) * side + R, mate = (size_t)(R - v) * side + R;
    const __mmask16 rmask = (__mmask16)(mask << (16 - n));
    if (s > 0) {
        _mm512_mask_storeu_ps(plane + at + m0, mask, ore);
        _mm512_mask_storeu_ps(plane + pp + at + m0, mask, oim);
        _mm512_mask_storeu_ps(plane + 2 * pp + at + m0, mask, oc2);
        _mm512_mask_storeu_ps(plane + mate - m0 - 15, rmask, gar_reverse16(ore));
        _mm512_mask_storeu_ps(plane + pp + mate - m0 - 15, rmask, gar_reverse16(nim));
        _mm512_mask_storeu_ps(plane + 2 * pp + mate - m0 - 15, rmask, gar_reverse16(oc2));
    } else {
        _mm512_mask_storeu_ps(plane + at - m0 - 15, rmask, gar_reverse16(ore));
        _mm512_mask_storeu_ps(plane + pp + at - m0 - 15, rmask, gar_reverse16(oim));
        _mm512_mask_storeu_ps(plane + 2 * pp + at - m0 - 15, rmask, gar_reverse16(oc2));
        _mm512_mask_storeu_ps(plane + mate + m0, mask, ore);
        _mm512_mask_storeu_ps(plane + pp + mate + m0, mask, nim);
        _mm512_mask_storeu_ps(plane + 2 * pp + mate + m0, mask, oc2);
    }
}

#endif
#endif
