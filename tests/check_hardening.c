/* Unit tests of the in-memory entry points the fuzz targets use
 * (gar_mrc_validate_header, gar_star_parse_buffer, gar_params_load_buffer,
 * gar_stack_open_image, gar_import_check_star): each agrees with its file
 * counterpart, and the rules added with them (issue 5) hold. */
#include <check.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gar_import.h"
#include "gar_mrc.h"
#include "gar_params.h"
#include "gar_stack.h"
#include "gar_star.h"
#include "testutil.h"

#define TAG "hardening"


static int has(const char *fragment)
{
    return strstr(gar_errmsg(), fragment) != NULL;
}

/* ---------------------------------------------------------------- MRC */

START_TEST(test_mrc_validate_matches_open)
{
    size_t len;
    unsigned char *file = test_slurp(test_example("tii-64.mrc"), &len);
    gar_mrc_header h;
    gar_mrc *m = NULL;
    ck_assert_msg(gar_mrc_validate_header(file, len, len, "mem.mrc", &h) == GAR_OK, "%s", gar_errmsg());
    ck_assert_int_eq(gar_mrc_open(test_example("tii-64.mrc"), &m), GAR_OK);
    ck_assert_uint_eq(h.nx, gar_mrc_nx(m));
    ck_assert_uint_eq(h.ny, gar_mrc_ny(m));
    ck_assert_uint_eq(h.nz, gar_mrc_nz(m));
    ck_assert_int_eq(h.mode, gar_mrc_mode(m));
    ck_assert(fabs(h.pixel_size - gar_mrc_pixel_size(m)) < 1e-12);
    ck_assert_uint_eq(h.data_offset + h.data_bytes, len);
    gar_mrc_close(&m);
    /* The header alone is not enough for the data it declares. */
    ck_assert_int_eq(gar_mrc_validate_header(file, 1024, 1024, "mem.mrc", &h), GAR_ERR_DATA);
    ck_assert_msg(has("mem.mrc: data block shorter than the header says"), "%s", gar_errmsg());
    ck_assert_int_eq(gar_mrc_validate_header(file, 1000, len, "mem.mrc", &h), GAR_ERR_DATA);
    ck_assert_msg(has("shorter than the 1024-byte MRC header"), "%s", gar_errmsg());
    free(file);
}
END_TEST

START_TEST(test_mrc_validate_huge_claims)
{
    unsigned char hdr[1024];
    gar_mrc_header h;
    memset(hdr, 0, sizeof hdr);
    /* 65536 x 65536 x (2^31 - 1) float32: 2^65 bytes, more than 64 bits hold. */
    hdr[0 + 2] = 1;                   /* nx = 65536, little-endian */
    hdr[4 + 2] = 1;                   /* ny = 65536 */
    hdr[8] = hdr[9] = hdr[10] = 0xff; /* nz = 2^31 - 1 */
    hdr[11] = 0x7f;
    hdr[12] = 2;                      /* mode 2 */
    ck_assert_int_eq(gar_mrc_validate_header(hdr, sizeof hdr, UINT64_MAX, "big.mrc", &h), GAR_ERR_DATA);
    ck_assert_msg(has("overflow"), "%s", gar_errmsg());
}
END_TEST

/* ---------------------------------------------------------------- STAR */

START_TEST(test_star_buffer_matches_file)
{
    size_t len;
    const char *path = test_data("relion-sim/particles.star");
    char *text = (char *)test_slurp(path, &len);
    gar_star *a = NULL, *b = NULL;
    const gar_star_table *ta, *tb;
    size_t rows = 0;
    ck_assert_int_eq(gar_star_read(path, &a), GAR_OK);
    ck_assert_msg(gar_star_parse_buffer(text, len, path, &b) == GAR_OK, "%s", gar_errmsg());
    free(text); /* the handle keeps its own copy */
    ck_assert_uint_eq(gar_star_nblocks(a), 2);
    ck_assert_uint_eq(gar_star_nblocks(b), 2);
    ck_assert_str_eq(gar_star_block_name(gar_star_block_at(b, 0)), "optics");
    ck_assert_ptr_null(gar_star_block_at(b, 2));
    ta = gar_star_block(a, "particles");
    tb = gar_star_block(b, "particles");
    ck_assert_uint_eq(gar_star_rows(ta), gar_star_rows(tb));
    for (size_t r = 0; r < gar_star_rows(ta); r += 37)
        for (int c = 0; c < gar_star_ncols(ta); c++)
            ck_assert_str_eq(gar_star_cell(ta, r, c), gar_star_cell(tb, r, c));
    ck_assert_msg(gar_import_check_star(b, &rows) == GAR_OK, "%s", gar_errmsg());
    ck_assert_uint_eq(rows, 400);
    gar_star_destroy(&a);
    gar_star_destroy(&b);
}
END_TEST

