/* Unit tests for hdf5io/gar_star.c: the RELION 3.1 test file, hand-written
 * STAR text for quoting, comments and label/value blocks, and the errors. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bzlib.h>
#include <zlib.h>

#include "gar_star.h"
#include "testutil.h"

#define TAG "star"

/* ------------------------------------------------------------ helpers */

static const char *write_text(const char *name, const char *text)
{
    const char *path = test_tmpfile(TAG, name);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

static void cleanup(const char *path)
{
    unlink(path);
    rmdir(test_tmpdir(TAG));
}

static gar_star *read_ok(const char *path)
{
    gar_star *s = NULL;
    gar_status st = gar_star_read(path, &s);
    ck_assert_msg(st == GAR_OK, "%s: %s", path, gar_errmsg());
    ck_assert_ptr_nonnull(s);
    return s;
}

/* Writes text, expects gar_star_read to fail with want and a message holding
 * each of the fragments. */
static void expect_parse_error(const char *name, const char *text, gar_status want, const char *frag1,
                               const char *frag2)
{
    const char *path = write_text(name, text);
    gar_star *s = (gar_star *)&s;  /* not NULL, so a missed reset is caught */
    gar_status st;
    gar_error_clear();
    st = gar_star_read(path, &s);
    ck_assert_msg(st == want, "%s: status %d, expected %d; message: %s", name, (int)st, (int)want,
                  gar_errmsg());
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(gar_errmsg(), frag1) != NULL, "message '%s' lacks '%s'", gar_errmsg(), frag1);
    if (frag2)
        ck_assert_msg(strstr(gar_errmsg(), frag2) != NULL, "message '%s' lacks '%s'", gar_errmsg(), frag2);
    ck_assert_msg(strchr(gar_errmsg(), '\n') == NULL, "message is not one line: %s", gar_errmsg());
    cleanup(path);
}

static double cell_d(const gar_star *s, const gar_star_table *t, size_t row, const char *label)
{
    double v = NAN;
    int c = gar_star_column(t, label);
    ck_assert_msg(c >= 0, "no column %s", label);
    ck_assert_msg(gar_star_cell_double(s, t, row, c, &v) == GAR_OK, "%s", gar_errmsg());
    return v;
}

