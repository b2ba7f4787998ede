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
    int progress;              /* report progress and notes on stderr */
    const char *project_dir;   /* the folder image names are relative to; NULL:
                                * the working folder, then the STAR file's
                                * folder and each folder above it */
} gar_import_options;

/* Optics groups whose pixel sizes differ by at most this fraction of the
 * first group's are imported at the first group's pixel size, their images
 * resampled (gar_resample.h); a larger difference is refused. 1 % covers
 * calibration scatter between merged sessions (1.24 and 1.25 Å: 0.8 %). */
#define GAR_IMPORT_PIXEL_TOLERANCE 0.01

typedef struct gar_import_report {
    size_t rows;               /* particles in the STAR file */
    size_t written;            /* particles in the stack */
    size_t skipped_nonfinite;
    size_t box;
    double pixel_size_A;
    int half_sets_assigned;    /* the STAR file had no rlnRandomSubset */
    int relion30;              /* no data_optics: optics taken from the rows */
    unsigned columns;          /* GAR_COL_* imported (no GAR_COL_POSE: no poses) */
    size_t resampled;          /* images brought to the common pixel size */
    size_t carried_columns;    /* source columns kept as text for export */
} gar_import_report;

/* Read `star_path`, the images it names and write the stack `out_path`
 * atomically. RELION 3.1 to 5 files (data_optics + data_particles) and
 * RELION 3.0 files (data_, data_images or data_particles with the optics in
 * every row, origins in pixels) are read; docs/FORMAT.md lists every column
 * and its conversion. Image names are "NNNNNN@stack.mrcs", relative to
 * opt->project_dir or found as RELION finds them (gar_import_options); each
 * MRCS file is kept open while consecutive rows name it, and read in row
 * order, which is sequential for STAR files written by RELION.
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
