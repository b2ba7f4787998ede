/* garner fsc, the run: the Fourier shell correlation between two maps,
 * printed (the command line: src/cli/cmd_fsc.c). */
#ifndef GAR_RUN_FSC_H
#define GAR_RUN_FSC_H

#include "gar_status.h"

typedef struct gar_fsc_request {
    const char *map1, *map2;   /* two cubic maps of one size (MRC) */
    double threshold;          /* the FSC whose resolution is reported */
    int mask_outer;            /* apply [reconstruct] outer_mask's soft mask to both first */
    double angpix;             /* Å per pixel for both maps, overriding their headers; 0: the headers' */
} gar_fsc_request;

/* Read both maps and print to stdout the FSC as CSV (shell, resolution in
 * Å, FSC; shells 1 to Nyquist), the resolution at the threshold and the
 * mean FSC. Prints nothing on an error. The caller owns the request.
 *
 * The pixel size is req->angpix where given (> 0; a note on stderr says it
 * replaced the headers'); otherwise the headers' when both are known and
 * agree within GAR_MAP_PIXEL_TOLERANCE (gar_map.h; the mean is used); maps that disagree by more are
 * GAR_ERR_DATA naming both files and sizes. Where either header gives none
 * (0), the resolution is printed in pixels (column resolution_px, Nyquist
 * 2 px) with a warning naming the map: never in Å on an assumed scale. */
gar_status gar_run_fsc(const gar_fsc_request *req);

#endif