static const char *cell_s(const gar_star_table *t, size_t row, const char *label)
{
    int c = gar_star_column(t, label);
    ck_assert_msg(c >= 0, "no column %s", label);
    return gar_star_cell(t, row, c);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ------------------------------------------------------------ the RELION file */

START_TEST(test_relion_optics)
{
    gar_star *s = read_ok(test_data("relion-sim/particles.star"));
    const gar_star_table *o = gar_star_block(s, "optics");
    long size = 0;
    ck_assert_ptr_nonnull(o);
    ck_assert_uint_eq(gar_star_rows(o), 1);
    ck_assert_int_eq(gar_star_ncols(o), 8);
    ck_assert_str_eq(gar_star_label(o, 0), "rlnOpticsGroup");
    ck_assert_str_eq(gar_star_label(o, 7), "rlnAmplitudeContrast");
    ck_assert_str_eq(cell_s(o, 0, "rlnOpticsGroupName"), "opticsGroup1");
    ck_assert_double_eq(cell_d(s, o, 0, "rlnImagePixelSize"), 3.0);
    ck_assert_double_eq(cell_d(s, o, 0, "rlnVoltage"), 300.0);
    ck_assert_double_eq(cell_d(s, o, 0, "rlnSphericalAberration"), 2.7);
    ck_assert_double_eq(cell_d(s, o, 0, "rlnAmplitudeContrast"), 0.1);
    ck_assert_int_eq(gar_star_cell_int(s, o, 0, gar_star_column(o, "rlnImageSize"), &size), GAR_OK);
    ck_assert_int_eq(size, 64);
    ck_assert_int_eq(gar_star_row_line(o, 0), 15);
    ck_assert_str_eq(gar_star_path(s), test_data("relion-sim/particles.star"));
    gar_star_destroy(&s);
    ck_assert_ptr_null(s);
    gar_star_destroy(&s);  /* NULL-safe */
}
END_TEST

START_TEST(test_relion_particles)
{
    gar_star *s = read_ok(test_data("relion-sim/particles.star"));
    const gar_star_table *p = gar_star_block(s, "particles");
    long subset = 0;
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_null(gar_star_block(s, "model"));
    ck_assert_uint_eq(gar_star_rows(p), 400);
    ck_assert_int_eq(gar_star_ncols(p), 11);
    ck_assert_str_eq(gar_star_label(p, 0), "rlnImageName");
    ck_assert_str_eq(gar_star_label(p, 10), "rlnRandomSubset");
    ck_assert_ptr_null(gar_star_label(p, 11));
    ck_assert_ptr_null(gar_star_label(p, -1));
    ck_assert_int_eq(gar_star_column(p, "rlnAngleRot"), 1);
    ck_assert_int_eq(gar_star_column(p, "rlnDefocusAngle"), 8);

    /* First row, checked against the file text. */
    ck_assert_str_eq(cell_s(p, 0, "rlnImageName"), "000001@particles.mrcs");
    ck_assert_str_eq(cell_s(p, 0, "rlnAngleRot"), "-141.82410");
    ck_assert_double_eq(cell_d(s, p, 0, "rlnAngleRot"), -141.82410);
    ck_assert_double_eq(cell_d(s, p, 0, "rlnAngleTilt"), 148.770400);
    ck_assert_double_eq(cell_d(s, p, 0, "rlnAnglePsi"), -45.84260);
    ck_assert_double_eq(cell_d(s, p, 0, "rlnOriginXAngst"), -0.13200);
    ck_assert_double_eq(cell_d(s, p, 0, "rlnOriginYAngst"), -1.90800);
    ck_assert_double_eq(cell_d(s, p, 0, "rlnDefocusU"), 17624.3);
    ck_assert_double_eq(cell_d(s, p, 0, "rlnDefocusV"), 17375.0);
    ck_assert_double_eq(cell_d(s, p, 0, "rlnDefocusAngle"), 96.44);
    ck_assert_int_eq(gar_star_row_line(p, 0), 34);
    /* Second row. */
    ck_assert_double_eq(cell_d(s, p, 1, "rlnAngleRot"), 32.1339);
    ck_assert_int_eq(gar_star_cell_int(s, p, 1, 10, &subset), GAR_OK);
    ck_assert_int_eq(subset, 2);

    /* Last row. */
    ck_assert_str_eq(cell_s(p, 399, "rlnImageName"), "000400@particles.mrcs");
    ck_assert_double_eq(cell_d(s, p, 399, "rlnAngleRot"), 178.1813);
    ck_assert_double_eq(cell_d(s, p, 399, "rlnDefocusV"), 15709.3);
    ck_assert_str_eq(cell_s(p, 399, "rlnRandomSubset"), "2");
    ck_assert_int_eq(gar_star_row_line(p, 399), 433);
    ck_assert_ptr_null(gar_star_cell(p, 400, 0));
    ck_assert_int_eq(gar_star_row_line(p, 400), -1);
    gar_star_destroy(&s);
}
END_TEST

START_TEST(test_relion_image_name)
{
    gar_star *s = read_ok(test_data("relion-sim/particles.star"));
    const gar_star_table *p = gar_star_block(s, "particles");
    size_t index = 0;
    char *path = NULL;
    char want[PATH_MAX];
    ck_assert_int_eq(gar_star_image_name(s, gar_star_cell(p, 399, 0), &index, &path), GAR_OK);
    ck_assert_uint_eq(index, 399);
    ck_assert_msg(ends_with(path, "relion-sim/particles.mrcs"), "path %s", path);
    ck_assert_int_lt(snprintf(want, sizeof want, "%s", test_data("relion-sim/particles.mrcs")), (int)sizeof want);
    ck_assert_str_eq(path, want);
    ck_assert(test_file_exists(path));
    free(path);
    path = NULL;
    ck_assert_int_eq(gar_star_image_name(s, gar_star_cell(p, 0, 0), &index, &path), GAR_OK);
    ck_assert_uint_eq(index, 0);
    free(path);
    gar_star_destroy(&s);
}
END_TEST

/* ------------------------------------------------------------ hand-written text */

START_TEST(test_image_name_forms)
{
    const char *star_path = write_text("img.star", "data_\nloop_\n_rlnImageName\n1@a.mrcs\n");
    gar_star *s = read_ok(star_path);
    const char *dir = test_tmpdir(TAG);
    char want[PATH_MAX];
    size_t index = 99;
    char *path = NULL;

    ck_assert_ptr_nonnull(gar_star_block(s, ""));  /* a bare data_ block */
    ck_assert_int_eq(gar_star_image_name(s, "000012@stacks/a.mrcs", &index, &path), GAR_OK);
    ck_assert_uint_eq(index, 11);
    ck_assert_int_lt(snprintf(want, sizeof want, "%s/stacks/a.mrcs", dir), (int)sizeof want);
    ck_assert_str_eq(path, want);
    free(path);

    ck_assert_int_eq(gar_star_image_name(s, "7@/abs/dir/b.mrcs", &index, &path), GAR_OK);
    ck_assert_uint_eq(index, 6);
    ck_assert_str_eq(path, "/abs/dir/b.mrcs");
    free(path);

    index = 99;
    ck_assert_int_eq(gar_star_image_name(s, "single.mrc", &index, &path), GAR_OK);
    ck_assert_uint_eq(index, 0);
    ck_assert_int_lt(snprintf(want, sizeof want, "%s/single.mrc", dir), (int)sizeof want);
    ck_assert_str_eq(path, want);
    free(path);

    /* Without a STAR file the path is left as given. */
    ck_assert_int_eq(gar_star_image_name(NULL, "3@x.mrcs", &index, &path), GAR_OK);
    ck_assert_uint_eq(index, 2);
    ck_assert_str_eq(path, "x.mrcs");
    free(path);

    path = (char *)"sentinel";
    ck_assert_int_eq(gar_star_image_name(s, "0@a.mrcs", &index, &path), GAR_ERR_DATA);
    ck_assert_ptr_null(path);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "'0@a.mrcs'"));
    ck_assert_int_eq(gar_star_image_name(s, "x12@a.mrcs", &index, &path), GAR_ERR_DATA);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "'x12@a.mrcs'"));
    ck_assert_int_eq(gar_star_image_name(s, "@a.mrcs", &index, &path), GAR_ERR_DATA);
    ck_assert_int_eq(gar_star_image_name(s, "-3@a.mrcs", &index, &path), GAR_ERR_DATA);
    ck_assert_int_eq(gar_star_image_name(s, "99999999999999999999999@a.mrcs", &index, &path), GAR_ERR_DATA);
    ck_assert_int_eq(gar_star_image_name(s, "5@", &index, &path), GAR_ERR_DATA);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "no file name"));
    ck_assert_ptr_null(path);
    gar_star_destroy(&s);
    cleanup(star_path);
}
END_TEST

