#include "gar_plot.h"

#include "gar_atomic.h"

#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Spelled as bytes so the label does not depend on the compiler's source or
 * execution character set; cairo's toy text API takes UTF-8. */
#define ANGSTROM "\xc3\x85"

/* FSC picture layout. The top margin holds the title and the Å tick labels,
 * the bottom one the 1/Å tick labels and the axis title. */
#define FSC_X0 70
#define FSC_Y0 72
#define FSC_W (GAR_PLOT_FSC_WIDTH - FSC_X0 - 30)
#define FSC_H (GAR_PLOT_FSC_HEIGHT - FSC_Y0 - 68)
/* Å tick labels closer together than this would run into each other. */
#define FSC_ANGSTROM_TICK_GAP 56.0

#define RGB_TEXT 0x202020
#define RGB_FRAME 0x404040
#define RGB_GRID 0xE4E4E4
#define RGB_ZERO 0xA0A0A0

/* Slices picture layout: margin, title band, label band, gap between panels,
 * and the size the longest panel side is upscaled to. */
#define SL_MARGIN 16
#define SL_TITLE 40
#define SL_LABEL 30
#define SL_GAP 16
#define SL_MIN_SIDE 256
/* cairo's image surfaces are limited to this many pixels a side. */
#define CAIRO_MAX_SIDE 32767

typedef struct fsc_frame {
    double x0, y0, w, h;
    double nyquist; /* 1/Å at the right edge */
} fsc_frame;

static void set_rgb(cairo_t *cr, unsigned rgb)
{
    cairo_set_source_rgb(cr, ((rgb >> 16) & 0xFF) / 255.0, ((rgb >> 8) & 0xFF) / 255.0,
                         (rgb & 0xFF) / 255.0);
}