START_TEST(test_star_buffer_errors)
{
    static const char nul[] = "data_x\nloop_\n_a\n1\0002\n";
    static const char optics_only[] =
        "data_optics\nloop_\n_rlnOpticsGroup\n_rlnImagePixelSize\n_rlnVoltage\n"
        "_rlnSphericalAberration\n_rlnAmplitudeContrast\n1 1.0 300 2.7 0.1\n";
    gar_star *s = (gar_star *)&s;
    ck_assert_int_eq(gar_star_parse_buffer(nul, sizeof nul - 1, "mem.star", &s), GAR_ERR_DATA);
    ck_assert_ptr_null(s);
    ck_assert_msg(has("mem.star:4: NUL byte"), "%s", gar_errmsg());
    ck_assert_int_eq(gar_star_parse_buffer("", 0, "empty.star", &s), GAR_ERR_DATA);
    ck_assert_msg(has("empty.star: no data_ block"), "%s", gar_errmsg());
    ck_assert_int_eq(gar_star_parse_buffer(optics_only, sizeof optics_only - 1, "o.star", &s), GAR_OK);
    ck_assert_int_eq(gar_import_check_star(s, NULL), GAR_ERR_DATA);
    ck_assert_msg(has("o.star: no data_particles block"), "%s", gar_errmsg());
    gar_star_destroy(&s);
}
END_TEST

START_TEST(test_import_checks_rows_first)
{
    /* A bad value in the last row is found before any image is opened
     * (the image file does not exist). */
    static const char text[] =
        "data_optics\nloop_\n_rlnOpticsGroup\n_rlnImagePixelSize\n_rlnVoltage\n"
        "_rlnSphericalAberration\n_rlnAmplitudeContrast\n1 1.0 300 2.7 0.1\n"
        "2 1.0 300 2.7 0.1\n1 1.0 200 2.7 0.1\n\n"
        "data_particles\nloop_\n_rlnImageName\n_rlnDefocusU\n1@none.mrcs 10000\n";
    gar_star *s = NULL;
    ck_assert_int_eq(gar_star_parse_buffer(text, sizeof text - 1, "g.star", &s), GAR_OK);
    ck_assert_int_eq(gar_import_check_star(s, NULL), GAR_ERR_DATA);
    ck_assert_msg(has("g.star:10: rlnOpticsGroup 1 appears twice in data_optics (first at line 8)"),
                  "%s", gar_errmsg());
    gar_star_destroy(&s);
}
END_TEST

/* ---------------------------------------------------------------- parameters */

START_TEST(test_params_buffer)
{
    static const char text[] = "[input]\nstacks = a.h5 b\\ c.h5\n[output]\ndir = out\n";
    gar_params *p = NULL;
    const char *dir;
    ck_assert_msg(gar_params_load_buffer(text, sizeof text - 1, "mem.ini", "/base", &p) == GAR_OK,
                  "%s", gar_errmsg());
    ck_assert_int_eq(gar_params_get_path(p, "output", "dir", &dir), GAR_OK);
    ck_assert_str_eq(dir, "/base/out");
    ck_assert_str_eq(gar_params_origin(p, "output", "dir"), "mem.ini:4");
    gar_params_destroy(&p);
    ck_assert_int_eq(gar_params_load_buffer("[output]\ndri = x\n", 17, "mem.ini", "/base", &p),
                     GAR_ERR_USAGE);
    ck_assert_ptr_null(p);
    ck_assert_msg(has("mem.ini:2: [output] dri: unknown key (did you mean 'dir'?)"), "%s", gar_errmsg());
    ck_assert_int_eq(gar_params_load_buffer("\211HDF\r\n\032\n", 8, "s.h5", "/base", &p), GAR_ERR_USAGE);
    ck_assert_msg(has("s.h5: an HDF5 file, expected a parameter file"), "%s", gar_errmsg());
}
END_TEST

static char *written(const gar_params *p)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(gar_params_write(p, f), GAR_OK);
    fclose(f);
    return text;
}

