/* garner: the CPU emulation of CUDA (gar_cuda_emu.h says what and how). */
#include "gar_cuda_emu.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <fftw3.h>
#include <map>
#include <mutex>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <vector>

#include "gar_cuda_emu_control.h"

#if defined(__SANITIZE_ADDRESS__)
#define GAR_EMU_ASAN 1
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace gar_emu {

thread_local thread_state cur;

/* ------------------------------------------------------------ device state */

static const char DEVICE_NAME[] = "garner CUDA emulation";
static const size_t SMEM_DEFAULT = 48 * 1024, SMEM_OPTIN = 232448;   /* an H100's */
static const size_t STATIC_SMEM_MAX = 48 * 1024;

struct allocation {
    void *map;          /* what to munmap or free */
    size_t map_len;     /* 0: from the heap */
    size_t size;
    int device;
    bool host;
};

static std::mutex mu;                       /* guards everything below */
static std::map<void *, allocation> allocs;
static std::map<const void *, size_t> func_smem;
static size_t used[64];
static cudaError_t sticky = cudaSuccess;
static long fail_launch_in = 0;
static long n_launches = 0, n_fft_images = 0;

static thread_local int device = 0;
static thread_local cudaError_t last_error = cudaSuccess;

static int device_count(void)
{
    const char *s = getenv("GAR_CUDA_EMU_DEVICES");
    int n = s && *s ? atoi(s) : 1;
    return n < 0 ? 0 : n > 64 ? 64 : n;
}

/* The grid's y limit the device reports and launches enforce: 65535, as
 * every CUDA device has; GAR_CUDA_EMU_MAX_GRID_Y lowers it, so a test can
 * make code split its launches at a size an emulation runs quickly (issue
 * 19, defect 3: make_planes launched a batch of 65536 particles as one grid). */
static unsigned max_grid_y(void)
{
    const char *s = getenv("GAR_CUDA_EMU_MAX_GRID_Y");
    long v = s && *s ? atol(s) : 65535;
    return v < 1 ? 1u : v > 65535 ? 65535u : (unsigned)v;
}

static size_t device_memory(void)
{
    const char *s = getenv("GAR_CUDA_EMU_MEMORY");
    if (s == NULL || *s == '\0')
        return (size_t)8 << 30;
    char *end;
    double v = strtod(s, &end);
    switch (*end) {
    case 'k': case 'K': v *= 1024.0; break;
    case 'm': case 'M': v *= 1048576.0; break;
    case 'g': case 'G': v *= 1073741824.0; break;
    default: break;
    }
    return v > 0 ? (size_t)v : 0;
}

static cudaError_t fail(cudaError_t e)
{
    last_error = e;
    return e;
}

/* The context's sticky error, if any (then every call returns it). */
static cudaError_t sticky_error(void)
{
    std::lock_guard<std::mutex> l(mu);
    return sticky;
}

/* Memory that ends at a PROT_NONE page (or, under ASan, heap memory with
 * ASan's red zones), filled with 0xFF bytes: float NaN. */
static void *guarded_alloc(size_t size, allocation *a)
{
    const size_t bytes = size ? size : 1;
#ifdef GAR_EMU_ASAN
    void *p = NULL;
    if (posix_memalign(&p, 256, bytes) != 0)
        return NULL;
    a->map = p;
    a->map_len = 0;
#else
    /* The buffer ends exactly at the guard page, so that even a read of
     * one float past it faults; its start is then aligned to the largest
     * power of two dividing its size (an array of T of any length keeps
     * T's alignment), not to CUDA's 256 bytes. */
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t rounded = bytes;
    const size_t len = (rounded + page - 1) / page * page + page;
    char *m = (char *)mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    mprotect(m + len - page, page, PROT_NONE);
    void *p = m + len - page - rounded;
    a->map = m;
    a->map_len = len;
#endif
    memset(p, 0xFF, bytes);
    a->size = size;
    return p;
}

static void guarded_free(const allocation &a)
{
    if (a.map_len)
        munmap(a.map, a.map_len);
    else
        free(a.map);
}

/* ------------------------------------------------------------ fibers */

/* A block's threads run as fibers on the host thread that launched the
 * grid. Each has its own stack (with a guard page below it); the switch
 * saves the callee-saved registers on the old stack and pops them from the
 * new one. */
#if defined(__x86_64__)
extern "C" void gar_emu_switch(void **save_sp, void *to_sp);
asm(".text\n"
    ".globl gar_emu_switch\n"
    ".hidden gar_emu_switch\n"
    ".type gar_emu_switch,@function\n"
    "gar_emu_switch:\n"
    "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
    "  ret\n"
    ".size gar_emu_switch,.-gar_emu_switch\n");
#endif

static const size_t FIBER_STACK =
#ifdef GAR_EMU_ASAN
    512 * 1024;
#else
    128 * 1024;
#endif

struct fiber {
    char *stack;        /* lowest usable byte */
    size_t stack_len;
#if defined(__x86_64__)
    void *sp;
#else
    ucontext_t uc;
#endif
    bool done;
    uint3 idx;
    size_t shared_off;  /* its walk through the block's static shared arena */
};

struct block_runner {
    std::vector<fiber> fibers;
    int current = -1;
#if defined(__x86_64__)
    void *sched_sp = nullptr;
#else
    ucontext_t sched_uc;
#endif
    kernel_body body = nullptr;
    void *ctx = nullptr;
    unsigned char *arena = nullptr;     /* static shared memory */
    size_t arena_used = 0, arena_high = 0;
    unsigned char *dyn = nullptr;       /* dynamic shared memory, exactly the launch's size */
    size_t dyn_size = 0;
    allocation dyn_alloc{};
    bool dyn_poisoned = false;
#ifdef GAR_EMU_ASAN
    const void *sched_bottom = nullptr;
    size_t sched_size = 0;
    void *sched_fake = nullptr;
#endif
    ~block_runner()
    {
        for (fiber &f : fibers)
            munmap(f.stack - 4096, f.stack_len + 4096);
        free(arena);
        if (dyn)
            guarded_free(dyn_alloc);
    }
};

static thread_local block_runner *runner = nullptr;

static block_runner *get_runner(void)
{
    static thread_local block_runner r;
    if (r.arena == nullptr) {
        r.arena = (unsigned char *)aligned_alloc(64, STATIC_SMEM_MAX);
        if (r.arena == nullptr) {
            fprintf(stderr, "CUDA emulation: out of memory\n");
            abort();
        }
        memset(r.arena, 0xFF, STATIC_SMEM_MAX);
    }
    return &r;
}

static void to_scheduler(block_runner *r, fiber *f, bool finishing)
{
#ifdef GAR_EMU_ASAN
    void *fake = nullptr;
    __sanitizer_start_switch_fiber(finishing ? nullptr : &fake, r->sched_bottom, r->sched_size);
#else
    (void)finishing;
#endif
#if defined(__x86_64__)
    gar_emu_switch(&f->sp, r->sched_sp);
#else
    swapcontext(&f->uc, &r->sched_uc);
#endif
#ifdef GAR_EMU_ASAN
    __sanitizer_finish_switch_fiber(fake, &r->sched_bottom, &r->sched_size);
#endif
}

static void fiber_main(void)
{
    block_runner *r = runner;
#ifdef GAR_EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &r->sched_bottom, &r->sched_size);
#endif
    r->body(r->ctx);
    fiber *f = &r->fibers[(size_t)r->current];
    f->done = true;
    to_scheduler(r, f, true);
    abort();   /* a finished fiber is never resumed */
}

static void fiber_start(block_runner *r, fiber &f)
{
#ifdef GAR_EMU_ASAN
    ASAN_UNPOISON_MEMORY_REGION(f.stack, f.stack_len);
#endif
#if defined(__x86_64__)
    void **sp = (void **)(f.stack + f.stack_len);   /* 16-byte aligned */
    *--sp = nullptr;                                 /* fiber_main's return address: none */
    *--sp = (void *)fiber_main;
    for (int i = 0; i < 6; i++)
        *--sp = nullptr;                             /* rbp rbx r12-r15 */
    f.sp = sp;
#else
    getcontext(&f.uc);
    f.uc.uc_stack.ss_sp = f.stack;
    f.uc.uc_stack.ss_size = f.stack_len;
    f.uc.uc_link = nullptr;
    makecontext(&f.uc, fiber_main, 0);
#endif
    (void)r;
    f.done = false;
    f.shared_off = 0;
}

static void fiber_resume(block_runner *r, int t)
{
    fiber &f = r->fibers[(size_t)t];
    r->current = t;
    cur.thread = f.idx;
#ifdef GAR_EMU_ASAN
    __sanitizer_start_switch_fiber(&r->sched_fake, f.stack, f.stack_len);
#endif
#if defined(__x86_64__)
    gar_emu_switch(&r->sched_sp, f.sp);
#else
    swapcontext(&r->sched_uc, &f.uc);
#endif
#ifdef GAR_EMU_ASAN
    __sanitizer_finish_switch_fiber(r->sched_fake, nullptr, nullptr);
#endif
}

static bool ensure_fibers(block_runner *r, size_t n)
{
    while (r->fibers.size() < n) {
        fiber f{};
        const size_t guard = 4096;
        char *m = (char *)mmap(NULL, FIBER_STACK + guard, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED)
            return false;
        mprotect(m, guard, PROT_NONE);   /* a stack overflow faults */
        f.stack = m + guard;
        f.stack_len = FIBER_STACK;
        r->fibers.push_back(f);
    }
    return true;
}

void syncthreads(void)
{
    block_runner *r = runner;
    to_scheduler(r, &r->fibers[(size_t)r->current], false);
}

void *block_shared(size_t bytes, size_t align)
{
    block_runner *r = runner;
    fiber &f = r->fibers[(size_t)r->current];
    size_t off = (f.shared_off + align - 1) / align * align;
    if (off + bytes > STATIC_SMEM_MAX) {
        fprintf(stderr, "CUDA emulation: a block's static shared memory exceeds %zu bytes\n", STATIC_SMEM_MAX);
        abort();
    }
    f.shared_off = off + bytes;
    if (f.shared_off > r->arena_used)
        r->arena_used = f.shared_off;
    return r->arena + off;
}

void *dynamic_shared(void)
{
    block_runner *r = runner;
    if (!r->dyn_poisoned && r->dyn != nullptr) {
        memset(r->dyn, 0xFF, r->dyn_size);
        r->dyn_poisoned = true;
    }
    return r->dyn;
}

/* ------------------------------------------------------------ launches */

cudaError_t func_set_attribute(const void *kernel, cudaFuncAttribute attr, int value)
{
    cudaError_t e = sticky_error();
    if (e != cudaSuccess)
        return fail(e);
    if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 || (size_t)value > SMEM_OPTIN)
        return fail(cudaErrorInvalidValue);
    std::lock_guard<std::mutex> l(mu);
    func_smem[kernel] = (size_t)value;
    return cudaSuccess;
}

