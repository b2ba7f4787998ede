#include "gar_project.h"

#include <math.h>

/* Trilinear sample at (x, y, z), all within [0, n-1]. */
static inline float sample_trilinear(const float *v, size_t n, float x, float y, float z)
{
    /* At the upper face use the last cell with weight 1 on its far corner. */
    /* Coordinates are >= 0, so truncation is floor (floorf is a libm call
     * on baseline x86-64). */
    const int top = (int)n - 2;
    int xi = (int)x, yi = (int)y, zi = (int)z;
    xi = xi > top ? top : xi;
    yi = yi > top ? top : yi;
    zi = zi > top ? top : zi;
    const float fx = x - (float)xi, fy = y - (float)yi, fz = z - (float)zi;
    const size_t sy = n, sz = n * n;
    const float *p = v + ((size_t)zi * n + (size_t)yi) * n + (size_t)xi;
    float c00 = p[0] + fx * (p[1] - p[0]);
    float c10 = p[sy] + fx * (p[sy + 1] - p[sy]);
    float c01 = p[sz] + fx * (p[sz + 1] - p[sz]);
    float c11 = p[sz + sy] + fx * (p[sz + sy + 1] - p[sz + sy]);
    float c0 = c00 + fy * (c10 - c00);
    float c1 = c01 + fy * (c11 - c01);
    return c0 + fz * (c1 - c0);
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
                /* Positions are clipped to the box up to rounding: clamp in float. */
                const float lo = 0.0f, up = (float)hi;
                for (long t = t0; t <= t1; t++) {
                    float rx = (float)(p[0] + t * d[0]), ry = (float)(p[1] + t * d[1]);
                    float rz = (float)(p[2] + t * d[2]);
                    rx = rx < lo ? lo : (rx > up ? up : rx);
                    ry = ry < lo ? lo : (ry > up ? up : ry);
                    rz = rz < lo ? lo : (rz > up ? up : rz);
                    sum += sample_trilinear(map->data, n, rx, ry, rz);
                }
            }
            out[j * n + i] = (float)sum;
        }
    }
    return GAR_OK;
}
