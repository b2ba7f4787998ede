/* garner: MRC2014 reading and writing (see gar_mrc.h for the contract).
 *
 * Header words are numbered from 0 here (word k at byte 4*k); the MRC2014
 * document numbers them from 1. */
#include "gar_mrc.h"

#include "gar_atomic.h"
#include "gar_decompress.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MRC_HEADER_BYTES GAR_MRC_HEADER_BYTES
#define MRC_LABEL_BYTES 80

enum {
    W_NX = 0, W_NY = 1, W_NZ = 2, W_MODE = 3, W_NXSTART = 4,
    W_MX = 7, W_MY = 8, W_MZ = 9,
    W_CELLA = 10, W_CELLB = 13,
    W_MAPC = 16, W_MAPR = 17, W_MAPS = 18,
    W_DMIN = 19, W_DMAX = 20, W_DMEAN = 21,
    W_ISPG = 22, W_NSYMBT = 23, W_NVERSION = 27,
    W_MAP = 52, W_MACHST = 53, W_RMS = 54, W_NLABL = 55, W_LABELS = 56
};

/* Large reads are split because Linux returns at most ~2 GiB per pread. */
#define MRC_IO_CHUNK ((size_t)1 << 30)

struct gar_mrc {
    char *path;
    int fd;                  /* -1 when the data are in mem */
    unsigned char *mem;      /* a decompressed file, or the data block reordered
                              * to x fastest; NULL: read from fd */
    size_t mem_len;
    size_t nx, ny, nz;
    int mode;
    size_t bytes_per_voxel;
    int big_endian;          /* byte order of the file */
    double pixel_size;
    uint64_t data_offset;    /* 1024 + nsymbt */
};

