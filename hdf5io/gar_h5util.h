/* garner: the few HDF5 calls garner's small files (checkpoints, poses) are
 * made of: scalar attributes and whole 1-D datasets. Each returns < 0 on
 * failure, like the HDF5 calls it wraps; the caller names the file in its
 * error message. */
#ifndef GAR_H5UTIL_H
#define GAR_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

herr_t gar_h5_write_attr_u64(hid_t loc, const char *name, uint64_t v);
herr_t gar_h5_read_attr_u64(hid_t loc, const char *name, uint64_t *v);
herr_t gar_h5_write_attr_f64(hid_t loc, const char *name, double v);
herr_t gar_h5_read_attr_f64(hid_t loc, const char *name, double *v);
herr_t gar_h5_write_attr_string(hid_t loc, const char *name, const char *v);
/* 1 if the string attribute `name` equals v, 0 if it differs or is absent. */
int gar_h5_attr_string_is(hid_t loc, const char *name, const char *v);
/* A 1-D dataset of n elements: memory type mtype, file type ftype. */
herr_t gar_h5_write_column(hid_t loc, const char *name, hid_t mtype, hid_t ftype, const void *buf, size_t n);
/* Read a 1-D dataset that must hold exactly n elements. */
herr_t gar_h5_read_column(hid_t loc, const char *name, hid_t mtype, void *buf, size_t n);

/* Create the temporary sibling of `path` (path.tmp-PID, its name into tmp)
 * for a file written whole and then renamed; < 0 on failure. */
hid_t gar_h5_create_temp(const char *path, char *tmp, size_t len);
/* Close f (if >= 0); unless `failed`, rename tmp to path. On any failure tmp
 * is removed. 0: done; -1: the close (a write) failed; -2: the rename failed;
 * -3: `failed` was set. */
int gar_h5_finish_temp(hid_t f, const char *tmp, const char *path, int failed);

#endif
