/* garner export, the run: the particles of the stacks with a refinement's
 * poses as a RELION 3.1 STAR file and/or a cryoSPARC .cs file, each with an
 * MRC stack beside it (the command line: src/cli/cmd_export.c). */
#ifndef GAR_RUN_EXPORT_H
#define GAR_RUN_EXPORT_H

#include <stddef.h>
#include "gar_status.h"

typedef struct gar_export_request {
    const char *const *stacks;   /* the particle stacks, in the refinement's [input] order */
    size_t n_stacks;
    const char *poses;           /* the poses.h5 of garner refine; NULL: the stacks' own poses */
    const char *star;            /* the STAR file to write (or NULL); the stack goes to .mrcs beside it */
    int overwrite;               /* replace existing output files */
    const char *cs;              /* the cryoSPARC .cs file to write (or NULL); the stack goes to
                                  * .mrcs beside it (one stack when both names share a stem) */
} gar_export_request;

/* Check the outputs, write the stacks and the STAR and/or .cs file under
 * temporary names and rename them; on any error none is left. At least one
 * of star and cs is required. */
gar_status gar_run_export(const gar_export_request *req);

#endif
