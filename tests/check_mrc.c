/* Unit tests for hdf5io/gar_mrc.c: round trips, every supported mode and byte
 * order from hand-built files, and every header check. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <bzlib.h>
#include <zlib.h>

#include "gar_decompress.h"
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
    /* ispg 0 and 4 sections: a stack, which is not reordered */
    {"axis213.mrc", 2, 1.0f, 3, {{16, 2}, {17, 1}, {18, 3}}, 0, 0, "axis order 2,1,3 on an image stack"},
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

/* ------------------------------------------------------------ compressed files */

/* The whole of a file, into a new buffer (*len bytes). */

/* src compressed with zlib (gzip wrapper) or libbz2 into dst; the inputs of
 * these tests are made here, so nothing is stored beside them. */
static void compress_file(const char *src, const char *dst, int bzip2)
{
    size_t len, cap;
    unsigned char *plain = test_slurp(src, &len), *packed;
    FILE *f;
    cap = len + len / 50 + 1024;
    packed = malloc(cap);
    ck_assert_ptr_nonnull(packed);
    if (bzip2) {
        unsigned int out = (unsigned int)cap;
        ck_assert_int_eq(BZ2_bzBuffToBuffCompress((char *)packed, &out, (char *)plain, (unsigned int)len, 9, 0, 0),
                         BZ_OK);
        cap = out;
    } else {
        z_stream z;
        memset(&z, 0, sizeof z);
        ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
        z.next_in = plain;
        z.avail_in = (uInt)len;
        z.next_out = packed;
        z.avail_out = (uInt)cap;
        ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
        cap = z.total_out;
        deflateEnd(&z);
    }
    f = fopen(dst, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(packed, 1, cap, f), cap);
    ck_assert_int_eq(fclose(f), 0);
    free(plain);
    free(packed);
}

/* A volume and a stack written plainly, then gzip'ed and bzip2'ed: the
 * compressed files read back bit for bit, whole and section by section. */
START_TEST(test_compressed_volume_and_stack)
{
    const char *plain = test_tmpfile(TAG, "plain.mrc");
    const char *packed[2] = {test_tmpfile(TAG, "v.mrc.gz"), test_tmpfile(TAG, "v.mrc.bz2")};
    const size_t nx = 16, ny = 12, nz = 10, n = 16 * 12 * 10;
    float vol[16 * 12 * 10], sec[16 * 12];
    gar_map *back = NULL;
    gar_mrc *mrc = NULL;
    int k;
    size_t z;

    fill_pattern(vol, n);
    /* As a volume (gar_mrc_read). */
    ck_assert_int_eq(gar_mrc_write_data(plain, vol, nx, ny, nz, 1.25, GAR_MRC_VOLUME), GAR_OK);
    for (k = 0; k < 2; k++) {
        compress_file(plain, packed[k], k);
        ck_assert_msg(gar_mrc_read(packed[k], &back) == GAR_OK, "%s", gar_errmsg());
        ck_assert_uint_eq(back->nx, nx);
        ck_assert_uint_eq(back->ny, ny);
        ck_assert_uint_eq(back->nz, nz);
        ck_assert_double_eq_tol(back->pixel_size, 1.25, 1e-12);
        ck_assert_int_eq(memcmp(back->data, vol, sizeof vol), 0);
        gar_map_destroy(&back);
    }
    /* As a stack of 10 images read one at a time (gar_mrc_open), in int16
     * big-endian so conversion from memory is covered too. */
    {
        unsigned char hdr[1024], raw[16 * 12 * 10 * 2];
        size_t i;
        make_header(hdr, 1, 1, (int32_t)nx, (int32_t)ny, (int32_t)nz, 1, 1.0f);
        for (i = 0; i < n; i++) {
            int16_t v = (int16_t)(i * 37 % 65536 - 32768);
            raw[2 * i] = (unsigned char)((uint16_t)v >> 8);
            raw[2 * i + 1] = (unsigned char)((uint16_t)v & 0xff);
            vol[i] = (float)v;
        }
        write_raw(plain, hdr, sizeof hdr, raw, sizeof raw, 0);
    }
    for (k = 0; k < 2; k++) {
        compress_file(plain, packed[k], k);
        ck_assert_msg(gar_mrc_open(packed[k], &mrc) == GAR_OK, "%s", gar_errmsg());
        ck_assert_uint_eq(gar_mrc_nz(mrc), nz);
        ck_assert_int_eq(gar_mrc_mode(mrc), 1);
        for (z = 0; z < nz; z++) {
            ck_assert_int_eq(gar_mrc_read_sections(mrc, z, 1, sec), GAR_OK);
            ck_assert_int_eq(memcmp(sec, vol + z * nx * ny, sizeof sec), 0);
        }
        ck_assert_int_ne(gar_mrc_read_sections(mrc, nz, 1, sec), GAR_OK);
        gar_mrc_close(&mrc);
    }
    unlink(packed[0]);
    unlink(packed[1]);
    cleanup(plain);
}
END_TEST

