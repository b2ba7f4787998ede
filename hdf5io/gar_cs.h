/* garner: cryoSPARC particle files (.cs: a NumPy table, gar_npy.h) into a
 * garner stack, and garner particles out as a .cs file. The fields and their
 * conversions are listed in docs/FORMAT.md ("cryoSPARC .cs files"). */
#ifndef GAR_CS_H
#define GAR_CS_H

#include <stddef.h>
#include <stdint.h>
#include "gar_particle.h"
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_cs_import_options {
    const char *project_dir;   /* the cryoSPARC project folder blob/path is relative to;
                                * NULL: the .cs file's folder's parent, its folder, then
                                * the working directory, the first that holds the file */
    int skip_nonfinite;        /* 0: a NaN/Inf pixel is an error; 1: drop the particle */
    const char *provenance;    /* stored in the stack (the command line); may be NULL */
    int progress;              /* report progress on stderr */
} gar_cs_import_options;

typedef struct gar_cs_import_report {
    size_t rows;               /* particles in the .cs file */
    size_t written;            /* particles in the stack */
    size_t skipped_nonfinite;
    size_t inverted;           /* particles with blob/sign -1, whose pixels were negated */
    size_t box;
    double pixel_size_A;
    size_t optics_groups;
    int has_poses;             /* alignments3D/pose and /shift were read */
    int half_sets_assigned;    /* no usable alignments3D/split: alternate 1, 2, ... */
} gar_cs_import_report;

/* Read `cs_path`, the images its blob/path and blob/idx name, and write the
 * stack `out_path` atomically. Every row and every image file is checked
 * before the first image is read; on any error no output file is left. */
gar_status gar_import_cs(const char *cs_path, const char *out_path, const gar_cs_import_options *opt,
                         gar_cs_import_report *report);

/* Write `n` particles as a .cs file at `path` (created or replaced; the
 * caller picks a temporary name): blob/path = `blob_path` for every row,
 * blob/idx = the row, the optics groups' pixel size, voltage, Cs and
 * amplitude contrast, the pose, origin and half set of each particle, and
 * with `ctf` set its defocus and phase shift. uid = a 64-bit mix of
 * uid_seed and the row (distinct within the file). */
gar_status gar_cs_write(const char *path, const char *blob_path, size_t box, const gar_optics *optics,
                        size_t n_optics, const gar_particle *particles, size_t n, int ctf, uint64_t uid_seed);

#ifdef __cplusplus
}
#endif
#endif
