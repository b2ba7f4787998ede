/* Tests for the HDF5 particle stack (hdf5io/gar_stack.c, docs/FORMAT.md).
 *
 * Bad files are made by writing a good stack and then changing it with the
 * HDF5 API, so each test breaks exactly one rule; only the corrupt-chunk test
 * touches bytes, at an address HDF5 itself reports. */
#include "gar_stack.h"

#include <check.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define TAG "stack"
#define BOX 8
#define PIX (BOX * BOX)

#define ck_assert_msg_has(fragment)                                                              \
    ck_assert_msg(strstr(gar_errmsg(), (fragment)) != NULL, "message \"%s\" lacks \"%s\"",      \
                  gar_errmsg(), (fragment))

/* ------------------------------------------------------------------ fixtures */

static void make_optics(gar_optics o[2], int32_t box)
{
    memset(o, 0, 2 * sizeof *o);
    o[0].group = 1;
    snprintf(o[0].name, sizeof o[0].name, "opticsGroup1");
    o[0].pixel_size_A = 1.06;
    o[0].voltage_kV = 300;
    o[0].cs_mm = 2.7;
    o[0].amplitude_contrast = 0.1;
    o[0].image_size = box;
    o[1] = o[0];
    o[1].group = 7;
    snprintf(o[1].name, sizeof o[1].name, "a name of exactly sixty-three characters, the longest allowed!");
    o[1].voltage_kV = 200;
    o[1].cs_mm = 0.01;
    o[1].amplitude_contrast = 0.07;
}

/* Pixel values that differ per particle and pixel, with signs and fractions,
 * so a misplaced or converted value cannot compare equal. */
static float pixel_value(size_t particle, size_t k)
{
    uint32_t h = (uint32_t)(particle * 2654435761u) ^ (uint32_t)(k * 40503u + 0x9e3779b9u);
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    return ((float)(h % 100000u) - 50000.0f) / 7919.0f;
}

static void make_images(float *buf, size_t first, size_t count, size_t box)
{
    for (size_t i = 0; i < count; i++)
        for (size_t k = 0; k < box * box; k++)
            buf[i * box * box + k] = pixel_value(first + i, k);
}

static gar_particle particle_meta(size_t i)
{
    gar_particle p;
    p.rot_deg = 10.25 + 1.5 * (double)i;
    p.tilt_deg = 0.75 * (double)i + 1.0 / 3.0;
    p.psi_deg = -2.5 * (double)i;
    p.origin_x_A = 0.5 * (double)i - 1.0;
    p.origin_y_A = -0.25 * (double)i;
    p.defocus_u_A = 15000.0 + 10.125 * (double)i;
    p.defocus_v_A = 14800.0 + 9.875 * (double)i;
    p.defocus_angle_deg = 3.5 * (double)i;
    p.phase_shift_deg = 0.1 * (double)i;
    p.half_set = 1 + (int32_t)(i % 2);
    p.optics_group = (i / 3) % 2 ? 7 : 1;
    return p;
}

static void make_meta(gar_particle *p, size_t first, size_t count)
{
    for (size_t i = 0; i < count; i++)
        p[i] = particle_meta(first + i);
}

/* A stack of sum(counts) particles written in len(counts) appends. */
static void write_stack(const char *path, unsigned columns, const size_t *counts, size_t nappends)
{
    gar_optics o[2];
    gar_stack_writer *w = NULL;
    size_t first = 0;
    make_optics(o, BOX);
    ck_assert_msg(gar_stack_writer_create(path, BOX, o, 2, columns, "check_stack --test", &w) ==
                      GAR_OK,
                  "%s", gar_errmsg());
    for (size_t a = 0; a < nappends; a++) {
        float *img = malloc(counts[a] * PIX * sizeof *img + 1);
        gar_particle *meta = malloc(counts[a] * sizeof *meta + 1);
        ck_assert(img && meta);
        make_images(img, first, counts[a], BOX);
        make_meta(meta, first, counts[a]);
        ck_assert_msg(gar_stack_writer_append(w, img, meta, counts[a]) == GAR_OK, "%s",
                      gar_errmsg());
        first += counts[a];
        free(img);
        free(meta);
    }
    ck_assert_msg(gar_stack_writer_commit(&w) == GAR_OK, "%s", gar_errmsg());
    ck_assert_ptr_null(w);
}

static const size_t twelve[3] = {3, 5, 4};

static const char *good_stack(const char *name)
{
    const char *path = test_tmpfile(TAG, name);
    write_stack(path, GAR_COL_POSE | GAR_COL_ORIGIN | GAR_COL_CTF | GAR_COL_PHASE_SHIFT, twelve, 3);
    return path;
}

/* Opening must fail with `st` and a message naming the file and `fragment`. */
static void expect_open_error(const char *path, gar_status st, const char *fragment)
{
    gar_stack *s = NULL;
    gar_status got = gar_stack_open(path, &s);
    ck_assert_msg(got == st, "status %d (%s), expected %d; message \"%s\"", got,
                  gar_status_name(got), st, gar_errmsg());
    ck_assert_ptr_null(s);
    ck_assert_msg_has(path);
    ck_assert_msg_has(fragment);
}

/* After each test: every HDF5 id closed (ours on every path, the tests' own
 * too), then the scratch files removed. */
static void teardown(void)
{
    const char *dir = test_tmpdir(TAG);
    DIR *d = opendir(dir);
    struct dirent *e;
    char file[PATH_MAX];
    ssize_t open_ids = H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL);
    ck_assert_msg(open_ids == 0, "%zd HDF5 files or objects left open", open_ids);
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (snprintf(file, sizeof file, "%s/%s", dir, e->d_name) < (int)sizeof file)
            unlink(file);
    }
    closedir(d);
    rmdir(dir);
}

/* ------------------------------------------------------- HDF5 file surgery */

static hid_t h5_open_rw(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_msg(f >= 0, "cannot reopen %s", path);
    return f;
}

static void h5_delete(const char *path, const char *name)
{
    hid_t f = h5_open_rw(path);
    ck_assert(H5Ldelete(f, name, H5P_DEFAULT) >= 0);
    ck_assert(H5Fclose(f) >= 0);
}