/* A .gz cut short, and a .bz2 with a byte changed: refused naming the file. */
START_TEST(test_compressed_truncated_or_corrupt)
{
    const char *plain = test_tmpfile(TAG, "whole.mrc");
    const char *gz = test_tmpfile(TAG, "cut.mrc.gz"), *bz = test_tmpfile(TAG, "bad.mrc.bz2");
    float vol[8 * 8 * 8];
    unsigned char *bytes;
    size_t len;
    FILE *f;

    fill_pattern(vol, 8 * 8 * 8);
    ck_assert_int_eq(gar_mrc_write_data(plain, vol, 8, 8, 8, 1.0, GAR_MRC_VOLUME), GAR_OK);
    compress_file(plain, gz, 0);
    bytes = test_slurp(gz, &len);
    f = fopen(gz, "wb");
    ck_assert_uint_eq(fwrite(bytes, 1, len / 2, f), len / 2);
    fclose(f);
    free(bytes);
    expect_read_error(gz, GAR_ERR_DATA, "end early");
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "cut.mrc.gz"));
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "truncated"));

    compress_file(plain, bz, 1);
    bytes = test_slurp(bz, &len);
    bytes[len / 2] ^= 0x55;
    f = fopen(bz, "wb");
    ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
    fclose(f);
    free(bytes);
    expect_read_error(bz, GAR_ERR_DATA, "bad.mrc.bz2: bzip2 data corrupt");
    unlink(gz);
    unlink(bz);
    cleanup(plain);
}
END_TEST

/* Two gzip members read as their concatenation (pigz, cat a.gz b.gz), zero
 * padding after the end ignored, other bytes after it refused, and the
 * ceiling on the decompressed size. */
START_TEST(test_decompress_buffer_rules)
{
    const char text[] = "data_\nloop_\n_rlnImageName\n";
    unsigned char one[256], two[512], *out = NULL;
    size_t n1, len = 0;
    uLongf cap = sizeof one;
    z_stream z;

    memset(&z, 0, sizeof z);
    ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (unsigned char *)(uintptr_t)text;
    z.avail_in = sizeof text - 1;
    z.next_out = one;
    z.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    n1 = z.total_out;
    deflateEnd(&z);
    memcpy(two, one, n1);
    memcpy(two + n1, one, n1);

    ck_assert_int_eq(gar_decompress_buffer(two, 2 * n1, "two.gz", 1 << 20, &out, &len), GAR_OK);
    ck_assert_uint_eq(len, 2 * (sizeof text - 1));
    ck_assert_int_eq(memcmp(out, text, sizeof text - 1), 0);
    ck_assert_int_eq(memcmp(out + sizeof text - 1, text, sizeof text - 1), 0);
    ck_assert_int_eq(out[len], '\0');
    free(out);

    memset(two + n1, 0, 100);
    ck_assert_int_eq(gar_decompress_buffer(two, n1 + 100, "pad.gz", 1 << 20, &out, &len), GAR_OK);
    ck_assert_uint_eq(len, sizeof text - 1);
    free(out);

    memcpy(two + n1, "junk", 4);
    ck_assert_int_eq(gar_decompress_buffer(two, n1 + 4, "junk.gz", 1 << 20, &out, &len), GAR_ERR_DATA);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "junk.gz: bytes after the end of the gzip data"));

    ck_assert_int_eq(gar_decompress_buffer(one, n1, "big.gz", 10, &out, &len), GAR_ERR_NOMEM);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "big.gz: decompresses to more than"));
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "decompress it to a file first"));
}
END_TEST

