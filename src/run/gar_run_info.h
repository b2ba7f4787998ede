/* garner info, the run: what a particle stack or a map holds (the command
 * line: src/cli/cmd_info.c). */
#ifndef GAR_RUN_INFO_H
#define GAR_RUN_INFO_H

#include "gar_status.h"

typedef struct gar_info_request {
    const char *path;          /* a garner HDF5 stack (by its signature), else an MRC map or stack */
} gar_info_request;

/* Read the whole file, in batches, and print its report to stdout: counts,
 * box, pixel size, optics groups, each metadata column's range and mean,
 * half-set sizes, pixel statistics, non-finite pixels. One file per call,
 * so that a command given several reports each and goes on after a failure;
 * on an error the report may be cut short. The caller owns the request. */
gar_status gar_run_info(const gar_info_request *req);

#endif