/* Replace dataset `name` with a zero-filled one of the given type and shape. */
static void h5_replace(const char *path, const char *name, hid_t type, int rank,
                       const hsize_t *dims)
{
    hid_t f = h5_open_rw(path), space, d;
    H5Ldelete(f, name, H5P_DEFAULT);
    space = H5Screate_simple(rank, dims, NULL);
    d = H5Dcreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(space >= 0 && d >= 0);
    H5Dclose(d);
    H5Sclose(space);
    ck_assert(H5Fclose(f) >= 0);
}

static void h5_write_int(const char *path, const char *name, hsize_t index, int32_t value)
{
    hid_t f = h5_open_rw(path), d, fs, ms;
    hsize_t one = 1;
    d = H5Dopen2(f, name, H5P_DEFAULT);
    fs = H5Dget_space(d);
    ms = H5Screate_simple(1, &one, NULL);
    ck_assert(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &index, NULL, &one, NULL) >= 0);
    ck_assert(H5Dwrite(d, H5T_NATIVE_INT32, ms, fs, H5P_DEFAULT, &value) >= 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    ck_assert(H5Fclose(f) >= 0);
}

static void h5_write_double(const char *path, const char *name, hsize_t index, double value)
{
    hid_t f = h5_open_rw(path), d, fs, ms;
    hsize_t one = 1;
    d = H5Dopen2(f, name, H5P_DEFAULT);
    fs = H5Dget_space(d);
    ms = H5Screate_simple(1, &one, NULL);
    ck_assert(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &index, NULL, &one, NULL) >= 0);
    ck_assert(H5Dwrite(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, &value) >= 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    ck_assert(H5Fclose(f) >= 0);
}

static void h5_set_extent(const char *path, const char *name, hsize_t len)
{
    hid_t f = h5_open_rw(path), d = H5Dopen2(f, name, H5P_DEFAULT);
    ck_assert(d >= 0);
    ck_assert(H5Dset_extent(d, &len) >= 0);
    H5Dclose(d);
    ck_assert(H5Fclose(f) >= 0);
}

static void h5_root_int_attr(hid_t f, const char *name, hid_t type, long long value)
{
    hid_t sp = H5Screate(H5S_SCALAR), a;
    H5Adelete(f, name);
    a = H5Acreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(a >= 0);
    ck_assert(H5Awrite(a, H5T_NATIVE_LLONG, &value) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
}

/* A variable-length UTF-8 string attribute, as h5py writes a Python str. */
static void h5_vlen_str_attr(hid_t loc, const char *name, const char *value)
{
    hid_t sp = H5Screate(H5S_SCALAR), t = H5Tcopy(H5T_C_S1), a;
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    H5Adelete(loc, name);
    a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(a >= 0);
    ck_assert(H5Awrite(a, t, &value) >= 0);
    H5Aclose(a);
    H5Tclose(t);
    H5Sclose(sp);
}

static void copy_file(const char *from, const char *to, double fraction)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char *buf;
    long size, keep;
    ck_assert(in && out);
    fseek(in, 0, SEEK_END);
    size = ftell(in);
    rewind(in);
    buf = malloc((size_t)size);
    ck_assert(buf != NULL);
    ck_assert(fread(buf, 1, (size_t)size, in) == (size_t)size);
    keep = (long)((double)size * fraction);
    ck_assert(fwrite(buf, 1, (size_t)keep, out) == (size_t)keep);
    free(buf);
    fclose(in);
    ck_assert(fclose(out) == 0);
}

/* -------------------------------------------------------------- round trips */

static void check_meta_equal(const gar_particle *got, size_t index, unsigned columns)
{
    gar_particle want = particle_meta(index);
    if (!(columns & GAR_COL_POSE))
        want.rot_deg = want.tilt_deg = want.psi_deg = 0;
    if (!(columns & GAR_COL_ORIGIN))
        want.origin_x_A = want.origin_y_A = 0;
    if (!(columns & GAR_COL_CTF))
        want.defocus_u_A = want.defocus_v_A = want.defocus_angle_deg = 0;
    if (!(columns & GAR_COL_PHASE_SHIFT))
        want.phase_shift_deg = 0;
    /* Exact: float64 in, float64 out. */
    ck_assert_msg(got->rot_deg == want.rot_deg && got->tilt_deg == want.tilt_deg &&
                      got->psi_deg == want.psi_deg,
                  "particle %zu: pose differs", index);
    ck_assert_msg(got->origin_x_A == want.origin_x_A && got->origin_y_A == want.origin_y_A,
                  "particle %zu: origin differs", index);
    ck_assert_msg(got->defocus_u_A == want.defocus_u_A && got->defocus_v_A == want.defocus_v_A &&
                      got->defocus_angle_deg == want.defocus_angle_deg,
                  "particle %zu: CTF differs", index);
    ck_assert_msg(got->phase_shift_deg == want.phase_shift_deg, "particle %zu: phase shift",
                  index);
    ck_assert_int_eq(got->half_set, want.half_set);
    ck_assert_int_eq(got->optics_group, want.optics_group);
}

static void check_images_equal(const float *got, size_t first, size_t count)
{
    float *want = malloc(count * PIX * sizeof *want + 1);
    ck_assert(want != NULL);
    make_images(want, first, count, BOX);
    ck_assert_msg(memcmp(got, want, count * PIX * sizeof *want) == 0,
                  "images [%zu, %zu) differ", first, first + count);
    free(want);
}

