/* The fixtures of the HDF5 stack tests (see stack_fixtures.h). */
#include "stack_fixtures.h"

#include <dirent.h>
#include <limits.h>

void make_optics(gar_optics o[2], int32_t box)
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
float pixel_value(size_t particle, size_t k)
{
    uint32_t h = (uint32_t)(particle * 2654435761u) ^ (uint32_t)(k * 40503u + 0x9e3779b9u);
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    return ((float)(h % 100000u) - 50000.0f) / 7919.0f;
}

void make_images(float *buf, size_t first, size_t count, size_t box)
{
    for (size_t i = 0; i < count; i++)
        for (size_t k = 0; k < box * box; k++)
            buf[i * box * box + k] = pixel_value(first + i, k);
}

gar_particle particle_meta(size_t i)
{
    gar_particle p;
    p.rot_deg = 10.25 + 1.5 * (double)i;
    p.tilt_deg = 0.75 * (double)i + 1.0 / 3.0;
    p.psi_deg = -2.5 * (double)i;
    /* Within half of the smallest fixture image (8 px of 1.06 Å): the
     * reader refuses origins beyond it. */
    p.origin_x_A = 0.25 * (double)(i % 13) - 1.0;
    p.origin_y_A = -0.25 * (double)(i % 11);
    p.defocus_u_A = 15000.0 + 10.125 * (double)i;
    p.defocus_v_A = 14800.0 + 9.875 * (double)i;
    p.defocus_angle_deg = 3.5 * (double)i;
    p.phase_shift_deg = 0.1 * (double)i;
    p.half_set = 1 + (int32_t)(i % 2);
    p.optics_group = (i / 3) % 2 ? 7 : 1;
    return p;
}

void make_meta(gar_particle *p, size_t first, size_t count)
{
    for (size_t i = 0; i < count; i++)
        p[i] = particle_meta(first + i);
}

/* A stack of sum(counts) particles written in len(counts) appends. */
void write_stack(const char *path, unsigned columns, const size_t *counts, size_t nappends)
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

const size_t twelve[3] = {3, 5, 4};

const char *good_stack(const char *name)
{
    const char *path = test_tmpfile(TAG, name);
    write_stack(path, GAR_COL_POSE | GAR_COL_ORIGIN | GAR_COL_CTF | GAR_COL_PHASE_SHIFT, twelve, 3);
    return path;
}

/* Opening must fail with `st` and a message naming the file and `fragment`. */
void expect_open_error(const char *path, gar_status st, const char *fragment)
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
void teardown(void)
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

int stack_run_suite(Suite *s)
{
    int rc;
    /* The tests' own HDF5 calls fail on purpose at times (deleting what is
     * not there); keep those quiet too. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    rc = test_run_suite(s);
    H5close();
    return rc;
}

/* ------------------------------------------------------- HDF5 file surgery */

hid_t h5_open_rw(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_msg(f >= 0, "cannot reopen %s", path);
    return f;
}

void h5_delete(const char *path, const char *name)
{
    hid_t f = h5_open_rw(path);
    ck_assert(H5Ldelete(f, name, H5P_DEFAULT) >= 0);
    ck_assert(H5Fclose(f) >= 0);
}

/* Replace dataset `name` with a zero-filled one of the given type and shape. */
void h5_replace(const char *path, const char *name, hid_t type, int rank,
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

/* Overwrite entry `index` of the 1-D dataset `name` with *value, of memory type `type`. */
static void h5_write_one(const char *path, const char *name, hsize_t index, hid_t type,
                         const void *value)
{
    hid_t f = h5_open_rw(path), d, fs, ms;
    hsize_t one = 1;
    d = H5Dopen2(f, name, H5P_DEFAULT);
    fs = H5Dget_space(d);
    ms = H5Screate_simple(1, &one, NULL);
    ck_assert(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &index, NULL, &one, NULL) >= 0);
    ck_assert(H5Dwrite(d, type, ms, fs, H5P_DEFAULT, value) >= 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    ck_assert(H5Fclose(f) >= 0);
}

void h5_write_int(const char *path, const char *name, hsize_t index, int32_t value)
{
    h5_write_one(path, name, index, H5T_NATIVE_INT32, &value);
}

void h5_write_double(const char *path, const char *name, hsize_t index, double value)
{
    h5_write_one(path, name, index, H5T_NATIVE_DOUBLE, &value);
}

void h5_set_extent(const char *path, const char *name, hsize_t len)
{
    hid_t f = h5_open_rw(path), d = H5Dopen2(f, name, H5P_DEFAULT);
    ck_assert(d >= 0);
    ck_assert(H5Dset_extent(d, &len) >= 0);
    H5Dclose(d);
    ck_assert(H5Fclose(f) >= 0);
}

/* A scalar attribute `name` of file type `type` on loc, replacing any, from
 * *value of memory type mem_type. */
static void h5_scalar_attr(hid_t loc, const char *name, hid_t type, hid_t mem_type,
                           const void *value)
{
    hid_t sp = H5Screate(H5S_SCALAR), a;
    H5Adelete(loc, name);
    a = H5Acreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(a >= 0);
    ck_assert(H5Awrite(a, mem_type, value) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
}

void h5_root_int_attr(hid_t f, const char *name, hid_t type, long long value)
{
    h5_scalar_attr(f, name, type, H5T_NATIVE_LLONG, &value);
}

/* A variable-length UTF-8 string attribute, as h5py writes a Python str. */
void h5_vlen_str_attr(hid_t loc, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    h5_scalar_attr(loc, name, t, t, &value);
    H5Tclose(t);
}

void copy_file(const char *from, const char *to, double fraction)
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

void check_meta_equal(const gar_particle *got, size_t index, unsigned columns)
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

void check_images_equal(const float *got, size_t first, size_t count)
{
    float *want = malloc(count * PIX * sizeof *want + 1);
    ck_assert(want != NULL);
    make_images(want, first, count, BOX);
    ck_assert_msg(memcmp(got, want, count * PIX * sizeof *want) == 0,
                  "images [%zu, %zu) differ", first, first + count);
    free(want);
}