START_TEST(test_quoted_fields)
{
    const char *path = write_text("quoted.star",
        "data_q\n"
        "loop_\n"
        "_rlnMicrographName #1\n"
        "_rlnComment #2\n"
        "_rlnValue #3\n"
        "'my file.mrc' \"two words  here\" 1.5\n"
        "plain 'it's'\t-2\n"
        "\"a 'b' c\" '' 3\n"
        "'_notalabel' 'data_x' 4\n");
    gar_star *s = read_ok(path);
    const gar_star_table *t = gar_star_block(s, "q");
    ck_assert_uint_eq(gar_star_rows(t), 4);
    ck_assert_str_eq(gar_star_cell(t, 0, 0), "my file.mrc");
    ck_assert_str_eq(gar_star_cell(t, 0, 1), "two words  here");
    ck_assert_double_eq(cell_d(s, t, 0, "rlnValue"), 1.5);
    ck_assert_str_eq(gar_star_cell(t, 1, 0), "plain");
    ck_assert_str_eq(gar_star_cell(t, 1, 1), "it's");
    ck_assert_double_eq(cell_d(s, t, 1, "rlnValue"), -2.0);
    ck_assert_str_eq(gar_star_cell(t, 2, 0), "a 'b' c");
    ck_assert_str_eq(gar_star_cell(t, 2, 1), "");
    /* A quoted value that looks like a label or block is still a value. */
    ck_assert_str_eq(gar_star_cell(t, 3, 0), "_notalabel");
    ck_assert_str_eq(gar_star_cell(t, 3, 1), "data_x");
    ck_assert_ptr_null(gar_star_block(s, "x"));
    gar_star_destroy(&s);
    cleanup(path);
}
END_TEST