START_TEST(test_round_trip)
{
    const unsigned all = GAR_COL_POSE | GAR_COL_ORIGIN | GAR_COL_CTF | GAR_COL_PHASE_SHIFT;
    const char *path = good_stack("round.h5");
    gar_stack *s = NULL;
    gar_optics want[2];
    const gar_optics *o;
    size_t n_optics = 0;
    float img[12 * PIX];
    gar_particle meta[12];

    ck_assert_msg(gar_stack_open(path, &s) == GAR_OK, "%s", gar_errmsg());
    ck_assert_str_eq(gar_stack_path(s), path);
    ck_assert_uint_eq(gar_stack_count(s), 12);
    ck_assert_uint_eq(gar_stack_box(s), BOX);
    ck_assert_uint_eq(gar_stack_columns(s), all);

    make_optics(want, BOX);
    o = gar_stack_optics(s, &n_optics);
    ck_assert_uint_eq(n_optics, 2);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_int_eq(o[i].group, want[i].group);
        ck_assert_str_eq(o[i].name, want[i].name);
        ck_assert(o[i].pixel_size_A == want[i].pixel_size_A);
        ck_assert(o[i].voltage_kV == want[i].voltage_kV);
        ck_assert(o[i].cs_mm == want[i].cs_mm);
        ck_assert(o[i].amplitude_contrast == want[i].amplitude_contrast);
        ck_assert_int_eq(o[i].image_size, want[i].image_size);
    }
    ck_assert(gar_stack_pixel_size(s) == 1.06);
    ck_assert_ptr_eq(gar_stack_optics_group(s, 7), &o[1]);
    ck_assert_ptr_eq(gar_stack_optics_group(s, 1), &o[0]);
    ck_assert_ptr_null(gar_stack_optics_group(s, 2));

    ck_assert_msg(gar_stack_read_images(s, 0, 12, img) == GAR_OK, "%s", gar_errmsg());
    check_images_equal(img, 0, 12);
    ck_assert_msg(gar_stack_read_meta(s, 0, 12, meta) == GAR_OK, "%s", gar_errmsg());
    for (size_t i = 0; i < 12; i++)
        check_meta_equal(&meta[i], i, all);
    gar_stack_close(&s);
    ck_assert_ptr_null(s);
    gar_stack_close(&s); /* NULL-safe */
}
END_TEST

START_TEST(test_file_layout)
{
    /* What other tools see: the attributes, dtypes, chunking and filters
     * docs/FORMAT.md promises. */
    const char *path = good_stack("layout.h5");
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d, dcpl, t, a, at;
    hsize_t chunk[3];
    int version = 0;
    char buf[64];
    ck_assert(f >= 0);
    a = H5Aopen(f, "format", H5P_DEFAULT);
    at = H5Aget_type(a);
    ck_assert_int_eq(H5Tget_class(at), H5T_STRING);
    ck_assert_int_eq(H5Tis_variable_str(at), 0);
    memset(buf, 0, sizeof buf);
    ck_assert(H5Aread(a, at, buf) >= 0);
    ck_assert_str_eq(buf, "garner-stack");
    H5Tclose(at);
    H5Aclose(a);
    a = H5Aopen(f, "format_version", H5P_DEFAULT);
    at = H5Aget_type(a);
    ck_assert(H5Tequal(at, H5T_STD_I32LE) > 0);
    ck_assert(H5Aread(a, H5T_NATIVE_INT, &version) >= 0);
    ck_assert_int_eq(version, 1);
    H5Tclose(at);
    H5Aclose(a);
    ck_assert(H5Aexists(f, "creator") > 0 && H5Aexists(f, "created") > 0 &&
              H5Aexists(f, "provenance") > 0);

    d = H5Dopen2(f, "/particles/images", H5P_DEFAULT);
    t = H5Dget_type(d);
    ck_assert(H5Tequal(t, H5T_IEEE_F32LE) > 0);
    dcpl = H5Dget_create_plist(d);
    ck_assert_int_eq(H5Pget_layout(dcpl), H5D_CHUNKED);
    ck_assert_int_eq(H5Pget_chunk(dcpl, 3, chunk), 3);
    ck_assert(chunk[0] == 1 && chunk[1] == BOX && chunk[2] == BOX);
    ck_assert_int_eq(H5Pget_nfilters(dcpl), 1);
    ck_assert(H5Pget_filter_by_id2(dcpl, H5Z_FILTER_FLETCHER32, NULL, NULL, NULL, 0, NULL, NULL) >=
              0);
    H5Pclose(dcpl);
    H5Tclose(t);
    H5Dclose(d);

    d = H5Dopen2(f, "/particles/defocus_u_A", H5P_DEFAULT);
    t = H5Dget_type(d);
    ck_assert(H5Tequal(t, H5T_IEEE_F64LE) > 0);
    a = H5Aopen(d, "star_label", H5P_DEFAULT);
    at = H5Aget_type(a);
    memset(buf, 0, sizeof buf);
    ck_assert(H5Tget_size(at) < sizeof buf);
    ck_assert(H5Aread(a, at, buf) >= 0);
    ck_assert_str_eq(buf, "rlnDefocusU");
    H5Tclose(at);
    H5Aclose(a);
    dcpl = H5Dget_create_plist(d);
    ck_assert(H5Pget_filter_by_id2(dcpl, H5Z_FILTER_FLETCHER32, NULL, NULL, NULL, 0, NULL, NULL) >=
              0);
    H5Pclose(dcpl);
    H5Tclose(t);
    H5Dclose(d);

    d = H5Dopen2(f, "/particles/half_set", H5P_DEFAULT);
    t = H5Dget_type(d);
    ck_assert(H5Tequal(t, H5T_STD_I32LE) > 0);
    H5Tclose(t);
    H5Dclose(d);
    ck_assert(H5Fclose(f) >= 0);
}
END_TEST

START_TEST(test_sub_ranges)
{
    const char *path = good_stack("ranges.h5");
    gar_stack *s = NULL;
    float img[12 * PIX];
    gar_particle meta[12];
    ck_assert_msg(gar_stack_open(path, &s) == GAR_OK, "%s", gar_errmsg());

    /* Ranges that cross append boundaries (3 | 5 | 4) and the ends. */
    ck_assert(gar_stack_read_images(s, 2, 5, img) == GAR_OK);
    check_images_equal(img, 2, 5);
    ck_assert(gar_stack_read_images(s, 11, 1, img) == GAR_OK);
    check_images_equal(img, 11, 1);
    ck_assert(gar_stack_read_images(s, 0, 1, img) == GAR_OK);
    check_images_equal(img, 0, 1);
    ck_assert(gar_stack_read_meta(s, 7, 5, meta) == GAR_OK);
    for (size_t i = 0; i < 5; i++)
        check_meta_equal(&meta[i], 7 + i, gar_stack_columns(s));
    ck_assert(gar_stack_read_images(s, 12, 0, img) == GAR_OK);
    ck_assert(gar_stack_read_meta(s, 12, 0, meta) == GAR_OK);

    ck_assert_int_eq(gar_stack_read_images(s, 10, 3, img), GAR_ERR_USAGE);
    ck_assert_msg_has("[10, 13)");
    ck_assert_msg_has("[0, 12)");
    ck_assert_int_eq(gar_stack_read_meta(s, 13, 0, meta), GAR_ERR_USAGE);
    ck_assert_msg_has("[13, 13)");
    ck_assert_int_eq(gar_stack_read_images(s, SIZE_MAX, 2, img), GAR_ERR_USAGE);
    gar_stack_close(&s);
}
END_TEST

