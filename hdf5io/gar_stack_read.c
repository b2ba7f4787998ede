/* garner: reading the HDF5 particle stack. docs/FORMAT.md is the
 * specification; this file is one implementation of it, and other tools
 * (h5py) write the same files, so the reader accepts any integer/float
 * storage type for a column and both fixed- and variable-length strings, and
 * checks everything it relies on (the writer is gar_stack_write.c).
 *
 * HDF5 never prints here: every public entry point silences its automatic
 * error printing, and failures become one gar_error() line naming the file
 * and dataset. */
#include "gar_stack_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gar_decompress.h"
#include "gar_h5storage.h"

struct gar_stack {
    char *path;
    hid_t file, images, cols[NCOLS];
    hid_t sim[NSIM]; /* the ground-truth columns, or -1 (both or neither) */
    size_t n, box;
    unsigned columns;
    gar_optics *optics;
    size_t n_optics;
    group_ix *groups;
    /* The two int columns are read whole at open to validate them; keeping
     * them saves re-reading for every metadata range. */
    int32_t *half_set, *optics_group;
    /* The open-file pool (below). A stack opened from a file may have its
     * HDF5 ids released and reopened on demand; everything above but the
     * ids stays. */
    int pooled;          /* 1: a file on disk (0: a file image in memory) */
    int is_open;         /* its ids are open (and it is in the pool's list) */
    size_t files;        /* file descriptors its open ids hold: 1 + link targets and VDS sources */
    gar_stack *newer, *older; /* the pool's list, most recently used first */
    unsigned char had[NCOLS + NSIM]; /* which columns exist, to reopen them */
    struct stat id;      /* the file as first opened: a reopen must find the same */
    char layout_advice[768]; /* why the images' chunking makes reads slow, or "" */
};

/* "rot_deg, tilt_deg, psi_deg" for messages about a partial column group. */
static const char *group_members(unsigned group, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t c = 0; c < NCOLS; c++) {
        const coldef *d = &gar_stack_particle_cols[c];
        if (d->group != group)
            continue;
        int k = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", d->name);
        if (k < 0 || (size_t)k >= size - used)
            break;
        used += (size_t)k;
    }
    return buf;
}

/* ------------------------------------------------------------------ reading */

/* Opens /<grp>/<name> and checks it is a 1-D dataset of the given kind;
 * *len gets its length. Returns -1 with the message set. */
static hid_t open_column(const char *path, hid_t grp, const char *grpname, const coldef *d,
                         hsize_t *len, size_t *files, gar_status *st)
{
    char tdesc[64], why[256], where[128];
    hid_t dset = -1, type = -1, space = -1, ret = -1;
    H5T_class_t want = d->kind == KIND_INT ? H5T_INTEGER
                       : d->kind == KIND_FLOAT ? H5T_FLOAT
                                               : H5T_STRING;
    const char *want_desc = d->kind == KIND_INT     ? "an integer type (int32)"
                            : d->kind == KIND_FLOAT ? "a float type (float64)"
                                                    : "a string type";
    int rank;

    /* Columns may be virtual or external links too (issue 18, case 7):
     * checked like the images, but not sized against a file, being bounded
     * by the image count. */
    snprintf(where, sizeof where, "/%s/%s", grpname, d->name);
    if ((*st = gar_h5_open_dataset(grp, d->name, H5P_DEFAULT, path, where, 0, files, &dset)) != GAR_OK)
        goto done;
    if ((type = H5Dget_type(dset)) < 0 || (space = H5Dget_space(dset)) < 0) {
        *st = gar_error(GAR_ERR_DATA, "%s: /%s/%s: cannot read its type and shape (HDF5: %s)", path,
                        grpname, d->name, gar_h5_reason(why, sizeof why));
        goto done;
    }
    if (H5Tget_class(type) != want) {
        *st = gar_error(GAR_ERR_DATA, "%s: /%s/%s: dtype %s, expected %s", path, grpname, d->name,
                        gar_h5_type_desc(type, tdesc, sizeof tdesc), want_desc);
        goto done;
    }
    rank = H5Sget_simple_extent_ndims(space);
    if (rank != 1 || H5Sget_simple_extent_type(space) != H5S_SIMPLE) {
        *st = gar_error(GAR_ERR_DATA, "%s: /%s/%s: rank %d, expected 1-D", path, grpname, d->name,
                        rank);
        goto done;
    }
    if (H5Sget_simple_extent_dims(space, len, NULL) < 0) {
        *st = gar_error(GAR_ERR_DATA, "%s: /%s/%s: cannot read its shape", path, grpname, d->name);
        goto done;
    }
    ret = dset;
    dset = -1;
    *st = GAR_OK;
done:
    gar_h5_close(&space);
    gar_h5_close(&type);
    gar_h5_close(&dset);
    return ret;
}

static gar_status check_root(gar_stack *s)
{
    char fmt[64];
    long long version = 0;
    gar_h5_attr r = gar_h5_read_attr_text(s->file, "format", fmt, sizeof fmt);
    if (r == GAR_H5_ATTR_MISSING)
        return gar_error(GAR_ERR_DATA,
                         "%s: not a garner stack (no root attribute format = \"%s\")", s->path,
                         GAR_STACK_FORMAT);
    if (r != GAR_H5_ATTR_OK)
        return gar_error(GAR_ERR_DATA,
                         "%s: not a garner stack (root attribute format is not the string \"%s\")",
                         s->path, GAR_STACK_FORMAT);
    /* garner's other HDF5 file, where a stack is expected: say what it is. */
    if (strcmp(fmt, "garner-poses") == 0)
        return gar_error(GAR_ERR_DATA,
                         "%s: a garner poses file (what refine writes), not a particle stack: give the "
                         "stacks the refinement read (its params.ini, [input] stacks), or `garner export` "
                         "to write the refined particles out", s->path);
    if (strcmp(fmt, GAR_STACK_FORMAT) != 0)
        return gar_error(GAR_ERR_DATA,
                         "%s: not a garner stack (root attribute format is \"%s\", expected \"%s\")",
                         s->path, fmt, GAR_STACK_FORMAT);
    r = gar_h5_read_attr_int(s->file, "format_version", &version);
    if (r == GAR_H5_ATTR_MISSING)
        return gar_error(GAR_ERR_DATA,
                         "%s: root attribute format_version is missing, expected an integer (%d)",
                         s->path, GAR_STACK_FORMAT_VERSION);
    if (r != GAR_H5_ATTR_OK)
        return gar_error(GAR_ERR_DATA,
                         "%s: root attribute format_version is not a readable integer, expected %d",
                         s->path, GAR_STACK_FORMAT_VERSION);
    if (version > GAR_STACK_FORMAT_VERSION)
        return gar_error(GAR_ERR_DATA,
                         "%s: format_version %lld is newer than this garner reads (%d); upgrade garner",
                         s->path, version, GAR_STACK_FORMAT_VERSION);
    if (version < 1)
        return gar_error(GAR_ERR_DATA, "%s: format_version %lld is invalid, expected 1 to %d",
                         s->path, version, GAR_STACK_FORMAT_VERSION);
    return GAR_OK;
}

