/* garner: writing the HDF5 particle stack (docs/FORMAT.md; the reader is
 * gar_stack_read.c). The file is written under a temporary name and renamed
 * into place by commit.
 *
 * HDF5 never prints here: every public entry point silences its automatic
 * error printing, and failures become one gar_error() line naming the file
 * and dataset. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gar_stack_impl.h"

#include "gar_atomic.h"
#include "gar_signal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef PACKAGE_VERSION
#define GAR_CREATOR "garner " PACKAGE_VERSION
#else
#define GAR_CREATOR "garner unknown"
#endif

/* Metadata chunk length: large enough that a million-particle column is a few
 * hundred chunks, small enough that a tiny stack stays small. */
#define COL_CHUNK 4096
#define ALL_COLUMNS (GAR_COL_POSE | GAR_COL_ORIGIN | GAR_COL_CTF | GAR_COL_PHASE_SHIFT)

struct gar_stack_writer {
    gar_atomic a; /* a.path: the stack's name; a.tmp: the file written, ours
                   * to delete until the commit */
    int broken;   /* an append failed part way: the file must not be published */
    hid_t file, images, cols[NCOLS];
    hid_t sim[NSIM]; /* the ground-truth columns, or -1 */
    size_t box, n;
    unsigned columns;
    gar_optics *optics;
    size_t n_optics;
    group_ix *groups;
};

/* A 1-D chunked dataset with Fletcher32, so a flipped bit in metadata is an
 * error rather than a wrong defocus. */
