/* garner: file kinds by magic bytes, and gzip/bzip2 decompression into
 * memory (see gar_decompress.h for the contract).
 *
 * One loop drives both codecs through codec_step, which hides the two
 * libraries' stream structs and return codes behind four outcomes. Input
 * comes from a memory buffer or a file descriptor in chunks; output grows
 * by doubling up to the ceiling, so a 4 GiB map is copied a few times at
 * most (realloc of large blocks is a remap on glibc, not a copy). */
#include "gar_decompress.h"

#include "gar_sysinfo.h"

#include <bzlib.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* zlib and libbz2 count in unsigned int: feed and drain at most this much
 * per call. */
#define STEP_MAX ((size_t)1 << 30)
/* Compressed bytes read from a file descriptor per read(). */
#define FD_CHUNK ((size_t)1 << 20)

/* ------------------------------------------------------------ kinds */

static int starts_with(const unsigned char *p, size_t len, const char *magic, size_t n)
{
    return len >= n && memcmp(p, magic, n) == 0;
}

/* A line of the text starting with word ("data_", "loop_"). */
static int has_line_starting(const char *text, const char *word)
{
    const char *p = text;
    size_t n = strlen(word);
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, word, n) == 0)
            return 1;
        p = strchr(p, '\n');
        if (p == NULL)
            return 0;
        p++;
    }
}