START_TEST(test_missing_optional_columns)
{
    const char *path = write_text("minimal.star",
        "data_particles\nloop_\n_rlnImageName #1\n_rlnAngleRot #2\n1@a.mrcs 10\n2@a.mrcs 20\n");
    gar_star *s = read_ok(path);
    const gar_star_table *t = gar_star_block(s, "particles");
    double v = 0;
    ck_assert_int_eq(gar_star_column(t, "rlnOriginXAngst"), -1);
    ck_assert_int_eq(gar_star_column(t, "rlnDefocusU"), -1);
    ck_assert_int_eq(gar_star_column(t, "rlnAngleRot"), 1);
    ck_assert_int_eq(gar_star_column(t, "_rlnAngleRot"), 1);
    ck_assert_int_eq(gar_star_column(NULL, "rlnAngleRot"), -1);
    ck_assert_ptr_null(gar_star_cell(t, 0, -1));
    ck_assert_ptr_null(gar_star_cell(t, 0, 2));
    ck_assert_int_eq(gar_star_cell_double(s, t, 0, -1, &v), GAR_ERR_INTERNAL);
    ck_assert_int_eq(gar_star_cell_double(s, t, 2, 1, &v), GAR_ERR_INTERNAL);
    ck_assert_double_eq(cell_d(s, t, 1, "rlnAngleRot"), 20.0);
    gar_star_destroy(&s);
    cleanup(path);
}
END_TEST

START_TEST(test_label_value_block)
{
    const char *path = write_text("pairs.star",
        "# version 30001\n"
        "\n"
        "data_general\n"
        "\n"
        "_rlnImageSizeX   128\n"
        "_rlnImageSizeY   130   # trailing comment\n"
        "# a comment between pairs\n"
        "_rlnMovieName  'movie with space.tif'\n"
        "_rlnMicrographPixelSize 1.06\n"
        "\n"
        "data_particles\n"
        "loop_\n"
        "_rlnA #1\n"
        "1\n"
        "2\n");
    gar_star *s = read_ok(path);
    const gar_star_table *g = gar_star_block(s, "general");
    const gar_star_table *p = gar_star_block(s, "particles");
    long v = 0;
    ck_assert_ptr_nonnull(g);
    ck_assert_uint_eq(gar_star_rows(g), 1);
    ck_assert_int_eq(gar_star_ncols(g), 4);
    ck_assert_str_eq(gar_star_label(g, 0), "rlnImageSizeX");
    ck_assert_str_eq(gar_star_label(g, 3), "rlnMicrographPixelSize");
    ck_assert_int_eq(gar_star_cell_int(s, g, 0, 1, &v), GAR_OK);
    ck_assert_int_eq(v, 130);
    ck_assert_str_eq(cell_s(g, 0, "rlnMovieName"), "movie with space.tif");
    ck_assert_double_eq(cell_d(s, g, 0, "rlnMicrographPixelSize"), 1.06);
    ck_assert_int_eq(gar_star_row_line(g, 0), 5);
    ck_assert_uint_eq(gar_star_rows(p), 2);
    ck_assert_str_eq(gar_star_cell(p, 1, 0), "2");
    gar_star_destroy(&s);
    cleanup(path);
}
END_TEST

START_TEST(test_many_pairs)
{
    /* More pairs than the initial capacity, so the single row must grow. */
    char text[8192];
    size_t n = 0;
    int i;
    const char *path;
    gar_star *s;
    const gar_star_table *t;
    n += (size_t)snprintf(text + n, sizeof text - n, "data_big\n");
    for (i = 0; i < 100; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "_key%d value%d\n", i, i * 3);
    path = write_text("pairs100.star", text);
    s = read_ok(path);
    t = gar_star_block(s, "big");
    ck_assert_int_eq(gar_star_ncols(t), 100);
    ck_assert_str_eq(gar_star_label(t, 99), "key99");
    ck_assert_str_eq(gar_star_cell(t, 0, 0), "value0");
    ck_assert_str_eq(gar_star_cell(t, 0, 57), "value171");
    ck_assert_str_eq(gar_star_cell(t, 0, 99), "value297");
    gar_star_destroy(&s);
    cleanup(path);
}
END_TEST

START_TEST(test_comments_and_blank_lines)
{
    const char *path = write_text("comments.star",
        "\xEF\xBB\xBF# version 30001\r\n"
        "   \r\n"
        "data_optics   # block comment\r\n"
        "loop_\r\n"
        "_rlnOpticsGroup #1\r\n"
        "# a comment between labels\r\n"
        "_rlnNote #2\r\n"
        "1 a#b\r\n"
        "# a comment between rows does not end the loop\r\n"
        "2 c   # trailing comment\r\n"
        " \t \r\n"
        "\n"
        "data_particles\n"
        "\n"
        "loop_\n"
        "\n"
        "_rlnX #1\n"
        "\n"
        "5\n"
        "6");  /* no final newline */
    gar_star *s = read_ok(path);
    const gar_star_table *o = gar_star_block(s, "optics");
    const gar_star_table *p = gar_star_block(s, "particles");
    ck_assert_uint_eq(gar_star_rows(o), 2);
    ck_assert_int_eq(gar_star_ncols(o), 2);
    ck_assert_str_eq(gar_star_cell(o, 0, 1), "a#b");  /* '#' inside a field is text */
    ck_assert_str_eq(gar_star_cell(o, 1, 1), "c");
    ck_assert_int_eq(gar_star_row_line(o, 1), 10);
    ck_assert_uint_eq(gar_star_rows(p), 2);
    ck_assert_str_eq(gar_star_cell(p, 1, 0), "6");
    ck_assert_int_eq(gar_star_row_line(p, 1), 20);
    gar_star_destroy(&s);
    cleanup(path);
}
END_TEST

