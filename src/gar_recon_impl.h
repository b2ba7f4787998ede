/* garner: the reconstructor's insides, shared by the files that make it up
 * (not installed; nothing outside src/gar_recon*.c includes it):
 *
 *   gar_recon.c          the object: create, insert, flush, reset, destroy
 *   gar_recon_memory.c   what it holds: the memory estimate, the volumes
 *   gar_recon_plane.c    a particle's image to its plane (FFT, shift, CTF)
 *   gar_recon_insert.c   the inserters (CPU, GPU) and the scalar slice insertion
 *   gar_recon_slice.h    the voxels of a slice, shared by both CPU kernels
 *   gar_recon_avx512.c   the AVX-512 kernels, where the CPU has them
 *   gar_recon_finalize.c the sums to a map: symmetry, weights, inverse FFT, gridding
 *
 * Two choices are made once, at gar_recon_create, and never looked at again
 * on the hot paths: which CPU kernels prepare planes and insert slices (a
 * gar_recon_kernels table, as FFTW's plans carry their solver's functions),
 * and which inserters take the batches (the CPU, or one per GPU). */
#ifndef GAR_RECON_IMPL_H
#define GAR_RECON_IMPL_H

#include <stddef.h>

#include "gar_fft.h"
#include "gar_fixedsum.h"
#include "gar_gather_simd.h"
#include "gar_gpu.h"
#include "gar_kernels.h"
#include "gar_recon.h"
#include "gar_sphere.h"

/* The CPU's two hot loops. Every table computes the same sums as the scalar
 * one, whose per-pixel and per-voxel maths gar_kernels.h shares with the
 * GPU; tests/check_recon holds the others to it. */
typedef struct gar_recon_kernels {
    /* Rows 0 .. R of a particle's plane (and their Friedel mates) from its
     * transform c; the shift phases of column u and row v at index u + R. */
    void (*plane_rows)(const gar_recon *r, const float *c, const gar_particle_geom *g, const double *cu,
                       const double *su, const double *cv, const double *sv, float *plane);
    /* Thread t of T: the voxels kz ≡ t (mod T) within the blob radius of the
     * slice at rotation Ad, gathered from the plane into G and W. */
    void (*insert_slice)(const gar_recon *r, const gar_plane *plane, const double Ad[9], int t, int T,
                         float *GAR_RESTRICT G, float *GAR_RESTRICT W);
    /* The same sums, each voxel's contribution quantised (gar_fixed_quantise
     * with r->inv_quantum) and added into fixed-point volumes. */
    void (*insert_slice_fixed)(const gar_recon *r, const gar_plane *plane, const double Ad[9], int t, int T,
                               int64_t *GAR_RESTRICT G, int64_t *GAR_RESTRICT W);
} gar_recon_kernels;

/* Something that takes batches and, by the next collect, has added their
 * sums into the host volumes: the CPU (which inserts at submit, so its
 * collect has nothing to do) or one GPU (which queues at submit). */
typedef struct gar_recon_inserter gar_recon_inserter;
typedef struct gar_recon_inserter_ops {
    /* count particles of images, their geometry made in r->geoms. */
    gar_status (*submit)(gar_recon *r, gar_recon_inserter *in, const float *images, size_t count);
    gar_status (*collect)(gar_recon *r, gar_recon_inserter *in);
    void (*destroy)(gar_recon_inserter *in);   /* waits for queued work */
} gar_recon_inserter_ops;
struct gar_recon_inserter {
    const gar_recon_inserter_ops *ops;
    gar_gpu_inserter *gpu;   /* a GPU inserter's device; NULL for the CPU */
};

