#include "gar_map.h"

#include <math.h>
#include <stdlib.h>

gar_status gar_map_create(size_t nx, size_t ny, size_t nz, double pixel_size, gar_map **out)
{
    gar_map *m = NULL;
    size_t n;
    gar_status st;
    *out = NULL;
    if (!gar_size_mul3(nx, ny, nz, &n))
        return gar_error(GAR_ERR_NOMEM, "map of %zu x %zu x %zu voxels is too large", nx, ny, nz);
    st = gar_calloc((void **)&m, 1, sizeof *m, "map header");
    if (st != GAR_OK)
        return st;
    st = gar_calloc((void **)&m->data, n, sizeof(float), "map data");
    if (st != GAR_OK) {
        free(m);
        return st;
    }
    m->nx = nx;
    m->ny = ny;
    m->nz = nz;
    m->pixel_size = pixel_size;
    *out = m;
    return GAR_OK;
}

void gar_map_destroy(gar_map **map)
{
    if (map == NULL || *map == NULL)
        return;
    free((*map)->data);
    free(*map);
    *map = NULL;
}

size_t gar_map_voxels(const gar_map *map) { return map->nx * map->ny * map->nz; }

size_t gar_map_nonfinite_voxels(const gar_map *map)
{
    size_t bad = 0, n = gar_map_voxels(map);
    for (size_t i = 0; i < n; i++)
        bad += !isfinite(map->data[i]);
    return bad;
}

int gar_map_pixel_sizes_agree(double a, double b)
{
    const double big = a > b ? a : b;
    return fabs(a - b) <= GAR_MAP_PIXEL_TOLERANCE * big;
}
