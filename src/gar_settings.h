/* garner: the typed value of every run parameter, one field per key.
 *
 * The schema (gar_params_schema.c) is the one place a key is declared: its
 * row names the field of gar_settings it fills (GAR_FIELD), with its type,
 * default, bounds and doc. gar_params_settings fills the whole struct once
 * the file and its --set overrides are loaded; the run layer reads the
 * fields, never the keys by name. Enums are ints after loading: the index
 * of the value in the row's choices, which are written in the order of the
 * C enum they stand for (tests/check_params holds the two equal). */
#ifndef GAR_SETTINGS_H
#define GAR_SETTINGS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* [input] nonfinite: "error|skip" */
typedef enum gar_nonfinite_policy {
    GAR_NONFINITE_ERROR = 0,   /* a particle whose image holds NaN or Inf stops the run */
    GAR_NONFINITE_SKIP = 1     /* such particles are left out, and counted */
} gar_nonfinite_policy;

/* [refine] score: "whitened|ncc" */
typedef enum gar_score_kind {
    GAR_SCORE_WHITENED = 0,      /* each frequency weighted by 1/σ² of the noise model */
    GAR_SCORE_NCC = 1            /* every frequency alike (no noise model) */
} gar_score_kind;

typedef struct gar_input_settings {
    const char *const *stacks;   /* expanded: globs sorted, each file readable, none twice */
    size_t n_stacks;
    int nonfinite;               /* a gar_nonfinite_policy */
    int normalize;               /* background plane removed, background σ 1 (gar_image.h) */
} gar_input_settings;

typedef struct gar_output_settings {
    const char *dir;
    int overwrite;
    double checkpoint_minutes;
} gar_output_settings;

typedef struct gar_reconstruct_settings {
    const char *symmetry;
    int symmetry_mode;           /* a gar_sym_mode (gar_recon.h): "insert|volume" */
    int ctf;
    long pad;
    double blob_radius, blob_alpha;
    long blob_order;
    double max_resolution;       /* Å; 0: Nyquist */
    long threads;                /* 0: the usable cores */
    long batch;
    int outer_mask;
    int image_model;             /* a gar_image_model (gar_recon.h): "boxed|periodic" */
    const char *reference;       /* NULL: none */
} gar_reconstruct_settings;

typedef struct gar_refine_settings {
    const char *initial_map;
    double initial_resolution;
    const char *symmetry;
    double angular_step, shift_range, shift_step;
    long iterations;
    double local_search_below, join_below, mask_diameter;
    int score;                   /* a gar_score_kind */
    int contrast_scale;          /* per-particle contrast scale in the reconstruction */
    double junk_sigma;           /* robust z below which a particle is junk (0: none) */
    long alternatives;           /* poses besides the best inserted with their weights (0: none) */
    double solvent_fsc_below;    /* Å: from this unmasked resolution on, the solvent-corrected FSC's (0: never) */
} gar_refine_settings;

/* What refine does with its final half maps (garner postprocess). */
typedef struct gar_postprocess_run_settings {
    int run;                     /* post-process into <dir>/postprocess at the end */
    const char *mask;            /* NULL: made from the map */
    const char *bfactor;         /* "auto" (fitted) or a number in Å² */
    const char *reference;       /* a model map whose fall-off the sharpened map keeps; NULL: none */
} gar_postprocess_run_settings;

typedef struct gar_gpu_settings {
    const char *devices;
    int fft_on_gpu;
    int tuning;                  /* a gar_gpu_tuning (gpu/gar_gpu.h): "auto|off|cached" */
    const char *tuning_cache;
} gar_gpu_settings;

typedef struct gar_mpi_settings {
    long shard_size;             /* 0: from the particle and rank counts */
    long reduce_chunk_mb;
    int reproducible;
} gar_mpi_settings;

typedef struct gar_settings {
    gar_input_settings input;
    gar_output_settings output;
    gar_reconstruct_settings reconstruct;
    gar_refine_settings refine;
    gar_postprocess_run_settings postprocess;
    gar_gpu_settings gpu;
    gar_mpi_settings mpi;
} gar_settings;

/* A schema row's field: its offset in gar_settings. */
#define GAR_FIELD(member) offsetof(gar_settings, member)

#ifdef __cplusplus
}
#endif
#endif
