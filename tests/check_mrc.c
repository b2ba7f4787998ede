/* Unit tests for hdf5io/gar_mrc.c: round trips, every supported mode and byte
 * order from hand-built files, and every header check. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "gar_mrc.h"
#include "testutil.h"

#define TAG "mrc"

/* ------------------------------------------------------------ helpers */

static void put32(unsigned char *hdr, int word, uint32_t v, int big)
{
    unsigned char *p = hdr + 4 * word;
    if (big) {
        p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
        p[2] = (unsigned char)(v >> 8);  p[3] = (unsigned char)v;
    } else {
        p[3] = (unsigned char)(v >> 24); p[2] = (unsigned char)(v >> 16);
        p[1] = (unsigned char)(v >> 8);  p[0] = (unsigned char)v;
    }
}

static void putf(unsigned char *hdr, int word, float f, int big)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put32(hdr, word, u, big);
}

static uint32_t get32le(const unsigned char *hdr, int word)
{
    const unsigned char *p = hdr + 4 * word;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float getf_le(const unsigned char *hdr, int word)
{
    uint32_t u = get32le(hdr, word);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* A valid MRC2014 header; stamp 0 writes a zero machine stamp. */
static void make_header(unsigned char *hdr, int big, int stamp, int32_t nx, int32_t ny, int32_t nz,
                        int32_t mode, float pixel_size)
{
    memset(hdr, 0, 1024);
    put32(hdr, 0, (uint32_t)nx, big);
    put32(hdr, 1, (uint32_t)ny, big);
    put32(hdr, 2, (uint32_t)nz, big);
    put32(hdr, 3, (uint32_t)mode, big);
    put32(hdr, 7, (uint32_t)nx, big);
    put32(hdr, 8, (uint32_t)ny, big);
    put32(hdr, 9, (uint32_t)nz, big);
    putf(hdr, 10, pixel_size * (float)nx, big);
    putf(hdr, 11, pixel_size * (float)ny, big);
    putf(hdr, 12, pixel_size * (float)nz, big);
    put32(hdr, 16, 1, big);
    put32(hdr, 17, 2, big);
    put32(hdr, 18, 3, big);
    memcpy(hdr + 208, "MAP ", 4);
    if (stamp) {
        hdr[212] = big ? 0x11 : 0x44;
        hdr[213] = big ? 0x11 : 0x44;
    }
}

/* Writes header, then data_len bytes of data, then zero padding up to total
 * (when larger). */
static void write_raw(const char *path, const unsigned char *hdr, size_t hdr_len, const void *data,
                      size_t data_len, size_t total)
{
    FILE *f = fopen(path, "wb");
    size_t written = hdr_len + data_len;
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(hdr, 1, hdr_len, f), hdr_len);
    if (data_len > 0)
        ck_assert_uint_eq(fwrite(data, 1, data_len, f), data_len);
    /* Block writes: a byte at a time takes seconds under the sanitizers. */
    while (written < total) {
        static const unsigned char zeros[65536];
        size_t n = total - written < sizeof zeros ? total - written : sizeof zeros;
        ck_assert_uint_eq(fwrite(zeros, 1, n, f), n);
        written += n;
    }
    ck_assert_int_eq(fclose(f), 0);
}

static void read_file(const char *path, unsigned char *buf, size_t n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_uint_eq(fread(buf, 1, n, f), n);
    fclose(f);
}

static void cleanup(const char *path)
{
    unlink(path);
    rmdir(test_tmpdir(TAG));
}

/* The kernel's current private data size, so a limit can be set just above it. */
static long vm_data_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmData: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

/* Reads path with private data memory capped 64 MiB above current use, so an
 * implementation that allocates from the header before checking it against
 * the file fails with NOMEM (or dies) instead of passing. Under valgrind the
 * limit is not enforced and only the status is checked. */
static gar_status read_with_memory_cap(const char *path, gar_map **out)
{
    struct rlimit old, cap;
    long cur = vm_data_bytes();
    int capped = 0;
    gar_status st;
    if (cur > 0 && getrlimit(RLIMIT_DATA, &old) == 0) {
        cap = old;
        cap.rlim_cur = (rlim_t)cur + ((rlim_t)64 << 20);
        if (old.rlim_max != RLIM_INFINITY && cap.rlim_cur > old.rlim_max)
            cap.rlim_cur = old.rlim_max;
        capped = setrlimit(RLIMIT_DATA, &cap) == 0;
    }
    st = gar_mrc_read(path, out);
    if (capped)
        setrlimit(RLIMIT_DATA, &old);
    return st;
}

/* Expects gar_mrc_read(path) to fail with st and a message containing frag,
 * leaving *out NULL. */
static void expect_read_error(const char *path, gar_status want, const char *frag)
{
    gar_map *map = (gar_map *)&map;  /* not NULL, so a missed reset is caught */
    gar_status st;
    gar_error_clear();
    st = read_with_memory_cap(path, &map);
    ck_assert_msg(st == want, "%s: status %d (%s), expected %d; message: %s", path, (int)st,
                  gar_status_name(st), (int)want, gar_errmsg());
    ck_assert_ptr_null(map);
    ck_assert_msg(strstr(gar_errmsg(), frag) != NULL, "message '%s' lacks '%s'", gar_errmsg(), frag);
    ck_assert_msg(strchr(gar_errmsg(), '\n') == NULL, "message is not one line: %s", gar_errmsg());
}

static void fill_pattern(float *v, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        v[i] = (float)(sin(0.37 * (double)i) * 100.0 + (double)i * 1e-3) - 17.25f;
}

/* ------------------------------------------------------------ round trips */

START_TEST(test_roundtrip_volume)
{
    const char *path = test_tmpfile(TAG, "vol.mrc");
    const size_t nx = 16, ny = 12, nz = 10, n = 16 * 12 * 10;
    gar_map *src = NULL, *back = NULL;
    unsigned char hdr[1024];
    double sum = 0, ss = 0, mean, vmin = HUGE_VAL, vmax = -HUGE_VAL;
    size_t i;

    ck_assert_int_eq(gar_map_create(nx, ny, nz, 1.5, &src), GAR_OK);
    fill_pattern(src->data, n);
    ck_assert_int_eq(gar_mrc_write(path, src, GAR_MRC_VOLUME), GAR_OK);
    ck_assert_int_eq(test_count_prefix(test_tmpdir(TAG), "vol.mrc.tmp"), 0);

    ck_assert_int_eq(gar_mrc_read(path, &back), GAR_OK);
    ck_assert_uint_eq(back->nx, nx);
    ck_assert_uint_eq(back->ny, ny);
    ck_assert_uint_eq(back->nz, nz);
    ck_assert_double_eq_tol(back->pixel_size, 1.5, 1e-12);
    ck_assert_int_eq(memcmp(back->data, src->data, n * sizeof(float)), 0);

    /* The header fields other readers rely on. */
    read_file(path, hdr, sizeof hdr);
    ck_assert_uint_eq(get32le(hdr, 0), 16);
    ck_assert_uint_eq(get32le(hdr, 1), 12);
    ck_assert_uint_eq(get32le(hdr, 2), 10);
    ck_assert_uint_eq(get32le(hdr, 3), 2);
    ck_assert_uint_eq(get32le(hdr, 7), 16);
    ck_assert_uint_eq(get32le(hdr, 8), 12);
    ck_assert_uint_eq(get32le(hdr, 9), 10);
    ck_assert_float_eq_tol(getf_le(hdr, 10), 24.0f, 1e-6f);
    ck_assert_float_eq_tol(getf_le(hdr, 11), 18.0f, 1e-6f);
    ck_assert_float_eq_tol(getf_le(hdr, 12), 15.0f, 1e-6f);
    ck_assert_float_eq(getf_le(hdr, 13), 90.0f);
    ck_assert_float_eq(getf_le(hdr, 15), 90.0f);
    ck_assert_uint_eq(get32le(hdr, 16), 1);
    ck_assert_uint_eq(get32le(hdr, 17), 2);
    ck_assert_uint_eq(get32le(hdr, 18), 3);
    ck_assert_uint_eq(get32le(hdr, 22), 1);  /* a volume, cube or not: ispg 1 */
    ck_assert_uint_eq(get32le(hdr, 23), 0);
    ck_assert_uint_eq(get32le(hdr, 27), 20140);
    ck_assert_int_eq(memcmp(hdr + 208, "MAP ", 4), 0);
    ck_assert_int_eq(memcmp(hdr + 212, "\x44\x44\x00\x00", 4), 0);
    ck_assert_uint_eq(get32le(hdr, 55), 1);
    ck_assert_int_eq(memcmp(hdr + 224, "garner", 6), 0);

    for (i = 0; i < n; i++) {
        sum += src->data[i];
        vmin = fmin(vmin, src->data[i]);
        vmax = fmax(vmax, src->data[i]);
    }
    mean = sum / n;
    for (i = 0; i < n; i++)
        ss += (src->data[i] - mean) * (src->data[i] - mean);
    ck_assert_float_eq(getf_le(hdr, 19), (float)vmin);
    ck_assert_float_eq(getf_le(hdr, 20), (float)vmax);
    ck_assert_double_eq_tol(getf_le(hdr, 21), mean, 1e-4 * fabs(mean) + 1e-6);
    ck_assert_double_eq_tol(getf_le(hdr, 54), sqrt(ss / n), 1e-4 * sqrt(ss / n));

    gar_map_destroy(&src);
    gar_map_destroy(&back);
    ck_assert_ptr_null(back);
    cleanup(path);
}
END_TEST

START_TEST(test_roundtrip_stack)
{
    const char *path = test_tmpfile(TAG, "stack.mrcs");
    const size_t nx = 8, ny = 6, nz = 5, sec = 8 * 6;
    float data[8 * 6 * 5], part[2 * 8 * 6];
    gar_mrc *mrc = NULL;
    gar_map *back = NULL;
    unsigned char hdr[1024];

    fill_pattern(data, nx * ny * nz);
    ck_assert_int_eq(gar_mrc_write_data(path, data, nx, ny, nz, 1.06, GAR_MRC_STACK), GAR_OK);
    ck_assert_int_eq(test_count_prefix(test_tmpdir(TAG), "stack.mrcs.tmp"), 0);

    /* MRC2014's image stack: ispg 0, mz 1, the cell one pixel deep. */
    read_file(path, hdr, sizeof hdr);
    ck_assert_uint_eq(get32le(hdr, 2), nz);
    ck_assert_uint_eq(get32le(hdr, 9), 1);
    ck_assert_float_eq_tol(getf_le(hdr, 12), 1.06f, 1e-6f);
    ck_assert_uint_eq(get32le(hdr, 22), 0);

    ck_assert_int_eq(gar_mrc_open(path, &mrc), GAR_OK);
    ck_assert_uint_eq(gar_mrc_nx(mrc), nx);
    ck_assert_uint_eq(gar_mrc_ny(mrc), ny);
    ck_assert_uint_eq(gar_mrc_nz(mrc), nz);
    ck_assert_int_eq(gar_mrc_mode(mrc), 2);
    ck_assert_str_eq(gar_mrc_path(mrc), path);
    ck_assert_double_eq_tol(gar_mrc_pixel_size(mrc), 1.06, 1e-6);
    /* Sections 2 and 3 only. */
    ck_assert_int_eq(gar_mrc_read_sections(mrc, 2, 2, part), GAR_OK);
    ck_assert_int_eq(memcmp(part, data + 2 * sec, sizeof part), 0);
    ck_assert_int_eq(gar_mrc_read_sections(mrc, 4, 1, part), GAR_OK);
    ck_assert_int_eq(memcmp(part, data + 4 * sec, sec * sizeof(float)), 0);
    /* Past the end is refused. */
    ck_assert_int_ne(gar_mrc_read_sections(mrc, 4, 2, part), GAR_OK);
    ck_assert_int_ne(gar_mrc_read_sections(mrc, SIZE_MAX, 2, part), GAR_OK);
    gar_mrc_close(&mrc);
    ck_assert_ptr_null(mrc);
    gar_mrc_close(&mrc);  /* NULL-safe */

    ck_assert_int_eq(gar_mrc_read(path, &back), GAR_OK);
    ck_assert_uint_eq(back->nz, nz);
    ck_assert_int_eq(memcmp(back->data, data, sizeof data), 0);
    gar_map_destroy(&back);

    /* The caller says what it writes, not the shape: a stack of as many
     * images as the box is a stack (ispg 0, mz 1), and the same cube as a
     * volume is one (ispg 1, mz nz). */
    ck_assert_int_eq(gar_mrc_write_data(path, data, 4, 4, 4, 2.0, GAR_MRC_STACK), GAR_OK);
    read_file(path, hdr, sizeof hdr);
    ck_assert_uint_eq(get32le(hdr, 22), 0);
    ck_assert_uint_eq(get32le(hdr, 9), 1);
    ck_assert_float_eq_tol(getf_le(hdr, 12), 2.0f, 1e-6f);
    ck_assert_int_eq(gar_mrc_read(path, &back), GAR_OK);
    ck_assert_uint_eq(back->nz, 4);
    ck_assert_double_eq_tol(back->pixel_size, 2.0, 1e-6);
    gar_map_destroy(&back);
    ck_assert_int_eq(gar_mrc_write_data(path, data, 4, 4, 4, 2.0, GAR_MRC_VOLUME), GAR_OK);
    read_file(path, hdr, sizeof hdr);
    ck_assert_uint_eq(get32le(hdr, 22), 1);
    ck_assert_uint_eq(get32le(hdr, 9), 4);
    ck_assert_float_eq_tol(getf_le(hdr, 12), 8.0f, 1e-6f);
    /* A kind left unset is refused, not guessed. */
    ck_assert_int_eq(gar_mrc_write_data(path, data, 4, 4, 4, 2.0, (gar_mrc_kind)0), GAR_ERR_INTERNAL);
    cleanup(path);
}
END_TEST

START_TEST(test_write_replaces_existing)
{
    const char *path = test_tmpfile(TAG, "over.mrc");
    float a[8] = {1, 2, 3, 4, 5, 6, 7, 8}, b[1] = {42};
    gar_map *back = NULL;
    ck_assert_int_eq(gar_mrc_write_data(path, a, 2, 2, 2, 1.0, GAR_MRC_VOLUME), GAR_OK);
    ck_assert_int_eq(gar_mrc_write_data(path, b, 1, 1, 1, 0.0, GAR_MRC_VOLUME), GAR_OK);
    ck_assert_int_eq(gar_mrc_read(path, &back), GAR_OK);
    ck_assert_uint_eq(back->nx * back->ny * back->nz, 1);
    ck_assert_float_eq(back->data[0], 42.0f);
    ck_assert_double_eq(back->pixel_size, 0.0);  /* unknown stays unknown */
    gar_map_destroy(&back);
    cleanup(path);
}
END_TEST

/* The section-by-section writer (garner export's) says stack or volume as
 * the caller tells it, also for a stack of as many images as the box. */
START_TEST(test_writer_kind)
{
    const char *path = test_tmpfile(TAG, "w.mrcs");
    float data[4 * 4 * 4];
    gar_mrc_writer *w = NULL;
    gar_map *back = NULL;
    unsigned char hdr[1024];

    fill_pattern(data, 64);
    ck_assert_int_eq(gar_mrc_writer_create(path, 4, 4, 4, 1.5, GAR_MRC_STACK, &w), GAR_OK);
    ck_assert_int_eq(gar_mrc_writer_append(w, data, 3), GAR_OK);
    ck_assert_int_eq(gar_mrc_writer_append(w, data + 48, 1), GAR_OK);
    ck_assert_int_eq(gar_mrc_writer_commit(&w), GAR_OK);
    read_file(path, hdr, sizeof hdr);
    ck_assert_uint_eq(get32le(hdr, 2), 4);
    ck_assert_uint_eq(get32le(hdr, 9), 1);
    ck_assert_float_eq_tol(getf_le(hdr, 12), 1.5f, 1e-6f);
    ck_assert_uint_eq(get32le(hdr, 22), 0);
    ck_assert_int_eq(gar_mrc_read(path, &back), GAR_OK);
    ck_assert_double_eq_tol(back->pixel_size, 1.5, 1e-6);
    ck_assert_int_eq(memcmp(back->data, data, sizeof data), 0);
    gar_map_destroy(&back);

    ck_assert_int_eq(gar_mrc_writer_create(path, 4, 4, 4, 1.5, GAR_MRC_VOLUME, &w), GAR_OK);
    ck_assert_int_eq(gar_mrc_writer_append(w, data, 4), GAR_OK);
    ck_assert_int_eq(gar_mrc_writer_commit(&w), GAR_OK);
    read_file(path, hdr, sizeof hdr);
    ck_assert_uint_eq(get32le(hdr, 9), 4);
    ck_assert_float_eq_tol(getf_le(hdr, 12), 6.0f, 1e-6f);
    ck_assert_uint_eq(get32le(hdr, 22), 1);

    ck_assert_int_eq(gar_mrc_writer_create(path, 4, 4, 4, 1.5, (gar_mrc_kind)7, &w), GAR_ERR_INTERNAL);
    ck_assert_ptr_null(w);
    cleanup(path);
}
END_TEST

/* ------------------------------------------------------------ modes and byte orders */

/* Writes a 3 x 2 x 1 file of the given raw data and reads it back. */
static gar_map *read_built(const char *name, int big, int stamp, int mode, const void *raw,
                           size_t raw_len)
{
    const char *path = test_tmpfile(TAG, name);
    unsigned char hdr[1024];
    gar_map *map = NULL;
    gar_status st;
    make_header(hdr, big, stamp, 3, 2, 1, mode, 2.5f);
    write_raw(path, hdr, sizeof hdr, raw, raw_len, 0);
    st = gar_mrc_read(path, &map);
    ck_assert_msg(st == GAR_OK, "%s: %s", name, gar_errmsg());
    ck_assert_uint_eq(map->nx, 3);
    ck_assert_uint_eq(map->ny, 2);
    ck_assert_uint_eq(map->nz, 1);
    ck_assert_double_eq_tol(map->pixel_size, 2.5, 1e-12);
    cleanup(path);
    return map;
}

/* read_built of six values, which must read back exactly as want. */
static void expect_values(const char *name, int big, int stamp, int mode, const void *raw,
                          size_t raw_len, const float want[6])
{
    gar_map *m = read_built(name, big, stamp, mode, raw, raw_len);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(m->data[i], want[i]);
    gar_map_destroy(&m);
}

START_TEST(test_mode0_int8)
{
    const unsigned char raw[6] = {0x80, 0xff, 0x00, 0x01, 0x7f, 0x9c};
    const float want[6] = {-128, -1, 0, 1, 127, -100};
    expect_values("m0.mrc", 0, 1, 0, raw, sizeof raw, want);
}
END_TEST

START_TEST(test_mode1_int16_both_orders)
{
    const unsigned char le[12] = {0x00, 0x80, 0xfe, 0xff, 0, 0, 0x03, 0, 0xff, 0x7f, 0x39, 0x30};
    const unsigned char be[12] = {0x80, 0x00, 0xff, 0xfe, 0, 0, 0, 0x03, 0x7f, 0xff, 0x30, 0x39};
    const float want[6] = {-32768, -2, 0, 3, 32767, 12345};
    expect_values("m1le.mrc", 0, 1, 1, le, sizeof le, want);
    expect_values("m1be.mrc", 1, 1, 1, be, sizeof be, want);
}
END_TEST

START_TEST(test_mode6_uint16)
{
    const unsigned char raw[12] = {0, 0, 1, 0, 0x40, 0x9c, 0xff, 0xff, 0x00, 0x80, 0xff, 0x7f};
    const float want[6] = {0, 1, 40000, 65535, 32768, 32767};
    expect_values("m6.mrc", 0, 1, 6, raw, sizeof raw, want);
}
END_TEST

START_TEST(test_mode12_half)
{
    const uint16_t h[6] = {0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x8400};
    const float want[6] = {1.0f, -2.0f, 0.5f, 65504.0f, 0x1p-24f, -0x1p-14f};
    unsigned char le[12], be[12];
    gar_map *c;
    const uint16_t special[6] = {0x7C00, 0xFC00, 0x7E00, 0x0000, 0x8000, 0x03FF};
    unsigned char sp[12];
    int i;
    for (i = 0; i < 6; i++) {
        le[2 * i] = (unsigned char)(h[i] & 0xff);
        le[2 * i + 1] = (unsigned char)(h[i] >> 8);
        be[2 * i] = (unsigned char)(h[i] >> 8);
        be[2 * i + 1] = (unsigned char)(h[i] & 0xff);
        sp[2 * i] = (unsigned char)(special[i] & 0xff);
        sp[2 * i + 1] = (unsigned char)(special[i] >> 8);
    }
    expect_values("m12le.mrc", 0, 1, 12, le, sizeof le, want);  /* exact */
    expect_values("m12be.mrc", 1, 1, 12, be, sizeof be, want);
    c = read_built("m12sp.mrc", 0, 1, 12, sp, sizeof sp);
    ck_assert(isinf(c->data[0]) && c->data[0] > 0);
    ck_assert(isinf(c->data[1]) && c->data[1] < 0);
    ck_assert(isnan(c->data[2]));
    ck_assert(c->data[3] == 0.0f && !signbit(c->data[3]));
    ck_assert(c->data[4] == 0.0f && signbit(c->data[4]));
    ck_assert_float_eq(c->data[5], 1023.0f * 0x1p-24f);  /* largest subnormal */
    gar_map_destroy(&c);
}
END_TEST

static void float_bytes(const float *v, int n, int big, unsigned char *out)
{
    int i;
    for (i = 0; i < n; i++)
        putf(out, i, v[i], big);  /* word i of a buffer is bytes 4i..4i+3 */
}

START_TEST(test_mode2_big_endian)
{
    const float want[6] = {1.5f, -2.25f, 1e-3f, 3.4e38f, -0.0f, 12345.678f};
    unsigned char be[24];
    gar_map *stamped, *unstamped;
    int i;
    float_bytes(want, 6, 1, be);
    stamped = read_built("m2be.mrc", 1, 1, 2, be, sizeof be);
    /* No machine stamp: the byte order is inferred from the header. */
    unstamped = read_built("m2be0.mrc", 1, 0, 2, be, sizeof be);
    for (i = 0; i < 6; i++) {
        ck_assert_int_eq(memcmp(&stamped->data[i], &want[i], 4), 0);
        ck_assert_int_eq(memcmp(&unstamped->data[i], &want[i], 4), 0);
    }
    gar_map_destroy(&stamped);
    gar_map_destroy(&unstamped);
}
END_TEST

START_TEST(test_big_endian_stamp_wins)
{
    /* nx = 256 big-endian reads as 65536 little-endian, mode 0 as 0: without
     * the stamp a guess would pick little-endian here. */
    const char *path = test_tmpfile(TAG, "be256.mrc");
    unsigned char hdr[1024], raw[256];
    gar_map *m = NULL;
    int i;
    for (i = 0; i < 256; i++)
        raw[i] = (unsigned char)i;
    make_header(hdr, 1, 1, 256, 1, 1, 0, 1.0f);
    write_raw(path, hdr, sizeof hdr, raw, sizeof raw, 0);
    ck_assert_msg(gar_mrc_read(path, &m) == GAR_OK, "%s", gar_errmsg());
    ck_assert_uint_eq(m->nx, 256);
    ck_assert_uint_eq(m->ny, 1);
    ck_assert_float_eq(m->data[1], 1.0f);
    ck_assert_float_eq(m->data[255], -1.0f);
    gar_map_destroy(&m);
    cleanup(path);
}
END_TEST

START_TEST(test_mode2_little_unstamped)
{
    const float want[6] = {0.25f, -7.0f, 1e-20f, 3.0f, 4.0f, -5.5f};
    unsigned char le[24];
    float_bytes(want, 6, 0, le);
    expect_values("m2le0.mrc", 0, 0, 2, le, sizeof le, want);
}
END_TEST

START_TEST(test_extended_header_and_zero_axes)
{
    const char *path = test_tmpfile(TAG, "ext.mrc");
    unsigned char hdr[1024], body[100 + 8];
    const float want[2] = {7.0f, -3.0f};
    gar_map *m = NULL;
    make_header(hdr, 0, 1, 2, 1, 1, 2, 1.0f);
    put32(hdr, 23, 100, 0);  /* nsymbt */
    put32(hdr, 16, 0, 0);    /* axis words left zero mean 1,2,3 */
    put32(hdr, 17, 0, 0);
    put32(hdr, 18, 0, 0);
    put32(hdr, 7, 0, 0);     /* mx 0: pixel size from nx */
    putf(hdr, 10, 4.0f, 0);
    memset(body, 0xAB, 100);  /* extended header must be skipped */
    float_bytes(want, 2, 0, body + 100);
    write_raw(path, hdr, sizeof hdr, body, sizeof body, 0);
    ck_assert_msg(gar_mrc_read(path, &m) == GAR_OK, "%s", gar_errmsg());
    ck_assert_float_eq(m->data[0], 7.0f);
    ck_assert_float_eq(m->data[1], -3.0f);
    ck_assert_double_eq_tol(m->pixel_size, 2.0, 1e-12);  /* 4.0 / nx 2 */
    gar_map_destroy(&m);
    cleanup(path);
}
END_TEST

START_TEST(test_reference_map)
{
    gar_map *m = NULL;
    double sum = 0, ss = 0, mean;
    size_t i, n;
    gar_status st = gar_mrc_read(test_example("tii-64.mrc"), &m);
    ck_assert_msg(st == GAR_OK, "%s", gar_errmsg());
    ck_assert_uint_eq(m->nx, 64);
    ck_assert_uint_eq(m->ny, 64);
    ck_assert_uint_eq(m->nz, 64);
    ck_assert_double_eq_tol(m->pixel_size, 3.0, 1e-6);
    n = gar_map_voxels(m);
    for (i = 0; i < n; i++)
        sum += m->data[i];
    mean = sum / n;
    for (i = 0; i < n; i++)
        ss += (m->data[i] - mean) * (m->data[i] - mean);
    ck_assert_double_eq_tol(mean, 0.0, 1e-3);
    ck_assert_double_eq_tol(sqrt(ss / n), 1.0, 1e-2);
    gar_map_destroy(&m);
}
END_TEST

/* ------------------------------------------------------------ header errors */

/* A 4 x 4 x 4 mode-2 file whose header is altered by the caller. */
static const char *bad_file(const char *name, unsigned char *hdr)
{
    const char *path = test_tmpfile(TAG, name);
    write_raw(path, hdr, 1024, NULL, 0, 1024 + 4 * 4 * 4 * 4);
    return path;
}

/* A 4 x 4 x 4 mode-2 file with a header made wrong in one way: the mode or
 * pixel size given to make_header, up to three words set after it, or one
 * word set to NaN; and what reading it must say. */
static const struct header_case {
    const char *file;
    int32_t mode;
    float pixel;
    int nwords;
    struct {
        int word;
        uint32_t value;
    } words[3];
    int nan_word;  /* 0: none */
    int names_file;  /* the message must name the file too */
    const char *message;
} header_cases[] = {
    {"negnx.mrc", 2, 1.0f, 1, {{0, (uint32_t)-5}}, 0, 1, "nx = -5"},
    {"zeronx.mrc", 2, 1.0f, 1, {{0, 0}}, 0, 0, "nx = 0"},
    {"hugeny.mrc", 2, 1.0f, 1, {{1, 70000}}, 0, 0, "ny = 70000"},
    {"mode99.mrc", 99, 1.0f, 0, {{0, 0}}, 0, 0, "mode = 99"},
    /* nsymbt 4: the data would end 4 bytes past the end of file */
    {"shortext.mrc", 2, 1.0f, 1, {{23, 4}}, 0, 0, "data block shorter"},
    {"negext.mrc", 2, 1.0f, 1, {{23, (uint32_t)-8}}, 0, 0, "nsymbt = -8"},
    {"axis113.mrc", 2, 1.0f, 3, {{16, 1}, {17, 1}, {18, 3}}, 0, 0,
     "1,1,3: expected a permutation of 1,2,3"},
    {"axis213.mrc", 2, 1.0f, 3, {{16, 2}, {17, 1}, {18, 3}}, 0, 0, "axis order 2,1,3 not supported"},
    {"negpix.mrc", 2, -1.5f, 0, {{0, 0}}, 0, 0, "pixel size -1.5 Å is negative"},
    {"nanpix.mrc", 2, 1.0f, 0, {{0, 0}}, 10, 0, "not a finite number"},
};

START_TEST(test_error_header)
{
    const struct header_case *c = &header_cases[_i];
    unsigned char hdr[1024];
    const char *path;
    make_header(hdr, 0, 1, 4, 4, 4, c->mode, c->pixel);
    for (int k = 0; k < c->nwords; k++)
        put32(hdr, c->words[k].word, c->words[k].value, 0);
    if (c->nan_word)
        putf(hdr, c->nan_word, NAN, 0);
    path = bad_file(c->file, hdr);
    expect_read_error(path, GAR_ERR_DATA, c->message);
    if (c->names_file)
        ck_assert_ptr_nonnull(strstr(gar_errmsg(), c->file));
    cleanup(path);
}
END_TEST

/* A mode-2 file of nx x ny x nz cut to file_len bytes (header included). */
static void expect_short_data(const char *name, int32_t nx, int32_t ny, int32_t nz, size_t file_len)
{
    const char *path = test_tmpfile(TAG, name);
    unsigned char hdr[1024];
    make_header(hdr, 0, 1, nx, ny, nz, 2, 1.0f);
    write_raw(path, hdr, sizeof hdr, NULL, 0, file_len);
    expect_read_error(path, GAR_ERR_DATA, "data block shorter than the header says");
    cleanup(path);
}

START_TEST(test_error_billion_sections)
{
    expect_short_data("billion.mrc", 64, 64, 1000000000, (size_t)1 << 20);
    /* The message gives the file size so the user can see the mismatch. */
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "1048576"));
}
END_TEST

