/* garner: projections of a map computed in real space (ray sums).
 *
 * The value at pixel (x, y) (origin at N/2) is Σ_t V(Aᵀ (x, y, t) + c), t in
 * unit steps over the part of the ray inside the box, V sampled by trilinear
 * interpolation. At the identity pose the samples fall on voxels and the
 * projection is the exact sum along z, whose 2D DFT is the kz = 0 plane of the
 * map's 3D DFT: the projection-slice theorem that the tests check. The real-space
 * method keeps the simulator independent of the Fourier code it tests. */
#ifndef GAR_PROJECT_H
#define GAR_PROJECT_H

#include "gar_map.h"
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Project a cubic map (nx = ny = nz = N) at rotation A into out (N*N floats,
 * x fastest). Pure: safe to call from several threads on the same map. */
gar_status gar_project_real(const gar_map *map, const double A[9], float *out);

#ifdef __cplusplus
}
#endif
#endif
