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
