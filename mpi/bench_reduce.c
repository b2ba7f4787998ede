/* Benchmark of the reduction of partial volumes (gar_mpi_reduce_float_sum):
 * both half sets' data and weights of a padded M³ transform, 12·M²·(M/2+1)
 * bytes each, summed on rank 0 in double. Run under mpiexec; prints one line
 * per size: seconds (best of 3) and GB/s of double data reduced. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "gar_mpi.h"

int main(int argc, char **argv)
{
    int rank, size;
    size_t chunk_mb = argc > 1 ? (size_t)atol(argv[1]) : 64;
    const size_t sizes[] = {64, 128, 256, 512};
    if (gar_mpi_start(&argc, &argv, &rank, &size) != GAR_OK)
        return 1;
    if (rank == 0)
        printf("%-8s %14s %12s %10s   (P = %d, chunks of %zu MiB)\n", "padded", "values", "seconds", "GB/s",
               size, chunk_mb);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t M = sizes[k], count = 2 * M * M * (M / 2 + 1) * 3;
        float *v = malloc(count * sizeof *v);
        double best = 1e30;
        if (v == NULL) {
            fprintf(stderr, "rank %d: no memory for %zu^3\n", rank, M);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        for (size_t i = 0; i < count; i++)
            v[i] = (float)(i % 1000) * 1e-3f;
        for (int rep = 0; rep < 3; rep++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            if (gar_mpi_reduce_float_sum(v, count, 0, chunk_mb << 20) != GAR_OK)
                MPI_Abort(MPI_COMM_WORLD, 1);
            MPI_Barrier(MPI_COMM_WORLD);
            double t = MPI_Wtime() - t0;
            if (t < best)
                best = t;
        }
        if (rank == 0)
            printf("%4zu^3   %14zu %12.3f %10.2f\n", M, count, best, count * 8.0 / best / 1e9);
        free(v);
    }
    gar_mpi_stop();
    return 0;
}
