/* garner: simulated particle images with known poses, for tests, benchmarks
 * and users checking a setup.
 *
 * Each particle i is a pure function of (config, map, i): its pose, shift,
 * defocus and noise come from the random stream (seed, i), so a stack is the
 * same whatever the number of threads or batches. The image is
 *   noise-free = box of IFFT( CTF · shift · FFT( ray-sum projection at the pose,
 *                                                 zero-padded to the canvas ) )
 *   image      = noise-free + Gaussian noise, σ² = var(noise-free over the box) / SNR.
 * The canvas (gar_sim_canvas) is by default the box itself (the CTF applied
 * on the box's own grid, as relion_project does and garner 0.1 did: the
 * image is then one period of a periodic image, [reconstruct] image_model =
 * periodic); with ctf_canvas it is large enough that the CTF's spread of each
 * frequency (λΔf|k| Å) leaves the box instead of wrapping into it from the
 * other side, as in a micrograph.
 * The map is first prepared once (gar_sim_prepare_map): put in solvent
 * (background mean outside the inscribed sphere removed, zero beyond it, so
 * every pose sees the whole object) and prefiltered to undo, on average, the
 * attenuation sinc²(qx)sinc²(qy)sinc²(qz) that trilinear sampling along
 * oblique rays applies (measured on tii-64: the error against the exact
 * central slice falls from 21 % to 5 % at 1/4 cycle/px and from 51 % to 14 %
 * near Nyquist).
 * The shift follows RELION 3.1: rlnOriginX/YAngst is the translation that brings
 * the particle back to the centre, i.e. the image holds the projection moved by
 * −origin. Half sets alternate 1, 2, 1, 2, ...
 *
 * Realism (issue 16; docs/SIMULATE.md has the formulas), all off by default,
 * and then the image is bitwise what the rule above gives:
 *   noise-free = c · IFFT( CTF · exp(−B s²/4) · shift · FFT( projection ) )
 *   image      = noise-free + σ · coloured noise + ramp
 * with c the particle's contrast scale (lognormal), the coloured noise white
 * Gaussian noise filtered by sqrt(S(s)/mean S) so its variance over the box is
 * still σ², and the ramp σ·R·(gx (x−N/2) + gy (y−N/2))/(N/2), gx, gy standard
 * normal. A fraction of the particles are junk: a projection of another map
 * (cfg->junk_map) at its own random pose, or empty ice (no particle, c = 0).
 * cfg->noise_sigma > 0 gives every image that σ (gar_sim_stack_sigma computes
 * it from the SNR); otherwise σ follows the per-image rule above. Which
 * particles are junk, their scales, ramps and junk poses come from a third
 * random stream per particle (gar_sim_draw_truth), so the metadata and noise
 * streams are those of a stack without realism. */
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
    /* Realism; 0 or NULL: off. The pointers are borrowed: the caller keeps
     * the spectrum and the junk map alive while the config is used. */
    double bfactor_A2;            /* envelope exp(−B s²/4) on the CTF (also without CTF), B >= 0 */
    const struct gar_sim_spectrum *noise_spectrum;   /* NULL: white noise */
    double ramp_sigma;            /* R: the ramp at the box edge, in noise σ per axis */
    double contrast_sigma;        /* S: contrast scale exp(S z), z standard normal */
    double junk_fraction;         /* F in [0, 1]: the share of junk particles */
    const gar_map *junk_map;      /* prepared, same box: half the junk is its projections;
                                   * NULL: all junk is empty ice */
    double noise_sigma;           /* > 0: the noise σ of every image; 0: per image from the SNR */
    int ctf_canvas;          /* nonzero: CTF on a canvas larger than the box (a micrograph's way) */
} gar_sim_config;

/* 300 kV, Cs 2.7 mm, Q 0.1, defocus 1.0-2.5 µm, astigmatism up to 200 Å,
 * no shifts, SNR 1, seed 1, no realism; pixel size 0 (must be set). */
void gar_sim_config_default(gar_sim_config *cfg);

/* Whether any realism setting is on (B-factor, spectrum, ramp, contrast,
 * junk): then a stack has one noise σ and records the ground truth. */
int gar_sim_realism(const gar_sim_config *cfg);