START_TEST(test_mandatory_columns_only)
{
    const char *path = test_tmpfile(TAG, "bare.h5");
    const size_t counts[1] = {6};
    gar_stack *s = NULL;
    gar_particle meta[6];
    float img[6 * PIX];
    hid_t f;
    write_stack(path, 0, counts, 1);

    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert(f >= 0);
    ck_assert_int_eq(H5Lexists(f, "/particles/rot_deg", H5P_DEFAULT), 0);
    ck_assert_int_eq(H5Lexists(f, "/particles/defocus_u_A", H5P_DEFAULT), 0);
    ck_assert(H5Lexists(f, "/particles/half_set", H5P_DEFAULT) > 0);
    H5Fclose(f);

    ck_assert_msg(gar_stack_open(path, &s) == GAR_OK, "%s", gar_errmsg());
    ck_assert_uint_eq(gar_stack_columns(s), 0);
    ck_assert_uint_eq(gar_stack_count(s), 6);
    /* Poison the output: absent columns must come back as zeros. */
    memset(meta, 0x7f, sizeof meta);
    ck_assert(gar_stack_read_meta(s, 0, 6, meta) == GAR_OK);
    for (size_t i = 0; i < 6; i++)
        check_meta_equal(&meta[i], i, 0);
    ck_assert(gar_stack_read_images(s, 0, 6, img) == GAR_OK);
    check_images_equal(img, 0, 6);
    gar_stack_close(&s);
}
END_TEST

START_TEST(test_column_subset)
{
    const char *path = test_tmpfile(TAG, "ctf.h5");
    const size_t counts[2] = {2, 3};
    gar_stack *s = NULL;
    gar_particle meta[5];
    write_stack(path, GAR_COL_CTF | GAR_COL_ORIGIN, counts, 2);
    ck_assert_msg(gar_stack_open(path, &s) == GAR_OK, "%s", gar_errmsg());
    ck_assert_uint_eq(gar_stack_columns(s), GAR_COL_CTF | GAR_COL_ORIGIN);
    ck_assert(gar_stack_read_meta(s, 0, 5, meta) == GAR_OK);
    for (size_t i = 0; i < 5; i++)
        check_meta_equal(&meta[i], i, GAR_COL_CTF | GAR_COL_ORIGIN);
    gar_stack_close(&s);
}
END_TEST

START_TEST(test_empty_stack)
{
    const char *path = test_tmpfile(TAG, "empty.h5");
    gar_stack *s = NULL;
    write_stack(path, GAR_COL_POSE, NULL, 0);
    ck_assert_msg(gar_stack_open(path, &s) == GAR_OK, "%s", gar_errmsg());
    ck_assert_uint_eq(gar_stack_count(s), 0);
    ck_assert_uint_eq(gar_stack_columns(s), GAR_COL_POSE);
    gar_stack_close(&s);
}
END_TEST

/* ---------------------------------------------------------- temp and commit */

START_TEST(test_temp_file_lifecycle)
{
    const char *dir = test_tmpdir(TAG);
    const char *path = test_tmpfile(TAG, "life.h5");
    gar_optics o[2];
    gar_stack_writer *w = NULL;
    float img[PIX];
    gar_particle p = particle_meta(0);
    make_optics(o, BOX);
    make_images(img, 0, 1, BOX);

    ck_assert(gar_stack_writer_create(path, BOX, o, 2, GAR_COL_POSE, "", &w) == GAR_OK);
    ck_assert_int_eq(test_count_prefix(dir, "life.h5.tmp-"), 1);
    ck_assert(!test_file_exists(path));
    ck_assert(gar_stack_writer_append(w, img, &p, 1) == GAR_OK);
    ck_assert(gar_stack_writer_commit(&w) == GAR_OK);
    ck_assert_ptr_null(w);
    ck_assert_int_eq(test_count_prefix(dir, "life.h5.tmp-"), 0);
    ck_assert(test_file_exists(path));

    ck_assert(gar_stack_writer_create(path, BOX, o, 2, 0, "", &w) == GAR_OK);
    ck_assert(gar_stack_writer_append(w, img, &p, 1) == GAR_OK);
    ck_assert_int_eq(test_count_prefix(dir, "life.h5.tmp-"), 1);
    gar_stack_writer_abort(&w);
    ck_assert_ptr_null(w);
    ck_assert_int_eq(test_count_prefix(dir, "life.h5.tmp-"), 0);
    gar_stack_writer_abort(&w); /* NULL-safe */
    gar_stack_writer_abort(NULL);

    /* The committed stack survived the aborted rewrite. */
    {
        gar_stack *s = NULL;
        ck_assert(gar_stack_open(path, &s) == GAR_OK);
        ck_assert_uint_eq(gar_stack_columns(s), GAR_COL_POSE);
        gar_stack_close(&s);
    }
}
END_TEST

START_TEST(test_replace_only_at_commit)
{
    const char *path = test_tmpfile(TAG, "replace.h5");
    const size_t two[1] = {2};
    gar_optics o[2];
    gar_stack_writer *w = NULL;
    gar_stack *s = NULL;
    float img[5 * PIX];
    gar_particle meta[5];
    write_stack(path, 0, two, 1);
    make_optics(o, BOX);
    make_images(img, 0, 5, BOX);
    make_meta(meta, 0, 5);

    ck_assert(gar_stack_writer_create(path, BOX, o, 2, GAR_COL_POSE, "", &w) == GAR_OK);
    ck_assert(gar_stack_writer_append(w, img, meta, 5) == GAR_OK);
    ck_assert(gar_stack_open(path, &s) == GAR_OK);
    ck_assert_uint_eq(gar_stack_count(s), 2);
    gar_stack_close(&s);
    ck_assert(gar_stack_writer_commit(&w) == GAR_OK);
    ck_assert(gar_stack_open(path, &s) == GAR_OK);
    ck_assert_uint_eq(gar_stack_count(s), 5);
    gar_stack_close(&s);
}
END_TEST