static int is_prime(size_t n)
{
    if (n < 2)
        return 0;
    for (size_t d = 2; d * d <= n; d++)
        if (n % d == 0)
            return 0;
    return 1;
}

/* The image count comes from the dataset's shape, which costs nothing to
 * declare: a few hundred bytes can claim 10^12 images whose chunks were never
 * written (they read as zeros). Everything sized by the count (the half_set
 * and optics_group columns read at open, a run's batches) is bounded by
 * requiring the file that stores the images to be able to hold them: their
 * raw size at most its size, or GAR_H5_MAX_COMPRESSION times it with a
 * compression filter. A file that fails this is truncated or was never
 * finished. The file is the one holding the data: for images reached
 * through an external link, the link's target (issue 18, case 21: comparing
 * with the linking file called a valid link "truncated"). Images stored
 * elsewhere (virtual, external raw files) are bounded by
 * gar_h5_check_storage, source by source. */
static gar_status check_images_fit(const gar_stack *s, hid_t dset, size_t n, size_t box)
{
    char why[256];
    unsigned long long need = 0, have = 0;
    int here, fits, comp = 0;
    if (n == 0)
        return GAR_OK;
    if ((here = gar_h5_stored_here(dset)) == 0)
        return GAR_OK;
    if (here < 0 || (fits = gar_h5_data_fits(dset, &need, &have, &comp)) < 0)
        return gar_error(GAR_ERR_DATA, "%s: /particles/images: cannot read its size or filters (HDF5: %s)",
                         s->path, gar_h5_reason(why, sizeof why));
    if (fits)
        return GAR_OK;
    if (!comp)
        return gar_error(GAR_ERR_DATA,
                         "%s: /particles/images: %zu images of %zu x %zu need %llu bytes, the file "
                         "has %llu (truncated, or the images were never written)",
                         s->path, n, box, box, need, have);
    return gar_error(GAR_ERR_DATA,
                     "%s: /particles/images: %zu images of %zu x %zu need %llu bytes, more than "
                     "%d times the file's %llu even compressed (truncated, or the images were "
                     "never written)",
                     s->path, n, box, box, need, GAR_H5_MAX_COMPRESSION, have);
}

/* The access list of the images: room for 8 images in the chunk cache (at
 * least HDF5's default 1 MiB) so a partial read never evicts a chunk it
 * still needs; w0 = 1 because images are read once. Slots about 100x the
 * chunks that fit, prime, as HDF5 advises. -1 on failure. */
static hid_t images_dapl(size_t box)
{
    size_t image_bytes = box * box * sizeof(float), cache_bytes, slots;
    hid_t dapl;
    cache_bytes = image_bytes <= (SIZE_MAX / 8) ? 8 * image_bytes : SIZE_MAX;
    if (cache_bytes < ((size_t)1 << 20))
        cache_bytes = (size_t)1 << 20;
    slots = 100 * (cache_bytes / image_bytes);
    if (slots > 10007) /* the slot array is allocated up front */
        slots = 10007;
    while (!is_prime(slots))
        slots++;
    if ((dapl = H5Pcreate(H5P_DATASET_ACCESS)) < 0)
        return -1;
    if (H5Pset_chunk_cache(dapl, slots, cache_bytes, 1.0) < 0)
        gar_h5_close(&dapl);
    return dapl;
}

/* Chunk shapes that make reads slow (issue 18, case 21: a 0.5 s run took
 * 35-81 s). The images are read a shard at a time, a few images each:
 * - chunks smaller than an image: every image is a separate B-tree lookup
 *   and read per chunk (measured here: 800 images of 64², chunks of 4 × 4
 *   pixels, read 2.2 s against 0.0 s for one image a chunk);
 * - filtered (compressed) chunks of several images larger than the chunk
 *   cache (images_dapl): HDF5 must decompress a whole chunk for every read
 *   that touches it, so each shard decompresses far more than it uses.
 * Such files are legitimate and read correctly; the advice says how to
 * rewrite them. Written into s->layout_advice ("" for a good layout). */
static void judge_layout(gar_stack *s, hid_t dset)
{
    hid_t dcpl = H5Dget_create_plist(dset);
    hsize_t chunk[3];
    s->layout_advice[0] = '\0';
    if (dcpl < 0)
        return;
    if (H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, 3, chunk) == 3 && chunk[0] > 0 && chunk[1] > 0 &&
        chunk[2] > 0) {
        const double image_px = (double)s->box * (double)s->box, chunk_px = (double)chunk[1] * (double)chunk[2];
        const double per_image = image_px / chunk_px;
        const double chunk_bytes = (double)chunk[0] * chunk_px * sizeof(float);
        const double cache = fmax(8.0 * image_px * sizeof(float), 1048576.0);
        const int filtered = H5Pget_nfilters(dcpl) > 0;
        char fix[320];
        snprintf(fix, sizeof fix, "`h5repack -l /particles/images:CHUNK=1x%zux%zu %.160s NEW.h5` rewrites it with one "
                 "image a chunk", s->box, s->box, s->path);
        if (per_image >= 4.0)
            snprintf(s->layout_advice, sizeof s->layout_advice, "/particles/images is stored in chunks of "
                     "%llu x %llu x %llu, %.0f to an image: every image is read in %.0f pieces, which is slow; %s",
                     (unsigned long long)chunk[0], (unsigned long long)chunk[1], (unsigned long long)chunk[2],
                     per_image, per_image, fix);
        else if (filtered && chunk[0] > 1 && chunk_bytes > cache)
            snprintf(s->layout_advice, sizeof s->layout_advice, "/particles/images is stored compressed in chunks "
                     "of %llu images (%.1f MiB), larger than the %.1f MiB chunk cache: every read of a few images "
                     "decompresses a whole chunk, which is slow; %s", (unsigned long long)chunk[0],
                     chunk_bytes / 1048576.0, cache / 1048576.0, fix);
    }
    gar_h5_close(&dcpl);
}

