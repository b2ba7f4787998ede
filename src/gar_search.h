/* garner: pose search by projection matching (DESIGN.md, "Pose search").
 *
 * Each particle is compared with central slices of its half set's reference
 * (gar_refproj) over a band of frequencies 1 <= |k| <= band_radius, with the
 * particle's CTF applied to the reference. The score is the normalised cross
 * correlation
 *     NCC(A, o) = Σ w C Re[X_o conj(P_A)] / sqrt(Σ w |X|² · Σ w C² |P_A|²),
 * X_o the particle's transform with origin o removed (the phase
 * e^{−2πi k·o/N}, as the reconstruction applies it), P_A the slice at pose A,
 * C the CTF and w = h/(N² σ²(s)): h = 2 for kx > 0, 1 on the kx = 0 column
 * (the half plane stands for the whole), σ²(s) the noise model's power in
 * the pixel's shell for the particle's optics group (gar_noise.h, a pixel's
 * variance; without a model w = h). With a model the score is a whitened NCC: for the Gaussian model
 * X_o = a C P_A + noise of power σ², maximising it over (A, o) maximises the
 * likelihood with the best contrast scale a = Σ w C Re[X_o conj(P_A)] /
 * Σ w C² |P_A|² (docs/ARCHITECTURE.md, "Noise model and pose score"). For a set of poses and a grid of origins, all scores
 * come from one matrix product, S = Y·Pᵀ, Y holding the particle at every
 * origin (w C X_o) and P the slices: OpenBLAS on the CPU, and the same layout
 * suits cuBLAS.
 *
 * Global search: poses on a coarse grid (directions uniform over the
 * symmetry group's asymmetric unit at twice the step, in-plane angles at
 * twice the step, slices computed once per reference), the best `top_k`
 * refined on the cube of rotations ±step about them. Local search: the cube
 * ±2 steps about the particle's previous pose, origins ±2 half-steps about
 * its previous origin. Both end with parabolic fits between grid points:
 * of the origin along each axis, and of the pose along each rotation axis of
 * the best pose's cube (at the best origin), which halves the median angular
 * error of a run that ends at a 1.875° step (docs/PERFORMANCE.md). */
#ifndef GAR_SEARCH_H
#define GAR_SEARCH_H

#include <stddef.h>
#include "gar_noise.h"
#include "gar_particle.h"
#include "gar_refproj.h"
#include "gar_status.h"
#include "gar_symmetry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gar_search_mode { GAR_SEARCH_GLOBAL = 0, GAR_SEARCH_LOCAL = 1 } gar_search_mode;

typedef struct gar_search_config {
    size_t box;                  /* N */
    double pixel_size_A;
    double band_radius;          /* shells of the box, < N/2 − 1 */
    double mask_radius_px;       /* soft circular mask on the particles (<= 0: none) */
    int ctf;
    const gar_optics *optics;    /* not copied: must outlive the search */
    size_t n_optics;
    const gar_symmetry *sym;     /* NULL: C1; not copied */
    gar_search_mode mode;
    double angular_step_deg;     /* the final sampling of this search */
    double shift_range_A;        /* global search: origins within this of the previous one */
    double shift_step_A;
    int top_k;                   /* global: coarse poses refined (>= 1) */
    int threads;
    const gar_refproj *ref[2];   /* half sets 1 and 2 (may be the same); not copied */
    /* GPUs for the coarse stage of a global search (at most
     * GAR_SEARCH_MAX_GPUS; copied). None: all on the CPU. */
    const int *gpu_devices;
    size_t n_gpu_devices;
    size_t batch;                /* largest count passed to gar_search_batch (staged for the GPUs) */
    /* The noise model whose 1/σ² weighs each frequency (NULL: white); not
     * copied. Every particle's optics group must have a row. */
    const gar_noise *noise;
    /* Poses besides the best to keep where they are about as likely
     * (gar_search_result.alt), at most GAR_SEARCH_MAX_ALT; 0: the best only.
     * Needs a noise model (the weights are likelihoods). */
    int alternatives;
} gar_search_config;

#define GAR_SEARCH_MAX_ALT 8

