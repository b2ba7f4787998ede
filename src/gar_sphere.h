/* garner: the stored sphere, the layout of the reconstructor's sums.
 *
 * Insertion writes only voxels within the resolution limit kmax (padded
 * voxels) of the Hermitian half volume: kx in [0, KX], ky, kz in [−K, K],
 * kx² + ky² + kz² <= kmax² (compared in double, as the kernels and the
 * finisher do; every term is an integer, so the comparison is exact). At
 * Nyquist that ball is π/6 ≈ 52 % of FFTW's M × M × (M/2+1) layout, so the
 * sums hold only it (issue 20): row (ky, kz) holds kx = 0 .. len − 1
 * contiguously, the rows in [kz][ky] order. The GPUs' device volumes hold
 * it too (the row table copied to each device; the lookup, shared with the
 * GPU's kernels, is gar_sphere_lookup in gar_kernels.h); only the
 * finisher's inverse FFT uses the full layout.
 *
 * Plain C with inline lookups, included by the CPU kernels and by the
 * GPU's host code. */
#ifndef GAR_SPHERE_H
#define GAR_SPHERE_H

#include <stddef.h>
#include <stdint.h>
#include "gar_kernels.h"
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_sphere {
    int K;               /* rows ky, kz in [−K, K] */
    int side;            /* 2K + 1 */
    size_t *row_start;   /* side² + 1: row (ky, kz) is (kz + K)·side + ky + K; its voxels are
                            [row_start[row], row_start[row + 1]) */
    size_t count;        /* voxels held: row_start[side²] */
} gar_sphere;

/* The voxels of row (ky, kz): kx in [0, KX] within kmax² of the origin. */
size_t gar_sphere_row_length(double kmax2, int KX, int ky, int kz);
/* Voxels held, without making the table (for memory estimates). */
size_t gar_sphere_voxels(double kmax, int K, int KX);
gar_status gar_sphere_create(double kmax, int K, int KX, gar_sphere **out);
void gar_sphere_destroy(gar_sphere **s);   /* NULL-safe */

/* Bytes of the row table of a sphere with bound K: (2K + 1)² + 1 starts. */
static inline size_t gar_sphere_table_bytes(int K)
{
    return ((size_t)(2 * K + 1) * (size_t)(2 * K + 1) + 1) * sizeof(size_t);
}

static inline size_t gar_sphere_row(const gar_sphere *s, int ky, int kz)
{
    return gar_sphere_row_of(s->K, s->side, ky, kz);
}

/* The index of a voxel known to be held (the kernels' voxels are). */
static inline size_t gar_sphere_index(const gar_sphere *s, int kx, int ky, int kz)
{
    return gar_sphere_lookup(s->row_start, s->K, s->side, kx, ky, kz);
}

/* The index of (kx, ky, kz), or SIZE_MAX where it is not held (its sums are
 * zero). No wrapping: ky, kz are frequencies, not FFT indices. */
static inline size_t gar_sphere_find(const gar_sphere *s, int kx, int ky, int kz)
{
    size_t row;
    if (kx < 0 || ky < -s->K || ky > s->K || kz < -s->K || kz > s->K)
        return SIZE_MAX;
    row = gar_sphere_row(s, ky, kz);
    return (size_t)kx < s->row_start[row + 1] - s->row_start[row] ? s->row_start[row] + (size_t)kx : SIZE_MAX;
}

#ifdef __cplusplus
}
#endif
#endif