START_TEST(test_numbers_strict)
{
    const char *path = write_text("numbers.star",
        "data_n\nloop_\n_rlnAngleRot #1\n_rlnAngleTilt #2\n_rlnClassNumber #3\n"
        "1e-3 -0.5 2.000000\n"
        "abc 12abc 2.5\n"
        "inf nan ''\n"
        "1e999 +7 x\n");
    gar_star *s = read_ok(path);
    const gar_star_table *t = gar_star_block(s, "n");
    double v = 0;
    long k = 0;
    ck_assert_double_eq(cell_d(s, t, 0, "rlnAngleRot"), 1e-3);
    ck_assert_double_eq(cell_d(s, t, 0, "rlnAngleTilt"), -0.5);
    ck_assert_int_eq(gar_star_cell_int(s, t, 0, 2, &k), GAR_OK);
    ck_assert_int_eq(k, 2);

    gar_error_clear();
    ck_assert_int_eq(gar_star_cell_double(s, t, 1, 0, &v), GAR_ERR_DATA);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "numbers.star:7: rlnAngleRot: expected a number, got 'abc'"));
    ck_assert_int_eq(gar_star_cell_double(s, t, 1, 1, &v), GAR_ERR_DATA);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), ":7: rlnAngleTilt: expected a number, got '12abc'"));
    ck_assert_int_eq(gar_star_cell_int(s, t, 1, 2, &k), GAR_ERR_DATA);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "rlnClassNumber: expected an integer, got '2.5'"));
    ck_assert_int_eq(gar_star_cell_double(s, t, 2, 0, &v), GAR_ERR_DATA);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), ":8: rlnAngleRot: expected a number, got 'inf'"));
    ck_assert_int_eq(gar_star_cell_double(s, t, 2, 1, &v), GAR_ERR_DATA);
    ck_assert_int_eq(gar_star_cell_double(s, t, 2, 2, &v), GAR_ERR_DATA);
    ck_assert_int_eq(gar_star_cell_int(s, t, 2, 2, &k), GAR_ERR_DATA);
    ck_assert_int_eq(gar_star_cell_double(s, t, 3, 0, &v), GAR_ERR_DATA);  /* overflows */
    ck_assert_double_eq(cell_d(s, t, 3, "rlnAngleTilt"), 7.0);
    ck_assert_int_eq(gar_star_cell_int(s, t, 3, 2, &k), GAR_ERR_DATA);
    ck_assert_int_eq(k, 2);  /* untouched on failure */
    gar_star_destroy(&s);
    cleanup(path);
}
END_TEST

/* ------------------------------------------------------------ empty tables */

/* Empty tables, as RELION and others write them: a loop_ with labels and no
 * rows is a table of 0 rows; a loop_ with no labels, or a block with nothing,
 * one of 0 columns. Anywhere: at the end of the file, between blocks, before
 * a block with rows. */
static const struct {
    const char *file, *text;
    const char *block;      /* the empty one */
    int ncols;              /* its labels */
    const char *next;       /* a block after it with rows, or NULL */
    size_t next_rows;
} empty_tables[] = {
    {"loop-eof.star", "data_a\n_rlnX 1\n\ndata_p\nloop_\n_rlnA #1\n_rlnB #2\n", "p", 2, NULL, 0},
    {"loop-eof-blank.star", "data_p\n\nloop_\n_rlnA #1\n\n# the end\n\n", "p", 1, NULL, 0},
    {"loop-between.star", "data_p\nloop_\n_rlnA #1\n\ndata_q\n_rlnB 1\n", "p", 1, "q", 1},
    {"loop-then-rows.star", "data_p\nloop_\n_rlnA #1\n_rlnB #2\ndata_q\nloop_\n_rlnC #1\n1\n2\n3\n", "p", 2,
     "q", 3},
    {"nolabels-eof.star", "data_q\nloop_\n_rlnC\n7\n\ndata_p\nloop_\n", "p", 0, NULL, 0},
    {"nolabels-between.star", "data_p\nloop_\n\ndata_q\nloop_\n_rlnC\n7\n8\n", "p", 0, "q", 2},
    {"block-empty.star", "data_a\n_rlnB 1\ndata_p\n\n", "p", 0, NULL, 0},
    {"block-empty-between.star", "data_p\n# nothing\ndata_q\nloop_\n_rlnC\n7\n", "p", 0, "q", 1},
};

