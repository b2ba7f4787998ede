#include "gar_project.h"

#include <math.h>

/* Trilinear sample at (x, y, z), all within [0, n-1]. */
static inline float sample_trilinear(const float *v, size_t n, double x, double y, double z)
{
    long x0 = (long)x, y0 = (long)y, z0 = (long)z;
    /* At the upper face use the last cell with weight 1 on its far corner. */
    if (x0 >= (long)n - 1)
        x0 = (long)n - 2;
    if (y0 >= (long)n - 1)
        y0 = (long)n - 2;
    if (z0 >= (long)n - 1)
        z0 = (long)n - 2;
    double fx = x - x0, fy = y - y0, fz = z - z0;
    const float *p = v + ((size_t)z0 * n + (size_t)y0) * n + (size_t)x0;
    size_t sy = n, sz = n * n;
    double c00 = p[0] + fx * (p[1] - p[0]);
    double c10 = p[sy] + fx * (p[sy + 1] - p[sy]);
    double c01 = p[sz] + fx * (p[sz + 1] - p[sz]);
    double c11 = p[sz + sy] + fx * (p[sz + sy + 1] - p[sz + sy]);
    double c0 = c00 + fy * (c10 - c00);
    double c1 = c01 + fy * (c11 - c01);
    return (float)(c0 + fz * (c1 - c0));
}

/* Clip the ray p + t d to the slab [0, hi] on one axis; returns 0 if empty. */
static int clip_axis(double p, double d, double hi, double *tmin, double *tmax)
{
    const double eps = 1e-12;
    if (fabs(d) < eps)
        return p >= -eps && p <= hi + eps;
    double t0 = (0.0 - p) / d, t1 = (hi - p) / d;
    if (t0 > t1) {
        double t = t0;
        t0 = t1;
        t1 = t;
    }
    if (t0 > *tmin)
        *tmin = t0;
    if (t1 < *tmax)
        *tmax = t1;
    return *tmin <= *tmax;
}

gar_status gar_project_real(const gar_map *map, const double A[9], float *out)
{
    size_t n = map->nx;
    double c = (double)(n / 2), hi = (double)(n - 1);
    /* Ray direction Aᵀ e_z is A's third row; pixel axes are its first two rows. */
    const double ex[3] = {A[0], A[1], A[2]};
    const double ey[3] = {A[3], A[4], A[5]};
    const double d[3] = {A[6], A[7], A[8]};
    if (map->ny != n || map->nz != n || n < 2)
        return gar_error(GAR_ERR_DATA, "projection needs a cubic map, got %zu x %zu x %zu",
                         map->nx, map->ny, map->nz);
    for (size_t j = 0; j < n; j++) {
        for (size_t i = 0; i < n; i++) {
            double x = (double)i - c, y = (double)j - c;
            double p[3];
            double tmin = -1e30, tmax = 1e30, sum = 0.0;
            for (int a = 0; a < 3; a++)
                p[a] = ex[a] * x + ey[a] * y + c;
            if (clip_axis(p[0], d[0], hi, &tmin, &tmax) && clip_axis(p[1], d[1], hi, &tmin, &tmax) &&
                clip_axis(p[2], d[2], hi, &tmin, &tmax)) {
                /* Sample at t = integers relative to the slice through the centre,
                 * so that the identity pose lands on voxel centres. */
                long t0 = (long)ceil(tmin - 1e-9), t1 = (long)floor(tmax + 1e-9);
                for (long t = t0; t <= t1; t++) {
                    double rx = p[0] + t * d[0], ry = p[1] + t * d[1], rz = p[2] + t * d[2];
                    if (rx < 0)
                        rx = 0;
                    if (ry < 0)
                        ry = 0;
                    if (rz < 0)
                        rz = 0;
                    if (rx > hi)
                        rx = hi;
                    if (ry > hi)
                        ry = hi;
                    if (rz > hi)
                        rz = hi;
                    sum += sample_trilinear(map->data, n, rx, ry, rz);
                }
            }
            out[j * n + i] = (float)sum;
        }
    }
    return GAR_OK;
}
