/* Benchmark: the CPU's insertion into float sums (one process, or
 * [mpi] reproducible = no) against insertion into an MPI worker's
 * fixed-point sums ([mpi] reproducible = yes, src/gar_fixedsum.h), on the
 * same simulated particles, threads and kernel. Interleaved repeats (the
 * machine is shared); prints the insertion seconds of each (gar_recon
 * timings: prepare + insert, as a worker spends them) and the ratio of the
 * medians.
 *
 *   tests/bench_insert MAP.mrc [COUNT] [THREADS] [REPEATS]
 *
 * Built by `make bench-programs`; scripts/bench-fixed runs it. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gar_fixedsum.h"
#include "gar_log.h"
#include "gar_mrc.h"
#include "gar_recon.h"
#include "testsim.h"

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Seconds of preparing and inserting every particle of s. */
static double insert_all(const sim_set *s, int threads, int fixed)
{
    gar_recon_config c = test_recon_config(s, 1, threads, 128);
    gar_recon *r = NULL;
    double prepare, insert, finalize, bound = 0.0;
    c.fixed_sums = fixed;
    if (gar_recon_create(&c, &r) != GAR_OK) {
        fprintf(stderr, "bench_insert: %s\n", gar_errmsg());
        exit(1);
    }
    if (fixed) {
        gar_fixed_scale fs;
        for (size_t i = 0; i < 8 && i < s->n; i++)
            bound = fmax(bound, gar_fixed_image_bound(s->images + i * s->box * s->box, s->box));
        if (gar_fixed_scale_make(bound, 1.0, s->n, gar_recon_blob_sum(r), &fs) != GAR_OK ||
            gar_recon_set_fixed_scale(r, &fs) != GAR_OK) {
            fprintf(stderr, "bench_insert: %s\n", gar_errmsg());
            exit(1);
        }
    }
    for (size_t f = 0; f < s->n; f += 128) {
        size_t n = s->n - f < 128 ? s->n - f : 128;
        if (gar_recon_insert(r, s->images + f * s->box * s->box, s->meta + f, n) != GAR_OK) {
            fprintf(stderr, "bench_insert: %s\n", gar_errmsg());
            exit(1);
        }
    }
    gar_recon_timings(r, &prepare, &insert, &finalize);
    gar_recon_destroy(&r);
    return prepare + insert;
}

/* The arguments, for the benchmark's body (run as a Check test: the
 * simulation helpers of testsim.h assert with Check). */
static const char *g_map;
static size_t g_count;
static int g_threads, g_repeats;

START_TEST(bench)
{
    gar_map *map = NULL;
    sim_set s;
    double t[2][64];
    ck_assert_msg(gar_mrc_read(g_map, &map) == GAR_OK, "%s", gar_errmsg());
    simulate(map, g_count, 1.0, 1, 2.0, 5, &s);
    printf("%zu particles of %zu², %d threads, %d interleaved repeats\n", g_count, s.box, g_threads, g_repeats);
    printf("| repeat | float sums (s) | fixed-point sums (s) |\n| ---: | ---: | ---: |\n");
    for (int k = 0; k < g_repeats; k++) {
        t[0][k] = insert_all(&s, g_threads, 0);
        t[1][k] = insert_all(&s, g_threads, 1);
        printf("| %d | %.3f | %.3f |\n", k + 1, t[0][k], t[1][k]);
        fflush(stdout);
    }
    qsort(t[0], (size_t)g_repeats, sizeof(double), by_value);
    qsort(t[1], (size_t)g_repeats, sizeof(double), by_value);
    printf("medians: float %.3f s, fixed point %.3f s, fixed / float %.3f\n", t[0][g_repeats / 2],
           t[1][g_repeats / 2], t[1][g_repeats / 2] / t[0][g_repeats / 2]);
    sim_free(&s);
    gar_map_destroy(&map);
}
END_TEST

int main(int argc, char **argv)
{
    Suite *suite = suite_create("bench_insert");
    TCase *tc = tcase_create("bench");
    SRunner *sr;
    int failed;
    g_map = argc > 1 ? argv[1] : NULL;
    g_count = argc > 2 ? (size_t)atol(argv[2]) : 2000;
    g_threads = argc > 3 ? atoi(argv[3]) : 2;
    g_repeats = argc > 4 ? atoi(argv[4]) : 5;
    if (g_map == NULL || g_count < 1 || g_threads < 1 || g_repeats < 1 || g_repeats > 64) {
        fprintf(stderr, "usage: bench_insert MAP.mrc [COUNT] [THREADS] [REPEATS <= 64]\n");
        return 64;
    }
    tcase_set_timeout(tc, 0);
    tcase_add_test(tc, bench);
    suite_add_tcase(suite, tc);
    sr = srunner_create(suite);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_SILENT);
    failed = srunner_ntests_failed(sr);
    if (failed) {
        TestResult **r = srunner_failures(sr);
        fprintf(stderr, "bench_insert: %s\n", tr_msg(r[0]));
        free(r);
    }
    srunner_free(sr);
    return failed ? 1 : 0;
}
