/* garner: cuFFT and cuBLAS loaded on first use (gar_cuda_libs.h). */
#include <cublas_v2.h>
#include <cufft.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "gar_cuda_libs.h"

#define GAR_STR_(x) #x
#define GAR_STR(x) GAR_STR_(x)

/* One library: its soname, the table's fields by name, and what happened. */
struct lib_loading {
    const char *soname;
    void *handle;
    char why[512];
};

#ifdef GAR_CUDA_EMU
/* The CPU emulation (gpu/emu/) provides the functions itself. */
static int lib_open(lib_loading *lib)
{
    lib->handle = (void *)lib;
    return 0;
}
#define dlsym(handle, name) gar_emu_library_symbol(name)
#define dlclose(handle) ((void)(handle))
#else
/* dlopen `soname` where the toolkit was, then anywhere; 0 on success. */
static int lib_open(lib_loading *lib)
{
    char path[1024];
    const char *tries[2];
    int n = 0;
#ifdef GAR_CUDA_LIBDIR
    snprintf(path, sizeof path, "%s/%s", GAR_CUDA_LIBDIR, lib->soname);
    tries[n++] = path;
#endif
    tries[n++] = lib->soname;
    for (int i = 0; i < n && lib->handle == NULL; i++)
        if ((lib->handle = dlopen(tries[i], RTLD_NOW | RTLD_LOCAL)) == NULL)
            snprintf(lib->why, sizeof lib->why, "%s", dlerror());
    return lib->handle == NULL ? -1 : 0;
}
#endif

/* Resolve `names[i]` into `slots[i]`; on a missing one, close the library
 * and say which. */
static int lib_resolve(lib_loading *lib, const char *const *names, void **slots, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        slots[i] = dlsym(lib->handle, names[i]);
        if (slots[i] == NULL) {
            snprintf(lib->why, sizeof lib->why, "%s lacks %s", lib->soname, names[i]);
            dlclose(lib->handle);
            lib->handle = NULL;
            return -1;
        }
    }
    return 0;
}

/* Opens `lib` and fills `table`, a struct of n function pointers in the
 * order of `names`, from its symbols; on any failure the table stays zero
 * and lib->why says why. */
static void load_table(lib_loading *lib, const char *const *names, size_t n, void *table, size_t table_bytes)
{
    void *slots[16];
    if (n > sizeof slots / sizeof slots[0] || table_bytes != n * sizeof(void *))
        abort();   /* unreachable: each caller's static_assert holds them in step */
    if (lib_open(lib) == 0 && lib_resolve(lib, names, slots, n) == 0)
        memcpy(table, slots, table_bytes);   /* dlsym's objects are the functions (POSIX) */
}

static lib_loading cufft_lib = {"libcufft.so." GAR_STR(CUFFT_VER_MAJOR), NULL, ""};
static gar_cufft_table cufft_table;
static pthread_once_t cufft_once = PTHREAD_ONCE_INIT;

static void cufft_load_once(void)
{
    /* In the order of gar_cufft_table's fields. */
    static const char *const names[] = {"cufftGetVersion", "cufftEstimateMany", "cufftPlanMany",
                                        "cufftSetStream",  "cufftExecR2C",      "cufftDestroy"};
    static_assert(sizeof names / sizeof names[0] * sizeof(void *) == sizeof cufft_table,
                  "one name for each field of gar_cufft_table");
    load_table(&cufft_lib, names, sizeof names / sizeof names[0], &cufft_table, sizeof cufft_table);
}

const gar_cufft_table *gar_cufft_load(gar_status *st)
{
    pthread_once(&cufft_once, cufft_load_once);
    if (cufft_lib.handle != NULL)
        return &cufft_table;
    if (st != NULL)
        *st = gar_error(GAR_ERR_NOT_BUILT, "cannot load cuFFT (%s)", cufft_lib.why);
    return NULL;
}

static lib_loading cublas_lib = {"libcublas.so." GAR_STR(CUBLAS_VER_MAJOR), NULL, ""};
static gar_cublas_table cublas_table;
static pthread_once_t cublas_once = PTHREAD_ONCE_INIT;

static void cublas_load_once(void)
{
    /* In the order of gar_cublas_table's fields. */
    static const char *const names[] = {"cublasCreate_v2", "cublasDestroy_v2", "cublasSetStream_v2",
                                        "cublasSgemm_v2"};
    static_assert(sizeof names / sizeof names[0] * sizeof(void *) == sizeof cublas_table,
                  "one name for each field of gar_cublas_table");
    load_table(&cublas_lib, names, sizeof names / sizeof names[0], &cublas_table, sizeof cublas_table);
}

const gar_cublas_table *gar_cublas_load(gar_status *st)
{
    pthread_once(&cublas_once, cublas_load_once);
    if (cublas_lib.handle != NULL)
        return &cublas_table;
    if (st != NULL)
        *st = gar_error(GAR_ERR_NOT_BUILT, "cannot load cuBLAS (%s)", cublas_lib.why);
    return NULL;
}
