/* garner: what a file is, from its first bytes, and whole-file decompression
 * of gzip and bzip2 (the two compressions EMDB, RELION users and mrcfile
 * produce), so the MRC and STAR readers take `map.mrc.gz` or
 * `particles.star.bz2` as they are.
 *
 * Here, in hdf5io/ and not in the core (src/), because it is file I/O used
 * only by the format readers beside it, and it links zlib and libbz2, which
 * the maths has no business depending on. It includes no HDF5 header.
 *
 * Files are recognised by their magic bytes, never by their name: a `.gz`
 * that is not gzip is read as what it is, and a gzip file named `.mrc` is
 * decompressed. The whole file is decompressed into memory, since the readers
 * need random access (MRC sections) or a buffer (STAR) anyway; a ceiling
 * keeps a large stack from exhausting memory, with a message that says to
 * decompress it to a file instead. */
#ifndef GAR_DECOMPRESS_H
#define GAR_DECOMPRESS_H

#include <stddef.h>
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the first bytes say a file is. UNKNOWN covers MRC (which has no magic
 * at byte 0) and anything else not listed. */
typedef enum gar_file_kind {
    GAR_FILE_UNKNOWN = 0,
    GAR_FILE_GZIP,      /* 1f 8b */
    GAR_FILE_BZIP2,     /* "BZh" and a block size digit 1-9 */
    GAR_FILE_ZSTD,      /* 28 b5 2f fd */
    GAR_FILE_XZ,        /* fd "7zXZ" 00 */
    GAR_FILE_ZIP,       /* "PK" 03 04 */
    GAR_FILE_TIFF,      /* "II*\0", "MM\0*" (and BigTIFF's + for *) */
    GAR_FILE_HDF5,      /* 89 "HDF" \r \n 1a \n */
    GAR_FILE_PNG,       /* 89 "PNG" \r \n 1a \n */
    GAR_FILE_TEXT,      /* no NUL and (nearly) all printable: STAR, PDB, INI... */
    GAR_FILE_STAR,      /* text with a data_ or loop_ line */
    GAR_FILE_NUMPY,     /* 93 "NUMPY": a NumPy array, as cryoSPARC's .cs files are */
    GAR_FILE_MRC        /* "MAP" at byte 208, or a plausible MRC header without it
                         * (mode, sizes and axis order); never returned for
                         * fewer than 1024 bytes */
} gar_file_kind;

/* What a file was given as, for the advice gar_file_refuse adds. */
typedef enum gar_file_want {
    GAR_WANT_MAP = 0,   /* an MRC map or image stack */
    GAR_WANT_STAR,      /* a STAR file */
    GAR_WANT_STACK,     /* a garner HDF5 particle stack */
    GAR_WANT_DESCRIBE   /* garner info: a stack, a poses file or an MRC file */
} gar_file_want;

/* The kind of a file whose first `len` bytes are `head` (len may be short:
 * a file of 3 bytes is at most TEXT). Text is judged on these bytes only.
 * HDF5 is found at offset 0 and after a user block (512, 1024, 2048, ...)
 * within the bytes given. */
gar_file_kind gar_file_sniff(const unsigned char *head, size_t len);

/* The kind of the file at path from its first GAR_FILE_SNIFF_BYTES bytes;
 * UNKNOWN for what cannot be opened or is not a regular file (the open does
 * not wait on a FIFO), so the reader that follows reports those. */
#define GAR_FILE_SNIFF_BYTES 4096
gar_file_kind gar_file_sniff_path(const char *path);

/* "a gzip-compressed file", "a TIFF image", "a STAR file (text)", ... ;
 * NULL for UNKNOWN. */
const char *gar_file_kind_name(gar_file_kind kind);

/* 1 for the kinds gar_decompress_* read (gzip, bzip2). */
int gar_file_is_compressed(gar_file_kind kind);

/* A message for a file of a kind the reader cannot take, into the thread's
 * error (GAR_ERR_DATA): "x.tif: a TIFF image, not MRC", then what to do
 * where garner knows: how to decompress for the compressions garner does
 * not read (zstd, xz, zip), `garner import` for a STAR or .cs file given as
 * a stack ("x.star: a STAR file (text), not a garner HDF5 stack: run
 * `garner import --star x.star --out x.h5` first"), and so on. */
gar_status gar_file_refuse(const char *path, gar_file_kind kind, gar_file_want want);

/* The default ceiling on a decompressed size: half the memory this process
 * may use (gar_available_memory), since what is decompressed is then usually
 * copied once (into a map); 16 GiB when that cannot be read. */
size_t gar_decompress_limit(void);

/* Decompress `len` bytes of gzip or bzip2 (told by the magic bytes) into a new
 * buffer. Concatenated members/streams (pigz, pbzip2, `cat a.gz b.gz`) are
 * read as their concatenation, as gzip -d does. The caller owns *out
 * (free()); it holds *out_len bytes followed by one NUL not counted, so text
 * can be parsed in place. Errors, all naming `name`: GAR_ERR_DATA for data
 * that end early (truncated), are corrupt, or have bytes after the end that
 * are not another member; GAR_ERR_NOMEM for more than `max_out` bytes (the
 * message gives the ceiling and says to decompress to a file first) or a
 * failed allocation. On failure *out is NULL. */
gar_status gar_decompress_buffer(const void *in, size_t len, const char *name, size_t max_out,
                                 unsigned char **out, size_t *out_len);

/* The same from an open file descriptor, read from its current position to
 * end of file in chunks (the compressed bytes are never all in memory).
 * Works on pipes. Does not close fd. */
gar_status gar_decompress_fd(int fd, const char *name, size_t max_out, unsigned char **out,
                             size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
