/* garner info: what a stack or a map holds (the run: src/run/run_info.c). */
#include <stdio.h>
#include <string.h>

#include "gar_cli.h"
#include "gar_run_info.h"

static const char info_help[] =
    "usage: garner info FILE...\n"
    "\n"
    "Describe garner HDF5 particle stacks and MRC maps or stacks: counts, box,\n"
    "pixel size, optics groups, the range and mean of each metadata column,\n"
    "half-set sizes, pixel statistics and the number of non-finite (NaN/Inf)\n"
    "pixels. The whole file is read, in batches. A refinement's poses file\n"
    "(poses.h5) is described too: iteration, resolution, convergence, half sets,\n"
    "junk and each column's range. The kind is told by content, not by name: a\n"
    "STAR or cryoSPARC .cs file is named, with the import command that reads it.\n";

int gar_cmd_info(int argc, char **argv)
{
    int rc = 0;
    if (argc < 2)
        return gar_cli_usage_error("info", "expected at least one FILE");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(info_help, stdout);
            return 0;
        }
    }
    /* Each file in turn: a failure is said and the next file described; the
     * exit code is the first failure's. */
    for (int i = 1; i < argc; i++) {
        gar_info_request req = {argv[i]};
        gar_status st = gar_run_info(&req);
        if (st != GAR_OK && rc == 0)
            rc = gar_cli_fail(st);
        else if (st != GAR_OK)
            gar_cli_fail(st);
    }
    return rc;
}
