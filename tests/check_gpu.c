/* The GPU inserter against the CPU: maps agree to a relative L2 difference
 * of 1e-5 for 64², 128² and 256² particles, C1 and D7, both symmetry modes,
 * with the FFT on the device or on the host, for every gather variant; two
 * entries of one device give the map of one; the tuning picks a variant and
 * the next run takes it from the cache; an absurd batch gets the
 * out-of-memory message that says what would fit. Exits 77 (skipped) where
 * there is no GPU or no CUDA build. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gar_gpu.h"
#include "gar_kernels.h"
#include "gar_phantom.h"
#include "gar_recon.h"
#include "gar_symmetry.h"
#include "testsim.h"
#include "testutil.h"

/* Particles of a phantom of the given symmetry, noise, CTF and shifts. */
static void make_particles(size_t box, const char *symmetry, size_t n, sim_set *s)
{
    gar_symmetry *sym = NULL;
    gar_map *ph = NULL;
    gar_phantom_config pc;
    memset(&pc, 0, sizeof pc);
    pc.box = box;
    pc.pixel_size_A = 256.0 / (double)box;   /* the same object at every box */
    pc.seed = 7;
    ck_assert_int_eq(gar_symmetry_create(symmetry, &sym), GAR_OK);
    ck_assert_int_eq(gar_phantom_create(&pc, sym, &ph), GAR_OK);
    simulate(ph, n, 1.0, 1, 3.0, 11, s);
    gar_map_destroy(&ph);
    gar_symmetry_destroy(&sym);
}

typedef struct run_opts {
    const char *symmetry;
    int volume_mode;
    const int *devices;
    size_t n_devices;
    int fft_on_gpu, tuning, variant;
    const char *cache;
    size_t batch;
} run_opts;

static gar_status build(const sim_set *s, const run_opts *o, gar_recon **out)
{
    gar_symmetry *sym = NULL;
    gar_recon_config c;
    gar_status st;
    ck_assert_int_eq(gar_symmetry_create(o->symmetry, &sym), GAR_OK);
    c = test_recon_config(s, 1, 4, o->batch ? o->batch : 32);
    c.sym_ops = gar_symmetry_matrices(sym);
    c.n_ops = gar_symmetry_order(sym);
    c.sym_mode = o->volume_mode ? GAR_SYM_VOLUME : GAR_SYM_INSERT;
    c.gpu_devices = o->devices;
    c.n_gpu_devices = o->n_devices;
    c.gpu_fft = o->fft_on_gpu;
    c.gpu_tuning = o->tuning;
    c.gpu_tuning_cache = o->cache;
    c.gpu_variant = o->variant;
    st = gar_recon_create(&c, out);
    gar_symmetry_destroy(&sym);
    return st;
}

static gar_map *reconstruct(const sim_set *s, const run_opts *o, char *variant, size_t len)
{
    gar_recon *r = NULL;
    gar_map *m = NULL;
    ck_assert_msg(build(s, o, &r) == GAR_OK, "%s", gar_errmsg());
    const size_t batch = o->batch ? o->batch : 32;
    for (size_t first = 0; first < s->n; first += batch) {
        size_t n = s->n - first < batch ? s->n - first : batch;
        ck_assert_msg(gar_recon_insert(r, s->images + first * s->box * s->box, s->meta + first, n) == GAR_OK, "%s",
                      gar_errmsg());
    }
    ck_assert_msg(gar_recon_finalize(r, 0, &m) == GAR_OK, "%s", gar_errmsg());
    if (variant != NULL)
        snprintf(variant, len, "%s", o->n_devices ? gar_recon_gpu_variant(r, 0, NULL, 0) : "cpu");
    gar_recon_destroy(&r);
    return m;
}

static double rel_l2(const gar_map *a, const gar_map *b)
{
    return test_rel_l2(a->data, b->data, gar_map_voxels(a));
}

static const int dev0[] = {0}, dev00[] = {0, 0};

/* GPU (default variant and the FFT on the device, and the FFT on the host)
 * against the CPU for one box, symmetry and mode. */
static void gpu_vs_cpu(size_t box, size_t n, const char *symmetry, int volume_mode)
{
    sim_set s;
    run_opts cpu = {symmetry, volume_mode, NULL, 0, 1, GAR_TUNE_OFF, 0, NULL, 32};
    run_opts gpu = cpu, gpu_host_fft = cpu;
    make_particles(box, symmetry, n, &s);
    gpu.devices = dev0;
    gpu.n_devices = 1;
    gpu_host_fft = gpu;
    gpu_host_fft.fft_on_gpu = 0;
    gar_map *mc = reconstruct(&s, &cpu, NULL, 0), *mg = reconstruct(&s, &gpu, NULL, 0),
            *mh = reconstruct(&s, &gpu_host_fft, NULL, 0);
    double d = rel_l2(mc, mg), dh = rel_l2(mc, mh);
    fprintf(stderr, "measured: %zu² %s %s, %zu particles: GPU vs CPU relative L2 %.2e (FFT on the GPU), %.2e "
            "(FFT on the CPU)\n", box, symmetry, volume_mode ? "volume" : "insert", n, d, dh);
    ck_assert_msg(d <= 1e-5, "%zu %s: GPU vs CPU %g", box, symmetry, d);
    ck_assert_msg(dh <= 1e-5, "%zu %s: GPU (host FFT) vs CPU %g", box, symmetry, dh);
    gar_map_destroy(&mc);
    gar_map_destroy(&mg);
    gar_map_destroy(&mh);
    sim_free(&s);
}