/* The relative noise power S(s) (s in 1/Å), from a file or a model. */
typedef struct gar_sim_spectrum gar_sim_spectrum;
/* A text file of lines "frequency_1/Å relative_power"; '#' starts a comment,
 * blank lines are skipped; at least 2 rows, frequencies >= 0 and increasing,
 * powers > 0, at most 1 MiB. S is linear between rows and constant beyond the
 * ends. GAR_ERR_NOINPUT when it cannot be opened, GAR_ERR_DATA naming the
 * file and line for a bad row. The caller owns *out. */
gar_status gar_sim_spectrum_read(const char *path, gar_sim_spectrum **out);
/* The built-in "ice" model: ice and carbon, strong at low frequency,
 *   S(s) = 1 + 6 exp(−(s / s0)²),  s0 = 1/40 Å⁻¹
 * (7 times the high-frequency floor at s = 0, 1.0 beyond ~1/15 Å⁻¹). */
gar_status gar_sim_spectrum_ice(gar_sim_spectrum **out);
void gar_sim_spectrum_destroy(gar_sim_spectrum **s);   /* NULL-safe */
double gar_sim_spectrum_eval(const gar_sim_spectrum *s, double freq_per_A);

/* Ground truth of particle `index`: what it is and its contrast scale. */
enum { GAR_SIM_PARTICLE = 0, GAR_SIM_JUNK_PROTEIN = 1, GAR_SIM_JUNK_ICE = 2 };
typedef struct gar_sim_truth {
    int32_t junk;             /* GAR_SIM_PARTICLE, GAR_SIM_JUNK_PROTEIN or GAR_SIM_JUNK_ICE */
    double scale;             /* the contrast scale applied: 1 without scatter, 0 for empty ice */
    double ramp_gx, ramp_gy;  /* the ramp's standard normal slopes */
    double junk_rot_deg, junk_tilt_deg, junk_psi_deg;   /* a protein junk's pose */
} gar_sim_truth;
/* Deterministic in (cfg->seed, index) and the realism settings; junk status
 * and junk pose do not depend on the contrast or ramp settings. */
void gar_sim_draw_truth(const gar_sim_config *cfg, size_t index, gar_sim_truth *truth);

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
gar_status gar_sim_true_map(const gar_map *in, gar_map **out);
/* Only the solvent step of gar_sim_prepare_map (for tests: the object whose
 * exact projections the simulator approximates). In place. */
void gar_sim_solvent(gar_map *map);

/* The canvas edge the CTF is applied on for a box of `box` pixels: the box
 * without CTF or without ctf_canvas, else an FFT-friendly size >= box + the
 * CTF's largest spread in pixels (defocus_max + astigmatism, to the box's
 * corner frequency). */
size_t gar_sim_canvas(const gar_sim_config *cfg, size_t box);

/* Per-thread scratch (FFT plan and buffers) for one box size. */
typedef struct gar_sim_worker gar_sim_worker;
gar_status gar_sim_worker_create(size_t box, gar_sim_worker **out);
void gar_sim_worker_destroy(gar_sim_worker **w);   /* NULL-safe */

/* Render particle `index` of the prepared map with metadata `meta` (from gar_sim_draw) into image
 * (box*box floats). If clean is not NULL it receives the noise-free image
 * (the signal times its contrast scale, without noise or ramp; zero for
 * empty ice). */
gar_status gar_sim_render(gar_sim_worker *w, const gar_map *map, const gar_sim_config *cfg,
                          size_t index, const gar_particle *meta, float *image, float *clean);

/* The reference set of gar_sim_stack_sigma: particles 0 .. this − 1. */
#define GAR_SIM_SIGMA_REF 64
/* The one noise σ of a stack with realism: σ² = (mean over particles 0..63
 * of the variance over the box of the noise-free real particle at contrast
 * scale 1, junk or not, with CTF and B-factor) / SNR. Independent of the
 * stack's count; 0 when the SNR is infinite or not positive. Single-threaded
 * and deterministic. */
gar_status gar_sim_stack_sigma(gar_sim_worker *w, const gar_map *map, const gar_sim_config *cfg,
                               double *sigma);

#ifdef __cplusplus
}
#endif
#endif