const char *gar_stack_layout_advice(const gar_stack *s) { return s->layout_advice; }

static gar_status open_images(gar_stack *s, hid_t grp)
{
    char tdesc[64], why[256];
    gar_status st = GAR_OK;
    hid_t dset = -1, type = -1, space = -1, dapl = -1;
    hsize_t dims[3];
    size_t floats;
    int rank;
    htri_t exists = H5Lexists(grp, "images", H5P_DEFAULT);

    if (exists <= 0) {
        st = gar_error(GAR_ERR_DATA, "%s: /particles/images: missing", s->path);
        goto done;
    }
    st = gar_h5_open_dataset(grp, "images", H5P_DEFAULT, s->path, "/particles/images", 1, &s->files, &dset);
    if (st != GAR_OK)
        goto done;
    if ((type = H5Dget_type(dset)) < 0 || (space = H5Dget_space(dset)) < 0) {
        st = gar_error(GAR_ERR_DATA, "%s: /particles/images: not a readable dataset (HDF5: %s)",
                       s->path, gar_h5_reason(why, sizeof why));
        goto done;
    }
    if (H5Tget_class(type) != H5T_FLOAT || H5Tget_size(type) != 4) {
        st = gar_error(GAR_ERR_DATA, "%s: /particles/images: dtype %s, expected float32", s->path,
                       gar_h5_type_desc(type, tdesc, sizeof tdesc));
        goto done;
    }
    rank = H5Sget_simple_extent_ndims(space);
    if (rank != 3 || H5Sget_simple_extent_type(space) != H5S_SIMPLE) {
        st = gar_error(GAR_ERR_DATA, "%s: /particles/images: rank %d, expected 3 ([n][box][box])",
                       s->path, rank);
        goto done;
    }
    if (H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
        st = gar_error(GAR_ERR_DATA, "%s: /particles/images: cannot read its shape", s->path);
        goto done;
    }
    if (dims[1] != dims[2]) {
        st = gar_error(GAR_ERR_DATA, "%s: /particles/images: images are %llu x %llu, expected square",
                       s->path, (unsigned long long)dims[1], (unsigned long long)dims[2]);
        goto done;
    }
    if (dims[1] < GAR_STACK_MIN_BOX || dims[1] % 2 != 0) {
        st = gar_error(GAR_ERR_DATA, "%s: /particles/images: box %llu, expected an even size >= %d",
                       s->path, (unsigned long long)dims[1], GAR_STACK_MIN_BOX);
        goto done;
    }
    if (dims[1] > GAR_STACK_MAX_BOX) {
        st = gar_error(GAR_ERR_DATA,
                       "%s: /particles/images: box %llu, more than the limit of %d (corrupt file?)",
                       s->path, (unsigned long long)dims[1], GAR_STACK_MAX_BOX);
        goto done;
    }
    if (dims[0] > SIZE_MAX ||
        !gar_size_mul3((size_t)dims[0], (size_t)dims[1], (size_t)dims[2], &floats) ||
        !gar_size_mul(floats, sizeof(float), &floats)) {
        st = gar_error(GAR_ERR_DATA, "%s: /particles/images: %llu images is too many", s->path,
                       (unsigned long long)dims[0]);
        goto done;
    }
    st = check_images_fit(s, dset, (size_t)dims[0], (size_t)dims[1]);
    if (st != GAR_OK)
        goto done;
    s->n = (size_t)dims[0];
    s->box = (size_t)dims[1];
    gar_h5_close(&dset);

    if ((dapl = images_dapl(s->box)) < 0 || (s->images = H5Dopen2(grp, "images", dapl)) < 0) {
        st = gar_error(GAR_ERR_DATA, "%s: /particles/images: cannot open (HDF5: %s)", s->path,
                       gar_h5_reason(why, sizeof why));
        goto done;
    }
    judge_layout(s, s->images);
done:
    gar_h5_close(&dapl);
    gar_h5_close(&space);
    gar_h5_close(&type);
    gar_h5_close(&dset);
    return st;
}

/* /particles/<d->name>, one entry per image, into *id (left as it is
 * when the dataset is absent: *exists 0). */
static gar_status open_particle_column(gar_stack *s, hid_t grp, const coldef *d, hid_t *id, int *exists)
{
    char why[256];
    gar_status st = GAR_OK;
    hsize_t len = 0;
    htri_t e = H5Lexists(grp, d->name, H5P_DEFAULT);
    *exists = e > 0;
    if (e < 0)
        return gar_error(GAR_ERR_DATA, "%s: /particles/%s: cannot look it up (HDF5: %s)", s->path, d->name,
                         gar_h5_reason(why, sizeof why));
    if (e == 0)
        return GAR_OK;
    *id = open_column(s->path, grp, "particles", d, &len, &s->files, &st);
    if (st != GAR_OK)
        return st;
    if (len != s->n)
        return gar_error(GAR_ERR_DATA, "%s: /particles/%s: %llu entries, expected %zu (one per image)", s->path,
                         d->name, (unsigned long long)len, s->n);
    return GAR_OK;
}

