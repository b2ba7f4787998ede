/* garner: direct Fourier reconstruction by gather insertion (CPU backend).
 *
 * The configuration, the lifecycle (create, insert, finalize, destroy) and
 * count, reset and timings are public: <garner/recon.h>
 * (src/include/garner/recon.h). This header adds what the commands, the MPI
 * reduction, the checkpoints and the tests use.
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
#include <garner/recon.h>
#include "gar_fixedsum.h"
#include "gar_map.h"
#include "gar_particle.h"
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The outer mask: 1 inside radius N/2 − w, a raised cosine to 0 at N/2, with
 * w = max(3, N/20) pixels. Voxels beyond the inscribed sphere are not inside
 * every particle's field of view; after gridding correction they hold noise
 * as strong as the centre's and no signal. */
double gar_recon_outer_mask(size_t box, double radius);

/* The voxels each of its volumes holds, before it is created: the stored
 * sphere of the Hermitian half volume within the resolution limit
 * (src/gar_sphere.h), about π/6 of M × M × (M/2+1) at Nyquist. */
size_t gar_recon_config_voxels(const gar_recon_config *cfg);

/* gar_recon_memory_bytes in its two parts: what inserting holds (the
 * volumes, the planes, the FFT buffers), which every rank needs, and what
 * gar_recon_finalize allocates (the maps a run makes and its inverse FFT),
 * which a rank that only inserts, an MPI worker, never holds. */
size_t gar_recon_insert_memory_bytes(const gar_recon_config *cfg);
size_t gar_recon_finalize_memory_bytes(const gar_recon_config *cfg);

/* With GPUs: wait for their queued batches and add their sums into the
 * host volumes (gar_recon_data/weight), in device order. Call it before
 * reading or reducing those volumes; finalize calls it itself. Without GPUs
 * a no-op. */
gar_status gar_recon_flush(gar_recon *r);
/* The number of GPU inserters, and device d's gather variant (NULL if none)
 * with its tuning report (one line per variant) in `report` if not NULL. */
size_t gar_recon_gpu_count(const gar_recon *r);
const char *gar_recon_gpu_variant(const gar_recon *r, size_t d, char *report, size_t len);

/* The partial sums of a reconstructor: what a reduction over processes
 * (mpi/gar_partials.h) and a checkpoint read and write. The arrays are the
 * reconstructor's own (valid until it is destroyed); the counts may be
 * written, after the sums of several processes were added into this one. */
typedef struct gar_recon_partial {
    float *data[2];     /* half set 1, 2: G, complex interleaved, 2 × nvox floats (NULL: fixed point) */
    float *weight[2];   /* half set 1, 2: W, nvox floats (NULL: fixed point) */
    /* With cfg.fixed_sums, instead: the same in fixed point, quantised as
     * *fixed says (NULL with float sums). */
    int64_t *data_fixed[2], *weight_fixed[2];
    const gar_fixed_scale *fixed;
    size_t *count;      /* particles in half set 1 and 2: count[0], count[1] */
    size_t nvox;        /* voxels held: the stored sphere's (gar_recon_voxel_index) */
    size_t padded;      /* M */
} gar_recon_partial;
/* The view, once the GPUs' queued batches are added into the host sums
 * (gar_recon_flush). Call it again after inserting more. */
gar_status gar_recon_partial_view(gar_recon *r, gar_recon_partial *view);
/* With cfg.fixed_sums: the quanta (gar_fixedsum.h), the same on every
 * rank, before the first insertion and after each reset that changes
 * them. A particle beyond their limits is then refused by the insertion. */
gar_status gar_recon_set_fixed_scale(gar_recon *r, const gar_fixed_scale *fs);
/* The most a voxel's gather can sum of blob weights, and the slices each
 * particle is inserted as (its symmetry operators, with symmetry_mode =
 * insert; else 1): for the quanta. */
double gar_recon_blob_sum(const gar_recon *r);
size_t gar_recon_insert_ops(const gar_recon *r);
/* gar_recon_reset (public) zeroes the GPUs' pending sums too. refine uses
 * one reconstructor a run and resets it each iteration; a worker resets its
 * own once rank 0 holds its sums in a checkpoint. */

size_t gar_recon_size(const gar_recon *r);   /* M */
size_t gar_recon_voxels(const gar_recon *r); /* voxels held (the stored sphere's) */
/* Where voxel (kx >= 0; ky, kz signed frequencies, no wrapping) is in the
 * sums of a partial view, or SIZE_MAX where it is beyond the resolution
 * limit, which no particle reaches (its sums are zero). */
size_t gar_recon_voxel_index(const gar_recon *r, int kx, int ky, int kz);

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
