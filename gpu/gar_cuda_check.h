/* garner: the one checker for calls of the CUDA runtime, cuFFT and cuBLAS
 * (private to gpu/; C++, for the .cu files only).
 *
 * PETSc's PetscCallCUDA and PetscCallCUFFT are the model: every such call in
 * gpu/ goes through one of the macros or functions below, which turn the
 * library's status into the project's (src/gar_status.h) and record one
 * message naming where, what, the function called and the library's own text:
 *
 *   GPU 0 (NVIDIA H100 80GB HBM3): data volume: cudaMalloc: out of memory
 *
 * The mapping, the same for the three libraries:
 *   cudaErrorMemoryAllocation, CUFFT_ALLOC_FAILED,
 *   CUBLAS_STATUS_ALLOC_FAILED                    -> GAR_ERR_NOMEM
 *   any other failure                             -> GAR_ERR_INTERNAL (the _TRY macros),
 *                                                    or the status the caller names (the
 *                                                    _TRY_AS macros, the gar_*_fail
 *                                                    functions): GAR_ERR_NO_DEVICE for
 *                                                    device queries, GAR_ERR_NOMEM for
 *                                                    planning the batched FFT
 *
 * The _TRY macros follow the one-exit convention of gpu/: the function has a
 * `gar_status st` and a `done:` label where everything is freed; on failure
 * they set st and jump there. `where` names the device ("GPU 0 (name)", kept
 * in each handle), `what` the operation in the user's words ("copy of
 * particles"); either may be NULL. The function's name is taken from the
 * call's text (the last name before its first parenthesis), so a message
 * says cudaMemcpyAsync, not the whole argument list.
 *
 * cuFFT has no function that describes a status, and cuBLAS's
 * (cublasGetStatusString) lives in the library that gar_gpu_search.cu loads
 * with dlopen only when a search needs it: both are described by the tables
 * here, keyed by value so that they compile against every CUDA version
 * (CUDA 13 dropped some cuFFT statuses; the older values are still named). */
#ifndef GAR_CUDA_CHECK_H
#define GAR_CUDA_CHECK_H

#ifndef __cplusplus
#error "gar_cuda_check.h is for the .cu files of gpu/"
#endif

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cufft.h>
#include <stdio.h>
#include <string.h>

#include "gar_status.h"

struct gar_lib_status {
    int code;
    const char *text;
};

/* cufft.h's statuses, described after the cuFFT documentation; NULL for one
 * this table lacks. */
static inline const char *gar_cufft_string(cufftResult r)
{
    static const gar_lib_status table[] = {
        {0x0, "CUFFT_SUCCESS: the operation completed"},
        {0x1, "CUFFT_INVALID_PLAN: the plan handle is invalid"},
        {0x2, "CUFFT_ALLOC_FAILED: cuFFT failed to allocate GPU or host memory"},
        {0x3, "CUFFT_INVALID_TYPE: unsupported transform type"},
        {0x4, "CUFFT_INVALID_VALUE: an invalid pointer or parameter"},
        {0x5, "CUFFT_INTERNAL_ERROR: a driver or internal cuFFT library error"},
        {0x6, "CUFFT_EXEC_FAILED: cuFFT failed to execute the transform on the GPU"},
        {0x7, "CUFFT_SETUP_FAILED: the cuFFT library failed to initialise"},
        {0x8, "CUFFT_INVALID_SIZE: an invalid transform size"},
        {0x9, "CUFFT_UNALIGNED_DATA: unaligned data"},
        {0xA, "CUFFT_INCOMPLETE_PARAMETER_LIST: missing parameters in the call"},
        {0xB, "CUFFT_INVALID_DEVICE: execution of the plan on a different GPU than it was made on"},
        {0xC, "CUFFT_PARSE_ERROR: internal plan database error"},
        {0xD, "CUFFT_NO_WORKSPACE: no work area provided before execution"},
        {0xE, "CUFFT_NOT_IMPLEMENTED: functionality not implemented"},
        {0xF, "CUFFT_LICENSE_ERROR: license error"},
        {0x10, "CUFFT_NOT_SUPPORTED: operation not supported for these parameters"},
        {0x11, "CUFFT_MISSING_DEPENDENCY: a library cuFFT depends on is missing"},
        {0x12, "CUFFT_NVRTC_FAILURE: NVRTC failed"},
        {0x13, "CUFFT_NVJITLINK_FAILURE: nvJitLink failed"},
        {0x14, "CUFFT_NVSHMEM_FAILURE: NVSHMEM failed"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].code == (int)r)
            return table[i].text;
    return NULL;
}

/* cublas_api.h's statuses, described after the cuBLAS documentation; NULL for
 * one this table lacks. */
