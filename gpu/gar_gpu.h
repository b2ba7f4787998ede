/* garner: GPU entry points, callable from C. No CUDA types cross this header:
 * src/ never includes CUDA headers. Built from the .cu files by nvcc when
 * configure finds CUDA, otherwise from gar_gpu_stub.c, whose functions return
 * GAR_ERR_NOT_BUILT ("built without CUDA").
 *
 * The inserter is the GPU twin of gar_recon's CPU insertion: it computes the
 * same sums (data Σ b·CTF·X and weights Σ b·CTF² per half set, over the
 * Hermitian half of the padded volume) with the per-pixel and per-voxel maths
 * of src/gar_kernels.h. One inserter drives one device: it owns a host thread,
 * two streams (copies, kernels), pinned staging buffers and the device
 * volumes, so batches are copied while the previous one is inserted. */
#ifndef GAR_GPU_H
#define GAR_GPU_H

#include <stddef.h>
#include <stdint.h>
#include "gar_kernels.h"
#include "gar_sphere.h"
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if this build has the CUDA backend. */
int gar_gpu_built(void);
/* 1 if that backend is the CPU emulation of CUDA (gpu/emu/: test
 * infrastructure, built into tests/garner_emu and tests/check_gpu_emu), for
 * which [gpu] devices = emulated is meant. */
int gar_gpu_emulated(void);
/* Number of usable devices. No driver or no device: GAR_ERR_NO_DEVICE with a
 * message; built without CUDA: GAR_ERR_NOT_BUILT. */
gar_status gar_gpu_device_count(int *count);
/* 1 where a GPU test may skip: a build without CUDA, or CUDA reporting no
 * driver at all or no device. A driver that fails otherwise (older than the
 * runtime, a broken installation) gives 0: a GPU runner with a stale driver
 * must fail its tests, not skip them. */
int gar_gpu_absent(void);
/* The device's free and total memory in bytes. */
gar_status gar_gpu_device_memory(int device, size_t *free_b, size_t *total_b);
/* One line describing the CUDA runtime and driver this build uses
 * ("CUDA runtime 13.0, driver 12.8, archs 80,90" or "built without CUDA"). */
void gar_gpu_describe(char *buf, size_t len);
/* The device's name ("NVIDIA H100 80GB HBM3"). */
gar_status gar_gpu_device_name(int device, char *buf, size_t len);

typedef enum gar_gpu_tuning {
    GAR_TUNE_AUTO = 0,   /* use the cached variant, else time the variants on the first batch */
    GAR_TUNE_OFF,        /* the default variant, no timing, no cache */
    GAR_TUNE_CACHED,     /* the cached variant if there is one, else the default; never time */
    GAR_TUNE_FORCE       /* time the variants on the first batch even if cached (garner tune) */
} gar_gpu_tuning;

typedef struct gar_gpu_insert_config {
    int device;                  /* CUDA device number */
    int box;                     /* N */
    int padded;                  /* M */
    int plane_radius;            /* R of the prepared planes */
    int lattice;                 /* 1, or M/N: planes keep only the pixels on the box's grid
                                    (gar_plane_on_lattice, GAR_IMAGE_PERIODIC) */
    int kbound, kxbound;         /* integer bounds on |ky|, |kz| and on kx */
    const gar_sphere *sphere;    /* the layout of the host's sums (src/gar_sphere.h), which the device's
                                    volumes share (its row table copied to the device); required */
    double kmax;                 /* resolution limit, padded voxels */
    double blob_radius;          /* a, padded voxels */
    double blob_alpha;
    int blob_order;
    const float *blob_table;     /* GAR_BLOB_TABLE values, copied */
    float inv_step;
    double pixel_size_A;
    const double *ops;           /* operators applied at insertion, n_ops × 9, copied */
    size_t n_ops;
    size_t batch;                /* largest count passed to submit */
    int fft_on_gpu;              /* submit images (pad, FFT, shift, CTF on the device), else prepared planes */
    gar_gpu_tuning tuning;
    const char *tuning_cache;    /* cache file; NULL or "": none */
    const char *tuning_key;      /* the run's part of the cache key (box, pad, symmetry mode, operators) */
    int variant;                 /* 0: as tuning says; k > 0: variant k − 1 (tests, benchmarks) */
    int tuning_atomic;           /* opt-in: tuning may also pick the float-atomic column variants,
                                    whose sums come in a different order on every run (so the map is
                                    not bit-for-bit repeatable); 0: only the variants with one
                                    summation order are timed, and a cache entry naming an atomic
                                    variant is ignored */
} gar_gpu_insert_config;

