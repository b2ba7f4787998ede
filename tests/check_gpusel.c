/* Which GPUs a rank drives: parsing [gpu] devices, the node-local binding
 * rule, the fallback to the CPU, and the tuning cache's default place. Pure
 * logic: runs on every machine, GPU or not. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "gar_gpu.h"
#include "gar_gpusel.h"
#include "testutil.h"

static void expect_devices(const int *got, size_t n, const int *want, size_t n_want)
{
    ck_assert_uint_eq(n, n_want);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(got[i], want[i]);
}

START_TEST(test_parse)
{
    int d[GAR_GPU_MAX_DEVICES], is_auto;
    size_t n;
    const int one_two[] = {1, 2}, twice[] = {0, 0, 3};
    ck_assert_int_eq(gar_gpu_parse_devices("auto", &is_auto, d, &n), GAR_OK);
    ck_assert(is_auto && n == 0);
    ck_assert_int_eq(gar_gpu_parse_devices("none", &is_auto, d, &n), GAR_OK);
    ck_assert(!is_auto && n == 0);
    ck_assert_int_eq(gar_gpu_parse_devices("1,2", &is_auto, d, &n), GAR_OK);
    expect_devices(d, n, one_two, 2);
    ck_assert_int_eq(gar_gpu_parse_devices("0, 0 ,3", &is_auto, d, &n), GAR_OK);
    expect_devices(d, n, twice, 3);
    const char *bad[] = {"", "x", "0,", ",1", "0;1", "-1", "1024", "0,,1", "auto,0", "gpu0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(gar_gpu_parse_devices(bad[i], &is_auto, d, &n) == GAR_ERR_USAGE, "'%s' accepted", bad[i]);
        ck_assert_ptr_nonnull(strstr(gar_errmsg(), "expected auto, none, or device numbers"));
    }
}
END_TEST

/* W workers on a node with G devices: every device used when W <= G, each
 * by one worker; W > G: workers share, each device by at most ceil(W/G). */
START_TEST(test_bind)
{
    int d[GAR_GPU_MAX_DEVICES];
    size_t n;
    const int w0of2[] = {0, 2}, w1of2[] = {1, 3}, only[] = {0, 1, 2, 3};
    gar_gpu_bind(4, 0, 1, d, &n);
    expect_devices(d, n, only, 4);
    gar_gpu_bind(4, 0, 2, d, &n);
    expect_devices(d, n, w0of2, 2);
    gar_gpu_bind(4, 1, 2, d, &n);
    expect_devices(d, n, w1of2, 2);
    for (int G = 1; G <= 8; G++)
        for (int W = 1; W <= 12; W++) {
            int used[8] = {0};
            for (int w = 0; w < W; w++) {
                gar_gpu_bind(G, w, W, d, &n);
                ck_assert_msg(n >= 1, "G %d W %d: worker %d got no device", G, W, w);
                for (size_t i = 0; i < n; i++) {
                    ck_assert(d[i] >= 0 && d[i] < G);
                    used[d[i]]++;
                }
            }
            for (int g = 0; g < G; g++) {
                ck_assert_msg(used[g] >= 1, "G %d W %d: device %d unused", G, W, g);
                ck_assert_msg(used[g] <= (W + G - 1) / G, "G %d W %d: device %d used %d times", G, W, g, used[g]);
            }
        }
    gar_gpu_bind(0, 0, 1, d, &n);
    ck_assert_uint_eq(n, 0);
    gar_gpu_bind(2, 0, 0, d, &n);   /* the master */
    ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_choose)
{
    int d[GAR_GPU_MAX_DEVICES], count = 0;
    size_t n = 99;
    char why[512];
    ck_assert_int_eq(gar_gpu_choose("none", 0, 1, d, &n, why, sizeof why), GAR_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_str_eq(why, "[gpu] devices = none");
    ck_assert_int_eq(gar_gpu_choose("0", 0, 0, d, &n, why, sizeof why), GAR_OK);
    ck_assert_uint_eq(n, 0);   /* the master of a multi-rank run */
    ck_assert_int_eq(gar_gpu_choose("auto", 0, 1, d, &n, why, sizeof why), GAR_OK);
    if (gar_gpu_device_count(&count) != GAR_OK) {
        /* No GPU: auto falls back to the CPU and says why; a list is an error. */
        ck_assert_uint_eq(n, 0);
        ck_assert_ptr_nonnull(strstr(why, "found no GPU"));
        ck_assert_int_ne(gar_gpu_choose("0", 0, 1, d, &n, why, sizeof why), GAR_OK);
        ck_assert_ptr_nonnull(strstr(gar_errmsg(), "GPU 0 asked for, but"));
    } else {
        ck_assert_uint_eq(n, (size_t)count);
        ck_assert_int_eq(gar_gpu_choose("0,0", 0, 1, d, &n, why, sizeof why), GAR_OK);
        ck_assert_uint_eq(n, 2);
        ck_assert_int_eq(gar_gpu_choose("1023", 0, 1, d, &n, why, sizeof why), GAR_ERR_USAGE);
        ck_assert_ptr_nonnull(strstr(gar_errmsg(), "GPU 1023 asked for, but this rank sees"));
    }
    /* The CUDA emulation is test infrastructure: only tests/garner_emu
     * drives it; this build refuses it, naming where it is. */
    ck_assert(!gar_gpu_emulated());
    ck_assert_int_eq(gar_gpu_choose("emulated", 0, 1, d, &n, why, sizeof why), GAR_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "tests/garner_emu"));
}
END_TEST

START_TEST(test_default_cache)
{
    char buf[4096];
    setenv("XDG_CACHE_HOME", "/x/cache", 1);
    gar_gpu_default_cache(buf, sizeof buf);
    ck_assert_str_eq(buf, "/x/cache/garner/gpu-tuning.tsv");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/u", 1);
    gar_gpu_default_cache(buf, sizeof buf);
    ck_assert_str_eq(buf, "/home/u/.cache/garner/gpu-tuning.tsv");
    unsetenv("HOME");
    gar_gpu_default_cache(buf, sizeof buf);
    ck_assert_str_eq(buf, "");
}
END_TEST

int main(void)
{
    TCase *tc = TEST_CASE("core", 0,
                          test_parse,
                          test_bind,
                          test_choose,
                          test_default_cache);
    return test_run_suite(test_suite("gpusel", tc, NULL));
}
