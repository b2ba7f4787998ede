/* garner: the PNG pictures a reconstruction writes, drawn with cairo: the FSC
 * curve and three central sections of a map.
 *
 * Each picture is written to "<path>.tmp-<pid>" and renamed onto path, so a
 * reader never sees half a PNG and a failed write leaves nothing behind. Every
 * failure to create or write the picture returns GAR_ERR_OUTPUT with a message
 * naming path; impossible arguments (NULL data, an empty map) are caller bugs
 * and return GAR_ERR_INTERNAL. */
#ifndef GAR_PLOT_H
#define GAR_PLOT_H

#include <stddef.h>
#include "gar_map.h"
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Size of the FSC picture in pixels. */
#define GAR_PLOT_FSC_WIDTH 800
#define GAR_PLOT_FSC_HEIGHT 560
/* The FSC axis runs from GAR_PLOT_FSC_YMIN at the bottom of the plot area to
 * GAR_PLOT_FSC_YMAX at its top. */
#define GAR_PLOT_FSC_YMIN (-0.1)
#define GAR_PLOT_FSC_YMAX 1.0

/* Colours (0xRRGGBB) of the FSC picture, exact in the PNG wherever a line
 * covers a whole pixel. */
#define GAR_PLOT_RGB_FSC 0x1F5FB4        /* the FSC curve */
#define GAR_PLOT_RGB_FSC_REF 0xE0701A    /* the second curve of gar_plot_fsc2 */
#define GAR_PLOT_RGB_CURVE3 0x757575     /* a third curve of gar_plot_fsc_curves */
#define GAR_PLOT_RGB_CURVE4 0x8E24AA     /* a fourth (and further) curve */
#define GAR_PLOT_RGB_THRESHOLD 0xC62828  /* the dashed threshold line */
#define GAR_PLOT_RGB_RESOLUTION 0x2E7D32 /* the resolution marker */

/* The FSC plot area: the pixel rectangle x0 <= x < x0 + w, y0 <= y < y0 + h.
 * Spatial frequency f (1/Å) is at x = x0 + w * f / nyquist with
 * nyquist = 1 / (2 * pixel_size_A); an FSC value v is at
 * y = y0 + h * (YMAX - v) / (YMAX - YMIN). Lines are 2 px wide and centred on
 * these coordinates, so the pixel row floor(y) of a horizontal line (and the
 * column floor(x) of a vertical one) is covered entirely. */
void gar_plot_fsc_geometry(int *x0, int *y0, int *w, int *h);

/* FSC curve: x = spatial frequency (1/Å) from 0 to Nyquist, y = FSC from -0.1
 * to 1.0. Shell i of `fsc` (n_shells = box/2 + 1 of them) is at frequency
 * i / (box * pixel_size_A); non-finite values leave a gap in the curve. A
 * dashed horizontal line at `threshold`, labelled with its value; the
 * resolution marked with a vertical line and a label "6.2 Å"
 * (resolution_A <= 0: no marker); the x axis in 1/Å with secondary tick
 * labels in Å along the top; title may be NULL. */
gar_status gar_plot_fsc(const char *path, const double *fsc, size_t n_shells, size_t box,
                        double pixel_size_A, double threshold, double resolution_A,
                        const char *title);
/* As gar_plot_fsc, with an optional second curve (e.g. FSC against a
 * reference) in another colour and a legend naming both curves; fsc_ref NULL
 * omits it. label and label_ref may be NULL ("FSC", "reference"). */
gar_status gar_plot_fsc2(const char *path, const double *fsc, const double *fsc_ref, size_t n_shells,
                         size_t box, double pixel_size_A, double threshold, double resolution_A,
                         const char *title, const char *label, const char *label_ref);
/* As gar_plot_fsc2 with n_curves curves (curves[0] drawn on top, in
 * GAR_PLOT_RGB_FSC; then GAR_PLOT_RGB_FSC_REF, GAR_PLOT_RGB_CURVE3,
 * GAR_PLOT_RGB_CURVE4) and, for two or more, a legend of labels. */