static void set_font(cairo_t *cr, double size, int bold)
{
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

/* Where text anchored at (x, y) starts. ax is 0, 0.5 or 1 for left, centre or
 * right; ay is 0, 0.5 or 1 for the top, middle or baseline of a capital
 * letter. Anchoring on capitals rather than on each string's own ink keeps
 * "0.1" and "1/Å" on one baseline. */
static void text_origin(cairo_t *cr, const char *s, double x, double y, double ax, double ay,
                        double *ox, double *oy, cairo_text_extents_t *te)
{
    cairo_text_extents_t cap;
    cairo_text_extents(cr, s, te);
    cairo_text_extents(cr, "H", &cap);
    *ox = x - te->x_advance * ax;
    *oy = y - cap.y_bearing * (1.0 - ay);
}

static void show_text(cairo_t *cr, const char *s, double x, double y, double ax, double ay)
{
    cairo_text_extents_t te;
    double ox, oy;
    text_origin(cr, s, x, y, ax, ay, &ox, &oy, &te);
    cairo_move_to(cr, ox, oy);
    cairo_show_text(cr, s);
}

/* A plot's title, bold, centred on x above baseline y; none when NULL. */
static void draw_title(cairo_t *cr, const char *title, double x, double y)
{
    if (title == NULL)
        return;
    set_font(cr, 16, 1);
    set_rgb(cr, RGB_TEXT);
    show_text(cr, title, x, y, 0.5, 1.0);
}

/* Labels inside the plot area sit on a white patch so that a curve passing
 * behind them does not make them unreadable. */
static void show_text_on_white(cairo_t *cr, const char *s, double x, double y, double ax,
                               double ay, unsigned rgb)
{
    cairo_text_extents_t te;
    double ox, oy;
    const double pad = 3.0;
    text_origin(cr, s, x, y, ax, ay, &ox, &oy, &te);
    set_rgb(cr, 0xFFFFFF);
    cairo_rectangle(cr, ox + te.x_bearing - pad, oy + te.y_bearing - pad, te.width + 2 * pad,
                    te.height + 2 * pad);
    cairo_fill(cr);
    set_rgb(cr, rgb);
    cairo_move_to(cr, ox, oy);
    cairo_show_text(cr, s);
}

static double fsc_px(const fsc_frame *f, double freq) { return f->x0 + f->w * freq / f->nyquist; }

static double fsc_py(const fsc_frame *f, double v)
{
    return f->y0 + f->h * (GAR_PLOT_FSC_YMAX - v) / (GAR_PLOT_FSC_YMAX - GAR_PLOT_FSC_YMIN);
}

/* Centre of the pixel a coordinate falls in: 1 px lines drawn there are
 * crisp instead of smeared over two rows. */
static double crisp(double c) { return floor(c) + 0.5; }

/* A 1-2-2.5-5 step giving about `target` intervals over [0, range]. */
static double nice_step(double range, int target)
{
    double raw = range / target;
    double mag = pow(10.0, floor(log10(raw)));
    double m = raw / mag;
    if (m < 1.5)
        return mag;
    if (m < 2.25)
        return 2.0 * mag;
    if (m < 3.5)
        return 2.5 * mag;
    if (m < 7.5)
        return 5.0 * mag;
    return 10.0 * mag;
}

/* Decimals needed to print multiples of step exactly ("0.05" not "0.1"). */
static int step_decimals(double step)
{
    for (int d = 0; d < 8; d++) {
        double s = step * pow(10.0, d);
        if (fabs(s - round(s)) < 1e-6 * s)
            return d;
    }
    return 8;
}

/* Spatial frequency along the bottom, with vertical grid lines. */
static void draw_frequency_axis(cairo_t *cr, const fsc_frame *f)
{
    double step = nice_step(f->nyquist, 6);
    int dec = step_decimals(step);
    double bottom = f->y0 + f->h;
    char buf[32];
    set_font(cr, 12, 0);
    for (int k = 0; k * step <= f->nyquist * (1 + 1e-9); k++) {
        double x = crisp(fsc_px(f, k * step));
        if (x > f->x0 + f->w)
            x = f->x0 + f->w - 0.5;
        if (k > 0) {
            set_rgb(cr, RGB_GRID);
            cairo_set_line_width(cr, 1.0);
            cairo_move_to(cr, x, f->y0);
            cairo_line_to(cr, x, bottom);
            cairo_stroke(cr);
        }
        set_rgb(cr, RGB_FRAME);
        cairo_move_to(cr, x, bottom);
        cairo_line_to(cr, x, bottom + 5);
        cairo_stroke(cr);
        snprintf(buf, sizeof buf, "%.*f", dec, k * step);
        set_rgb(cr, RGB_TEXT);
        show_text(cr, buf, x, bottom + 9, 0.5, 0.0);
    }
    set_font(cr, 13, 0);
    show_text(cr, "resolution (1/" ANGSTROM ")", f->x0 + 0.5 * f->w, GAR_PLOT_FSC_HEIGHT - 16, 0.5,
              1.0);
}

/* Resolutions in Å along the top. Round values (1, 2, 5 × 10^k) are placed
 * first and the in-between ones (1.5, 2.5, 3, 4, 6, 8) only where they fit,
 * so the labels stay round at low resolution, where 1/f crowds together,
 * and get denser towards Nyquist. */
static void draw_angstrom_axis(cairo_t *cr, const fsc_frame *f)
{
    static const double tiers[2][6] = {{1, 2, 5, 0, 0, 0}, {1.5, 2.5, 3, 4, 6, 8}};
    static const int tier_n[2] = {3, 6};
    double placed[64];
    int n_placed = 0;
    /* The finest resolution on the axis is 1/nyquist; four decades above it
     * reach the left edge for any sensible picture width. */
    int first_decade = (int)floor(log10(1.0 / f->nyquist));
    char buf[32];
    set_font(cr, 12, 0);
    for (int t = 0; t < 2; t++)
        for (int dec = first_decade; dec <= first_decade + 4; dec++)
            for (int m = 0; m < tier_n[t]; m++) {
                double d = tiers[t][m] * pow(10.0, dec);
                double x = fsc_px(f, 1.0 / d);
                int fits = x <= f->x0 + f->w + 1e-6 && x >= f->x0 + 24 && n_placed < 64;
                for (int i = 0; fits && i < n_placed; i++)
                    if (fabs(placed[i] - x) < FSC_ANGSTROM_TICK_GAP)
                        fits = 0;
                if (!fits)
                    continue;
                placed[n_placed++] = x;
                x = crisp(x);
                if (x > f->x0 + f->w)
                    x = f->x0 + f->w - 0.5;
                set_rgb(cr, RGB_FRAME);
                cairo_set_line_width(cr, 1.0);
                cairo_move_to(cr, x, f->y0);
                cairo_line_to(cr, x, f->y0 - 5);
                cairo_stroke(cr);
                snprintf(buf, sizeof buf, "%g " ANGSTROM, d);
                set_rgb(cr, RGB_TEXT);
                show_text(cr, buf, x, f->y0 - 9, 0.5, 1.0);
            }
}

static void draw_fsc_axis(cairo_t *cr, const fsc_frame *f)
{
    char buf[16];
    set_font(cr, 12, 0);
    for (int k = 0; k <= 5; k++) {
        double v = 0.2 * k;
        double y = crisp(fsc_py(f, v));
        if (y < f->y0)
            y = f->y0 + 0.5;
        cairo_set_line_width(cr, 1.0);
        /* FSC = 0 is where uncorrelated shells scatter: a darker line. */
        set_rgb(cr, k == 0 ? RGB_ZERO : RGB_GRID);
        cairo_move_to(cr, f->x0, y);
        cairo_line_to(cr, f->x0 + f->w, y);
        cairo_stroke(cr);
        set_rgb(cr, RGB_FRAME);
        cairo_move_to(cr, f->x0 - 5, y);
        cairo_line_to(cr, f->x0, y);
        cairo_stroke(cr);
        snprintf(buf, sizeof buf, "%.1f", v);
        set_rgb(cr, RGB_TEXT);
        show_text(cr, buf, f->x0 - 8, y, 1.0, 0.5);
    }
    cairo_save(cr);
    cairo_translate(cr, 24, f->y0 + 0.5 * f->h);
    cairo_rotate(cr, -0.5 * 3.14159265358979323846);
    set_font(cr, 13, 0);
    show_text(cr, "FSC", 0, 0, 0.5, 0.5);
    cairo_restore(cr);
}

static void draw_curve(cairo_t *cr, const fsc_frame *f, const double *fsc, size_t n_shells,
                       size_t box, double pixel_size_A, unsigned rgb)
{
    int pen_down = 0;
    set_rgb(cr, rgb);
    cairo_set_line_width(cr, 2.0);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    /* Shell 0 is the mean term, not a resolution: the curve starts at shell 1. */
    for (size_t i = 1; i < n_shells; i++) {
        double freq = (double)i / ((double)box * pixel_size_A);
        double v = fsc[i];
        if (!isfinite(v)) {
            pen_down = 0;
            continue;
        }
        /* FSC lies in [-1, 1]; bounding wild values keeps cairo's fixed-point
         * coordinates in range, and the clip hides the rest. */
        if (v > 2.0)
            v = 2.0;
        if (v < -1.5)
            v = -1.5;
        if (pen_down)
            cairo_line_to(cr, fsc_px(f, freq), fsc_py(f, v));
        else
            cairo_move_to(cr, fsc_px(f, freq), fsc_py(f, v));
        pen_down = 1;
    }
    cairo_stroke(cr);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
}

/* Colour of curve i of a picture with several: the first two as before,
 * then grey and purple. */
static unsigned curve_rgb(size_t i)
{
    static const unsigned rgb[] = {GAR_PLOT_RGB_FSC, GAR_PLOT_RGB_FSC_REF, GAR_PLOT_RGB_CURVE3, GAR_PLOT_RGB_CURVE4};
    return rgb[i < 4 ? i : 3];
}

static void draw_legend(cairo_t *cr, const fsc_frame *f, const char *const *labels, size_t n)
{
    const double sample = 24, pad = 8, row = 20;
    double text_w = 0, bw, bh, bx, by;
    cairo_text_extents_t te;
    set_font(cr, 12, 0);
    for (size_t i = 0; i < n; i++) {
        cairo_text_extents(cr, labels[i], &te);
        if (te.x_advance > text_w)
            text_w = te.x_advance;
    }
    bw = pad + sample + 6 + text_w + pad;
    bh = pad + (double)n * row - 4 + pad;
    bx = floor(f->x0 + f->w - 10 - bw) + 0.5;
    by = floor(f->y0 + 10) + 0.5;
    cairo_rectangle(cr, bx, by, bw, bh);
    set_rgb(cr, 0xFFFFFF);
    cairo_fill_preserve(cr);
    set_rgb(cr, 0xB0B0B0);
    cairo_set_line_width(cr, 1.0);
    cairo_stroke(cr);
    for (size_t i = 0; i < n; i++) {
        double y = by + pad + 8 + (double)i * row;
        set_rgb(cr, curve_rgb(i));
        cairo_set_line_width(cr, 2.0);
        cairo_move_to(cr, bx + pad, y);
        cairo_line_to(cr, bx + pad + sample, y);
        cairo_stroke(cr);
        set_rgb(cr, RGB_TEXT);
        show_text(cr, labels[i], bx + pad + sample + 6, y, 0.0, 0.5);
    }
}

/* n_curves curves (curves[0] on top), a legend when there are two or more. */
static void draw_fsc(cairo_t *cr, const double *const *curves, const char *const *labels, size_t n_curves,
                     size_t n_shells, size_t box, double pixel_size_A, double threshold, double resolution_A,
                     const char *title)
{
    fsc_frame f = {FSC_X0, FSC_Y0, FSC_W, FSC_H, 0.5 / pixel_size_A};
    int show_threshold = isfinite(threshold) && threshold >= GAR_PLOT_FSC_YMIN &&
                         threshold <= GAR_PLOT_FSC_YMAX;
    /* A resolution beyond Nyquist cannot be on the axis; leave it unmarked
     * rather than pin it to the edge, which would claim a different number. */
    int show_resolution = isfinite(resolution_A) && resolution_A > 0 &&
                          1.0 / resolution_A <= f.nyquist * (1 + 1e-9);
    char buf[64];

    draw_frequency_axis(cr, &f);
    draw_angstrom_axis(cr, &f);
    draw_fsc_axis(cr, &f);

    cairo_save(cr);
    cairo_rectangle(cr, f.x0, f.y0, f.w, f.h);
    cairo_clip(cr);
    if (show_threshold) {
        static const double dash[2] = {8.0, 5.0};
        set_rgb(cr, GAR_PLOT_RGB_THRESHOLD);
        cairo_set_line_width(cr, 2.0);
        cairo_set_dash(cr, dash, 2, 0.0);
        cairo_move_to(cr, f.x0, fsc_py(&f, threshold));
        cairo_line_to(cr, f.x0 + f.w, fsc_py(&f, threshold));
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0.0);
    }
    if (show_resolution) {
        double x = fsc_px(&f, 1.0 / resolution_A);
        set_rgb(cr, GAR_PLOT_RGB_RESOLUTION);
        cairo_set_line_width(cr, 2.0);
        cairo_move_to(cr, x, f.y0);
        cairo_line_to(cr, x, f.y0 + f.h);
        cairo_stroke(cr);
    }
    /* The later curves underneath: the first is what the picture is about. */
    for (size_t i = n_curves; i-- > 0;)
        draw_curve(cr, &f, curves[i], n_shells, box, pixel_size_A, curve_rgb(i));
    cairo_restore(cr);

    set_rgb(cr, RGB_FRAME);
    cairo_set_line_width(cr, 1.0);
    cairo_rectangle(cr, f.x0 - 0.5, f.y0 - 0.5, f.w + 1, f.h + 1);
    cairo_stroke(cr);

    set_font(cr, 12, 0);
    if (show_threshold) {
        double y = fsc_py(&f, threshold);
        snprintf(buf, sizeof buf, "%g", threshold);
        /* Above the line, or below it when the line runs along the top. */
        if (y - f.y0 > 24)
            show_text_on_white(cr, buf, f.x0 + f.w - 8, y - 6, 1.0, 1.0, GAR_PLOT_RGB_THRESHOLD);
        else
            show_text_on_white(cr, buf, f.x0 + f.w - 8, y + 6, 1.0, 0.0, GAR_PLOT_RGB_THRESHOLD);
    }
    if (show_resolution) {
        double x = fsc_px(&f, 1.0 / resolution_A);
        cairo_text_extents_t te;
        /* Below the legend's corner, right of the line where the curve has
         * already dropped, unless that runs off the plot. */
        double y = fsc_py(&f, 0.7);
        snprintf(buf, sizeof buf, resolution_A >= 100 ? "%.0f " ANGSTROM : "%.1f " ANGSTROM,
                 resolution_A);
        set_font(cr, 13, 1);
        cairo_text_extents(cr, buf, &te);
        if (x + 8 + te.x_advance < f.x0 + f.w - 4)
            show_text_on_white(cr, buf, x + 8, y, 0.0, 0.5, GAR_PLOT_RGB_RESOLUTION);
        else
            show_text_on_white(cr, buf, x - 8, y, 1.0, 0.5, GAR_PLOT_RGB_RESOLUTION);
    }
    if (n_curves > 1)
        draw_legend(cr, &f, labels, n_curves);
    draw_title(cr, title, 0.5 * GAR_PLOT_FSC_WIDTH, 28);
}