START_TEST(test_commit_into_missing_folder)
{
    const char *path = test_tmpfile(TAG, "no-such-folder/out.h5");
    gar_optics o[2];
    gar_stack_writer *w = NULL;
    make_optics(o, BOX);
    ck_assert_int_eq(gar_stack_writer_create(path, BOX, o, 2, 0, "", &w), GAR_ERR_OUTPUT);
    ck_assert_ptr_null(w);
    ck_assert_msg_has("no-such-folder/out.h5");
}
END_TEST

/* ------------------------------------------------------------ append checks */

START_TEST(test_append_refuses_bad_values)
{
    const char *dir = test_tmpdir(TAG);
    const char *path = test_tmpfile(TAG, "refuse.h5");
    gar_optics o[2];
    gar_stack_writer *w = NULL;
    gar_stack *s = NULL;
    float img[4 * PIX];
    gar_particle meta[4];
    make_optics(o, BOX);
    ck_assert(gar_stack_writer_create(path, BOX, o, 2, GAR_COL_POSE | GAR_COL_CTF, "", &w) ==
              GAR_OK);
    make_images(img, 0, 3, BOX);
    make_meta(meta, 0, 3);
    ck_assert(gar_stack_writer_append(w, img, meta, 3) == GAR_OK);

    /* The second append holds global particles 3..6; the bad one is 4. */
    make_images(img, 3, 4, BOX);
    make_meta(meta, 3, 4);
    meta[1].defocus_u_A = NAN;
    ck_assert_int_eq(gar_stack_writer_append(w, img, meta, 4), GAR_ERR_DATA);
    ck_assert_msg_has("particle 4");
    ck_assert_msg_has("/particles/defocus_u_A");
    ck_assert_msg_has("refuse.h5");

    make_meta(meta, 3, 4);
    meta[2].rot_deg = INFINITY;
    ck_assert_int_eq(gar_stack_writer_append(w, img, meta, 4), GAR_ERR_DATA);
    ck_assert_msg_has("particle 5");
    ck_assert_msg_has("rot_deg");

    make_meta(meta, 3, 4);
    meta[0].half_set = 3;
    ck_assert_int_eq(gar_stack_writer_append(w, img, meta, 4), GAR_ERR_DATA);
    ck_assert_msg_has("particle 3 has 3, expected 1 or 2");

    make_meta(meta, 3, 4);
    meta[3].optics_group = 2;
    ck_assert_int_eq(gar_stack_writer_append(w, img, meta, 4), GAR_ERR_DATA);
    ck_assert_msg_has("/particles/optics_group: particle 6 has 2");

    make_meta(meta, 3, 4);
    img[2 * PIX + 5] = NAN;
    ck_assert_int_eq(gar_stack_writer_append(w, img, meta, 4), GAR_ERR_DATA);
    ck_assert_msg_has("/particles/images: particle 5");

    /* A non-finite value in a column the stack does not have is ignored. */
    make_images(img, 3, 4, BOX);
    make_meta(meta, 3, 4);
    meta[0].origin_x_A = NAN;
    meta[1].phase_shift_deg = -INFINITY;
    ck_assert_msg(gar_stack_writer_append(w, img, meta, 4) == GAR_OK, "%s", gar_errmsg());

    /* Refused appends wrote nothing. */
    ck_assert(gar_stack_writer_commit(&w) == GAR_OK);
    ck_assert_int_eq(test_count_prefix(dir, "refuse.h5.tmp-"), 0);
    ck_assert(gar_stack_open(path, &s) == GAR_OK);
    ck_assert_uint_eq(gar_stack_count(s), 7);
    {
        float got[7 * PIX];
        ck_assert(gar_stack_read_images(s, 0, 7, got) == GAR_OK);
        check_images_equal(got, 0, 7);
    }
    gar_stack_close(&s);
}
END_TEST

START_TEST(test_create_refuses_bad_optics)
{
    const char *path = test_tmpfile(TAG, "never.h5");
    const char *dir = test_tmpdir(TAG);
    gar_optics o[2];
    gar_stack_writer *w = NULL;

    make_optics(o, BOX);
    ck_assert_int_eq(gar_stack_writer_create(path, 7, o, 2, 0, "", &w), GAR_ERR_DATA);
    ck_assert_msg_has("box 7");
    ck_assert_int_eq(gar_stack_writer_create(path, BOX, o, 0, 0, "", &w), GAR_ERR_DATA);
    ck_assert_msg_has("/optics");
    o[1].image_size = 2 * BOX;
    ck_assert_int_eq(gar_stack_writer_create(path, BOX, o, 2, 0, "", &w), GAR_ERR_DATA);
    ck_assert_msg_has("/optics/image_size: group 7 has 16, expected 8");
    make_optics(o, BOX);
    o[1].pixel_size_A = 1.2;
    ck_assert_int_eq(gar_stack_writer_create(path, BOX, o, 2, 0, "", &w), GAR_ERR_DATA);
    ck_assert_msg_has("one pixel size");
    make_optics(o, BOX);
    o[1].group = 1;
    ck_assert_int_eq(gar_stack_writer_create(path, BOX, o, 2, 0, "", &w), GAR_ERR_DATA);
    ck_assert_msg_has("group 1 appears twice");
    make_optics(o, BOX);
    o[0].amplitude_contrast = 1.0;
    ck_assert_int_eq(gar_stack_writer_create(path, BOX, o, 2, 0, "", &w), GAR_ERR_DATA);
    ck_assert_msg_has("amplitude_contrast");
    make_optics(o, BOX);
    memset(o[0].name, 'x', sizeof o[0].name);
    ck_assert_int_eq(gar_stack_writer_create(path, BOX, o, 2, 0, "", &w), GAR_ERR_DATA);
    ck_assert_msg_has("/optics/name");
    ck_assert_ptr_null(w);
    ck_assert_int_eq(test_count_prefix(dir, "never.h5"), 0);
}
END_TEST

/* ---------------------------------------------------------------- bad files */

START_TEST(test_missing_file)
{
    const char *path = test_tmpfile(TAG, "absent.h5");
    expect_open_error(path, GAR_ERR_NOINPUT, "No such file");
}
END_TEST

START_TEST(test_not_hdf5)
{
    const char *path = test_tmpfile(TAG, "text.h5");
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    fputs("data_particles\nloop_\n_rlnImageName #1\n", f);
    fclose(f);
    expect_open_error(path, GAR_ERR_DATA, "not a readable HDF5 file");
}
END_TEST