cudaError_t launch(const void *kernel, dim3 grid, dim3 block, size_t smem, cudaStream_t stream, kernel_body body,
                   void *ctx)
{
    (void)stream;
    {
        /* Every launch called counts, a refused one too: a test can see
         * that code went on launching into a dead context. */
        std::lock_guard<std::mutex> l(mu);
        n_launches++;
    }
    cudaError_t e = sticky_error();
    if (e != cudaSuccess)
        return fail(e);
    const unsigned long long nt = (unsigned long long)block.x * block.y * block.z;
    if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 2147483647u || grid.y > max_grid_y() || grid.z > 65535 ||
        nt == 0 || nt > 1024 || block.x > 1024 || block.y > 1024 || block.z > 64)
        return fail(cudaErrorInvalidConfiguration);
    size_t smem_max = SMEM_DEFAULT;
    bool inject = false;
    {
        std::lock_guard<std::mutex> l(mu);
        auto it = func_smem.find(kernel);
        if (it != func_smem.end() && it->second > smem_max)
            smem_max = it->second;
        if (fail_launch_in > 0 && --fail_launch_in == 0)
            inject = true;
    }
    if (smem > smem_max)
        return fail(cudaErrorInvalidValue);
    if (inject) {
        std::lock_guard<std::mutex> l(mu);
        sticky = cudaErrorIllegalAddress;
        return cudaSuccess;   /* as on a GPU: the launch is accepted, the fault shows at the next sync */
    }
    block_runner *r = get_runner();
    if (runner != nullptr) {
        fprintf(stderr, "CUDA emulation: a kernel launched from a kernel\n");
        abort();
    }
    if (!ensure_fibers(r, (size_t)nt))
        return fail(cudaErrorMemoryAllocation);
    if (r->dyn_size != smem || r->dyn == nullptr) {
        if (r->dyn)
            guarded_free(r->dyn_alloc);
        r->dyn = (unsigned char *)guarded_alloc(smem, &r->dyn_alloc);
        r->dyn_size = smem;
        if (r->dyn == nullptr)
            return fail(cudaErrorMemoryAllocation);
    }
    r->body = body;
    r->ctx = ctx;
    runner = r;
    const thread_state saved = cur;
    cur.bdim = block;
    cur.gdim = grid;
    for (unsigned bz = 0; bz < grid.z; bz++)
        for (unsigned by = 0; by < grid.y; by++)
            for (unsigned bx = 0; bx < grid.x; bx++) {
                cur.block = uint3{bx, by, bz};
                /* Fresh shared memory: what a block did not write reads as NaN / −1. */
                memset(r->arena, 0xFF, r->arena_high);
                r->arena_used = 0;
                r->dyn_poisoned = false;
                size_t t = 0;
                for (unsigned z = 0; z < block.z; z++)
                    for (unsigned y = 0; y < block.y; y++)
                        for (unsigned x = 0; x < block.x; x++, t++) {
                            r->fibers[t].idx = uint3{x, y, z};
                            fiber_start(r, r->fibers[t]);
                        }
                /* Rounds: each live fiber runs to its next barrier or its end. */
                for (size_t live = (size_t)nt; live > 0;) {
                    live = 0;
                    for (size_t i = 0; i < (size_t)nt; i++)
                        if (!r->fibers[i].done) {
                            fiber_resume(r, (int)i);
                            live += !r->fibers[i].done;
                        }
                }
                if (r->arena_used > r->arena_high)
                    r->arena_high = r->arena_used;
            }
    runner = nullptr;
    cur = saved;
    return cudaSuccess;
}

} /* namespace gar_emu */