/* Write the finished surface to path through a temporary file. */
static gar_status write_png(cairo_surface_t *surface, cairo_t *cr, const char *path)
{
    gar_status st;
    gar_atomic a;
    cairo_status_t cs;
    int err;

    cs = cairo_status(cr);
    if (cs == CAIRO_STATUS_SUCCESS)
        cs = cairo_surface_status(surface);
    if (cs != CAIRO_STATUS_SUCCESS)
        return gar_error(GAR_ERR_OUTPUT, "cannot draw the picture %s: %s", path,
                         cairo_status_to_string(cs));
    st = gar_atomic_begin(&a, path, 0);
    if (st != GAR_OK)
        return st;
    cairo_surface_flush(surface);
    /* cairo reports only "error while writing to output stream"; errno from
     * its fopen or fwrite says why (no such folder, disk full). */
    errno = 0;
    cs = cairo_surface_write_to_png(surface, a.tmp);
    err = errno;
    if (cs == CAIRO_STATUS_SUCCESS)
        cs = cairo_surface_status(surface);
    if (cs != CAIRO_STATUS_SUCCESS) {
        gar_atomic_abort(&a);
        return gar_error(GAR_ERR_OUTPUT, "cannot write the picture %s: %s%s%s%s", path,
                         cairo_status_to_string(cs), err ? " (" : "", err ? strerror(err) : "",
                         err ? ")" : "");
    }
    /* The message of this file's other failures, with rename's reason. */
    if (gar_atomic_commit(&a) != GAR_OK)
        return gar_error(GAR_ERR_OUTPUT, "cannot write the picture %s: rename from %s: %s", path,
                         a.tmp, strerror(errno));
    return GAR_OK;
}

