/* garner: local resolution (see gar_locres.h; the formulas:
 * docs/ARCHITECTURE.md, "Post-processing"). */
#include "gar_locres.h"
#include "gar_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "gar_fsc.h"
#include "gar_postprocess.h"

#define LR_PI 3.14159265358979323846

void gar_locres_settings_default(gar_locres_settings *s)
{
    s->step_A = 10.0;
    s->radius_A = 12.0;
    s->edge_A = 12.0;
    s->randomise_A = 25.0;
    s->mask_level = 0.5;
    s->worst_A = 50.0;
    s->seed = 1;
}

void gar_locres_result_destroy(gar_locres_result **r)
{
    if (r == NULL || *r == NULL)
        return;
    free((*r)->points);
    gar_map_destroy(&(*r)->map);
    free(*r);
    *r = NULL;
}

/* The window's weight at distance r (voxels) from its centre. */
static double window_weight(double r, double radius, double edge)
{
    if (r <= radius)
        return 1.0;
    if (r >= radius + edge)
        return 0.0;
    return 0.5 * (1.0 + cos(LR_PI * (r - radius) / edge));
}

/* Copy the window around (cx, cy, cz) of `src` (n³) times its weight into
 * `dst` (m³, centred at m/2); zero outside the map. */
static void cut_window(const gar_map *src, long cx, long cy, long cz, double radius, double edge, gar_map *dst)
{
    long n = (long)src->nx, m = (long)dst->nx, h = m / 2;
    for (long z = 0; z < m; z++)
        for (long y = 0; y < m; y++)
            for (long x = 0; x < m; x++) {
                long sx = cx + x - h, sy = cy + y - h, sz = cz + z - h;
                double r = sqrt((double)((x - h) * (x - h) + (y - h) * (y - h) + (z - h) * (z - h)));
                float v = 0.0f;
                if (sx >= 0 && sy >= 0 && sz >= 0 && sx < n && sy < n && sz < n)
                    v = (float)(src->data[(sz * n + sy) * n + sx] * window_weight(r, radius, edge));
                dst->data[(z * m + y) * m + x] = v;
            }
}

/* The corrected FSC of one window at 0.143, in Å, clamped to worst_A. */
static gar_status window_resolution(const gar_map *const maps[4], long cx, long cy, long cz, double radius,
                                    double edge, size_t from, double pixel_A, double worst_A, gar_map *buf[4],
                                    double *fsc[3], double *res)
{
    gar_status st;
    size_t m = buf[0]->nx, ns = m / 2 + 1;
    gar_fsc_crossing crossing;
    double d;
    for (int i = 0; i < 4; i++)
        cut_window(maps[i], cx, cy, cz, radius, edge, buf[i]);
    if ((st = gar_fsc_compute(buf[0], buf[1], fsc[0])) != GAR_OK ||
        (st = gar_fsc_compute(buf[2], buf[3], fsc[1])) != GAR_OK)
        return st;
    gar_fsc_correct_masked(fsc[0], fsc[1], ns, from, fsc[2]);
    d = gar_fsc_find_resolution(fsc[2], ns, m, pixel_A, 0.143, &crossing);
    if (crossing == GAR_FSC_NEVER_BELOW)
        d = 2.0 * pixel_A;
    else if (crossing == GAR_FSC_BELOW_AT_FIRST || !(d < worst_A))
        d = worst_A;
    *res = d;
    return GAR_OK;
}

/* The window's radius and edge in voxels, the sub-box side and the first
 * shell randomised in it, and the grid's step in voxels. */
typedef struct locres_geometry {
    double radius, edge, reach;
    size_t m, from, step;
} locres_geometry;

static gar_status locres_geometry_of(size_t n, double pixel_A, const gar_locres_settings *s, locres_geometry *g)
{
    if (!(pixel_A > 0) || !(s->step_A > 0) || !(s->radius_A > 0) || !(s->edge_A >= 0) || !(s->randomise_A > 0) ||
        !(s->worst_A > 0))
        return gar_error(GAR_ERR_USAGE, "local resolution: step %g Å, window %g Å, edge %g Å, randomise from %g Å, "
                         "worst %g Å: expected positive values (the edge may be 0)", s->step_A, s->radius_A,
                         s->edge_A, s->randomise_A, s->worst_A);
    g->radius = s->radius_A / pixel_A;
    g->edge = s->edge_A / pixel_A;
    g->reach = g->radius + g->edge;
    /* The sub-box holds the window whole, with a voxel to spare each side;
     * even, and no larger than the map. */
    g->m = 2 * (size_t)ceil(g->reach) + 2;
    g->m += g->m % 2;
    if (g->m > n)
        g->m = n;
    g->step = (size_t)fmax(1.0, round(s->step_A / pixel_A));
    g->from = (size_t)floor((double)g->m * pixel_A / s->randomise_A);
    return GAR_OK;
}

