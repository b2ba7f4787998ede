/* garner: image preparation (see gar_image.h). */
#include "gar_image.h"

#include <math.h>
#include <string.h>

double gar_image_background_radius(size_t N) { return 0.5 * (double)N; }

static double det3(const double A[9])
{
    return A[0] * (A[4] * A[8] - A[5] * A[7]) - A[1] * (A[3] * A[8] - A[5] * A[6]) + A[2] * (A[3] * A[7] - A[4] * A[6]);
}

/* Solve the 3 × 3 system M p = b (Cramer's rule); 0 when singular. */
static int solve3(const double M[9], const double b[3], double p[3])
{
    const double det = det3(M);
    if (!(fabs(det) > 1e-300))
        return 0;
    for (int c = 0; c < 3; c++) {
        double A[9];
        memcpy(A, M, sizeof A);
        for (int r = 0; r < 3; r++)
            A[3 * r + c] = b[r];
        p[c] = det3(A) / det;
    }
    return 1;
}

void gar_image_normalise(float *image, size_t N, double radius_px, gar_image_norm *info)
{
    /* Least squares over the background: minimise Σ (I − a − b x − c y)²,
     * x, y measured from the centre; normal equations M p = rhs. */
    double M[9] = {0}, rhs[3] = {0}, p[3] = {0, 0, 0}, ss = 0.0, all = 0.0;
    const double c0 = (double)(N / 2), r2max = radius_px * radius_px;
    size_t n = 0;
    gar_image_norm local;
    if (info == NULL)
        info = &local;
    for (size_t y = 0; y < N; y++)
        for (size_t x = 0; x < N; x++) {
            const double dx = (double)x - c0, dy = (double)y - c0, v = image[y * N + x];
            if (dx * dx + dy * dy <= r2max)
                continue;
            const double f[3] = {1.0, dx, dy};
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++)
                    M[3 * i + j] += f[i] * f[j];
                rhs[i] += f[i] * v;
            }
            n++;
        }
    if (n >= 3 && !solve3(M, rhs, p)) {
        /* A background on one line (a tiny box): its mean only. */
        p[0] = rhs[0] / (double)n;
        p[1] = p[2] = 0.0;
    }
    for (size_t y = 0; y < N; y++)
        for (size_t x = 0; x < N; x++) {
            const double dx = (double)x - c0, dy = (double)y - c0;
            const double v = image[y * N + x] - (p[0] + p[1] * dx + p[2] * dy);
            all += (double)image[y * N + x] * image[y * N + x];
            image[y * N + x] = (float)v;
            if (dx * dx + dy * dy > r2max)
                ss += v * v;
        }
    info->mean = p[0];
    info->slope_x = p[1];
    info->slope_y = p[2];
    info->background_pixels = n;
    info->sigma = n > 3 ? sqrt(ss / (double)(n - 3)) : 0.0;
    /* A σ at float rounding's level of the image (an exact plane) is 0. */
    if (n > 3 && info->sigma > 1e-5 * sqrt(all / (double)(N * N)) && isfinite(info->sigma)) {
        const float g = (float)(1.0 / info->sigma);
        for (size_t k = 0; k < N * N; k++)
            image[k] *= g;
    }
}