/* A white picture of w × h pixels to draw on. */
static gar_status begin_picture(const char *path, int w, int h, cairo_surface_t **surface, cairo_t **cr)
{
    *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    *cr = cairo_create(*surface);
    if (cairo_status(*cr) != CAIRO_STATUS_SUCCESS)
        return gar_error(GAR_ERR_OUTPUT, "cannot create the picture %s: %s", path,
                         cairo_status_to_string(cairo_status(*cr)));
    set_rgb(*cr, 0xFFFFFF);
    cairo_paint(*cr);
    return GAR_OK;
}

/* Free what begin_picture made (either may be NULL); passes st through. */
static gar_status end_picture(cairo_surface_t *surface, cairo_t *cr, gar_status st)
{
    if (cr != NULL)
        cairo_destroy(cr);
    if (surface != NULL)
        cairo_surface_destroy(surface);
    return st;
}

void gar_plot_fsc_geometry(int *x0, int *y0, int *w, int *h)
{
    if (x0 != NULL)
        *x0 = FSC_X0;
    if (y0 != NULL)
        *y0 = FSC_Y0;
    if (w != NULL)
        *w = FSC_W;
    if (h != NULL)
        *h = FSC_H;
}

gar_status gar_plot_fsc2(const char *path, const double *fsc, const double *fsc_ref, size_t n_shells,
                         size_t box, double pixel_size_A, double threshold, double resolution_A,
                         const char *title, const char *label, const char *label_ref)
{
    gar_status st = GAR_OK;
    cairo_surface_t *surface = NULL;
    cairo_t *cr = NULL;

    if (path == NULL || fsc == NULL || n_shells < 2 || box < 2 || !isfinite(pixel_size_A) ||
        !(pixel_size_A > 0)) {
        st = gar_error(GAR_ERR_INTERNAL,
                       "FSC picture %s: no curve, fewer than 2 shells, box %zu or pixel size %g A",
                       path != NULL ? path : "(null)", box, pixel_size_A);
        goto done;
    }
    {
        const double *curves[2] = {fsc, fsc_ref};
        const char *labels[2] = {label != NULL ? label : "FSC", label_ref != NULL ? label_ref : "reference"};
        if ((st = begin_picture(path, GAR_PLOT_FSC_WIDTH, GAR_PLOT_FSC_HEIGHT, &surface, &cr)) != GAR_OK)
            goto done;
        draw_fsc(cr, curves, labels, fsc_ref != NULL ? 2 : 1, n_shells, box, pixel_size_A, threshold,
                 resolution_A, title);
    }
    st = write_png(surface, cr, path);
done:
    return end_picture(surface, cr, st);
}

gar_status gar_plot_fsc_curves(const char *path, const double *const *curves, const char *const *labels,
                               size_t n_curves, size_t n_shells, size_t box, double pixel_size_A, double threshold,
                               double resolution_A, const char *title)
{
    gar_status st = GAR_OK;
    cairo_surface_t *surface = NULL;
    cairo_t *cr = NULL;

    if (path == NULL || curves == NULL || labels == NULL || n_curves == 0 || n_shells < 2 || box < 2 ||
        !isfinite(pixel_size_A) || !(pixel_size_A > 0)) {
        st = gar_error(GAR_ERR_INTERNAL, "FSC picture %s: no curve, fewer than 2 shells, box %zu or pixel size %g A",
                       path != NULL ? path : "(null)", box, pixel_size_A);
        goto done;
    }
    for (size_t i = 0; i < n_curves; i++)
        if (curves[i] == NULL || labels[i] == NULL) {
            st = gar_error(GAR_ERR_INTERNAL, "FSC picture %s: curve %zu or its label missing", path, i);
            goto done;
        }
    if ((st = begin_picture(path, GAR_PLOT_FSC_WIDTH, GAR_PLOT_FSC_HEIGHT, &surface, &cr)) != GAR_OK)
        goto done;
    draw_fsc(cr, curves, labels, n_curves, n_shells, box, pixel_size_A, threshold, resolution_A, title);
    st = write_png(surface, cr, path);
done:
    return end_picture(surface, cr, st);
}

gar_status gar_plot_fsc(const char *path, const double *fsc, size_t n_shells, size_t box,
                        double pixel_size_A, double threshold, double resolution_A,
                        const char *title)
{
    return gar_plot_fsc2(path, fsc, NULL, n_shells, box, pixel_size_A, threshold, resolution_A,
                         title, NULL, NULL);
}

/* The noise picture's y axis: log10 of σ² relative to top, over 3 decades. */
#define NOISE_DECADES 3.0

static double noise_py(const fsc_frame *f, double v, double top)
{
    double l = v > 0 ? log10(v / top) : -NOISE_DECADES;
    if (l < -NOISE_DECADES)
        l = -NOISE_DECADES;
    if (l > 0.3)
        l = 0.3;
    return f->y0 + f->h * (-l) / NOISE_DECADES;
}