static gar_status open_columns(gar_stack *s, hid_t grp)
{
    char members[128];
    gar_status st = GAR_OK;
    int present[NCOLS] = {0};
    static const unsigned groups[] = {GAR_COL_POSE, GAR_COL_ORIGIN, GAR_COL_CTF,
                                      GAR_COL_PHASE_SHIFT};

    for (size_t c = 0; c < NCOLS; c++) {
        const coldef *d = &gar_stack_particle_cols[c];
        int exists;
        if ((st = open_particle_column(s, grp, d, &s->cols[c], &exists)) != GAR_OK)
            return st;
        s->had[c] = (unsigned char)exists;
        if (!exists && d->group == 0)
            return gar_error(GAR_ERR_DATA, "%s: /particles/%s: missing (always required)", s->path, d->name);
        present[c] = exists;
    }
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        const char *have = NULL, *lack = NULL;
        for (size_t c = 0; c < NCOLS; c++) {
            if (gar_stack_particle_cols[c].group != groups[g])
                continue;
            if (present[c] && have == NULL)
                have = gar_stack_particle_cols[c].name;
            if (!present[c] && lack == NULL)
                lack = gar_stack_particle_cols[c].name;
        }
        if (have != NULL && lack != NULL)
            return gar_error(GAR_ERR_DATA,
                             "%s: /particles/%s: missing, but %s is present (%s come together)",
                             s->path, lack, have, group_members(groups[g], members, sizeof members));
        if (have != NULL)
            s->columns |= groups[g];
    }
    /* The ground truth of a simulated stack: optional, both or neither. */
    for (size_t c = 0; c < NSIM; c++) {
        int exists;
        if ((st = open_particle_column(s, grp, &gar_stack_sim_cols[c], &s->sim[c], &exists)) != GAR_OK)
            return st;
        s->had[NCOLS + c] = (unsigned char)exists;
    }
    if ((s->sim[SIM_JUNK] >= 0) != (s->sim[SIM_SCALE] >= 0))
        return gar_error(GAR_ERR_DATA, "%s: /particles/%s: missing, but %s is present (%s, %s come together)",
                         s->path, gar_stack_sim_cols[s->sim[SIM_JUNK] >= 0 ? SIM_SCALE : SIM_JUNK].name,
                         gar_stack_sim_cols[s->sim[SIM_JUNK] >= 0 ? SIM_JUNK : SIM_SCALE].name,
                         gar_stack_sim_cols[SIM_JUNK].name, gar_stack_sim_cols[SIM_SCALE].name);
    return GAR_OK;
}

/* /optics/name, fixed or variable length (h5py writes a list of str as
 * variable-length strings). */
static gar_status read_optics_names(gar_stack *s, hid_t dset)
{
    char why[256];
    gar_status st = GAR_OK;
    hid_t ftype = -1, mtype = -1, space = -1;
    char **vbuf = NULL, *fbuf = NULL;
    size_t m = s->n_optics, flen = 0;
    int vlen_read = 0;

    if ((ftype = H5Dget_type(dset)) < 0 || (space = H5Dget_space(dset)) < 0 ||
        (mtype = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0)
        goto fail;
    if (H5Tis_variable_str(ftype) > 0) {
        st = gar_calloc((void **)&vbuf, m, sizeof *vbuf, "optics names");
        if (st != GAR_OK)
            goto done;
        if (H5Tset_size(mtype, H5T_VARIABLE) < 0 ||
            H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, vbuf) < 0)
            goto fail;
        vlen_read = 1;
    } else {
        flen = H5Tget_size(ftype);
        if (flen > GAR_H5_MAX_STRING_TYPE) {
            st = gar_error(GAR_ERR_DATA,
                           "%s: /optics/name: strings of %zu bytes, expected names of at most %d "
                           "characters",
                           s->path, flen, NAME_LEN - 1);
            goto done;
        }
        if (flen == 0 || H5Tset_size(mtype, flen + 1) < 0 ||
            H5Tset_strpad(mtype, H5T_STR_NULLTERM) < 0)
            goto fail;
        st = gar_calloc((void **)&fbuf, m, flen + 1, "optics names");
        if (st != GAR_OK)
            goto done;
        if (H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, fbuf) < 0)
            goto fail;
    }
    for (size_t i = 0; i < m; i++) {
        const char *name = vbuf ? (vbuf[i] ? vbuf[i] : "") : fbuf + i * (flen + 1);
        size_t len = strlen(name);
        if (len >= NAME_LEN) {
            st = gar_error(GAR_ERR_DATA,
                           "%s: /optics/name: entry %zu is %zu characters, expected at most %d",
                           s->path, i, len, NAME_LEN - 1);
            goto done;
        }
        memcpy(s->optics[i].name, name, len + 1);
    }
    goto done;
fail:
    st = gar_error(GAR_ERR_DATA, "%s: /optics/name: unreadable (HDF5: %s)", s->path,
                   gar_h5_reason(why, sizeof why));
done:
    if (vlen_read)
        gar_h5_reclaim_vlen(mtype, space, vbuf);
    free(vbuf);
    free(fbuf);
    gar_h5_close(&space);
    gar_h5_close(&mtype);
    gar_h5_close(&ftype);
    return st;
}

static gar_status read_optics(gar_stack *s)
{
    char why[256];
    gar_status st = GAR_OK;
    hid_t grp = -1, dset = -1;
    void *buf = NULL;
    hsize_t m = 0;
    htri_t exists = H5Lexists(s->file, "optics", H5P_DEFAULT);

    if (exists <= 0 || (grp = H5Gopen2(s->file, "optics", H5P_DEFAULT)) < 0) {
        st = gar_error(GAR_ERR_DATA, "%s: /optics: missing or not a group", s->path);
        goto done;
    }
    for (size_t c = 0; c < NOPT; c++) {
        const coldef *d = &gar_stack_optics_cols[c];
        hsize_t len = 0;
        exists = H5Lexists(grp, d->name, H5P_DEFAULT);
        if (exists <= 0) {
            st = gar_error(GAR_ERR_DATA, "%s: /optics/%s: missing", s->path, d->name);
            goto done;
        }
        dset = open_column(s->path, grp, "optics", d, &len, &s->files, &st);
        if (st != GAR_OK)
            goto done;
        if (c == 0) {
            m = len;
            if (m == 0) {
                st = gar_error(GAR_ERR_DATA,
                               "%s: /optics/optics_group: empty, expected at least one optics group",
                               s->path);
                goto done;
            }
            /* The length is declared, not stored: bound it before it sizes
             * the tables (RELION data sets have at most some thousands). */
            if (m > GAR_STACK_MAX_OPTICS) {
                st = gar_error(GAR_ERR_DATA,
                               "%s: /optics/optics_group: %llu entries, more than the limit of %d "
                               "optics groups (corrupt file?)",
                               s->path, (unsigned long long)m, GAR_STACK_MAX_OPTICS);
                goto done;
            }
            s->n_optics = (size_t)m;
            st = gar_calloc((void **)&s->optics, s->n_optics, sizeof *s->optics, "optics table");
            if (st == GAR_OK)
                st = gar_alloc(&buf, s->n_optics, sizeof(double), "optics column");
            if (st != GAR_OK)
                goto done;
        } else if (len != m) {
            st = gar_error(GAR_ERR_DATA,
                           "%s: /optics/%s: %llu entries, expected %llu (one per optics group)",
                           s->path, d->name, (unsigned long long)len, (unsigned long long)m);
            goto done;
        }
        if (d->kind == KIND_STRING) {
            st = read_optics_names(s, dset);
            if (st != GAR_OK)
                goto done;
        } else {
            size_t elem = d->kind == KIND_INT ? sizeof(int32_t) : sizeof(double);
            hid_t mtype = d->kind == KIND_INT ? H5T_NATIVE_INT32 : H5T_NATIVE_DOUBLE;
            if (H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
                st = gar_error(GAR_ERR_DATA, "%s: /optics/%s: unreadable (HDF5: %s)", s->path,
                               d->name, gar_h5_reason(why, sizeof why));
                goto done;
            }
            for (size_t i = 0; i < s->n_optics; i++)
                memcpy((char *)&s->optics[i] + d->offset, (char *)buf + i * elem, elem);
        }
        gar_h5_close(&dset);
    }
    st = gar_stack_check_optics(s->path, s->optics, s->n_optics, s->box, &s->groups);
done:
    free(buf);
    gar_h5_close(&dset);
    gar_h5_close(&grp);
    return st;
}

