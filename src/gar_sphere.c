/* garner: the stored sphere (gar_sphere.h). */
#include "gar_sphere.h"

#include <math.h>
#include <stdlib.h>

size_t gar_sphere_row_length(double kmax2, int KX, int ky, int kz)
{
    const double rr = (double)ky * ky + (double)kz * kz;
    double room = kmax2 - rr;
    int x;
    if (room < 0)
        return 0;
    /* sqrt's rounding may put the last kx one off: step to the exact one
     * with the kernels' own comparison. */
    x = (int)floor(sqrt(room));
    if (x > KX)
        x = KX;
    while (x >= 0 && rr + (double)x * x > kmax2)
        x--;
    while (x + 1 <= KX && rr + (double)(x + 1) * (x + 1) <= kmax2)
        x++;
    return (size_t)(x + 1);
}

size_t gar_sphere_voxels(double kmax, int K, int KX)
{
    const double kmax2 = kmax * kmax;
    size_t n = 0;
    for (int kz = -K; kz <= K; kz++)
        for (int ky = -K; ky <= K; ky++)
            n += gar_sphere_row_length(kmax2, KX, ky, kz);
    return n;
}

gar_status gar_sphere_create(double kmax, int K, int KX, gar_sphere **out)
{
    gar_status st;
    gar_sphere *s = NULL;
    const double kmax2 = kmax * kmax;
    size_t rows, at = 0;
    *out = NULL;
    if (K < 0 || KX < 0)
        return gar_error(GAR_ERR_INTERNAL, "stored sphere: bounds %d, %d", K, KX);
    if ((st = gar_calloc((void **)&s, 1, sizeof *s, "stored sphere")) != GAR_OK)
        return st;
    s->K = K;
    s->side = 2 * K + 1;
    rows = (size_t)s->side * (size_t)s->side;
    if ((st = gar_alloc((void **)&s->row_start, rows + 1, sizeof *s->row_start, "stored sphere rows")) != GAR_OK) {
        free(s);
        return st;
    }
    for (int kz = -K; kz <= K; kz++)
        for (int ky = -K; ky <= K; ky++) {
            s->row_start[gar_sphere_row(s, ky, kz)] = at;
            at += gar_sphere_row_length(kmax2, KX, ky, kz);
        }
    s->row_start[rows] = at;
    s->count = at;
    *out = s;
    return GAR_OK;
}

void gar_sphere_destroy(gar_sphere **s)
{
    if (s == NULL || *s == NULL)
        return;
    free((*s)->row_start);
    free(*s);
    *s = NULL;
}