gar_status gar_plot_noise(const char *path, const double *sigma2, size_t n_curves, size_t n_shells, size_t box,
                          double pixel_size_A, const char *title)
{
    gar_status st = GAR_OK;
    cairo_surface_t *surface = NULL;
    cairo_t *cr = NULL;
    fsc_frame f = {FSC_X0, FSC_Y0, FSC_W, FSC_H, 0.5 / pixel_size_A};
    double top = 0;
    char buf[32];
    if (path == NULL || sigma2 == NULL || n_curves == 0 || n_shells < 2 || box < 2 || !(pixel_size_A > 0)) {
        st = gar_error(GAR_ERR_INTERNAL, "noise picture %s: no curve, fewer than 2 shells, box %zu or pixel size %g A",
                       path != NULL ? path : "(null)", box, pixel_size_A);
        goto done;
    }
    for (size_t c = 0; c < n_curves; c++)
        for (size_t i = 1; i < n_shells; i++)
            if (isfinite(sigma2[c * n_shells + i]) && sigma2[c * n_shells + i] > top)
                top = sigma2[c * n_shells + i];
    if (!(top > 0))
        top = 1;
    if ((st = begin_picture(path, GAR_PLOT_FSC_WIDTH, GAR_PLOT_FSC_HEIGHT, &surface, &cr)) != GAR_OK)
        goto done;
    draw_frequency_axis(cr, &f);
    draw_angstrom_axis(cr, &f);
    set_font(cr, 12, 0);
    for (int d = 0; d <= (int)NOISE_DECADES; d++) {
        const double y = crisp(f.y0 + f.h * d / NOISE_DECADES);
        set_rgb(cr, RGB_GRID);
        cairo_set_line_width(cr, 1.0);
        cairo_move_to(cr, f.x0, y);
        cairo_line_to(cr, f.x0 + f.w, y);
        cairo_stroke(cr);
        snprintf(buf, sizeof buf, "%.3g", top * pow(10.0, -d));
        set_rgb(cr, RGB_TEXT);
        show_text(cr, buf, f.x0 - 8, y, 1.0, 0.5);
    }
    cairo_save(cr);
    cairo_translate(cr, 18, f.y0 + 0.5 * f.h);
    cairo_rotate(cr, -0.5 * 3.14159265358979323846);
    set_font(cr, 13, 0);
    show_text(cr, "noise power (log)", 0, 0, 0.5, 0.5);
    cairo_restore(cr);
    cairo_save(cr);
    cairo_rectangle(cr, f.x0, f.y0, f.w, f.h);
    cairo_clip(cr);
    for (size_t c = n_curves; c-- > 0;) {
        set_rgb(cr, c == 0 ? GAR_PLOT_RGB_FSC : c == 1 ? GAR_PLOT_RGB_FSC_REF : 0x909090);
        cairo_set_line_width(cr, 2.0);
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
        for (size_t i = 1; i < n_shells; i++) {
            const double x = fsc_px(&f, (double)i / ((double)box * pixel_size_A));
            const double y = noise_py(&f, sigma2[c * n_shells + i], top);
            if (i == 1)
                cairo_move_to(cr, x, y);
            else
                cairo_line_to(cr, x, y);
        }
        cairo_stroke(cr);
    }
    cairo_restore(cr);
    set_rgb(cr, RGB_FRAME);
    cairo_set_line_width(cr, 1.0);
    cairo_rectangle(cr, f.x0 - 0.5, f.y0 - 0.5, f.w + 1, f.h + 1);
    cairo_stroke(cr);
    draw_title(cr, title, 0.5 * GAR_PLOT_FSC_WIDTH, 28);
    st = write_png(surface, cr, path);
done:
    return end_picture(surface, cr, st);
}

