/* garner public API: preparing a particle image before it is used, as RELION's
 * extraction does (relion_preprocess --norm with a background ramp removed):
 * the background is the pixels outside a circle about the box centre; a
 * plane a + b·x + c·y is fitted to them by least squares and subtracted from
 * every pixel, and the image is divided by the background's standard
 * deviation after the fit, so that the background has mean 0 and σ 1
 * (docs/ARCHITECTURE.md, "Image preparation").
 *
 * Why: a per-image linear intensity gradient (uneven ice) adds power at the
 * lowest frequencies that no projection of the map explains, and images
 * whose noise levels differ by a factor would weigh differently in every
 * sum; both disturb the pose search and the reconstruction. */
#ifndef GARNER_IMAGE_H
#define GARNER_IMAGE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What gar_image_normalise found: the fitted plane (value at the centre,
 * slopes per pixel) and the background σ it divided by. */
typedef struct gar_image_norm {
    double mean, slope_x, slope_y, sigma;
    size_t background_pixels;
} gar_image_norm;

/* The background radius (pixels) of an N-pixel box when none is given: the
 * inscribed circle, so the background is the four corners. */
double gar_image_background_radius(size_t N);

/* In place, on an N × N row-major image; the background is every pixel
 * farther than radius_px from (N/2, N/2). A background of fewer than 3
 * pixels, or of σ 0 (at most 1e-5 of the image's RMS: an exact plane),
 * leaves the scale as it is (the plane is still subtracted). info may be NULL. */
void gar_image_normalise(float *image, size_t N, double radius_px, gar_image_norm *info);

#ifdef __cplusplus
}
#endif
#endif
