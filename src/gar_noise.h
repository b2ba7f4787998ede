/* garner: the noise model of a refinement: σ²(g, s), the noise power of a
 * particle's (soft-masked) transform per optics group g and per Fourier
 * shell s = round(|k|) of the box (docs/ARCHITECTURE.md, "Noise model and
 * pose score"). The pose search weighs each frequency by 1/σ² (a whitened
 * score, gar_search.h).
 *
 * Estimates come from sums, two floats per (group, shell): Σ h·|n_k|²/N² and
 * Σ h over the transform's pixels k of the shell (N the box: σ² is then in
 * the units of a pixel's variance, about 1 for white noise of σ 1 in the
 * particle mask) (h = 2 on the half plane's
 * kx > 0, 1 on its kx = 0 column: the half plane stands for the whole), with
 * n the noise seen:
 *   - before any pose is known: the image's background, outside the
 *     particle's soft mask (gar_noise_background_sums), scaled by
 *     Σ m² / Σ (1 − m)² so that it estimates the power in the masked
 *     transform the search compares;
 *   - once poses are known: the residual X − a·C·P at each particle's best
 *     pose (gar_search, its noise sums).
 * The caller adds the sums of all particles (exactly: gar_exactsum, so that
 * the model is the same whatever the order) and updates the model with
 * gar_noise_update; σ² = Σ h|n|² / Σ h. */
#ifndef GAR_NOISE_H
#define GAR_NOISE_H

#include <stddef.h>
#include <stdint.h>
#include "gar_fft.h"
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_noise gar_noise;

/* A model for the optics groups groups[0 .. n_groups) over n_shells shells,
 * σ² = 1 everywhere (white: the search then scores as without a model). */
gar_status gar_noise_create(const int32_t *groups, size_t n_groups, size_t n_shells, gar_noise **out);
void gar_noise_destroy(gar_noise **nm);   /* NULL-safe */

size_t gar_noise_groups(const gar_noise *nm);
size_t gar_noise_shells(const gar_noise *nm);
int32_t gar_noise_group_id(const gar_noise *nm, size_t gi);
/* The row of optics group `group`, or −1 when it has none. */
long gar_noise_index(const gar_noise *nm, int32_t group);
/* σ² of group row gi, n_shells values. */
const double *gar_noise_sigma2(const gar_noise *nm, size_t gi);
/* Set row gi (n_shells values, each > 0 and finite: else GAR_ERR_DATA). */
gar_status gar_noise_set(gar_noise *nm, size_t gi, const double *sigma2);
/* Whether every σ² is 1 (a model never updated). */
int gar_noise_is_white(const gar_noise *nm);

/* Floats of a full set of sums: n_groups × n_shells × 2. */
size_t gar_noise_sum_count(const gar_noise *nm);
/* σ² = power / weight for the shells below n_update that have sums; the
 * shells from n_update on (beyond the search's band: not seen) keep their
 * shape, scaled by the mean ratio new/old of the last three shells updated
 * (so the model has no step at the band's edge), and shells never set take
 * the nearest set shell's value. Fails on a NaN or negative sum. */
gar_status gar_noise_update(gar_noise *nm, const float *sums, size_t n_update);

/* One image's background sums (2 × n_shells floats, added to `row`): the
 * N × N image (row-major) times 1 − the soft particle mask of radius
 * mask_radius_px (gar_particle_mask), its transform's power per shell. fft
 * is a plan for N. */
void gar_noise_background_sums(gar_fft2 *fft, const float *image, size_t N, double mask_radius_px, size_t n_shells,
                               float *row);

#ifdef __cplusplus
}
#endif
#endif