START_TEST(test_not_garner)
{
    const char *path = test_tmpfile(TAG, "other.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[3] = {2, 4, 4};
    hid_t sp = H5Screate_simple(3, dims, NULL);
    hid_t d = H5Dcreate2(f, "images", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(d >= 0);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
    expect_open_error(path, GAR_ERR_DATA, "not a garner stack");

    /* A format attribute naming something else. */
    f = h5_open_rw(path);
    h5_vlen_str_attr(f, "format", "some-other-stack");
    H5Fclose(f);
    expect_open_error(path, GAR_ERR_DATA, "\"some-other-stack\", expected \"garner-stack\"");
}
END_TEST

START_TEST(test_truncated)
{
    const char *good = good_stack("whole.h5");
    const char *path = test_tmpfile(TAG, "half.h5");
    gar_stack *s = NULL;
    gar_status st;
    copy_file(good, path, 0.5);
    st = gar_stack_open(path, &s);
    if (st == GAR_OK) {
        float img[12 * PIX];
        gar_particle meta[12];
        st = gar_stack_read_images(s, 0, 12, img);
        if (st == GAR_OK)
            st = gar_stack_read_meta(s, 0, 12, meta);
        gar_stack_close(&s);
    }
    ck_assert_int_ne(st, GAR_OK);
    ck_assert_msg_has(path);
}
END_TEST

/* Flip one bit in the middle of the chunk holding element `index` of a
 * dataset, at the address HDF5 reports for it. */
static void flip_chunk_byte(const char *path, const char *dataset, hsize_t index,
                            hsize_t expect_size)
{
    hid_t f, d;
    hsize_t offset[3] = {index, 0, 0}, size = 0;
    haddr_t addr = 0;
    unsigned mask = 0;
    FILE *fp;
    int c;
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    d = H5Dopen2(f, dataset, H5P_DEFAULT);
    ck_assert(d >= 0);
    ck_assert(H5Dget_chunk_info_by_coord(d, offset, &mask, &addr, &size) >= 0);
    ck_assert_uint_eq(size, expect_size);
    H5Dclose(d);
    H5Fclose(f);

    fp = fopen(path, "r+b");
    ck_assert(fp != NULL);
    ck_assert(fseek(fp, (long)(addr + size / 2), SEEK_SET) == 0);
    c = fgetc(fp);
    ck_assert(c != EOF);
    ck_assert(fseek(fp, (long)(addr + size / 2), SEEK_SET) == 0);
    ck_assert(fputc(c ^ 0x10, fp) != EOF);
    ck_assert(fclose(fp) == 0);
}

START_TEST(test_corrupt_chunk)
{
    const char *path = good_stack("flip.h5");
    gar_stack *s = NULL;
    float img[12 * PIX];
    flip_chunk_byte(path, "/particles/images", 5, PIX * sizeof(float) + 4 /* Fletcher32 */);

    ck_assert_msg(gar_stack_open(path, &s) == GAR_OK, "%s", gar_errmsg());
    ck_assert_int_eq(gar_stack_read_images(s, 0, 12, img), GAR_ERR_DATA);
    ck_assert_msg_has("/particles/images: particle 5: checksum mismatch");
    ck_assert_msg_has(path);
    ck_assert_int_eq(gar_stack_read_images(s, 3, 4, img), GAR_ERR_DATA);
    ck_assert_msg_has("particle 5");
    /* The rest of the stack still reads. */
    ck_assert(gar_stack_read_images(s, 0, 5, img) == GAR_OK);
    check_images_equal(img, 0, 5);
    ck_assert(gar_stack_read_images(s, 6, 6, img) == GAR_OK);
    check_images_equal(img, 6, 6);
    gar_stack_close(&s);
}
END_TEST

START_TEST(test_corrupt_metadata)
{
    const char *path = good_stack("flipmeta.h5");
    gar_stack *s = NULL;
    gar_particle meta[12];
    /* One 4096-entry chunk holds the whole column. */
    flip_chunk_byte(path, "/particles/defocus_v_A", 0, 4096 * sizeof(double) + 4);
    ck_assert_msg(gar_stack_open(path, &s) == GAR_OK, "%s", gar_errmsg());
    ck_assert_int_eq(gar_stack_read_meta(s, 0, 12, meta), GAR_ERR_DATA);
    ck_assert_msg_has("/particles/defocus_v_A: particles [0, 12) unreadable");
    ck_assert_msg_has("Fletcher32");
    gar_stack_close(&s);

    /* In a column read whole at open, the open fails. */
    path = good_stack("flipint.h5");
    flip_chunk_byte(path, "/particles/optics_group", 0, 4096 * sizeof(int32_t) + 4);
    expect_open_error(path, GAR_ERR_DATA, "/particles/optics_group: unreadable");
}
END_TEST

START_TEST(test_column_length_mismatch)
{
    const char *path = good_stack("short.h5");
    h5_set_extent(path, "/particles/defocus_u_A", 11);
    expect_open_error(path, GAR_ERR_DATA,
                      "/particles/defocus_u_A: 11 entries, expected 12 (one per image)");
}
END_TEST

START_TEST(test_optics_length_mismatch)
{
    const char *path = good_stack("optlen.h5");
    hsize_t three = 3;
    h5_replace(path, "/optics/cs_mm", H5T_IEEE_F64LE, 1, &three);
    expect_open_error(path, GAR_ERR_DATA, "/optics/cs_mm: 3 entries, expected 2");
}
END_TEST

START_TEST(test_string_column)
{
    const char *path = good_stack("strcol.h5");
    hsize_t n = 12;
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 8);
    h5_replace(path, "/particles/rot_deg", t, 1, &n);
    H5Tclose(t);
    expect_open_error(path, GAR_ERR_DATA, "/particles/rot_deg: dtype string, expected a float");
}
END_TEST

START_TEST(test_int_column_for_float)
{
    const char *path = good_stack("intcol.h5");
    hsize_t n = 12;
    h5_replace(path, "/particles/psi_deg", H5T_STD_I32LE, 1, &n);
    expect_open_error(path, GAR_ERR_DATA, "/particles/psi_deg: dtype int32, expected a float");
}
END_TEST

START_TEST(test_2d_column)
{
    const char *path = good_stack("twod.h5");
    hsize_t dims[2] = {12, 3};
    h5_replace(path, "/particles/rot_deg", H5T_IEEE_F64LE, 2, dims);
    expect_open_error(path, GAR_ERR_DATA, "/particles/rot_deg: rank 2, expected 1-D");
}
END_TEST

START_TEST(test_images_wrong_rank)
{
    const char *path = good_stack("rank.h5");
    hsize_t dims[2] = {12, PIX};
    h5_replace(path, "/particles/images", H5T_IEEE_F32LE, 2, dims);
    expect_open_error(path, GAR_ERR_DATA, "/particles/images: rank 2, expected 3");
}
END_TEST

START_TEST(test_images_wrong_type)
{
    const char *path = good_stack("f64.h5");
    hsize_t dims[3] = {12, BOX, BOX};
    h5_replace(path, "/particles/images", H5T_IEEE_F64LE, 3, dims);
    expect_open_error(path, GAR_ERR_DATA, "/particles/images: dtype float64, expected float32");
}
END_TEST

START_TEST(test_images_not_square)
{
    const char *path = good_stack("rect.h5");
    hsize_t dims[3] = {12, BOX, BOX + 2};
    h5_replace(path, "/particles/images", H5T_IEEE_F32LE, 3, dims);
    expect_open_error(path, GAR_ERR_DATA, "images are 8 x 10, expected square");
}
END_TEST

START_TEST(test_images_odd_box)
{
    const char *path = good_stack("odd.h5");
    hsize_t dims[3] = {12, 7, 7};
    h5_replace(path, "/particles/images", H5T_IEEE_F32LE, 3, dims);
    expect_open_error(path, GAR_ERR_DATA, "box 7, expected an even size");
}
END_TEST

START_TEST(test_half_set_three)
{
    const char *path = good_stack("half3.h5");
    h5_write_int(path, "/particles/half_set", 4, 3);
    expect_open_error(path, GAR_ERR_DATA, "/particles/half_set: particle 4 has 3, expected 1 or 2");
}
END_TEST

START_TEST(test_unknown_optics_group)
{
    const char *path = good_stack("group9.h5");
    h5_write_int(path, "/particles/optics_group", 10, 9);
    expect_open_error(path, GAR_ERR_DATA, "/particles/optics_group: particle 10 has 9");
}
END_TEST

START_TEST(test_bad_optics_values)
{
    const char *path = good_stack("optics0.h5");
    h5_write_double(path, "/optics/pixel_size_A", 1, 0.0);
    expect_open_error(path, GAR_ERR_DATA, "/optics/pixel_size_A: group 7 has 0");

    path = good_stack("optics_size.h5");
    h5_write_int(path, "/optics/image_size", 0, 64);
    expect_open_error(path, GAR_ERR_DATA, "/optics/image_size: group 1 has 64, expected 8");

    path = good_stack("optics_kv.h5");
    h5_write_double(path, "/optics/voltage_kV", 0, -300);
    expect_open_error(path, GAR_ERR_DATA, "/optics/voltage_kV");
}
END_TEST

START_TEST(test_partial_column_group)
{
    const char *path = good_stack("partial.h5");
    h5_delete(path, "/particles/tilt_deg");
    expect_open_error(path, GAR_ERR_DATA, "/particles/tilt_deg: missing, but rot_deg is present");
}
END_TEST

START_TEST(test_missing_mandatory)
{
    const char *path = good_stack("nohalf.h5");
    h5_delete(path, "/particles/half_set");
    expect_open_error(path, GAR_ERR_DATA, "/particles/half_set: missing");

    path = good_stack("noimages.h5");
    h5_delete(path, "/particles/images");
    expect_open_error(path, GAR_ERR_DATA, "/particles/images: missing");

    path = good_stack("nooptics.h5");
    h5_delete(path, "/optics/voltage_kV");
    expect_open_error(path, GAR_ERR_DATA, "/optics/voltage_kV: missing");
}
END_TEST

START_TEST(test_missing_format_version)
{
    const char *path = good_stack("nover.h5");
    hid_t f = h5_open_rw(path);
    ck_assert(H5Adelete(f, "format_version") >= 0);
    H5Fclose(f);
    expect_open_error(path, GAR_ERR_DATA, "format_version is missing");
}
END_TEST

START_TEST(test_newer_format_version)
{
    const char *path = good_stack("v2.h5");
    hid_t f = h5_open_rw(path);
    h5_root_int_attr(f, "format_version", H5T_STD_I32LE, 2);
    H5Fclose(f);
    expect_open_error(path, GAR_ERR_DATA,
                      "format_version 2 is newer than this garner reads (1); upgrade garner");
}
END_TEST

START_TEST(test_h5py_style_file)
{
    /* What a user's h5py script produces: str attributes as variable-length
     * UTF-8, Python ints as int64, contiguous (unchunked, unfiltered) data,
     * float32 columns, int64/uint8 ints, optics names as variable-length. */
    const char *path = test_tmpfile(TAG, "h5py.h5");
    const size_t n = 4;
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), g, sp, d, t;
    hsize_t dims[3] = {n, BOX, BOX}, m = 2;
    float img[4 * PIX], rot32[4] = {1.5f, -2.25f, 3.0f, 400.125f};
    int64_t half64[4] = {1, 2, 2, 1}, group64[4] = {3, 3, 4, 4}, ogroup[2] = {3, 4}, isize[2] = {BOX, BOX};
    uint8_t dummy = 0;
    double px[2] = {0.83, 0.83}, kv[2] = {300, 300}, cs[2] = {2.7, 2.7}, ac[2] = {0.1, 0.1};
    const char *names[2] = {"og3", "og4"};
    gar_stack *s = NULL;
    gar_particle meta[4];
    float got[4 * PIX];
    const gar_optics *o;
    size_t n_optics;
    (void)dummy;
    make_images(img, 0, n, BOX);
    ck_assert(f >= 0);
    h5_vlen_str_attr(f, "format", "garner-stack");
    h5_root_int_attr(f, "format_version", H5T_STD_I64LE, 1);

    g = H5Gcreate2(f, "particles", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    sp = H5Screate_simple(3, dims, NULL);
    d = H5Dcreate2(g, "images", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, img) >= 0);
    H5Dclose(d);
    H5Sclose(sp);
    sp = H5Screate_simple(1, dims, NULL);
    d = H5Dcreate2(g, "half_set", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, half64) >= 0);
    H5Dclose(d);
    d = H5Dcreate2(g, "optics_group", H5T_STD_U8LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, group64) >= 0);
    H5Dclose(d);
    {
        const char *pose[3] = {"rot_deg", "tilt_deg", "psi_deg"};
        for (int k = 0; k < 3; k++) {
            d = H5Dcreate2(g, pose[k], H5T_IEEE_F32BE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            ck_assert(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, rot32) >= 0);
            H5Dclose(d);
        }
    }
    H5Sclose(sp);
    H5Gclose(g);

    g = H5Gcreate2(f, "optics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    sp = H5Screate_simple(1, &m, NULL);
#define OPTCOL(name, ftype, mtype, buf)                                                            \
    d = H5Dcreate2(g, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);                     \
    ck_assert(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);                        \
    H5Dclose(d)
    OPTCOL("optics_group", H5T_STD_I64LE, H5T_NATIVE_INT64, ogroup);
    OPTCOL("pixel_size_A", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, px);
    OPTCOL("voltage_kV", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, kv);
    OPTCOL("cs_mm", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, cs);
    OPTCOL("amplitude_contrast", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, ac);
    OPTCOL("image_size", H5T_STD_I64LE, H5T_NATIVE_INT64, isize);
    t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    OPTCOL("name", t, t, names);
#undef OPTCOL
    H5Tclose(t);
    H5Sclose(sp);
    H5Gclose(g);
    ck_assert(H5Fclose(f) >= 0);

    ck_assert_msg(gar_stack_open(path, &s) == GAR_OK, "%s", gar_errmsg());
    ck_assert_uint_eq(gar_stack_count(s), n);
    ck_assert_uint_eq(gar_stack_columns(s), GAR_COL_POSE);
    ck_assert(gar_stack_pixel_size(s) == 0.83);
    o = gar_stack_optics(s, &n_optics);
    ck_assert_uint_eq(n_optics, 2);
    ck_assert_str_eq(o[0].name, "og3");
    ck_assert_str_eq(o[1].name, "og4");
    ck_assert_int_eq(o[1].image_size, BOX);
    ck_assert(gar_stack_read_images(s, 0, n, got) == GAR_OK);
    check_images_equal(got, 0, n);
    ck_assert(gar_stack_read_meta(s, 1, 3, meta) == GAR_OK);
    for (size_t i = 0; i < 3; i++) {
        ck_assert(meta[i].rot_deg == rot32[i + 1] && meta[i].psi_deg == rot32[i + 1]);
        ck_assert_int_eq(meta[i].half_set, half64[i + 1]);
        ck_assert_int_eq(meta[i].optics_group, group64[i + 1]);
        ck_assert(meta[i].defocus_u_A == 0);
    }
    gar_stack_close(&s);
}
END_TEST

