/* garner: the GPU inserter's handle (private to gpu/; C++, for the .cu files
 * only). gar_gpu_inserter.cu owns it (create, the host thread, submit,
 * collect, destroy); gar_gpu_tuning.cu reads and writes its tuning state. */
#ifndef GAR_GPU_INSERTER_H
#define GAR_GPU_INSERTER_H

#ifndef __cplusplus
#error "gar_gpu_inserter.h is for the .cu files of gpu/"
#endif

#include <cuda_runtime.h>
#include <cufft.h>
#include <pthread.h>

#include "gar_cuda_libs.h"

#include "gar_gpu.h"
#include "gar_gpu_gather.h"

enum { STAGE_FREE = 0, STAGE_FILLED = 1 };

/* One of the two batches in flight: pinned host buffers the caller's data is
 * copied into, and their device copies. */
struct stage_buf {
    float *host_data;                    /* pinned */
    gar_particle_geom *host_geoms;       /* pinned */
    gar_slice_geom *host_slices;         /* pinned */
    float *dev_data;
    gar_particle_geom *dev_geoms;
    gar_slice_geom *dev_slices;
    size_t count;
    int state;
    cudaEvent_t copied, computed;
};

struct gar_gpu_inserter {
    gar_gpu_insert_config cfg;
    double *ops;
    float *table_host;
    char *cache_path, *key;
    char device_name[256];
    char where[288];                     /* "GPU 0 (name)": the start of its error messages */
    size_t nvox, pp, data_floats;        /* data_floats: per particle in a stage */
    double rlim;
    cudaStream_t copy_stream, compute_stream;
    unsigned max_grid_y;          /* the device's cudaDevAttrMaxGridDimY: particles per make_planes launch */
    const gar_cufft_table *fft;   /* loaded when the FFT is on the GPU (gar_cuda_libs.h) */
    cufftHandle plan;
    int have_plan;
    cufftHandle short_plan;              /* for a batch shorter than cfg.batch (the last one) */
    size_t short_count;                  /* its particles; 0: none made */
    float *tune_scratch;                 /* the tuning's volume, allocated with the others so that a
                                            sibling inserter's memory check sees it; freed after */
    float *G[2], *W[2];
    float *dev_table, *planes, *real, *spec;
    size_t *dev_rows;                    /* the stored sphere's row starts (cfg.sphere's), on the device */
    stage_buf stage[2];
    int fill, take;
    gar_gather::LaunchCtx ctx;
    int variant, tuned;
    char report[4096];
    /* the host thread */
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int quit, flush_req, flushed;
    gar_status err;
    char errmsg[1024];
};

/* ---- the tuning (gar_gpu_tuning.cu) ---- */

/* The variant the tuning cache names for this device model and run key, if
 * it exists in this build and can run here; else −1. */
int gar_tuning_lookup(const gar_gpu_inserter *g);

/* Time every usable variant on one batch's slices (args) into a scratch
 * volume, and keep the fastest in g->variant (g->tuned set, the report
 * filled, the cache updated). On g's device thread; the sums are untouched. */
gar_status gar_tuning_run(gar_gpu_inserter *g, const gar_gather::GatherArgs &args);

#endif
