/* garner postprocess, the run: two half maps into a solvent mask, the
 * corrected FSC, the B-factor and the sharpened map, written into an output
 * folder (the command line: src/cli/cmd_postprocess.c; the maths:
 * src/gar_postprocess.h). */
#ifndef GAR_RUN_POSTPROCESS_H
#define GAR_RUN_POSTPROCESS_H

#include "gar_locres.h"
#include "gar_postprocess.h"
#include "gar_status.h"

typedef struct gar_postprocess_request {
    const char *half1, *half2;     /* the half maps (MRC), cubes of one size */
    const char *mask;              /* a mask (MRC, values in [0, 1]); NULL: made from the average map */
    const char *reference;         /* a model map (MRC) whose fall-off the sharpened map keeps; NULL: none */
    const char *out;               /* the output folder (gar_outdir: whole or not at all) */
    int overwrite;                 /* replace an existing, non-empty folder */
    double angpix;                 /* Å per pixel for all maps, overriding their headers; 0: the headers' */
    gar_mask_settings mask_settings;
    gar_postprocess_settings settings;
    gar_locres_settings locres_settings;
    int argc;                      /* the command line, recorded in postprocess.json (argc 0: none) */
    char *const *argv;
} gar_postprocess_request;

/* Read the maps, check them (one size, cubic, finite, one pixel size, the
 * mask within [0, 1]), post-process, and write into req->out:
 * postprocess.json, fsc.csv, fsc.png, guinier.csv, guinier.png, mask.mrc,
 * postprocess.mrc (sharpened) and postprocess_masked.mrc (times the mask).
 * The folder appears only when complete (docs/FORMAT.md, "garner
 * postprocess"). Starts MPI: under mpiexec every rank takes part (below);
 * *report is 1 on the rank that should print the error (rank 0). */
gar_status gar_run_postprocess(const gar_postprocess_request *req, int *report);

/* The same inside a run that has MPI started (refine's end): collective over
 * `size` ranks. Every rank reads the maps; rank 0 makes the mask, the FSCs
 * and the sharpened map and alone writes; the local resolution's points are
 * split over the ranks (the map the same, bit for bit, at any number).
 * Every rank returns the same status, with rank 0 holding the message. */
gar_status gar_run_postprocess_ranks(const gar_postprocess_request *req, int rank, int size);

#endif