gar_status gar_locres_grid(const gar_map *mask, double pixel_A, const gar_locres_settings *s,
                           gar_locres_result **out)
{
    gar_status st;
    gar_locres_result *r = NULL;
    size_t n = mask->nx, cap = 0;
    long half = (long)(n / 2);
    locres_geometry g;

    *out = NULL;
    if (mask->ny != n || mask->nz != n)
        return gar_error(GAR_ERR_DATA, "local resolution: the mask is %zu x %zu x %zu: expected a cube", mask->nx,
                         mask->ny, mask->nz);
    if ((st = locres_geometry_of(n, pixel_A, s, &g)) != GAR_OK)
        return st;
    if ((st = gar_calloc((void **)&r, 1, sizeof *r, "local resolution")) != GAR_OK)
        return st;
    r->window_box = g.m;
    /* The grid: every step voxels from the centre, where the mask is high. */
    for (int pass = 0; pass < 2; pass++) {
        size_t k = 0;
        for (long z = half % (long)g.step; z < (long)n; z += (long)g.step)
            for (long y = half % (long)g.step; y < (long)n; y += (long)g.step)
                for (long x = half % (long)g.step; x < (long)n; x += (long)g.step) {
                    if (mask->data[((size_t)z * n + (size_t)y) * n + (size_t)x] < s->mask_level)
                        continue;
                    if (pass == 1) {
                        r->points[4 * k] = (double)x;
                        r->points[4 * k + 1] = (double)y;
                        r->points[4 * k + 2] = (double)z;
                        r->points[4 * k + 3] = NAN;
                    }
                    k++;
                }
        if (pass == 0) {
            cap = k;
            if (cap == 0) {
                st = gar_error(GAR_ERR_DATA, "local resolution: no grid point (every %zu voxels) where the mask "
                               "is %g or more: expected a mask around the particle", g.step, s->mask_level);
                goto done;
            }
            if ((st = gar_alloc((void **)&r->points, 4 * cap, sizeof(double), "local resolution points")) != GAR_OK)
                goto done;
        }
    }
    r->n_points = cap;
    *out = r;
    r = NULL;
done:
    gar_locres_result_destroy(&r);
    return st;
}

gar_status gar_locres_measure(const gar_map *h1, const gar_map *h2, double pixel_A, const gar_locres_settings *s,
                              int threads, gar_locres_result *r, size_t first, size_t count)
{
    gar_status st = GAR_OK;
    gar_map *r1 = NULL, *r2 = NULL;
    size_t n = h1->nx, nvox = n * n * n, end;
    locres_geometry g;

    if (h2->nx != n || h1->ny != n || h1->nz != n || h2->ny != n || h2->nz != n)
        return gar_error(GAR_ERR_DATA, "local resolution: half maps must be cubes of one size");
    if (first > r->n_points || count > r->n_points - first)
        return gar_error(GAR_ERR_INTERNAL, "local resolution: points %zu + %zu of %zu", first, count, r->n_points);
    if ((st = locres_geometry_of(n, pixel_A, s, &g)) != GAR_OK)
        return st;
    if (count == 0)
        return GAR_OK;
    end = first + count;
    /* Both halves with their phases randomised beyond randomise_A, once. */
    if ((st = gar_map_create(n, n, n, pixel_A, &r1)) != GAR_OK ||
        (st = gar_map_create(n, n, n, pixel_A, &r2)) != GAR_OK)
        goto done;
    memcpy(r1->data, h1->data, nvox * sizeof(float));
    memcpy(r2->data, h2->data, nvox * sizeof(float));
    {
        size_t full_from = (size_t)floor((double)n * pixel_A / s->randomise_A);
        if ((st = gar_map_randomise_phases(r1, full_from, s->seed)) != GAR_OK ||
            (st = gar_map_randomise_phases(r2, full_from, s->seed ^ 0x5DEECE66Dull)) != GAR_OK)
            goto done;
    }
    /* The points, in parallel: each thread its own buffers. */
    {
        const gar_map *maps[4] = {h1, h2, r1, r2};
        gar_status shared = GAR_OK;
        int nthreads = 1;
#ifdef _OPENMP
        nthreads = threads > 0 ? threads : omp_get_max_threads();
#else
        (void)threads;
#endif
#pragma omp parallel num_threads(nthreads) if (count > 1)
        {
            gar_map *buf[4] = {NULL, NULL, NULL, NULL};
            double *fsc[3] = {NULL, NULL, NULL};
            gar_status mine = GAR_OK;
            for (int i = 0; i < 4 && mine == GAR_OK; i++)
                mine = gar_map_create(g.m, g.m, g.m, pixel_A, &buf[i]);
            for (int i = 0; i < 3 && mine == GAR_OK; i++)
                mine = gar_alloc((void **)&fsc[i], g.m / 2 + 1, sizeof(double), "local FSC");
#pragma omp for schedule(dynamic, 1)
            for (size_t k = first; k < end; k++) {
                if (mine != GAR_OK)
                    continue;
                mine = window_resolution(maps, (long)r->points[4 * k], (long)r->points[4 * k + 1],
                                         (long)r->points[4 * k + 2], g.radius, g.edge, g.from, pixel_A, s->worst_A,
                                         buf, fsc, &r->points[4 * k + 3]);
            }
            if (mine != GAR_OK) {
#pragma omp critical(gar_locres_status)
                if (shared == GAR_OK)
                    shared = mine;
            }
            for (int i = 0; i < 4; i++)
                gar_map_destroy(&buf[i]);
            for (int i = 0; i < 3; i++)
                free(fsc[i]);
        }
        st = shared;
    }
done:
    gar_map_destroy(&r1);
    gar_map_destroy(&r2);
    return st;
}

