/* garner: the libraries this build uses, for --version (see gar_run.h). */
#include <stdio.h>

#include <H5public.h>

#include "gar_fft.h"
#include "gar_gpu.h"
#include "gar_mpi.h"
#include "gar_run.h"

void gar_run_describe_libraries(char *buf, size_t len)
{
    char mpi[512], gpu[256];
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    gar_mpi_describe(mpi, sizeof mpi);
    gar_gpu_describe(gpu, sizeof gpu);
    snprintf(buf, len, "  MPI:  %s\n  CUDA: %s\n  HDF5: %u.%u.%u\n  FFTW: %s\n", mpi, gpu, maj, min, rel,
             gar_fft_version());
}
