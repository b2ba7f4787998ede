#include "gar_geometry.h"

#include <float.h>
#include <math.h>

void gar_matrix_to_euler(const double A[9], double *rot_deg, double *tilt_deg, double *psi_deg)
{
    const double r2d = 180.0 / GAR_PI;
    /* A[2] = -cψ sθ, A[5] = sψ sθ, A[6] = sθ cφ, A[7] = sθ sφ, A[8] = cθ; with
     * θ in [0, π] sθ >= 0, so both φ and ψ follow from atan2 directly. */
    double sb = sqrt(A[2] * A[2] + A[5] * A[5]);
    double rot, tilt, psi;
    if (sb > 16.0 * FLT_EPSILON) {
        psi = atan2(A[5], -A[2]);
        rot = atan2(A[7], A[6]);
        tilt = atan2(sb, A[8]);
    } else if (A[8] > 0.0) {
        /* θ = 0: A = Rz(φ + ψ); put the whole angle into psi. */
        rot = 0.0;
        tilt = 0.0;
        psi = atan2(-A[3], A[0]);
    } else {
        rot = 0.0;
        tilt = GAR_PI;
        psi = atan2(A[3], -A[0]);
    }
    *rot_deg = rot * r2d;
    *tilt_deg = tilt * r2d;
    *psi_deg = psi * r2d;
}

void gar_mat3_mul(const double A[9], const double B[9], double C[9])
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            C[3 * i + j] = A[3 * i] * B[j] + A[3 * i + 1] * B[3 + j] + A[3 * i + 2] * B[6 + j];
}

double gar_rotation_angle_between(const double A[9], const double B[9])
{
    /* trace(A^T B) = 1 + 2 cos(angle) */
    double tr = 0.0;
    for (int i = 0; i < 9; i++)
        tr += A[i] * B[i];
    double c = 0.5 * (tr - 1.0);
    if (c > 1.0)
        c = 1.0;
    if (c < -1.0)
        c = -1.0;
    return acos(c) * 180.0 / GAR_PI;
}

void gar_random_pose(gar_rng *rng, double *rot_deg, double *tilt_deg, double *psi_deg)
{
    *rot_deg = 360.0 * gar_rng_uniform(rng) - 180.0;
    *tilt_deg = acos(2.0 * gar_rng_uniform(rng) - 1.0) * 180.0 / GAR_PI;
    *psi_deg = 360.0 * gar_rng_uniform(rng) - 180.0;
}

void gar_axis_angle_matrix(const double u[3], double angle_rad, double R[9])
{
    const double x = u[0], y = u[1], z = u[2];
    const double c = cos(angle_rad), s = sin(angle_rad), t = 1.0 - c;
    R[0] = c + t * x * x;
    R[1] = t * x * y - s * z;
    R[2] = t * x * z + s * y;
    R[3] = t * x * y + s * z;
    R[4] = c + t * y * y;
    R[5] = t * y * z - s * x;
    R[6] = t * x * z - s * y;
    R[7] = t * y * z + s * x;
    R[8] = c + t * z * z;
}

void gar_rotvec_to_matrix(const double v[3], double R[9])
{
    double t = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    if (!(t > 0.0)) {
        for (int k = 0; k < 9; k++)
            R[k] = (k % 4 == 0) ? 1.0 : 0.0;
        return;
    }
    const double u[3] = {v[0] / t, v[1] / t, v[2] / t};
    gar_axis_angle_matrix(u, t, R);
}

void gar_matrix_to_rotvec(const double R[9], double v[3])
{
    /* Unit quaternion (w, x, y, z) with the largest of the four as the pivot,
     * so no division by a small number; then angle = 2 atan2(|xyz|, w). */
    double w, x, y, z, s;
    double tr = R[0] + R[4] + R[8];
    if (tr > 0.0) {
        s = 2.0 * sqrt(1.0 + tr);
        w = 0.25 * s;
        x = (R[7] - R[5]) / s;
        y = (R[2] - R[6]) / s;
        z = (R[3] - R[1]) / s;
    } else if (R[0] > R[4] && R[0] > R[8]) {
        s = 2.0 * sqrt(1.0 + R[0] - R[4] - R[8]);
        w = (R[7] - R[5]) / s;
        x = 0.25 * s;
        y = (R[1] + R[3]) / s;
        z = (R[2] + R[6]) / s;
    } else if (R[4] > R[8]) {
        s = 2.0 * sqrt(1.0 + R[4] - R[0] - R[8]);
        w = (R[2] - R[6]) / s;
        x = (R[1] + R[3]) / s;
        y = 0.25 * s;
        z = (R[5] + R[7]) / s;
    } else {
        s = 2.0 * sqrt(1.0 + R[8] - R[0] - R[4]);
        w = (R[3] - R[1]) / s;
        x = (R[2] + R[6]) / s;
        y = (R[5] + R[7]) / s;
        z = 0.25 * s;
    }
    if (w < 0.0) { /* q and -q are one rotation; w >= 0 gives the angle in [0, pi] */
        w = -w;
        x = -x;
        y = -y;
        z = -z;
    }
    double n = sqrt(x * x + y * y + z * z);
    if (!(n > 0.0)) {
        v[0] = v[1] = v[2] = 0.0;
        return;
    }
    /* angle / n stays accurate as n -> 0 (it tends to 2 / w). */
    double f = 2.0 * atan2(n, w) / n;
    v[0] = f * x;
    v[1] = f * y;
    v[2] = f * z;
}

void gar_cryosparc_pose_to_euler(const double v[3], double *rot_deg, double *tilt_deg, double *psi_deg)
{
    /* R(v)^T = R(-v): the rotation of the negated vector. */
    double m[3] = {-v[0], -v[1], -v[2]}, A[9];
    gar_rotvec_to_matrix(m, A);
    gar_matrix_to_euler(A, rot_deg, tilt_deg, psi_deg);
}

void gar_euler_to_cryosparc_pose(double rot_deg, double tilt_deg, double psi_deg, double v[3])
{
    double A[9], m[3];
    gar_euler_to_matrix(rot_deg, tilt_deg, psi_deg, A);
    gar_matrix_to_rotvec(A, m); /* A = R(-v) */
    v[0] = -m[0];
    v[1] = -m[1];
    v[2] = -m[2];
}
