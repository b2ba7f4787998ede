/* garner: what the files of the HDF5 particle stack share (private to
 * hdf5io/gar_stack*.c; users include gar_stack.h).
 *
 *   gar_stack_format.c   the columns of docs/FORMAT.md, the optics rules
 *   gar_stack_write.c    gar_stack_writer_*
 *   gar_stack_read.c     gar_stack_open*, the accessors and the reads
 *
 * The HDF5 calls they are made of (closing, messages, attributes) are in
 * gar_h5util.c. */
#ifndef GAR_STACK_IMPL_H
#define GAR_STACK_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <hdf5.h>

#include "gar_h5util.h"
#include "gar_stack.h"

#define NAME_LEN 64 /* sizeof ((gar_optics *)0)->name */

typedef enum col_kind { KIND_FLOAT, KIND_INT, KIND_STRING } col_kind;

typedef struct coldef {
    const char *name;
    unsigned group; /* GAR_COL_* or 0: always present */
    col_kind kind;
    const char *units;
    const char *star_label;
    size_t offset; /* into gar_particle or gar_optics */
} coldef;

/* /particles/<column>, in this order; half_set and optics_group are the two
 * always present. */
#define NCOLS 11
#define COL_HALF_SET 9
#define COL_OPTICS_GROUP 10
extern const coldef gar_stack_particle_cols[NCOLS];
/* /particles/sim_junk and /particles/sim_scale: the ground truth of a
 * simulated stack (gar_stack.h), both or neither. */
#define NSIM 2
#define SIM_JUNK 0
#define SIM_SCALE 1
extern const coldef gar_stack_sim_cols[NSIM];
/* /optics/<column>. */
#define NOPT 7
extern const coldef gar_stack_optics_cols[NOPT];

/* Optics group number -> index in the table, sorted for bsearch: a stack may
 * hold millions of particles and hundreds of groups. */
typedef struct group_ix {
    int32_t group;
    size_t index;
} group_ix;

/* The optics entry of `group` through the index made by
 * gar_stack_check_optics, or NULL. */
const gar_optics *gar_stack_find_group(const gar_optics *optics, const group_ix *ix, size_t n,
                                       int32_t group);
/* The optics rules shared by writer and reader, so garner never writes a
 * stack it would refuse to read: GAR_ERR_DATA naming `path` and the column
 * for a broken rule. Builds the sorted group index (*out, malloc'd). */
gar_status gar_stack_check_optics(const char *path, const gar_optics *o, size_t n, size_t box,
                                  group_ix **out);

/* A defocus of 100 µm is far beyond any microscope's; larger values are
 * unit mistakes or garbage (1e300 Å becomes an infinite float CTF). */
#define GAR_STACK_MAX_DEFOCUS_A 1e6

/* The value rules for one particle's float column d, shared by writer and
 * reader so garner never writes a stack it would refuse: finite; defocus U
 * and V in (0, GAR_STACK_MAX_DEFOCUS_A) Å (underfocus positive, as RELION
 * and the STAR importer require: a negative one gives a map of inverted
 * contrast with a good-looking FSC); an origin at most half the image's
 * width box_A (Å) from the centre. GAR_ERR_DATA naming path, column and
 * particle index idx. */
gar_status gar_stack_check_value(const char *path, const coldef *d, size_t idx, double v, double box_A);

/* For the optional datasets written and read beside the core ones
 * (gar_stack_extra.c): the open HDF5 file and what has been written. */
hid_t gar_stack_writer_hid(const gar_stack_writer *w);
const char *gar_stack_writer_path(const gar_stack_writer *w);
size_t gar_stack_writer_count(const gar_stack_writer *w);
size_t gar_stack_writer_n_optics(const gar_stack_writer *w);
/* The stack's open HDF5 file into *file (not to be closed), reopened first
 * if the open-file pool had released it (gar_stack_read.c). Valid until the
 * next call on another stack. */
gar_status gar_stack_file(gar_stack *s, hid_t *file);

#endif