START_TEST(test_error_overflowing_size)
{
    /* nx*ny*nz*4 does not fit in 64 bits: must not wrap to something small. */
    expect_short_data("overflow.mrc", 65536, 65536, 2147483647, 4096);
}
END_TEST

START_TEST(test_error_short_data)
{
    const char *path = test_tmpfile(TAG, "short.mrc");
    unsigned char hdr[1024];
    static float half[8 * 8 * 4];
    make_header(hdr, 0, 1, 8, 8, 8, 2, 1.0f);
    write_raw(path, hdr, sizeof hdr, half, sizeof half, 0);
    expect_read_error(path, GAR_ERR_DATA, "data block shorter than the header says");
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "3072"));  /* actual size: 1024 + 2048 */
    cleanup(path);
}
END_TEST

START_TEST(test_error_missing_file)
{
    gar_mrc *mrc = (gar_mrc *)&mrc;
    expect_read_error(test_tmpfile(TAG, "no-such-file.mrc"), GAR_ERR_NOINPUT, "no-such-file.mrc");
    ck_assert_int_eq(gar_mrc_open(test_tmpfile(TAG, "no-such-file.mrc"), &mrc), GAR_ERR_NOINPUT);
    ck_assert_ptr_null(mrc);
    rmdir(test_tmpdir(TAG));
}
END_TEST