using namespace gar_emu;

/* ---------------------------------------------------------------- runtime API */

const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    }
    return "unrecognized error code";
}

const char *cudaGetErrorName(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    default: return "cudaError";
    }
}

cudaError_t cudaGetLastError(void)
{
    cudaError_t s = sticky_error();
    if (s != cudaSuccess)
        return s;
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError(void)
{
    cudaError_t s = sticky_error();
    return s != cudaSuccess ? s : last_error;
}

static const char *fault_env(void)
{
    const char *f = getenv("GAR_CUDA_EMU_FAULT");
    return f ? f : "";
}

cudaError_t cudaGetDeviceCount(int *count)
{
    if (strcmp(fault_env(), "stale-driver") == 0 || strcmp(fault_env(), "no-driver") == 0) {
        *count = 0;
        return fail(cudaErrorInsufficientDriver);
    }
    *count = device_count();
    return *count ? cudaSuccess : fail(cudaErrorNoDevice);
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int dev)
{
    if (dev < 0 || dev >= device_count())
        return fail(cudaErrorInvalidDevice);
    memset(prop, 0, sizeof *prop);
    snprintf(prop->name, sizeof prop->name, "%s", DEVICE_NAME);
    prop->totalGlobalMem = device_memory();
    prop->sharedMemPerBlockOptin = SMEM_OPTIN;
    prop->major = 9;
    return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int *v)
{
    *v = 0;
    return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int *v)
{
    /* A stale driver is one; no driver reports 0, as CUDA does. */
    *v = strcmp(fault_env(), "no-driver") == 0 ? 0 : strcmp(fault_env(), "stale-driver") == 0 ? 11000 : 13000;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int dev)
{
    if (dev < 0 || dev >= device_count())
        return fail(cudaErrorInvalidDevice);
    device = dev;
    return cudaSuccess;
}

cudaError_t cudaGetDevice(int *dev)
{
    *dev = device;
    return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int dev)
{
    if (dev < 0 || dev >= device_count())
        return fail(cudaErrorInvalidDevice);
    if (attr == cudaDevAttrMaxGridDimY) {
        *value = (int)max_grid_y();
        return cudaSuccess;
    }
    if (attr != cudaDevAttrMaxSharedMemoryPerBlockOptin)
        return fail(cudaErrorInvalidValue);
    *value = (int)SMEM_OPTIN;
    return cudaSuccess;
}

/* Every process sees the same emulated devices, as ranks on one node see
 * its GPUs: device d is on bus d. */
cudaError_t cudaDeviceGetPCIBusId(char *bus_id, int len, int dev)
{
    if (dev < 0 || dev >= device_count() || len < 13)
        return fail(cudaErrorInvalidValue);
    snprintf(bus_id, (size_t)len, "0000:%02x:00.0", dev);
    return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void)
{
    cudaError_t e = sticky_error();
    return e != cudaSuccess ? fail(e) : cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total_b)
{
    cudaError_t e = sticky_error();
    if (e != cudaSuccess)
        return fail(e);
    std::lock_guard<std::mutex> l(mu);
    *total_b = device_memory();
    *free_b = used[device] < *total_b ? *total_b - used[device] : 0;
    return cudaSuccess;
}

static cudaError_t alloc(void **p, size_t size, bool host)
{
    *p = nullptr;
    cudaError_t e = sticky_error();
    if (e != cudaSuccess)
        return fail(e);
    allocation a{};
    a.device = device;
    a.host = host;
    if (!host) {
        std::lock_guard<std::mutex> l(mu);
        if (used[device] + size > device_memory())
            return fail(cudaErrorMemoryAllocation);
        used[device] += size;
    }
    void *q = guarded_alloc(size, &a);
    std::lock_guard<std::mutex> l(mu);
    if (q == nullptr) {
        if (!host)
            used[device] -= size;
        return fail(cudaErrorMemoryAllocation);
    }
    allocs[q] = a;
    *p = q;
    return cudaSuccess;
}

static cudaError_t release(void *p, bool host)
{
    if (p == nullptr)
        return cudaSuccess;
    allocation a;
    {
        std::lock_guard<std::mutex> l(mu);
        auto it = allocs.find(p);
        if (it == allocs.end() || it->second.host != host)
            return fail(cudaErrorInvalidValue);
        a = it->second;
        allocs.erase(it);
        if (!host)
            used[a.device] -= a.size;
    }
    guarded_free(a);
    return cudaSuccess;
}

cudaError_t cudaMalloc(void **p, size_t size) { return alloc(p, size, false); }
cudaError_t cudaFree(void *p) { return release(p, false); }
cudaError_t cudaHostAlloc(void **p, size_t size, unsigned flags)
{
    (void)flags;
    return alloc(p, size, true);
}
cudaError_t cudaFreeHost(void *p) { return release(p, true); }

cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind kind)
{
    (void)kind;
    cudaError_t e = sticky_error();
    if (e != cudaSuccess)
        return fail(e);
    if (n)
        memcpy(dst, src, n);
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind kind, cudaStream_t s)
{
    (void)s;
    return cudaMemcpy(dst, src, n, kind);
}

