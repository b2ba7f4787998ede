/* garner: simulated particle images with known poses, for tests, benchmarks
 * and users checking a setup.
 *
 * Each particle i is a pure function of (config, map, i): its pose, shift,
 * defocus and noise come from the random stream (seed, i), so a stack is the
 * same whatever the number of threads or batches. The image is
 *   noise-free = box of IFFT( CTF · shift · FFT( ray-sum projection at the pose,
 *                                                 zero-padded to the canvas ) )
 *   image      = noise-free + Gaussian noise, σ² = var(noise-free over the box) / SNR.
 * The canvas (gar_sim_canvas) is large enough that the CTF's spread of each
 * frequency (λΔf|k| Å) leaves the box instead of wrapping into it from the
 * other side, as in a micrograph; with ctf_wrap it is the box itself (the
 * CTF applied on the box's own grid, as relion_project does: the image is
 * then one period of a periodic image, [reconstruct] image_model = periodic).
 * The map is first prepared once (gar_sim_prepare_map): put in solvent
 * (background mean outside the inscribed sphere removed, zero beyond it, so
 * every pose sees the whole object) and prefiltered to undo, on average, the
 * attenuation sinc²(qx)sinc²(qy)sinc²(qz) that trilinear sampling along
 * oblique rays applies (measured on tii-64: the error against the exact
 * central slice falls from 21 % to 5 % at 1/4 cycle/px and from 51 % to 14 %
 * near Nyquist).
 * The shift follows RELION 3.1: rlnOriginX/YAngst is the translation that brings
 * the particle back to the centre, i.e. the image holds the projection moved by
 * −origin. Half sets alternate 1, 2, 1, 2, ... */
#ifndef GAR_SIMULATE_H
#define GAR_SIMULATE_H

#include <stddef.h>
#include <stdint.h>
#include "gar_map.h"
#include "gar_particle.h"
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_sim_config {
    uint64_t seed;
    double snr;              /* <= 0 or infinite: no noise */
    int apply_ctf;
    double defocus_min_A;    /* uniform in [min, max] */
    double defocus_max_A;
    double astigmatism_A;    /* |dU − dV| / 2 uniform in [0, this] */
    double shift_sigma_A;    /* per axis */
    double pixel_size_A;
    double voltage_kV, cs_mm, amplitude_contrast;
    int ctf_wrap;            /* nonzero: CTF on the box's own grid (no canvas) */
} gar_sim_config;

/* 300 kV, Cs 2.7 mm, Q 0.1, defocus 1.0-2.5 µm, astigmatism up to 200 Å,
 * no shifts, SNR 1, seed 1; pixel size 0 (must be set). */
void gar_sim_config_default(gar_sim_config *cfg);

/* The optics group (group 1) the simulated particles refer to. */
void gar_sim_optics(const gar_sim_config *cfg, size_t box, gar_optics *optics);

/* Draw particle `index`'s metadata. Deterministic in (cfg->seed, index). */
void gar_sim_draw(const gar_sim_config *cfg, size_t index, gar_particle *meta);

/* The map as the simulator projects it (see above); out is a new map. */
gar_status gar_sim_prepare_map(const gar_map *in, gar_map **out);
/* The object the particles are projections of: the map in solvent and
 * band-limited to the Nyquist sphere, without the prefilter (the projector's
 * trilinear sampling undoes it, on average). The fair reference for the FSC
 * of a map made from simulated particles; out is a new map. */
gar_status gar_sim_truth(const gar_map *in, gar_map **out);
/* Only the solvent step of gar_sim_prepare_map (for tests: the object whose
 * exact projections the simulator approximates). In place. */
void gar_sim_solvent(gar_map *map);

/* The canvas edge the CTF is applied on for a box of `box` pixels: the box
 * without CTF or with ctf_wrap, else an FFT-friendly size >= box + the
 * CTF's largest spread in pixels (defocus_max + astigmatism, to the box's
 * corner frequency). */
size_t gar_sim_canvas(const gar_sim_config *cfg, size_t box);

/* Per-thread scratch (FFT plan and buffers) for one box size. */
typedef struct gar_sim_worker gar_sim_worker;
gar_status gar_sim_worker_create(size_t box, gar_sim_worker **out);
void gar_sim_worker_destroy(gar_sim_worker **w);   /* NULL-safe */

/* Render particle `index` of the prepared map with metadata `meta` (from gar_sim_draw) into image
 * (box*box floats). If clean is not NULL it receives the noise-free image. */
gar_status gar_sim_render(gar_sim_worker *w, const gar_map *map, const gar_sim_config *cfg,
                          size_t index, const gar_particle *meta, float *image, float *clean);

#ifdef __cplusplus
}
#endif
#endif
