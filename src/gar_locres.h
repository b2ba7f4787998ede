/* garner: local resolution from two half maps: the half-map FSC in a soft
 * spherical window around each point of a grid inside the solvent mask,
 * corrected for the window's own correlation by phase randomisation (Chen et
 * al. 2013), as relion_postprocess --locres does. The formulas and defaults
 * are in docs/ARCHITECTURE.md, "Post-processing"; `garner postprocess`
 * runs it (src/run/run_postprocess.c). The points are measured in parallel
 * (OpenMP threads). */
#ifndef GAR_LOCRES_H
#define GAR_LOCRES_H

#include <stddef.h>
#include <stdint.h>
#include "gar_map.h"
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_locres_settings {
    double step_A;        /* grid spacing (Å) */
    double radius_A;      /* the window's flat part: weight 1 within this distance (Å) */
    double edge_A;        /* its raised-cosine edge, from radius_A to radius_A + edge_A (Å) */
    double randomise_A;   /* both halves' phases randomised beyond this resolution (Å) */
    double mask_level;    /* grid points where the solvent mask is at least this */
    double worst_A;       /* local resolutions clamped to at most this (Å) */
    uint64_t seed;        /* of the random phases */
} gar_locres_settings;

/* Defaults: step 10 Å, window 10 Å + 10 Å edge, randomised beyond 25 Å,
 * mask level 0.5, worst 50 Å. */
void gar_locres_settings_default(gar_locres_settings *s);

typedef struct gar_locres_result {
    size_t n_points;       /* grid points measured */
    double *points;        /* 4 per point: x, y, z (voxels) and the local resolution (Å) */
    double median_A, p5_A, p95_A;   /* over the points (p5 the finest) */
    size_t window_box;     /* side of the sub-box each window's FSC is computed in */
    gar_map *map;          /* per voxel 1 / (Σ w_i / d_i / Σ w_i), w_i the windows' weights; 0 where none */
} gar_locres_result;

/* Local resolution of half maps h1, h2 (cubic, one size) with solvent mask
 * `mask` at pixel size pixel_A. `threads` OpenMP threads (0: the default).
 * GAR_ERR_DATA when no grid point lies inside the mask. */
gar_status gar_local_resolution(const gar_map *h1, const gar_map *h2, const gar_map *mask, double pixel_A,
                                const gar_locres_settings *s, int threads, gar_locres_result **out);
void gar_locres_result_destroy(gar_locres_result **r);   /* NULL-safe */

/* gar_local_resolution in three steps, for splitting the points over
 * processes (src/run/run_postprocess.c: MPI ranks). A point's value depends
 * only on the maps, the settings and its place, so any split gives the same
 * values, bit for bit.
 * gar_locres_grid: the grid points inside `mask` (cubic), their values NaN,
 * no map yet (GAR_ERR_DATA when there are none). */
gar_status gar_locres_grid(const gar_map *mask, double pixel_A, const gar_locres_settings *s,
                           gar_locres_result **out);
/* Measure points first .. first + count − 1 of r (the rest untouched). */
gar_status gar_locres_measure(const gar_map *h1, const gar_map *h2, double pixel_A, const gar_locres_settings *s,
                              int threads, gar_locres_result *r, size_t first, size_t count);
/* Once every point is measured: the summary and the map (box n). */
gar_status gar_locres_finish(gar_locres_result *r, size_t n, double pixel_A, const gar_locres_settings *s);

#ifdef __cplusplus
}
#endif
#endif
