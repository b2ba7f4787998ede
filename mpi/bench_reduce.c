/* Benchmark of the reduction of partial volumes: both half sets' data and
 * weights of a padded M³ transform, 6·M²·(M/2+1) values, summed on rank 0,
 * in double (gar_mpi_reduce_float_sum, [mpi] reproducible = no) and exactly
 * (gar_mpi_reduce_exact: the workers' accumulators and rank 0's floats as
 * int64 limbs, packed and unpacked on OpenMP threads). Run under mpiexec;
 * prints one line per size: seconds (best of 3) and GB/s of data reduced
 * (8 bytes a value in double, 24 in limbs). The exact reduction is measured
 * up to 256³: at 512³ each rank's accumulator alone would take 6.5 GB. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "gar_mpi.h"

/* Best of 3 wall times of one reduction; exact: with `acc` (NULL on rank 0). */
static double best_of_3(float *v, size_t count, size_t chunk, int exact, const gar_exactsum *acc)
{
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        gar_status st;
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        st = exact ? gar_mpi_reduce_exact(acc, 0, v, count, 0, chunk, 2) : gar_mpi_reduce_float_sum(v, count, 0, chunk);
        if (st != GAR_OK) {
            fprintf(stderr, "%s\n", gar_errmsg());
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        MPI_Barrier(MPI_COMM_WORLD);
        double t = MPI_Wtime() - t0;
        if (t < best)
            best = t;
    }
    return best;
}

int main(int argc, char **argv)
{
    int rank, size;
    size_t chunk_mb = argc > 1 ? (size_t)atol(argv[1]) : 64;
    const size_t sizes[] = {64, 128, 256, 512};
    if (gar_mpi_start(&argc, &argv, &rank, &size) != GAR_OK)
        return 1;
    if (rank == 0)
        printf("%-8s %14s %12s %10s %12s %10s   (P = %d, chunks of %zu MiB)\n", "padded", "values", "double s",
               "GB/s", "exact s", "GB/s", size, chunk_mb);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t M = sizes[k], count = 2 * M * M * (M / 2 + 1) * 3;
        float *v = malloc(count * sizeof *v);
        gar_exactsum *acc = NULL;
        double t_double, t_exact = 0;
        if (v == NULL) {
            fprintf(stderr, "rank %d: no memory for %zu^3\n", rank, M);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        for (size_t i = 0; i < count; i++)
            v[i] = (float)(i % 1000) * 1e-3f;
        t_double = best_of_3(v, count, chunk_mb << 20, 0, NULL);
        if (M <= 256) {
            /* As in a run: the workers' sums in accumulators, their floats zero. */
            if (rank != 0) {
                if (gar_exactsum_create(count, 2, &acc) != GAR_OK || gar_exactsum_add(acc, 0, v, count) != GAR_OK) {
                    fprintf(stderr, "rank %d: %s\n", rank, gar_errmsg());
                    MPI_Abort(MPI_COMM_WORLD, 1);
                }
                for (size_t i = 0; i < count; i++)
                    v[i] = 0.0f;
            }
            t_exact = best_of_3(v, count, chunk_mb << 20, 1, acc);
            gar_exactsum_destroy(&acc);
        }
        if (rank == 0 && t_exact > 0)
            printf("%4zu^3   %14zu %12.3f %10.2f %12.3f %10.2f\n", M, count, t_double, count * 8.0 / t_double / 1e9,
                   t_exact, count * 24.0 / t_exact / 1e9);
        else if (rank == 0)
            printf("%4zu^3   %14zu %12.3f %10.2f %12s %10s\n", M, count, t_double, count * 8.0 / t_double / 1e9, "-",
                   "-");
        free(v);
    }
    gar_mpi_stop();
    return 0;
}