START_TEST(test_gpu_vs_cpu_64) { gpu_vs_cpu(64, 200, "C1", 0); gpu_vs_cpu(64, 100, "D7", 0); gpu_vs_cpu(64, 100, "D7", 1); }
END_TEST
START_TEST(test_gpu_vs_cpu_128) { gpu_vs_cpu(128, 100, "C1", 0); gpu_vs_cpu(128, 50, "D7", 0); gpu_vs_cpu(128, 50, "D7", 1); }
END_TEST
START_TEST(test_gpu_vs_cpu_256) { gpu_vs_cpu(256, 40, "C1", 0); gpu_vs_cpu(256, 20, "D7", 0); gpu_vs_cpu(256, 20, "D7", 1); }
END_TEST

/* Every variant the tuning may choose computes the CPU's map. */
START_TEST(test_every_variant)
{
    sim_set s;
    make_particles(64, "D7", 60, &s);
    run_opts cpu = {"D7", 0, NULL, 0, 1, GAR_TUNE_OFF, 0, NULL, 16};
    gar_map *mc = reconstruct(&s, &cpu, NULL, 0);
    for (int v = 0; v < gar_gpu_variant_count(); v++) {
        run_opts gpu = cpu;
        gpu.devices = dev0;
        gpu.n_devices = 1;
        gpu.variant = v + 1;
        gar_map *mg = reconstruct(&s, &gpu, NULL, 0);
        double d = rel_l2(mc, mg);
        fprintf(stderr, "measured: variant %-44s vs CPU relative L2 %.2e\n", gar_gpu_variant_name(v), d);
        ck_assert_msg(d <= 1e-5, "variant %s: %g", gar_gpu_variant_name(v), d);
        gar_map_destroy(&mg);
    }
    gar_map_destroy(&mc);
    sim_free(&s);
}
END_TEST

START_TEST(test_two_entries_of_one_device)
{
    sim_set s;
    make_particles(64, "C1", 160, &s);
    run_opts one = {"C1", 0, dev0, 1, 1, GAR_TUNE_OFF, 0, NULL, 16}, two = one;
    two.devices = dev00;
    two.n_devices = 2;
    gar_map *m1 = reconstruct(&s, &one, NULL, 0), *m2 = reconstruct(&s, &two, NULL, 0);
    double d = rel_l2(m1, m2);
    fprintf(stderr, "measured: devices 0,0 vs 0: relative L2 %.2e\n", d);
    /* The same sums, split over two accumulators and added on the host. */
    ck_assert_msg(d <= 1e-6, "two entries of one device differ from one by %g", d);
    gar_map_destroy(&m1);
    gar_map_destroy(&m2);
    sim_free(&s);
}
END_TEST

START_TEST(test_tuning_and_cache)
{
    sim_set s;
    char tuned[256], cached[256], line[1024];
    const char *cache = test_tmpfile("gpu", "tuning.tsv");
    FILE *f;
    int found = 0;
    make_particles(64, "C1", 64, &s);
    unlink(cache);
    run_opts o = {"C1", 0, dev0, 1, 1, GAR_TUNE_AUTO, 0, cache, 32};
    gar_map *m1 = reconstruct(&s, &o, tuned, sizeof tuned);
    ck_assert_ptr_nonnull(f = fopen(cache, "r"));
    while (fgets(line, sizeof line, f) != NULL)
        if (line[0] != '#' && strstr(line, tuned) != NULL && strstr(line, "box=64 pad=2") != NULL)
            found = 1;
    fclose(f);
    ck_assert_msg(found, "the cache %s holds no entry for %s", cache, tuned);
    o.tuning = GAR_TUNE_CACHED;
    gar_map *m2 = reconstruct(&s, &o, cached, sizeof cached);
    fprintf(stderr, "measured: tuned variant %s; next run took %s from the cache\n", tuned, cached);
    ck_assert_str_eq(tuned, cached);
    run_opts cpu = {"C1", 0, NULL, 0, 1, GAR_TUNE_OFF, 0, NULL, 32};
    gar_map *mc = reconstruct(&s, &cpu, NULL, 0);
    ck_assert_msg(rel_l2(mc, m1) <= 1e-5, "the tuned run's map differs from the CPU's by %g", rel_l2(mc, m1));
    gar_map_destroy(&m1);
    gar_map_destroy(&m2);
    gar_map_destroy(&mc);
    sim_free(&s);
}
END_TEST

START_TEST(test_out_of_device_memory)
{
    sim_set s = {0};
    gar_recon *r = NULL;
    s.box = 128;
    s.optics.pixel_size_A = 2.0;
    s.optics.group = 1;
    run_opts o = {"C1", 0, dev0, 1, 1, GAR_TUNE_OFF, 0, NULL, 65536};
    gar_status st = build(&s, &o, &r);
    fprintf(stderr, "measured: batch 65536 of 128²: %s\n", gar_errmsg());
    ck_assert_int_eq(st, GAR_ERR_NOMEM);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "of device memory"));
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "would fit"));
    ck_assert_ptr_null(strstr(gar_errmsg(), "cudaError"));
    gar_recon_destroy(&r);
}
END_TEST

int main(void)
{
    int count = 0;
    if (gar_gpu_device_count(&count) != GAR_OK) {
        printf("skipped: %s\n", gar_errmsg());
        return 77;
    }
    Suite *s = suite_create("gpu");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, test_gpu_vs_cpu_64);
    tcase_add_test(tc, test_every_variant);
    tcase_add_test(tc, test_two_entries_of_one_device);
    tcase_add_test(tc, test_tuning_and_cache);
    tcase_add_test(tc, test_out_of_device_memory);
    tcase_add_test(tc, test_gpu_vs_cpu_128);
    tcase_add_test(tc, test_gpu_vs_cpu_256);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
