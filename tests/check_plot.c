/* The PNG pictures: each is read back with cairo and checked pixel by pixel
 * where the drawing is exact (line colours on the rows the axis mapping puts
 * them, grey levels of known voxels), and failed writes leave nothing. */
#include <cairo.h>
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gar_map.h"
#include "gar_plot.h"
#include "testutil.h"

/* fontconfig, which cairo's toy text API loads, keeps its configuration until
 * FcFini(). A weak reference reaches it through libcairo's own dependency
 * without linking fontconfig here, and is NULL where cairo has none. */
extern void FcFini(void) __attribute__((weak));

/* cairo and fontconfig keep font caches for the life of the process; dropping
 * them (in this order) after every test lets valgrind and LeakSanitizer tell
 * real leaks from caches, in each forked test as well as with CK_FORK=no.
 * Both build their caches again on the next use. */
static void drop_font_caches(void)
{
    cairo_debug_reset_static_data();
    if (FcFini != NULL)
        FcFini();
}

/* A PNG read back, pixels as 0xRRGGBB. */
typedef struct png {
    cairo_surface_t *s;
    const unsigned char *data;
    int stride, w, h;
} png;

static png png_load(const char *path)
{
    png p;
    p.s = cairo_image_surface_create_from_png(path);
    ck_assert_msg(cairo_surface_status(p.s) == CAIRO_STATUS_SUCCESS, "%s: %s", path,
                  cairo_status_to_string(cairo_surface_status(p.s)));
    /* Opaque pictures: RGB24 means no alpha to premultiply into the colours. */
    ck_assert_int_eq(cairo_image_surface_get_format(p.s), CAIRO_FORMAT_RGB24);
    p.data = cairo_image_surface_get_data(p.s);
    p.stride = cairo_image_surface_get_stride(p.s);
    p.w = cairo_image_surface_get_width(p.s);
    p.h = cairo_image_surface_get_height(p.s);
    return p;
}

static void png_free(png *p) { cairo_surface_destroy(p->s); }

static unsigned px(const png *p, int x, int y)
{
    ck_assert(x >= 0 && x < p->w && y >= 0 && y < p->h);
    return ((const uint32_t *)(p->data + (size_t)y * (size_t)p->stride))[x] & 0xFFFFFFu;
}

static int count_row(const png *p, int y, int x0, int x1, unsigned rgb)
{
    int n = 0;
    for (int x = x0; x < x1; x++)
        n += px(p, x, y) == rgb;
    return n;
}

static int count_col(const png *p, int x, int y0, int y1, unsigned rgb)
{
    int n = 0;
    for (int y = y0; y < y1; y++)
        n += px(p, x, y) == rgb;
    return n;
}

static int count_all(const png *p, unsigned rgb)
{
    int n = 0;
    for (int y = 0; y < p->h; y++)
        n += count_row(p, y, 0, p->w, rgb);
    return n;
}

/* The mapping documented in gar_plot.h, written out again here. */
static int row_of(double v)
{
    int x0, y0, w, h;
    gar_plot_fsc_geometry(&x0, &y0, &w, &h);
    return (int)floor(y0 + h * (1.0 - v) / 1.1);
}

static int col_of(double freq, double pixel_size)
{
    int x0, y0, w, h;
    gar_plot_fsc_geometry(&x0, &y0, &w, &h);
    return (int)floor(x0 + w * freq * 2.0 * pixel_size);
}

#define BOX 64
#define NSH (BOX / 2 + 1)
#define PIX 2.0 /* Nyquist 0.25 1/Å */

/* 1 at low frequency, a plateau at 0.5 over shells 6..16, then a fall to 0. */
static void known_curve(double *fsc)
{
    for (int i = 0; i < NSH; i++)
        fsc[i] = i < 4 ? 1.0 : i <= 16 ? 0.5 : i < 24 ? 0.5 * (24 - i) / 8.0 : 0.0;
    fsc[4] = 0.75;
    fsc[5] = 0.5;
}