cudaError_t cudaMemset(void *p, int value, size_t n)
{
    cudaError_t e = sticky_error();
    if (e != cudaSuccess)
        return fail(e);
    if (n)
        memset(p, value, n);
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *p, int value, size_t n, cudaStream_t s)
{
    (void)s;
    return cudaMemset(p, value, n);
}

struct gar_emu_stream {
    unsigned flags;
};
struct gar_emu_event {
    unsigned flags;
    double t;
    bool recorded;
};

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags)
{
    cudaError_t e = sticky_error();
    if (e != cudaSuccess)
        return fail(e);
    *s = new gar_emu_stream{flags};
    return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t *s) { return cudaStreamCreateWithFlags(s, 0); }
cudaError_t cudaStreamDestroy(cudaStream_t s)
{
    delete s;
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s)
{
    (void)s;
    return cudaDeviceSynchronize();
}
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t ev, unsigned flags)
{
    (void)s, (void)ev, (void)flags;
    return cudaDeviceSynchronize();
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *ev, unsigned flags)
{
    cudaError_t e = sticky_error();
    if (e != cudaSuccess)
        return fail(e);
    *ev = new gar_emu_event{flags, 0.0, false};
    return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t *ev) { return cudaEventCreateWithFlags(ev, 0); }
cudaError_t cudaEventDestroy(cudaEvent_t ev)
{
    delete ev;
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t ev, cudaStream_t s)
{
    (void)s;
    cudaError_t e = sticky_error();
    if (e != cudaSuccess)
        return fail(e);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ev->t = ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
    ev->recorded = true;
    return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t ev)
{
    (void)ev;
    return cudaDeviceSynchronize();
}
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b)
{
    cudaError_t e = sticky_error();
    if (e != cudaSuccess)
        return fail(e);
    if ((a->flags & cudaEventDisableTiming) || (b->flags & cudaEventDisableTiming) || !a->recorded || !b->recorded)
        return fail(cudaErrorInvalidResourceHandle);
    *ms = (float)(b->t - a->t);
    return cudaSuccess;
}

