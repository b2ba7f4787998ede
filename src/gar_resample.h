/* garner: changing an image's pixel size by band-limited interpolation.
 *
 * Why: particles merged from datasets recorded at slightly different
 * magnifications (optics groups at 1.24 and 1.25 Å) must be brought to one
 * pixel size before they share a reconstruction; a 1 % scale error puts a
 * feature at the box edge out of place by half a pixel of a 100-px box and
 * blurs the high-resolution shells.
 *
 * The method is the trigonometric (Fourier) interpolant of the image: the
 * N x N image's discrete Fourier series, evaluated at the new sampling
 * positions, which is exactly "rescaling in Fourier space" with no window
 * or kernel approximation. It is separable, so the image is multiplied by an
 * N x N matrix on each side (two sgemm calls, 2N³ flops: 4 Mflop at N = 128).
 * Output pixel i (row or column, counted from 0) lies at physical position
 * (i - N/2)·out_A; it takes the input's value at (i - N/2)·out_A/in_A + N/2
 * input pixels. Positions past the input's edge read the periodic
 * continuation of the image (its opposite edge): a few pixels of background
 * at the ±1 % scales this is meant for. Shrinking the pixel size (out_A <
 * in_A) adds no information; enlarging it (out_A > in_A) folds the input's
 * band between the new and the old Nyquist frequency back, a band of
 * (1 - in_A/out_A) of the spectrum: 1 % at the tolerance garner import
 * allows. */
#ifndef GAR_RESAMPLE_H
#define GAR_RESAMPLE_H

#include <stddef.h>
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_resampler gar_resampler;

/* For N x N images (N even, >= 2) at in_A Å/px, to be resampled to out_A
 * Å/px (both finite and > 0). */
gar_status gar_resampler_create(size_t N, double in_A, double out_A, gar_resampler **out);
/* in and out: N x N row-major, distinct arrays. */
void gar_resampler_apply(gar_resampler *r, const float *in, float *out);
void gar_resampler_destroy(gar_resampler **r);  /* NULL-safe */

/* The interpolation weight of input pixel j for output position x (in input
 * pixels) along one axis of length N: the Dirichlet kernel with the Nyquist
 * term taken as its real part, (1/N)[1 + 2 Σ_{k=1}^{N/2-1} cos(2πk d/N)
 * + cos(π d)], d = x - j. Exposed for the tests. */
double gar_resample_weight(size_t N, double x, size_t j);

#ifdef __cplusplus
}
#endif
#endif