START_TEST(test_fsc_lines_where_the_axes_put_them)
{
    const char *path = test_tmpfile("plot-fsc", "fsc.png");
    double fsc[NSH];
    int x0, y0, w, h;
    known_curve(fsc);
    gar_plot_fsc_geometry(&x0, &y0, &w, &h);
    ck_assert_msg(gar_plot_fsc(path, fsc, NSH, BOX, PIX, 0.143, 8.0, "test") == GAR_OK, "%s",
                  gar_errmsg());
    ck_assert_int_eq(test_count_prefix(test_tmpdir("plot-fsc"), "fsc.png.tmp-"), 0);

    png p = png_load(path);
    ck_assert_int_eq(p.w, GAR_PLOT_FSC_WIDTH);
    ck_assert_int_eq(p.h, GAR_PLOT_FSC_HEIGHT);
    ck_assert_int_ge(p.w, 700);
    ck_assert_int_ge(p.h, 450);
    /* Plot area inside the picture, with room for labels all round. */
    ck_assert(x0 >= 40 && y0 >= 40 && x0 + w <= p.w - 10 && y0 + h <= p.h - 40);
    /* Background white. */
    ck_assert_uint_eq(px(&p, 2, 2), 0xFFFFFF);
    ck_assert_uint_eq(px(&p, p.w - 3, p.h - 3), 0xFFFFFF);

    /* The dashed threshold line: more than half its row (8 on, 5 off). */
    int ty = row_of(0.143);
    int on = count_row(&p, ty, x0, x0 + w, GAR_PLOT_RGB_THRESHOLD);
    ck_assert_msg(on > w / 2, "threshold colour on %d of %d pixels of row %d", on, w, ty);
    for (int d = 3; d <= 12; d += 3)
        ck_assert_msg(count_row(&p, ty + d, x0, x0 + w, GAR_PLOT_RGB_THRESHOLD) == 0,
                      "threshold colour %d rows below the line", d);
    ck_assert_int_eq(count_row(&p, row_of(0.5), x0, x0 + w, GAR_PLOT_RGB_THRESHOLD), 0);

    /* The resolution marker: 8 Å is 0.125 1/Å, half way to Nyquist. */
    int rx = col_of(1.0 / 8.0, PIX);
    ck_assert_int_eq(rx, x0 + w / 2);
    on = count_col(&p, rx, y0, y0 + h, GAR_PLOT_RGB_RESOLUTION);
    ck_assert_msg(on > h * 9 / 10, "marker colour on %d of %d pixels of column %d", on, h, rx);
    ck_assert_int_eq(count_col(&p, rx + 4, y0, y0 + h, GAR_PLOT_RGB_RESOLUTION), 0);
    ck_assert_int_eq(count_col(&p, x0 + w / 4, y0, y0 + h, GAR_PLOT_RGB_RESOLUTION), 0);

    /* The plateau at 0.5 over shells 5..16: every column strictly inside it
     * has the curve colour on row y(0.5), and not on rows well off it. */
    int py = row_of(0.5);
    int c0 = col_of(5.0 / (BOX * PIX), PIX) + 2, c1 = col_of(16.0 / (BOX * PIX), PIX) - 1;
    ck_assert_int_gt(c1 - c0, 100);
    for (int x = c0; x < c1; x++) {
        if (x == rx || x == rx + 1 || x == rx - 1)
            continue; /* the marker is drawn under the curve, but its antialiased edge is not */
        ck_assert_msg(px(&p, x, py) == GAR_PLOT_RGB_FSC, "pixel (%d, %d) is %06x", x, py,
                      px(&p, x, py));
    }
    ck_assert_int_eq(count_row(&p, py - 6, c0, c1, GAR_PLOT_RGB_FSC), 0);
    ck_assert_int_eq(count_row(&p, py + 6, c0, c1, GAR_PLOT_RGB_FSC), 0);
    /* Beyond shell 24 the curve lies on FSC = 0 up to Nyquist. */
    int zy = row_of(0.0);
    int z0 = col_of(24.0 / (BOX * PIX), PIX) + 2, z1 = col_of(32.0 / (BOX * PIX), PIX) - 2;
    ck_assert_int_ge(count_row(&p, zy, z0, z1, GAR_PLOT_RGB_FSC), z1 - z0 - 2);
    /* One curve: no second colour, and no legend. */
    ck_assert_int_eq(count_all(&p, GAR_PLOT_RGB_FSC_REF), 0);
    png_free(&p);
}
END_TEST