/* ------------------------------------------------------------ byte order */

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static uint32_t load_u32(const unsigned char *p, int big)
{
    if (big)
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint16_t load_u16(const unsigned char *p, int big)
{
    return big ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static void store_u32_le(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)(v >> 8 & 0xff);
    p[2] = (unsigned char)(v >> 16 & 0xff);
    p[3] = (unsigned char)(v >> 24);
}

static float float_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t bits_from_float(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static int32_t hdr_i32(const unsigned char *hdr, int word, int big)
{
    return (int32_t)load_u32(hdr + 4 * word, big);
}

static float hdr_f32(const unsigned char *hdr, int word, int big)
{
    return float_from_bits(load_u32(hdr + 4 * word, big));
}

static void put_i32(unsigned char *hdr, int word, int32_t v)
{
    store_u32_le(hdr + 4 * word, (uint32_t)v);
}

static void put_f32(unsigned char *hdr, int word, float v)
{
    store_u32_le(hdr + 4 * word, bits_from_float(v));
}

/* IEEE binary16 to float, exactly: every half value is representable. */
static float half_to_float(uint16_t h)
{
    int sign = h >> 15;
    int exponent = (h >> 10) & 0x1f;
    int mantissa = h & 0x3ff;
    float v;
    if (exponent == 0)
        v = ldexpf((float)mantissa, -24);
    else if (exponent == 31)
        v = mantissa ? NAN : INFINITY;
    else
        v = ldexpf((float)(mantissa | 0x400), exponent - 25);
    return sign ? -v : v;
}

static size_t mode_bytes(int32_t mode)
{
    switch (mode) {
    case 0: return 1;
    case 1: return 2;
    case 2: return 4;
    case 6: return 2;
    case 12: return 2;
    default: return 0;
    }
}

/* A header whose stamp is missing is read in whichever byte order makes the
 * mode and nx plausible; little-endian wins ties because it is what nearly
 * every writer produces. */
static int header_is_big_endian(const unsigned char *hdr)
{
    const unsigned char *st = hdr + 4 * W_MACHST;
    int32_t mode, nx;
    if (st[0] == 0x44 && (st[1] == 0x44 || st[1] == 0x41))
        return 0;
    if (st[0] == 0x11 && st[1] == 0x11)
        return 1;
    mode = hdr_i32(hdr, W_MODE, 0);
    nx = hdr_i32(hdr, W_NX, 0);
    if (mode >= 0 && mode <= 16 && nx > 0 && nx <= GAR_MRC_MAX_DIM)
        return 0;
    mode = hdr_i32(hdr, W_MODE, 1);
    nx = hdr_i32(hdr, W_NX, 1);
    if (mode >= 0 && mode <= 16 && nx > 0 && nx <= GAR_MRC_MAX_DIM)
        return 1;
    return 0;
}

/* ------------------------------------------------------------ low-level I/O */

static gar_status read_at(int fd, void *buf, size_t n, uint64_t offset, const char *path)
{
    unsigned char *p = buf;
    size_t done = 0;
    while (done < n) {
        size_t want = n - done < MRC_IO_CHUNK ? n - done : MRC_IO_CHUNK;
        ssize_t r = pread(fd, p + done, want, (off_t)(offset + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return gar_error(GAR_ERR_IO, "%s: read of %zu bytes at offset %llu failed: %s", path, n,
                             (unsigned long long)offset, strerror(errno));
        if (r == 0)
            return gar_error(GAR_ERR_IO,
                             "%s: file ended after %zu of %zu bytes at offset %llu (truncated while reading?)",
                             path, done, n, (unsigned long long)offset);
        done += (size_t)r;
    }
    return GAR_OK;
}

static gar_status write_all(int fd, const void *buf, size_t n, const char *path)
{
    const unsigned char *p = buf;
    size_t done = 0;
    while (done < n) {
        size_t want = n - done < MRC_IO_CHUNK ? n - done : MRC_IO_CHUNK;
        ssize_t w = write(fd, p + done, want);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return gar_error(GAR_ERR_IO, "%s: write failed after %zu of %zu bytes: %s", path, done, n,
                             strerror(errno));
        done += (size_t)w;
    }
    return GAR_OK;
}

/* ------------------------------------------------------------ header checks */

static gar_status check_dim(const char *path, const char *name, int32_t v, int32_t max,
                            const char *what)
{
    if (v <= 0)
        return gar_error(GAR_ERR_DATA, "%s: header: %s = %ld: expected a positive %s", path, name,
                         (long)v, what);
    if (v > max)
        return gar_error(GAR_ERR_DATA, "%s: header: %s = %ld: more than the limit of %ld (corrupt header?)",
                         path, name, (long)v, (long)max);
    return GAR_OK;
}

/* The axis order (mapc, mapr, maps) into h->axis: which of x, y, z the
 * file's columns, rows and sections run along. Any permutation is read for a
 * volume (gar_mrc_open reorders it); a stack keeps its images in sections,
 * so only 1,2,3 makes sense there and others are refused. */
static gar_status check_axis_order(const char *path, const unsigned char *hdr, int big, gar_mrc_header *h)
{
    int32_t a[3];
    int seen[4] = {0, 0, 0, 0};
    int k;
    for (k = 0; k < 3; k++)
        a[k] = hdr_i32(hdr, W_MAPC + k, big);
    /* Some writers leave the axis words zero; they mean the default order. */
    if (a[0] == 0 && a[1] == 0 && a[2] == 0) {
        h->axis[0] = 1, h->axis[1] = 2, h->axis[2] = 3;
        return GAR_OK;
    }
    for (k = 0; k < 3; k++) {
        if (a[k] < 1 || a[k] > 3 || seen[a[k]])
            return gar_error(GAR_ERR_DATA,
                             "%s: header: axis order mapc,mapr,maps = %ld,%ld,%ld: expected a permutation of 1,2,3",
                             path, (long)a[0], (long)a[1], (long)a[2]);
        seen[a[k]] = 1;
        h->axis[k] = (int)a[k];
    }
    /* MRC2014: space group 0 is an image or a stack of images, 401 and up a
     * stack of volumes. Reordering a stack would mix its image index with an
     * image axis, and reordering a large one in memory is not worth it for
     * files no current program writes. */
    if ((a[0] != 1 || a[1] != 2 || a[2] != 3) && ((h->ispg == 0 && h->nsecs > 1) || h->ispg >= 401))
        return gar_error(GAR_ERR_DATA,
                         "%s: header: axis order %ld,%ld,%ld on an image stack (ispg %d, %zu sections): not "
                         "supported; only volumes are reordered (write the stack with axis order 1,2,3)",
                         path, (long)a[0], (long)a[1], (long)a[2], h->ispg, h->nsecs);
    return GAR_OK;
}

static gar_status header_pixel_size(const char *path, const unsigned char *hdr, int big, int32_t nx,
                                    double *out)
{
    double cella = hdr_f32(hdr, W_CELLA, big);
    int32_t mx = hdr_i32(hdr, W_MX, big);
    double px;
    if (mx < 0)
        return gar_error(GAR_ERR_DATA, "%s: header: mx = %ld: expected a sampling count >= 0", path,
                         (long)mx);
    px = cella / (mx > 0 ? mx : nx);
    if (!isfinite(px))
        return gar_error(GAR_ERR_DATA, "%s: header: cella x = %g: pixel size is not a finite number",
                         path, cella);
    if (px < 0)
        return gar_error(GAR_ERR_DATA, "%s: header: pixel size %g Å is negative (cella x = %g, mx = %ld)",
                         path, px, cella, (long)(mx > 0 ? mx : nx));
    *out = px;
    return GAR_OK;
}

/* Everything in the header that decides how much to read is checked here,
 * against the real file size, so nothing is allocated for a corrupt header. */
gar_status gar_mrc_validate_header(const unsigned char *hdr, size_t len, uint64_t file_size,
                                   const char *name, gar_mrc_header *out)
{
    const char *path = name != NULL ? name : "MRC";
    int big;
    int32_t nx, ny, nz, mode, nsymbt;
    size_t bpv, data_bytes;
    uint64_t need;
    gar_status st;

    if (out == NULL || (hdr == NULL && len > 0))
        return gar_error(GAR_ERR_INTERNAL, "%s: gar_mrc_validate_header: no header or result", path);
    memset(out, 0, sizeof *out);
    if (len < MRC_HEADER_BYTES || file_size < MRC_HEADER_BYTES)
        return gar_error(GAR_ERR_DATA, "%s: header: file has %llu bytes, shorter than the 1024-byte MRC header",
                         path, (unsigned long long)(len < file_size ? len : file_size));
    big = header_is_big_endian(hdr);
    nx = hdr_i32(hdr, W_NX, big);
    ny = hdr_i32(hdr, W_NY, big);
    nz = hdr_i32(hdr, W_NZ, big);
    mode = hdr_i32(hdr, W_MODE, big);
    nsymbt = hdr_i32(hdr, W_NSYMBT, big);
    if ((st = check_dim(path, "nx", nx, GAR_MRC_MAX_DIM, "column count")) != GAR_OK ||
        (st = check_dim(path, "ny", ny, GAR_MRC_MAX_DIM, "row count")) != GAR_OK)
        return st;
    /* nz counts images in a stack, which can exceed any per-axis box limit;
     * the file-size check below bounds it instead. */
    if ((st = check_dim(path, "nz", nz, INT32_MAX, "section count")) != GAR_OK)
        return st;
    bpv = mode_bytes(mode);
    if (bpv == 0)
        return gar_error(GAR_ERR_DATA,
                         "%s: header: mode = %ld: not supported (expected 0 int8, 1 int16, 2 float32, 6 uint16 or 12 float16)",
                         path, (long)mode);
    if (nsymbt < 0)
        return gar_error(GAR_ERR_DATA, "%s: header: nsymbt = %ld: expected an extended header size >= 0",
                         path, (long)nsymbt);
    if (!gar_size_mul3((size_t)nx, (size_t)ny, (size_t)nz, &data_bytes) ||
        !gar_size_mul(data_bytes, bpv, &data_bytes) ||
        (uint64_t)data_bytes > UINT64_MAX - MRC_HEADER_BYTES - (uint64_t)nsymbt)
        return gar_error(GAR_ERR_DATA,
                         "%s: data block shorter than the header says: %ld x %ld x %ld voxels of %zu bytes overflow, file has %llu bytes",
                         path, (long)nx, (long)ny, (long)nz, bpv, (unsigned long long)file_size);
    need = MRC_HEADER_BYTES + (uint64_t)nsymbt + (uint64_t)data_bytes;
    if (need > file_size)
        return gar_error(GAR_ERR_DATA,
                         "%s: data block shorter than the header says: %ld x %ld x %ld mode %ld needs %llu bytes (1024 + %ld extended + %zu data), file has %llu",
                         path, (long)nx, (long)ny, (long)nz, (long)mode, (unsigned long long)need,
                         (long)nsymbt, data_bytes, (unsigned long long)file_size);
    out->ncols = (size_t)nx;
    out->nrows = (size_t)ny;
    out->nsecs = (size_t)nz;
    out->ispg = hdr_i32(hdr, W_ISPG, big);
    if ((st = check_axis_order(path, hdr, big, out)) != GAR_OK)
        return st;
    {
        /* Columns, rows and sections onto x, y, z. */
        const size_t file_n[3] = {(size_t)nx, (size_t)ny, (size_t)nz};
        size_t n[3];
        long start[3];
        for (int k = 0; k < 3; k++) {
            n[out->axis[k] - 1] = file_n[k];
            start[out->axis[k] - 1] = hdr_i32(hdr, W_NXSTART + k, big);
        }
        out->nx = n[0];
        out->ny = n[1];
        out->nz = n[2];
        for (int k = 0; k < 3; k++)
            out->start[k] = start[k];
    }
    /* The pixel size is along x: cella and mx are x, y, z already. */
    if ((st = header_pixel_size(path, hdr, big, (int32_t)out->nx, &out->pixel_size)) != GAR_OK)
        return st;
    out->mode = mode;
    out->bytes_per_voxel = bpv;
    out->big_endian = big;
    out->data_offset = MRC_HEADER_BYTES + (uint64_t)nsymbt;
    out->data_bytes = (uint64_t)data_bytes;
    return GAR_OK;
}

/* ------------------------------------------------------------ not MRC */

/* SPIDER's header is floats in the machine's byte order (words from 0 here):
 * nslice 0, nrow 1, iform 4, nsam 11, labrec 12, labbyt 21, lenbyt 22. It is
 * named only when all of these agree, which an MRC header (integers there)
 * or random bytes never do: whole numbers in range, a known iform, a record
 * of 4 * nsam bytes, a label of whole records within the file. */
static int looks_like_spider(const unsigned char *hdr, size_t len, uint64_t file_size, long dims[3])
{
    int big;
    if (len < 23 * 4)
        return 0;
    for (big = 0; big <= 1; big++) {
        float f[23];
        int k, whole = 1;
        for (k = 0; k < 23; k++) {
            f[k] = hdr_f32(hdr, k, big);
            if (!isfinite(f[k]) || f[k] != floorf(f[k]) || fabsf(f[k]) > 1e8f)
                whole = 0;
        }
        if (!whole)
            continue;
        const float nz = f[0], ny = f[1], iform = f[4], nx = f[11], labrec = f[12], labbyt = f[21],
                    lenbyt = f[22];
        if (nz < 1 || ny < 1 || nx < 1 || labrec < 1)
            continue;
        if (iform != 1 && iform != 3 && iform != -11 && iform != -12 && iform != -21 && iform != -22)
            continue;
        if (lenbyt != 4 * nx || labbyt != labrec * lenbyt || (double)labbyt > (double)file_size)
            continue;
        dims[0] = (long)nx, dims[1] = (long)ny, dims[2] = (long)nz;
        return 1;
    }
    return 0;
}

/* The header was refused (the message is set). A file without the MAP
 * stamp (word 52) that fails the checks is most likely not MRC at all: say
 * so, and what it looks like where that can be told. Old MRC files lack the
 * stamp too, which is why the stamp alone never refuses a file. */
static gar_status explain_refusal(const char *path, const unsigned char *hdr, size_t len, uint64_t file_size,
                                  gar_status st)
{
    char inner[512];
    const char *msg = gar_errmsg();
    size_t plen = strlen(path);
    long dims[3];
    if (st != GAR_ERR_DATA || len < 4 * W_MAP + 4 || memcmp(hdr + 4 * W_MAP, "MAP", 3) == 0)
        return st;
    if (looks_like_spider(hdr, len, file_size, dims))
        return gar_error(GAR_ERR_DATA,
                         "%s: looks like a SPIDER file (%ld x %ld x %ld), not MRC: convert it to MRC first", path,
                         dims[0], dims[1], dims[2]);
    if (strncmp(msg, path, plen) == 0 && msg[plen] == ':' && msg[plen + 1] == ' ')
        msg += plen + 2;
    snprintf(inner, sizeof inner, "%s", msg);
    return gar_error(GAR_ERR_DATA, "%s: not an MRC file (no MAP stamp at byte 208, and %s)", path, inner);
}

/* ------------------------------------------------------------ reading */

/* n bytes at offset of the file's contents, from memory or the file. */
static gar_status mrc_read_at(const gar_mrc *mrc, void *buf, size_t n, uint64_t offset)
{
    if (mrc->mem == NULL)
        return read_at(mrc->fd, buf, n, offset, mrc->path);
    if (offset > mrc->mem_len || n > mrc->mem_len - offset)
        return gar_error(GAR_ERR_INTERNAL, "%s: %zu bytes at %llu requested, %zu in memory", mrc->path, n,
                         (unsigned long long)offset, mrc->mem_len);
    memcpy(buf, mrc->mem + offset, n);
    return GAR_OK;
}

/* Copies the file's data block, columns fastest, into dst x fastest: the
 * voxel at column c, row r, section s goes to the x, y, z the axis order
 * gives each. Raw bytes of the file's mode; conversion comes later. */
static void reorder_block(const unsigned char *src, unsigned char *dst, const gar_mrc_header *h)
{
    const size_t stride_xyz[3] = {1, h->nx, h->nx * h->ny};
    const size_t sc = stride_xyz[h->axis[0] - 1], sr = stride_xyz[h->axis[1] - 1],
                 ss = stride_xyz[h->axis[2] - 1];
    const size_t bpv = h->bytes_per_voxel;
    size_t s, r, c;
    for (s = 0; s < h->nsecs; s++)
        for (r = 0; r < h->nrows; r++) {
            const size_t base = s * ss + r * sr;
            switch (bpv) {
            case 4:
                for (c = 0; c < h->ncols; c++, src += 4)
                    memcpy(dst + 4 * (base + c * sc), src, 4);
                break;
            case 2:
                for (c = 0; c < h->ncols; c++, src += 2)
                    memcpy(dst + 2 * (base + c * sc), src, 2);
                break;
            default:
                for (c = 0; c < h->ncols; c++, src += bpv)
                    memcpy(dst + bpv * (base + c * sc), src, bpv);
                break;
            }
        }
}

/* A volume in another axis order than 1,2,3: its data block is read whole
 * and reordered into memory, so sections read later are x-y planes like any
 * other file's. Replaces m->mem (the file, when decompressed) and closes the
 * descriptor. */
static gar_status load_reordered(gar_mrc *m, const gar_mrc_header *h)
{
    unsigned char *raw = NULL, *out = NULL;
    gar_status st;
    if ((st = gar_alloc((void **)&out, (size_t)h->data_bytes, 1, "reordered MRC data")) != GAR_OK)
        goto done;
    if (m->mem == NULL) {
        if ((st = gar_alloc((void **)&raw, (size_t)h->data_bytes, 1, "MRC data")) != GAR_OK ||
            (st = read_at(m->fd, raw, (size_t)h->data_bytes, h->data_offset, m->path)) != GAR_OK)
            goto done;
        reorder_block(raw, out, h);
    } else {
        reorder_block(m->mem + h->data_offset, out, h);
    }
    free(m->mem);
    m->mem = out;
    m->mem_len = (size_t)h->data_bytes;
    m->data_offset = 0;
    out = NULL;
    if (m->fd >= 0)
        close(m->fd);
    m->fd = -1;
    st = GAR_OK;
done:
    free(raw);
    free(out);
    return st;
}

gar_status gar_mrc_open(const char *path, gar_mrc **out)
{
    gar_mrc tmp;
    gar_mrc_header h;
    gar_mrc *m = NULL;
    unsigned char hdr[MRC_HEADER_BYTES];
    struct stat sb;
    size_t len, head_len;
    uint64_t file_size;
    gar_file_kind kind;
    char *inner_name = NULL;
    gar_status st;

    *out = NULL;
    memset(&tmp, 0, sizeof tmp);
    /* O_NONBLOCK: a FIFO is refused below instead of waiting for a writer;
     * reads of a regular file ignore the flag. */
    tmp.fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (tmp.fd < 0) {
        st = gar_error(GAR_ERR_NOINPUT, "%s: cannot open MRC file: %s", path, strerror(errno));
        goto done;
    }
    if (fstat(tmp.fd, &sb) != 0) {
        st = gar_error(GAR_ERR_NOINPUT, "%s: cannot stat: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = gar_error(GAR_ERR_NOINPUT, "%s: not a regular file", path);
        goto done;
    }
    file_size = (uint64_t)sb.st_size;
    head_len = file_size < MRC_HEADER_BYTES ? (size_t)file_size : MRC_HEADER_BYTES;
    if ((st = read_at(tmp.fd, hdr, head_len, 0, path)) != GAR_OK)
        goto done;
    /* The first bytes tell compressed files and other formats from MRC,
     * which has no magic at byte 0 (and none of these magics can be a valid
     * MRC nx: each is more than GAR_MRC_MAX_DIM or negative). */
    kind = gar_file_sniff(hdr, head_len);
    if (gar_file_is_compressed(kind)) {
        /* read_at used pread: the descriptor is still at offset 0. */
        if ((st = gar_decompress_fd(tmp.fd, path, gar_decompress_limit(), &tmp.mem, &tmp.mem_len)) != GAR_OK)
            goto done;
        close(tmp.fd);
        tmp.fd = -1;
        file_size = tmp.mem_len;
        head_len = tmp.mem_len < MRC_HEADER_BYTES ? tmp.mem_len : MRC_HEADER_BYTES;
        memcpy(hdr, tmp.mem, head_len);
        kind = gar_file_sniff(hdr, head_len);
        if (kind != GAR_FILE_UNKNOWN && kind != GAR_FILE_MRC) {
            size_t n = strlen(path) + sizeof " (decompressed)";
            if ((st = gar_alloc((void **)&inner_name, n, 1, "file name")) != GAR_OK)
                goto done;
            snprintf(inner_name, n, "%s (decompressed)", path);
            st = gar_file_refuse(inner_name, kind, GAR_WANT_MAP);
            goto done;
        }
    } else if (kind != GAR_FILE_UNKNOWN && kind != GAR_FILE_MRC) {
        st = gar_file_refuse(path, kind, GAR_WANT_MAP);
        goto done;
    }
    if (file_size < MRC_HEADER_BYTES) {
        st = gar_error(GAR_ERR_DATA, "%s: header: file has %llu bytes, shorter than the 1024-byte MRC header",
                       path, (unsigned long long)file_size);
        goto done;
    }
    if ((st = gar_mrc_validate_header(hdr, sizeof hdr, file_size, path, &h)) != GAR_OK) {
        st = explain_refusal(path, hdr, sizeof hdr, file_size, st);
        goto done;
    }
    tmp.nx = h.nx;
    tmp.ny = h.ny;
    tmp.nz = h.nz;
    tmp.mode = h.mode;
    tmp.bytes_per_voxel = h.bytes_per_voxel;
    tmp.big_endian = h.big_endian;
    tmp.pixel_size = h.pixel_size;
    tmp.data_offset = h.data_offset;
    len = strlen(path) + 1;
    if ((st = gar_alloc((void **)&tmp.path, len, 1, "MRC path")) != GAR_OK)
        goto done;
    memcpy(tmp.path, path, len);
    if ((h.axis[0] != 1 || h.axis[1] != 2 || h.axis[2] != 3) && (st = load_reordered(&tmp, &h)) != GAR_OK)
        goto done;
    if ((st = gar_alloc((void **)&m, 1, sizeof *m, "MRC handle")) != GAR_OK)
        goto done;
    *m = tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.fd = -1;
    *out = m;
    m = NULL;
    st = GAR_OK;
done:
    free(inner_name);
    free(tmp.path);
    free(tmp.mem);
    free(m);
    if (tmp.fd >= 0)
        close(tmp.fd);
    return st;
}

void gar_mrc_close(gar_mrc **mrc)
{
    if (mrc == NULL || *mrc == NULL)
        return;
    if ((*mrc)->fd >= 0)
        close((*mrc)->fd);
    free((*mrc)->mem);
    free((*mrc)->path);
    free(*mrc);
    *mrc = NULL;
}

size_t gar_mrc_nx(const gar_mrc *mrc) { return mrc->nx; }
size_t gar_mrc_ny(const gar_mrc *mrc) { return mrc->ny; }
size_t gar_mrc_nz(const gar_mrc *mrc) { return mrc->nz; }
int gar_mrc_mode(const gar_mrc *mrc) { return mrc->mode; }
double gar_mrc_pixel_size(const gar_mrc *mrc) { return mrc->pixel_size; }
const char *gar_mrc_path(const gar_mrc *mrc) { return mrc->path; }

/* The raw bytes were read into the start of out; widening to float is done
 * from the last voxel backwards so no value is overwritten before it is read
 * (voxel i's raw bytes end at or before byte 4*i). */
static void convert_in_place(float *out, size_t n, int mode, int big)
{
    const unsigned char *raw = (const unsigned char *)out;
    size_t i = n;
    while (i-- > 0) {
        float v;
        switch (mode) {
        case 0: v = (float)(int8_t)raw[i]; break;
        case 1: v = (float)(int16_t)load_u16(raw + 2 * i, big); break;
        case 6: v = (float)load_u16(raw + 2 * i, big); break;
        case 12: v = half_to_float(load_u16(raw + 2 * i, big)); break;
        default: v = float_from_bits(load_u32(raw + 4 * i, big)); break;
        }
        out[i] = v;
    }
}

gar_status gar_mrc_read_sections(gar_mrc *mrc, size_t first, size_t count, float *out)
{
    size_t section = mrc->nx * mrc->ny;  /* cannot overflow: checked against the file size */
    size_t n, bytes;
    gar_status st;

    if (first > mrc->nz || count > mrc->nz - first)
        return gar_error(GAR_ERR_INTERNAL, "%s: sections %zu..%zu requested, file has %zu", mrc->path,
                         first, first + count, mrc->nz);
    if (count == 0)
        return GAR_OK;
    n = section * count;
    bytes = n * mrc->bytes_per_voxel;
    st = mrc_read_at(mrc, out, bytes, mrc->data_offset + (uint64_t)first * section * mrc->bytes_per_voxel);
    if (st != GAR_OK)
        return st;
    if (mrc->mode != 2 || mrc->big_endian == host_is_little_endian())
        convert_in_place(out, n, mrc->mode, mrc->big_endian);
    return GAR_OK;
}

gar_status gar_mrc_read(const char *path, gar_map **out)
{
    gar_mrc *mrc = NULL;
    gar_map *map = NULL;
    gar_status st;

    *out = NULL;
    if ((st = gar_mrc_open(path, &mrc)) != GAR_OK)
        goto done;
    if ((st = gar_map_create(mrc->nx, mrc->ny, mrc->nz, mrc->pixel_size, &map)) != GAR_OK)
        goto done;
    if ((st = gar_mrc_read_sections(mrc, 0, mrc->nz, map->data)) != GAR_OK)
        goto done;
    *out = map;
    map = NULL;
done:
    gar_map_destroy(&map);
    gar_mrc_close(&mrc);
    return st;
}

/* ------------------------------------------------------------ writing */

/* Statistics of a run of values: count, min, max, mean and the sum of
 * squared deviations (two passes per run; runs merge exactly, Chan et al.). */
typedef struct mrc_stats {
    double n, vmin, vmax, mean, m2;
} mrc_stats;

static void stats_add(mrc_stats *s, const float *data, size_t n)
{
    double sum = 0, ss = 0, mean, vmin = data[0], vmax = data[0];
    for (size_t i = 0; i < n; i++) {
        double v = data[i];
        sum += v;
        if (v < vmin)
            vmin = v;
        if (v > vmax)
            vmax = v;
    }
    mean = sum / (double)n;
    /* Second pass: a one-pass sum of squares loses the rms of maps with a large offset. */
    for (size_t i = 0; i < n; i++) {
        double d = data[i] - mean;
        ss += d * d;
    }
    if (s->n == 0) {
        s->n = (double)n;
        s->vmin = vmin;
        s->vmax = vmax;
        s->mean = mean;
        s->m2 = ss;
        return;
    }
    double tot = s->n + (double)n, delta = mean - s->mean;
    s->m2 += ss + delta * delta * s->n * (double)n / tot;
    s->mean += delta * (double)n / tot;
    s->n = tot;
    if (vmin < s->vmin)
        s->vmin = vmin;
    if (vmax > s->vmax)
        s->vmax = vmax;
}

/* MRC2014 tells an image stack from a volume by ispg (0 or 1) and mz (1, or
 * the sections of one volume); RELION, IMOD and mrcfile read them so. The
 * cell's z edge is mz pixels, so cella z / mz is the pixel size for both. */
static void header_from_stats(unsigned char *hdr, const mrc_stats *st, size_t nx, size_t ny, size_t nz,
                              double pixel_size, gar_mrc_kind kind)
{
    const size_t mz = kind == GAR_MRC_STACK ? 1 : nz;
    static const char label[] = "garner";
    int k;
    const double vmin = st->vmin, vmax = st->vmax, mean = st->mean, ss = st->m2, n = st->n > 0 ? st->n : 1;

    memset(hdr, 0, MRC_HEADER_BYTES);
    put_i32(hdr, W_NX, (int32_t)nx);
    put_i32(hdr, W_NY, (int32_t)ny);
    put_i32(hdr, W_NZ, (int32_t)nz);
    put_i32(hdr, W_MODE, 2);
    put_i32(hdr, W_MX, (int32_t)nx);
    put_i32(hdr, W_MY, (int32_t)ny);
    put_i32(hdr, W_MZ, (int32_t)mz);
    put_f32(hdr, W_CELLA + 0, (float)(nx * pixel_size));
    put_f32(hdr, W_CELLA + 1, (float)(ny * pixel_size));
    put_f32(hdr, W_CELLA + 2, (float)(mz * pixel_size));
    for (k = 0; k < 3; k++) {
        put_f32(hdr, W_CELLB + k, 90.0f);
        put_i32(hdr, W_MAPC + k, k + 1);
    }
    put_f32(hdr, W_DMIN, (float)vmin);
    put_f32(hdr, W_DMAX, (float)vmax);
    put_f32(hdr, W_DMEAN, (float)mean);
    put_i32(hdr, W_ISPG, kind == GAR_MRC_STACK ? 0 : 1);
    put_i32(hdr, W_NSYMBT, 0);
    put_i32(hdr, W_NVERSION, 20140);
    memcpy(hdr + 4 * W_MAP, "MAP ", 4);
    hdr[4 * W_MACHST + 0] = 0x44;
    hdr[4 * W_MACHST + 1] = 0x44;
    put_f32(hdr, W_RMS, (float)sqrt(ss / n));
    put_i32(hdr, W_NLABL, 1);
    memset(hdr + 4 * W_LABELS, ' ', MRC_LABEL_BYTES);
    memcpy(hdr + 4 * W_LABELS, label, sizeof label - 1);
}

static void fill_header(unsigned char *hdr, const float *data, size_t nx, size_t ny, size_t nz,
                        double pixel_size, gar_mrc_kind kind)
{
    mrc_stats st = {0, 0, 0, 0, 0};
    stats_add(&st, data, nx * ny * nz);
    header_from_stats(hdr, &st, nx, ny, nz, pixel_size, kind);
}

static gar_status check_kind(const char *path, gar_mrc_kind kind)
{
    if (kind != GAR_MRC_STACK && kind != GAR_MRC_VOLUME)
        return gar_error(GAR_ERR_INTERNAL, "%s: MRC kind %d: expected GAR_MRC_STACK or GAR_MRC_VOLUME", path,
                         (int)kind);
    return GAR_OK;
}

/* Data goes out little-endian; on a big-endian host it is swapped through a
 * small buffer so the caller's array is never modified. */
static gar_status write_floats(int fd, const float *data, size_t n, const char *path)
{
    unsigned char buf[65536];
    size_t per = sizeof buf / 4, i = 0, k;
    gar_status st;
    if (host_is_little_endian())
        return write_all(fd, data, n * sizeof(float), path);
    while (i < n) {
        size_t m = n - i < per ? n - i : per;
        for (k = 0; k < m; k++)
            store_u32_le(buf + 4 * k, bits_from_float(data[i + k]));
        if ((st = write_all(fd, buf, 4 * m, path)) != GAR_OK)
            return st;
        i += m;
    }
    return GAR_OK;
}

/* Begin `a` for path and create its temporary for writing into *fd. */
static gar_status create_temp(gar_atomic *a, const char *path, int *fd)
{
    gar_status st = gar_atomic_begin(a, path, 0);
    if (st != GAR_OK)
        return st;
    *fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (*fd < 0)
        return gar_error(GAR_ERR_OUTPUT, "%s: cannot create temporary file %s: %s", path, a->tmp,
                         strerror(errno));
    return GAR_OK;
}

/* Flush the written temporary, close it (*fd becomes -1) and rename it into
 * place: flushed first, so a crash cannot leave a complete-looking name
 * pointing at a partial file. */
static gar_status publish(gar_atomic *a, int *fd)
{
    if (fsync(*fd) != 0)
        return gar_error(GAR_ERR_IO, "%s: fsync failed: %s", a->tmp, strerror(errno));
    if (close(*fd) != 0) {
        *fd = -1;
        return gar_error(GAR_ERR_IO, "%s: close failed: %s", a->tmp, strerror(errno));
    }
    *fd = -1;
    return gar_atomic_commit(a);
}

gar_status gar_mrc_write_data(const char *path, const float *data, size_t nx, size_t ny, size_t nz,
                              double pixel_size, gar_mrc_kind kind)
{
    unsigned char hdr[MRC_HEADER_BYTES];
    gar_atomic a = {0};
    size_t n, bytes;
    int fd = -1;
    gar_status st;

    if (nx == 0 || ny == 0 || nz == 0 || nx > GAR_MRC_MAX_DIM || ny > GAR_MRC_MAX_DIM ||
        nz > INT32_MAX || !gar_size_mul3(nx, ny, nz, &n) || !gar_size_mul(n, sizeof(float), &bytes)) {
        st = gar_error(GAR_ERR_USAGE, "%s: cannot write a %zu x %zu x %zu map: nx, ny must be 1..%d and nz 1..%ld",
                       path, nx, ny, nz, GAR_MRC_MAX_DIM, (long)INT32_MAX);
        goto done;
    }
    if (!isfinite(pixel_size) || pixel_size < 0) {
        st = gar_error(GAR_ERR_USAGE, "%s: cannot write pixel size %g Å: expected a finite value >= 0",
                       path, pixel_size);
        goto done;
    }
    if ((st = check_kind(path, kind)) != GAR_OK)
        goto done;
    fill_header(hdr, data, nx, ny, nz, pixel_size, kind);

    if ((st = create_temp(&a, path, &fd)) != GAR_OK)
        goto done;
    if ((st = write_all(fd, hdr, sizeof hdr, a.tmp)) != GAR_OK)
        goto done;
    if ((st = write_floats(fd, data, n, a.tmp)) != GAR_OK)
        goto done;
    st = publish(&a, &fd);
done:
    if (fd >= 0)
        close(fd);
    if (st != GAR_OK)
        gar_atomic_abort(&a);
    return st;
}

gar_status gar_mrc_write(const char *path, const gar_map *map, gar_mrc_kind kind)
{
    return gar_mrc_write_data(path, map->data, map->nx, map->ny, map->nz, map->pixel_size, kind);
}

struct gar_mrc_writer {
    gar_atomic a; /* a.path: the map's name; a.tmp: where it is written */
    int fd;
    size_t nx, ny, nz, written;
    double pixel_size;
    gar_mrc_kind kind;
    mrc_stats stats;
};

gar_status gar_mrc_writer_create(const char *path, size_t nx, size_t ny, size_t nz, double pixel_size,
                                 gar_mrc_kind kind, gar_mrc_writer **out)
{
    gar_status st;
    gar_mrc_writer *w = NULL;
    unsigned char hdr[MRC_HEADER_BYTES];
    size_t n;
    *out = NULL;
    if (nx == 0 || ny == 0 || nz == 0 || nx > GAR_MRC_MAX_DIM || ny > GAR_MRC_MAX_DIM || nz > INT32_MAX ||
        !gar_size_mul3(nx, ny, nz, &n) || !gar_size_mul(n, sizeof(float), &n))
        return gar_error(GAR_ERR_USAGE, "%s: cannot write a %zu x %zu x %zu stack: nx, ny must be 1..%d and nz "
                         "1..%ld", path, nx, ny, nz, GAR_MRC_MAX_DIM, (long)INT32_MAX);
    if ((st = check_kind(path, kind)) != GAR_OK)
        return st;
    if ((st = gar_calloc((void **)&w, 1, sizeof *w, "MRC writer")) != GAR_OK)
        return st;
    w->fd = -1;
    w->nx = nx;
    w->ny = ny;
    w->nz = nz;
    w->pixel_size = pixel_size;
    w->kind = kind;
    if ((st = create_temp(&w->a, path, &w->fd)) != GAR_OK)
        goto fail;
    /* A placeholder header; commit writes the real one with the statistics. */
    memset(hdr, 0, sizeof hdr);
    if ((st = write_all(w->fd, hdr, sizeof hdr, w->a.tmp)) != GAR_OK)
        goto fail;
    *out = w;
    return GAR_OK;
fail:
    gar_mrc_writer_abort(&w);
    return st;
}

gar_status gar_mrc_writer_append(gar_mrc_writer *w, const float *data, size_t sections)
{
    gar_status st;
    const size_t n = sections * w->nx * w->ny;
    if (sections == 0)
        return GAR_OK;
    if (w->written + sections > w->nz)
        return gar_error(GAR_ERR_INTERNAL, "%s: more than the %zu sections announced", w->a.path, w->nz);
    if ((st = write_floats(w->fd, data, n, w->a.tmp)) != GAR_OK)
        return st;
    stats_add(&w->stats, data, n);
    w->written += sections;
    return GAR_OK;
}

gar_status gar_mrc_writer_commit(gar_mrc_writer **pw)
{
    gar_status st = GAR_OK;
    gar_mrc_writer *w = *pw;
    unsigned char hdr[MRC_HEADER_BYTES];
    if (w->written != w->nz) {
        st = gar_error(GAR_ERR_INTERNAL, "%s: %zu of %zu sections written", w->a.path, w->written, w->nz);
        goto done;
    }
    header_from_stats(hdr, &w->stats, w->nx, w->ny, w->nz, w->pixel_size, w->kind);
    if (lseek(w->fd, 0, SEEK_SET) != 0 || (st = write_all(w->fd, hdr, sizeof hdr, w->a.tmp)) != GAR_OK) {
        if (st == GAR_OK)
            st = gar_error(GAR_ERR_IO, "%s: seek failed: %s", w->a.tmp, strerror(errno));
        goto done;
    }
    st = publish(&w->a, &w->fd);
done:
    if (st != GAR_OK) {
        gar_mrc_writer_abort(pw);
        return st;
    }
    free(w);
    *pw = NULL;
    return GAR_OK;
}

void gar_mrc_writer_abort(gar_mrc_writer **pw)
{
    gar_mrc_writer *w;
    if (pw == NULL || (w = *pw) == NULL)
        return;
    if (w->fd >= 0)
        close(w->fd);
    gar_atomic_abort(&w->a);
    free(w);
    *pw = NULL;
}
