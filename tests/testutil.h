/* Shared helpers for garner's Check tests: where the test data is, and a
 * private scratch folder under the build tree (never the source tree, which
 * is read-only under `make distcheck`). */
#ifndef GAR_TESTUTIL_H
#define GAR_TESTUTIL_H

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* |a − b| / |a| over n values, in double. */
static inline double test_rel_l2(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)a[i] * a[i];
    }
    return sqrt(num / den);
}

/* $env/name, or fallback/name without $env; the last 16 answers stay valid. */
static inline const char *test_path_in(const char *env, const char *fallback, const char *name)
{
    static char buf[16][PATH_MAX];
    static int slot;
    const char *dir = getenv(env);
    char *out = buf[slot++ % 16];
    snprintf(out, PATH_MAX, "%s/%s", dir ? dir : fallback, name);
    return out;
}

/* $GAR_TEST_DATA/name (tests/data in the source tree). */
static inline const char *test_data(const char *name)
{
    return test_path_in("GAR_TEST_DATA", "tests/data", name);
}

/* $GAR_EXAMPLES/name (examples in the source tree): the example map
 * tii-64.mrc, shipped once for the users and the tests. */
static inline const char *test_example(const char *name)
{
    return test_path_in("GAR_EXAMPLES", "examples", name);
}

/* A fresh scratch folder tests/tmp/<tag>-<pid>, created on first use. */
static inline const char *test_tmpdir(const char *tag)
{
    static char dir[PATH_MAX];
    mkdir("tests", 0755);
    mkdir("tests/tmp", 0755);
    snprintf(dir, sizeof dir, "tests/tmp/%s-%ld", tag, (long)getpid());
    mkdir(dir, 0755);
    return dir;
}

/* tmpdir/name */
static inline const char *test_tmpfile(const char *tag, const char *name)
{
    static char buf[8][2 * PATH_MAX];
    static int slot;
    char *out = buf[slot++ % 8];
    snprintf(out, 2 * PATH_MAX, "%s/%s", test_tmpdir(tag), name);
    return out;
}

static inline int test_file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Count entries in a folder whose name starts with `prefix` (leftover temp files). */
#include <dirent.h>
static inline int test_count_prefix(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

/* Check helpers. Need <check.h> included before this header. */
#ifdef CHECK_H
/* The whole of a file in a new buffer (*len bytes, one spare byte after
 * them for a terminator); the caller frees it. */
static inline unsigned char *test_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* A test case `name` of n tests, each allowed `timeout` seconds (0: Check's
 * default, 4 s or $CK_DEFAULT_TIMEOUT). TEST_CASE counts the tests itself. */
static inline TCase *test_case_of(const char *name, double timeout, const TTest *const *tests,
                                  size_t n)
{
    TCase *tc = tcase_create(name);
    if (timeout > 0)
        tcase_set_timeout(tc, timeout);
    for (size_t i = 0; i < n; i++)
        tcase_add_test(tc, tests[i]);
    return tc;
}
#define TEST_CASE(name, timeout, ...)                                                            \
    test_case_of((name), (timeout), (const TTest *const[]){__VA_ARGS__},                         \
                 sizeof((const TTest *const[]){__VA_ARGS__}) / sizeof(const TTest *))

/* The suite `name` of the test cases given, up to a NULL. */
#include <stdarg.h>
static inline Suite *test_suite(const char *name, ...)
{
    Suite *s = suite_create(name);
    va_list ap;
    TCase *tc;
    va_start(ap, name);
    while ((tc = va_arg(ap, TCase *)) != NULL)
        suite_add_tcase(s, tc);
    va_end(ap);
    return s;
}

/* Run a suite and turn its outcome into the automake exit code. */
static inline int test_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
#endif

#endif
