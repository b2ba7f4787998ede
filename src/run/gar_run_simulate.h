/* garner simulate, the run: particles with known poses from a map (the
 * command line: src/cli/cmd_simulate.c). */
#ifndef GAR_RUN_SIMULATE_H
#define GAR_RUN_SIMULATE_H

#include <stddef.h>
#include <stdint.h>
#include "gar_status.h"

typedef struct gar_simulate_request {
    const char *map;              /* the input map (MRC): a cube with an even edge */
    const char *out;              /* the stack to write (atomically) */
    const char *truth;            /* NULL, or the MRC to write the true map to (gar_sim_truth) */
    size_t count;                 /* particles, > 0 */
    double snr;                   /* INFINITY: no noise */
    double defocus_min_A, defocus_max_A;   /* uniform in [min, max] */
    double astigmatism_A;         /* |dU - dV| / 2 uniform in [0, this] */
    double shift_sigma_A;         /* per axis */
    int apply_ctf;                /* 0: no CTF, and no CTF columns stored */
    int ctf_canvas;               /* CTF on a canvas larger than the box, not on the box's own grid */
    double pixel_size_A;          /* 0: the map header's */
    double voltage_kV, cs_mm, amplitude_contrast;
    /* Realism (docs/SIMULATE.md); 0 or NULL: off. With any of them on, one
     * noise σ for the whole stack and the ground-truth columns sim_junk,
     * sim_scale in the stack. */
    double bfactor_A2;            /* envelope exp(-B s²/4), B >= 0 */
    const char *noise_spectrum;   /* "ice": the built-in model; else a text file; NULL: white */
    double ramp_sigma;            /* background ramp at the box edge, in noise σ per axis */
    double contrast_sigma;        /* lognormal contrast scale exp(S z) */
    double junk_fraction;         /* in [0, 1] */
    const char *junk_map;         /* MRC, same box and pixel size: half the junk is its
                                   * projections; NULL: all junk is empty ice */
    uint64_t seed;                /* the stack depends only on it */
    int threads;                  /* 0: OpenMP's default (all cores) */
    int overwrite;                /* replace an existing `out` */
    int argc;                     /* the command line (argv[0] the command's name), */
    char *const *argv;            /* stored in the stack as its provenance */
} gar_simulate_request;

/* The defaults (the simulator's, gar_sim_config_default: 300 kV, Cs 2.7 mm,
 * Q 0.1, defocus 1.0-2.5 µm, astigmatism up to 200 Å, no shifts, SNR 1,
 * seed 1, CTF applied, no realism); no map, output or count. */
void gar_simulate_request_default(gar_simulate_request *req);

/* Check the settings and `out`, read and prepare the map (and the junk map,
 * the noise spectrum), compute the stack's noise σ when a realism option is
 * on, render the particles in batches on `threads` threads with progress on
 * stderr, and write the stack. On any error no output file is left; a bad
 * setting is GAR_ERR_USAGE naming its option. The caller owns the request. */
gar_status gar_run_simulate(const gar_simulate_request *req);

#endif