/* ---------------------------------------------------------------- cuFFT over FFTW */

struct fft_plan {
    fftwf_plan p;
    int n0, n1, batch;
};
static std::map<int, fft_plan> plans;
static int next_plan = 1;
/* FFTW's planner is not thread-safe; the emulation's planning takes turns
 * with itself (garner's own planning, src/gar_fft.c, runs on other threads
 * only before and after the GPU's, in the tests that use this). */
static std::mutex planner;

cufftResult cufftGetVersion(int *version)
{
    *version = 0;
    return CUFFT_SUCCESS;
}

cufftResult cufftEstimateMany(int rank, int *n, int *inembed, int istride, int idist, int *onembed, int ostride,
                              int odist, cufftType type, int batch, size_t *work)
{
    (void)rank, (void)n, (void)inembed, (void)istride, (void)idist, (void)onembed, (void)ostride, (void)odist;
    (void)type, (void)batch;
    *work = 0;
    return CUFFT_SUCCESS;
}

cufftResult cufftPlanMany(cufftHandle *plan, int rank, int *n, int *inembed, int istride, int idist, int *onembed,
                          int ostride, int odist, cufftType type, int batch)
{
    if (rank != 2 || inembed || onembed || istride != 1 || ostride != 1 || type != CUFFT_R2C || batch < 1)
        return CUFFT_INVALID_VALUE;
    (void)idist, (void)odist;
    const size_t in = (size_t)n[0] * n[1], out = (size_t)n[0] * (n[1] / 2 + 1);
    std::lock_guard<std::mutex> l(planner);
    /* FFTW_ESTIMATE does not touch the arrays; the plan runs on others
     * (fftwf_execute_dft_r2c), hence FFTW_UNALIGNED. */
    float *dummy_in = fftwf_alloc_real(2);
    fftwf_complex *dummy_out = fftwf_alloc_complex(2);
    fftwf_plan p = fftwf_plan_many_dft_r2c(2, n, batch, dummy_in, NULL, 1, (int)in, dummy_out, NULL, 1, (int)out,
                                           FFTW_ESTIMATE | FFTW_UNALIGNED);
    fftwf_free(dummy_in);
    fftwf_free(dummy_out);
    if (p == NULL)
        return CUFFT_ALLOC_FAILED;
    *plan = next_plan++;
    plans[*plan] = fft_plan{p, n[0], n[1], batch};
    return CUFFT_SUCCESS;
}