START_TEST(test_hdf5_never_prints)
{
    /* Turn HDF5's own printing back on, then fail in every way: nothing may
     * reach stderr, because our one-line message is the whole report. */
    const char *good = good_stack("quiet.h5");
    const char *trunc = test_tmpfile(TAG, "quiet-half.h5");
    const char *log = test_tmpfile(TAG, "stderr.txt");
    gar_stack *s = NULL;
    gar_stack_writer *w = NULL;
    gar_optics o[2];
    struct stat sb;
    int saved, fd;
    copy_file(good, trunc, 0.5);
    h5_write_int(good, "/particles/half_set", 0, 5);
    make_optics(o, BOX);

    fflush(stderr);
    saved = dup(2);
    fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    H5Eset_auto2(H5E_DEFAULT, (H5E_auto2_t)H5Eprint2, stderr);
    ck_assert(gar_stack_open(trunc, &s) != GAR_OK);
    H5Eset_auto2(H5E_DEFAULT, (H5E_auto2_t)H5Eprint2, stderr);
    ck_assert(gar_stack_open(good, &s) != GAR_OK);
    H5Eset_auto2(H5E_DEFAULT, (H5E_auto2_t)H5Eprint2, stderr);
    ck_assert(gar_stack_writer_create(test_tmpfile(TAG, "nope/x.h5"), BOX, o, 2, 0, "", &w) !=
              GAR_OK);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    ck_assert(stat(log, &sb) == 0);
    ck_assert_msg(sb.st_size == 0, "%lld bytes reached stderr", (long long)sb.st_size);
}
END_TEST

