/* garner: the kernels of GPU insertion, as the inserter sees them (private
 * to gpu/; C++, for the .cu files only). gar_gpu_gather.cu holds the kernels
 * and the table of gather variants; gar_gpu_inserter.cu launches them and
 * gar_gpu_tuning.cu times the variants against each other.
 *
 * The kernels themselves stay private to gar_gpu_gather.cu (the build uses
 * no relocatable device code, -rdc): each comes with a host function that
 * launches it, with the launch configuration it has always had. */
#ifndef GAR_GPU_GATHER_H
#define GAR_GPU_GATHER_H

#ifndef __cplusplus
#error "gar_gpu_gather.h is for the .cu files of gpu/"
#endif

#include <cuda_runtime.h>
#include <stddef.h>

#include "gar_kernels.h"

namespace gar_gather {

/* Where a variant reads the blob weights: a table staged in shared memory,
 * the table in global memory, or computed on the fly (blob order 0 only). */
enum { BLOB_SHARED = 0, BLOB_GLOBAL = 1, BLOB_OTF = 2 };

/* One gather launch's arguments (by value to the kernel). */
struct GatherArgs {
    float *G[2];                 /* complex interleaved, per half set */
    float *W[2];
    const float *planes;         /* batch × 3 × pp */
    size_t pp;                   /* (2R+1)² */
    int R;
    const float *table;
    float inv_step, a2, alpha, inv_i0;
    int terms;
    double a, kmax2;
    int M, kbound, kxbound;
    const size_t *rows;          /* the stored sphere's row starts, on the device (gar_sphere.h) */
    int side;                    /* 2·kbound + 1: rows per kz */
    const gar_slice_geom *slices;
    int n_slices;                /* voxel kernels: every slice of the batch */
    int first_slice;             /* column kernels: the first of this launch */
};

/* What a variant needs of the run to be usable, and how to launch it. */
struct LaunchCtx {
    GatherArgs g;
    cudaStream_t stream;
    size_t max_smem;             /* the device's opt-in shared memory per block */
    int blob_order;
};

/* Queue the gather of c.g's slices on c.stream; the launch's error. */
typedef cudaError_t (*launch_fn)(const LaunchCtx &c);

struct Variant {
    const char *name;
    launch_fn launch;
    int blob;                    /* BLOB_OTF needs blob order 0 */
    size_t (*smem)(const LaunchCtx &c);   /* NULL: fits any device */
    int atomic;                  /* float atomics: the order of the sums varies from run to run */
};

/* The gather variants, in the order gar_gpu_variant_name counts them; the
 * first is the default (tuning = off, or cached with no entry). */
extern const Variant variants[];
extern const int n_variants;

/* Can the variant run this launch on this device? */
bool variant_usable(const Variant &v, const LaunchCtx &c);

/* Queue on `stream`: `count` images of N² floats, background mean removed,
 * zero-padded to M² floats each into `real` (one block per particle). The
 * launch's error is cudaGetLastError's. */
void launch_pad_images(const float *images, size_t count, int N, int M, float *real, cudaStream_t stream);

/* Queue on `stream`: each of `count` particles' prepared plane (3 × pp
 * floats into `planes`) from its transform in `spec` (M·(M/2+1) complex),
 * with its shift phase and CTF weight from `geoms` (device memory). The
 * particles are a grid's y dimension: launched `max_grid_y` at a time (the
 * device's cudaDevAttrMaxGridDimY, 65535; 0: 65535), since a batch may hold
 * more (issue 19, defect 3). */
void launch_make_planes(const float *spec, const gar_particle_geom *geoms, size_t count, int M, int R, double rlim,
                        double Mpx, int lattice, size_t pp, float *planes, unsigned max_grid_y, cudaStream_t stream);

} /* namespace gar_gather */

#endif