static inline const char *gar_cublas_string(cublasStatus_t s)
{
    static const gar_lib_status table[] = {
        {0, "CUBLAS_STATUS_SUCCESS: the operation completed"},
        {1, "CUBLAS_STATUS_NOT_INITIALIZED: the library was not initialized"},
        {3, "CUBLAS_STATUS_ALLOC_FAILED: the resource allocation failed"},
        {7, "CUBLAS_STATUS_INVALID_VALUE: an invalid numeric value was used as an argument"},
        {8, "CUBLAS_STATUS_ARCH_MISMATCH: an absent device architectural feature is required"},
        {11, "CUBLAS_STATUS_MAPPING_ERROR: an access to GPU memory space failed"},
        {13, "CUBLAS_STATUS_EXECUTION_FAILED: the GPU program failed to execute"},
        {14, "CUBLAS_STATUS_INTERNAL_ERROR: an internal operation failed"},
        {15, "CUBLAS_STATUS_NOT_SUPPORTED: the functionality requested is not supported"},
        {16, "CUBLAS_STATUS_LICENSE_ERROR: error detected trying to check the license"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].code == (int)s)
            return table[i].text;
    return NULL;
}

/* Record "where: what: function: text" (the empty parts left out) as the
 * thread's message and return st. `call` is the call's text or a function's
 * name. */
static inline gar_status gar_gpu_call_fail(gar_status st, const char *where, const char *what, const char *call,
                                           const char *text)
{
    const char *end = strchr(call, '('), *start;
    if (end == NULL)
        end = call + strlen(call);
    for (start = end; start > call; start--) {
        const char c = start[-1];
        if (!(c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            break;
    }
    return gar_error(st, "%s%s%s%s%.*s: %s", where ? where : "", where && where[0] ? ": " : "", what ? what : "",
                     what && what[0] ? ": " : "", (int)(end - start), start, text);
}

/* A failed call's status: GAR_ERR_NOMEM for an allocation failure, else
 * `other`; with the message above. */
static inline gar_status gar_cuda_fail(cudaError_t e, gar_status other, const char *where, const char *what,
                                       const char *call)
{
    return gar_gpu_call_fail(e == cudaErrorMemoryAllocation ? GAR_ERR_NOMEM : other, where, what, call,
                             cudaGetErrorString(e));
}

static inline gar_status gar_cufft_fail(cufftResult r, gar_status other, const char *where, const char *what,
                                        const char *call)
{
    char unknown[48];
    const char *text = gar_cufft_string(r);
    if (text == NULL) {
        snprintf(unknown, sizeof unknown, "cuFFT status %d", (int)r);
        text = unknown;
    }
    return gar_gpu_call_fail(r == CUFFT_ALLOC_FAILED ? GAR_ERR_NOMEM : other, where, what, call, text);
}

static inline gar_status gar_cublas_fail(cublasStatus_t s, gar_status other, const char *where, const char *what,
                                         const char *call)
{
    char unknown[48];
    const char *text = gar_cublas_string(s);
    if (text == NULL) {
        snprintf(unknown, sizeof unknown, "cuBLAS status %d", (int)s);
        text = unknown;
    }
    return gar_gpu_call_fail(s == CUBLAS_STATUS_ALLOC_FAILED ? GAR_ERR_NOMEM : other, where, what, call, text);
}

/* On failure: st = the status for it (`other` unless an allocation failed),
 * and goto done. */
#define GAR_CUDA_TRY_AS(other, call, where, what)                                                             \
    do {                                                                                                      \
        const cudaError_t gar_e_ = (call);                                                                    \
        if (gar_e_ != cudaSuccess) {                                                                          \
            st = gar_cuda_fail(gar_e_, (other), (where), (what), #call);                                      \
            goto done;                                                                                        \
        }                                                                                                     \
    } while (0)

#define GAR_CUFFT_TRY_AS(other, call, where, what)                                                            \
    do {                                                                                                      \
        const cufftResult gar_e_ = (call);                                                                    \
        if (gar_e_ != CUFFT_SUCCESS) {                                                                        \
            st = gar_cufft_fail(gar_e_, (other), (where), (what), #call);                                     \
            goto done;                                                                                        \
        }                                                                                                     \
    } while (0)

#define GAR_CUBLAS_TRY_AS(other, call, where, what)                                                           \
    do {                                                                                                      \
        const cublasStatus_t gar_e_ = (call);                                                                 \
        if (gar_e_ != CUBLAS_STATUS_SUCCESS) {                                                                \
            st = gar_cublas_fail(gar_e_, (other), (where), (what), #call);                                    \
            goto done;                                                                                        \
        }                                                                                                     \
    } while (0)

/* The usual case: a failure other than an allocation is GAR_ERR_INTERNAL. */
#define GAR_CUDA_TRY(call, where, what) GAR_CUDA_TRY_AS(GAR_ERR_INTERNAL, call, where, what)
#define GAR_CUFFT_TRY(call, where, what) GAR_CUFFT_TRY_AS(GAR_ERR_INTERNAL, call, where, what)
#define GAR_CUBLAS_TRY(call, where, what) GAR_CUBLAS_TRY_AS(GAR_ERR_INTERNAL, call, where, what)

#endif
