/* garner: a 3D map (or 2D image stack) in memory. The type and its calls
 * are public: <garner/map.h> (src/include/garner/map.h); the checks below
 * are garner's own, shared by every command that takes a map from a user. */
#ifndef GAR_MAP_H
#define GAR_MAP_H

#include <garner/map.h>
#include "gar_status.h"

/* Pixel sizes of two maps (or a map and the particles) may differ by this
 * much, relative to the larger, and still count as one: more than float
 * rounding of an MRC header's cell, less than any real difference in
 * magnification calibration (those are 1 % and more). */
#define GAR_MAP_PIXEL_TOLERANCE 0.005

/* How many voxels are NaN or infinite. One such voxel poisons every Fourier
 * coefficient of the map (an FSC against it is 0 in every shell), so a map
 * given by a user is refused when this is not 0. */
size_t gar_map_nonfinite_voxels(const gar_map *map);

/* Whether pixel sizes a and b (Å, both > 0) agree within
 * GAR_MAP_PIXEL_TOLERANCE of the larger. */
int gar_map_pixel_sizes_agree(double a, double b);

#endif