static hid_t create_column(hid_t loc, const coldef *c, hid_t ftype, hsize_t dim, hsize_t maxdim,
                           hsize_t chunk)
{
    hid_t space = -1, dcpl = -1, dset = -1, ret = -1;
    if ((space = H5Screate_simple(1, &dim, &maxdim)) < 0 ||
        (dcpl = H5Pcreate(H5P_DATASET_CREATE)) < 0 || H5Pset_chunk(dcpl, 1, &chunk) < 0 ||
        H5Pset_fletcher32(dcpl) < 0)
        goto done;
    if ((dset = H5Dcreate2(loc, c->name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0)
        goto done;
    if (gar_h5_write_attr_nullpad(dset, "units", c->units) < 0 ||
        gar_h5_write_attr_nullpad(dset, "star_label", c->star_label) < 0)
        goto done;
    ret = dset;
    dset = -1;
done:
    gar_h5_close(&dset);
    gar_h5_close(&dcpl);
    gar_h5_close(&space);
    return ret;
}

/* ------------------------------------------------------------------ writing */

/* Close everything, delete the temporary unless committed, free w. */
static void writer_free(gar_stack_writer *w)
{
    if (w == NULL)
        return;
    gar_h5_quiet();
    for (size_t c = 0; c < NCOLS; c++)
        gar_h5_close(&w->cols[c]);
    for (size_t c = 0; c < NSIM; c++)
        gar_h5_close(&w->sim[c]);
    gar_h5_close(&w->images);
    gar_h5_close(&w->file);
    gar_atomic_abort(&w->a);
    free(w->groups);
    free(w->optics);
    free(w);
}

static gar_status write_optics(gar_stack_writer *w, hid_t grp)
{
    char why[256];
    gar_status st = GAR_OK;
    hid_t dset = -1, ftype = -1;
    unsigned char *buf = NULL;
    size_t m = w->n_optics;
    st = gar_calloc((void **)&buf, m, NAME_LEN > sizeof(double) ? NAME_LEN : sizeof(double),
                    "optics column");
    if (st != GAR_OK)
        goto done;
    for (size_t c = 0; c < NOPT; c++) {
        const coldef *d = &gar_stack_optics_cols[c];
        size_t elem = d->kind == KIND_STRING ? NAME_LEN
                      : d->kind == KIND_INT  ? sizeof(int32_t)
                                             : sizeof(double);
        /* Strings are written with the file type itself as memory type. */
        hid_t mtype = d->kind == KIND_INT ? H5T_NATIVE_INT32 : H5T_NATIVE_DOUBLE;
        ftype = d->kind == KIND_STRING ? gar_h5_nullpad_type(NAME_LEN)
                : d->kind == KIND_INT  ? H5Tcopy(H5T_STD_I32LE)
                                       : H5Tcopy(H5T_IEEE_F64LE);
        for (size_t i = 0; i < m; i++)
            memcpy(buf + i * elem, (const char *)&w->optics[i] + d->offset, elem);
        if (ftype < 0 || (dset = create_column(grp, d, ftype, m, m, m)) < 0 ||
            H5Dwrite(dset, d->kind == KIND_STRING ? ftype : mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                     buf) < 0) {
            st = gar_error(GAR_ERR_IO, "%s: /optics/%s: cannot write (HDF5: %s)", w->a.path,
                           d->name, gar_h5_reason(why, sizeof why));
            goto done;
        }
        gar_h5_close(&dset);
        gar_h5_close(&ftype);
    }
done:
    gar_h5_close(&dset);
    gar_h5_close(&ftype);
    free(buf);
    return st;
}

gar_status gar_stack_writer_create(const char *path, size_t box, const gar_optics *optics,
                                   size_t n_optics, unsigned columns, const char *provenance,
                                   gar_stack_writer **out)
{
    char why[256], created[32];
    gar_status st = GAR_OK;
    gar_stack_writer *w = NULL;
    hid_t fapl = -1, root = -1, grp_p = -1, grp_o = -1, space = -1, dcpl = -1;
    hsize_t dims[3], maxdims[3], chunk[3];
    time_t now = time(NULL);
    struct tm tm_utc;

    if (out == NULL)
        return gar_error(GAR_ERR_INTERNAL, "gar_stack_writer_create: out is NULL");
    *out = NULL;
    if (path == NULL || (optics == NULL && n_optics > 0))
        return gar_error(GAR_ERR_INTERNAL, "gar_stack_writer_create: path or optics is NULL");
    if (columns & ~(unsigned)ALL_COLUMNS)
        return gar_error(GAR_ERR_INTERNAL, "%s: unknown column mask 0x%x", path, columns);
    if (box < GAR_STACK_MIN_BOX || box % 2 != 0)
        return gar_error(GAR_ERR_DATA, "%s: /particles/images: box %zu, expected an even size >= %d",
                         path, box, GAR_STACK_MIN_BOX);
    if (box > GAR_STACK_MAX_BOX)
        return gar_error(GAR_ERR_DATA,
                         "%s: /particles/images: box %zu, more than the limit of %d", path, box,
                         GAR_STACK_MAX_BOX);
    gar_h5_quiet();

    st = gar_calloc((void **)&w, 1, sizeof *w, "stack writer");
    if (st != GAR_OK)
        return st;
    w->file = w->images = -1;
    for (size_t c = 0; c < NCOLS; c++)
        w->cols[c] = -1;
    for (size_t c = 0; c < NSIM; c++)
        w->sim[c] = -1;
    w->box = box;
    w->columns = columns;
    w->n_optics = n_optics;
    st = gar_stack_check_optics(path, optics, n_optics, box, &w->groups);
    if (st != GAR_OK)
        goto done;
    st = gar_alloc((void **)&w->optics, n_optics, sizeof *optics, "optics table");
    if (st != GAR_OK)
        goto done;
    memcpy(w->optics, optics, n_optics * sizeof *optics);
    /* The pid keeps two writers of the same output from sharing a temp file. */
    st = gar_atomic_begin(&w->a, path, 0);
    if (st != GAR_OK)
        goto done;

    if ((fapl = gar_h5_fapl_nolock()) < 0) {
        st = gar_error(GAR_ERR_INTERNAL, "%s: cannot set up HDF5 file access (HDF5: %s)", path,
                       gar_h5_reason(why, sizeof why));
        goto done;
    }
    w->file = H5Fcreate(w->a.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (w->file < 0) {
        st = gar_error(GAR_ERR_OUTPUT, "%s: cannot create %s (HDF5: %s)", path, w->a.tmp,
                       gar_h5_reason(why, sizeof why));
        goto done;
    }

    if (gmtime_r(&now, &tm_utc) == NULL ||
        strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm_utc) == 0)
        snprintf(created, sizeof created, "unknown");
    if ((root = H5Gopen2(w->file, "/", H5P_DEFAULT)) < 0 ||
        gar_h5_write_attr_nullpad(root, "format", GAR_STACK_FORMAT) < 0 ||
        gar_h5_write_attr_i32(root, "format_version", GAR_STACK_FORMAT_VERSION) < 0 ||
        gar_h5_write_attr_nullpad(root, "creator", GAR_CREATOR) < 0 ||
        gar_h5_write_attr_nullpad(root, "created", created) < 0 ||
        gar_h5_write_attr_nullpad(root, "provenance", provenance ? provenance : "") < 0) {
        st = gar_error(GAR_ERR_IO, "%s: cannot write the root attributes (HDF5: %s)", path,
                       gar_h5_reason(why, sizeof why));
        goto done;
    }

    if ((grp_p = H5Gcreate2(w->file, "particles", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        (grp_o = H5Gcreate2(w->file, "optics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
        st = gar_error(GAR_ERR_IO, "%s: cannot create /particles and /optics (HDF5: %s)", path,
                       gar_h5_reason(why, sizeof why));
        goto done;
    }

    /* One image per chunk: random access reads exactly one chunk, and the
     * Fletcher32 checksum then names the bad particle. No compression: noise
     * does not compress (docs/FORMAT.md has the measurements). */
    dims[0] = 0;
    dims[1] = dims[2] = box;
    maxdims[0] = H5S_UNLIMITED;
    maxdims[1] = maxdims[2] = box;
    chunk[0] = 1;
    chunk[1] = chunk[2] = box;
    if ((space = H5Screate_simple(3, dims, maxdims)) < 0 ||
        (dcpl = H5Pcreate(H5P_DATASET_CREATE)) < 0 || H5Pset_chunk(dcpl, 3, chunk) < 0 ||
        H5Pset_fletcher32(dcpl) < 0 || H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0 ||
        (w->images = H5Dcreate2(grp_p, "images", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl,
                                H5P_DEFAULT)) < 0) {
        st = gar_error(GAR_ERR_IO, "%s: /particles/images: cannot create (HDF5: %s)", path,
                       gar_h5_reason(why, sizeof why));
        goto done;
    }

    for (size_t c = 0; c < NCOLS; c++) {
        const coldef *d = &gar_stack_particle_cols[c];
        if (d->group != 0 && !(columns & d->group))
            continue;
        w->cols[c] = create_column(grp_p, d, d->kind == KIND_INT ? H5T_STD_I32LE : H5T_IEEE_F64LE,
                                   0, H5S_UNLIMITED, COL_CHUNK);
        if (w->cols[c] < 0) {
            st = gar_error(GAR_ERR_IO, "%s: /particles/%s: cannot create (HDF5: %s)", path,
                           d->name, gar_h5_reason(why, sizeof why));
            goto done;
        }
    }

    st = write_optics(w, grp_o);

done:
    gar_h5_close(&dcpl);
    gar_h5_close(&space);
    gar_h5_close(&grp_o);
    gar_h5_close(&grp_p);
    gar_h5_close(&root);
    gar_h5_close(&fapl);
    if (st != GAR_OK)
        writer_free(w);
    else
        *out = w;
    return st;
}

/* Everything an append checks before touching the file, so a refused append
 * leaves the stack as it was. */
static gar_status check_append(const gar_stack_writer *w, const float *images,
                               const gar_particle *meta, const int32_t *junk, const double *scale,
                               size_t count)
{
    size_t pixels = w->box * w->box;
    gar_status st;
    for (size_t i = 0; i < count; i++) {
        const gar_particle *p = &meta[i];
        size_t idx = w->n + i;
        if (junk != NULL && (junk[i] < GAR_STACK_SIM_PARTICLE || junk[i] > GAR_STACK_SIM_ICE))
            return gar_error(GAR_ERR_DATA,
                             "%s: /particles/sim_junk: particle %zu has %d, expected 0, 1 or 2",
                             w->a.path, idx, (int)junk[i]);
        if (scale != NULL && !(isfinite(scale[i]) && scale[i] >= 0))
            return gar_error(GAR_ERR_DATA,
                             "%s: /particles/sim_scale: particle %zu has %g, expected a finite "
                             "value >= 0",
                             w->a.path, idx, scale[i]);
        if (p->half_set != 1 && p->half_set != 2)
            return gar_error(GAR_ERR_DATA,
                             "%s: /particles/half_set: particle %zu has %d, expected 1 or 2",
                             w->a.path, idx, (int)p->half_set);
        const gar_optics *g = gar_stack_find_group(w->optics, w->groups, w->n_optics, p->optics_group);
        if (g == NULL)
            return gar_error(GAR_ERR_DATA,
                             "%s: /particles/optics_group: particle %zu has %d, not in /optics",
                             w->a.path, idx, (int)p->optics_group);
        for (size_t c = 0; c < NCOLS; c++) {
            const coldef *d = &gar_stack_particle_cols[c];
            double v;
            if (d->kind != KIND_FLOAT || !(w->columns & d->group))
                continue;
            memcpy(&v, (const char *)p + d->offset, sizeof v);
            if ((st = gar_stack_check_value(w->a.path, d, idx, v, (double)w->box * g->pixel_size_A)) != GAR_OK)
                return st;
        }
        /* A NaN pixel would silently poison every average it enters. */
        for (size_t k = 0; k < pixels; k++)
            if (!isfinite(images[i * pixels + k]))
                return gar_error(GAR_ERR_DATA,
                                 "%s: /particles/images: particle %zu has %g at pixel (%zu, %zu), "
                                 "expected finite values",
                                 w->a.path, idx, (double)images[i * pixels + k], k % w->box,
                                 k / w->box);
    }
    return GAR_OK;
}

/* Extend the 1-D dataset `dset` to `total` entries and write `count` values
 * of `mtype` from buf at `start`. */
static herr_t append_column(hid_t dset, hid_t mtype, hsize_t start, hsize_t count, hsize_t total,
                            const void *buf)
{
    hid_t fspace = -1, mspace = -1;
    herr_t ret = -1;
    if (H5Dset_extent(dset, &total) < 0 || (fspace = H5Dget_space(dset)) < 0 ||
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &count, NULL) < 0 ||
        (mspace = H5Screate_simple(1, &count, NULL)) < 0)
        goto done;
    ret = H5Dwrite(dset, mtype, mspace, fspace, H5P_DEFAULT, buf);
done:
    gar_h5_close(&fspace);
    gar_h5_close(&mspace);
    return ret;
}

static gar_status append(gar_stack_writer *w, const float *images, const gar_particle *meta,
                         const int32_t *junk, const double *scale, size_t count)
{
    char why[256];
    gar_status st = GAR_OK;
    hid_t fspace = -1, mspace = -1;
    void *buf = NULL;
    const char *what = "images";
    hsize_t start[3] = {0, 0, 0}, dims[3], total[3];
    size_t floats, new_n;

    if (w == NULL)
        return gar_error(GAR_ERR_INTERNAL, "gar_stack_writer_append: writer is NULL");
    /* Each batch is a point where a command stopped by a signal can give up
     * through its normal cleanup (gar_signal.h): an import or a simulation
     * of millions of particles appends every few milliseconds. */
    if ((st = gar_signal_check()) != GAR_OK)
        return st;
    if (count == 0)
        return GAR_OK;
    if (images == NULL || meta == NULL)
        return gar_error(GAR_ERR_INTERNAL, "%s: append: images or metadata is NULL", w->a.path);
    if ((w->sim[0] >= 0) != (junk != NULL && scale != NULL))
        return gar_error(GAR_ERR_INTERNAL, "%s: append: the ground truth is %s", w->a.path,
                         w->sim[0] >= 0 ? "required (the stack has sim_junk, sim_scale)"
                                        : "given, but the stack has no sim_junk, sim_scale");
    if (w->broken)
        return gar_error(GAR_ERR_IO, "%s: an earlier append failed; the stack cannot be completed",
                         w->a.path);
    if (count > SIZE_MAX - w->n || !gar_size_mul3(count, w->box, w->box, &floats))
        return gar_error(GAR_ERR_NOMEM, "%s: append of %zu particles is too large", w->a.path,
                         count);
    new_n = w->n + count;
    st = check_append(w, images, meta, junk, scale, count);
    if (st == GAR_OK)
        st = gar_alloc(&buf, count, sizeof(double), "metadata column");
    if (st != GAR_OK)
        return st;
    gar_h5_quiet();

    /* From here a failure may leave datasets of different lengths. */
    dims[0] = count;
    dims[1] = dims[2] = w->box;
    total[0] = new_n;
    total[1] = total[2] = w->box;
    start[0] = w->n;
    if (H5Dset_extent(w->images, total) < 0 || (fspace = H5Dget_space(w->images)) < 0 ||
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, dims, NULL) < 0 ||
        (mspace = H5Screate_simple(3, dims, NULL)) < 0 ||
        H5Dwrite(w->images, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, images) < 0)
        goto fail;
    gar_h5_close(&fspace);
    gar_h5_close(&mspace);

    for (size_t c = 0; c < NCOLS; c++) {
        const coldef *d = &gar_stack_particle_cols[c];
        size_t elem = d->kind == KIND_INT ? sizeof(int32_t) : sizeof(double);
        hid_t mtype = d->kind == KIND_INT ? H5T_NATIVE_INT32 : H5T_NATIVE_DOUBLE;
        if (w->cols[c] < 0)
            continue;
        what = d->name;
        for (size_t i = 0; i < count; i++)
            memcpy((char *)buf + i * elem, (const char *)&meta[i] + d->offset, elem);
        if (H5Dset_extent(w->cols[c], total) < 0 || (fspace = H5Dget_space(w->cols[c])) < 0 ||
            H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, dims, NULL) < 0 ||
            (mspace = H5Screate_simple(1, dims, NULL)) < 0 ||
            H5Dwrite(w->cols[c], mtype, mspace, fspace, H5P_DEFAULT, buf) < 0)
            goto fail;
        gar_h5_close(&fspace);
        gar_h5_close(&mspace);
    }
    if (w->sim[SIM_JUNK] >= 0) {
        what = gar_stack_sim_cols[SIM_JUNK].name;
        if (append_column(w->sim[SIM_JUNK], H5T_NATIVE_INT32, w->n, count, new_n, junk) < 0)
            goto fail;
        what = gar_stack_sim_cols[SIM_SCALE].name;
        if (append_column(w->sim[SIM_SCALE], H5T_NATIVE_DOUBLE, w->n, count, new_n, scale) < 0)
            goto fail;
    }
    w->n = new_n;
    goto done;

fail:
    w->broken = 1;
    st = gar_error(GAR_ERR_IO, "%s: /particles/%s: writing particles [%zu, %zu) failed (HDF5: %s)",
                   w->a.path, what, w->n, new_n, gar_h5_reason(why, sizeof why));
done:
    gar_h5_close(&fspace);
    gar_h5_close(&mspace);
    free(buf);
    return st;
}

gar_status gar_stack_writer_append(gar_stack_writer *w, const float *images,
                                   const gar_particle *meta, size_t count)
{
    return append(w, images, meta, NULL, NULL, count);
}

gar_status gar_stack_writer_append_sim(gar_stack_writer *w, const float *images,
                                       const gar_particle *meta, const int32_t *junk,
                                       const double *scale, size_t count)
{
    if (count > 0 && (junk == NULL || scale == NULL))
        return gar_error(GAR_ERR_INTERNAL, "gar_stack_writer_append_sim: junk or scale is NULL");
    return append(w, images, meta, junk, scale, count);
}

gar_status gar_stack_writer_add_sim_truth(gar_stack_writer *w)
{
    char why[256];
    gar_status st = GAR_OK;
    hid_t grp = -1;
    if (w == NULL)
        return gar_error(GAR_ERR_INTERNAL, "gar_stack_writer_add_sim_truth: writer is NULL");
    if (w->n > 0 || w->sim[0] >= 0)
        return gar_error(GAR_ERR_INTERNAL,
                         "%s: the ground-truth columns must be added once, before the first append",
                         w->a.path);
    gar_h5_quiet();
    if ((grp = H5Gopen2(w->file, "particles", H5P_DEFAULT)) < 0) {
        st = gar_error(GAR_ERR_IO, "%s: /particles: cannot open (HDF5: %s)", w->a.path,
                       gar_h5_reason(why, sizeof why));
        goto done;
    }
    for (size_t c = 0; c < NSIM; c++) {
        const coldef *d = &gar_stack_sim_cols[c];
        w->sim[c] = create_column(grp, d, d->kind == KIND_INT ? H5T_STD_I32LE : H5T_IEEE_F64LE, 0,
                                  H5S_UNLIMITED, COL_CHUNK);
        if (w->sim[c] < 0) {
            st = gar_error(GAR_ERR_IO, "%s: /particles/%s: cannot create (HDF5: %s)", w->a.path,
                           d->name, gar_h5_reason(why, sizeof why));
            w->broken = 1;
            goto done;
        }
    }
done:
    gar_h5_close(&grp);
    return st;
}

hid_t gar_stack_writer_hid(const gar_stack_writer *w) { return w->file; }
const char *gar_stack_writer_path(const gar_stack_writer *w) { return w->a.path; }
size_t gar_stack_writer_count(const gar_stack_writer *w) { return w->n; }
size_t gar_stack_writer_n_optics(const gar_stack_writer *w) { return w->n_optics; }

gar_status gar_stack_writer_commit(gar_stack_writer **wp)
{
    char why[256];
    gar_status st = GAR_OK;
    gar_stack_writer *w;
    int fd;

    if (wp == NULL || *wp == NULL)
        return gar_error(GAR_ERR_INTERNAL, "gar_stack_writer_commit: writer is NULL");
    w = *wp;
    *wp = NULL;
    gar_h5_quiet();
    if (w->broken) {
        st = gar_error(GAR_ERR_IO, "%s: an earlier append failed; the stack was not written",
                       w->a.path);
        goto done;
    }
    for (size_t c = 0; c < NCOLS; c++)
        gar_h5_close(&w->cols[c]);
    for (size_t c = 0; c < NSIM; c++)
        gar_h5_close(&w->sim[c]);
    gar_h5_close(&w->images);
    /* H5Fclose is where buffered chunks hit the disk, so its failure (disk
     * full, quota) is the write failure. */
    if (gar_h5_fclose(w->file) < 0) {
        w->file = -1;
        st = gar_error(GAR_ERR_IO, "%s: cannot finish writing %s (HDF5: %s)", w->a.path, w->a.tmp,
                       gar_h5_reason(why, sizeof why));
        goto done;
    }
    w->file = -1;
    /* Make the data durable before the rename makes it visible. */
    fd = open(w->a.tmp, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        st = gar_error(GAR_ERR_IO, "%s: cannot sync %s: %s", w->a.path, w->a.tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto done;
    }
    close(fd);
    st = gar_atomic_commit(&w->a);
done:
    writer_free(w);
    return st;
}

void gar_stack_writer_abort(gar_stack_writer **wp)
{
    if (wp == NULL || *wp == NULL)
        return;
    writer_free(*wp);
    *wp = NULL;
}
