/* NumPy .npy tables (hdf5io/gar_npy.c): a round trip through the writer and
 * reader, a header as numpy.save writes it, and the refusals, each naming the
 * file and the column or key. The fixtures are built here, byte by byte: no
 * numpy is needed. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gar_npy.h"
#include "testutil.h"

/* A .npy file of version 1.0 from a header dict and raw data bytes, padded
 * as numpy pads (spaces, a newline, data on a multiple of 64). */
static size_t make_npy(unsigned char *out, size_t cap, const char *dict, const void *data, size_t data_len)
{
    size_t base = strlen(dict), hlen = base + 1, n = 0;
    while ((10 + hlen) % 64 != 0)
        hlen++;
    ck_assert_uint_le(10 + hlen + data_len, cap);
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (unsigned char)(hlen & 0xff);
    out[9] = (unsigned char)(hlen >> 8);
    n = 10;
    memcpy(out + n, dict, base);
    memset(out + n + base, ' ', hlen - base - 1);
    out[n + hlen - 1] = '\n';
    n += hlen;
    memcpy(out + n, data, data_len);
    return n + data_len;
}

/* Expect a refusal naming `name` and containing `fragment`. */
static void expect_refusal(const unsigned char *buf, size_t len, const char *fragment)
{
    gar_npy *t = (gar_npy *)1;
    gar_status st = gar_npy_read_buffer(buf, len, "fix.cs", &t);
    ck_assert_int_eq(st, GAR_ERR_DATA);
    ck_assert_ptr_null(t);
    ck_assert_msg(strncmp(gar_errmsg(), "fix.cs: ", 8) == 0, "message does not name the file: %s", gar_errmsg());
    ck_assert_msg(strstr(gar_errmsg(), fragment) != NULL, "message lacks '%s': %s", fragment, gar_errmsg());
}

