/* garner: direct Fourier reconstruction by gather insertion (CPU backend).
 *
 * Lifecycle, after FFTW's plan/execute:
 *   gar_recon_create(cfg, &r)          sizes, blob table, per-thread FFT plans, volumes
 *   gar_recon_insert(r, images, meta)  many times, in particle order
 *   gar_recon_finalize(r, half, &map)  weights, inverse FFT, gridding correction, crop
 *   gar_recon_destroy(&r)              NULL-safe
 *
 * For each half set the reconstructor keeps, over the Hermitian half of the
 * padded Fourier volume (M = gar_fft_good_size(pad·N); kx in [0, M/2],
 * ky, kz in [−M/2, M/2), FFTW r2c layout [kz][ky][kx]):
 *   data   G(K) = Σ b(|q−u|) CTF(u) X(u)   (complex)
 *   weight W(K) = Σ b(|q−u|) CTF(u)²
 * where q = A·K is the voxel's position relative to each particle's slice and
 * u runs over the particle's padded-transform pixels within the blob radius.
 *
 * Determinism: insertion is parallel over voxels (thread t owns the planes
 * kz ≡ t mod T), so each voxel is written by one thread, particles in order:
 * the result is bitwise identical for any thread count. */
#ifndef GAR_RECON_H
#define GAR_RECON_H

#include <stddef.h>
#include "gar_map.h"
#include "gar_particle.h"
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gar_sym_mode {
    GAR_SYM_INSERT = 0,   /* insert each particle once per operator */
    GAR_SYM_VOLUME = 1    /* insert once, symmetrise the summed G and W at the end */
} gar_sym_mode;

typedef struct gar_recon_config {
    size_t box;                  /* N, even */
    double pixel_size_A;
    int pad;                     /* padding factor, 1..4 */
    double max_resolution_A;     /* 0: Nyquist (2 × pixel size) */
    double blob_radius;          /* padded voxels */
    double blob_alpha;
    int blob_order;
    int ctf;                     /* use the CTF of each particle */
    const gar_optics *optics;    /* copied at create */
    size_t n_optics;
    const double *sym_ops;       /* order × 9 doubles, copied; NULL: C1 */
    size_t n_ops;
    gar_sym_mode sym_mode;
    int threads;                 /* >= 1 */
    size_t batch;                /* largest count passed to gar_recon_insert */
    int outer_mask;              /* soft-mask the map outside the inscribed sphere */
    /* GPUs (gpu/gar_gpu.h): none when n_gpu_devices is 0. A device may be
     * listed twice (two inserters on one GPU). Batches go to them in turn. */
    const int *gpu_devices;      /* CUDA device numbers; read at create only */
    size_t n_gpu_devices;
    int gpu_fft;                 /* pad, FFT, shift and CTF on the device */
    int gpu_tuning;              /* a gar_gpu_tuning */
    const char *gpu_tuning_cache;  /* NULL: no cache */
    int gpu_variant;             /* 0: as tuned; k > 0: gather variant k − 1 (tests, benchmarks) */
} gar_recon_config;

/* The outer mask: 1 inside radius N/2 − w, a raised cosine to 0 at N/2, with
 * w = max(3, N/20) pixels. Voxels beyond the inscribed sphere are not inside
 * every particle's field of view; after gridding correction they hold noise
 * as strong as the centre's and no signal. */
double gar_recon_outer_mask(size_t box, double radius);

typedef struct gar_recon gar_recon;

/* The padded size M for box N and padding factor pad. */
size_t gar_recon_padded_size(size_t box, int pad);
/* Bytes the reconstructor will hold (volumes, batch planes, FFT buffers). */
size_t gar_recon_memory_bytes(const gar_recon_config *cfg);
/* The voxels of each of its volumes, M × M × (M/2+1), before it is created. */
size_t gar_recon_config_voxels(const gar_recon_config *cfg);

gar_status gar_recon_create(const gar_recon_config *cfg, gar_recon **out);
void gar_recon_destroy(gar_recon **r);