START_TEST(test_empty_table)
{
    const char *path = write_text(empty_tables[_i].file, empty_tables[_i].text);
    gar_star *s = read_ok(path);
    const gar_star_table *t = gar_star_block(s, empty_tables[_i].block);
    ck_assert_msg(t != NULL, "%s: no data_%s", empty_tables[_i].file, empty_tables[_i].block);
    ck_assert_uint_eq(gar_star_rows(t), 0);
    ck_assert_int_eq(gar_star_ncols(t), empty_tables[_i].ncols);
    ck_assert_ptr_null(gar_star_cell(t, 0, 0));
    ck_assert_int_eq(gar_star_row_line(t, 0), -1);
    if (empty_tables[_i].ncols > 0) {
        ck_assert_str_eq(gar_star_label(t, 0), "rlnA");
        ck_assert_int_eq(gar_star_column(t, "rlnA"), 0);
    }
    if (empty_tables[_i].next != NULL) {
        const gar_star_table *n = gar_star_block(s, empty_tables[_i].next);
        ck_assert_ptr_nonnull(n);
        ck_assert_uint_eq(gar_star_rows(n), empty_tables[_i].next_rows);
        ck_assert_ptr_nonnull(gar_star_cell(n, empty_tables[_i].next_rows - 1, 0));
    }
    gar_star_destroy(&s);
    cleanup(path);
}
END_TEST

/* ------------------------------------------------------------ parse errors */

/* Texts that are not valid STAR: reading each must fail with GAR_ERR_DATA and
 * a one-line message holding the fragment (and fragment2 unless NULL). */
static const struct {
    const char *file, *text, *fragment, *fragment2;
} parse_errors[] = {
    {"few.star", "data_particles\nloop_\n_rlnA #1\n_rlnB #2\n_rlnC #3\n1 2 3\n1 2\n",
     "few.star:7: row has 2 fields, expected 3", "rlnA ... rlnC"},
    {"many.star", "data_p\nloop_\n_rlnA #1\n_rlnB #2\n1 2\n1 2 3\n",
     "many.star:6: row has 3 fields, expected 2 (labels rlnA ... rlnB)", NULL},
    {"quote.star", "data_p\nloop_\n_rlnA #1\n_rlnB #2\n'a b' 2\n'unclosed 3\n",
     "quote.star:6: unterminated ' quote", NULL},
    {"outside.star", "# header\n_rlnA 1\ndata_x\n_rlnB 2\n",
     "outside.star:2: label _rlnA outside any data_ block", NULL},
    {"nolabel.star", "data_p\nloop_\n1 2\n", "nolabel.star:3: row before any label", NULL},
    {"looptop.star", "# header\nloop_\n_rlnA #1\n1\n", "looptop.star:2: loop_ outside any data_ block", NULL},
    {"twoloops.star", "data_p\nloop_\n_rlnA #1\n\nloop_\n_rlnB #1\n",
     "twoloops.star:5: second table in block data_p (line 1)", NULL},
    {"after.star", "data_p\nloop_\n_rlnA #1\n1\n\n2\n",
     "after.star:6: row after the blank line", NULL},
    {"pair.star", "data_g\n_rlnA\n", "pair.star:2: label _rlnA has 0 values", NULL},
    {"duplabel.star", "data_p\nloop_\n_rlnA #1\n_rlnA #2\n1 2\n",
     "duplabel.star:4: label _rlnA appears twice", NULL},
    {"dupblock.star", "data_p\n_rlnA 1\ndata_p\n_rlnA 2\n",
     "dupblock.star:3: block data_p repeats the one at line 1", NULL},
    {"empty.star", "", "no data_ block", NULL},
};

START_TEST(test_parse_error)
{
    expect_parse_error(parse_errors[_i].file, parse_errors[_i].text, GAR_ERR_DATA,
                       parse_errors[_i].fragment, parse_errors[_i].fragment2);
}
END_TEST

