/* The MPI layer under mpiexec -n P: the chunked reduction against exact
 * sums, the exact (fixed-point) reduction against one accumulator holding
 * every term, the on-request scheduler (every shard exactly once, each
 * finished shard marked done, the master's tally of each worker right), a
 * worker's failure reaching the master, and the node-local rank. Nothing
 * here is timed: the master's CPU use while it waits is a benchmark
 * (mpi/bench_sched, run by scripts/bench-reduce). */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gar_mpi.h"

static int failures = 0, checks = 0;
static int rank = 0, size = 1;

static void check(int ok, const char *what)
{
    checks++;
    if (!ok)
        failures++;
    if (rank == 0)
        printf("%s: %s\n", ok ? "ok" : "FAIL", what);
}

static void test_reduce(void)
{
    /* More than 2^20 doubles in chunks of 1000: over a thousand MPI_Reduce calls. */
    const size_t n = 1048579;
    double *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
    double want = size * (size + 1) / 2.0;
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        in[i] = (rank + 1) * (double)(i % 97);
    check(gar_mpi_reduce_sum(in, out, n, 0, 8000) == GAR_OK, "chunked reduce returns");
    if (rank == 0)
        for (size_t i = 0; i < n; i++)
            bad += out[i] != want * (double)(i % 97);
    check(bad == 0, "chunked reduce: every element is the exact sum over ranks");
    /* In place on the root. */
    if (rank == 0)
        memcpy(out, in, n * sizeof *in);
    check(gar_mpi_reduce_sum(rank == 0 ? out : in, out, n, 0, 1 << 20) == GAR_OK, "in-place reduce returns");
    bad = 0;
    if (rank == 0)
        for (size_t i = 0; i < n; i++)
            bad += out[i] != want * (double)(i % 97);
    check(bad == 0, "in-place reduce: exact sums");
    free(in);
    free(out);
}

/* Term t of value i: magnitudes over 1e-8 .. 1e8, both signs. */
static float term(int t, size_t i)
{
    return (float)(sin(0.37 * (double)i + 1.3 * t) * pow(10.0, (double)((i * 7 + (size_t)t * 3) % 17) - 8.0));
}

static void test_reduce_exact(void)
{
    /* Over 30 calls of 1000 values; terms 1.. spread over the ranks' accumulators
     * (term t on rank t mod P), term 0 passed by rank 0 as floats. */
    const size_t n = 30011, chunk = 1000 * GAR_EXACT_LIMBS * sizeof(int64_t);
    const int terms = 3 * size + 2;
    gar_exactsum *acc = NULL, *all = NULL;
    float *x = malloc(n * sizeof *x), *want = malloc(n * sizeof *want);
    int64_t *limbs = malloc(n * GAR_EXACT_LIMBS * sizeof *limbs);
    gar_status st;
    check(gar_exactsum_create(n, 2, &acc) == GAR_OK, "exact reduce: accumulator created");
    for (int t = 1; t < terms; t++)
        if (t % size == rank) {
            for (size_t i = 0; i < n; i++)
                x[i] = term(t, i);
            gar_exactsum_add(acc, 0, x, n);
        }
    for (size_t i = 0; i < n; i++)
        x[i] = rank == 0 ? term(0, i) : 0.0f;
    st = gar_mpi_reduce_exact(acc, 0, rank == 0 ? x : NULL, n, 0, chunk, 2);
    check(st == GAR_OK, "exact reduce returns");
    if (rank == 0) {
        /* Every term, in order, in one accumulator. */
        gar_exactsum_create(n, 1, &all);
        for (int t = 0; t < terms; t++) {
            for (size_t i = 0; i < n; i++)
                want[i] = term(t, i);
            gar_exactsum_add(all, 0, want, n);
        }
        gar_exactsum_pack(all, 0, NULL, n, limbs, 1);
        gar_exactsum_unpack(limbs, n, want, 1);
        check(memcmp(x, want, n * sizeof *x) == 0, "exact reduce: the bits of one accumulator holding every term");
        gar_exactsum_destroy(&all);
    }
    /* A NaN on the last rank fails every rank; rank 0 holds its message. */
    for (size_t i = 0; i < n; i++)
        x[i] = 0.0f;
    if (rank == size - 1)
        x[5] = NAN;
    st = gar_mpi_reduce_exact(NULL, 0, x, n, 0, chunk, 1);
    check(st == GAR_ERR_DATA, "exact reduce: a NaN on the last rank fails every rank");
    if (rank == 0)
        check(strstr(gar_errmsg(), "at 5 is not finite") != NULL, gar_errmsg());
    gar_exactsum_destroy(&acc);
    free(x);
    free(want);
    free(limbs);
}