START_TEST(test_npy_round_trip)
{
    static const gar_npy_spec specs[] = {
        {"uid", "<u8", 1},          {"blob/path", "|S24", 1}, {"blob/idx", "<u4", 1}, {"blob/shape", "<u4", 2},
        {"ctf/df1_A", "<f4", 1},    {"alignments3D/pose", "<f4", 3}, {"n", "<i4", 1},  {"x", "<f8", 1},
    };
    const size_t nspec = sizeof specs / sizeof specs[0], rows = 5;
    gar_npy *t = NULL, *r = NULL;
    char path[256], s[64];
    snprintf(path, sizeof path, "tests/tmp/npy-%d.cs", (int)getpid());
    ck_assert_int_eq(system("mkdir -p tests/tmp"), 0);
    ck_assert_int_eq(gar_npy_create(specs, nspec, rows, &t), GAR_OK);
    for (size_t i = 0; i < rows; i++) {
        char p[32];
        snprintf(p, sizeof p, "J1/imported/p%zu.mrcs", i);
        ck_assert_int_eq(gar_npy_set_u64(t, 0, i, 0, 0xFEDCBA9876543210ull + i), GAR_OK);
        ck_assert_int_eq(gar_npy_set_string(t, 1, i, p), GAR_OK);
        ck_assert_int_eq(gar_npy_set_double(t, 2, i, 0, (double)i), GAR_OK);
        ck_assert_int_eq(gar_npy_set_double(t, 3, i, 0, 64), GAR_OK);
        ck_assert_int_eq(gar_npy_set_double(t, 3, i, 1, 64), GAR_OK);
        ck_assert_int_eq(gar_npy_set_double(t, 4, i, 0, 15000.5 + i), GAR_OK);
        for (size_t k = 0; k < 3; k++)
            ck_assert_int_eq(gar_npy_set_double(t, 5, i, k, 0.1 * (double)(k + 1) - 0.3 * (double)i), GAR_OK);
        ck_assert_int_eq(gar_npy_set_double(t, 6, i, 0, -7.0 * (double)i), GAR_OK);
        ck_assert_int_eq(gar_npy_set_double(t, 7, i, 0, 1.0 / 3.0 + (double)i), GAR_OK);
    }
    /* Values the types cannot hold are refused, not truncated. */
    ck_assert_int_ne(gar_npy_set_string(t, 1, 0, "a path longer than twenty-four bytes"), GAR_OK);
    ck_assert_int_ne(gar_npy_set_double(t, 2, 0, 0, -1.0), GAR_OK);
    ck_assert_int_ne(gar_npy_set_double(t, 2, 0, 0, 0.5), GAR_OK);
    ck_assert_int_eq(gar_npy_write(t, path), GAR_OK);
    ck_assert_int_eq(gar_npy_read(path, &r), GAR_OK);
    ck_assert_uint_eq(gar_npy_rows(r), rows);
    ck_assert_uint_eq(gar_npy_n_columns(r), nspec);
    ck_assert_int_eq(gar_npy_find(r, "alignments3D/pose"), 5);
    ck_assert_int_eq(gar_npy_find(r, "nothing"), -1);
    ck_assert_uint_eq(gar_npy_column_at(r, 3)->count, 2);
    ck_assert_int_eq(gar_npy_column_at(r, 3)->ndim, 1);
    for (size_t i = 0; i < rows; i++) {
        uint64_t u;
        double d;
        char p[32];
        ck_assert_int_eq(gar_npy_get_u64(r, 0, i, 0, &u), GAR_OK);
        ck_assert(u == 0xFEDCBA9876543210ull + i);
        ck_assert_int_eq(gar_npy_get_string(r, 1, i, s, sizeof s), GAR_OK);
        snprintf(p, sizeof p, "J1/imported/p%zu.mrcs", i);
        ck_assert_str_eq(s, p);
        ck_assert_int_eq(gar_npy_get_double(r, 2, i, 0, &d), GAR_OK);
        ck_assert_double_eq(d, (double)i);
        ck_assert_int_eq(gar_npy_get_double(r, 3, i, 1, &d), GAR_OK);
        ck_assert_double_eq(d, 64.0);
        ck_assert_int_eq(gar_npy_get_double(r, 4, i, 0, &d), GAR_OK);
        ck_assert_double_eq(d, (double)(float)(15000.5 + i));
        for (size_t k = 0; k < 3; k++) {
            ck_assert_int_eq(gar_npy_get_double(r, 5, i, k, &d), GAR_OK);
            ck_assert_double_eq(d, (double)(float)(0.1 * (double)(k + 1) - 0.3 * (double)i));
        }
        ck_assert_int_eq(gar_npy_get_double(r, 6, i, 0, &d), GAR_OK);
        ck_assert_double_eq(d, -7.0 * (double)i);
        ck_assert_int_eq(gar_npy_get_double(r, 7, i, 0, &d), GAR_OK);
        ck_assert_double_eq(d, 1.0 / 3.0 + (double)i);
    }
    /* A string is not a number, a negative integer not an unsigned one. */
    {
        double d;
        uint64_t u;
        ck_assert_int_eq(gar_npy_get_double(r, 1, 0, 0, &d), GAR_ERR_DATA);
        ck_assert_ptr_nonnull(strstr(gar_errmsg(), "column 'blob/path'"));
        ck_assert_int_eq(gar_npy_get_u64(r, 6, 1, 0, &u), GAR_ERR_DATA);
    }
    /* The file is what numpy writes: version 1.0, data on a 64-byte boundary. */
    {
        FILE *f = fopen(path, "rb");
        unsigned char head[10];
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fread(head, 1, 10, f), 10);
        fclose(f);
        ck_assert_int_eq(memcmp(head, "\x93NUMPY\x01\x00", 8), 0);
        ck_assert_uint_eq((10 + (head[8] | head[9] << 8)) % 64, 0);
    }
    gar_npy_destroy(&t);
    gar_npy_destroy(&r);
    gar_npy_destroy(&r); /* NULL-safe */
    unlink(path);
}
END_TEST

/* The header exactly as numpy.save writes a cryoSPARC-like table, with a
 * padding column, a 'U' string and columns garner does not convert. */
START_TEST(test_npy_numpy_header)
{
    unsigned char buf[1024], data[2 * 42]; /* 42-byte records */
    const char *dict = "{'descr': [('uid', '<u8'), ('blob/path', '|S8'), ('', '|V2'), ('name', '<U3'), "
                       "('h', '<f2'), ('flag', '|b1'), ('ctf/type', '|S1'), ('when', '<M8[ns]')], "
                       "'fortran_order': False, 'shape': (2,), }";
    gar_npy *t = NULL;
    char s[16];
    double d;
    memset(data, 0, sizeof data);
    for (int i = 0; i < 2; i++) {
        unsigned char *rec = data + 42 * i;
        uint64_t uid = 42 + (uint64_t)i;
        uint32_t u[3] = {'a', 'b', (uint32_t)('0' + i)};
        memcpy(rec, &uid, 8);
        memcpy(rec + 8, "J3/x.mrc", 8); /* 8 bytes: no NUL */
        memcpy(rec + 18, u, 12);
        rec[32] = 1;
    }
    size_t len = make_npy(buf, sizeof buf, dict, data, sizeof data);
    ck_assert_int_eq(gar_npy_read_buffer(buf, len, "fix.cs", &t), GAR_OK);
    ck_assert_uint_eq(gar_npy_rows(t), 2);
    ck_assert_int_eq(gar_npy_get_string(t, gar_npy_find(t, "blob/path"), 1, s, sizeof s), GAR_OK);
    ck_assert_str_eq(s, "J3/x.mrc");
    ck_assert_int_eq(gar_npy_get_string(t, gar_npy_find(t, "name"), 1, s, sizeof s), GAR_OK);
    ck_assert_str_eq(s, "ab1");
    ck_assert_int_eq(gar_npy_get_double(t, gar_npy_find(t, "flag"), 0, 0, &d), GAR_OK);
    ck_assert_double_eq(d, 1.0);
    ck_assert_int_eq(gar_npy_get_double(t, 0, 1, 0, &d), GAR_OK);
    ck_assert_double_eq(d, 43.0);
    ck_assert_int_eq(gar_npy_get_double(t, gar_npy_find(t, "h"), 0, 0, &d), GAR_ERR_DATA);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "column 'h'"));
    /* A string too long for the caller's buffer is an error, not a cut. */
    ck_assert_int_eq(gar_npy_get_string(t, gar_npy_find(t, "blob/path"), 0, s, 4), GAR_ERR_DATA);
    gar_npy_destroy(&t);
}
END_TEST

