/* garner: the poses file a refinement writes each iteration (docs/FORMAT.md,
 * "Poses file"): one row per particle of the run's stacks, in input order,
 * with the pose, origin, half set and score, and the refinement's state so
 * that `garner refine --continue` can go on from it. The image stacks are
 * never rewritten. */
#ifndef GAR_POSES_H
#define GAR_POSES_H

#include <stddef.h>
#include <stdint.h>
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_pose {
    double rot_deg, tilt_deg, psi_deg;
    double origin_x_A, origin_y_A;
    double score;            /* normalised cross-correlation of the best pose */
    int32_t half_set;
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
} gar_refine_state;

/* Written to a temporary name and renamed: never half-written. */
gar_status gar_poses_write(const char *path, const gar_pose *poses, size_t n, const gar_refine_state *state);
/* Read a file of exactly n rows into poses (caller's array) and state. */
gar_status gar_poses_read(const char *path, gar_pose *poses, size_t n, gar_refine_state *state);
/* The number of rows of a poses file. */
gar_status gar_poses_count(const char *path, size_t *n);

#ifdef __cplusplus
}
#endif
#endif
