/* garner: a reference for projection matching. The map's padded 3D Fourier
 * transform, from which central slices at any pose are read by trilinear
 * interpolation (gar_slice_sample in gar_kernels.h).
 *
 * Frequencies are in units of the unpadded box N (cycles per N pixels); the
 * reference is padded twice, so a slice point k reads the transform at 2k.
 * The map is soft-masked to a sphere, then divided by the sinc² that
 * trilinear interpolation multiplies it by, then optionally filtered per
 * Fourier shell (the FSC-derived weights of refinement). */
#ifndef GAR_REFPROJ_H
#define GAR_REFPROJ_H

#include <stddef.h>
#include "gar_map.h"
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_refproj gar_refproj;

/* map: cubic, even box N. mask_radius_px: radius of the soft spherical mask
 * (<= 0: none). shell_weight: n_shells weights for shells 0, 1, ... of the
 * unpadded box (shell = round(|k|)); shells at or beyond n_shells get 0. NULL:
 * no filter. */
gar_status gar_refproj_create(const gar_map *map, double mask_radius_px, const double *shell_weight,
                              size_t n_shells, gar_refproj **out);
void gar_refproj_destroy(gar_refproj **p);   /* NULL-safe */
/* Bytes a reference of box N keeps (its padded transform) and, while
 * gar_refproj_create makes it, needs in addition (the padded map). */
void gar_refproj_memory_bytes(size_t box, double *kept, double *extra_while_made);

size_t gar_refproj_box(const gar_refproj *p);

/* The slice at pose A (row-major; P(k) = V^(A^T k)) at n points (ku[i],
 * kv[i]) with |k| < N/2 − 1, into re[i], im[i]. */
void gar_refproj_slice(const gar_refproj *p, const double A[9], const float *ku, const float *kv, size_t n,
                       float *re, float *im);

#ifdef __cplusplus
}
#endif
#endif