static uint32_t word_at(const unsigned char *p, size_t word, int big)
{
    const unsigned char *b = p + 4 * word;
    if (big)
        return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

/* An MRC header: the MAP stamp (MRC2000 and later), or, for older files,
 * a known mode, sizes of 1 to 65536 and an axis order that is a permutation
 * of 1, 2, 3, in either byte order. Only advice depends on this (which
 * reader to point to); the MRC reader validates the header itself. */
static int looks_like_mrc(const unsigned char *h, size_t len)
{
    if (len < 1024)
        return 0;
    if (memcmp(h + 208, "MAP", 3) == 0)
        return 1;
    for (int big = 0; big <= 1; big++) {
        uint32_t mode = word_at(h, 3, big), axes = 0;
        int ok = mode <= 4 || mode == 6 || mode == 12 || mode == 101;
        for (size_t w = 0; w < 3 && ok; w++) {
            uint32_t d = word_at(h, w, big), a = word_at(h, 16 + w, big);
            ok = d >= 1 && d <= 65536 && a >= 1 && a <= 3;
            if (ok) /* a is checked first: shifting by a wild word is undefined */
                axes |= 1u << a;
        }
        if (ok && axes == 0xe)
            return 1;
    }
    return 0;
}

gar_file_kind gar_file_sniff(const unsigned char *head, size_t len)
{
    char text[1025];
    size_t i, odd = 0, n;

    if (head == NULL || len == 0)
        return GAR_FILE_UNKNOWN;
    if (len >= 2 && head[0] == 0x1f && head[1] == 0x8b)
        return GAR_FILE_GZIP;
    if (len >= 4 && starts_with(head, len, "BZh", 3) && head[3] >= '1' && head[3] <= '9')
        return GAR_FILE_BZIP2;
    if (starts_with(head, len, "\x28\xb5\x2f\xfd", 4))
        return GAR_FILE_ZSTD;
    if (starts_with(head, len, "\xfd" "7zXZ\0", 6))
        return GAR_FILE_XZ;
    if (starts_with(head, len, "PK\3\4", 4))
        return GAR_FILE_ZIP;
    if (starts_with(head, len, "II*\0", 4) || starts_with(head, len, "MM\0*", 4) ||
        starts_with(head, len, "II+\0", 4) || starts_with(head, len, "MM\0+", 4))
        return GAR_FILE_TIFF;
    /* HDF5's superblock is at 0 or after a user block of 512 bytes times a
     * power of two. */
    for (size_t at = 0; at + 8 <= len; at = at ? 2 * at : 512)
        if (memcmp(head + at, "\x89HDF\r\n\x1a\n", 8) == 0)
            return GAR_FILE_HDF5;
    if (starts_with(head, len, "\x89PNG\r\n\x1a\n", 8))
        return GAR_FILE_PNG;
    if (starts_with(head, len, "\x93NUMPY", 6))
        return GAR_FILE_NUMPY;
    if (looks_like_mrc(head, len))
        return GAR_FILE_MRC;
    /* Text: no NUL, and at most 1 in 100 control bytes other than white
     * space (bytes >= 0x80 pass: UTF-8). Every MRC header has NULs (its
     * dimensions are small integers), so an MRC file is never text. */
    n = len < sizeof text - 1 ? len : sizeof text - 1;
    for (i = 0; i < n; i++) {
        unsigned char c = head[i];
        if (c == 0)
            return GAR_FILE_UNKNOWN;
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v')
            odd++;
        if (c == 0x7f)
            odd++;
    }
    if (odd * 100 > n)
        return GAR_FILE_UNKNOWN;
    memcpy(text, head, n);
    text[n] = '\0';
    if (has_line_starting(text, "data_") || has_line_starting(text, "loop_"))
        return GAR_FILE_STAR;
    return GAR_FILE_TEXT;
}

const char *gar_file_kind_name(gar_file_kind kind)
{
    switch (kind) {
    case GAR_FILE_GZIP: return "a gzip-compressed file";
    case GAR_FILE_BZIP2: return "a bzip2-compressed file";
    case GAR_FILE_ZSTD: return "a zstd-compressed file";
    case GAR_FILE_XZ: return "an xz-compressed file";
    case GAR_FILE_ZIP: return "a zip archive";
    case GAR_FILE_TIFF: return "a TIFF image";
    case GAR_FILE_HDF5: return "an HDF5 file";
    case GAR_FILE_PNG: return "a PNG image";
    case GAR_FILE_TEXT: return "a text file";
    case GAR_FILE_STAR: return "a STAR file (text)";
    case GAR_FILE_NUMPY: return "a NumPy array file (a cryoSPARC .cs table?)";
    case GAR_FILE_MRC: return "an MRC file";
    case GAR_FILE_UNKNOWN: break;
    }
    return NULL;
}

int gar_file_is_compressed(gar_file_kind kind)
{
    return kind == GAR_FILE_GZIP || kind == GAR_FILE_BZIP2;
}

gar_file_kind gar_file_sniff_path(const char *path)
{
    unsigned char head[GAR_FILE_SNIFF_BYTES];
    struct stat sb;
    ssize_t got = -1;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return GAR_FILE_UNKNOWN;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
        got = pread(fd, head, sizeof head, 0);
    close(fd);
    return got > 0 ? gar_file_sniff(head, (size_t)got) : GAR_FILE_UNKNOWN;
}

/* The stack name an import would suggest: path less its format suffix
 * (".star", ".cs", ...), then ".h5"; a file already named .h5 (a STAR file
 * misnamed) gets "-stack.h5", so the suggestion never names the input. */
static void stack_name_for(const char *path, char *out, size_t size)
{
    static const char *const suffixes[] = {".star.gz", ".star.bz2", ".star", ".cs", ".mrcs", ".mrc", ".h5"};
    const char *tail = ".h5";
    size_t n = strlen(path);
    for (size_t k = 0; k < sizeof suffixes / sizeof suffixes[0]; k++) {
        size_t m = strlen(suffixes[k]);
        if (n > m && strcmp(path + n - m, suffixes[k]) == 0) {
            n -= m;
            if (strcmp(suffixes[k], ".h5") == 0)
                tail = "-stack.h5";
            break;
        }
    }
    if (n + strlen(tail) >= size)
        n = size - strlen(tail) - 1;
    snprintf(out, size, "%.*s%s", (int)n, path, tail);
}

gar_status gar_file_refuse(const char *path, gar_file_kind kind, gar_file_want want)
{
    static const char *const wanted[] = {
        [GAR_WANT_MAP] = "MRC",
        [GAR_WANT_STAR] = "STAR",
        [GAR_WANT_STACK] = "a garner HDF5 stack",
        [GAR_WANT_DESCRIBE] = "a garner stack, poses file or MRC map",
    };
    const char *what = gar_file_kind_name(kind), *want_name = wanted[want];
    char stack[4096], advice[4400] = "";

    stack_name_for(path, stack, sizeof stack);
    switch (kind) {
    case GAR_FILE_ZSTD:
    case GAR_FILE_XZ:
    case GAR_FILE_ZIP:
        snprintf(advice, sizeof advice, ": garner decompresses gzip and bzip2 only; decompress it first (%s)",
                 kind == GAR_FILE_ZSTD ? "zstd -d" : kind == GAR_FILE_XZ ? "xz -d" : "unzip");
        break;
    case GAR_FILE_STAR:
        if (want == GAR_WANT_STACK || want == GAR_WANT_DESCRIBE)
            snprintf(advice, sizeof advice, ": run `garner import --star %s --out %s` first", path, stack);
        else if (want == GAR_WANT_MAP)
            snprintf(advice, sizeof advice, ": give a map (.mrc, .map); particles in a STAR file are "
                     "imported with `garner import --star`");
        break;
    case GAR_FILE_NUMPY:
        if (want == GAR_WANT_STACK || want == GAR_WANT_DESCRIBE)
            snprintf(advice, sizeof advice, ": for cryoSPARC particles run `garner import --cs %s --out %s` first",
                     path, stack);
        break;
    case GAR_FILE_MRC:
        if (want == GAR_WANT_STACK)
            snprintf(advice, sizeof advice, ": particle images in MRC are imported with the STAR file that "
                     "lists them (`garner import --star particles.star --out %s`)", stack);
        break;
    case GAR_FILE_HDF5:
        if (want == GAR_WANT_MAP)
            snprintf(advice, sizeof advice, " (garner's particle stacks and poses files are HDF5; maps are MRC: "
                     "give the .mrc)");
        break;
    case GAR_FILE_GZIP:
    case GAR_FILE_BZIP2:
        if (want == GAR_WANT_STACK)
            snprintf(advice, sizeof advice, ": HDF5 stacks are read uncompressed; decompress it first (%s), "
                     "or, for a compressed STAR file, run `garner import --star %s --out %s`",
                     kind == GAR_FILE_GZIP ? "gzip -d" : "bzip2 -d", path, stack);
        break;
    default:
        break;
    }
    if (what == NULL)
        return gar_error(GAR_ERR_DATA, "%s: not %s", path, want_name);
    return gar_error(GAR_ERR_DATA, "%s: %s, not %s%s", path, what, want_name, advice);
}

size_t gar_decompress_limit(void)
{
    size_t avail = gar_available_memory(NULL, 0);
    if (avail == 0)
        return (size_t)16 << 30;
    return avail / 2;
}

/* ------------------------------------------------------------ codecs */

typedef enum { STEP_OK, STEP_END, STEP_CORRUPT, STEP_NOMEM } step_result;

typedef struct codec {
    gar_file_kind kind;
    z_stream z;
    bz_stream b;
    int live;
} codec;

static int codec_init(codec *c)
{
    if (c->kind == GAR_FILE_GZIP) {
        memset(&c->z, 0, sizeof c->z);
        /* 15 + 16: gzip wrapper only (the magic said gzip), largest window. */
        if (inflateInit2(&c->z, 15 + 16) != Z_OK)
            return 0;
    } else {
        memset(&c->b, 0, sizeof c->b);
        if (BZ2_bzDecompressInit(&c->b, 0, 0) != BZ_OK)
            return 0;
    }
    c->live = 1;
    return 1;
}

static void codec_end(codec *c)
{
    if (!c->live)
        return;
    if (c->kind == GAR_FILE_GZIP)
        inflateEnd(&c->z);
    else
        BZ2_bzDecompressEnd(&c->b);
    c->live = 0;
}

/* For the next member (gzip) or stream (bzip2). */
static int codec_restart(codec *c)
{
    if (c->kind == GAR_FILE_GZIP)
        return inflateReset(&c->z) == Z_OK;
    codec_end(c);
    return codec_init(c);
}

/* One call of the library: consumes from *in and *avail, writes at most room
 * bytes at out (*produced). A call that can make no progress (input used up
 * mid-stream) is STEP_OK with nothing consumed or produced. */
static step_result codec_step(codec *c, const unsigned char **in, size_t *avail, unsigned char *out,
                              size_t room, size_t *produced, const char **msg)
{
    unsigned int ain = (unsigned int)(*avail < STEP_MAX ? *avail : STEP_MAX);
    unsigned int aout = (unsigned int)(room < STEP_MAX ? room : STEP_MAX);
    step_result r;
    *msg = NULL;
    if (c->kind == GAR_FILE_GZIP) {
        int ret;
        c->z.next_in = (unsigned char *)(uintptr_t)*in;  /* zlib's next_in is not const */
        c->z.avail_in = ain;
        c->z.next_out = out;
        c->z.avail_out = aout;
        ret = inflate(&c->z, Z_NO_FLUSH);
        *produced = aout - c->z.avail_out;
        *in += ain - c->z.avail_in;
        *avail -= ain - c->z.avail_in;
        switch (ret) {
        case Z_OK: case Z_BUF_ERROR: r = STEP_OK; break;
        case Z_STREAM_END: r = STEP_END; break;
        case Z_MEM_ERROR: r = STEP_NOMEM; break;
        default: r = STEP_CORRUPT; *msg = c->z.msg; break;
        }
    } else {
        int ret;
        c->b.next_in = (char *)(uintptr_t)*in;
        c->b.avail_in = ain;
        c->b.next_out = (char *)out;
        c->b.avail_out = aout;
        ret = BZ2_bzDecompress(&c->b);
        *produced = aout - c->b.avail_out;
        *in += ain - c->b.avail_in;
        *avail -= ain - c->b.avail_in;
        switch (ret) {
        case BZ_OK: r = STEP_OK; break;
        case BZ_STREAM_END: r = STEP_END; break;
        case BZ_MEM_ERROR: r = STEP_NOMEM; break;
        case BZ_DATA_ERROR_MAGIC: r = STEP_CORRUPT; *msg = "not a bzip2 stream"; break;
        default: r = STEP_CORRUPT; *msg = "data integrity error"; break;
        }
    }
    return r;
}

static const char *codec_name(const codec *c)
{
    return c->kind == GAR_FILE_GZIP ? "gzip" : "bzip2";
}

/* ------------------------------------------------------------ input */

typedef struct source {
    int fd;                     /* -1: memory */
    const unsigned char *mem;
    size_t mem_len, mem_pos;
    unsigned char *chunk;       /* fd: read buffer of FD_CHUNK */
    size_t primed;              /* fd: bytes already in chunk, not yet handed out */
    int eof;
    const char *name;
} source;

/* The next bytes of input into *in and *avail (which must be used up); at the
 * end *avail stays 0 and s->eof is set. */
static gar_status source_next(source *s, const unsigned char **in, size_t *avail)
{
    if (s->eof)
        return GAR_OK;
    if (s->fd < 0) {
        *in = s->mem + s->mem_pos;
        *avail = s->mem_len - s->mem_pos;
        s->mem_pos = s->mem_len;
        s->eof = *avail == 0;
        return GAR_OK;
    }
    if (s->primed > 0) {
        *in = s->chunk;
        *avail = s->primed;
        s->primed = 0;
        return GAR_OK;
    }
    for (;;) {
        ssize_t r = read(s->fd, s->chunk, FD_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return gar_error(GAR_ERR_IO, "%s: read failed: %s", s->name, strerror(errno));
        *in = s->chunk;
        *avail = (size_t)r;
        s->eof = r == 0;
        return GAR_OK;
    }
}

/* ------------------------------------------------------------ output */

typedef struct sink {
    unsigned char *buf;
    size_t len, cap;           /* cap: data bytes; buf has cap + 1 for the NUL */
    size_t max;
} sink;

/* At least one byte of room, or the ceiling reached (len > max is refused
 * by the caller before this is called again). */
static gar_status sink_room(sink *s, size_t hint)
{
    size_t ncap;
    unsigned char *p;
    if (s->len < s->cap)
        return GAR_OK;
    /* Up to max + 1 so that going over the ceiling is seen, not truncated. */
    ncap = s->cap ? s->cap : hint;
    if (s->cap && ncap <= SIZE_MAX / 2)
        ncap *= 2;
    if (ncap < 65536)
        ncap = 65536;
    if (s->max < SIZE_MAX - 1 && ncap > s->max + 1)
        ncap = s->max + 1;
    if (ncap <= s->cap || ncap == SIZE_MAX)
        return gar_error(GAR_ERR_INTERNAL, "decompression buffer cannot grow past %zu bytes", s->cap);
    p = realloc(s->buf, ncap + 1);
    if (p == NULL)
        return gar_error(GAR_ERR_NOMEM, "cannot allocate %.1f MiB for the decompressed data",
                         (double)ncap / 1048576.0);
    s->buf = p;
    s->cap = ncap;
    return GAR_OK;
}

/* ------------------------------------------------------------ the loop */

static gar_status ceiling_error(const char *name, const codec *c, size_t max)
{
    char lim[32];
    gar_format_bytes((double)max, lim, sizeof lim);
    return gar_error(GAR_ERR_NOMEM,
                     "%s: decompresses to more than %s, the limit for reading %s data in memory (half the memory "
                     "available); decompress it to a file first (%s -dk)",
                     name, lim, codec_name(c), c->kind == GAR_FILE_GZIP ? "gzip" : "bzip2");
}

static gar_status decompress(source *src, gar_file_kind kind, size_t hint, size_t max_out,
                             unsigned char **out, size_t *out_len)
{
    codec c;
    sink snk = {NULL, 0, 0, max_out};
    const unsigned char *in = NULL;
    size_t avail = 0;
    uint64_t consumed_total = 0;
    int after_member = 0;        /* a member ended and another began here */
    size_t member_out = 0;       /* bytes produced by the current member */
    gar_status st;

    memset(&c, 0, sizeof c);
    c.kind = kind;
    *out = NULL;
    *out_len = 0;
    if (!gar_file_is_compressed(kind)) {
        st = gar_error(GAR_ERR_INTERNAL, "%s: not gzip or bzip2 data", src->name);
        goto done;
    }
    if (!codec_init(&c)) {
        st = gar_error(GAR_ERR_NOMEM, "%s: cannot start the %s decoder", src->name, codec_name(&c));
        goto done;
    }
    for (;;) {
        size_t produced = 0, before = avail;
        const char *msg = NULL;
        step_result r;
        if (avail == 0 && (st = source_next(src, &in, &avail)) != GAR_OK)
            goto done;
        before = avail;
        if ((st = sink_room(&snk, hint)) != GAR_OK) {
            gar_error_context(st, "%s", src->name);
            goto done;
        }
        r = codec_step(&c, &in, &avail, snk.buf + snk.len, snk.cap - snk.len, &produced, &msg);
        snk.len += produced;
        member_out += produced;
        consumed_total += before - avail;
        if (snk.len > max_out) {
            st = ceiling_error(src->name, &c, max_out);
            goto done;
        }
        if (r == STEP_NOMEM) {
            st = gar_error(GAR_ERR_NOMEM, "%s: out of memory in the %s decoder", src->name, codec_name(&c));
            goto done;
        }
        if (r == STEP_CORRUPT) {
            if (after_member && member_out == 0)
                st = gar_error(GAR_ERR_DATA,
                               "%s: bytes after the end of the %s data, at byte %llu, are not %s (%s); "
                               "the file is corrupt or has something appended",
                               src->name, codec_name(&c), (unsigned long long)consumed_total, codec_name(&c),
                               msg ? msg : "corrupt");
            else
                st = gar_error(GAR_ERR_DATA, "%s: %s data corrupt after %zu bytes decompressed: %s", src->name,
                               codec_name(&c), snk.len, msg ? msg : "corrupt");
            goto done;
        }
        if (r == STEP_END) {
            /* A member ended. Zero padding (tape blocks) may follow and is
             * ignored, as gzip -d does; anything else is another member. */
            for (;;) {
                while (avail > 0 && *in == 0) {
                    in++;
                    avail--;
                    consumed_total++;
                }
                if (avail > 0 || src->eof)
                    break;
                if ((st = source_next(src, &in, &avail)) != GAR_OK)
                    goto done;
            }
            if (avail == 0)
                break;
            if (!codec_restart(&c)) {
                st = gar_error(GAR_ERR_NOMEM, "%s: cannot restart the %s decoder", src->name, codec_name(&c));
                goto done;
            }
            after_member = 1;
            member_out = 0;
            continue;
        }
        /* STEP_OK with no progress: the input is used up mid-stream. */
        if (produced == 0 && before == avail) {
            if (avail == 0 && src->eof) {
                st = gar_error(GAR_ERR_DATA,
                               "%s: the %s data end early, after %llu compressed bytes gave %zu bytes "
                               "(truncated file?)",
                               src->name, codec_name(&c), (unsigned long long)consumed_total, snk.len);
                goto done;
            }
            if (avail > 0) {
                st = gar_error(GAR_ERR_INTERNAL, "%s: the %s decoder makes no progress", src->name,
                               codec_name(&c));
                goto done;
            }
        }
    }
    /* An empty result still gets a buffer, for its NUL. */
    if (snk.buf == NULL && (st = sink_room(&snk, 1)) != GAR_OK)
        goto done;
    snk.buf[snk.len] = '\0';
    *out = snk.buf;
    *out_len = snk.len;
    snk.buf = NULL;
    st = GAR_OK;
done:
    codec_end(&c);
    free(snk.buf);
    return st;
}

gar_status gar_decompress_buffer(const void *in, size_t len, const char *name, size_t max_out,
                                 unsigned char **out, size_t *out_len)
{
    source src = {-1, in, len, 0, NULL, 0, 0, name != NULL ? name : "data"};
    /* Compression ratios of maps are 1.2 to 5: start at 4 times. */
    size_t hint = len <= SIZE_MAX / 4 ? 4 * len : len;
    if (out == NULL || out_len == NULL || (in == NULL && len > 0))
        return gar_error(GAR_ERR_INTERNAL, "%s: gar_decompress_buffer: no input or output", src.name);
    return decompress(&src, gar_file_sniff(in, len), hint, max_out, out, out_len);
}

gar_status gar_decompress_fd(int fd, const char *name, size_t max_out, unsigned char **out, size_t *out_len)
{
    source src = {fd, NULL, 0, 0, NULL, 0, 0, name != NULL ? name : "data"};
    const unsigned char *in = NULL;
    size_t avail = 0;
    gar_status st;

    if (out == NULL || out_len == NULL)
        return gar_error(GAR_ERR_INTERNAL, "%s: gar_decompress_fd: no output", src.name);
    *out = NULL;
    *out_len = 0;
    if ((st = gar_alloc((void **)&src.chunk, FD_CHUNK, 1, "decompression input buffer")) != GAR_OK)
        goto done;
    /* The first chunk tells the kind; it is handed to the decoder first. */
    if ((st = source_next(&src, &in, &avail)) != GAR_OK)
        goto done;
    src.primed = avail;
    st = decompress(&src, gar_file_sniff(in, avail), 4 * FD_CHUNK, max_out, out, out_len);
done:
    free(src.chunk);
    return st;
}