START_TEST(test_error_nul_byte)
{
    const char *path = test_tmpfile(TAG, "nul.star");
    static const char text[] = "data_p\n_rlnA 1\n_rlnB x\0y\n";
    gar_star *s = NULL;
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, sizeof text - 1, f), sizeof text - 1);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(gar_star_read(path, &s), GAR_ERR_DATA);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "nul.star:3: NUL byte"));
    cleanup(path);
}
END_TEST

START_TEST(test_error_missing_file)
{
    gar_star *s = (gar_star *)&s;
    const char *path = test_tmpfile(TAG, "no-such.star");
    ck_assert_int_eq(gar_star_read(path, &s), GAR_ERR_NOINPUT);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "no-such.star"));
    ck_assert_int_eq(gar_star_read(test_tmpdir(TAG), &s), GAR_ERR_NOINPUT);  /* a folder */
    ck_assert_ptr_null(s);
    rmdir(test_tmpdir(TAG));
}
END_TEST

/* ------------------------------------------------------------ compressed files */


/* The bytes of src gzip'ed (zlib) or bzip2'ed (libbz2): made here, so the
 * test needs nothing stored beside it. */
static unsigned char *compress_bytes(const unsigned char *plain, size_t len, int bzip2, size_t *out_len)
{
    size_t cap = len + len / 50 + 1024;
    unsigned char *packed = malloc(cap);
    ck_assert_ptr_nonnull(packed);
    if (bzip2) {
        unsigned int out = (unsigned int)cap;
        ck_assert_int_eq(BZ2_bzBuffToBuffCompress((char *)packed, &out, (char *)(uintptr_t)plain,
                                                  (unsigned int)len, 9, 0, 0), BZ_OK);
        *out_len = out;
    } else {
        z_stream z;
        memset(&z, 0, sizeof z);
        ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
        z.next_in = (unsigned char *)(uintptr_t)plain;
        z.avail_in = (uInt)len;
        z.next_out = packed;
        z.avail_out = (uInt)cap;
        ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
        *out_len = z.total_out;
        deflateEnd(&z);
    }
    return packed;
}

static const char *write_bytes(const char *name, const unsigned char *b, size_t n)
{
    const char *path = test_tmpfile(TAG, name);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

/* Every block, label and cell of a equal to b's. */
static void expect_same_star(const gar_star *a, const gar_star *b)
{
    size_t k, r;
    int c;
    ck_assert_uint_eq(gar_star_nblocks(a), gar_star_nblocks(b));
    for (k = 0; k < gar_star_nblocks(a); k++) {
        const gar_star_table *ta = gar_star_block_at(a, k), *tb = gar_star_block_at(b, k);
        ck_assert_str_eq(gar_star_block_name(ta), gar_star_block_name(tb));
        ck_assert_uint_eq(gar_star_rows(ta), gar_star_rows(tb));
        ck_assert_int_eq(gar_star_ncols(ta), gar_star_ncols(tb));
        for (c = 0; c < gar_star_ncols(ta); c++)
            ck_assert_str_eq(gar_star_label(ta, c), gar_star_label(tb, c));
        for (r = 0; r < gar_star_rows(ta); r++) {
            ck_assert_int_eq(gar_star_row_line(ta, r), gar_star_row_line(tb, r));
            for (c = 0; c < gar_star_ncols(ta); c++)
                ck_assert_str_eq(gar_star_cell(ta, r, c), gar_star_cell(tb, r, c));
        }
    }
}

/* The RELION test file gzip'ed and bzip2'ed, and gzip'ed through a pipe
 * (as `--star <(cat p.star.gz)` gives it): parsed equal to the plain file. */
START_TEST(test_compressed_star)
{
    size_t len, plen;
    unsigned char *plain = test_slurp(test_data("relion-sim/particles.star"), &len), *packed;
    gar_star *ref = read_ok(test_data("relion-sim/particles.star")), *s;
    const char *path;
    int k, fds[2];
    char pipe_path[64];
    pid_t child;

    for (k = 0; k < 2; k++) {
        packed = compress_bytes(plain, len, k, &plen);
        path = write_bytes(k ? "p.star.bz2" : "p.star.gz", packed, plen);
        s = read_ok(path);
        expect_same_star(ref, s);
        gar_star_destroy(&s);
        unlink(path);
        free(packed);
    }

    packed = compress_bytes(plain, len, 0, &plen);
    ck_assert_int_eq(pipe(fds), 0);
    child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        size_t done = 0;
        close(fds[0]);
        while (done < plen) {
            ssize_t w = write(fds[1], packed + done, plen - done);
            if (w <= 0)
                _exit(1);
            done += (size_t)w;
        }
        _exit(0);
    }
    close(fds[1]);
    snprintf(pipe_path, sizeof pipe_path, "/dev/fd/%d", fds[0]);
    s = read_ok(pipe_path);
    expect_same_star(ref, s);
    gar_star_destroy(&s);
    close(fds[0]);
    waitpid(child, NULL, 0);
    free(packed);
    free(plain);
    gar_star_destroy(&ref);
    rmdir(test_tmpdir(TAG));
}
END_TEST