gar_status gar_plot_fsc_curves(const char *path, const double *const *curves, const char *const *labels,
                               size_t n_curves, size_t n_shells, size_t box, double pixel_size_A, double threshold,
                               double resolution_A, const char *title);

/* A Guinier plot: ln of the mean amplitude (y) against s² in 1/Å² (x), for
 * n_curves curves of n points each (x shared; non-finite y leave gaps;
 * curve colours and legend as gar_plot_fsc_curves), the fitted line
 * y = intercept + slope x drawn dashed over lo <= x <= hi (slope NaN: none),
 * and the axis range taken from the finite points. */
gar_status gar_plot_guinier(const char *path, const double *x, const double *const *curves,
                            const char *const *labels, size_t n_curves, size_t n, double lo, double hi, double slope,
                            double intercept, const char *title);

/* Layout of the slices picture of an nx × ny × nz map. Each voxel becomes a
 * scale × scale block of pixels. Panel k (0: XY, 1: XZ, 2: YZ) has its top
 * left corner at (panel_x[k], panel_y); the XY panel is nx × ny voxels wide ×
 * high, XZ nx × nz and YZ ny × nz. Any output pointer may be NULL. Returns 0
 * when the picture would be too large for cairo (over 32767 px a side). */
int gar_plot_slices_layout(size_t nx, size_t ny, size_t nz, int *scale, int panel_x[3],
                           int *panel_y, int *width, int *height);

/* Three central sections of a map side by side: XY at z = nz/2, XZ at
 * y = ny/2, YZ at x = nx/2. Within a panel the first named axis runs left to
 * right and the second top to bottom from index 0 (voxel (a, b) of the XY
 * panel is at panel_x[0] + a*scale, panel_y + b*scale). Grey levels run from
 * black at mean - 3 sd to white at mean + 3 sd of the whole map (a constant map
 * is mid grey); panels are upscaled by nearest neighbour so that the longest
 * side is at least 256 px. A label under each panel ("XY (z = 32)", ...) and
 * a title line (title may be NULL). */
gar_status gar_plot_slices(const char *path, const gar_map *map, const char *title);

/* A noise spectrum: for each of n_curves rows of sigma2 (n_shells values,
 * shell 0 not drawn), σ² against spatial frequency, on a log scale from its
 * largest value down to 1/1000 of it (the FSC picture's size and frequency
 * axes; the first curve in GAR_PLOT_RGB_FSC, the second in
 * GAR_PLOT_RGB_FSC_REF, further ones grey). Written atomically. */
gar_status gar_plot_noise(const char *path, const double *sigma2, size_t n_curves, size_t n_shells, size_t box,
                          double pixel_size_A, const char *title);

/* The distribution of particle directions (rot against tilt, degrees), shaded
 * by density per solid angle, with a colour bar on the right whose top is the
 * densest cell, labelled in multiples of a uniform distribution's density
 * (n / 4π per steradian). */
gar_status gar_plot_angdist(const char *path, const double *rot_deg, const double *tilt_deg, size_t n,
                            const char *title);
/* The shade of a cell at `fraction` (0..1) of the densest cell's density, as
 * 0xRRGGBB: the cells and the colour bar use this one mapping. */
unsigned gar_plot_angdist_shade(double fraction);
/* Where the colour bar lies in the picture (pixels; its top is fraction 1,
 * its bottom 0), and the cell of 5° × 5° at rot in [-180, 180), tilt in
 * [0, 180]: its top-left corner and side. */
void gar_plot_angdist_geometry(int *bar_x0, int *bar_y0, int *bar_w, int *bar_h, double rot_deg, double tilt_deg,
                               int *cell_x, int *cell_y, int *cell);

#ifdef __cplusplus
}
#endif
#endif