/* ------------------------------------------------------------ not MRC */

/* Files of other kinds given as MRC: each named in the message. */
static const struct kind_case {
    const char *file;
    const char *bytes;
    size_t len;        /* binary kinds are padded with zeros to 4 KiB, so the
                        * size check cannot be what refuses them; text is not */
    const char *message;
} kind_cases[] = {
    {"x.tif", "II*\0\x08\0\0\0\0\0\0\0", 12, "x.tif: a TIFF image, not MRC"},
    {"y.tiff", "MM\0*\0\0\0\x08\0\0\0\0", 12, "y.tiff: a TIFF image, not MRC"},
    {"x.h5", "\x89HDF\r\n\x1a\n\0\0\0\0", 12, "x.h5: an HDF5 file, not MRC"},
    {"x.png", "\x89PNG\r\n\x1a\n\0\0\0\x0d", 12, "x.png: a PNG image, not MRC"},
    {"x.mrc.zst", "\x28\xb5\x2f\xfd\0\0\0\0", 8, "x.mrc.zst: a zstd-compressed file, not MRC: garner decompresses gzip and bzip2 only; decompress it first (zstd -d)"},
    {"x.mrc.xz", "\xfd" "7zXZ\0\0\0", 8, "x.mrc.xz: an xz-compressed file, not MRC"},
    {"x.zip", "PK\3\4\0\0\0\0", 8, "x.zip: a zip archive, not MRC"},
    {"p.star", "# version 30001\n\ndata_optics\n\nloop_\n", 36, "p.star: a STAR file (text), not MRC"},
    {"notes.mrc", "not a map\n", 10, "notes.mrc: a text file, not MRC"},
    {"p.cs", "\x93NUMPY\x01\0v\0", 10, "p.cs: a NumPy array file (a cryoSPARC .cs table?), not MRC"},
};

START_TEST(test_error_other_kind)
{
    const struct kind_case *c = &kind_cases[_i];
    const char *path = test_tmpfile(TAG, c->file);
    int text = memchr(c->bytes, '\0', c->len) == NULL && (unsigned char)c->bytes[0] < 0x80;
    write_raw(path, (const unsigned char *)c->bytes, c->len, NULL, 0, text ? 0 : 4096);
    expect_read_error(path, GAR_ERR_DATA, c->message);
    cleanup(path);
}
END_TEST

/* A gzip'ed TIFF is named as what it is once decompressed. */
START_TEST(test_error_compressed_other_kind)
{
    const char *tif = test_tmpfile(TAG, "i.tif"), *gz = test_tmpfile(TAG, "i.tif.gz");
    write_raw(tif, (const unsigned char *)"II*\0\x08\0\0\0", 8, NULL, 0, 4096);
    compress_file(tif, gz, 0);
    expect_read_error(gz, GAR_ERR_DATA, "i.tif.gz (decompressed): a TIFF image, not MRC");
    unlink(tif);
    cleanup(gz);
}
END_TEST

static void put_spider_word(unsigned char *hdr, int word, float v)
{
    putf(hdr, word, v, 1);  /* SPIDER files are often big-endian */
}

START_TEST(test_error_spider_and_unknown)
{
    const char *path = test_tmpfile(TAG, "vol.spi");
    unsigned char hdr[1024];
    size_t k;
    /* A 16 x 16 x 16 SPIDER volume: nslice, nrow, irec, iform 3, nsam,
     * labrec 1 (a label of one 64-byte record would be short: here 4 records
     * of 64 bytes = 256 bytes), labbyt, lenbyt. */
    memset(hdr, 0, sizeof hdr);
    put_spider_word(hdr, 0, 16);
    put_spider_word(hdr, 1, 16);
    put_spider_word(hdr, 2, 20);
    put_spider_word(hdr, 4, 3);
    put_spider_word(hdr, 11, 16);
    put_spider_word(hdr, 12, 4);
    put_spider_word(hdr, 21, 256);
    put_spider_word(hdr, 22, 64);
    write_raw(path, hdr, sizeof hdr, NULL, 0, 256 + 16 * 16 * 16 * 4);
    expect_read_error(path, GAR_ERR_DATA, "vol.spi: looks like a SPIDER file (16 x 16 x 16), not MRC");

    /* Random-looking bytes without the MAP stamp: "not an MRC file", with the
     * header check that failed. */
    for (k = 0; k < sizeof hdr; k++)
        hdr[k] = (unsigned char)(k * 131 + 7);
    write_raw(path, hdr, sizeof hdr, NULL, 0, 8192);
    expect_read_error(path, GAR_ERR_DATA, "vol.spi: not an MRC file (no MAP stamp at byte 208, and header: nx = ");
    cleanup(path);
}
END_TEST

