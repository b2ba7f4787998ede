/* The CPU's kernels in AVX-512 registers: plane rows sixteen pixels at a
 * time (gar_plane_simd.h), slice voxels found eight at a time and gathered
 * four at a time (gar_gather_simd.h). This is the one deliberate second copy
 * of the maths in gar_kernels.h (see there), kept for what it saves on the
 * CPU alone (the scalar gather spent about 330 instructions a voxel, this
 * one about 45: docs/PERFORMANCE.md); the scalar kernels stay the reference
 * the tests hold it to. Built only by gcc on x86-64; the rest of the
 * reconstructor sees a table or NULL. */
#include <math.h>

#include "config.h"
#include "gar_plane_simd.h"
#include "gar_recon_slice.h"

#ifdef GAR_HAVE_AVX512_GATHER
/* The rows of a plane, sixteen pixels at a time; the same pixels, mates and
 * order of writes as gar_recon_plane_rows_scalar. */
GAR_AVX512_TARGET static void plane_rows_avx512(const gar_recon *r, const float *c, const gar_particle_geom *g,
                                                const double *cu, const double *su, const double *cv,
                                                const double *sv, float *plane)
{
    const int R = r->R, half = (int)(r->M / 2);
    const double rlim = r->kmax + r->a + 1.0;
    gar_plane_rowctx x = {r->kx, cu, su, 0.0, 0.0, 0.0f, g->use_ctf ? &g->ctf : NULL, c, (int)r->M, R, g->scale};
    for (int v = 0; v <= R; v++) {
        const int umax = gar_plane_row_umax(v, rlim, half);
        x.cv = cv[v + R];
        x.sv = sv[v + R];
        x.ky = r->kx[v + R];
        for (int m0 = 0; m0 <= umax; m0 += 16)
            gar_plane_pixels16(&x, v, 1, m0, umax - m0 + 1 < 16 ? umax - m0 + 1 : 16, plane, r->plane_pixels);
        if (v > 0)
            for (int m0 = 1; m0 <= umax; m0 += 16)
                gar_plane_pixels16(&x, v, -1, m0, umax - m0 + 1 < 16 ? umax - m0 + 1 : 16, plane, r->plane_pixels);
    }
}

/* Queues the voxels k[c] = lo, lo + step, ... <= hi of column (k[o], k[i]) =
 * (ko, ki) of slice g, 8 at a time: the same tests and the same arithmetic
 * as the scalar traversal (gar_slice_q's products and sums in the order
 * gcc contracts them to FMAs there: A1·y first, then A0·x, then A2·z),
 * in vector lanes, the survivors compressed into the queue. rr and kmax2
 * compare as integers: rr + k² is an integer, so it is within kmax2 exactly
 * when it is within floor(kmax2). */
GAR_AVX512_TARGET static inline __attribute__((always_inline)) void
queue_column_avx512(const gar_recon *r, const gar_slice_geom *g, int ko, int ki, int lo, int hi, int step,
                    int rr, int kmax2_floor, voxel_queue *qu)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i vstep = _mm256_set1_epi32(step), vhi = _mm256_set1_epi32(hi);
    const __m256i vK = _mm256_set1_epi32(r->sphere->K), vside = _mm256_set1_epi32(r->sphere->side);
    const size_t *row_start = r->sphere->row_start;   /* 64-bit: x86-64 only, as this file is */
    /* The row of a column along x (ky, kz fixed); for one along y, row
     * (ky, kz) = row_y + ky. */
    const int ky_fixed = g->o == 1 ? ko : ki, kz_fixed = g->o == 2 ? ko : ki;
    const size_t row_x = g->c == 0 ? gar_sphere_row(r->sphere, ky_fixed, kz_fixed) : 0;
    const ptrdiff_t row_y = g->c == 1 ? (ptrdiff_t)gar_sphere_row(r->sphere, 0, kz_fixed) : 0;
    const __m256 a2 = _mm256_set1_ps(r->a2);
    for (int base = lo; base <= hi; base += 8 * step) {
        const __m256i kc = _mm256_add_epi32(_mm256_set1_epi32(base), _mm256_mullo_epi32(lane, vstep));
        __m256i kv[3];
        kv[g->o] = _mm256_set1_epi32(ko);
        kv[g->i] = _mm256_set1_epi32(ki);
        kv[g->c] = kc;
        const __mmask8 in_column = _mm256_cmple_epi32_mask(kc, vhi);
        __mmask8 keep = in_column & _mm256_cmple_epi32_mask(_mm256_add_epi32(_mm256_set1_epi32(rr),
                                                                             _mm256_mullo_epi32(kc, kc)),
                                                            _mm256_set1_epi32(kmax2_floor));
        /* gar_sphere_index: the row's start plus kx. Along x the lanes share
         * one row; along y they are consecutive rows (one load); along z a
         * gather. Only lanes within the column are read (one past its end
         * may lie outside the table); the loads depend on nothing computed
         * below, so they overlap with it. */
        __m512i idx;
        if (g->c == 0)
            idx = _mm512_set1_epi64((long long)row_start[row_x]);
        else if (g->c == 1)
            idx = _mm512_maskz_loadu_epi64(in_column, row_start + row_y + base);
        else
            idx = _mm512_mask_i32gather_epi64(
                _mm512_setzero_si512(), in_column,
                _mm256_add_epi32(_mm256_mullo_epi32(_mm256_add_epi32(kv[2], vK), vside), _mm256_add_epi32(kv[1], vK)),
                row_start, 8);
        idx = _mm512_add_epi64(idx, _mm512_cvtepi32_epi64(kv[0]));
        const __m256 fx = _mm256_cvtepi32_ps(kv[0]), fy = _mm256_cvtepi32_ps(kv[1]), fz = _mm256_cvtepi32_ps(kv[2]);
        const float *A = g->A;
        __m256 q2 = _mm256_mul_ps(_mm256_set1_ps(A[7]), fy);
        q2 = _mm256_fmadd_ps(_mm256_set1_ps(A[6]), fx, q2);
        q2 = _mm256_fmadd_ps(_mm256_set1_ps(A[8]), fz, q2);
        keep &= _mm256_cmp_ps_mask(_mm256_mul_ps(q2, q2), a2, _CMP_LT_OQ);
        __m256 q0 = _mm256_mul_ps(_mm256_set1_ps(A[1]), fy);
        q0 = _mm256_fmadd_ps(_mm256_set1_ps(A[0]), fx, q0);
        q0 = _mm256_fmadd_ps(_mm256_set1_ps(A[2]), fz, q0);
        __m256 q1 = _mm256_mul_ps(_mm256_set1_ps(A[4]), fy);
        q1 = _mm256_fmadd_ps(_mm256_set1_ps(A[3]), fx, q1);
        q1 = _mm256_fmadd_ps(_mm256_set1_ps(A[5]), fz, q1);
        _mm256_mask_compressstoreu_ps(qu->qx + qu->n, keep, q0);
        _mm256_mask_compressstoreu_ps(qu->qy + qu->n, keep, q1);
        _mm256_mask_compressstoreu_ps(qu->qz + qu->n, keep, q2);
        _mm512_mask_compressstoreu_epi64(qu->idx + qu->n, keep, idx);
        qu->n += __builtin_popcount(keep);
    }
}