struct gar_recon {
    gar_recon_config cfg;
    gar_optics *optics;
    double *ops;              /* n_ops × 9 */
    size_t n_ops;
    size_t N, M, H;           /* box, padded size, M/2 + 1 */
    size_t nvox;              /* voxels a volume holds: the stored sphere's (gar_sphere.h) */
    gar_sphere *sphere;       /* the layout of G and W */
    double kmax;              /* resolution limit, padded voxels */
    int kbound;               /* integer bound on |ky|, |kz| */
    int kxbound;              /* integer bound on kx */
    int R;                    /* plane radius */
    int lattice;              /* 1, or M/N for GAR_IMAGE_PERIODIC: the pixels kept in a plane */
    size_t plane_pixels;      /* (2R+1)² */
    float blob[GAR_BLOB_TABLE];
    float inv_step;
    float a, a2;
    gar_blob_poly poly;       /* the blob for the AVX-512 gather */
    const gar_recon_kernels *kernels;
    float *G[2];              /* complex interleaved, nvox × 2, in the stored sphere's layout */
    float *W[2];
    /* With cfg.fixed_sums, instead of G and W (which stay NULL): the same
     * volumes in fixed point, quanta 2^fixed.data_exp and 2^fixed.weight_exp. */
    int64_t *Gq[2], *Wq[2];
    gar_fixed_scale fixed;
    int fixed_ready;          /* gar_recon_set_fixed_scale was called */
    float inv_quantum[2];     /* data, weights: 2^-e */
    size_t count[2];
    double seconds[3];        /* prepare, insert, finalize: wall time spent */
    double *grid;             /* gridding correction by real-space radius */
    size_t ngrid;
    double gstep;
    int threads;
    gar_fft2 **fft;           /* one per thread */
    float *kx;                /* (float)(u / (M·px)), u in [−R, R], indexed u + R */
    float *F;                 /* finalize's Fourier map, cropped to the N kept z planes: N × M × H complex */
    float *Gs, *Ws;           /* finalize's symmetrised sums (stored sphere), for volume symmetry */
    float *vol;               /* finalize's real map before correction */
    float *planes;            /* plane_slots × 3 × plane_pixels (re, im, CTF²) */
    size_t plane_slots;
    gar_particle_geom *geoms; /* batch: each particle's pose, shift, CTF */
    gar_recon_inserter *inserters;   /* the CPU's, or one per entry of cfg.gpu_devices */
    size_t n_inserters, next_inserter;
    size_t n_gpu;             /* of them GPUs */
};

/* A voxel within kmax (every voxel the kernels and the finisher touch). */
static inline size_t vox_index(const gar_recon *r, int kx, int ky, int kz)
{
    return gar_sphere_index(r->sphere, kx, ky, kz);
}

/* gar_recon_memory.c */
double gar_recon_resolution_kmax(const gar_recon_config *cfg, size_t M);
/* kmax and the integer bounds on |ky|, |kz| (K) and kx (KX) at padded size M. */
void gar_recon_bounds(const gar_recon_config *cfg, size_t M, double *kmax, int *K, int *KX);
size_t gar_recon_plane_slots(const gar_recon_config *cfg, size_t n_gpu);
gar_status gar_recon_volume_alloc(void **out, size_t bytes, int threads, const char *what);
void gar_recon_volume_zero(void *p, size_t bytes, int threads);

/* gar_recon_plane.c */
gar_status gar_recon_particle_geom(const gar_recon *r, const gar_particle *meta, gar_particle_geom *g);
void gar_recon_prepare_planes(gar_recon *r, const float *images, size_t first, size_t n);
void gar_recon_plane_rows_scalar(const gar_recon *r, const float *c, const gar_particle_geom *g, const double *cu,
                                 const double *su, const double *cv, const double *sv, float *plane);

/* gar_recon_insert.c */
void gar_recon_insert_slice_scalar(const gar_recon *r, const gar_plane *plane, const double Ad[9], int t, int T,
                                   float *GAR_RESTRICT G, float *GAR_RESTRICT W);
void gar_recon_insert_slice_scalar_fixed(const gar_recon *r, const gar_plane *plane, const double Ad[9], int t,
                                         int T, int64_t *GAR_RESTRICT G, int64_t *GAR_RESTRICT W);
/* One inserter per entry of cfg.gpu_devices, or the CPU's when there are
 * none, into r->inserters (n_inserters of them, the first n_gpu GPUs). */
gar_status gar_recon_inserters_create(gar_recon *r);

/* gar_recon_avx512.c: the AVX-512 kernels, or NULL where the build or the
 * CPU lacks them (or GARNER_SCALAR_GATHER asks for the scalar ones). Their
 * gather follows the blob as pieces fitted into *poly, and only a blob the
 * pieces follow (and a radius its 4 × 4 window covers) gets it: any other
 * keeps the scalar gather, with the AVX-512 plane rows. */
const gar_recon_kernels *gar_recon_kernels_avx512(double a, double alpha, int order, gar_blob_poly *poly);

/* gar_recon_finalize.c */
gar_status gar_recon_gridding_table(const gar_recon *r, double **table, size_t *n, double *step);

#endif
