/* garner public API: direct Fourier reconstruction from particles with known
 * poses (what `garner reconstruct` runs on each process).
 *
 * Lifecycle, after FFTW's plan/execute:
 *   gar_recon_create(cfg, &r)          sizes, blob table, FFT plans, volumes
 *   gar_recon_insert(r, images, meta)  many times, in particle order
 *   gar_recon_finalize(r, half, &map)  weights, inverse FFT, gridding correction, crop
 *   gar_recon_destroy(&r)              NULL-safe
 *
 * For each half set the reconstructor sums, over the Hermitian half of the
 * padded Fourier volume (M = gar_recon_padded_size(N, pad)), the particles'
 * CTF-weighted transforms and their CTF² weights, each spread by a
 * Kaiser-Bessel blob; the map is their ratio, transformed back to real space.
 *
 * Determinism: with no GPUs the result is bitwise identical for any thread
 * count (each voxel is written by one thread, particles in order). GPUs give
 * the same maths to about 1e-5 (relative L2).
 *
 * Threads: a reconstructor may be used from one thread at a time; it runs
 * its own `threads` OpenMP threads inside each call. */
#ifndef GARNER_RECON_H
#define GARNER_RECON_H

#include <stddef.h>
#include <garner/map.h>
#include <garner/particle.h>
#include <garner/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gar_sym_mode {
    GAR_SYM_INSERT = 0,   /* insert each particle once per operator */
    GAR_SYM_VOLUME = 1    /* insert once, symmetrise the summed G and W at the end */
} gar_sym_mode;

/* What a particle image is taken to be (image_model, docs/PARAMETERS.md). */
typedef enum gar_image_model {
    GAR_IMAGE_BOXED = 0,    /* zero outside its box: every sample of its padded transform is inserted */
    GAR_IMAGE_PERIODIC = 1  /* one period of a periodic image (a CTF applied on the box's own grid, as
                               simulators do): only the samples on the box's frequency grid, every
                               (M/N)-th pixel of the padded transform; needs M = pad × N */
} gar_image_model;

/* Everything a reconstructor is planned for. Zero-initialise it and set the
 * fields; `garner reconstruct`'s defaults (docs/PARAMETERS.md, [reconstruct])
 * are given with each field. */
typedef struct gar_recon_config {
    size_t box;                  /* N, even, >= 4: the particles' box */
    double pixel_size_A;         /* > 0 */
    int pad;                     /* padding factor, 1..4 (pad = 2) */
    double max_resolution_A;     /* 0: Nyquist, 2 × pixel size (max_resolution = 0) */
    double blob_radius;          /* padded voxels, > 0 (blob_radius = 1.9) */
    double blob_alpha;           /* (blob_alpha = 15) */
    int blob_order;              /* (blob_order = 0) */
    int ctf;                     /* nonzero: use each particle's CTF (ctf = yes) */
    const gar_optics *optics;    /* every optics group the particles name; copied at create */
    size_t n_optics;
    const double *sym_ops;       /* point-group operators, n_ops × 9 doubles (row-major
                                    rotation matrices), copied at create; NULL: C1 */
    size_t n_ops;
    gar_sym_mode sym_mode;       /* (symmetry_mode = volume); no effect for C1 */
    int threads;                 /* CPU threads, >= 1 (threads = 0 means the usable cores) */
    size_t batch;                /* largest count passed to gar_recon_insert, >= 1 (batch = 128) */
    int outer_mask;              /* nonzero: soft-mask the map outside the inscribed sphere
                                    (outer_mask = yes) */
    gar_image_model image_model; /* (image_model = boxed) */
    /* GPUs: none when n_gpu_devices is 0 (the CPU inserts). A device may be
     * listed twice (two inserters on one GPU); batches go to them in turn.
     * A library built without CUDA fails create with GAR_ERR_NOT_BUILT if
     * any is listed. */
    const int *gpu_devices;      /* CUDA device numbers; read at create only */
    size_t n_gpu_devices;
    int gpu_fft;                 /* nonzero: pad, FFT, shift and CTF on the device */
    int gpu_tuning;              /* 0: use the cached gather variant or time them on the first
                                    batch; 1: the default variant; 2: the cached one, never time */
    const char *gpu_tuning_cache;  /* file of tuned variants; NULL: no cache */
    int gpu_variant;             /* 0: as tuned; k > 0: gather variant k − 1 (tests, benchmarks) */
    int fixed_sums;              /* leave 0: garner's own MPI workers with exact sums set it (int64
                                    fixed-point sums, src/gar_fixedsum.h; such a reconstructor
                                    only inserts, once given its quanta through the internal
                                    gar_recon_set_fixed_scale) */
} gar_recon_config;

typedef struct gar_recon gar_recon;

/* The padded size M for box N and padding factor pad (FFT-friendly, >= pad·N). */
size_t gar_recon_padded_size(size_t box, int pad);
/* Bytes a reconstructor for cfg will hold (volumes, batch planes, FFT buffers),
 * without the caller's image batch: to check before creating one. */
size_t gar_recon_memory_bytes(const gar_recon_config *cfg);

/* Plan a reconstructor; the caller owns *out (gar_recon_destroy). cfg and
 * what it points to are read here only. Fails (*out NULL) on a configuration
 * out of range, GAR_ERR_NOMEM when the volumes do not fit, and with GPUs on
 * a device that cannot be used. */
gar_status gar_recon_create(const gar_recon_config *cfg, gar_recon **out);
/* NULL-safe (r or *r); sets *r to NULL. Waits for queued GPU work. */
void gar_recon_destroy(gar_recon **r);

/* Insert `count` <= cfg->batch particles: `images` count × N × N floats
 * (real space, particle i at i·N², x fastest), `meta` their pose, origin, CTF,
 * half set (1 or 2) and optics group. Each goes into its half set. The caller
 * keeps both arrays; they may be reused once the call returns (with GPUs the
 * insertion itself may still run, on copies). */
gar_status gar_recon_insert(gar_recon *r, const float *images, const gar_particle *meta,
                            size_t count);
/* As gar_recon_insert, each particle i with contrast scale scale[i] >= 0
 * (NULL: all 1): its image is taken as scale·CTF·projection + noise, and it
 * adds scale·CTF·X to the sums and scale²·CTF² to the weights (0: nothing,
 * a particle left out; it still counts in gar_recon_count). */
gar_status gar_recon_insert_scaled(gar_recon *r, const float *images, const gar_particle *meta,
                                   const float *scale, size_t count);

/* Particles inserted so far into half set 1 or 2 (half 0: both). */
size_t gar_recon_count(const gar_recon *r, int half);

/* The map from half set 1 or 2, or both (half = 0), N³ at cfg->pixel_size_A;
 * the caller owns *out (gar_map_destroy). Symmetrises the volume if so
 * configured, divides the data by the weights (floored at 1/1000 of the
 * shell's mean weight), inverse 3D FFT, gridding correction, crop, outer mask
 * if configured. Waits for queued GPU work. Does not change the sums, so it
 * may be called for each half and for both, and insertion may go on after. */
gar_status gar_recon_finalize(gar_recon *r, int half, gar_map **out);

/* Zero the sums and counts, keeping the plans, tables, threads and devices:
 * ready for a new pass with the same configuration. */
gar_status gar_recon_reset(gar_recon *r);

/* Wall seconds spent so far preparing particles (FFT, CTF), inserting them,
 * and finishing maps. */
void gar_recon_timings(const gar_recon *r, double *prepare, double *insert, double *finalize);

#ifdef __cplusplus
}
#endif
#endif
