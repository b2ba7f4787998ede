/* Benchmark of the reduction of partial volumes: both half sets' data and
 * weights of a padded M³ transform, 6·M²·(M/2+1) values, summed on rank 0,
 * in double (gar_mpi_reduce_float_sum, [mpi] reproducible = no) and exactly
 * (gar_mpi_reduce_fixed: the workers' int64 fixed-point volumes as they are,
 * rank 0's floats quantised and the total rounded back on OpenMP threads).
 * Run under mpiexec; prints one line per size: seconds (best of 3) and GB/s
 * of data reduced (8 bytes a value either way). The exact reduction is
 * measured up to 256³: at 512³ the workers' int64 would take 3.2 GB each. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "gar_mpi.h"

/* Best of 3 wall times of one reduction; exact: the workers' `fixed`. */
static double best_of_3(float *v, size_t count, size_t chunk, int exact, const int64_t *fixed)
{
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        gar_status st;
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        st = exact ? gar_mpi_reduce_fixed(fixed, v, count, -20, 0, chunk, 2) : gar_mpi_reduce_float_sum(v, count, 0, chunk);
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
        int64_t *fixed = NULL;
        double t_double, t_exact = 0;
        if (v == NULL) {
            fprintf(stderr, "rank %d: no memory for %zu^3\n", rank, M);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        for (size_t i = 0; i < count; i++)
            v[i] = (float)(i % 1000) * 1e-3f;
        t_double = best_of_3(v, count, chunk_mb << 20, 0, NULL);
        if (M <= 256) {
            /* As in a run: the workers' sums in fixed point (quantum 2^-20),
             * rank 0's floats zero. */
            if (rank != 0) {
                if ((fixed = malloc(count * sizeof *fixed)) == NULL) {
                    fprintf(stderr, "rank %d: no memory for %zu^3\n", rank, M);
                    MPI_Abort(MPI_COMM_WORLD, 1);
                }
                for (size_t i = 0; i < count; i++)
                    fixed[i] = (int64_t)(i % 1000) << 10;
            } else {
                for (size_t i = 0; i < count; i++)
                    v[i] = 0.0f;
            }
            t_exact = best_of_3(v, count, chunk_mb << 20, 1, fixed);
            free(fixed);
        }
        if (rank == 0 && t_exact > 0)
            printf("%4zu^3   %14zu %12.3f %10.2f %12.3f %10.2f\n", M, count, t_double, count * 8.0 / t_double / 1e9,
                   t_exact, count * 8.0 / t_exact / 1e9);
        else if (rank == 0)
            printf("%4zu^3   %14zu %12.3f %10.2f %12s %10s\n", M, count, t_double, count * 8.0 / t_double / 1e9, "-",
                   "-");
        free(v);
    }
    gar_mpi_stop();
    return 0;
}
