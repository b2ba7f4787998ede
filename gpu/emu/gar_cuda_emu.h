/* garner: a CPU emulation of the part of CUDA that gpu/ uses, so that the
 * same .cu files, compiled as C++ by the host compiler, run in every
 * `make check` on machines without a GPU (tests/check_gpu_emu). Test
 * infrastructure, not a product: docs/ARCHITECTURE.md ("CUDA emulation")
 * says what it shows and what it cannot.
 *
 * What it provides, and how:
 *   kernels     GAR_LAUNCH runs the grid's blocks one after another on the
 *               calling host thread; a block's threads run as fibers (one
 *               stack each, switched by a few instructions of assembly on
 *               x86-64, ucontext elsewhere), so __syncthreads() is a real
 *               barrier: each fiber runs until it reaches the barrier or
 *               returns, and no fiber passes the barrier before every live
 *               fiber of the block has reached it. Fibers are resumed in
 *               thread order, so a missing barrier lets thread 0 read what
 *               the others have not written yet.
 *   launch      the limits of a real device are checked (block ≤ 1024
 *               threads, grid y ≤ GAR_CUDA_EMU_MAX_GRID_Y (default and most 65535, as
 *               cudaDevAttrMaxGridDimY reports), z ≤ 65535, dynamic shared memory ≤ 48 KiB
 *               unless cudaFuncSetAttribute raised it, ≤ the opt-in maximum);
 *               a bad launch sets cudaErrorInvalidConfiguration /
 *               cudaErrorInvalidValue for cudaGetLastError, as CUDA does.
 *   shared      GAR_SHARED carves the block's static shared memory from a
 *               per-block arena and GAR_SHARED_DYNAMIC returns a buffer of
 *               exactly the launch's size; both are filled with 0xFF bytes
 *               (float NaN, int −1) at each block's start, and the dynamic
 *               one ends at a guard page, so a wrong size or a missing
 *               barrier shows.
 *   memory      cudaMalloc gives host memory filled with 0xFF bytes (NaN),
 *               ending exactly at a PROT_NONE guard page (a read past the
 *               end is a SIGSEGV; the start is aligned as the size allows); under AddressSanitizer, plain heap memory, so an
 *               out-of-bounds device access is an ASan report. The device's
 *               size is GAR_CUDA_EMU_MEMORY bytes (a K, M or G suffix
 *               allowed; default 8G); allocations beyond it fail with
 *               cudaErrorMemoryAllocation and cudaMemGetInfo counts them.
 *   streams     every call runs to completion when issued (all streams are
 *               one in-order queue): events hold the time they were
 *               recorded, so a tuning's timings are real CPU times. A
 *               missing stream wait cannot show here.
 *   atomics     atomicAdd with the host's atomic operations.
 *   cuFFT       R2C plans over FFTW (fftwf_plan_many_dft_r2c).
 *   cuBLAS      cublasSgemm over OpenBLAS (cblas_sgemm).
 *   devices     GAR_CUDA_EMU_DEVICES of them (default 1), named
 *               "garner CUDA emulation"; GAR_CUDA_EMU_FAULT=stale-driver
 *               makes cudaGetDeviceCount fail as with a driver older than
 *               the runtime, GAR_CUDA_EMU_FAULT=no-driver as with none.
 *
 * Tests reach the counters and the fault injection through
 * gar_cuda_emu_control.h (C). */
#ifndef GAR_CUDA_EMU_H
#define GAR_CUDA_EMU_H

#ifndef __cplusplus
#error "gar_cuda_emu.h is for the .cu files of gpu/ compiled as C++"
#endif

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <tuple>

#ifndef GAR_CUDA_EMU
#define GAR_CUDA_EMU 1
#endif

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)

/* ---------------------------------------------------------------- runtime */

struct uint3 {
    unsigned x, y, z;
};

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};

enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInitializationError = 3,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInsufficientDriver = 35,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidDevice = 101,
    cudaErrorInvalidResourceHandle = 400,
    cudaErrorIllegalAddress = 700,
    cudaErrorLaunchFailure = 719
};
typedef enum cudaError cudaError_t;

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4
};

enum cudaDeviceAttr { cudaDevAttrMaxGridDimY = 6, cudaDevAttrMaxSharedMemoryPerBlockOptin = 97 };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };

#define cudaStreamNonBlocking 0x01
#define cudaEventDefault 0x00
#define cudaEventDisableTiming 0x02

typedef struct gar_emu_stream *cudaStream_t;
typedef struct gar_emu_event *cudaEvent_t;

struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem;
    size_t sharedMemPerBlockOptin;
    int major, minor;
};

const char *cudaGetErrorString(cudaError_t e);
const char *cudaGetErrorName(cudaError_t e);
cudaError_t cudaGetLastError(void);
cudaError_t cudaPeekAtLastError(void);
cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device);
cudaError_t cudaRuntimeGetVersion(int *v);
cudaError_t cudaDriverGetVersion(int *v);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int *device);
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device);
cudaError_t cudaDeviceGetPCIBusId(char *bus_id, int len, int device);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total_b);
cudaError_t cudaMalloc(void **p, size_t size);
cudaError_t cudaFree(void *p);
cudaError_t cudaHostAlloc(void **p, size_t size, unsigned flags);
cudaError_t cudaFreeHost(void *p);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind kind, cudaStream_t s = 0);
cudaError_t cudaMemset(void *p, int value, size_t n);
cudaError_t cudaMemsetAsync(void *p, int value, size_t n, cudaStream_t s = 0);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags);
cudaError_t cudaStreamCreate(cudaStream_t *s);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags = 0);
cudaError_t cudaEventCreate(cudaEvent_t *e);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = 0);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end);

