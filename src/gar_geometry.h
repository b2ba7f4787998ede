/* garner: geometry on the host: Euler angles from matrices, random poses.
 * The forward map (angles to matrix) is in gar_kernels.h, shared with the GPU. */
#ifndef GAR_GEOMETRY_H
#define GAR_GEOMETRY_H

#include "gar_kernels.h"
#include "gar_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The RELION-convention angles of a rotation matrix: tilt in [0, 180], rot and
 * psi in (-180, 180]. At tilt 0 or 180 only rot ± psi is defined; rot is set
 * to 0 there (as RELION's Euler_matrix2angles does). */
void gar_matrix_to_euler(const double A[9], double *rot_deg, double *tilt_deg, double *psi_deg);

/* C = A B (row-major 3x3). */
void gar_mat3_mul(const double A[9], const double B[9], double C[9]);

/* Angle in degrees of the rotation A^T B (0 for equal matrices). */
double gar_rotation_angle_between(const double A[9], const double B[9]);

/* A pose uniformly distributed over SO(3): rot and psi uniform, cos(tilt) uniform. */
void gar_random_pose(gar_rng *rng, double *rot_deg, double *tilt_deg, double *psi_deg);

#ifdef __cplusplus
}
#endif
#endif