/* -------------------------------------------------------------------- main */

static Suite *stack_suite(void)
{
    Suite *s = suite_create("stack");
    TCase *tc = tcase_create("round trip");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_file_layout);
    tcase_add_test(tc, test_sub_ranges);
    tcase_add_test(tc, test_mandatory_columns_only);
    tcase_add_test(tc, test_column_subset);
    tcase_add_test(tc, test_empty_stack);
    tcase_add_test(tc, test_h5py_style_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("writer");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_temp_file_lifecycle);
    tcase_add_test(tc, test_replace_only_at_commit);
    tcase_add_test(tc, test_commit_into_missing_folder);
    tcase_add_test(tc, test_append_refuses_bad_values);
    tcase_add_test(tc, test_create_refuses_bad_optics);
    suite_add_tcase(s, tc);

    tc = tcase_create("bad files");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_not_hdf5);
    tcase_add_test(tc, test_not_garner);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_corrupt_chunk);
    tcase_add_test(tc, test_corrupt_metadata);
    tcase_add_test(tc, test_column_length_mismatch);
    tcase_add_test(tc, test_optics_length_mismatch);
    tcase_add_test(tc, test_string_column);
    tcase_add_test(tc, test_int_column_for_float);
    tcase_add_test(tc, test_2d_column);
    tcase_add_test(tc, test_images_wrong_rank);
    tcase_add_test(tc, test_images_wrong_type);
    tcase_add_test(tc, test_images_not_square);
    tcase_add_test(tc, test_images_odd_box);
    tcase_add_test(tc, test_half_set_three);
    tcase_add_test(tc, test_unknown_optics_group);
    tcase_add_test(tc, test_bad_optics_values);
    tcase_add_test(tc, test_partial_column_group);
    tcase_add_test(tc, test_missing_mandatory);
    tcase_add_test(tc, test_missing_format_version);
    tcase_add_test(tc, test_newer_format_version);
    tcase_add_test(tc, test_hdf5_never_prints);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stack_suite());
    int failed;
    /* The tests' own HDF5 calls fail on purpose at times (deleting what is
     * not there); keep those quiet too. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    H5close();
    return failed == 0 ? 0 : 1;
}