START_TEST(test_error_truncated_header)
{
    const char *path = test_tmpfile(TAG, "trunc.mrc");
    unsigned char hdr[1024];
    make_header(hdr, 0, 1, 4, 4, 4, 2, 1.0f);
    write_raw(path, hdr, 500, NULL, 0, 0);
    expect_read_error(path, GAR_ERR_DATA, "shorter than the 1024-byte MRC header");
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "500 bytes"));
    cleanup(path);
}
END_TEST

/* ------------------------------------------------------------ write errors */

START_TEST(test_write_missing_folder)
{
    const char *dir = test_tmpdir(TAG);
    char path[PATH_MAX];
    float v[8] = {0};
    gar_status st;
    ck_assert_int_lt(snprintf(path, sizeof path, "%s/no-such-dir/out.mrc", dir), (int)sizeof path);
    gar_error_clear();
    st = gar_mrc_write_data(path, v, 2, 2, 2, 1.0, GAR_MRC_VOLUME);
    ck_assert_int_eq(st, GAR_ERR_OUTPUT);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "no-such-dir/out.mrc"));
    ck_assert(!test_file_exists(path));
    ck_assert_int_eq(test_count_prefix(dir, "out.mrc"), 0);
    rmdir(dir);
}
END_TEST

START_TEST(test_write_bad_arguments)
{
    const char *path = test_tmpfile(TAG, "bad.mrc");
    float v[8] = {0};
    ck_assert_int_eq(gar_mrc_write_data(path, v, 0, 2, 2, 1.0, GAR_MRC_VOLUME), GAR_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "0 x 2 x 2"));
    ck_assert_int_eq(gar_mrc_write_data(path, v, 2, 2, 2, -1.0, GAR_MRC_VOLUME), GAR_ERR_USAGE);
    ck_assert_int_eq(gar_mrc_write_data(path, v, 2, 2, 2, NAN, GAR_MRC_VOLUME), GAR_ERR_USAGE);
    ck_assert(!test_file_exists(path));
    ck_assert_int_eq(test_count_prefix(test_tmpdir(TAG), "bad.mrc"), 0);
    cleanup(path);
}
END_TEST