gar_status gar_plot_guinier(const char *path, const double *x, const double *const *curves,
                            const char *const *labels, size_t n_curves, size_t n, double lo, double hi, double slope,
                            double intercept, const char *title)
{
    gar_status st = GAR_OK;
    cairo_surface_t *surface = NULL;
    cairo_t *cr = NULL;
    const double x0 = FSC_X0, y0 = FSC_Y0, w = FSC_W, h = FSC_H;
    double xmax = 0, ymin = INFINITY, ymax = -INFINITY, xstep, ystep;
    char buf[32];
    if (path == NULL || x == NULL || curves == NULL || labels == NULL || n_curves == 0 || n < 2) {
        st = gar_error(GAR_ERR_INTERNAL, "Guinier picture %s: no curve or fewer than 2 points",
                       path != NULL ? path : "(null)");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (isfinite(x[i]) && x[i] > xmax)
            xmax = x[i];
        for (size_t c = 0; c < n_curves; c++) {
            double v = curves[c][i];
            if (i == 0 || !isfinite(v))   /* point 0 is the mean term */
                continue;
            ymin = v < ymin ? v : ymin;
            ymax = v > ymax ? v : ymax;
        }
    }
    if (!(xmax > 0) || !(ymax >= ymin)) {
        st = gar_error(GAR_ERR_INTERNAL, "Guinier picture %s: no finite point", path);
        goto done;
    }
    if (ymax - ymin < 1e-6) {
        ymax += 0.5;
        ymin -= 0.5;
    }
    ystep = nice_step(ymax - ymin, 6);
    ymin = floor(ymin / ystep) * ystep;
    ymax = ceil(ymax / ystep) * ystep;
    xstep = nice_step(xmax, 6);
    if ((st = begin_picture(path, GAR_PLOT_FSC_WIDTH, GAR_PLOT_FSC_HEIGHT, &surface, &cr)) != GAR_OK)
        goto done;
#define GX(v) (x0 + w * (v) / xmax)
#define GY(v) (y0 + h * (ymax - (v)) / (ymax - ymin))
    set_font(cr, 12, 0);
    cairo_set_line_width(cr, 1.0);
    for (int k = 0; k * xstep <= xmax * (1 + 1e-9); k++) {
        double px = crisp(GX(k * xstep));
        if (px > x0 + w)
            px = x0 + w - 0.5;
        set_rgb(cr, RGB_GRID);
        cairo_move_to(cr, px, y0);
        cairo_line_to(cr, px, y0 + h);
        cairo_stroke(cr);
        snprintf(buf, sizeof buf, "%.*f", step_decimals(xstep), k * xstep);
        set_rgb(cr, RGB_TEXT);
        show_text(cr, buf, px, y0 + h + 9, 0.5, 0.0);
    }
    for (int k = 0; ymin + k * ystep <= ymax * (1 + 1e-9) + 1e-9; k++) {
        double v = ymin + k * ystep, py = crisp(GY(v));
        set_rgb(cr, RGB_GRID);
        cairo_move_to(cr, x0, py);
        cairo_line_to(cr, x0 + w, py);
        cairo_stroke(cr);
        snprintf(buf, sizeof buf, "%.*f", step_decimals(ystep), v);
        set_rgb(cr, RGB_TEXT);
        show_text(cr, buf, x0 - 8, py, 1.0, 0.5);
    }
    set_font(cr, 13, 0);
    show_text(cr, "s\xc2\xb2 (1/" ANGSTROM "\xc2\xb2)", x0 + 0.5 * w, GAR_PLOT_FSC_HEIGHT - 16, 0.5, 1.0);
    cairo_save(cr);
    cairo_translate(cr, 18, y0 + 0.5 * h);
    cairo_rotate(cr, -0.5 * 3.14159265358979323846);
    show_text(cr, "ln |F|", 0, 0, 0.5, 0.5);
    cairo_restore(cr);
    cairo_save(cr);
    cairo_rectangle(cr, x0, y0, w, h);
    cairo_clip(cr);
    for (size_t c = n_curves; c-- > 0;) {
        int pen = 0;
        set_rgb(cr, curve_rgb(c));
        cairo_set_line_width(cr, 2.0);
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
        for (size_t i = 1; i < n; i++) {
            if (!isfinite(curves[c][i]) || !isfinite(x[i])) {
                pen = 0;
                continue;
            }
            if (pen)
                cairo_line_to(cr, GX(x[i]), GY(curves[c][i]));
            else
                cairo_move_to(cr, GX(x[i]), GY(curves[c][i]));
            pen = 1;
        }
        cairo_stroke(cr);
    }
    if (isfinite(slope) && isfinite(intercept) && hi > lo) {
        static const double dash[2] = {8.0, 5.0};
        set_rgb(cr, GAR_PLOT_RGB_THRESHOLD);
        cairo_set_line_width(cr, 2.0);
        cairo_set_dash(cr, dash, 2, 0.0);
        cairo_move_to(cr, GX(lo), GY(intercept + slope * lo));
        cairo_line_to(cr, GX(hi), GY(intercept + slope * hi));
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0.0);
    }
    cairo_restore(cr);
#undef GX
#undef GY
    set_rgb(cr, RGB_FRAME);
    cairo_set_line_width(cr, 1.0);
    cairo_rectangle(cr, x0 - 0.5, y0 - 0.5, w + 1, h + 1);
    cairo_stroke(cr);
    {
        fsc_frame f = {x0, y0, w, h, 1.0};
        if (n_curves > 1)
            draw_legend(cr, &f, labels, n_curves);
    }
    draw_title(cr, title, 0.5 * GAR_PLOT_FSC_WIDTH, 28);
    st = write_png(surface, cr, path);
done:
    return end_picture(surface, cr, st);
}

int gar_plot_slices_layout(size_t nx, size_t ny, size_t nz, int *scale, int panel_x[3],
                           int *panel_y, int *width, int *height)
{
    size_t longest = nx, s, wide, high, w[3], h[3];
    if (nx == 0 || ny == 0 || nz == 0 || nx > CAIRO_MAX_SIDE || ny > CAIRO_MAX_SIDE ||
        nz > CAIRO_MAX_SIDE)
        return 0;
    if (ny > longest)
        longest = ny;
    if (nz > longest)
        longest = nz;
    /* One scale for all three panels, so a voxel is the same size in each. */
    s = (SL_MIN_SIDE + longest - 1) / longest;
    w[0] = nx * s, h[0] = ny * s;
    w[1] = nx * s, h[1] = nz * s;
    w[2] = ny * s, h[2] = nz * s;
    wide = 2 * SL_MARGIN + w[0] + w[1] + w[2] + 2 * SL_GAP;
    high = SL_TITLE + (h[0] > h[1] ? h[0] : h[1]) + SL_LABEL;
    if (h[2] > high - SL_TITLE - SL_LABEL)
        high = SL_TITLE + h[2] + SL_LABEL;
    if (wide > CAIRO_MAX_SIDE || high > CAIRO_MAX_SIDE)
        return 0;
    if (scale != NULL)
        *scale = (int)s;
    if (panel_x != NULL) {
        panel_x[0] = SL_MARGIN;
        panel_x[1] = (int)(SL_MARGIN + w[0] + SL_GAP);
        panel_x[2] = (int)(SL_MARGIN + w[0] + SL_GAP + w[1] + SL_GAP);
    }
    if (panel_y != NULL)
        *panel_y = SL_TITLE;
    if (width != NULL)
        *width = (int)wide;
    if (height != NULL)
        *height = (int)high;
    return 1;
}

/* Mean and standard deviation over the finite voxels, in two passes: maps are
 * mostly flat solvent, and the one-pass formula loses the small variance to
 * cancellation. */