START_TEST(test_fsc2_second_curve_and_legend)
{
    const char *path = test_tmpfile("plot-fsc2", "fsc2.png");
    double fsc[NSH], ref[NSH];
    int x0, y0, w, h;
    gar_plot_fsc_geometry(&x0, &y0, &w, &h);
    for (int i = 0; i < NSH; i++) {
        fsc[i] = 0.8;
        ref[i] = 0.3;
    }
    ck_assert_msg(gar_plot_fsc2(path, fsc, ref, NSH, BOX, PIX, 0.143, 0.0, "two", "half maps",
                                "vs reference") == GAR_OK,
                  "%s", gar_errmsg());
    png p = png_load(path);
    /* Both flat curves run across the whole plot; the legend sits in the top
     * corner, above y(0.8). */
    int on_fsc = count_row(&p, row_of(0.8), x0, x0 + w, GAR_PLOT_RGB_FSC);
    int on_ref = count_row(&p, row_of(0.3), x0, x0 + w, GAR_PLOT_RGB_FSC_REF);
    ck_assert_msg(on_fsc > w * 9 / 10, "FSC colour on %d of %d", on_fsc, w);
    ck_assert_msg(on_ref > w * 9 / 10, "reference colour on %d of %d", on_ref, w);
    /* The legend: short samples of both colours above the curves. */
    int in_legend_fsc = 0, in_legend_ref = 0;
    for (int y = y0; y < row_of(0.8) - 4; y++) {
        in_legend_fsc += count_row(&p, y, x0 + w / 2, x0 + w, GAR_PLOT_RGB_FSC);
        in_legend_ref += count_row(&p, y, x0 + w / 2, x0 + w, GAR_PLOT_RGB_FSC_REF);
    }
    ck_assert_int_ge(in_legend_fsc, 20);
    ck_assert_int_ge(in_legend_ref, 20);
    /* resolution_A = 0: no marker anywhere. */
    ck_assert_int_eq(count_all(&p, GAR_PLOT_RGB_RESOLUTION), 0);
    png_free(&p);
}
END_TEST

START_TEST(test_fsc_gaps_and_limits)
{
    const char *path = test_tmpfile("plot-gap", "gap.png");
    double fsc[NSH];
    int x0, y0, w, h;
    gar_plot_fsc_geometry(&x0, &y0, &w, &h);
    for (int i = 0; i < NSH; i++)
        fsc[i] = 0.5;
    for (int i = 10; i <= 20; i++)
        fsc[i] = NAN;
    /* A resolution finer than Nyquist (4 Å) cannot be placed: no marker. A
     * threshold off the axis: no line. */
    ck_assert_msg(gar_plot_fsc(path, fsc, NSH, BOX, PIX, 2.0, 3.0, NULL) == GAR_OK, "%s",
                  gar_errmsg());
    png p = png_load(path);
    int py = row_of(0.5);
    int g0 = col_of(11.0 / (BOX * PIX), PIX), g1 = col_of(19.0 / (BOX * PIX), PIX);
    ck_assert_int_eq(count_row(&p, py, g0, g1, GAR_PLOT_RGB_FSC), 0);
    /* The curve starts at shell 1 (shell 0 is the mean term). */
    int c1 = col_of(1.0 / (BOX * PIX), PIX);
    ck_assert_int_ge(count_row(&p, py, c1 + 2, col_of(9.0 / (BOX * PIX), PIX), GAR_PLOT_RGB_FSC),
                     col_of(9.0 / (BOX * PIX), PIX) - c1 - 4);
    ck_assert_int_eq(count_row(&p, py, x0 + 2, c1 - 3, GAR_PLOT_RGB_FSC), 0);
    ck_assert_int_eq(count_all(&p, GAR_PLOT_RGB_RESOLUTION), 0);
    ck_assert_int_eq(count_all(&p, GAR_PLOT_RGB_THRESHOLD), 0);
    /* No title: the top rows are blank. */
    for (int y = 0; y < 30; y++)
        ck_assert_int_eq(count_row(&p, y, 0, p.w, 0xFFFFFF), p.w);
    png_free(&p);
}
END_TEST