/* A pose kept beside the best, with its posterior weight. */
typedef struct gar_search_alt {
    double rot_deg, tilt_deg, psi_deg, origin_x_A, origin_y_A;
    double weight;
} gar_search_alt;

/* What the search found for one particle, beside its pose and origin. */
typedef struct gar_search_result {
    double score;    /* the best pose's score (whitened NCC), at its best grid origin */
    double scale;    /* the contrast a = Σ w C Re[X_o conj P] / Σ w C² |P|² there (0 where undefined) */
    /* The evidence Σ w C Re[X_o conj P] / sqrt(Σ w C² |P|²) = score · sqrt(Σ w |X_o|²): the particle's
     * whitened amplitude along the slice; for noise alone about the largest of standard normals over the
     * poses searched (with a calibrated model), for a particle a·sqrt(Σ w C² |P|²), its signal in
     * units of the noise, whatever the band's width. */
    double evidence;
    /* The misfit of the best pose: (Σ w' |X_o − a C P|² − Σ h) / sqrt(Σ h²), w' = h/σ² (with a
     * model; h/N² without): about N(0, 1) where the particle is a·C·P plus the modelled noise,
     * large where the image holds signal the reference does not explain (junk). */
    double misfit;
    /* Pose uncertainty (cfg.alternatives > 0): the best pose's weight and
     * up to cfg.alternatives other grid poses (each at its best origin)
     * whose weight is at least 1 % of the best's; weights ∝ exp(E²/2), E the
     * pose's evidence (the likelihood at its best scale, relative), summing
     * to 1 with best_weight. */
    double best_weight;
    int n_alt;
    gar_search_alt alt[GAR_SEARCH_MAX_ALT];
} gar_search_result;

#define GAR_SEARCH_MAX_GPUS 64

typedef struct gar_search gar_search;

gar_status gar_search_create(const gar_search_config *cfg, gar_search **out);
void gar_search_destroy(gar_search **s);   /* NULL-safe */

/* The bytes gar_search_create would allocate for cfg (cfg->ref unused;
 * two_references: the half sets have their own references, so a global
 * search keeps two sets of coarse slices). Fails on a configuration
 * gar_search_create refuses. A double: a mistaken configuration may need
 * more than size_t counts. */
gar_status gar_search_memory_bytes(const gar_search_config *cfg, int two_references, double *bytes);
/* Devices running the coarse stage (0: all on the CPU, or the GPU check on
 * the first batch failed). */
int gar_search_gpus(const gar_search *s);
/* Poses on the coarse grid of a global search (0 for a local one). */
size_t gar_search_coarse_poses(const gar_search *s);
/* Frequencies compared per particle. */
size_t gar_search_band_pixels(const gar_search *s);

/* Search `count` particles (images count × N × N, row-major). meta[i] gives
 * the half set, the CTF and (local search, and the origin of a global one)
 * the previous pose; its pose and origin are replaced by the best found, and
 * res[i] receives that pose's score and contrast scale. noise (NULL: not
 * wanted) receives, per particle, 2 × gar_search_noise_shells floats: the
 * residual X_o − a C P at the best pose, as the noise model's sums
 * (gar_noise.h: Σ h |r|², Σ h per shell; shells of the band only). Threads
 * over particles. */
gar_status gar_search_batch(gar_search *s, const float *images, gar_particle *meta, gar_search_result *res,
                            float *noise, size_t count);
/* Shells of a noise row of gar_search_batch: N/2 + 1. */
size_t gar_search_noise_shells(const gar_search *s);

/* Directions (rot, tilt in degrees, tilt in [0, 180]) about `step_deg` apart,
 * uniform over the sphere (a Fibonacci lattice) and restricted to one
 * asymmetric unit of sym (NULL: C1): the Dirichlet cell of a generic
 * direction among its images under the group. *dirs: 2 × *n doubles, caller
 * frees. */
gar_status gar_search_directions(const gar_symmetry *sym, double step_deg, double **dirs, size_t *n);

/* The rotation by the rotation vector (radians) r: axis r/|r|, angle |r|. */
void gar_rotation_from_vector(const double r[3], double R[9]);

#ifdef __cplusplus
}
#endif
#endif