/* half_set and optics_group, read whole and checked: small, and wrong values
 * there would silently mix the half maps or use the wrong CTF. */
static gar_status read_int_columns(gar_stack *s)
{
    char why[256];
    gar_status st;
    static const size_t which[2] = {COL_HALF_SET, COL_OPTICS_GROUP};
    int32_t **dest[2] = {&s->half_set, &s->optics_group};

    for (size_t k = 0; k < 2; k++) {
        const coldef *d = &gar_stack_particle_cols[which[k]];
        st = gar_alloc((void **)dest[k], s->n, sizeof(int32_t), d->name);
        if (st != GAR_OK)
            return st;
        if (s->n > 0 &&
            H5Dread(s->cols[which[k]], H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, *dest[k]) < 0)
            return gar_error(GAR_ERR_DATA,
                             "%s: /particles/%s: unreadable, checksum mismatch or file corrupt "
                             "(HDF5: %s)",
                             s->path, d->name, gar_h5_reason(why, sizeof why));
    }
    for (size_t i = 0; i < s->n; i++) {
        if (s->half_set[i] != 1 && s->half_set[i] != 2)
            return gar_error(GAR_ERR_DATA,
                             "%s: /particles/half_set: particle %zu has %d, expected 1 or 2", s->path,
                             i, (int)s->half_set[i]);
        if (gar_stack_find_group(s->optics, s->groups, s->n_optics, s->optics_group[i]) == NULL)
            return gar_error(GAR_ERR_DATA,
                             "%s: /particles/optics_group: particle %zu has %d, not in "
                             "/optics/optics_group",
                             s->path, i, (int)s->optics_group[i]);
    }
    return GAR_OK;
}

/* ------------------------------------------------------- the open-file pool
 *
 * Every open stack holds file descriptors (its file, and the targets of its
 * external links and the sources of its virtual datasets), and a run may list
 * more stacks than a process may open files (issue 18, case 21: 1100 stacks
 * under `ulimit -n 1024` failed at the 1007th). The stacks opened from files
 * therefore share a budget of descriptors: when opening or reading one would
 * go over it, the least recently used stacks release their HDF5 ids (and
 * descriptors), keeping everything else (count, box, optics, the two int
 * columns), and reopen on their next read (stack_ready). A run reads a stack
 * shard by shard, a batch of many images per read, so a reopen (an H5Fopen
 * and a few H5Dopen, well under a millisecond on a local disk) happens at
 * most once per shard, only when more stacks are in use than the budget.
 *
 * The budget is half the soft RLIMIT_NOFILE (the other half for MPI's
 * sockets, the output files and the libraries), at most GAR_STACK_OPEN_FILES:
 * every open images dataset also keeps up to 1 MiB of chunk cache. A reopen
 * refuses a file that changed on disk since it was first opened (device,
 * inode, size, modification time), so a run never mixes two versions of a
 * stack. Like HDF5 itself (not built thread-safe), the pool is for one
 * thread. */
#define GAR_STACK_OPEN_FILES 256

static struct {
    gar_stack *newest, *oldest; /* the stacks whose ids are open */
    size_t files;               /* descriptors they hold */
    size_t limit;               /* 0: not yet computed */
} pool;

void gar_stack_set_open_limit(size_t files) { pool.limit = files; }

static size_t pool_limit(void)
{
    if (pool.limit == 0) {
        struct rlimit rl;
        size_t soft = 1024;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
            soft = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 2 * GAR_STACK_OPEN_FILES
                       ? 2 * GAR_STACK_OPEN_FILES
                       : (size_t)rl.rlim_cur;
        pool.limit = soft / 2 > 0 ? soft / 2 : 1;
    }
    return pool.limit;
}

static void pool_unlink(gar_stack *s)
{
    if (!s->is_open)
        return;
    if (s->newer)
        s->newer->older = s->older;
    else
        pool.newest = s->older;
    if (s->older)
        s->older->newer = s->newer;
    else
        pool.oldest = s->newer;
    s->newer = s->older = NULL;
    s->is_open = 0;
    pool.files -= s->files;
}

static void pool_push(gar_stack *s)
{
    s->newer = NULL;
    s->older = pool.newest;
    if (pool.newest)
        pool.newest->newer = s;
    pool.newest = s;
    if (pool.oldest == NULL)
        pool.oldest = s;
    s->is_open = 1;
    pool.files += s->files;
}

/* Close every HDF5 id of s (HDF5 closes the file, and the files its links
 * and virtual sources opened, with the last of them). */
static void release_ids(gar_stack *s)
{
    for (size_t c = 0; c < NCOLS; c++)
        gar_h5_close(&s->cols[c]);
    for (size_t c = 0; c < NSIM; c++)
        gar_h5_close(&s->sim[c]);
    gar_h5_close(&s->images);
    gar_h5_close(&s->file);
}

/* Release the least recently used stacks (never `keep`) until `files` more
 * descriptors fit the budget. */
static void pool_make_room(const gar_stack *keep, size_t files)
{
    size_t limit = pool_limit();
    while (pool.files + files > limit && pool.oldest != NULL && pool.oldest != keep) {
        gar_stack *old = pool.oldest;
        pool_unlink(old);
        release_ids(old);
    }
}

/* Reopen what release_ids closed: the file as first opened, its images and
 * columns with the shapes they had. The rules of docs/FORMAT.md were checked
 * on this very file at open. */