START_TEST(test_fsc_replaces_existing_file)
{
    const char *path = test_tmpfile("plot-again", "fsc.png");
    double fsc[NSH];
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("not a png\n", f);
    fclose(f);
    known_curve(fsc);
    ck_assert_int_eq(gar_plot_fsc(path, fsc, NSH, BOX, PIX, 0.143, 8.0, "again"), GAR_OK);
    ck_assert_int_eq(gar_plot_fsc(path, fsc, NSH, BOX, PIX, 0.5, 8.0, "again"), GAR_OK);
    ck_assert_int_eq(test_count_prefix(test_tmpdir("plot-again"), "fsc.png.tmp-"), 0);
    png p = png_load(path);
    ck_assert_int_eq(p.w, GAR_PLOT_FSC_WIDTH);
    png_free(&p);
}
END_TEST

START_TEST(test_missing_folder_fails_cleanly)
{
    const char *dir = test_tmpdir("plot-missing");
    const char *fsc_path = test_tmpfile("plot-missing", "nowhere/fsc.png");
    const char *sl_path = test_tmpfile("plot-missing", "nowhere/slices.png");
    double fsc[NSH];
    gar_map *m = NULL;
    known_curve(fsc);
    ck_assert_int_eq(gar_plot_fsc(fsc_path, fsc, NSH, BOX, PIX, 0.143, 8.0, "x"), GAR_ERR_OUTPUT);
    ck_assert_msg(strstr(gar_errmsg(), fsc_path) != NULL, "%s", gar_errmsg());
    ck_assert_msg(strchr(gar_errmsg(), '\n') == NULL, "not one line: %s", gar_errmsg());
    ck_assert(!test_file_exists(fsc_path));

    ck_assert_int_eq(gar_map_create(8, 8, 8, 1.0, &m), GAR_OK);
    ck_assert_int_eq(gar_plot_slices(sl_path, m, "x"), GAR_ERR_OUTPUT);
    ck_assert_msg(strstr(gar_errmsg(), sl_path) != NULL, "%s", gar_errmsg());
    ck_assert(!test_file_exists(sl_path));
    ck_assert(!test_file_exists(test_tmpfile("plot-missing", "nowhere")));
    /* Nothing at all was left in the folder that does exist. */
    ck_assert_int_eq(test_count_prefix(dir, ""), 2); /* "." and ".." */
    gar_map_destroy(&m);
}
END_TEST

START_TEST(test_rename_failure_removes_temp)
{
    /* A folder where the picture should go: the PNG is written, the rename
     * onto the folder fails, and the temporary file must go too. */
    const char *dir = test_tmpdir("plot-isdir");
    const char *path = test_tmpfile("plot-isdir", "fsc.png");
    double fsc[NSH];
    known_curve(fsc);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_eq(gar_plot_fsc(path, fsc, NSH, BOX, PIX, 0.143, 8.0, "x"), GAR_ERR_OUTPUT);
    ck_assert_msg(strstr(gar_errmsg(), path) != NULL, "%s", gar_errmsg());
    ck_assert_int_eq(test_count_prefix(dir, "fsc.png.tmp-"), 0);
    ck_assert_int_eq(rmdir(path), 0);
}
END_TEST

START_TEST(test_bad_arguments)
{
    const char *path = test_tmpfile("plot-args", "bad.png");
    double fsc[NSH] = {0};
    gar_map empty = {0, 0, 0, 1.0, NULL};
    ck_assert_int_eq(gar_plot_fsc(path, NULL, NSH, BOX, PIX, 0.143, 8.0, "x"), GAR_ERR_INTERNAL);
    ck_assert_int_eq(gar_plot_fsc(path, fsc, 1, BOX, PIX, 0.143, 8.0, "x"), GAR_ERR_INTERNAL);
    ck_assert_int_eq(gar_plot_fsc(path, fsc, NSH, BOX, 0.0, 0.143, 8.0, "x"), GAR_ERR_INTERNAL);
    ck_assert_int_eq(gar_plot_slices(path, NULL, "x"), GAR_ERR_INTERNAL);
    ck_assert_int_eq(gar_plot_slices(path, &empty, "x"), GAR_ERR_INTERNAL);
    ck_assert(!test_file_exists(path));
}
END_TEST