START_TEST(test_npy_refusals)
{
    unsigned char buf[1024], data[64];
    size_t len;
    memset(data, 0, sizeof data);
    /* not .npy at all */
    expect_refusal((const unsigned char *)"hello world, not numpy", 22, "not a NumPy .npy file");
    expect_refusal((const unsigned char *)"\x94" "CSDAT\x00\x00\x00\x00\x00\x00", 12, "compressed dataset");
    /* a version numpy never wrote */
    len = make_npy(buf, sizeof buf, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", data, 4);
    buf[6] = 4;
    expect_refusal(buf, len, "format version 4.0");
    /* Fortran order */
    len = make_npy(buf, sizeof buf, "{'descr': [('a', '<f4')], 'fortran_order': True, 'shape': (1,), }", data, 4);
    expect_refusal(buf, len, "'fortran_order' is True");
    /* an object column: the body would be a pickle */
    len = make_npy(buf, sizeof buf,
                   "{'descr': [('uid', '<u8'), ('blob/path', '|O')], 'fortran_order': False, 'shape': (1,), }",
                   data, 16);
    expect_refusal(buf, len, "column 'blob/path' is a Python object column");
    expect_refusal(buf, len, "re-export with string paths");
    /* big-endian */
    len = make_npy(buf, sizeof buf, "{'descr': [('ctf/df1_A', '>f4')], 'fortran_order': False, 'shape': (1,), }",
                   data, 4);
    expect_refusal(buf, len, "column 'ctf/df1_A' has the big-endian type '>f4'");
    /* truncated data: 3 rows of 12 bytes declared, 30 present */
    len = make_npy(buf, sizeof buf,
                   "{'descr': [('a', '<f4'), ('b', '<u8')], 'fortran_order': False, 'shape': (3,), }", data, 30);
    expect_refusal(buf, len, "truncated: 3 rows of 12 bytes need 36 bytes of data, the file has 30");
    /* truncated header */
    len = make_npy(buf, sizeof buf, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", data, 4);
    expect_refusal(buf, 40, "truncated: the .npy header needs");
    /* not a structured array, not 1-D, unknown keys, duplicate columns */
    len = make_npy(buf, sizeof buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", data, 4);
    expect_refusal(buf, len, "expected a structured array");
    len = make_npy(buf, sizeof buf, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1, 1), }", data, 4);
    expect_refusal(buf, len, "'shape' has 2 dimensions, expected 1");
    len = make_npy(buf, sizeof buf, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), 'x': 1}",
                   data, 4);
    expect_refusal(buf, len, "unexpected key 'x'");
    len = make_npy(buf, sizeof buf, "{'descr': [('a', '<f4')], 'shape': (1,), }", data, 4);
    expect_refusal(buf, len, "missing key 'fortran_order'");
    len = make_npy(buf, sizeof buf, "{'descr': [('a', '<f4'), ('a', '<f4')], 'fortran_order': False, 'shape': (1,), }",
                   data, 8);
    expect_refusal(buf, len, "column 'a' appears twice");
    /* trailing bytes after the declared rows */
    len = make_npy(buf, sizeof buf, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", data, 8);
    expect_refusal(buf, len, "4 bytes after the 1 rows");
    /* a missing file is GAR_ERR_NOINPUT naming it */
    {
        gar_npy *t = NULL;
        ck_assert_int_eq(gar_npy_read("tests/tmp/no-such-file.cs", &t), GAR_ERR_NOINPUT);
        ck_assert_ptr_nonnull(strstr(gar_errmsg(), "no-such-file.cs"));
    }
}
END_TEST

int main(void)
{
    TCase *tc = TEST_CASE("npy", 60, test_npy_round_trip, test_npy_numpy_header, test_npy_refusals);
    return test_run_suite(test_suite("npy", tc, NULL));
}