static gar_status reopen(gar_stack *s)
{
    char why[256], where[128];
    gar_status st = GAR_OK;
    hid_t fapl = -1, grp = -1, dapl = -1, space = -1;
    hsize_t dims[3] = {0, 0, 0};
    struct stat sb;

    if (stat(s->path, &sb) != 0)
        return gar_error(GAR_ERR_NOINPUT, "%s: cannot reopen: %s", s->path, strerror(errno));
    if (sb.st_dev != s->id.st_dev || sb.st_ino != s->id.st_ino || sb.st_size != s->id.st_size ||
        sb.st_mtim.tv_sec != s->id.st_mtim.tv_sec || sb.st_mtim.tv_nsec != s->id.st_mtim.tv_nsec)
        return gar_error(GAR_ERR_DATA,
                         "%s: changed on disk since garner opened it (replaced or rewritten during "
                         "the run); not reading it again",
                         s->path);
    if ((fapl = gar_h5_fapl_nolock()) < 0 || (s->file = H5Fopen(s->path, H5F_ACC_RDONLY, fapl)) < 0 ||
        (grp = H5Gopen2(s->file, "particles", H5P_DEFAULT)) < 0 || (dapl = images_dapl(s->box)) < 0 ||
        (s->images = H5Dopen2(grp, "images", dapl)) < 0 || (space = H5Dget_space(s->images)) < 0 ||
        H5Sget_simple_extent_dims(space, dims, NULL) != 3 || dims[0] != s->n || dims[1] != s->box) {
        st = gar_error(GAR_ERR_DATA, "%s: /particles/images: cannot reopen it as it was (HDF5: %s)",
                       s->path, gar_h5_reason(why, sizeof why));
        goto done;
    }
    for (size_t c = 0; c < NCOLS + NSIM && st == GAR_OK; c++) {
        const coldef *d = c < NCOLS ? &gar_stack_particle_cols[c] : &gar_stack_sim_cols[c - NCOLS];
        hid_t *id = c < NCOLS ? &s->cols[c] : &s->sim[c - NCOLS];
        if (!s->had[c])
            continue;
        gar_h5_close(&space);
        snprintf(where, sizeof where, "/particles/%s", d->name);
        if ((*id = H5Dopen2(grp, d->name, H5P_DEFAULT)) < 0 || (space = H5Dget_space(*id)) < 0 ||
            H5Sget_simple_extent_dims(space, dims, NULL) != 1 || dims[0] != s->n)
            st = gar_error(GAR_ERR_DATA, "%s: %s: cannot reopen it as it was (HDF5: %s)", s->path, where,
                           gar_h5_reason(why, sizeof why));
    }
done:
    gar_h5_close(&space);
    gar_h5_close(&dapl);
    gar_h5_close(&grp);
    gar_h5_close(&fapl);
    if (st != GAR_OK)
        release_ids(s);
    return st;
}

/* Before any read: s's ids open, s the most recently used. */
static gar_status stack_ready(gar_stack *s)
{
    gar_status st;
    if (!s->pooled)
        return GAR_OK;
    if (s->is_open) {
        pool_unlink(s);
        pool_push(s);
        return GAR_OK;
    }
    pool_make_room(s, s->files);
    if ((st = reopen(s)) == GAR_OK)
        pool_push(s);
    return st;
}

/* A new handle named `path`, nothing open yet. */
static gar_status stack_new(const char *path, gar_stack **out)
{
    gar_stack *s = NULL;
    gar_status st;
    *out = NULL;
    st = gar_calloc((void **)&s, 1, sizeof *s, "stack");
    if (st != GAR_OK)
        return st;
    s->file = s->images = -1;
    for (size_t c = 0; c < NCOLS; c++)
        s->cols[c] = -1;
    for (size_t c = 0; c < NSIM; c++)
        s->sim[c] = -1;
    s->path = strdup(path);
    if (s->path == NULL) {
        free(s);
        return gar_error(GAR_ERR_NOMEM, "%s: cannot allocate the path", path);
    }
    *out = s;
    return GAR_OK;
}

/* Open `hdf5_name` with `fapl` into s and apply every rule of docs/FORMAT.md.
 * Messages name s->path. */
static gar_status open_and_validate(gar_stack *s, const char *hdf5_name, hid_t fapl)
{
    char why[256];
    gar_status st = GAR_OK;
    hid_t grp = -1;
    htri_t exists;

    s->file = H5Fopen(hdf5_name, H5F_ACC_RDONLY, fapl);
    if (s->file < 0) {
        st = gar_error(GAR_ERR_DATA, "%s: not a readable HDF5 file, or truncated (HDF5: %s)", s->path,
                       gar_h5_reason(why, sizeof why));
        goto done;
    }
    st = check_root(s);
    if (st != GAR_OK)
        goto done;
    exists = H5Lexists(s->file, "particles", H5P_DEFAULT);
    if (exists <= 0 || (grp = H5Gopen2(s->file, "particles", H5P_DEFAULT)) < 0) {
        st = gar_error(GAR_ERR_DATA, "%s: /particles: missing or not a group", s->path);
        goto done;
    }
    st = open_images(s, grp);
    if (st == GAR_OK)
        st = open_columns(s, grp);
    if (st == GAR_OK)
        st = read_optics(s);
    if (st == GAR_OK)
        st = read_int_columns(s);
done:
    gar_h5_close(&grp);
    return st;
}