/* A .gz cut short is refused naming the file; a zstd file is named. */
START_TEST(test_compressed_star_errors)
{
    size_t len, plen;
    unsigned char *plain = test_slurp(test_data("relion-sim/particles.star"), &len);
    unsigned char *packed = compress_bytes(plain, len, 0, &plen);
    gar_star *s = (gar_star *)&s;
    const char *path = write_bytes("cut.star.gz", packed, plen / 2);
    ck_assert_int_eq(gar_star_read(path, &s), GAR_ERR_DATA);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(gar_errmsg(), "cut.star.gz: the gzip data end early") != NULL, "%s", gar_errmsg());
    unlink(path);
    path = write_bytes("p.star.zst", (const unsigned char *)"\x28\xb5\x2f\xfd\0\0\0\0", 8);
    ck_assert_int_eq(gar_star_read(path, &s), GAR_ERR_DATA);
    ck_assert_msg(strstr(gar_errmsg(), "p.star.zst: a zstd-compressed file, not STAR") != NULL, "%s",
                  gar_errmsg());
    cleanup(path);
    free(packed);
    free(plain);
}
END_TEST

/* ------------------------------------------------------------ scale */

START_TEST(test_million_rows)
{
    const char *path = test_tmpfile(TAG, "million.star");
    FILE *f = fopen(path, "w");
    const size_t n = 1000000;
    gar_star *s;
    const gar_star_table *t;
    size_t i;
    size_t index = 0;
    char *img = NULL;
    ck_assert_ptr_nonnull(f);
    fprintf(f, "data_optics\nloop_\n_rlnOpticsGroup #1\n1\n\ndata_particles\nloop_\n"
               "_rlnImageName #1\n_rlnAngleRot #2\n_rlnOpticsGroup #3\n");
    for (i = 1; i <= n; i++)
        fprintf(f, "%06zu@s.mrcs %.2f 1\n", i, (double)(i % 36000) / 100.0);
    ck_assert_int_eq(fclose(f), 0);

    s = read_ok(path);
    t = gar_star_block(s, "particles");
    ck_assert_uint_eq(gar_star_rows(t), n);
    ck_assert_str_eq(gar_star_cell(t, n - 1, 0), "1000000@s.mrcs");
    ck_assert_double_eq(cell_d(s, t, 123456, "rlnAngleRot"), 154.57);  /* i = 123457, mod 36000 */
    ck_assert_int_eq(gar_star_row_line(t, n - 1), 10 + (long)n);
    ck_assert_int_eq(gar_star_image_name(s, gar_star_cell(t, n - 1, 0), &index, &img), GAR_OK);
    ck_assert_uint_eq(index, n - 1);
    free(img);
    gar_star_destroy(&s);
    cleanup(path);
}
END_TEST

static Suite *star_suite(void)
{
    TCase *relion = TEST_CASE("relion", 0,
                              test_relion_optics,
                              test_relion_particles,
                              test_relion_image_name);
    TCase *text = TEST_CASE("text", 0,
                            test_image_name_forms,
                            test_quoted_fields,
                            test_missing_optional_columns,
                            test_label_value_block,
                            test_many_pairs,
                            test_comments_and_blank_lines,
                            test_numbers_strict);
    TCase *empty = tcase_create("empty");
    TCase *err = TEST_CASE("errors", 0,
                           test_error_nul_byte,
                           test_error_missing_file);
    tcase_add_loop_test(empty, test_empty_table, 0, (int)(sizeof empty_tables / sizeof empty_tables[0]));
    tcase_add_loop_test(err, test_parse_error, 0, (int)(sizeof parse_errors / sizeof parse_errors[0]));
    /* Generous: the million-row file is also run under valgrind. */
    TCase *packed = TEST_CASE("compressed", 0, test_compressed_star, test_compressed_star_errors);
    TCase *scale = TEST_CASE("scale", 300, test_million_rows);
    return test_suite("star", relion, text, empty, err, packed, scale, NULL);
}

int main(void)
{
    return test_run_suite(star_suite());
}