/* The gather variants, in the order `variant` counts them (0 without CUDA). */
int gar_gpu_variant_count(void);
const char *gar_gpu_variant_name(int i);

typedef struct gar_gpu_inserter gar_gpu_inserter;

/* Device memory an inserter needs: fixed + batch × per_particle bytes
 * (with fft_on_gpu as configured), and per_particle_other for the other
 * fft_on_gpu setting. */
gar_status gar_gpu_memory_need(const gar_gpu_insert_config *cfg, size_t *fixed, size_t *per_particle,
                               size_t *per_particle_other);

/* Checks the device's free memory first: if the run does not fit, the error
 * says what would (a smaller batch, or fft_on_gpu = no). */
gar_status gar_gpu_inserter_create(const gar_gpu_insert_config *cfg, gar_gpu_inserter **out);
void gar_gpu_inserter_destroy(gar_gpu_inserter **g);   /* NULL-safe; waits for queued work */

/* Queue `count` particles: `data` holds count images of N² floats when
 * fft_on_gpu, else count prepared planes of 3·(2R+1)² floats
 * (gar_recon_prepare_plane's layout); geoms one per particle. Copies into
 * pinned memory and returns; blocks only while the device is two batches
 * behind. The error of an earlier batch is returned here. */
gar_status gar_gpu_inserter_submit(gar_gpu_inserter *g, const float *data, const gar_particle_geom *geoms,
                                   size_t count);

/* The host sums a collect adds into, for half set h = 0, 1, in the layout
 * of cfg.sphere: floats G[h] (complex interleaved) and W[h], or, where
 * those are NULL, fixed-point Gq[h] and Wq[h] (src/gar_fixedsum.h) with
 * quanta 2^data_exp and 2^weight_exp. */
typedef struct gar_gpu_sums {
    float *G[2], *W[2];
    int64_t *Gq[2], *Wq[2];
    int data_exp, weight_exp;
    int threads;              /* host threads that convert to fixed point */
} gar_gpu_sums;

/* Wait for every queued batch, add the device's sums into the host's, and
 * zero them on the device. Into fixed point each device sum is rounded once
 * and checked (GAR_ERR_DATA beyond the range). */
gar_status gar_gpu_inserter_collect(gar_gpu_inserter *g, const gar_gpu_sums *host);

/* The variant in use ("voxel 32x4x1 table:shared tz1"); after a tuning,
 * `report` (may be NULL) gets one line per variant with its time. */
const char *gar_gpu_inserter_variant(const gar_gpu_inserter *g);
void gar_gpu_inserter_tuning_report(const gar_gpu_inserter *g, char *report, size_t len);

/* The coarse stage of a global pose search (gar_search_score.c) on one device:
 * every particle's rows Y (one per trial origin: w C X_o over the coarse
 * band, re then im) against every coarse slice P, as one cuBLAS product per
 * half set and chunk of particles, S = Y Pᵀ; then per particle the best
 * `k` poses by their best origin's NCC (gar_ncc, gar_top_offer). Only the
 * poses and scores come back. */
typedef struct gar_gpu_scorer gar_gpu_scorer;

typedef struct gar_gpu_scorer_config {
    int device;
    const float *P[2], *P2[2];   /* half sets' slices: n_pose rows of 2 nb (re, im) and nb (|P|²); copied */
    size_t n_pose, nb;
    size_t n_shift;              /* rows per particle */
    size_t max_particles;        /* largest n passed to gar_gpu_scorer_top */
    int k;                       /* poses kept per particle, 1..GAR_GPU_TOP_MAX */
} gar_gpu_scorer_config;

#define GAR_GPU_TOP_MAX 16

/* Device memory the scorer needs (slices, and products for a chunk of
 * particles). */
size_t gar_gpu_scorer_memory(const gar_gpu_scorer_config *cfg);
/* Checks the device's free memory first (GAR_ERR_NOMEM naming the need). */
gar_status gar_gpu_scorer_create(const gar_gpu_scorer_config *cfg, gar_gpu_scorer **out);
void gar_gpu_scorer_destroy(gar_gpu_scorer **g);   /* NULL-safe */
/* n particles, all of half set h (0, 1): Y holds n × n_shift rows of 2 nb,
 * wc2 n rows of nb (w C²), normX n values (Σ w |X|² over the band). top and
 * topv receive n × k poses and scores, best first. Blocks until done. Call
 * from one host thread at a time per scorer. */
gar_status gar_gpu_scorer_top(gar_gpu_scorer *g, int h, const float *Y, const float *wc2, const double *normX,
                              size_t n, size_t *top, double *topv);

#ifdef __cplusplus
}
#endif
#endif