START_TEST(test_params_escaped_space_round_trip)
{
    /* Found by fuzzing: a list entry ending in an escaped space ("a\ ") was
     * written at the end of a line, where reading it back trims the space. */
    static const char text[] = "[input]\nstacks = a\\  b.h5\n[output]\ndir = out\n";
    gar_params *p = NULL, *q = NULL;
    char *one, *two;
    ck_assert_int_eq(gar_params_load_buffer(text, sizeof text - 1, "r.ini", "/base", &p), GAR_OK);
    one = written(p);
    ck_assert_msg(strstr(one, "stacks = /base/a\\  /base/b.h5\n") != NULL, "%s", one);
    ck_assert_int_eq(gar_params_load_buffer(one, strlen(one), "r.ini", "/base", &q), GAR_OK);
    two = written(q);
    ck_assert_str_eq(one, two);
    free(one);
    free(two);
    gar_params_destroy(&p);
    gar_params_destroy(&q);
}
END_TEST

START_TEST(test_params_semicolon_value_round_trip)
{
    /* Found by fuzzing: "symmetry =;x" holds the value ";x", which was
     * written back as "symmetry = ;x", a key with a comment. */
    static const char text[] = "[reconstruct]\nsymmetry =;x\n";
    gar_params *p = NULL, *q = NULL;
    const char *sym;
    char *one;
    ck_assert_int_eq(gar_params_load_buffer(text, sizeof text - 1, "s.ini", "/base", &p), GAR_OK);
    one = written(p);
    ck_assert_msg(strstr(one, "symmetry =;x\n") != NULL, "%s", one);
    ck_assert_msg(gar_params_load_buffer(one, strlen(one), "s.ini", "/base", &q) == GAR_OK, "%s",
                  gar_errmsg());
    ck_assert_int_eq(gar_params_get_string(q, "reconstruct", "symmetry", &sym), GAR_OK);
    ck_assert_str_eq(sym, ";x");
    free(one);
    gar_params_destroy(&p);
    gar_params_destroy(&q);
}
END_TEST

/* ---------------------------------------------------------------- HDF5 stacks */

/* A valid stack of n particles of box 8 at path (pose + CTF columns). */
static void write_stack(const char *path, size_t n, double nan_defocus_at)
{
    gar_optics o = {1, "og", 2.0, 300.0, 2.7, 0.1, 8};
    gar_stack_writer *w = NULL;
    float images[4 * 64];
    gar_particle meta[4];
    memset(meta, 0, sizeof meta);
    for (size_t i = 0; i < n; i++) {
        meta[i].half_set = 1 + (int)(i % 2);
        meta[i].optics_group = 1;
        meta[i].defocus_u_A = meta[i].defocus_v_A = 12000.0;
    }
    for (size_t k = 0; k < sizeof images / sizeof *images; k++)
        images[k] = (float)k;
    ck_assert_int_eq(gar_stack_writer_create(path, 8, &o, 1, GAR_COL_POSE | GAR_COL_CTF, "t", &w), GAR_OK);
    ck_assert_int_eq(gar_stack_writer_append(w, images, meta, n), GAR_OK);
    ck_assert_int_eq(gar_stack_writer_commit(&w), GAR_OK);
    if (nan_defocus_at >= 0) {
        double nan = NAN;
        hsize_t start = (hsize_t)nan_defocus_at, count = 1;
        hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        hid_t d = H5Dopen2(f, "/particles/defocus_u_A", H5P_DEFAULT);
        hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &count, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL);
        ck_assert_int_ge(H5Dwrite(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, &nan), 0);
        H5Sclose(ms);
        H5Sclose(fs);
        H5Dclose(d);
        H5Fclose(f);
    }
}

START_TEST(test_stack_image_matches_file)
{
    const char *path = test_tmpfile(TAG, "s.h5");
    gar_stack *a = NULL, *b = NULL;
    unsigned char *image;
    size_t len;
    float fa[4 * 64], fb[4 * 64];
    gar_particle ma[4], mb[4];
    write_stack(path, 4, -1);
    image = test_slurp(path, &len);
    ck_assert_int_eq(gar_stack_open(path, &a), GAR_OK);
    ck_assert_msg(gar_stack_open_image(image, len, "mem.h5", &b) == GAR_OK, "%s", gar_errmsg());
    free(image); /* the stack keeps its own copy */
    ck_assert_uint_eq(gar_stack_count(b), 4);
    ck_assert_uint_eq(gar_stack_box(b), gar_stack_box(a));
    ck_assert_uint_eq(gar_stack_columns(b), gar_stack_columns(a));
    ck_assert_int_eq(gar_stack_read_images(a, 0, 4, fa), GAR_OK);
    ck_assert_int_eq(gar_stack_read_images(b, 0, 4, fb), GAR_OK);
    ck_assert_int_eq(memcmp(fa, fb, sizeof fa), 0);
    ck_assert_int_eq(gar_stack_read_meta(a, 0, 4, ma), GAR_OK);
    ck_assert_int_eq(gar_stack_read_meta(b, 0, 4, mb), GAR_OK);
    ck_assert_int_eq(memcmp(ma, mb, sizeof ma), 0);
    ck_assert_str_eq(gar_stack_path(b), "mem.h5");
    gar_stack_close(&a);
    gar_stack_close(&b);
    unlink(path);
}
END_TEST