namespace gar_emu {

/* The indices of the thread being run (one copy per host thread; the
 * scheduler sets it before resuming a fiber). */
struct thread_state {
    uint3 thread, block;
    dim3 bdim, gdim;
};
extern thread_local thread_state cur;

typedef void (*kernel_body)(void *ctx);
cudaError_t launch(const void *kernel, dim3 grid, dim3 block, size_t smem, cudaStream_t stream, kernel_body body,
                   void *ctx);
cudaError_t func_set_attribute(const void *kernel, cudaFuncAttribute attr, int value);
void *block_shared(size_t bytes, size_t align);
void *dynamic_shared(void);
void syncthreads(void);

/* Arguments are evaluated once, at the launch, and every thread calls the
 * kernel with copies of them, as CUDA passes kernel arguments by value. */
template <class K, class... A>
cudaError_t launch_kernel(K kernel, dim3 grid, dim3 block, size_t smem, cudaStream_t stream, A... args)
{
    struct ctx_t {
        K k;
        std::tuple<A...> a;
    } ctx{kernel, std::tuple<A...>(args...)};
    return launch((const void *)kernel, grid, block, smem, stream,
                  [](void *p) {
                      ctx_t *c = (ctx_t *)p;
                      std::apply(c->k, c->a);
                  },
                  &ctx);
}

} /* namespace gar_emu */

template <class T>
cudaError_t cudaFuncSetAttribute(T *kernel, cudaFuncAttribute attr, int value)
{
    return gar_emu::func_set_attribute((const void *)kernel, attr, value);
}

#define threadIdx (gar_emu::cur.thread)
#define blockIdx (gar_emu::cur.block)
#define blockDim (gar_emu::cur.bdim)
#define gridDim (gar_emu::cur.gdim)

inline void __syncthreads(void) { gar_emu::syncthreads(); }

template <class T>
inline T gar_emu_atomic_add(T *p, T v)
{
    T old, want;
    __atomic_load(p, &old, __ATOMIC_RELAXED);
    do
        want = old + v;
    while (!__atomic_compare_exchange(p, &old, &want, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return old;
}
inline float atomicAdd(float *p, float v) { return gar_emu_atomic_add(p, v); }
inline double atomicAdd(double *p, double v) { return gar_emu_atomic_add(p, v); }
inline int atomicAdd(int *p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }

#define GAR_LAUNCH(kernel, grid, block, smem, stream, ...) \
    gar_emu::launch_kernel(kernel, grid, block, smem, stream, __VA_ARGS__)
#define GAR_SHARED(type, name, dims) \
    type(&name) dims = *static_cast<type(*) dims>(gar_emu::block_shared(sizeof(type dims), alignof(type)))
#define GAR_SHARED_DYNAMIC(type, name) type *const name = static_cast<type *>(gar_emu::dynamic_shared())

/* ---------------------------------------------------------------- cuFFT */

#define CUFFT_VER_MAJOR 0
typedef int cufftHandle;
typedef float cufftReal;
typedef struct {
    float x, y;
} cufftComplex;
typedef enum cufftResult_t {
    CUFFT_SUCCESS = 0,
    CUFFT_INVALID_PLAN = 1,
    CUFFT_ALLOC_FAILED = 2,
    CUFFT_INVALID_TYPE = 3,
    CUFFT_INVALID_VALUE = 4,
    CUFFT_INTERNAL_ERROR = 5,
    CUFFT_EXEC_FAILED = 6,
    CUFFT_SETUP_FAILED = 7,
    CUFFT_INVALID_SIZE = 8
} cufftResult;
typedef enum cufftType_t { CUFFT_R2C = 0x2a } cufftType;

cufftResult cufftGetVersion(int *version);
cufftResult cufftEstimateMany(int rank, int *n, int *inembed, int istride, int idist, int *onembed, int ostride,
                              int odist, cufftType type, int batch, size_t *work);
cufftResult cufftPlanMany(cufftHandle *plan, int rank, int *n, int *inembed, int istride, int idist, int *onembed,
                          int ostride, int odist, cufftType type, int batch);
cufftResult cufftSetStream(cufftHandle plan, cudaStream_t stream);
cufftResult cufftExecR2C(cufftHandle plan, cufftReal *in, cufftComplex *out);
cufftResult cufftDestroy(cufftHandle plan);

/* ---------------------------------------------------------------- cuBLAS */

#define CUBLAS_VER_MAJOR 0
typedef struct gar_emu_blas *cublasHandle_t;
typedef enum {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_EXECUTION_FAILED = 13
} cublasStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 } cublasOperation_t;

cublasStatus_t cublasCreate_v2(cublasHandle_t *h);
cublasStatus_t cublasDestroy_v2(cublasHandle_t h);
cublasStatus_t cublasSetStream_v2(cublasHandle_t h, cudaStream_t s);
cublasStatus_t cublasSgemm_v2(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                              const float *alpha, const float *A, int lda, const float *B, int ldb,
                              const float *beta, float *C, int ldc);

/* For gar_cuda_libs.cu: the emulated library functions by name (the
 * tables of gar_cuda_libs.h are filled from here instead of dlsym). */
void *gar_emu_library_symbol(const char *name);

#endif
