/* garner: Fourier shell correlation between two maps,
 *   FSC(s) = Re Σ_shell F1 F2* / √(Σ|F1|² Σ|F2|²),
 * over shells s = round(|k|) for |k| <= N/2, k in Fourier voxels of the N³ box
 * (spatial frequency s / (N·p)). Half maps use the 0.143 threshold, a map
 * against ground truth 0.5 (DESIGN.md). */
#ifndef GAR_FSC_H
#define GAR_FSC_H

#include <stddef.h>
#include "gar_map.h"
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* fsc receives N/2 + 1 values (shell 0 is the mean term). Maps must be cubic
 * and of one size. */
gar_status gar_fsc_compute(const gar_map *a, const gar_map *b, double *fsc);

/* How the FSC meets a threshold over shells 1 .. N/2. */
typedef enum gar_fsc_crossing {
    GAR_FSC_CROSSES = 0,     /* falls below it from shell 1 on: a resolution */
    GAR_FSC_NEVER_BELOW,     /* at or above it up to Nyquist: Nyquist or finer */
    GAR_FSC_BELOW_AT_FIRST   /* below it already at shell 1: none measurable */
} gar_fsc_crossing;

/* The resolution in Å where the FSC first falls below `threshold` after
 * shell 1, interpolated linearly between the shells on either side, and how
 * it was found. The value is always within what the box measures, from
 * box·pixel (shell 1) to 2·pixel (Nyquist): 2·pixel when the FSC never falls
 * below (a bound: the map may be better), box·pixel when it is below at
 * shell 1 already (a bound the other way; a resolution coarser than the box
 * cannot be measured, and interpolating toward shell 0, the mean, gave
 * 1e9 boxes for an FSC of 0 everywhere). `crossing` may be NULL. */
double gar_fsc_find_resolution(const double *fsc, size_t n_shells, size_t box, double pixel_size_A,
                               double threshold, gar_fsc_crossing *crossing);
/* gar_fsc_find_resolution's value alone. */
double gar_fsc_resolution(const double *fsc, size_t n_shells, size_t box, double pixel_size_A,
                          double threshold);

/* Mean of the FSC over shells 1 .. last (inclusive). */
double gar_fsc_mean(const double *fsc, size_t first, size_t last);

#ifdef __cplusplus
}
#endif
#endif
