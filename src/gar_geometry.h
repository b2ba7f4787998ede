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

/* ---- rotation vectors (axis-angle), cryoSPARC's poses ----
 * A rotation vector v is the axis v/|v| times the angle |v| in radians; its
 * matrix rotates column vectors counter-clockwise about the axis (Rodrigues):
 *   R(v) = cos t I + sin t [w]x + (1 - cos t) w w^T,  t = |v|, w = v/t.
 * v = 0 is the identity. */
/* The rotation by angle_rad about the unit axis u (right-handed, Rodrigues'
 * formula); the symmetry operators and the rotation vectors both use it. */
void gar_axis_angle_matrix(const double u[3], double angle_rad, double R[9]);
void gar_rotvec_to_matrix(const double v[3], double R[9]);
/* The inverse: the rotation vector of a rotation matrix, angle in [0, pi]
 * (at exactly pi, v and -v are the same rotation; either may come back).
 * Through the unit quaternion (Shepperd's choice of the largest pivot), so
 * it is accurate at every angle, near 0 and near pi included. */
void gar_matrix_to_rotvec(const double R[9], double v[3]);

/* cryoSPARC's alignments3D/pose (a rotation vector, radians) as RELION's
 * Euler angles (degrees; gar_matrix_to_euler's ranges), and back. The
 * projection matrix is the transpose of the pose's rotation, A = R(v)^T =
 * R(-v): pyem's csparc2star does rot2euler(expmap(pose)), and its expmap
 * builds R(v)^T (docs/FORMAT.md, "cryoSPARC .cs files"). */
void gar_cryosparc_pose_to_euler(const double v[3], double *rot_deg, double *tilt_deg, double *psi_deg);
void gar_euler_to_cryosparc_pose(double rot_deg, double tilt_deg, double psi_deg, double v[3]);

/* A pose uniformly distributed over SO(3): rot and psi uniform, cos(tilt) uniform. */
void gar_random_pose(gar_rng *rng, double *rot_deg, double *tilt_deg, double *psi_deg);

#ifdef __cplusplus
}
#endif
#endif