/* Old MRC files (before MRC2014) have no MAP stamp: still read. */
START_TEST(test_old_file_without_stamp)
{
    const char *path = test_tmpfile(TAG, "old.mrc");
    unsigned char hdr[1024];
    const float want[6] = {1, 2, 3, 4, 5, 6};
    unsigned char le[24];
    gar_map *m = NULL;
    make_header(hdr, 0, 0, 3, 2, 1, 2, 1.0f);
    memset(hdr + 208, 0, 4);
    float_bytes(want, 6, 0, le);
    write_raw(path, hdr, sizeof hdr, le, sizeof le, 0);
    ck_assert_msg(gar_mrc_read(path, &m) == GAR_OK, "%s", gar_errmsg());
    ck_assert_int_eq(memcmp(m->data, want, sizeof want), 0);
    gar_map_destroy(&m);
    cleanup(path);
}
END_TEST

/* ------------------------------------------------------------ axis orders */

/* A 5 x 4 x 3 reference volume (x fastest) written in the axis order
 * mapc,mapr,maps: the file's columns run along axis mapc, and so on. Read
 * back it must equal the reference with nx, ny, nz and the origin words
 * (nxstart...) permuted back. mode 2 or 1 (int16: two-byte voxels). */
static void expect_axis_order(int mapc, int mapr, int maps, int mode, int gz)
{
    enum { NX = 5, NY = 4, NZ = 3 };
    const size_t n_xyz[3] = {NX, NY, NZ};
    const long start_xyz[3] = {-2, 7, 11};
    const int axis[3] = {mapc, mapr, maps};
    const char *path = test_tmpfile(TAG, "axes.mrc"), *packed = test_tmpfile(TAG, "axes.mrc.gz");
    float ref[NX * NY * NZ];
    unsigned char hdr[1024], data[NX * NY * NZ * 4], *p = data;
    size_t fdim[3], c, r, s, i;
    gar_map *m = NULL;
    gar_mrc_header h;

    for (i = 0; i < NX * NY * NZ; i++)
        ref[i] = (float)(i * 3 + 1);   /* distinct, exact in int16 too */
    for (int k = 0; k < 3; k++)
        fdim[k] = n_xyz[axis[k] - 1];
    make_header(hdr, 0, 1, (int32_t)fdim[0], (int32_t)fdim[1], (int32_t)fdim[2], mode, 2.0f);
    /* cella and mx..mz are along x, y, z whatever the order. */
    put32(hdr, 7, NX, 0);
    put32(hdr, 8, NY, 0);
    put32(hdr, 9, NZ, 0);
    putf(hdr, 10, 2.0f * NX, 0);
    putf(hdr, 11, 2.0f * NY, 0);
    putf(hdr, 12, 2.0f * NZ, 0);
    put32(hdr, 22, 1, 0);  /* ispg 1: a volume */
    for (int k = 0; k < 3; k++) {
        put32(hdr, 16 + k, (uint32_t)axis[k], 0);
        put32(hdr, 4 + k, (uint32_t)start_xyz[axis[k] - 1], 0);
    }
    for (s = 0; s < fdim[2]; s++)
        for (r = 0; r < fdim[1]; r++)
            for (c = 0; c < fdim[0]; c++) {
                size_t xyz[3];
                float v;
                xyz[axis[0] - 1] = c;
                xyz[axis[1] - 1] = r;
                xyz[axis[2] - 1] = s;
                v = ref[(xyz[2] * NY + xyz[1]) * NX + xyz[0]];
                if (mode == 2) {
                    putf(p, 0, v, 0);
                    p += 4;
                } else {
                    uint16_t u = (uint16_t)(int16_t)v;
                    p[0] = (unsigned char)(u & 0xff);
                    p[1] = (unsigned char)(u >> 8);
                    p += 2;
                }
            }
    write_raw(path, hdr, sizeof hdr, data, (size_t)(p - data), 0);

    ck_assert_msg(gar_mrc_validate_header(hdr, sizeof hdr, 1024 + (size_t)(p - data), "axes.mrc", &h) == GAR_OK,
                  "%s", gar_errmsg());
    ck_assert_uint_eq(h.nx, NX);
    ck_assert_uint_eq(h.ny, NY);
    ck_assert_uint_eq(h.nz, NZ);
    ck_assert_uint_eq(h.ncols, fdim[0]);
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(h.start[k], start_xyz[k]);

    if (gz)
        compress_file(path, packed, 0);
    ck_assert_msg(gar_mrc_read(gz ? packed : path, &m) == GAR_OK, "%d,%d,%d: %s", mapc, mapr, maps, gar_errmsg());
    ck_assert_uint_eq(m->nx, NX);
    ck_assert_uint_eq(m->ny, NY);
    ck_assert_uint_eq(m->nz, NZ);
    ck_assert_double_eq_tol(m->pixel_size, 2.0, 1e-12);
    for (i = 0; i < NX * NY * NZ; i++)
        ck_assert_msg(m->data[i] == ref[i], "order %d,%d,%d mode %d: voxel %zu is %g, expected %g", mapc, mapr,
                      maps, mode, i, m->data[i], ref[i]);
    gar_map_destroy(&m);
    unlink(packed);
    cleanup(path);
}