START_TEST(test_slices_layout)
{
    int s, x[3], y, w, h;
    /* 32 x 24 x 20: the longest side 32 is scaled by 8 to 256 px. */
    ck_assert(gar_plot_slices_layout(32, 24, 20, &s, x, &y, &w, &h));
    ck_assert_int_eq(s, 8);
    ck_assert(x[0] >= 0 && x[1] >= x[0] + 32 * 8 && x[2] >= x[1] + 32 * 8);
    ck_assert_int_ge(w, x[2] + 24 * 8);
    ck_assert_int_ge(h, y + 24 * 8 + 12); /* room for the labels */
    ck_assert_int_ge(y, 20);              /* and for the title */
    /* A big map is not shrunk, and 256 px exactly is not enlarged. */
    ck_assert(gar_plot_slices_layout(300, 300, 300, &s, NULL, NULL, NULL, NULL));
    ck_assert_int_eq(s, 1);
    ck_assert(gar_plot_slices_layout(256, 256, 256, &s, NULL, NULL, NULL, NULL));
    ck_assert_int_eq(s, 1);
    ck_assert(gar_plot_slices_layout(255, 255, 255, &s, NULL, NULL, NULL, NULL));
    ck_assert_int_eq(s, 2);
    /* Too wide for cairo. */
    ck_assert(!gar_plot_slices_layout(20000, 8, 8, &s, NULL, NULL, NULL, NULL));
    ck_assert(!gar_plot_slices_layout(0, 8, 8, &s, NULL, NULL, NULL, NULL));
}
END_TEST

/* Set a 3 x 3 x 3 block of value v centred on (x, y, z). */
static void cluster(gar_map *m, int x, int y, int z, float v)
{
    for (int dz = -1; dz <= 1; dz++)
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++)
                m->data[((size_t)(z + dz) * m->ny + (size_t)(y + dy)) * m->nx + (size_t)(x + dx)] = v;
}

/* Grey level of voxel (a, b) of panel k, sampled at the centre of its block. */
static unsigned grey_at(const png *p, int k, int a, int b)
{
    int s, x[3], y;
    unsigned v;
    ck_assert(gar_plot_slices_layout(32, 24, 20, &s, x, &y, NULL, NULL));
    v = px(p, x[k] + a * s + s / 2, y + b * s + s / 2);
    ck_assert_msg(v == (v & 0xFF) * 0x010101u, "pixel %06x is not grey", v);
    return v & 0xFF;
}

