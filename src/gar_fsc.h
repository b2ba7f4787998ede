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

/* The resolution in Å where the FSC first falls below `threshold` after shell
 * 0, interpolated linearly between the shells on either side; 2·pixel (Nyquist)
 * if it never does. */
double gar_fsc_resolution(const double *fsc, size_t n_shells, size_t box, double pixel_size_A,
                          double threshold);

/* Mean of the FSC over shells 1 .. last (inclusive). */
double gar_fsc_mean(const double *fsc, size_t first, size_t last);

#ifdef __cplusplus
}
#endif
#endif
