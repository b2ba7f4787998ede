/* garner: the refinement's state, shared by its files (private to src/run):
 * refine.c (the object and its iterations), refine_refs.c (references,
 * sampling schedule, memory), refine_pass.c (a pass over the particles) and
 * refine_files.c (the iteration folders and the final outputs). */
#ifndef GAR_REFINE_IMPL_H
#define GAR_REFINE_IMPL_H

#include <stddef.h>
#include "gar_inputs.h"
#include "gar_map.h"
#include "gar_noise.h"
#include "gar_partials.h"
#include "gar_poses.h"
#include "gar_recon.h"
#include <garner/refine.h>
#include "gar_refproj.h"
#include "gar_search.h"
#include "gar_symmetry.h"
#include "run_settings.h"

/* One iteration's record, for the log and summary.json. */
typedef struct iter_record {
    double step, resolution, changed, seconds, band, memory;
    double resolution_unmasked;   /* FSC 0.143 between the half maps */
    double resolution_masked;     /* the solvent-corrected FSC's; NaN: not computed (solvent_fsc_below) */
    double search_seconds;   /* in gar_search_batch, mean over the searching processes */
    int local;
} iter_record;

/* Iteration `it`'s memory on a rank: its references, search and
 * reconstruction all live at once, beside the maps, the poses and a batch of
 * particles. */
typedef struct refine_memory {
    double search, refs, recon, total;
} refine_memory;

struct gar_refine {
    const gar_params *p;
    const char *params_path;
    recon_settings rs;         /* every key's typed value, and the GPUs */
    char *fingerprint;         /* rank 0: the run's (run_fprint.h), in every poses file and summary.json */
    const gar_settings *set;   /* rs.set */
    const gar_refine_settings *f;   /* rs.set.refine */
    gar_inputs *in;
    size_t n, box;
    double px, mask_px;
    int mask_auto;          /* mask_px from the initial map ([refine] mask_diameter = 0) */
    const gar_optics *optics;
    size_t n_optics;
    gar_symmetry *sym;
    gar_recon_config rcfg;
    gar_recon *rec;            /* one a run, reset every pass */
    gar_partials *parts;
    size_t passes;             /* passes over the particles in this process */
    gar_map *initial, *truth;
    gar_map *solvent_mask;     /* [postprocess] mask for the solvent-corrected FSC; NULL: made from the map */
    gar_pose *poses;
    gar_refine_state state;
    double finest_step;
    gar_map *half[2];          /* the last iteration's half maps */
    double *fsc;               /* and their FSC */
    size_t n_shells;
    iter_record rec_log[1000];
    size_t n_rec;
    double search_seconds;     /* this process's time in gar_search_batch, this pass */
    int rank, size;
    size_t *stack_base;        /* global index of each stack's first particle */
    double t0;
    /* The noise model ([refine] score = whitened; else NULL), this pass's
     * residual sums (exact), and a batch's residual rows (refine_noise.c). */
    gar_noise *noise;
    struct gar_exactsum *noise_acc;
    float *noise_rows;
    float *batch_scale;        /* a batch's insertion scales */
    int raw_scales;            /* this pass inserted with raw contrast scales (refine_insert_scale) */
    double map_gain;           /* rank 0: the factor the pass's maps take (refine_judge) */
    /* Rank 0: the output folder, locked; files go to gar_outdir_current
     * (the partial folder until the first iteration is written). */
    struct gar_outdir *out;
};

/* refine_refs.c */
double refine_shell_of(const gar_refine *r, double res_A);
double refine_search_band(const gar_refine *r, double res_A);
double refine_first_band(const gar_refine *r);
gar_status refine_make_references(gar_refine *r, const gar_map *initial, double band, gar_refproj *ref[2]);
void refine_free_references(gar_refproj *ref[2]);
void refine_search_config(const gar_refine *r, double step, int local, double band, gar_search_config *sc);
void refine_advance(gar_refine *r, double resolution, double changed);
gar_status refine_check_memory(const gar_refine *r, size_t it, double step, int local, double band,
                               refine_memory *searching);
double refine_search_rate(const gar_refine *r, double search_seconds);

/* refine_pass.c: one pass over all particles (search when `search` is not
 * NULL, insert always); *changed (rank 0): the fraction of particles whose
 * pose moved by more than `step`. Collective. */
gar_status refine_pass(gar_refine *r, gar_search *search, double step, double *changed);
/* The error of a run stopped by a signal during the next iteration. */
gar_status refine_stopped(const gar_refine *r);

/* refine_noise.c: the noise model, the contrast scales and the junk. */
gar_status refine_noise_create(gar_refine *r);         /* the model (white) and its sums; none for ncc */
gar_status refine_noise_start(gar_refine *r);          /* collective: rank 0 estimates it from the background */
gar_status refine_noise_add(gar_refine *r, const gar_particle *meta, size_t count);   /* a batch's residual rows */
gar_status refine_noise_update(gar_refine *r, double band);   /* collective: the pass's residuals to rank 0's model */
gar_status refine_noise_share(gar_refine *r);          /* collective: rank 0's model to every rank */
gar_status refine_noise_write_csv(const gar_refine *r, const char *path);
gar_status refine_noise_write_png(const gar_refine *r, const char *path);   /* gar_plot_noise, one curve a group */
void refine_noise_destroy(gar_refine *r);
gar_status refine_judge(gar_refine *r);                /* rank 0: junk flags, threshold, scale unit, map gain */
/* The cap on the scales refine_insert_scale returns in a pass: what exact
 * sums are sized for (src/gar_fixedsum.h). */
double refine_insert_scale_cap(const gar_refine *r, int searched);
float refine_insert_scale(gar_refine *r, const gar_pose *q, int searched);   /* 0 for junk */
void refine_apply_gain(const gar_refine *r, gar_map *m);   /* a map of the last pass × its gain */

/* refine_files.c */
gar_status refine_make_dir(const char *path);
gar_status refine_write_iteration(gar_refine *r, size_t it);
size_t refine_last_iteration(const gar_refine *r);
gar_status refine_load_iteration(gar_refine *r, size_t it);
gar_status refine_write_final(gar_refine *r, double seconds);
/* Collective, after the final files: [postprocess] on the final half maps
 * into <dir>/postprocess, rank 0 writing, the local resolution over every
 * rank (refine_files.c). */
gar_status refine_postprocess(const gar_refine *r);

#endif