START_TEST(test_stack_two_images_at_once)
{
    /* Two images open together are two files, not one shared by name. */
    const char *p2 = test_tmpfile(TAG, "two.h5"), *p3 = test_tmpfile(TAG, "three.h5");
    unsigned char *i2, *i3;
    size_t l2, l3;
    gar_stack *a = NULL, *b = NULL;
    write_stack(p2, 2, -1);
    write_stack(p3, 3, -1);
    i2 = test_slurp(p2, &l2);
    i3 = test_slurp(p3, &l3);
    ck_assert_int_eq(gar_stack_open_image(i2, l2, "two.h5", &a), GAR_OK);
    ck_assert_int_eq(gar_stack_open_image(i3, l3, "three.h5", &b), GAR_OK);
    ck_assert_uint_eq(gar_stack_count(a), 2);
    ck_assert_uint_eq(gar_stack_count(b), 3);
    gar_stack_close(&a);
    gar_stack_close(&b);
    free(i2);
    free(i3);
    unlink(p2);
    unlink(p3);
}
END_TEST

START_TEST(test_stack_image_not_hdf5)
{
    gar_stack *s = (gar_stack *)&s;
    ck_assert_int_eq(gar_stack_open_image("garbage", 7, "g.h5", &s), GAR_ERR_DATA);
    ck_assert_ptr_null(s);
    ck_assert_msg(has("g.h5: not a readable HDF5 file"), "%s", gar_errmsg());
    ck_assert_int_eq(gar_stack_open_image("\211HDF\r\n\032\nshort", 13, "t.h5", &s), GAR_ERR_DATA);
    ck_assert_msg(has("t.h5: not a readable HDF5 file"), "%s", gar_errmsg());
}
END_TEST

START_TEST(test_stack_declared_but_unwritten)
{
    /* 10^9 images declared by extending the datasets, none written: refused
     * at open, before anything is sized by the count. */
    const char *path = test_tmpfile(TAG, "huge.h5");
    static const char *const names[] = {"images", "half_set", "optics_group", "rot_deg", "tilt_deg",
                                        "psi_deg", "defocus_u_A", "defocus_v_A", "defocus_angle_deg"};
    gar_stack *s = NULL;
    hid_t f, g;
    write_stack(path, 4, -1);
    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    g = H5Gopen2(f, "particles", H5P_DEFAULT);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        hsize_t dims[3] = {1000000000, 8, 8};
        hid_t d = H5Dopen2(g, names[i], H5P_DEFAULT);
        ck_assert_int_ge(H5Dset_extent(d, dims), 0);
        H5Dclose(d);
    }
    H5Gclose(g);
    H5Fclose(f);
    ck_assert_int_eq(gar_stack_open(path, &s), GAR_ERR_DATA);
    ck_assert_msg(has("/particles/images: 1000000000 images of 8 x 8 need 256000000000 bytes"),
                  "%s", gar_errmsg());
    unlink(path);
}
END_TEST

START_TEST(test_stack_nonfinite_metadata)
{
    const char *path = test_tmpfile(TAG, "nan.h5");
    gar_stack *s = NULL;
    gar_particle m[4];
    write_stack(path, 4, 3);
    ck_assert_int_eq(gar_stack_open(path, &s), GAR_OK); /* found when read */
    ck_assert_int_eq(gar_stack_read_meta(s, 0, 3, m), GAR_OK);
    ck_assert_int_eq(gar_stack_read_meta(s, 1, 3, m), GAR_ERR_DATA);
    ck_assert_msg(has("/particles/defocus_u_A: particle 3 has nan, expected a finite value"), "%s",
                  gar_errmsg());
    gar_stack_close(&s);
    unlink(path);
}
END_TEST

int main(void)
{
    TCase *tc = TEST_CASE("in memory", 60,
                          test_mrc_validate_matches_open,
                          test_mrc_validate_huge_claims,
                          test_star_buffer_matches_file,
                          test_star_buffer_errors,
                          test_import_checks_rows_first,
                          test_params_buffer,
                          test_params_escaped_space_round_trip,
                          test_params_semicolon_value_round_trip,
                          test_stack_image_matches_file,
                          test_stack_two_images_at_once,
                          test_stack_image_not_hdf5,
                          test_stack_declared_but_unwritten,
                          test_stack_nonfinite_metadata);
    return test_run_suite(test_suite("hardening", tc, NULL));
}