START_TEST(test_slices_show_clusters_where_they_are)
{
    const char *path = test_tmpfile("plot-slices", "slices.png");
    gar_map *m = NULL;
    int s, x[3], y, w, h;
    /* Central sections of 32 x 24 x 20: XY at z = 10, XZ at y = 12, YZ at x = 16.
     * Each cluster cuts exactly one of them, off every diagonal, so a swapped
     * or flipped axis moves it. */
    ck_assert_int_eq(gar_map_create(32, 24, 20, 1.0, &m), GAR_OK);
    cluster(m, 24, 5, 10, 100.0f); /* XY at (24, 5) */
    cluster(m, 5, 12, 15, 100.0f); /* XZ at (5, 15) */
    cluster(m, 16, 19, 3, 100.0f); /* YZ at (19, 3) */
    ck_assert_msg(gar_plot_slices(path, m, "clusters") == GAR_OK, "%s", gar_errmsg());
    ck_assert_int_eq(test_count_prefix(test_tmpdir("plot-slices"), "slices.png.tmp-"), 0);

    png p = png_load(path);
    ck_assert(gar_plot_slices_layout(32, 24, 20, &s, x, &y, &w, &h));
    ck_assert_int_eq(p.w, w);
    ck_assert_int_eq(p.h, h);

    /* The grey range runs from the 0.5th to the 99.5th percentile of the shown
     * sections: the 27 cluster voxels are 1.4 % of the 1888 shown, so the
     * range is [0, 100] and the background is black. */
    unsigned bg = 0;

    /* Clusters white at their place, in every pixel of the 3 x 3 voxels. */
    const int at[3][2] = {{24, 5}, {5, 15}, {19, 3}};
    for (int k = 0; k < 3; k++) {
        for (int db = -1; db <= 1; db++)
            for (int da = -1; da <= 1; da++)
                ck_assert_msg(grey_at(&p, k, at[k][0] + da, at[k][1] + db) == 255,
                              "panel %d voxel (%d, %d) is not white", k, at[k][0] + da,
                              at[k][1] + db);
        /* Just outside the cluster, and at the flipped positions: background. */
        ck_assert_uint_eq(grey_at(&p, k, at[k][0] + 2, at[k][1]), bg);
        ck_assert_uint_eq(grey_at(&p, k, at[k][0], at[k][1] - 2 < 0 ? at[k][1] + 2 : at[k][1] - 2),
                          bg);
    }
    ck_assert_uint_eq(grey_at(&p, 0, 31 - 24, 5), bg);  /* x flipped */
    ck_assert_uint_eq(grey_at(&p, 0, 24, 23 - 5), bg);  /* y flipped */
    ck_assert_uint_eq(grey_at(&p, 1, 5, 19 - 15), bg);  /* z flipped */
    ck_assert_uint_eq(grey_at(&p, 1, 15, 5), bg);       /* x and z swapped */
    ck_assert_uint_eq(grey_at(&p, 2, 3, 19), bg);       /* y and z swapped */
    ck_assert_uint_eq(grey_at(&p, 2, 23 - 19, 3), bg);  /* y flipped */

    /* Each panel is exactly the voxel blocks: count white pixels per panel. */
    const int pw[3] = {32, 32, 24}, ph[3] = {24, 20, 20};
    for (int k = 0; k < 3; k++) {
        int white = 0;
        for (int yy = y; yy < y + ph[k] * s; yy++)
            white += count_row(&p, yy, x[k], x[k] + pw[k] * s, 0xFFFFFF);
        ck_assert_int_eq(white, 9 * s * s);
    }
    /* A label under each panel: dark text pixels below it. */
    for (int k = 0; k < 3; k++) {
        int dark = 0;
        for (int yy = y + 24 * s + 2; yy < h; yy++)
            for (int xx = x[k]; xx < x[k] + pw[k] * s; xx++)
                dark += (px(&p, xx, yy) & 0xFF) < 100;
        ck_assert_msg(dark > 10, "no label under panel %d", k);
    }
    png_free(&p);
    gar_map_destroy(&m);
}
END_TEST

START_TEST(test_slices_constant_map_is_mid_grey)
{
    const char *path = test_tmpfile("plot-flat", "flat.png");
    gar_map *m = NULL;
    ck_assert_int_eq(gar_map_create(16, 16, 16, 1.0, &m), GAR_OK);
    for (size_t v = 0; v < gar_map_voxels(m); v++)
        m->data[v] = 3.5f;
    ck_assert_msg(gar_plot_slices(path, m, NULL) == GAR_OK, "%s", gar_errmsg());
    png p = png_load(path);
    for (int k = 0; k < 3; k++)
        for (int b = 0; b < 16; b++)
            for (int a = 0; a < 16; a++) {
                int s, x[3], y;
                ck_assert(gar_plot_slices_layout(16, 16, 16, &s, x, &y, NULL, NULL));
                ck_assert_int_eq(s, 16);
                ck_assert_uint_eq(px(&p, x[k] + a * s + s / 2, y + b * s + s / 2), 0x808080);
            }
    png_free(&p);
    gar_map_destroy(&m);
}
END_TEST


/* The direction plot: every particle in one 5° cell, so that cell has the
 * densest shade; the colour bar runs from that shade at its top to the
 * empty shade at its bottom; an empty cell stays white. */
