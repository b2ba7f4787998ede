/* garner: the fixed-point sums of an MPI worker with exact sums.
 *
 * Why: float addition is not associative, so float sums of the partial
 * volumes depend on which worker took which shard. A worker with [mpi]
 * reproducible = yes therefore inserts every particle's contribution to a
 * voxel as an integer, c_q = round(c / q), into int64 volumes: integer sums
 * are the same in any order and grouping, and 8 bytes a value (48 a voxel
 * for both half sets) is half of what a float volume beside a 128-bit
 * accumulator took (gar_exactsum: 120 bytes a voxel).
 *
 * The quantum q = 2^e (one for the data, one for the weights) must be the
 * same on every rank before anything is inserted, and large enough that no
 * sum can pass the int64 range. Every rank sizes it alike from:
 *   - a sample of particles (the same on every rank): the largest image
 *     bound B = Σ|x − background| among them, which bounds every pixel of
 *     a particle's transform (|X(k)| <= Σ|x|, triangle inequality);
 *   - the contrast scale cap a (1 for reconstruct) and |CTF| <= 1, so a
 *     plane pixel is at most a·B and a weight pixel at most a²;
 *   - the blob: a voxel's gather adds at most S = Σ taps b (gar_recon_blob_sum);
 *   - the contributions: n = particles × inserted symmetry operators.
 * The data's plane limit is P = H·a·B with headroom H = 2^10 for particles
 * brighter than the sample's; e is the least with n·S·P <= 2^60·q, so the
 * sum of all contributions and their roundings stays below 2^61, and rank
 * 0's float sums of a resumed checkpoint (at most 2^61 more) still fit.
 * A particle beyond P (or a scale beyond a) is refused before it is
 * inserted, naming [mpi] reproducible = no: nothing can overflow unseen.
 *
 * Precision: a contribution keeps its float's 24 bits down to q, and the
 * rounding is random, so a voxel's error grows with the square root of its
 * contributions; float sums' own rounding grows with the running sum. At
 * the extreme (box 512, 2^24 particle-operators, high frequency: docs/
 * PERFORMANCE.md, "What fixed point costs") both are near 2^-15 of the
 * voxel's noise, the fixed point's about twice the float sums'; at fewer
 * particles or smaller boxes less, in proportion.
 */
#ifndef GAR_FIXEDSUM_H
#define GAR_FIXEDSUM_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The headroom of the data's plane limit over the sample's largest image. */
#define GAR_FIXED_HEADROOM 1024.0

typedef struct gar_fixed_scale {
    int data_exp, weight_exp;   /* the quanta: 2^data_exp, 2^weight_exp */
    double plane_limit;         /* largest a·B a particle may have */
    double scale_limit;         /* largest contrast scale a particle may have */
    double sample_bound;        /* the sample's largest B (for messages) */
} gar_fixed_scale;

/* B of one N × N image: Σ |x − m| with m the mean of its background
 * (gar_is_background), as the reconstructor subtracts it before the FFT. */
double gar_fixed_image_bound(const float *image, size_t N);

/* The quanta for `contributions` (particles × inserted operators, >= 1)
 * of images whose sample's largest bound is sample_bound (> 0), contrast
 * scales up to scale_cap (>= 1e-6), and a blob whose gather sums at most
 * blob_sum. GAR_ERR_DATA when the sample holds only blank images (B = 0) or
 * the quanta leave float's exponent range. */
gar_status gar_fixed_scale_make(double sample_bound, double scale_cap, size_t contributions, double blob_sum,
                                gar_fixed_scale *out);

/* Whether a particle with image bound B and contrast scale a may be
 * inserted: GAR_ERR_DATA (saying how far beyond, and naming [mpi]
 * reproducible = no) if not. */
gar_status gar_fixed_check_particle(const gar_fixed_scale *fs, double image_bound, double scale);

/* A contribution c as an integer: round(c · 2^-e), ties to even (the CPU's
 * kernels; c within the limits checked above, so the result fits). */
static inline int64_t gar_fixed_quantise(float c, float inv_quantum) { return (int64_t)llrintf(c * inv_quantum); }

/* acc[i] += round(x[i] · 2^-e), checked: GAR_ERR_DATA naming the first index
 * where x is not finite or the sum would pass 2^62 (a GPU's sums at
 * collect, rank 0's floats in a reduction). `threads` OpenMP threads. */
gar_status gar_fixed_add_floats(int64_t *acc, const float *x, size_t n, int e, int threads);

/* x[i] = v[i] · 2^e rounded to float. */
void gar_fixed_to_floats(const int64_t *v, size_t n, int e, float *x, int threads);

#ifdef __cplusplus
}
#endif
#endif