START_TEST(test_write_onto_folder_leaves_no_temp)
{
    /* The rename fails (target is a non-empty folder): the temp file must go. */
    const char *path = test_tmpfile(TAG, "isdir.mrc");
    char inner[PATH_MAX];
    float v[8] = {0};
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_lt(snprintf(inner, sizeof inner, "%s/keep", path), (int)sizeof inner);
    write_raw(inner, (const unsigned char *)"x", 1, NULL, 0, 0);
    ck_assert_int_eq(gar_mrc_write_data(path, v, 2, 2, 2, 1.0, GAR_MRC_VOLUME), GAR_ERR_OUTPUT);
    ck_assert_int_eq(test_count_prefix(test_tmpdir(TAG), "isdir.mrc.tmp"), 0);
    unlink(inner);
    rmdir(path);
    rmdir(test_tmpdir(TAG));
}
END_TEST

static Suite *mrc_suite(void)
{
    TCase *rt = TEST_CASE("roundtrip", 0,
                          test_roundtrip_volume,
                          test_roundtrip_stack,
                          test_write_replaces_existing,
                          test_writer_kind,
                          test_reference_map);
    TCase *modes = TEST_CASE("modes", 0,
                             test_mode0_int8,
                             test_mode1_int16_both_orders,
                             test_mode6_uint16,
                             test_mode12_half,
                             test_mode2_big_endian,
                             test_mode2_little_unstamped,
                             test_big_endian_stamp_wins,
                             test_extended_header_and_zero_axes);
    TCase *err = TEST_CASE("errors", 0,
                           test_error_billion_sections,
                           test_error_overflowing_size,
                           test_error_short_data,
                           test_error_missing_file,
                           test_error_truncated_header);
    tcase_add_loop_test(err, test_error_header, 0, (int)(sizeof header_cases / sizeof header_cases[0]));
    TCase *wr = TEST_CASE("write", 0,
                          test_write_missing_folder,
                          test_write_bad_arguments,
                          test_write_onto_folder_leaves_no_temp);
    return test_suite("mrc", rt, modes, err, wr, NULL);
}

int main(void)
{
    return test_run_suite(mrc_suite());
}
