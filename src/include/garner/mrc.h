/* garner public API: MRC2014 maps and image stacks.
 *
 * Reading validates the header against the file before allocating anything:
 * dimensions positive, nx and ny at most GAR_MRC_MAX_DIM (nz, the image count
 * of a stack, only has to fit the file), mode one of 0 (int8),
 * 1 (int16), 2 (float32), 6 (uint16), 12 (float16), the extended header and
 * the data block within the file size, the axis order (mapc/mapr/maps) a
 * permutation of 1,2,3 (all zero means 1,2,3), pixel size (cella / mx) not
 * negative and finite. Any failure is a GAR_ERR_DATA naming the file and the
 * field. A missing file is GAR_ERR_NOINPUT.
 *
 * A volume in another axis order (mapc, the axis of the file's columns, not
 * 1, and so on: older EMDB and CCP4 maps) is reordered on open, so what is
 * read is always x fastest, then y, then z, and nx, ny, nz are the sizes
 * along x, y, z. An image stack (ispg 0 with more than one section, or ispg
 * 401 and up) in another order is refused: its sections are images.
 *
 * gzip and bzip2 files (EMDB's .map.gz), told by their first bytes and not
 * their name, are decompressed into memory on open, up to half the memory
 * the process may use (beyond that the error says to decompress to a file);
 * a truncated or corrupt stream is an error naming the file. A file that is
 * not MRC is named for what it looks like: "x.tif: a TIFF image, not MRC"
 * (TIFF, HDF5, PNG, zstd, xz, zip, text, STAR, SPIDER), and a header that
 * fails without the MRC2014 "MAP" stamp is "not an MRC file (...)".
 *
 * Writing produces mode 2 with the MAP stamp, the machine stamp for
 * little-endian, origin 0, min/max/mean/rms filled in, and what the caller
 * says the file is (gar_mrc_kind), as MRC2014 tells the two apart: a volume
 * has ispg 1, mx/my/mz = nx/ny/nz and cella = n * pixel_size; a stack of
 * images has ispg 0, mz = 1 (each section is one image) and cella z = the
 * pixel size. The file is written under a temporary name in the same folder
 * and renamed only when complete. */
#ifndef GARNER_MRC_H
#define GARNER_MRC_H

#include <stddef.h>
#include <garner/map.h>
#include <garner/status.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GAR_MRC_MAX_DIM 65536   /* nx, ny; larger is refused as corrupt */

typedef struct gar_mrc gar_mrc;  /* an open MRC file, header validated */

/* What a written file holds. The caller says so: the shape cannot (a stack
 * of as many images as the box is a cube too). No zero value, so a kind left
 * unset is refused rather than taken for either. */
typedef enum gar_mrc_kind {
    GAR_MRC_STACK = 1,   /* nz images of nx x ny: ispg 0, mz 1 */
    GAR_MRC_VOLUME = 2   /* one nx x ny x nz map: ispg 1, mz nz */
} gar_mrc_kind;

/* Open and validate; keeps the file open for section reads. The caller owns
 * *out (gar_mrc_close). */
gar_status gar_mrc_open(const char *path, gar_mrc **out);
void gar_mrc_close(gar_mrc **mrc);  /* NULL-safe; sets *mrc to NULL */
size_t gar_mrc_nx(const gar_mrc *mrc);
size_t gar_mrc_ny(const gar_mrc *mrc);
size_t gar_mrc_nz(const gar_mrc *mrc);      /* sections: images in a stack */
int gar_mrc_mode(const gar_mrc *mrc);
double gar_mrc_pixel_size(const gar_mrc *mrc); /* Å; 0 if the header gives none */
const char *gar_mrc_path(const gar_mrc *mrc);
/* Read sections [first, first+count) as float32 into out (count*nx*ny floats),
 * converting from the file's mode and byte order. One read per call (a copy
 * from memory for a compressed or reordered file). */
gar_status gar_mrc_read_sections(gar_mrc *mrc, size_t first, size_t count, float *out);

/* Read a whole file into a new map (nz = sections); the caller owns *out
 * (gar_map_destroy). */
gar_status gar_mrc_read(const char *path, gar_map **out);
/* Write a map (kind GAR_MRC_VOLUME) or a stack of nz images (GAR_MRC_STACK)
 * as mode 2, atomically. Another kind is GAR_ERR_INTERNAL. */
gar_status gar_mrc_write(const char *path, const gar_map *map, gar_mrc_kind kind);
/* Same from a raw buffer. */
gar_status gar_mrc_write_data(const char *path, const float *data, size_t nx, size_t ny,
                              size_t nz, double pixel_size, gar_mrc_kind kind);

/* A stack written section by section (memory does not grow with it), mode 2,
 * under a temporary name renamed by commit; abort removes it. */
typedef struct gar_mrc_writer gar_mrc_writer;
gar_status gar_mrc_writer_create(const char *path, size_t nx, size_t ny, size_t nz, double pixel_size,
                                 gar_mrc_kind kind, gar_mrc_writer **out);
gar_status gar_mrc_writer_append(gar_mrc_writer *w, const float *data, size_t sections);
/* Fails (and removes the file) unless exactly nz sections were appended;
 * frees the writer (sets *w NULL) on all paths. */
gar_status gar_mrc_writer_commit(gar_mrc_writer **w);
void gar_mrc_writer_abort(gar_mrc_writer **w);   /* NULL-safe */

#ifdef __cplusplus
}
#endif
#endif
