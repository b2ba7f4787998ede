/* garner fsc, the run: the Fourier shell correlation between two maps,
 * printed (the command line: src/cli/cmd_fsc.c). */
#ifndef GAR_RUN_FSC_H
#define GAR_RUN_FSC_H

#include "gar_status.h"

typedef struct gar_fsc_request {
    const char *map1, *map2;   /* two cubic maps of one size (MRC) */
    double threshold;          /* the FSC whose resolution is reported */
    int mask_outer;            /* apply [reconstruct] outer_mask's soft mask to both first */
} gar_fsc_request;

/* Read both maps and print to stdout the FSC as CSV (shell, resolution in
 * Å, FSC; shells 1 to Nyquist), the resolution at the threshold and the
 * mean FSC. Prints nothing on an error. The caller owns the request. */
gar_status gar_run_fsc(const gar_fsc_request *req);

#endif
