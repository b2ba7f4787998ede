/* garner: import of RELION 3.1 STAR + MRCS particles into a garner stack. */
#ifndef GAR_IMPORT_H
#define GAR_IMPORT_H

#include <stddef.h>
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_import_options {
    int skip_nonfinite;        /* 0: a NaN/Inf pixel is an error; 1: drop the particle */
    const char *provenance;    /* stored in the stack (the command line); may be NULL */
    int progress;              /* report progress on stderr */
} gar_import_options;

typedef struct gar_import_report {
    size_t rows;               /* particles in the STAR file */
    size_t written;            /* particles in the stack */
    size_t skipped_nonfinite;
    size_t box;
    double pixel_size_A;
    int half_sets_assigned;    /* the STAR file had no rlnRandomSubset */
} gar_import_report;

/* Read `star_path` (optics and particles blocks), the images it names
 * ("NNNNNN@stack.mrcs", relative to the STAR file's folder; each MRCS file is
 * kept open while consecutive rows name it, and read in row order, which is
 * sequential for STAR files written by RELION), and write the stack `out_path`
 * atomically.
 * On any error no output file is left. */
gar_status gar_import_star(const char *star_path, const char *out_path,
                           const gar_import_options *opt, gar_import_report *report);

/* Everything gar_import_star checks in a parsed STAR file before it reads an
 * image: the data_particles and data_optics blocks, the columns, and every
 * row's values, optics group and image name (the images themselves are not
 * opened). *rows (may be NULL) gets the particle count. gar_import_star runs
 * exactly these checks first. */
struct gar_star;
gar_status gar_import_check_star(const struct gar_star *star, size_t *rows);

#ifdef __cplusplus
}
#endif
#endif
