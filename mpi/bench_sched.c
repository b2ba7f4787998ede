/* Benchmark of the shard scheduler's master while it waits: rank 0 serves
 * shards of 10 ms of "work" (a sleep) to P − 1 workers, and reports the CPU
 * time it used as a share of one core over the wall time served, for poll
 * intervals of 1 and 2 ms (garner reconstruct polls every 2 ms). The master
 * sleeps between polls instead of blocking in MPICH's busy-waiting receive;
 * its cost should stay well under 5 % of a core (more means it spins). Run
 * under mpiexec with at least 2 ranks; prints one line per interval. This
 * was an assertion of tests/mpi_sched_reduce until a loaded machine made it
 * fail: a timing is reported here, never asserted. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "gar_mpi.h"

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    int rank, size;
    const size_t shards = 150;
    const double polls[] = {1e-3, 2e-3};
    if (gar_mpi_start(&argc, &argv, &rank, &size) != GAR_OK)
        return 1;
    if (size < 2) {
        if (rank == 0)
            fprintf(stderr, "bench_sched: needs at least 2 ranks (mpiexec -n 3 mpi/bench_sched)\n");
        gar_mpi_stop();
        return 64;
    }
    if (rank == 0)
        printf("%-8s %8s %8s %10s   (P = %d, %zu shards of 10 ms)\n", "poll", "wall s", "cpu s", "% of core",
               size, shards);
    for (size_t k = 0; k < sizeof polls / sizeof polls[0]; k++) {
        gar_sched *s = NULL;
        long shard;
        if (gar_sched_create(shards, &s) != GAR_OK) {
            fprintf(stderr, "rank %d: %s\n", rank, gar_errmsg());
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        if (rank == 0) {
            double c0 = cpu_seconds(), w0 = MPI_Wtime();
            if (gar_sched_serve(s, polls[k], NULL, NULL, NULL) != GAR_OK) {
                fprintf(stderr, "rank 0: %s\n", gar_errmsg());
                MPI_Abort(MPI_COMM_WORLD, 1);
            }
            double cpu = cpu_seconds() - c0, wall = MPI_Wtime() - w0;
            printf("%4.0f ms  %8.2f %8.3f %9.1f %%\n", polls[k] * 1e3, wall, cpu, 100.0 * cpu / wall);
        } else {
            while (gar_sched_next(s, &shard) == GAR_OK && shard >= 0)
                usleep(10000); /* work takes time: the master waits */
        }
        gar_sched_destroy(&s);
        MPI_Barrier(MPI_COMM_WORLD);
    }
    gar_mpi_stop();
    return 0;
}