static void test_node_rank(void)
{
    gar_mpi_place place = {-1, -1, -1, -1};
    int ok, workers_ok;
    check(gar_mpi_node_place(&place) == GAR_OK, "node rank returns");
    /* mpiexec here starts every rank on this one machine. */
    ok = place.local_rank == rank && place.local_size == size;
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    check(ok, "node-local rank and size equal the world's on one node");
    /* The master (rank 0 of several) is no worker; the others are numbered from 0. */
    workers_ok = size == 1 ? place.worker == 0 && place.workers == 1
                 : rank == 0 ? place.worker == 0 && place.workers == 0
                             : place.worker == rank - 1 && place.workers == size - 1;
    MPI_Allreduce(MPI_IN_PLACE, &workers_ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    check(workers_ok, "workers numbered on the node without the master");
}

static void test_scheduler(void)
{
    /* Shards of 10 ms, so that workers ask while others work and the master
     * also waits between requests (mpi/bench_sched measures its cost). */
    const size_t n = 150;
    gar_sched *s = NULL;
    char *seen = calloc(n, 1);
    long shard;
    int mine = 0;
    check(gar_sched_create(n, &s) == GAR_OK, "scheduler created");
    if (rank == 0 && size > 1) {
        const unsigned char *done;
        int undone = 0;
        check(gar_sched_serve(s, 1e-3, NULL, NULL, NULL) == GAR_OK, "master serves every request");
        /* A worker asking again has finished its shard: by the end every
         * shard is marked done (what a checkpoint records). */
        done = gar_sched_done(s);
        for (size_t i = 0; i < n; i++)
            undone += !done[i];
        check(undone == 0, "every shard marked done on the master once served");
    } else {
        while (gar_sched_next(s, &shard) == GAR_OK && shard >= 0) {
            seen[shard]++;
            mine++;
            usleep(10000); /* work takes time: the master waits */
        }
    }
    /* Every shard handed out exactly once across the workers. */
    char *total = calloc(n, 1);
    MPI_Reduce(seen, total, (int)n, MPI_CHAR, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        int bad = 0;
        for (size_t i = 0; i < n; i++)
            bad += total[i] != 1;
        check(bad == 0, "every shard processed exactly once");
    }
    int counts[64] = {0};
    MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rank == 0 && size > 1) {
        int all_worked = 1, agree = 1;
        size_t taken = 0;
        for (int r = 1; r < size; r++) {
            all_worked &= counts[r] > 0;
            agree &= gar_sched_taken(s, r) == (size_t)counts[r];
            taken += gar_sched_taken(s, r);
        }
        if (size > 2)
            check(all_worked, "every worker took shards");
        check(agree && taken == n, "the master's count of shards per worker is right and sums to the shards");
    }
    gar_sched_destroy(&s);
    free(seen);
    free(total);
}

static void test_failure(void)
{
    gar_sched *s = NULL;
    long shard;
    int taken = 0;
    if (size < 2)
        return;
    gar_sched_create(1000, &s);
    if (rank == 0) {
        gar_status st = gar_sched_serve(s, 1e-3, NULL, NULL, NULL);
        check(st == GAR_ERR_DATA, "a worker's error stops the master with its status");
        check(strstr(gar_errmsg(), "rank 1: s.h5: particle 7: broken") != NULL, gar_errmsg());
    } else {
        while (gar_sched_next(s, &shard) == GAR_OK && shard >= 0) {
            if (rank == 1 && ++taken == 3) {
                gar_sched_fail(s, gar_error(GAR_ERR_DATA, "s.h5: particle 7: broken"));
                break;
            }
            usleep(1000);
        }
    }
    gar_sched_destroy(&s);
}

int main(int argc, char **argv)
{
    if (gar_mpi_start(&argc, &argv, &rank, &size) != GAR_OK)
        return 99;
    test_reduce();
    test_reduce_exact();
    test_node_rank();
    test_scheduler();
    test_failure();
    int all = 0;
    MPI_Allreduce(&failures, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%d passed, %d failed\n", checks - failures, failures);
    gar_mpi_stop();
    return all == 0 ? 0 : 1;
}
