/* garner: CUDA backend entry points. Device state lives in handles owned by
 * the caller (never in module globals), so one process can drive several GPUs. */
#include <cuda_runtime.h>
#include <cufft.h>
#include <stdio.h>

#include "config.h"
#include "gar_cuda_check.h"
#include "gar_cuda_libs.h"
#include "gar_gpu.h"
#include "gar_kernels.h"

#ifndef GAR_CUDA_ARCHS
#define GAR_CUDA_ARCHS "unknown"
#endif

extern "C" int gar_gpu_built(void) { return 1; }

#ifdef GAR_CUDA_EMU
extern "C" int gar_gpu_emulated(void) { return 1; }
#else
extern "C" int gar_gpu_emulated(void) { return 0; }
#endif

extern "C" gar_status gar_gpu_device_count(int *count)
{
    cudaError_t err = cudaGetDeviceCount(count);
    if (err == cudaErrorInsufficientDriver || err == cudaErrorNoDevice) {
        /* The runtime's words ("CUDA driver version is insufficient for
         * CUDA runtime version") mislead on the usual node without a GPU,
         * where there is no driver at all (libcuda.so.1 absent): say which. */
        int driver = 0, runtime = 0;
        *count = 0;
        cudaDriverGetVersion(&driver);
        cudaRuntimeGetVersion(&runtime);
        if (driver == 0)
            return gar_error(GAR_ERR_NO_DEVICE, "no usable GPU: no NVIDIA driver on this node (libcuda.so.1 not "
                             "found)");
        if (err == cudaErrorInsufficientDriver)
            return gar_error(GAR_ERR_NO_DEVICE, "no usable GPU: the NVIDIA driver supports CUDA %d.%d, older than "
                             "the CUDA %d.%d garner was built with; update the driver, or build garner with an "
                             "older toolkit", driver / 1000, (driver % 1000) / 10, runtime / 1000,
                             (runtime % 1000) / 10);
        return gar_error(GAR_ERR_NO_DEVICE, "no usable GPU: the NVIDIA driver (CUDA %d.%d) reports no device",
                         driver / 1000, (driver % 1000) / 10);
    }
    if (err != cudaSuccess) {
        *count = 0;
        return gar_cuda_fail(err, GAR_ERR_NO_DEVICE, "no usable GPU", NULL, "cudaGetDeviceCount");
    }
    if (*count == 0)
        return gar_error(GAR_ERR_NO_DEVICE, "no usable GPU: the CUDA driver reports no device");
    return GAR_OK;
}

extern "C" int gar_gpu_absent(void)
{
    int count = 0, driver = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err == cudaSuccess)
        return count == 0;
    if (err == cudaErrorNoDevice)
        return 1;
    /* No driver installed reports version 0; a stale one its version. */
    return err == cudaErrorInsufficientDriver && cudaDriverGetVersion(&driver) == cudaSuccess && driver == 0;
}

extern "C" gar_status gar_gpu_device_memory(int device, size_t *free_b, size_t *total_b)
{
    gar_status st = GAR_OK;
    char where[32];
    snprintf(where, sizeof where, "GPU %d", device);
    *free_b = *total_b = 0;
    GAR_CUDA_TRY_AS(GAR_ERR_NO_DEVICE, cudaSetDevice(device), where, "select device");
    GAR_CUDA_TRY_AS(GAR_ERR_NO_DEVICE, cudaMemGetInfo(free_b, total_b), where, "read its memory");
done:
    return st;
}

extern "C" gar_status gar_gpu_device_name(int device, char *buf, size_t len)
{
    cudaDeviceProp prop;
    cudaError_t err = cudaGetDeviceProperties(&prop, device);
    if (err != cudaSuccess) {
        char where[32];
        snprintf(buf, len, "GPU %d", device);
        snprintf(where, sizeof where, "GPU %d", device);
        return gar_cuda_fail(err, GAR_ERR_NO_DEVICE, where, NULL, "cudaGetDeviceProperties");
    }
    snprintf(buf, len, "%s", prop.name);
    return GAR_OK;
}

/* Versions only: a call that fails leaves its 0, which the line shows. */
extern "C" void gar_gpu_describe(char *buf, size_t len)
{
    int runtime = 0, driver = 0, cufft = 0;
    char cufft_s[32];
    cudaRuntimeGetVersion(&runtime);
    cudaDriverGetVersion(&driver);
    /* cuFFT is loaded only to be named; where it cannot be, say so rather
     * than fail: the CPU workers do not need it. */
    const gar_cufft_table *fft = gar_cufft_load(NULL);
    if (fft != NULL && fft->cufftGetVersion(&cufft) == CUFFT_SUCCESS)
        snprintf(cufft_s, sizeof cufft_s, "cuFFT %d", cufft);
    else
        snprintf(cufft_s, sizeof cufft_s, "cuFFT not loadable");
#ifdef GAR_CUDA_EMU
    snprintf(buf, len, "CUDA emulated on the CPU (gpu/emu/: cuFFT over FFTW, cuBLAS over OpenBLAS)");
    (void)driver;
    return;
#endif
    if (driver > 0)
        snprintf(buf, len, "CUDA runtime %d.%d, driver %d.%d, %s, archs %s", runtime / 1000,
                 (runtime % 1000) / 10, driver / 1000, (driver % 1000) / 10, cufft_s, GAR_CUDA_ARCHS);
    else
        snprintf(buf, len, "CUDA runtime %d.%d (no driver on this machine), %s, archs %s",
                 runtime / 1000, (runtime % 1000) / 10, cufft_s, GAR_CUDA_ARCHS);
}