START_TEST(test_axis_orders)
{
    static const int perms[6][3] = {{1, 2, 3}, {1, 3, 2}, {2, 1, 3}, {2, 3, 1}, {3, 1, 2}, {3, 2, 1}};
    for (int k = 0; k < 6; k++)
        expect_axis_order(perms[k][0], perms[k][1], perms[k][2], 2, 0);
    expect_axis_order(3, 1, 2, 1, 0);
    expect_axis_order(2, 1, 3, 1, 1);   /* gzip'ed and reordered */
    expect_axis_order(3, 2, 1, 2, 1);
}
END_TEST

/* A stack (ispg 0, several sections) in another order is refused: its
 * sections are images, which reordering would mix with an image axis. */
START_TEST(test_axis_order_stack_refused)
{
    unsigned char hdr[1024];
    const char *path;
    make_header(hdr, 0, 1, 4, 4, 4, 2, 1.0f);
    put32(hdr, 16, 2, 0);
    put32(hdr, 17, 1, 0);
    put32(hdr, 18, 3, 0);
    path = bad_file("stack213.mrcs", hdr);
    expect_read_error(path, GAR_ERR_DATA, "axis order 2,1,3 on an image stack (ispg 0, 4 sections): not supported");
    put32(hdr, 22, 401, 0);
    path = bad_file("vstack213.mrc", hdr);
    expect_read_error(path, GAR_ERR_DATA, "on an image stack (ispg 401");
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
    tcase_add_test(err, test_axis_order_stack_refused);
    tcase_add_test(err, test_error_compressed_other_kind);
    tcase_add_test(err, test_error_spider_and_unknown);
    tcase_add_loop_test(err, test_error_other_kind, 0, (int)(sizeof kind_cases / sizeof kind_cases[0]));
    TCase *packed = TEST_CASE("compressed", 0,
                              test_compressed_volume_and_stack,
                              test_compressed_truncated_or_corrupt,
                              test_decompress_buffer_rules);
    TCase *axes = TEST_CASE("axis-orders", 0,
                            test_axis_orders,
                            test_old_file_without_stamp);
    TCase *wr = TEST_CASE("write", 0,
                          test_write_missing_folder,
                          test_write_bad_arguments,
                          test_write_onto_folder_leaves_no_temp);
    return test_suite("mrc", rt, modes, err, packed, axes, wr, NULL);
}

int main(void)
{
    return test_run_suite(mrc_suite());
}
