/* garner export, the run: the particles of the stacks with a refinement's
 * poses as a RELION 3.1 STAR file and an MRC stack beside it (the command
 * line: src/cli/cmd_export.c). */
#ifndef GAR_RUN_EXPORT_H
#define GAR_RUN_EXPORT_H

#include <stddef.h>
#include "gar_status.h"

typedef struct gar_export_request {
    const char *const *stacks;   /* the particle stacks, in the refinement's [input] order */
    size_t n_stacks;
    const char *poses;           /* the poses.h5 of garner refine; NULL: the stacks' own poses */
    const char *star;            /* the STAR file to write; the stack goes to .mrcs beside it */
    int overwrite;               /* replace existing output files */
} gar_export_request;

/* Check the outputs, write the stack and the STAR file under temporary names
 * and rename both; on any error neither is left. */
gar_status gar_run_export(const gar_export_request *req);

#endif