cufftResult cufftSetStream(cufftHandle plan, cudaStream_t s)
{
    (void)s;
    std::lock_guard<std::mutex> l(planner);
    return plans.count(plan) ? CUFFT_SUCCESS : CUFFT_INVALID_PLAN;
}

cufftResult cufftExecR2C(cufftHandle plan, cufftReal *in, cufftComplex *out)
{
    if (sticky_error() != cudaSuccess)
        return CUFFT_EXEC_FAILED;
    fft_plan fp;
    {
        std::lock_guard<std::mutex> l(planner);
        auto it = plans.find(plan);
        if (it == plans.end())
            return CUFFT_INVALID_PLAN;
        fp = it->second;
    }
    fftwf_execute_dft_r2c(fp.p, in, (fftwf_complex *)out);
    std::lock_guard<std::mutex> l(mu);
    n_fft_images += fp.batch;
    return CUFFT_SUCCESS;
}

cufftResult cufftDestroy(cufftHandle plan)
{
    std::lock_guard<std::mutex> l(planner);
    auto it = plans.find(plan);
    if (it == plans.end())
        return CUFFT_INVALID_PLAN;
    fftwf_destroy_plan(it->second.p);
    plans.erase(it);
    return CUFFT_SUCCESS;
}

/* ---------------------------------------------------------------- cuBLAS over OpenBLAS */