/* The voxels of gar_recon_insert_slice_scalar, found 8 at a time and
 * gathered 4 at a time by gar_gather_queue_avx512. */
GAR_AVX512_TARGET
static void insert_slice_avx512(const gar_recon *r, const gar_plane *plane, const double Ad[9], int t, int T,
                                float *GAR_RESTRICT G, float *GAR_RESTRICT W)
{
    gar_blob_zmm z;
    const gar_plane pl = *plane;   /* held in registers: the stores below cannot change it */
    const int kmax2_floor = (int)floor(r->kmax * r->kmax);
    gar_blob_zmm_load(&r->poly, &z);
    GAR_INSERT_SLICE_BODY(queue_column_avx512(r, &g, k[o], k[i], lo, hi, c_step, (int)rr, kmax2_floor, &qu),
                          gar_gather_queue_avx512(&pl, qu.qx, qu.qy, qu.qz, qu.idx, qu.n, &z, G, W, NULL, NULL,
                                                  _mm_setzero_ps()))
}

/* The same into fixed-point sums (gar_recon_insert_slice_scalar_fixed's twin). */
GAR_AVX512_TARGET
static void insert_slice_avx512_fixed(const gar_recon *r, const gar_plane *plane, const double Ad[9], int t, int T,
                                      int64_t *GAR_RESTRICT Gq, int64_t *GAR_RESTRICT Wq)
{
    gar_blob_zmm z;
    const gar_plane pl = *plane;
    const int kmax2_floor = (int)floor(r->kmax * r->kmax);
    const __m128 inv_q = _mm_setr_ps(r->inv_quantum[0], r->inv_quantum[0], r->inv_quantum[1], 0.0f);
    gar_blob_zmm_load(&r->poly, &z);
    GAR_INSERT_SLICE_BODY(queue_column_avx512(r, &g, k[o], k[i], lo, hi, c_step, (int)rr, kmax2_floor, &qu),
                          gar_gather_queue_avx512(&pl, qu.qx, qu.qy, qu.qz, qu.idx, qu.n, &z, NULL, NULL, Gq, Wq,
                                                  inv_q))
}

static const gar_recon_kernels avx512 = {plane_rows_avx512, insert_slice_avx512, insert_slice_avx512_fixed};
static const gar_recon_kernels avx512_planes = {plane_rows_avx512, gar_recon_insert_slice_scalar,
                                                gar_recon_insert_slice_scalar_fixed};
#endif

const gar_recon_kernels *gar_recon_kernels_avx512(double a, double alpha, int order, gar_blob_poly *poly)
{
#ifdef GAR_HAVE_AVX512_GATHER
    if (!gar_simd_cpu_available())
        return NULL;
    /* The blob pieces match the blob to float precision for any α and order
     * tried; a blob they could not follow keeps the scalar gather. */
    if (gar_gather_simd_available(a) && gar_blob_poly_fit(a, alpha, order, poly) <= GAR_BLOB_POLY_TOLERANCE)
        return &avx512;
    return &avx512_planes;
#else
    return NULL;
#endif
}
