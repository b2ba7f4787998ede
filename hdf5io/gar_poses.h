/* garner: the poses file a refinement writes each iteration (docs/FORMAT.md,
 * "Poses file"): one row per particle of the run's stacks, in input order,
 * with the pose, origin, half set and score, and the refinement's state so
 * that `garner refine --continue` can go on from it. The image stacks are
 * never rewritten. */
#ifndef GAR_POSES_H
#define GAR_POSES_H

#include <stddef.h>
#include <stdint.h>
#include "gar_noise.h"
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_pose {
    double rot_deg, tilt_deg, psi_deg;
    double origin_x_A, origin_y_A;
    double score;            /* the best pose's score (whitened NCC, gar_search.h) */
    double scale;            /* contrast scale relative to the median particle (1: none known) */
    double evidence;         /* the best pose's evidence (gar_search_result) */
    double misfit;           /* the best pose's misfit (gar_search_result) */
    int32_t half_set;
    int32_t junk;            /* 1: left out of the next reconstruction (score below the junk threshold) */
} gar_pose;

/* Where a refinement stands after an iteration. */
typedef struct gar_refine_state {
    uint64_t iteration;      /* 1, 2, ... (0: the start) */
    double angular_step_deg; /* the step the next iteration searches at */
    double resolution_A;     /* FSC 0.143 of this iteration's half maps */
    double best_resolution_A;
    uint64_t stalls;         /* iterations at this step without a better resolution */
    double changed_fraction; /* particles whose pose moved by more than the step */
    uint64_t local;          /* the next iteration searches locally */
    uint64_t converged;
    double scale_median;     /* median raw contrast scale of the kept particles (0: none yet) */
    double junk_threshold;   /* relative contrast scales below it are junk (−inf: none) */
    double misfit_threshold; /* misfits above it are junk (inf: none) */
    uint64_t junk_count;     /* particles flagged junk by this iteration */
} gar_refine_state;

/* Written to a temporary name and renamed: never half-written. noise (NULL:
 * none) is the noise model the next iteration searches with; fingerprint
 * (NULL: none) the run's (src/run/run_fprint.h), which --continue checks. */
gar_status gar_poses_write(const char *path, const gar_pose *poses, size_t n, const gar_refine_state *state,
                           const gar_noise *noise, const char *fingerprint);
/* The run fingerprint of a poses file into *out (malloc'd, the caller
 * frees); NULL when the file holds none (written by an older garner). */
gar_status gar_poses_fingerprint(const char *path, char **out);
/* Read a file of exactly n rows into poses (caller's array) and state, and,
 * when noise is not NULL, its noise model into noise (the same groups and
 * shells; *has_noise 0 when the file holds none: a version 1 file, or one
 * written without). A version 1 file (garner 0.1) reads with scale 1, no
 * junk and no noise model. */
gar_status gar_poses_read(const char *path, gar_pose *poses, size_t n, gar_refine_state *state, gar_noise *noise,
                          int *has_noise);
/* The number of rows of a poses file. */
gar_status gar_poses_count(const char *path, size_t *n);

#ifdef __cplusplus
}
#endif
#endif