struct gar_emu_blas {
    cudaStream_t stream;
};

cublasStatus_t cublasCreate_v2(cublasHandle_t *h)
{
    *h = new gar_emu_blas{nullptr};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy_v2(cublasHandle_t h)
{
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream_v2(cublasHandle_t h, cudaStream_t s)
{
    h->stream = s;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSgemm_v2(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                              const float *alpha, const float *A, int lda, const float *B, int ldb,
                              const float *beta, float *C, int ldc)
{
    (void)h;
    if (sticky_error() != cudaSuccess)
        return CUBLAS_STATUS_EXECUTION_FAILED;
    if (m < 0 || n < 0 || k < 0)
        return CUBLAS_STATUS_INVALID_VALUE;
    cblas_sgemm(CblasColMajor, ta == CUBLAS_OP_N ? CblasNoTrans : CblasTrans,
                tb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc);
    return CUBLAS_STATUS_SUCCESS;
}

void *gar_emu_library_symbol(const char *name)
{
    static const struct {
        const char *name;
        void *fn;
    } table[] = {
        {"cufftGetVersion", (void *)&cufftGetVersion},   {"cufftEstimateMany", (void *)&cufftEstimateMany},
        {"cufftPlanMany", (void *)&cufftPlanMany},       {"cufftSetStream", (void *)&cufftSetStream},
        {"cufftExecR2C", (void *)&cufftExecR2C},         {"cufftDestroy", (void *)&cufftDestroy},
        {"cublasCreate_v2", (void *)&cublasCreate_v2},   {"cublasDestroy_v2", (void *)&cublasDestroy_v2},
        {"cublasSetStream_v2", (void *)&cublasSetStream_v2}, {"cublasSgemm_v2", (void *)&cublasSgemm_v2},
    };
    for (const auto &t : table)
        if (strcmp(t.name, name) == 0)
            return t.fn;
    return nullptr;
}

/* ---------------------------------------------------------------- control */

extern "C" long gar_cuda_emu_fft_images(void)
{
    std::lock_guard<std::mutex> l(mu);
    return n_fft_images;
}

extern "C" long gar_cuda_emu_launches(void)
{
    std::lock_guard<std::mutex> l(mu);
    return n_launches;
}

extern "C" void gar_cuda_emu_fail_launch(long n)
{
    std::lock_guard<std::mutex> l(mu);
    fail_launch_in = n;
}

extern "C" void gar_cuda_emu_reset(void)
{
    std::lock_guard<std::mutex> l(mu);
    sticky = cudaSuccess;
    fail_launch_in = 0;
}

/* See gar_cuda_emu_control.h. */
extern "C" void gar_cuda_emu_probe(const char *point)
{
    const char *dir = getenv("GAR_CUDA_EMU_PROBE_DIR"), *ms_s = getenv("GAR_CUDA_EMU_PROBE_MS");
    char marker[4096];
    if (dir == NULL || *dir == '\0')
        return;
    const long ms = ms_s && *ms_s ? atol(ms_s) : 200;
    const struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    snprintf(marker, sizeof marker, "%s/tuning-in-progress", dir);
    if (strcmp(point, "tuning-begin") == 0) {
        int fd = open(marker, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd >= 0) {
            close(fd);
        } else {
            char path[4096];
            snprintf(path, sizeof path, "%s/overlaps", dir);
            FILE *f = fopen(path, "a");
            if (f != NULL) {
                fprintf(f, "process %ld began tuning while another was tuning\n", (long)getpid());
                fclose(f);
            }
        }
        nanosleep(&pause, NULL);
    } else if (strcmp(point, "tuning-end") == 0) {
        unlink(marker);
    } else if (strcmp(point, "cache-read") == 0) {
        nanosleep(&pause, NULL);
    }
}
