/* garner: MRC2014 maps and image stacks.
 *
 * Reading, writing and the section-by-section writer are public:
 * <garner/mrc.h> (src/include/garner/mrc.h), where the rules a header must
 * meet are listed. This header adds the header check on bytes in memory, so
 * the rules can be tested and fuzzed without a file. */
#ifndef GAR_MRC_H
#define GAR_MRC_H

#include <stddef.h>
#include <stdint.h>
#include <garner/mrc.h>
#include "gar_status.h"
#include "gar_map.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GAR_MRC_HEADER_BYTES 1024

/* What a validated header says (see gar_mrc_validate_header). nx, ny, nz are
 * the map's sizes along x, y, z, which the reader returns x fastest: the
 * file's columns, rows and sections (ncols, nrows, nsecs) permuted by the
 * axis order. For the usual order 1,2,3 they are the same. */
typedef struct gar_mrc_header {
    size_t nx, ny, nz;
    size_t ncols, nrows, nsecs;  /* words 1-3 as stored */
    int axis[3];             /* mapc, mapr, maps: the axis (1 x, 2 y, 3 z) of the
                              * columns, rows and sections; 1,2,3 when all zero */
    long start[3];           /* nxstart, nystart, nzstart (first column, row and
                              * section), permuted to x, y, z like nx, ny, nz */
    int ispg;                /* space group: 0 image or stack, 1 volume, >= 401 volume stack */
    int mode;                /* 0, 1, 2, 6 or 12 */
    size_t bytes_per_voxel;
    int big_endian;          /* byte order of the file */
    double pixel_size;       /* Å; 0 if the header gives none */
    uint64_t data_offset;    /* 1024 + nsymbt */
    uint64_t data_bytes;     /* nx * ny * nz * bytes_per_voxel, within the file */
} gar_mrc_header;

/* Validate the first `len` bytes of an MRC file of `file_size` bytes (`name`
 * is for messages): every rule of the contract in <garner/mrc.h>, with all
 * size arithmetic overflow-checked, and nothing allocated. gar_mrc_open reads
 * the header (decompressed, for a gzip or bzip2 file) and calls this.
 * len < 1024 is GAR_ERR_DATA ("shorter than the 1024-byte MRC header"). */
gar_status gar_mrc_validate_header(const unsigned char *hdr, size_t len, uint64_t file_size,
                                   const char *name, gar_mrc_header *out);

#ifdef __cplusplus
}
#endif
#endif