gar_status gar_locres_finish(gar_locres_result *r, size_t n, double pixel_A, const gar_locres_settings *s)
{
    gar_status st;
    double *sum_w = NULL, *sum_inv = NULL, *v = NULL;
    size_t nvox = n * n * n, npts = r->n_points;
    locres_geometry g;

    if ((st = locres_geometry_of(n, pixel_A, s, &g)) != GAR_OK)
        return st;
    for (size_t k = 0; k < npts; k++)
        if (!(r->points[4 * k + 3] > 0))
            return gar_error(GAR_ERR_INTERNAL, "local resolution: point %zu of %zu not measured", k, npts);
    /* The summary over the points. */
    if ((st = gar_alloc((void **)&v, npts, sizeof(double), "local resolution summary")) != GAR_OK)
        goto done;
    for (size_t k = 0; k < npts; k++)
        v[k] = r->points[4 * k + 3];
    r->median_A = gar_quantile(v, npts, 0.5);
    r->p5_A = gar_quantile(v, npts, 0.05);
    r->p95_A = gar_quantile(v, npts, 0.95);
    /* The map: each voxel the windows' weighted harmonic mean (as RELION's). */
    gar_map_destroy(&r->map);
    if ((st = gar_calloc((void **)&sum_w, nvox, sizeof(double), "local resolution map")) != GAR_OK ||
        (st = gar_calloc((void **)&sum_inv, nvox, sizeof(double), "local resolution map")) != GAR_OK ||
        (st = gar_map_create(n, n, n, pixel_A, &r->map)) != GAR_OK)
        goto done;
    for (size_t k = 0; k < npts; k++) {
        long cx = (long)r->points[4 * k], cy = (long)r->points[4 * k + 1], cz = (long)r->points[4 * k + 2];
        long lo = -(long)ceil(g.reach), hi = (long)ceil(g.reach);
        double inv = 1.0 / r->points[4 * k + 3];
        for (long dz = lo; dz <= hi; dz++)
            for (long dy = lo; dy <= hi; dy++)
                for (long dx = lo; dx <= hi; dx++) {
                    long x = cx + dx, y = cy + dy, z = cz + dz;
                    double w;
                    size_t i;
                    if (x < 0 || y < 0 || z < 0 || x >= (long)n || y >= (long)n || z >= (long)n)
                        continue;
                    w = window_weight(sqrt((double)(dx * dx + dy * dy + dz * dz)), g.radius, g.edge);
                    if (w <= 0)
                        continue;
                    i = ((size_t)z * n + (size_t)y) * n + (size_t)x;
                    sum_w[i] += w;
                    sum_inv[i] += w * inv;
                }
    }
    for (size_t i = 0; i < nvox; i++)
        r->map->data[i] = sum_w[i] > 0 ? (float)(sum_w[i] / sum_inv[i]) : 0.0f;
done:
    free(v);
    free(sum_w);
    free(sum_inv);
    return st;
}

gar_status gar_local_resolution(const gar_map *h1, const gar_map *h2, const gar_map *mask, double pixel_A,
                                const gar_locres_settings *s, int threads, gar_locres_result **out)
{
    gar_status st;
    gar_locres_result *r = NULL;
    size_t n = h1->nx;

    *out = NULL;
    if (h2->nx != n || mask->nx != n || h1->ny != n || h1->nz != n)
        return gar_error(GAR_ERR_DATA, "local resolution: half maps and mask must be cubes of one size");
    if ((st = gar_locres_grid(mask, pixel_A, s, &r)) != GAR_OK ||
        (st = gar_locres_measure(h1, h2, pixel_A, s, threads, r, 0, r->n_points)) != GAR_OK ||
        (st = gar_locres_finish(r, n, pixel_A, s)) != GAR_OK)
        goto done;
    *out = r;
    r = NULL;
done:
    gar_locres_result_destroy(&r);
    return st;
}
