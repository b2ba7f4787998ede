/* garner: HDF5 data stored outside the file that names it, checked before it
 * is read. HDF5 lets a dataset's bytes live elsewhere:
 *
 *   external links     /particles/images is a link to a dataset of another
 *                      file (H5Lcreate_external); HDF5 follows it on open
 *                      and fails loudly when the target is missing.
 *   virtual datasets   (VDS, H5Pset_virtual; h5py's VirtualLayout) map parts
 *                      of other datasets, in this or other files, into one.
 *                      A source HDF5 cannot find reads as the fill value
 *                      (zeros) without any error, and an unlimited mapping
 *                      silently shrinks: the checks here make that an error
 *                      at open (issue 18, case 7).
 *
 * docs/FORMAT.md ("Data in other files") states the rules. Every function
 * returns a gar_status with one gar_error line naming the stack, the dataset
 * and the file or link at fault; HDF5's automatic printing must be off
 * (gar_h5_quiet). */
#ifndef GAR_H5STORAGE_H
#define GAR_H5STORAGE_H

#include <hdf5.h>
#include <stddef.h>

#include "gar_status.h"

/* The largest ratio of raw bytes to file size a compressed dataset may claim
 * (deflate cannot exceed about 1032:1; particle images, mostly noise,
 * compress by about 1.15:1). */
#define GAR_H5_MAX_COMPRESSION 2048

/* Open dataset `name` of group `grp` with access list `dapl` into *out.
 * `stack` and `where` ("/particles/images") name it in messages. An external
 * link is followed as HDF5 follows it (the target file relative to the
 * linking file's folder, or HDF5_EXT_PREFIX); one that cannot be followed is
 * GAR_ERR_DATA naming the link's target file and object. The dataset's
 * storage is then checked with gar_h5_check_storage (`fit`, `files` as
 * there). On failure *out is -1 and nothing is left open. */
gar_status gar_h5_open_dataset(hid_t grp, const char *name, hid_t dapl, const char *stack,
                               const char *where, int fit, size_t *files, hid_t *out);

/* For a virtual dataset: every source file is found where HDF5 will look
 * for it (below), holds the source dataset, and that dataset covers the
 * part the mapping reads; nested virtual datasets are checked the same way
 * (up to GAR_H5_MAX_VDS_DEPTH levels). With `fit`, a source stored in its
 * own file (contiguous or chunked) must also fit that file, as
 * gar_h5_data_fits says. Source names that are printf-style patterns (%b)
 * are refused: what they map depends on which files happen to exist.
 * Other layouts pass. *files (may be NULL) is increased by the number of
 * other files the dataset reads (each holds a file descriptor while it is
 * open).
 *
 * Where a source is looked for, as HDF5 1.10 to 1.14 do
 * (H5F_prefix_open_file): an absolute name as it is, else by its last
 * component; then in each folder of HDF5_VDS_PREFIX (":"-separated, a
 * leading ${ORIGIN} standing for the virtual dataset's folder); then in the
 * folder of the file holding the virtual dataset; then as given, relative
 * to the working folder. The first HDF5 file found is the one read. */
#define GAR_H5_MAX_VDS_DEPTH 4
gar_status gar_h5_check_storage(hid_t dset, const char *stack, const char *where, int fit,
                                size_t *files);

/* Whether dataset's raw bytes (every element of its extent) fit the file
 * that stores it (H5Iget_file_id: for a dataset reached through an external
 * link, the target file): 1 yes, 0 no, -1 if HDF5 cannot say. A
 * compressing filter allows GAR_H5_MAX_COMPRESSION times the file size
 * (*compressed set to 1). Meaningful only for contiguous or chunked data
 * stored in that file: gar_h5_stored_here. */
int gar_h5_data_fits(hid_t dset, unsigned long long *need, unsigned long long *have,
                     int *compressed);
/* 1 when the dataset's bytes are in the file that holds it (contiguous,
 * chunked or compact layout, no external raw files), 0 when elsewhere
 * (virtual, or H5Pset_external), -1 if HDF5 cannot say. */
int gar_h5_stored_here(hid_t dset);

#endif
