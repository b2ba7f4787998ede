/* garner public API: a 3D map (or 2D image stack) in memory, float32, x
 * fastest: data[(z * ny + y) * nx + x]. The real-space origin of a box of
 * size N is at index N/2 along each axis. */
#ifndef GARNER_MAP_H
#define GARNER_MAP_H

#include <stddef.h>
#include <garner/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_map {
    size_t nx, ny, nz;
    double pixel_size;   /* Å per voxel; 0 if unknown */
    float *data;         /* owned; nx*ny*nz floats */
} gar_map;

/* Allocate a zeroed map; the caller owns it (gar_map_destroy). pixel_size
 * may be 0 (unknown). GAR_ERR_NOMEM if it does not fit. */
gar_status gar_map_create(size_t nx, size_t ny, size_t nz, double pixel_size, gar_map **out);
/* Free a map and its data. NULL-safe (map or *map); sets *map to NULL. */
void gar_map_destroy(gar_map **map);
/* nx * ny * nz. */
size_t gar_map_voxels(const gar_map *map);

#ifdef __cplusplus
}
#endif
#endif