static float section_voxel(const gar_map *map, int k, size_t a, size_t b)
{
    size_t x, y, z;
    switch (k) {
    case 0: x = a, y = b, z = map->nz / 2; break;
    case 1: x = a, y = map->ny / 2, z = b; break;
    default: x = map->nx / 2, y = a, z = b; break;
    }
    return map->data[(z * map->ny + y) * map->nx + x];
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The grey range: the 0.5th to 99.5th percentile of the shown sections' finite
 * voxels. A particle fills a small part of the box, so a range from the whole
 * box's spread (mean ± 3 sd) saturates it; percentiles of what is shown keep
 * both the density and the noise visible, and ignore a few extreme voxels. */
static void display_range(const gar_map *map, const size_t pw[3], const size_t ph[3], double *lo,
                          double *span)
{
    size_t n = pw[0] * ph[0] + pw[1] * ph[1] + pw[2] * ph[2], m = 0;
    float *v = malloc(n * sizeof *v);
    *lo = 0.0;
    *span = 0.0;
    if (v == NULL)
        return;
    for (int k = 0; k < 3; k++)
        for (size_t b = 0; b < ph[k]; b++)
            for (size_t a = 0; a < pw[k]; a++) {
                float x = section_voxel(map, k, a, b);
                if (isfinite(x))
                    v[m++] = x;
            }
    if (m > 0) {
        qsort(v, m, sizeof *v, cmp_float);
        *lo = v[(size_t)(0.005 * (m - 1))];
        *span = v[(size_t)(0.995 * (m - 1) + 0.5)] - *lo;
    }
    free(v);
}

/* Write the grey panels straight into the surface's pixels: painting a small
 * image scaled up through cairo would depend on its filter for exact blocks. */
static void draw_panels(cairo_surface_t *surface, const gar_map *map, int scale,
                        const int panel_x[3], int panel_y)
{
    const size_t pw[3] = {map->nx, map->nx, map->ny}, ph[3] = {map->ny, map->nz, map->nz};
    unsigned char *pixels;
    int stride;
    double lo, span;
    display_range(map, pw, ph, &lo, &span);
    cairo_surface_flush(surface);
    pixels = cairo_image_surface_get_data(surface);
    stride = cairo_image_surface_get_stride(surface);
    for (int k = 0; k < 3; k++)
        for (size_t b = 0; b < ph[k]; b++)
            for (size_t a = 0; a < pw[k]; a++) {
                float v = section_voxel(map, k, a, b);
                uint32_t g;
                if (!isfinite(v))
                    g = 0;
                else if (!(span > 0))
                    g = 128;
                else {
                    double t = (v - lo) / span;
                    g = t <= 0 ? 0 : t >= 1 ? 255 : (uint32_t)lround(255.0 * t);
                }
                for (int dy = 0; dy < scale; dy++) {
                    uint32_t *row = (uint32_t *)(pixels + (size_t)(panel_y + (int)b * scale + dy) *
                                                              (size_t)stride);
                    for (int dx = 0; dx < scale; dx++)
                        row[panel_x[k] + (int)a * scale + dx] = (g << 16) | (g << 8) | g;
                }
            }
    cairo_surface_mark_dirty(surface);
}

gar_status gar_plot_slices(const char *path, const gar_map *map, const char *title)
{
    static const char *names[3] = {"XY", "XZ", "YZ"};
    static const char axes[3] = {'z', 'y', 'x'};
    gar_status st = GAR_OK;
    cairo_surface_t *surface = NULL;
    cairo_t *cr = NULL;
    int scale, panel_x[3], panel_y, width, height;
    size_t pw[3], ph[3], centre[3];
    char buf[64];

    if (path == NULL || map == NULL || map->data == NULL || gar_map_voxels(map) == 0) {
        st = gar_error(GAR_ERR_INTERNAL, "slices picture %s: no map, or an empty one",
                       path != NULL ? path : "(null)");
        goto done;
    }
    if (!gar_plot_slices_layout(map->nx, map->ny, map->nz, &scale, panel_x, &panel_y, &width,
                                &height)) {
        st = gar_error(GAR_ERR_OUTPUT,
                       "cannot create the picture %s: sections of a %zu x %zu x %zu map side by "
                       "side exceed %d pixels",
                       path, map->nx, map->ny, map->nz, CAIRO_MAX_SIDE);
        goto done;
    }
    if ((st = begin_picture(path, width, height, &surface, &cr)) != GAR_OK)
        goto done;
    draw_panels(surface, map, scale, panel_x, panel_y);

    pw[0] = map->nx, pw[1] = map->nx, pw[2] = map->ny;
    ph[0] = map->ny, ph[1] = map->nz, ph[2] = map->nz;
    centre[0] = map->nz / 2, centre[1] = map->ny / 2, centre[2] = map->nx / 2;
    set_font(cr, 12, 0);
    for (int k = 0; k < 3; k++) {
        double w = (double)pw[k] * scale, h = (double)ph[k] * scale;
        /* Frame outside the panel, so the panel's own pixels stay exact. */
        set_rgb(cr, 0x909090);
        cairo_set_line_width(cr, 1.0);
        cairo_rectangle(cr, panel_x[k] - 0.5, panel_y - 0.5, w + 1, h + 1);
        cairo_stroke(cr);
        snprintf(buf, sizeof buf, "%s (%c = %zu)", names[k], axes[k], centre[k]);
        set_rgb(cr, RGB_TEXT);
        show_text(cr, buf, panel_x[k] + 0.5 * w, height - SL_LABEL + 10, 0.5, 0.0);
    }
    draw_title(cr, title, 0.5 * width, 26);
    st = write_png(surface, cr, path);
done:
    return end_picture(surface, cr, st);
}

/* Directions as a map of rot (x, −180..180°) against tilt (y, 0..180°),
 * each 5° × 5° cell shaded by its count over the cell's solid angle (a
 * uniform distribution is a flat grey), white where empty. */
enum { ANG_NX = 72, ANG_NY = 36, ANG_CELL = 10, ANG_X0 = 70, ANG_Y0 = 50, ANG_W = ANG_NX * ANG_CELL,
       ANG_H = ANG_NY * ANG_CELL, ANG_BAR_X0 = ANG_X0 + ANG_W + 24, ANG_BAR_W = 16 };

/* Darker and bluer with more particles; the square root spreads the sparse
 * cells, where a plot of a refinement has most of its information. */
unsigned gar_plot_angdist_shade(double fraction)
{
    const double f = fraction < 0 ? 0 : fraction > 1 ? 1 : fraction;
    const double g = 1.0 - 0.9 * sqrt(f);
    const unsigned r = (unsigned)lround(255.0 * g), b = (unsigned)lround(255.0 * (0.35 + 0.65 * g));
    return (r << 16) | (r << 8) | b;
}

void gar_plot_angdist_geometry(int *bar_x0, int *bar_y0, int *bar_w, int *bar_h, double rot_deg, double tilt_deg,
                               int *cell_x, int *cell_y, int *cell)
{
    double r = fmod(rot_deg + 180.0, 360.0);
    int cx, cy;
    if (r < 0)
        r += 360.0;
    cx = (int)(r / 5.0);
    cy = (int)(tilt_deg / 5.0);
    cx = cx < 0 ? 0 : cx >= ANG_NX ? ANG_NX - 1 : cx;
    cy = cy < 0 ? 0 : cy >= ANG_NY ? ANG_NY - 1 : cy;
    *bar_x0 = ANG_BAR_X0;
    *bar_y0 = ANG_Y0;
    *bar_w = ANG_BAR_W;
    *bar_h = ANG_H;
    *cell_x = ANG_X0 + cx * ANG_CELL;
    *cell_y = ANG_Y0 + cy * ANG_CELL;
    *cell = ANG_CELL;
}

gar_status gar_plot_angdist(const char *path, const double *rot_deg, const double *tilt_deg, size_t n,
                            const char *title)
{
    enum { NX = ANG_NX, NY = ANG_NY, CELL = ANG_CELL, X0 = ANG_X0, Y0 = ANG_Y0, W = ANG_W, H = ANG_H };
    gar_status st = GAR_OK;
    cairo_surface_t *surface = NULL;
    cairo_t *cr = NULL;
    double count[NX * NY], dens_max = 0, uniform = 0;
    char buf[64];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++) {
        double r = fmod(rot_deg[i] + 180.0, 360.0), t = tilt_deg[i];
        if (r < 0)
            r += 360.0;
        int cx = (int)(r / 5.0), cy = (int)(t / 5.0);
        if (!isfinite(r) || !isfinite(t))
            continue;
        cx = cx < 0 ? 0 : cx >= NX ? NX - 1 : cx;
        cy = cy < 0 ? 0 : cy >= NY ? NY - 1 : cy;
        count[cy * NX + cx] += 1;
        uniform += 1;
    }
    uniform /= 4.0 * M_PI; /* the density of as many directions spread evenly */
    /* density per steradian: the cell's solid angle is Δφ (cos θ0 − cos θ1) */
    for (int cy = 0; cy < NY; cy++) {
        double sa = (5.0 * M_PI / 180.0) * (cos(cy * 5.0 * M_PI / 180.0) - cos((cy + 1) * 5.0 * M_PI / 180.0));
        for (int cx = 0; cx < NX; cx++) {
            count[cy * NX + cx] /= sa;
            if (count[cy * NX + cx] > dens_max)
                dens_max = count[cy * NX + cx];
        }
    }
    if ((st = begin_picture(path, ANG_BAR_X0 + ANG_BAR_W + 90, Y0 + H + 60, &surface, &cr)) != GAR_OK)
        goto done;
    for (int cy = 0; cy < NY; cy++)
        for (int cx = 0; cx < NX; cx++) {
            double d = count[cy * NX + cx];
            if (d <= 0)
                continue;
            set_rgb(cr, gar_plot_angdist_shade(d / dens_max));
            cairo_rectangle(cr, X0 + cx * CELL, Y0 + cy * CELL, CELL, CELL);
            cairo_fill(cr);
        }
    /* The colour bar: one row of pixels per shade, the densest at the top. */
    for (int y = 0; y < H; y++) {
        set_rgb(cr, gar_plot_angdist_shade(1.0 - (y + 0.5) / H));
        cairo_rectangle(cr, ANG_BAR_X0, Y0 + y, ANG_BAR_W, 1);
        cairo_fill(cr);
    }
    set_rgb(cr, 0x909090);
    cairo_set_line_width(cr, 1.0);
    cairo_rectangle(cr, X0 - 0.5, Y0 - 0.5, W + 1, H + 1);
    cairo_stroke(cr);
    cairo_rectangle(cr, ANG_BAR_X0 - 0.5, Y0 - 0.5, ANG_BAR_W + 1, H + 1);
    cairo_stroke(cr);
    set_font(cr, 12, 0);
    set_rgb(cr, RGB_TEXT);
    for (int a = -180; a <= 180; a += 60) {
        snprintf(buf, sizeof buf, "%d", a);
        show_text(cr, buf, X0 + (a + 180) / 360.0 * W, Y0 + H + 6, 0.5, 0.0);
    }
    for (int t = 0; t <= 180; t += 45) {
        snprintf(buf, sizeof buf, "%d", t);
        show_text(cr, buf, X0 - 8, Y0 + t / 180.0 * H, 1.0, 0.5);
    }
    /* The bar's scale: multiples of the uniform density at its top, middle
     * and bottom (the bar is linear in density; its shades are those of the
     * cells). */
    if (uniform > 0 && dens_max > 0) {
        for (int k = 0; k <= 2; k++) {
            const double frac = k == 0 ? 1.0 : k == 1 ? 0.5 : 0.0;   /* at the top, the middle, the bottom */
            const double y = k == 0 ? Y0 : k == 1 ? Y0 + 0.5 * H : Y0 + H;
            snprintf(buf, sizeof buf, "%.2g", frac * dens_max / uniform);
            show_text(cr, buf, ANG_BAR_X0 + ANG_BAR_W + 6, y, 0.0, 0.5);
        }
        show_text(cr, "× uniform", ANG_BAR_X0 + ANG_BAR_W / 2.0, Y0 + H + 6, 0.5, 0.0);
    }
    show_text(cr, "rot (degrees)", X0 + 0.5 * W, Y0 + H + 26, 0.5, 0.0);
    snprintf(buf, sizeof buf, "tilt");
    show_text(cr, buf, 12, Y0 + 0.5 * H, 0.0, 0.5);
    draw_title(cr, title, X0 + 0.5 * W, 26);
    st = write_png(surface, cr, path);
done:
    return end_picture(surface, cr, st);
}