/* Insert `count` <= cfg->batch particles: images count×N×N, metadata with
 * pose, origin, CTF, half set and optics group. Each goes into its half set. */
gar_status gar_recon_insert(gar_recon *r, const float *images, const gar_particle *meta,
                            size_t count);

/* With GPUs: wait for their queued batches and add their sums into the
 * host volumes (gar_recon_data/weight), in device order. Call it before
 * reading or reducing those volumes; finalize calls it itself. Without GPUs
 * a no-op. */
gar_status gar_recon_flush(gar_recon *r);
/* The number of GPU inserters, and device d's gather variant (NULL if none)
 * with its tuning report (one line per variant) in `report` if not NULL. */
size_t gar_recon_gpu_count(const gar_recon *r);
const char *gar_recon_gpu_variant(const gar_recon *r, size_t d, char *report, size_t len);

/* Wall seconds spent so far preparing particles (FFT, CTF), inserting them,
 * and finishing maps. */
void gar_recon_timings(const gar_recon *r, double *prepare, double *insert, double *finalize);

/* Particles inserted so far into half set 1 and 2 (half 0: both). */
size_t gar_recon_count(const gar_recon *r, int half);

/* The partial sums of a reconstructor: what a reduction over processes
 * (mpi/gar_partials.h) and a checkpoint read and write. The arrays are the
 * reconstructor's own (valid until it is destroyed); the counts may be
 * written, after the sums of several processes were added into this one. */
typedef struct gar_recon_partial {
    float *data[2];     /* half set 1, 2: G, complex interleaved, 2 × nvox floats */
    float *weight[2];   /* half set 1, 2: W, nvox floats */
    size_t *count;      /* particles in half set 1 and 2: count[0], count[1] */
    size_t nvox;        /* M × M × (M/2+1) */
    size_t padded;      /* M */
} gar_recon_partial;
/* The view, once the GPUs' queued batches are added into the host sums
 * (gar_recon_flush). Call it again after inserting more. */
gar_status gar_recon_partial_view(gar_recon *r, gar_recon_partial *view);
/* Zero the sums (the GPUs' pending ones too) and the counts, keeping the
 * plans, tables, threads and devices: the reconstructor is ready for a new
 * pass with the same configuration (refine: one reconstructor a run, reset
 * each iteration; a worker once rank 0 holds its sums in a checkpoint). */
gar_status gar_recon_reset(gar_recon *r);

/* The map from half set 1 or 2, or both (half = 0): symmetrise the volume if
 * so configured, F = G / max(W, floor) with the floor 1/1000 of the shell's
 * mean W, inverse 3D FFT, gridding correction, crop to N³, outer mask if
 * configured. Does not change the
 * accumulated sums, so it may be called for each half and for both. */
gar_status gar_recon_finalize(gar_recon *r, int half, gar_map **out);

size_t gar_recon_size(const gar_recon *r);   /* M */
size_t gar_recon_voxels(const gar_recon *r); /* M × M × (M/2+1) */

/* Largest plane radius a reconstructor uses (padded boxes up to 2048). */
#define GAR_RECON_MAX_R 1040

/* Prepare one particle into its padded plane (exposed for the tests that check
 * the gather against a direct scatter of the same sum): 3 × P floats, the
 * planes of CTF·X (real, imaginary) and CTF², P = gar_recon_plane_pixels(r) =
 * (2R+1)², R = gar_recon_plane_radius(r). */
int gar_recon_plane_radius(const gar_recon *r);
size_t gar_recon_plane_pixels(const gar_recon *r);
gar_status gar_recon_prepare_plane(gar_recon *r, int thread, const float *image,
                                   const gar_particle *meta, float *plane);

/* The blob table the gather uses and its inverse step. */
const float *gar_recon_blob_table(const gar_recon *r, float *inv_step);
/* The resolution limit in padded Fourier voxels. */
double gar_recon_kmax(const gar_recon *r);

#ifdef __cplusplus
}
#endif
#endif