gar_status gar_stack_open(const char *path, gar_stack **out)
{
    char why[256];
    gar_status st = GAR_OK;
    gar_stack *s = NULL;
    hid_t fapl = -1;
    struct stat sb;
    int fd;

    if (out == NULL)
        return gar_error(GAR_ERR_INTERNAL, "gar_stack_open: out is NULL");
    *out = NULL;
    if (path == NULL)
        return gar_error(GAR_ERR_INTERNAL, "gar_stack_open: path is NULL");
    /* Ask the OS first so a missing or unreadable file is reported as such,
     * not as whatever HDF5 makes of it. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* a FIFO must not block here */
    if (fd < 0)
        return gar_error(GAR_ERR_NOINPUT, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        close(fd);
        return gar_error(GAR_ERR_NOINPUT, "%s: is a folder, expected a stack file", path);
    }
    if (fstat(fd, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        close(fd);
        return gar_error(GAR_ERR_NOINPUT, "%s: not a regular file, expected a stack file", path);
    }
    close(fd);
    /* A STAR, .cs, MRC or text file is named, with what to do, rather than
     * left to HDF5's "file signature not found". */
    {
        gar_file_kind kind = gar_file_sniff_path(path);
        if (kind != GAR_FILE_UNKNOWN && kind != GAR_FILE_HDF5)
            return gar_file_refuse(path, kind, GAR_WANT_STACK);
    }
    gar_h5_quiet();

    st = stack_new(path, &s);
    if (st != GAR_OK)
        return st;
    s->id = sb;
    s->pooled = 1;
    s->files = 1;
    pool_make_room(NULL, 1);
    if ((fapl = gar_h5_fapl_nolock()) < 0) {
        st = gar_error(GAR_ERR_INTERNAL, "%s: cannot set up HDF5 file access (HDF5: %s)", path,
                       gar_h5_reason(why, sizeof why));
        goto done;
    }
    st = open_and_validate(s, path, fapl);
    if (st == GAR_OK) {
        pool_make_room(NULL, s->files);
        pool_push(s);
    }
done:
    gar_h5_close(&fapl);
    if (st != GAR_OK)
        gar_stack_close(&s);
    else
        *out = s;
    return st;
}

/* The HDF5 signature every file (image) starts with, at offset 0 for the
 * images this reads (a user block would put it at 512, 1024, ...). */
static const unsigned char hdf5_signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

gar_status gar_stack_open_image(const void *buf, size_t len, const char *name, gar_stack **out)
{
    static atomic_ulong image_count;
    char why[256], hdf5_name[64];
    gar_status st = GAR_OK;
    gar_stack *s = NULL;
    hid_t fapl = -1;

    if (out == NULL)
        return gar_error(GAR_ERR_INTERNAL, "gar_stack_open_image: out is NULL");
    *out = NULL;
    if (buf == NULL && len > 0)
        return gar_error(GAR_ERR_INTERNAL, "gar_stack_open_image: no buffer");
    if (name == NULL)
        name = "file image";
    gar_h5_quiet();
    st = stack_new(name, &s);
    if (st != GAR_OK)
        return st;
    /* HDF5 would take a buffer of any length; a plain refusal is clearer. */
    if (len < sizeof hdf5_signature || memcmp(buf, hdf5_signature, sizeof hdf5_signature) != 0) {
        st = gar_error(GAR_ERR_DATA, "%s: not a readable HDF5 file, or truncated (no HDF5 signature "
                       "at the start of its %zu bytes)", name, len);
        goto done;
    }
    /* The core driver reads from a copy of the image (the handle may outlive
     * buf) and never touches the disk: no backing store, and the name it is
     * given cannot exist (HDF5 refuses to open an image under a name that
     * does). */
    if ((fapl = H5Pcreate(H5P_FILE_ACCESS)) < 0 || H5Pset_fapl_core(fapl, 1 << 16, 0) < 0 ||
        H5Pset_file_image(fapl, (void *)buf, len) < 0) {
        st = gar_error(GAR_ERR_NOMEM, "%s: cannot set up an HDF5 file image of %zu bytes (HDF5: %s)",
                       name, len, gar_h5_reason(why, sizeof why));
        goto done;
    }
    /* HDF5 takes two open files of the same name for one: every image gets
     * its own name. */
    snprintf(hdf5_name, sizeof hdf5_name, "/dev/null/garner-file-image-%lu",
             (unsigned long)atomic_fetch_add(&image_count, 1));
    st = open_and_validate(s, hdf5_name, fapl);
done:
    gar_h5_close(&fapl);
    if (st != GAR_OK)
        gar_stack_close(&s);
    else
        *out = s;
    return st;
}

void gar_stack_close(gar_stack **sp)
{
    gar_stack *s;
    if (sp == NULL || *sp == NULL)
        return;
    s = *sp;
    gar_h5_quiet();
    pool_unlink(s);
    release_ids(s);
    free(s->half_set);
    free(s->optics_group);
    free(s->groups);
    free(s->optics);
    free(s->path);
    free(s);
    *sp = NULL;
}

const char *gar_stack_path(const gar_stack *s) { return s ? s->path : NULL; }
gar_status gar_stack_file(gar_stack *s, hid_t *file)
{
    gar_status st;
    *file = -1;
    if (s == NULL)
        return gar_error(GAR_ERR_INTERNAL, "gar_stack_file: stack is NULL");
    gar_h5_quiet();
    if ((st = stack_ready(s)) == GAR_OK)
        *file = s->file;
    return st;
}
size_t gar_stack_count(const gar_stack *s) { return s ? s->n : 0; }

size_t gar_stack_half_count(const gar_stack *s, int half)
{
    size_t n = 0;
    for (size_t i = 0; s != NULL && i < s->n; i++)
        n += s->half_set[i] == half;
    return n;
}
size_t gar_stack_box(const gar_stack *s) { return s ? s->box : 0; }
unsigned gar_stack_columns(const gar_stack *s) { return s ? s->columns : 0; }

const gar_optics *gar_stack_optics(const gar_stack *s, size_t *n_optics)
{
    if (n_optics)
        *n_optics = s ? s->n_optics : 0;
    return s ? s->optics : NULL;
}

double gar_stack_pixel_size(const gar_stack *s)
{
    return s && s->n_optics > 0 ? s->optics[0].pixel_size_A : 0.0;
}

const gar_optics *gar_stack_optics_group(const gar_stack *s, int32_t group)
{
    return s ? gar_stack_find_group(s->optics, s->groups, s->n_optics, group) : NULL;
}

static gar_status check_range(const gar_stack *s, const char *what, size_t first, size_t count)
{
    if (first > s->n || count > s->n - first)
        return gar_error(GAR_ERR_USAGE,
                         "%s: %s: particles [%zu, %zu) requested, the stack has [0, %zu)", s->path,
                         what, first, first + count, s->n);
    return GAR_OK;
}

static herr_t read_slab(hid_t dset, hid_t mtype, int rank, size_t first, size_t count, size_t box,
                        void *out)
{
    hsize_t start[3] = {first, 0, 0}, dims[3] = {count, box, box};
    hid_t fspace = -1, mspace = -1;
    herr_t ret = -1;
    if ((fspace = H5Dget_space(dset)) < 0 ||
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, dims, NULL) < 0 ||
        (mspace = H5Screate_simple(rank, dims, NULL)) < 0)
        goto done;
    ret = H5Dread(dset, mtype, mspace, fspace, H5P_DEFAULT, out);
done:
    gar_h5_close(&mspace);
    gar_h5_close(&fspace);
    return ret;
}

