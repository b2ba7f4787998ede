/* garner import, the run: RELION STAR + MRCS, or a cryoSPARC .cs file
 * and its images, into a garner HDF5 stack (the command line:
 * src/cli/cmd_import.c). */
#ifndef GAR_RUN_IMPORT_H
#define GAR_RUN_IMPORT_H

#include "gar_status.h"

typedef struct gar_import_request {
    const char *star;          /* the RELION STAR file, 3.0 to 5 (or NULL: cs) */
    const char *out;           /* the stack to write (atomically) */
    int skip_nonfinite;        /* 0: an image with NaN/Inf is an error; 1: it is left out */
    int overwrite;             /* replace an existing `out` */
    int argc;                  /* the command line (argv[0] the command's name), */
    char *const *argv;         /* stored in the stack as its provenance */
    const char *cs;            /* the cryoSPARC .cs file (or NULL: star); exactly one of the two */
    const char *project_dir;   /* the RELION or cryoSPARC project folder image names are
                                * relative to (NULL: searched; gar_import.h, gar_cs.h) */
} gar_import_request;

/* Check `out`, import the particles with progress on stderr, and log what
 * was written (half sets assigned, images skipped). On any error no output
 * file is left. The caller owns the request. */
gar_status gar_run_import(const gar_import_request *req);

#endif
