/* garner: cuFFT and cuBLAS, loaded with dlopen when a GPU first needs them
 * (private to gpu/; C++, for the .cu files only).
 *
 * Why not link them: libcufft and libcublas map about 600 MiB and 1 GiB of
 * address space at load, before main. Linked, every garner command (and
 * every MPI rank) paid that at start, and under `ulimit -v 300M` (or a
 * Slurm --mem on an address-space-limiting site) even `garner --version`
 * died in the dynamic loader with exit 127 and no garner message. The CUDA
 * runtime is linked statically (libcudart_static, the toolkit's default),
 * and it opens the driver (libcuda.so.1) itself, also only when first used.
 *
 * Each table is filled once, under pthread_once, by its gar_*_load. The
 * pointers carry the library's own names, so GAR_CUFFT_TRY's message names
 * the function (gar_cuda_check.h takes the name from the call's text).
 * A library is sought first where the toolkit was at configure time
 * (GAR_CUDA_LIBDIR), then by the loader's usual search (LD_LIBRARY_PATH,
 * ld.so.cache), under the soname of the major version garner was built
 * against: another major version could differ in its ABI. */
#ifndef GAR_CUDA_LIBS_H
#define GAR_CUDA_LIBS_H

#ifndef __cplusplus
#error "gar_cuda_libs.h is for the .cu files of gpu/"
#endif

#include <cublas_v2.h>
#include <cufft.h>

#include "gar_status.h"

struct gar_cufft_table {
    decltype(&::cufftGetVersion) cufftGetVersion;
    decltype(&::cufftEstimateMany) cufftEstimateMany;
    decltype(&::cufftPlanMany) cufftPlanMany;
    decltype(&::cufftSetStream) cufftSetStream;
    decltype(&::cufftExecR2C) cufftExecR2C;
    decltype(&::cufftDestroy) cufftDestroy;
};

struct gar_cublas_table {
    decltype(&::cublasCreate_v2) cublasCreate_v2;
    decltype(&::cublasDestroy_v2) cublasDestroy_v2;
    decltype(&::cublasSetStream_v2) cublasSetStream_v2;
    decltype(&::cublasSgemm_v2) cublasSgemm_v2;
};

/* The table, loaded on the first call; NULL if the library cannot be
 * loaded, with the reason (the loader's text, which names the file) as the
 * thread's message under GAR_ERR_NOT_BUILT when `st` is given. */
const gar_cufft_table *gar_cufft_load(gar_status *st);
const gar_cublas_table *gar_cublas_load(gar_status *st);

#endif
