/* garner public API: the HDF5 particle stack (docs/FORMAT.md is the
 * specification).
 *
 *   /                       attrs: format = "garner-stack", format_version = 1,
 *                                  creator, created (ISO 8601), provenance
 *   /particles/images       float32 [n][N][N], chunk [1][N][N], Fletcher32,
 *                           maxdims [unlimited][N][N]
 *   /particles/<column>     1-D [n], float64 or int32, attrs units, star_label
 *   /optics/<column>        1-D [groups]: optics_group, name, pixel_size_A,
 *                           voltage_kV, cs_mm, amplitude_contrast, image_size
 *
 * Pose, origin and CTF columns are optional in groups (GAR_COL_*,
 * <garner/particle.h>); images, half_set and optics_group are always present.
 * A reader never depends on file locking (some NFS/Lustre mounts refuse it).
 * Errors name the file, dataset and particle at fault (gar_errmsg). A handle
 * may be used from one thread at a time. */
#ifndef GARNER_STACK_H
#define GARNER_STACK_H

#include <stddef.h>
#include <stdint.h>
#include <garner/particle.h>
#include <garner/status.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GAR_STACK_FORMAT "garner-stack"
#define GAR_STACK_FORMAT_VERSION 1

/* ---- writing ---- */
typedef struct gar_stack_writer gar_stack_writer;

/* Start a new stack at `path` (written as "<path>.tmp-<pid>" and renamed by
 * commit). `columns` is a mask of GAR_COL_*; `provenance` is free text (the
 * command line). Optics groups are copied. An existing `path` is replaced only
 * at commit. */
gar_status gar_stack_writer_create(const char *path, size_t box, const gar_optics *optics,
                                   size_t n_optics, unsigned columns, const char *provenance,
                                   gar_stack_writer **out);
/* Append `count` images (count*box*box floats) and their metadata. Validates
 * half_set in {1,2}, optics_group known, values finite. */
gar_status gar_stack_writer_append(gar_stack_writer *w, const float *images,
                                   const gar_particle *meta, size_t count);
/* Flush, close and rename into place; frees the writer (sets *w NULL) on all paths. */
gar_status gar_stack_writer_commit(gar_stack_writer **w);
/* Close and delete the temporary file; NULL-safe. */
void gar_stack_writer_abort(gar_stack_writer **w);

/* ---- reading ---- */
typedef struct gar_stack gar_stack;

/* Open read-only and validate: format and format_version (a newer version is
 * an error saying which), image dataset rank 3 float32 with square images,
 * every column 1-D with the dtype above and the same length as images,
 * half_set in {1,2}, every optics_group present in /optics, optics values
 * finite and positive where they must be. The caller owns *out
 * (gar_stack_close). */
gar_status gar_stack_open(const char *path, gar_stack **out);
void gar_stack_close(gar_stack **s);   /* NULL-safe; sets *s to NULL */
const char *gar_stack_path(const gar_stack *s);
size_t gar_stack_count(const gar_stack *s);   /* particles */
size_t gar_stack_box(const gar_stack *s);     /* N */
unsigned gar_stack_columns(const gar_stack *s);   /* GAR_COL_* present */
/* The optics table (owned by the stack, valid until it is closed). */
const gar_optics *gar_stack_optics(const gar_stack *s, size_t *n_optics);
/* Pixel size of the stack: that of its optics groups, which must agree. */
double gar_stack_pixel_size(const gar_stack *s);
/* The optics entry for a group number, or NULL. */
const gar_optics *gar_stack_optics_group(const gar_stack *s, int32_t group);

/* Images [first, first+count) into out (count*box*box floats) with ONE
 * hyperslab read. If that read fails (a Fletcher32 mismatch, a truncated
 * file), the range is re-read one image at a time to find the bad particle and
 * the error names its index: "s.h5: /particles/images: particle 17: checksum
 * mismatch or unreadable data (file corrupt or truncated)". */
gar_status gar_stack_read_images(gar_stack *s, size_t first, size_t count, float *out);
/* Metadata [first, first+count) into out; one hyperslab read per column. */
gar_status gar_stack_read_meta(gar_stack *s, size_t first, size_t count, gar_particle *out);

#ifdef __cplusplus
}
#endif
#endif
