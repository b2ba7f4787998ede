/* garner: what the pose search's files share (gar_search.c: create,
 * destroy and the batches; gar_search_grid.c: the sampling and the sizes;
 * gar_search_score.c: the scoring of one particle). Private to them: the
 * API is gar_search.h. */
#ifndef GAR_SEARCH_IMPL_H
#define GAR_SEARCH_IMPL_H

#include <math.h>
#include <stddef.h>
#include "gar_fft.h"
#include "gar_gpu.h"
#include "gar_search.h"

#define GAR_SEARCH_LOCAL_HALF 2   /* local search: ±2 steps per rotation axis and origin axis */
#define GAR_SEARCH_TOP_MAX 64   /* coarse poses refined, at most */

/* Per-thread scratch. */
typedef struct search_ws {
    gar_fft2 *fft;
    float *xr, *xi;        /* the particle's band, B each */
    float *wc, *wc2;       /* w·C and w·C², B each */
    float *ctf;            /* C, B */
    float *Y;              /* n_shift rows of 2B */
    float *P, *P2;         /* slices computed here: n_local rows of 2B and B */
    float *S;              /* scores, n_shift × max(n_coarse, n_local) */
    float *nP;             /* per-pose Σ w C² |P|² */
    double *mats;          /* n_local × 9 */
    double *sx, *sy;       /* the origin grid, pixels */
    float *eu, *ev;        /* per-row phase tables: e^{−2πi u ox/N}, u = 0..R; e^{−2πi v oy/N}, v = −R..R */
} search_ws;

struct gar_search {
    gar_search_config cfg;
    size_t N, B;                  /* box, band pixels (ordered by |k|) */
    size_t Bc;                    /* global: the first Bc of them, the coarse grid's band */
    int R;                        /* band radius, whole shells */
    double *cube;                 /* n_cube rotations about the identity (gar_search_pose_cube) */
    size_t n_cube;
    float *ku, *kv, *w;           /* band: frequencies and Hermitian weights */
    unsigned short *shell;        /* band: round(|k|) */
    float *inv_noise;             /* band × noise groups: 1/σ² (NULL: white) */
    size_t n_coarse;              /* global: coarse poses */
    double *coarse_mats;          /* n_coarse × 9 */
    float *cP[2], *cP2[2];        /* coarse slices per half set (cP[1] may alias cP[0]) */
    size_t n_local;               /* poses scored per refinement cube (all top_k cubes) */
    size_t n_shift_max;
    int threads;
    search_ws *ws;
    /* The coarse stage on GPUs (global searches given devices): one scorer a
     * device, and the batch staged for them. */
    gar_gpu_scorer *scorer[GAR_SEARCH_MAX_GPUS];
    int n_scorers;
    int gpu_checked, gpu_off;
    size_t staged;                /* particles the staging holds */
    float *st_band;               /* staged × 4 B: xr, xi, wc, wc2 */
    double *st_norm;              /* staged × 2: normX, normXc */
    float *st_Y, *st_W;           /* staged × n_shift × 2 Bc; staged × Bc */
    double *st_normc, *st_topv;   /* staged; staged × K */
    size_t *st_top, *st_slot;     /* staged × K; staged */
};

/* What a search of this configuration holds, from its configuration and
 * its coarse grid's size: gar_search_create allocates by it and
 * gar_search_memory_bytes counts it. */
typedef struct search_sizes {
    size_t B, Bc, n_coarse, n_cube, n_local, n_shift, rows;
} search_sizes;

/* A particle's band (gar_search_prepare_particle): X, w·C and w·C² at the
 * B band pixels, and Σ w |X|² over the band and over the coarse band. In a
 * thread's scratch, or staged for the whole batch when the coarse stage runs
 * on GPUs. */
typedef struct particle_band {
    float *xr, *xi, *wc, *wc2, *ctf;
    double normX, normXc;
} particle_band;

/* Floats a particle's band holds per band pixel (xr, xi, wc, wc2, ctf). */
#define GAR_SEARCH_BAND_FLOATS 5

/* Origins along each axis of a particle's origin grid. */
static inline size_t shift_axis_count(const gar_search_config *cfg)
{
    if (cfg->mode == GAR_SEARCH_LOCAL)
        return 2 * GAR_SEARCH_LOCAL_HALF + 1;
    return 2 * (size_t)floor(cfg->shift_range_A / cfg->shift_step_A + 1e-9) + 1;
}

/* Steps each way of a pose cube: ±1 about each coarse pose of a global
 * search, ±GAR_SEARCH_LOCAL_HALF about the previous pose of a local one. */
static inline int cube_half(const gar_search_config *cfg)
{
    return cfg->mode == GAR_SEARCH_GLOBAL ? 1 : GAR_SEARCH_LOCAL_HALF;
}

/* Coarse poses a global search refines: top_k within 1..GAR_SEARCH_TOP_MAX. */
static inline int coarse_keep(const gar_search_config *cfg)
{
    return cfg->top_k < 1 ? 1 : cfg->top_k < GAR_SEARCH_TOP_MAX ? cfg->top_k : GAR_SEARCH_TOP_MAX;
}

/* Particles a global search stages at a time. */
static inline size_t staged_count(const gar_search_config *cfg) { return cfg->batch > 0 ? cfg->batch : 64; }

/* gar_search_grid.c: the sampling; each is described where it is defined. */
gar_status gar_search_check_config(const gar_search_config *cfg);   /* the search's usage errors */
void gar_search_sizes_of(const gar_search_config *cfg, size_t n_coarse, search_sizes *z);
gar_status gar_search_build_band(gar_search *s);                      /* s->ku, kv, w, B, R */
size_t gar_search_coarse_band_pixels(const gar_search_config *cfg);   /* Bc */
gar_status gar_search_build_coarse(gar_search *s);                    /* coarse poses and slices */
gar_status gar_search_make_cube(gar_search *s, int h, double step);   /* s->cube */
size_t gar_search_pose_cube(const gar_search *s, const double A[9], double *out);

/* gar_search_score.c: the scoring of one particle, in a thread's scratch w
 * (or, for the band, the batch's staging); described where defined. */
void gar_search_slices(const gar_search *s, const gar_refproj *ref, const double *mats, size_t n, size_t nb,
                       float *P, float *P2);
gar_status gar_search_prepare_particle(const gar_search *s, search_ws *w, const float *image,
                                       const gar_particle *meta, particle_band *b);
void gar_search_particle_rows(const gar_search *s, search_ws *w, const particle_band *b, size_t n, size_t nb, float *Y);
int gar_search_coarse_top(const gar_search *s, search_ws *w, const float *Y, const float *wc2, double normXc, int h,
                          size_t n_shift, size_t *top, double *topv);
size_t gar_search_particle_origins(const gar_search *s, search_ws *w, const gar_particle *meta, double *step);
void gar_search_fine(gar_search *s, search_ws *w, const particle_band *b, int h, size_t n_shift, double shift_step,
                     const size_t *top, int nk, gar_particle *meta, gar_search_result *res, float *noise);

#endif