START_TEST(test_angdist_cell_and_colour_bar)
{
    const char *path = test_tmpfile("plot-angdist", "angdist.png");
    double rot[50], tilt[50];
    int bx, by, bw, bh, cx, cy, cell, ex, ey;
    for (int i = 0; i < 50; i++) {
        rot[i] = 32.0;
        tilt[i] = 91.0;
    }
    ck_assert_msg(gar_plot_angdist(path, rot, tilt, 50, "directions") == GAR_OK, "%s", gar_errmsg());
    png p = png_load(path);
    gar_plot_angdist_geometry(&bx, &by, &bw, &bh, 32.0, 91.0, &cx, &cy, &cell);
    ck_assert_uint_eq(px(&p, cx + cell / 2, cy + cell / 2), gar_plot_angdist_shade(1.0));
    gar_plot_angdist_geometry(&bx, &by, &bw, &bh, -100.0, 20.0, &ex, &ey, &cell);
    ck_assert_uint_eq(px(&p, ex + cell / 2, ey + cell / 2), 0xFFFFFF);
    ck_assert_uint_eq(px(&p, bx + bw / 2, by + 1), gar_plot_angdist_shade(1.0 - 1.5 / bh));
    ck_assert_uint_eq(px(&p, bx + bw / 2, by + bh - 1), gar_plot_angdist_shade(0.5 / bh));
    /* darker towards the top, all the way */
    for (int y = by + 1; y + 9 < by + bh - 1; y += 10)
        ck_assert_uint_le((px(&p, bx + bw / 2, y) >> 16) & 0xFF, (px(&p, bx + bw / 2, y + 9) >> 16) & 0xFF);
    png_free(&p);
}
END_TEST

/* The noise picture: two flat spectra a decade apart lie on the rows the log
 * axis puts them (the top for the larger, a third of the height down for
 * the other, 1 of 3 decades), each in its colour; bad arguments fail. */
START_TEST(test_noise_curves_on_the_log_axis)
{
    const char *path = test_tmpfile("plot-noise", "noise.png");
    double s2[2 * NSH];
    int x0, y0, w, h;
    for (int i = 0; i < NSH; i++) {
        s2[i] = 50.0;
        s2[NSH + i] = 5.0;
    }
    gar_plot_fsc_geometry(&x0, &y0, &w, &h);
    ck_assert_msg(gar_plot_noise(path, s2, 2, NSH, BOX, PIX, "noise") == GAR_OK, "%s", gar_errmsg());
    png p = png_load(path);
    ck_assert_int_eq(p.w, GAR_PLOT_FSC_WIDTH);
    ck_assert_uint_eq(px(&p, 2, 2), 0xFFFFFF);
    const int ya = y0 + 1, yb = y0 + h / 3;
    int on_a = 0, on_b = 0;
    for (int d = -1; d <= 1; d++) {
        on_a += count_row(&p, ya + d, x0 + 20, x0 + w - 20, GAR_PLOT_RGB_FSC);
        on_b += count_row(&p, yb + d, x0 + 20, x0 + w - 20, GAR_PLOT_RGB_FSC_REF);
    }
    ck_assert_msg(on_a > w / 2, "first curve on %d pixels near row %d", on_a, ya);
    ck_assert_msg(on_b > w / 2, "second curve on %d pixels near row %d", on_b, yb);
    ck_assert_int_eq(count_row(&p, y0 + h / 2, x0 + 20, x0 + w - 20, GAR_PLOT_RGB_FSC_REF), 0);
    png_free(&p);
    ck_assert_int_eq(gar_plot_noise(path, s2, 0, NSH, BOX, PIX, NULL), GAR_ERR_INTERNAL);
    ck_assert_int_eq(gar_plot_noise(path, s2, 1, NSH, BOX, 0.0, NULL), GAR_ERR_INTERNAL);
}
END_TEST

int main(void)
{
    TCase *tc = TEST_CASE("core", 60,
                          test_noise_curves_on_the_log_axis,
                          test_fsc_lines_where_the_axes_put_them,
                          test_fsc2_second_curve_and_legend,
                          test_fsc_gaps_and_limits,
                          test_fsc_replaces_existing_file,
                          test_missing_folder_fails_cleanly,
                          test_rename_failure_removes_temp,
                          test_bad_arguments,
                          test_slices_layout,
                          test_slices_show_clusters_where_they_are,
                          test_slices_constant_map_is_mid_grey,
                          test_angdist_cell_and_colour_bar);
    tcase_add_checked_fixture(tc, NULL, drop_font_caches);
    return test_run_suite(test_suite("plot", tc, NULL));
}
