/* garner: the HDF5 calls garner's files are made of. The first group serves
 * the small files (checkpoints, poses): scalar attributes and whole 1-D
 * datasets. The second serves the particle stack (gar_stack_*.c), whose
 * reader must also take files other tools wrote. Each returns < 0 (or a
 * gar_h5_attr other than GAR_H5_ATTR_OK) on failure, like the HDF5 calls it
 * wraps; the caller names the file in its error message. */
#ifndef GAR_H5UTIL_H
#define GAR_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "gar_atomic.h"

herr_t gar_h5_write_attr_u64(hid_t loc, const char *name, uint64_t v);
herr_t gar_h5_read_attr_u64(hid_t loc, const char *name, uint64_t *v);
herr_t gar_h5_write_attr_f64(hid_t loc, const char *name, double v);
herr_t gar_h5_read_attr_f64(hid_t loc, const char *name, double *v);
herr_t gar_h5_write_attr_string(hid_t loc, const char *name, const char *v);
/* 1 if the string attribute `name` equals v, 0 if it differs or is absent. */
int gar_h5_attr_string_is(hid_t loc, const char *name, const char *v);
/* A 1-D dataset of n elements: memory type mtype, file type ftype. */
herr_t gar_h5_write_column(hid_t loc, const char *name, hid_t mtype, hid_t ftype, const void *buf, size_t n);
/* Text of any length (a run's fingerprint) as a 1-D dataset of bytes,
 * its length in the attribute "<name>_bytes": an attribute would be
 * limited to 64 KiB. Empty or NULL text is an error. */
herr_t gar_h5_write_text(hid_t loc, const char *name, const char *text);
/* Such text into *out (malloc'd, NUL-terminated; the caller frees): 0,
 * 1 when loc holds none (*out NULL), -1 when it is damaged or memory ran out. */
int gar_h5_read_text(hid_t loc, const char *name, char **out);
/* Read a 1-D dataset that must hold exactly n elements. */
herr_t gar_h5_read_column(hid_t loc, const char *name, hid_t mtype, void *buf, size_t n);

/* Begin `a` for `path` (gar_atomic.h: the temporary is path.tmp-PID, named
 * by a->tmp) and create the temporary as an HDF5 file, for a file written
 * whole and then renamed; < 0 on failure, with nothing left behind. */
hid_t gar_h5_create_temp(gar_atomic *a, const char *path);
/* Close f (if >= 0); unless `failed`, commit a (rename the temporary to its
 * path). On any failure the temporary is removed. 0: done; -1: the close (a
 * write) failed; -2: the rename failed; -3: `failed` was set. */
int gar_h5_finish_temp(hid_t f, gar_atomic *a, int failed);

/* ---- the particle stack's helpers ---- */

/* Fixed-length string types longer than this are refused before anything is
 * allocated for them: no string garner reads (names, format) comes close. */
#define GAR_H5_MAX_STRING_TYPE 4096

/* Turn off HDF5's automatic error printing (every public entry point that
 * calls HDF5 does, so HDF5 never prints). */
void gar_h5_quiet(void);
/* Close any HDF5 id and set it to -1; a negative id is left alone. HDF5's
 * error stack is kept across the close, for gar_h5_reason. */
void gar_h5_close(hid_t *id);
/* H5Fclose, remembering a failure (a file whose buffered data could not be
 * written: disk full, ulimit -f): 0 or -1. */
int gar_h5_fclose(hid_t f);
/* 1 once a file could not be closed. HDF5 1.10 leaves such a file half
 * closed, and its exit handler then crashes on it: the process must end
 * with _exit (gar_run_exit), after its error has been reported. */
int gar_h5_unclosed_files(void);
/* The innermost message of HDF5's error stack into buf ("no detail" if
 * none), line breaks made spaces; returns buf. */
const char *gar_h5_reason(char *buf, size_t size);
/* A file access property list that takes no file locks; < 0 on failure. */
hid_t gar_h5_fapl_nolock(void);
/* "int32", "float64", "string", ... for messages; returns buf. */
const char *gar_h5_type_desc(hid_t t, char *buf, size_t size);
/* A fixed-length NUL-padded string type of len bytes (1 for 0). */
hid_t gar_h5_nullpad_type(size_t len);
/* A scalar string attribute of strlen(value) bytes, NUL-padded (numpy's "S"). */
herr_t gar_h5_write_attr_nullpad(hid_t loc, const char *name, const char *value);
/* A scalar int32 attribute. */
herr_t gar_h5_write_attr_i32(hid_t loc, const char *name, int32_t value);

typedef enum gar_h5_attr {
    GAR_H5_ATTR_OK,
    GAR_H5_ATTR_MISSING,
    GAR_H5_ATTR_BADTYPE,
    GAR_H5_ATTR_TOOLONG,
    GAR_H5_ATTR_UNREADABLE
} gar_h5_attr;

/* Free what a read of variable-length data allocated. */
void gar_h5_reclaim_vlen(hid_t memtype, hid_t space, void *buf);
/* A one-element string attribute, fixed or variable length, into buf. */
gar_h5_attr gar_h5_read_attr_text(hid_t loc, const char *name, char *buf, size_t size);
/* A one-element integer attribute of any integer type. */
gar_h5_attr gar_h5_read_attr_int(hid_t loc, const char *name, long long *value);

#endif