gar_status gar_stack_read_images(gar_stack *s, size_t first, size_t count, float *out)
{
    char why[256];
    gar_status st;
    size_t pixels;

    if (s == NULL || (out == NULL && count > 0))
        return gar_error(GAR_ERR_INTERNAL, "gar_stack_read_images: stack or buffer is NULL");
    st = check_range(s, "/particles/images", first, count);
    if (st != GAR_OK || count == 0)
        return st;
    gar_h5_quiet();
    if ((st = stack_ready(s)) != GAR_OK)
        return st;
    if (read_slab(s->images, H5T_NATIVE_FLOAT, 3, first, count, s->box, out) >= 0)
        return GAR_OK;
    gar_h5_reason(why, sizeof why);
    /* The one-read fast path failed: find the culprit so the message can name
     * it (slow, but only on the way to an error). */
    pixels = s->box * s->box;
    for (size_t i = 0; i < count; i++)
        if (read_slab(s->images, H5T_NATIVE_FLOAT, 3, first + i, 1, s->box, out + i * pixels) < 0)
            return gar_error(GAR_ERR_DATA,
                             "%s: /particles/images: particle %zu: checksum mismatch or unreadable "
                             "data (file corrupt or truncated)",
                             s->path, first + i);
    return gar_error(GAR_ERR_IO,
                     "%s: /particles/images: reading particles [%zu, %zu) failed, though each "
                     "image reads alone (HDF5: %s)",
                     s->path, first, first + count, why);
}

gar_status gar_stack_read_meta(gar_stack *s, size_t first, size_t count, gar_particle *out)
{
    char why[256];
    gar_status st;
    double *buf = NULL;

    if (s == NULL || (out == NULL && count > 0))
        return gar_error(GAR_ERR_INTERNAL, "gar_stack_read_meta: stack or buffer is NULL");
    st = check_range(s, "/particles", first, count);
    if (st != GAR_OK || count == 0)
        return st;
    gar_h5_quiet();
    if ((st = stack_ready(s)) != GAR_OK)
        return st;
    memset(out, 0, count * sizeof *out);
    st = gar_alloc((void **)&buf, count, sizeof *buf, "metadata column");
    if (st != GAR_OK)
        goto done;
    for (size_t c = 0; c < NCOLS; c++) {
        const coldef *d = &gar_stack_particle_cols[c];
        if (d->kind != KIND_FLOAT || s->cols[c] < 0)
            continue;
        if (read_slab(s->cols[c], H5T_NATIVE_DOUBLE, 1, first, count, 0, buf) < 0) {
            st = gar_error(GAR_ERR_DATA,
                           "%s: /particles/%s: particles [%zu, %zu) unreadable, checksum mismatch "
                           "or file corrupt (HDF5: %s)",
                           s->path, d->name, first, first + count, gar_h5_reason(why, sizeof why));
            goto done;
        }
        /* The writer's rules, applied to files from other tools: a NaN or
         * negative defocus, or a NaN angle, would silently spoil every voxel
         * it touches. */
        for (size_t i = 0; i < count; i++) {
            const gar_optics *g = gar_stack_find_group(s->optics, s->groups, s->n_optics, s->optics_group[first + i]);
            if ((st = gar_stack_check_value(s->path, d, first + i, buf[i],
                                            (double)s->box * (g != NULL ? g->pixel_size_A : 0))) != GAR_OK)
                goto done;
            memcpy((char *)&out[i] + d->offset, &buf[i], sizeof(double));
        }
    }
    for (size_t i = 0; i < count; i++) {
        out[i].half_set = s->half_set[first + i];
        out[i].optics_group = s->optics_group[first + i];
    }
done:
    free(buf);
    return st;
}

int gar_stack_has_sim_truth(const gar_stack *s) { return s != NULL && s->had[NCOLS + SIM_JUNK]; }

gar_status gar_stack_read_sim_truth(gar_stack *s, size_t first, size_t count, int32_t *junk,
                                    double *scale)
{
    char why[256];
    gar_status st;
    const coldef *dj = &gar_stack_sim_cols[SIM_JUNK], *ds = &gar_stack_sim_cols[SIM_SCALE];

    if (s == NULL)
        return gar_error(GAR_ERR_INTERNAL, "gar_stack_read_sim_truth: stack is NULL");
    if (!gar_stack_has_sim_truth(s))
        return gar_error(GAR_ERR_NOINPUT,
                         "%s: /particles/%s, %s: absent (not a stack simulated with a realism option)",
                         s->path, dj->name, ds->name);
    st = check_range(s, "/particles/sim_junk", first, count);
    if (st != GAR_OK || count == 0)
        return st;
    gar_h5_quiet();
    if ((st = stack_ready(s)) != GAR_OK)
        return st;
    if (junk != NULL) {
        if (read_slab(s->sim[SIM_JUNK], H5T_NATIVE_INT32, 1, first, count, 0, junk) < 0)
            return gar_error(GAR_ERR_DATA,
                             "%s: /particles/%s: particles [%zu, %zu) unreadable, checksum mismatch "
                             "or file corrupt (HDF5: %s)",
                             s->path, dj->name, first, first + count, gar_h5_reason(why, sizeof why));
        for (size_t i = 0; i < count; i++)
            if (junk[i] < GAR_STACK_SIM_PARTICLE || junk[i] > GAR_STACK_SIM_ICE)
                return gar_error(GAR_ERR_DATA, "%s: /particles/%s: particle %zu has %d, expected 0, 1 or 2",
                                 s->path, dj->name, first + i, (int)junk[i]);
    }
    if (scale != NULL) {
        if (read_slab(s->sim[SIM_SCALE], H5T_NATIVE_DOUBLE, 1, first, count, 0, scale) < 0)
            return gar_error(GAR_ERR_DATA,
                             "%s: /particles/%s: particles [%zu, %zu) unreadable, checksum mismatch "
                             "or file corrupt (HDF5: %s)",
                             s->path, ds->name, first, first + count, gar_h5_reason(why, sizeof why));
        for (size_t i = 0; i < count; i++)
            if (!(isfinite(scale[i]) && scale[i] >= 0))
                return gar_error(GAR_ERR_DATA,
                                 "%s: /particles/%s: particle %zu has %g, expected a finite value >= 0",
                                 s->path, ds->name, first + i, scale[i]);
    }
    return GAR_OK;
}
