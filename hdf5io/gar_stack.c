/* garner: the HDF5 particle stack. docs/FORMAT.md is the specification; this
 * file is one implementation of it, and other tools (h5py) write the same
 * files, so the reader accepts any integer/float storage type for a column and
 * both fixed- and variable-length strings, and checks everything it relies on.
 *
 * HDF5 never prints here: every public entry point silences its automatic
 * error printing, and failures become one gar_error() line naming the file
 * and dataset. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gar_stack.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#ifdef PACKAGE_VERSION
#define GAR_CREATOR "garner " PACKAGE_VERSION
#else
#define GAR_CREATOR "garner unknown"
#endif

/* Metadata chunk length: large enough that a million-particle column is a few
 * hundred chunks, small enough that a tiny stack stays small. */
#define COL_CHUNK 4096
#define NAME_LEN 64 /* sizeof ((gar_optics *)0)->name */
#define ALL_COLUMNS (GAR_COL_POSE | GAR_COL_ORIGIN | GAR_COL_CTF | GAR_COL_PHASE_SHIFT)
/* Optics groups of one stack must share a pixel size to this relative
 * tolerance: values come from STAR files printed with limited precision. */
#define PIXEL_SIZE_RTOL 1e-6
/* The largest ratio of raw image bytes to file size a compressed stack may
 * claim (deflate cannot exceed about 1032:1; particle images, mostly noise,
 * compress by about 1.15:1). */
#define GAR_STACK_MAX_COMPRESSION 2048
/* Fixed-length string types longer than this are refused before anything is
 * allocated for them: no string garner reads (names, format) comes close. */
#define MAX_STRING_TYPE 4096

typedef enum col_kind { KIND_FLOAT, KIND_INT, KIND_STRING } col_kind;

typedef struct coldef {
    const char *name;
    unsigned group; /* GAR_COL_* or 0: always present */
    col_kind kind;
    const char *units;
    const char *star_label;
    size_t offset; /* into gar_particle or gar_optics */
} coldef;

#define NCOLS 11
#define COL_HALF_SET 9
#define COL_OPTICS_GROUP 10
static const coldef particle_cols[NCOLS] = {
    {"rot_deg", GAR_COL_POSE, KIND_FLOAT, "deg", "rlnAngleRot", offsetof(gar_particle, rot_deg)},
    {"tilt_deg", GAR_COL_POSE, KIND_FLOAT, "deg", "rlnAngleTilt", offsetof(gar_particle, tilt_deg)},
    {"psi_deg", GAR_COL_POSE, KIND_FLOAT, "deg", "rlnAnglePsi", offsetof(gar_particle, psi_deg)},
    {"origin_x_A", GAR_COL_ORIGIN, KIND_FLOAT, "A", "rlnOriginXAngst",
     offsetof(gar_particle, origin_x_A)},
    {"origin_y_A", GAR_COL_ORIGIN, KIND_FLOAT, "A", "rlnOriginYAngst",
     offsetof(gar_particle, origin_y_A)},
    {"defocus_u_A", GAR_COL_CTF, KIND_FLOAT, "A", "rlnDefocusU", offsetof(gar_particle, defocus_u_A)},
    {"defocus_v_A", GAR_COL_CTF, KIND_FLOAT, "A", "rlnDefocusV", offsetof(gar_particle, defocus_v_A)},
    {"defocus_angle_deg", GAR_COL_CTF, KIND_FLOAT, "deg", "rlnDefocusAngle",
     offsetof(gar_particle, defocus_angle_deg)},
    {"phase_shift_deg", GAR_COL_PHASE_SHIFT, KIND_FLOAT, "deg", "rlnPhaseShift",
     offsetof(gar_particle, phase_shift_deg)},
    {"half_set", 0, KIND_INT, "1", "rlnRandomSubset", offsetof(gar_particle, half_set)},
    {"optics_group", 0, KIND_INT, "1", "rlnOpticsGroup", offsetof(gar_particle, optics_group)},
};

#define NOPT 7
static const coldef optics_cols[NOPT] = {
    {"optics_group", 0, KIND_INT, "1", "rlnOpticsGroup", offsetof(gar_optics, group)},
    {"name", 0, KIND_STRING, "", "rlnOpticsGroupName", offsetof(gar_optics, name)},
    {"pixel_size_A", 0, KIND_FLOAT, "A", "rlnImagePixelSize", offsetof(gar_optics, pixel_size_A)},
    {"voltage_kV", 0, KIND_FLOAT, "kV", "rlnVoltage", offsetof(gar_optics, voltage_kV)},
    {"cs_mm", 0, KIND_FLOAT, "mm", "rlnSphericalAberration", offsetof(gar_optics, cs_mm)},
    {"amplitude_contrast", 0, KIND_FLOAT, "1", "rlnAmplitudeContrast",
     offsetof(gar_optics, amplitude_contrast)},
    {"image_size", 0, KIND_INT, "px", "rlnImageSize", offsetof(gar_optics, image_size)},
};

/* Optics group number -> index in the table, sorted for bsearch: a stack may
 * hold millions of particles and hundreds of groups. */
typedef struct group_ix {
    int32_t group;
    size_t index;
} group_ix;

struct gar_stack_writer {
    char *path;
    char *tmp_path;
    int created; /* tmp_path exists and is ours to delete */
    int broken;  /* an append failed part way: the file must not be published */
    hid_t file, images, cols[NCOLS];
    size_t box, n;
    unsigned columns;
    gar_optics *optics;
    size_t n_optics;
    group_ix *groups;
};

struct gar_stack {
    char *path;
    hid_t file, images, cols[NCOLS];
    size_t n, box;
    unsigned columns;
    gar_optics *optics;
    size_t n_optics;
    group_ix *groups;
    /* The two int columns are read whole at open to validate them; keeping
     * them saves re-reading for every metadata range. */
    int32_t *half_set, *optics_group;
};

/* ------------------------------------------------------------------ helpers */

static void hdf5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* Closes and sets -1. Closing clears HDF5's error stack, which the caller
 * may still want for hdf5_reason(), so a pending stack is kept across it. */
static void close_id(hid_t *id)
{
    hid_t pending = -1;
    if (*id < 0)
        return;
    if (H5Eget_num(H5E_DEFAULT) > 0)
        pending = H5Eget_current_stack();
    switch (H5Iget_type(*id)) {
    case H5I_FILE: H5Fclose(*id); break;
    case H5I_GROUP: H5Gclose(*id); break;
    case H5I_DATASET: H5Dclose(*id); break;
    case H5I_DATASPACE: H5Sclose(*id); break;
    case H5I_DATATYPE: H5Tclose(*id); break;
    case H5I_ATTR: H5Aclose(*id); break;
    case H5I_GENPROP_LST: H5Pclose(*id); break;
    default: break;
    }
    if (pending >= 0)
        H5Eset_current_stack(pending);
    *id = -1;
}

typedef struct reason_buf {
    char *buf;
    size_t size;
} reason_buf;

static herr_t reason_walk(unsigned n, const H5E_error2_t *err, void *data)
{
    reason_buf *r = data;
    if (n == 0 && err->desc != NULL)
        snprintf(r->buf, r->size, "%s", err->desc);
    return 0;
}

/* The innermost message of HDF5's error stack ("truncated file: eof = ..."),
 * for the part of our message that says what HDF5 saw. Call right after the
 * failing HDF5 call: the next API call clears the stack. */
static const char *hdf5_reason(char *buf, size_t size)
{
    reason_buf r = {buf, size};
    snprintf(buf, size, "no detail");
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, reason_walk, &r);
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return buf;
}

/* Readers must work on mounts that refuse locks (NFS, Lustre), and a writer's
 * temporary file is private until renamed, so nobody here needs a lock. */
static hid_t make_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return -1;
#if H5_VERSION_GE(1, 10, 7)
    if (H5Pset_file_locking(fapl, 0, 1) < 0) {
        H5Pclose(fapl);
        return -1;
    }
#else
    setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1);
#endif
    return fapl;
}

static const char *type_desc(hid_t t, char *buf, size_t size)
{
    size_t bits = H5Tget_size(t) * 8;
    switch (H5Tget_class(t)) {
    case H5T_INTEGER:
        snprintf(buf, size, "%s%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "uint" : "int", bits);
        break;
    case H5T_FLOAT: snprintf(buf, size, "float%zu", bits); break;
    case H5T_STRING: snprintf(buf, size, "string"); break;
    case H5T_COMPOUND: snprintf(buf, size, "compound"); break;
    case H5T_ARRAY: snprintf(buf, size, "array"); break;
    case H5T_ENUM: snprintf(buf, size, "enum"); break;
    case H5T_VLEN: snprintf(buf, size, "variable-length sequence"); break;
    default: snprintf(buf, size, "an unsupported type"); break;
    }
    return buf;
}

static hid_t fixed_string_type(size_t len)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return -1;
    /* NULLPAD is numpy's "S" convention, so h5py reads these as bytes. */
    if (H5Tset_size(t, len > 0 ? len : 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

static herr_t write_str_attr(hid_t loc, const char *name, const char *value)
{
    hid_t type = -1, space = -1, attr = -1;
    herr_t ret = -1;
    size_t len = strlen(value);
    if ((type = fixed_string_type(len)) < 0 || (space = H5Screate(H5S_SCALAR)) < 0)
        goto done;
    if ((attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        goto done;
    /* An empty value is stored as one NUL (a zero-size type is invalid). */
    ret = H5Awrite(attr, type, len > 0 ? value : "");
done:
    close_id(&attr);
    close_id(&space);
    close_id(&type);
    return ret;
}

static herr_t write_int_attr(hid_t loc, const char *name, int32_t value)
{
    hid_t space = -1, attr = -1;
    herr_t ret = -1;
    if ((space = H5Screate(H5S_SCALAR)) < 0)
        goto done;
    if ((attr = H5Acreate2(loc, name, H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        goto done;
    ret = H5Awrite(attr, H5T_NATIVE_INT32, &value);
done:
    close_id(&attr);
    close_id(&space);
    return ret;
}

typedef enum attr_result { ATTR_OK, ATTR_MISSING, ATTR_BADTYPE, ATTR_TOOLONG, ATTR_UNREADABLE } attr_result;

static void reclaim_vlen(hid_t memtype, hid_t space, void *buf)
{
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(memtype, space, H5P_DEFAULT, buf);
#else
    H5Dvlen_reclaim(memtype, space, H5P_DEFAULT, buf);
#endif
}

/* A one-element string attribute, fixed or variable length (h5py writes a
 * Python str as a variable-length UTF-8 string). */
static attr_result read_str_attr(hid_t loc, const char *name, char *buf, size_t size)
{
    hid_t attr = -1, ftype = -1, mtype = -1, space = -1;
    attr_result r = ATTR_UNREADABLE;
    char *vstr = NULL, *tmp = NULL;
    htri_t exists = H5Aexists(loc, name);
    buf[0] = '\0';
    if (exists == 0) {
        r = ATTR_MISSING;
        goto done;
    }
    if (exists < 0 || (attr = H5Aopen(loc, name, H5P_DEFAULT)) < 0 ||
        (ftype = H5Aget_type(attr)) < 0 || (space = H5Aget_space(attr)) < 0)
        goto done;
    if (H5Tget_class(ftype) != H5T_STRING || H5Sget_simple_extent_npoints(space) != 1) {
        r = ATTR_BADTYPE;
        goto done;
    }
    if ((mtype = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0)
        goto done;
    if (H5Tis_variable_str(ftype) > 0) {
        if (H5Tset_size(mtype, H5T_VARIABLE) < 0 || H5Aread(attr, mtype, &vstr) < 0)
            goto done;
        /* A NULL variable-length string reads as "". */
        if (vstr != NULL && strlen(vstr) >= size) {
            r = ATTR_TOOLONG;
        } else {
            snprintf(buf, size, "%s", vstr ? vstr : "");
            r = ATTR_OK;
        }
        reclaim_vlen(mtype, space, &vstr);
    } else {
        size_t flen = H5Tget_size(ftype);
        if (flen > MAX_STRING_TYPE) { /* too long for any value read here */
            r = ATTR_TOOLONG;
            goto done;
        }
        if (flen == 0 || H5Tset_size(mtype, flen + 1) < 0 ||
            H5Tset_strpad(mtype, H5T_STR_NULLTERM) < 0)
            goto done;
        if (gar_calloc((void **)&tmp, flen + 1, 1, "string attribute") != GAR_OK)
            goto done;
        if (H5Aread(attr, mtype, tmp) < 0)
            goto done;
        if (strlen(tmp) >= size) {
            r = ATTR_TOOLONG;
        } else {
            snprintf(buf, size, "%s", tmp);
            r = ATTR_OK;
        }
    }
done:
    free(tmp);
    close_id(&mtype);
    close_id(&space);
    close_id(&ftype);
    close_id(&attr);
    return r;
}

/* A one-element integer attribute of any integer type (h5py writes int64). */
static attr_result read_int_attr(hid_t loc, const char *name, long long *value)
{
    hid_t attr = -1, ftype = -1, space = -1;
    attr_result r = ATTR_UNREADABLE;
    htri_t exists = H5Aexists(loc, name);
    if (exists == 0) {
        r = ATTR_MISSING;
        goto done;
    }
    if (exists < 0 || (attr = H5Aopen(loc, name, H5P_DEFAULT)) < 0 ||
        (ftype = H5Aget_type(attr)) < 0 || (space = H5Aget_space(attr)) < 0)
        goto done;
    if (H5Tget_class(ftype) != H5T_INTEGER || H5Sget_simple_extent_npoints(space) != 1) {
        r = ATTR_BADTYPE;
        goto done;
    }
    if (H5Aread(attr, H5T_NATIVE_LLONG, value) < 0)
        goto done;
    r = ATTR_OK;
done:
    close_id(&space);
    close_id(&ftype);
    close_id(&attr);
    return r;
}

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
    if (write_str_attr(dset, "units", c->units) < 0 ||
        write_str_attr(dset, "star_label", c->star_label) < 0)
        goto done;
    ret = dset;
    dset = -1;
done:
    close_id(&dset);
    close_id(&dcpl);
    close_id(&space);
    return ret;
}

static int cmp_group_ix(const void *a, const void *b)
{
    int32_t x = ((const group_ix *)a)->group, y = ((const group_ix *)b)->group;
    return (x > y) - (x < y);
}

static const gar_optics *find_group(const gar_optics *optics, const group_ix *ix, size_t n,
                                    int32_t group)
{
    group_ix key = {group, 0};
    const group_ix *hit = bsearch(&key, ix, n, sizeof *ix, cmp_group_ix);
    return hit ? &optics[hit->index] : NULL;
}

/* The optics rules shared by writer and reader, so garner never writes a stack
 * it would refuse to read. Builds the sorted group index. */
static gar_status check_optics(const char *path, const gar_optics *o, size_t n, size_t box,
                               group_ix **out)
{
    group_ix *ix = NULL;
    gar_status st;
    *out = NULL;
    if (n == 0)
        return gar_error(GAR_ERR_DATA, "%s: /optics: no optics groups, expected at least one", path);
    for (size_t i = 0; i < n; i++) {
        const gar_optics *g = &o[i];
        if (g->group < 1)
            return gar_error(GAR_ERR_DATA, "%s: /optics/optics_group: entry %zu is %d, expected >= 1",
                             path, i, (int)g->group);
        if (memchr(g->name, '\0', sizeof g->name) == NULL)
            return gar_error(GAR_ERR_DATA,
                             "%s: /optics/name: group %d: name is not NUL-terminated within %d bytes",
                             path, (int)g->group, NAME_LEN);
        if (!isfinite(g->pixel_size_A) || g->pixel_size_A <= 0)
            return gar_error(GAR_ERR_DATA,
                             "%s: /optics/pixel_size_A: group %d has %g, expected a finite value > 0",
                             path, (int)g->group, g->pixel_size_A);
        if (fabs(g->pixel_size_A - o[0].pixel_size_A) > PIXEL_SIZE_RTOL * o[0].pixel_size_A)
            return gar_error(GAR_ERR_DATA,
                             "%s: /optics/pixel_size_A: group %d has %g A but group %d has %g A; "
                             "garner needs one pixel size per stack",
                             path, (int)g->group, g->pixel_size_A, (int)o[0].group,
                             o[0].pixel_size_A);
        if (!isfinite(g->voltage_kV) || g->voltage_kV <= 0)
            return gar_error(GAR_ERR_DATA,
                             "%s: /optics/voltage_kV: group %d has %g, expected a finite value > 0",
                             path, (int)g->group, g->voltage_kV);
        if (!isfinite(g->cs_mm))
            return gar_error(GAR_ERR_DATA,
                             "%s: /optics/cs_mm: group %d has %g, expected a finite value", path,
                             (int)g->group, g->cs_mm);
        if (!isfinite(g->amplitude_contrast) || g->amplitude_contrast < 0 ||
            g->amplitude_contrast >= 1)
            return gar_error(GAR_ERR_DATA,
                             "%s: /optics/amplitude_contrast: group %d has %g, expected 0 <= value < 1",
                             path, (int)g->group, g->amplitude_contrast);
        if (g->image_size < 0 || (size_t)g->image_size != box)
            return gar_error(GAR_ERR_DATA,
                             "%s: /optics/image_size: group %d has %d, expected %zu (the image box)",
                             path, (int)g->group, (int)g->image_size, box);
    }
    st = gar_alloc((void **)&ix, n, sizeof *ix, "optics group index");
    if (st != GAR_OK)
        return st;
    for (size_t i = 0; i < n; i++) {
        ix[i].group = o[i].group;
        ix[i].index = i;
    }
    qsort(ix, n, sizeof *ix, cmp_group_ix);
    for (size_t i = 1; i < n; i++)
        if (ix[i].group == ix[i - 1].group) {
            st = gar_error(GAR_ERR_DATA, "%s: /optics/optics_group: group %d appears twice", path,
                           (int)ix[i].group);
            free(ix);
            return st;
        }
    *out = ix;
    return GAR_OK;
}

/* "rot_deg, tilt_deg, psi_deg" for messages about a partial column group. */
static const char *group_members(unsigned group, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t c = 0; c < NCOLS; c++) {
        if (particle_cols[c].group != group)
            continue;
        int k = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", particle_cols[c].name);
        if (k < 0 || (size_t)k >= size - used)
            break;
        used += (size_t)k;
    }
    return buf;
}

static char *dup_str(const char *s)
{
    size_t len = strlen(s) + 1;
    char *d = malloc(len);
    if (d)
        memcpy(d, s, len);
    return d;
}

/* ------------------------------------------------------------------ writing */

static void writer_free(gar_stack_writer *w, int unlink_tmp)
{
    if (w == NULL)
        return;
    hdf5_quiet();
    for (size_t c = 0; c < NCOLS; c++)
        close_id(&w->cols[c]);
    close_id(&w->images);
    close_id(&w->file);
    if (unlink_tmp && w->created)
        unlink(w->tmp_path);
    free(w->groups);
    free(w->optics);
    free(w->tmp_path);
    free(w->path);
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
        const coldef *d = &optics_cols[c];
        size_t elem = d->kind == KIND_STRING ? NAME_LEN
                      : d->kind == KIND_INT  ? sizeof(int32_t)
                                             : sizeof(double);
        /* Strings are written with the file type itself as memory type. */
        hid_t mtype = d->kind == KIND_INT ? H5T_NATIVE_INT32 : H5T_NATIVE_DOUBLE;
        ftype = d->kind == KIND_STRING ? fixed_string_type(NAME_LEN)
                : d->kind == KIND_INT  ? H5Tcopy(H5T_STD_I32LE)
                                       : H5Tcopy(H5T_IEEE_F64LE);
        for (size_t i = 0; i < m; i++)
            memcpy(buf + i * elem, (const char *)&w->optics[i] + d->offset, elem);
        if (ftype < 0 || (dset = create_column(grp, d, ftype, m, m, m)) < 0 ||
            H5Dwrite(dset, d->kind == KIND_STRING ? ftype : mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                     buf) < 0) {
            st = gar_error(GAR_ERR_IO, "%s: /optics/%s: cannot write (HDF5: %s)", w->path, d->name,
                           hdf5_reason(why, sizeof why));
            goto done;
        }
        close_id(&dset);
        close_id(&ftype);
    }
done:
    close_id(&dset);
    close_id(&ftype);
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
    size_t tmp_len;
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
    if (box < 2 || box % 2 != 0)
        return gar_error(GAR_ERR_DATA, "%s: /particles/images: box %zu, expected an even size >= 2",
                         path, box);
    if (box > GAR_STACK_MAX_BOX)
        return gar_error(GAR_ERR_DATA,
                         "%s: /particles/images: box %zu, more than the limit of %d", path, box,
                         GAR_STACK_MAX_BOX);
    hdf5_quiet();

    st = gar_calloc((void **)&w, 1, sizeof *w, "stack writer");
    if (st != GAR_OK)
        return st;
    w->file = w->images = -1;
    for (size_t c = 0; c < NCOLS; c++)
        w->cols[c] = -1;
    w->box = box;
    w->columns = columns;
    w->n_optics = n_optics;
    st = check_optics(path, optics, n_optics, box, &w->groups);
    if (st != GAR_OK)
        goto done;
    st = gar_alloc((void **)&w->optics, n_optics, sizeof *optics, "optics table");
    if (st != GAR_OK)
        goto done;
    memcpy(w->optics, optics, n_optics * sizeof *optics);
    tmp_len = strlen(path) + 32;
    w->path = dup_str(path);
    w->tmp_path = malloc(tmp_len);
    if (w->path == NULL || w->tmp_path == NULL) {
        st = gar_error(GAR_ERR_NOMEM, "%s: cannot allocate the path", path);
        goto done;
    }
    /* The pid keeps two writers of the same output from sharing a temp file. */
    snprintf(w->tmp_path, tmp_len, "%s.tmp-%ld", path, (long)getpid());

    if ((fapl = make_fapl()) < 0) {
        st = gar_error(GAR_ERR_INTERNAL, "%s: cannot set up HDF5 file access (HDF5: %s)", path,
                       hdf5_reason(why, sizeof why));
        goto done;
    }
    w->file = H5Fcreate(w->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (w->file < 0) {
        st = gar_error(GAR_ERR_OUTPUT, "%s: cannot create %s (HDF5: %s)", path, w->tmp_path,
                       hdf5_reason(why, sizeof why));
        goto done;
    }
    w->created = 1;

    if (gmtime_r(&now, &tm_utc) == NULL ||
        strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm_utc) == 0)
        snprintf(created, sizeof created, "unknown");
    if ((root = H5Gopen2(w->file, "/", H5P_DEFAULT)) < 0 ||
        write_str_attr(root, "format", GAR_STACK_FORMAT) < 0 ||
        write_int_attr(root, "format_version", GAR_STACK_FORMAT_VERSION) < 0 ||
        write_str_attr(root, "creator", GAR_CREATOR) < 0 ||
        write_str_attr(root, "created", created) < 0 ||
        write_str_attr(root, "provenance", provenance ? provenance : "") < 0) {
        st = gar_error(GAR_ERR_IO, "%s: cannot write the root attributes (HDF5: %s)", path,
                       hdf5_reason(why, sizeof why));
        goto done;
    }

    if ((grp_p = H5Gcreate2(w->file, "particles", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        (grp_o = H5Gcreate2(w->file, "optics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
        st = gar_error(GAR_ERR_IO, "%s: cannot create /particles and /optics (HDF5: %s)", path,
                       hdf5_reason(why, sizeof why));
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
                       hdf5_reason(why, sizeof why));
        goto done;
    }

    for (size_t c = 0; c < NCOLS; c++) {
        const coldef *d = &particle_cols[c];
        if (d->group != 0 && !(columns & d->group))
            continue;
        w->cols[c] = create_column(grp_p, d, d->kind == KIND_INT ? H5T_STD_I32LE : H5T_IEEE_F64LE,
                                   0, H5S_UNLIMITED, COL_CHUNK);
        if (w->cols[c] < 0) {
            st = gar_error(GAR_ERR_IO, "%s: /particles/%s: cannot create (HDF5: %s)", path,
                           d->name, hdf5_reason(why, sizeof why));
            goto done;
        }
    }

    st = write_optics(w, grp_o);

done:
    close_id(&dcpl);
    close_id(&space);
    close_id(&grp_o);
    close_id(&grp_p);
    close_id(&root);
    close_id(&fapl);
    if (st != GAR_OK)
        writer_free(w, 1);
    else
        *out = w;
    return st;
}

/* Everything an append checks before touching the file, so a refused append
 * leaves the stack as it was. */
static gar_status check_append(const gar_stack_writer *w, const float *images,
                               const gar_particle *meta, size_t count)
{
    size_t pixels = w->box * w->box;
    for (size_t i = 0; i < count; i++) {
        const gar_particle *p = &meta[i];
        size_t idx = w->n + i;
        if (p->half_set != 1 && p->half_set != 2)
            return gar_error(GAR_ERR_DATA,
                             "%s: /particles/half_set: particle %zu has %d, expected 1 or 2", w->path,
                             idx, (int)p->half_set);
        if (find_group(w->optics, w->groups, w->n_optics, p->optics_group) == NULL)
            return gar_error(GAR_ERR_DATA,
                             "%s: /particles/optics_group: particle %zu has %d, not in /optics",
                             w->path, idx, (int)p->optics_group);
        for (size_t c = 0; c < NCOLS; c++) {
            const coldef *d = &particle_cols[c];
            double v;
            if (d->kind != KIND_FLOAT || !(w->columns & d->group))
                continue;
            memcpy(&v, (const char *)p + d->offset, sizeof v);
            if (!isfinite(v))
                return gar_error(GAR_ERR_DATA,
                                 "%s: /particles/%s: particle %zu has %g, expected a finite value",
                                 w->path, d->name, idx, v);
        }
        /* A NaN pixel would silently poison every average it enters. */
        for (size_t k = 0; k < pixels; k++)
            if (!isfinite(images[i * pixels + k]))
                return gar_error(GAR_ERR_DATA,
                                 "%s: /particles/images: particle %zu has %g at pixel (%zu, %zu), "
                                 "expected finite values",
                                 w->path, idx, (double)images[i * pixels + k], k % w->box,
                                 k / w->box);
    }
    return GAR_OK;
}

gar_status gar_stack_writer_append(gar_stack_writer *w, const float *images,
                                   const gar_particle *meta, size_t count)
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
    if (count == 0)
        return GAR_OK;
    if (images == NULL || meta == NULL)
        return gar_error(GAR_ERR_INTERNAL, "%s: append: images or metadata is NULL", w->path);
    if (w->broken)
        return gar_error(GAR_ERR_IO, "%s: an earlier append failed; the stack cannot be completed",
                         w->path);
    if (count > SIZE_MAX - w->n || !gar_size_mul3(count, w->box, w->box, &floats))
        return gar_error(GAR_ERR_NOMEM, "%s: append of %zu particles is too large", w->path, count);
    new_n = w->n + count;
    st = check_append(w, images, meta, count);
    if (st == GAR_OK)
        st = gar_alloc(&buf, count, sizeof(double), "metadata column");
    if (st != GAR_OK)
        return st;
    hdf5_quiet();

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
    close_id(&fspace);
    close_id(&mspace);

    for (size_t c = 0; c < NCOLS; c++) {
        const coldef *d = &particle_cols[c];
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
        close_id(&fspace);
        close_id(&mspace);
    }
    w->n = new_n;
    goto done;

fail:
    w->broken = 1;
    st = gar_error(GAR_ERR_IO, "%s: /particles/%s: writing particles [%zu, %zu) failed (HDF5: %s)",
                   w->path, what, w->n, new_n, hdf5_reason(why, sizeof why));
done:
    close_id(&fspace);
    close_id(&mspace);
    free(buf);
    return st;
}

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
    hdf5_quiet();
    if (w->broken) {
        st = gar_error(GAR_ERR_IO, "%s: an earlier append failed; the stack was not written",
                       w->path);
        goto done;
    }
    for (size_t c = 0; c < NCOLS; c++)
        close_id(&w->cols[c]);
    close_id(&w->images);
    /* H5Fclose is where buffered chunks hit the disk, so its failure (disk
     * full, quota) is the write failure. */
    if (H5Fclose(w->file) < 0) {
        w->file = -1;
        st = gar_error(GAR_ERR_IO, "%s: cannot finish writing %s (HDF5: %s)", w->path, w->tmp_path,
                       hdf5_reason(why, sizeof why));
        goto done;
    }
    w->file = -1;
    /* Make the data durable before the rename makes it visible. */
    fd = open(w->tmp_path, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        st = gar_error(GAR_ERR_IO, "%s: cannot sync %s: %s", w->path, w->tmp_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto done;
    }
    close(fd);
    if (rename(w->tmp_path, w->path) != 0) {
        st = gar_error(GAR_ERR_OUTPUT, "%s: cannot rename %s into place: %s", w->path, w->tmp_path,
                       strerror(errno));
        goto done;
    }
    w->created = 0;
done:
    writer_free(w, 1);
    return st;
}

void gar_stack_writer_abort(gar_stack_writer **wp)
{
    if (wp == NULL || *wp == NULL)
        return;
    writer_free(*wp, 1);
    *wp = NULL;
}

/* ------------------------------------------------------------------ reading */

/* Opens /<grp>/<name> and checks it is a 1-D dataset of the given kind;
 * *len gets its length. Returns -1 with the message set. */
static hid_t open_column(const char *path, hid_t grp, const char *grpname, const coldef *d,
                         hsize_t *len, gar_status *st)
{
    char tdesc[64], why[256];
    hid_t dset = -1, type = -1, space = -1, ret = -1;
    H5T_class_t want = d->kind == KIND_INT ? H5T_INTEGER
                       : d->kind == KIND_FLOAT ? H5T_FLOAT
                                               : H5T_STRING;
    const char *want_desc = d->kind == KIND_INT     ? "an integer type (int32)"
                            : d->kind == KIND_FLOAT ? "a float type (float64)"
                                                    : "a string type";
    int rank;

    if ((dset = H5Dopen2(grp, d->name, H5P_DEFAULT)) < 0) {
        *st = gar_error(GAR_ERR_DATA, "%s: /%s/%s: not a readable dataset (HDF5: %s)", path,
                        grpname, d->name, hdf5_reason(why, sizeof why));
        goto done;
    }
    if ((type = H5Dget_type(dset)) < 0 || (space = H5Dget_space(dset)) < 0) {
        *st = gar_error(GAR_ERR_DATA, "%s: /%s/%s: cannot read its type and shape (HDF5: %s)", path,
                        grpname, d->name, hdf5_reason(why, sizeof why));
        goto done;
    }
    if (H5Tget_class(type) != want) {
        *st = gar_error(GAR_ERR_DATA, "%s: /%s/%s: dtype %s, expected %s", path, grpname, d->name,
                        type_desc(type, tdesc, sizeof tdesc), want_desc);
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
    close_id(&space);
    close_id(&type);
    close_id(&dset);
    return ret;
}

static gar_status check_root(gar_stack *s)
{
    char fmt[64];
    long long version = 0;
    attr_result r = read_str_attr(s->file, "format", fmt, sizeof fmt);
    if (r == ATTR_MISSING)
        return gar_error(GAR_ERR_DATA,
                         "%s: not a garner stack (no root attribute format = \"%s\")", s->path,
                         GAR_STACK_FORMAT);
    if (r != ATTR_OK)
        return gar_error(GAR_ERR_DATA,
                         "%s: not a garner stack (root attribute format is not the string \"%s\")",
                         s->path, GAR_STACK_FORMAT);
    if (strcmp(fmt, GAR_STACK_FORMAT) != 0)
        return gar_error(GAR_ERR_DATA,
                         "%s: not a garner stack (root attribute format is \"%s\", expected \"%s\")",
                         s->path, fmt, GAR_STACK_FORMAT);
    r = read_int_attr(s->file, "format_version", &version);
    if (r == ATTR_MISSING)
        return gar_error(GAR_ERR_DATA,
                         "%s: root attribute format_version is missing, expected an integer (%d)",
                         s->path, GAR_STACK_FORMAT_VERSION);
    if (r != ATTR_OK)
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

/* Whether the images dataset has a filter that compresses (anything but the
 * Fletcher32 checksum and the byte shuffle); -1 when HDF5 cannot say. */
static int images_compressed(hid_t dset)
{
    hid_t dcpl = H5Dget_create_plist(dset);
    int n, ret = 0;
    if (dcpl < 0)
        return -1;
    n = H5Pget_nfilters(dcpl);
    if (n < 0)
        ret = -1;
    for (int i = 0; i < n && ret == 0; i++) {
        unsigned flags = 0, config = 0;
        size_t nvalues = 0;
        char fname[8];
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &nvalues, NULL, sizeof fname,
                                         fname, &config);
        if (id < 0)
            ret = -1;
        else if (id != H5Z_FILTER_FLETCHER32 && id != H5Z_FILTER_SHUFFLE)
            ret = 1;
    }
    H5Pclose(dcpl);
    return ret;
}

/* The image count comes from the dataset's shape, which costs nothing to
 * declare: a few hundred bytes can claim 10^12 images whose chunks were never
 * written (they read as zeros). Everything sized by the count (the half_set
 * and optics_group columns read at open, a run's batches) is bounded by
 * requiring the file to be able to hold the images: their raw size at most
 * the file size, or GAR_STACK_MAX_COMPRESSION times it with a compression
 * filter. A file that fails this is truncated or was never finished. */
static gar_status check_images_fit(const gar_stack *s, hid_t dset, size_t n, size_t box,
                                   size_t raw_bytes)
{
    char why[256];
    hsize_t file_size = 0;
    int compressed;
    if (n == 0)
        return GAR_OK;
    if (H5Fget_filesize(s->file, &file_size) < 0)
        return gar_error(GAR_ERR_DATA, "%s: cannot read the file size (HDF5: %s)", s->path,
                         hdf5_reason(why, sizeof why));
    compressed = images_compressed(dset);
    if (compressed < 0)
        return gar_error(GAR_ERR_DATA, "%s: /particles/images: cannot read its filters (HDF5: %s)",
                         s->path, hdf5_reason(why, sizeof why));
    if (compressed == 0 && raw_bytes > file_size)
        return gar_error(GAR_ERR_DATA,
                         "%s: /particles/images: %zu images of %zu x %zu need %zu bytes, the file "
                         "has %llu (truncated, or the images were never written)",
                         s->path, n, box, box, raw_bytes, (unsigned long long)file_size);
    if (compressed == 1 && raw_bytes / GAR_STACK_MAX_COMPRESSION > file_size)
        return gar_error(GAR_ERR_DATA,
                         "%s: /particles/images: %zu images of %zu x %zu need %zu bytes, more than "
                         "%d times the file's %llu even compressed (truncated, or the images were "
                         "never written)",
                         s->path, n, box, box, raw_bytes, GAR_STACK_MAX_COMPRESSION,
                         (unsigned long long)file_size);
    return GAR_OK;
}

static gar_status open_images(gar_stack *s, hid_t grp)
{
    char tdesc[64], why[256];
    gar_status st = GAR_OK;
    hid_t dset = -1, type = -1, space = -1, dapl = -1;
    hsize_t dims[3];
    size_t floats, image_bytes, cache_bytes, slots;
    int rank;
    htri_t exists = H5Lexists(grp, "images", H5P_DEFAULT);

    if (exists <= 0) {
        st = gar_error(GAR_ERR_DATA, "%s: /particles/images: missing", s->path);
        goto done;
    }
    if ((dset = H5Dopen2(grp, "images", H5P_DEFAULT)) < 0 || (type = H5Dget_type(dset)) < 0 ||
        (space = H5Dget_space(dset)) < 0) {
        st = gar_error(GAR_ERR_DATA, "%s: /particles/images: not a readable dataset (HDF5: %s)",
                       s->path, hdf5_reason(why, sizeof why));
        goto done;
    }
    if (H5Tget_class(type) != H5T_FLOAT || H5Tget_size(type) != 4) {
        st = gar_error(GAR_ERR_DATA, "%s: /particles/images: dtype %s, expected float32", s->path,
                       type_desc(type, tdesc, sizeof tdesc));
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
    if (dims[1] < 2 || dims[1] % 2 != 0) {
        st = gar_error(GAR_ERR_DATA, "%s: /particles/images: box %llu, expected an even size >= 2",
                       s->path, (unsigned long long)dims[1]);
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
    st = check_images_fit(s, dset, (size_t)dims[0], (size_t)dims[1], floats);
    if (st != GAR_OK)
        goto done;
    s->n = (size_t)dims[0];
    s->box = (size_t)dims[1];
    close_id(&dset);

    /* Room for 8 images (at least HDF5's default 1 MiB) so a partial read
     * never evicts a chunk it still needs; w0 = 1 because images are read
     * once. Slots about 100x the chunks that fit, prime, as HDF5 advises. */
    image_bytes = s->box * s->box * sizeof(float);
    cache_bytes = image_bytes <= (SIZE_MAX / 8) ? 8 * image_bytes : SIZE_MAX;
    if (cache_bytes < ((size_t)1 << 20))
        cache_bytes = (size_t)1 << 20;
    slots = 100 * (cache_bytes / image_bytes);
    if (slots > 10007) /* the slot array is allocated up front */
        slots = 10007;
    while (!is_prime(slots))
        slots++;
    if ((dapl = H5Pcreate(H5P_DATASET_ACCESS)) < 0 ||
        H5Pset_chunk_cache(dapl, slots, cache_bytes, 1.0) < 0 ||
        (s->images = H5Dopen2(grp, "images", dapl)) < 0) {
        st = gar_error(GAR_ERR_DATA, "%s: /particles/images: cannot open (HDF5: %s)", s->path,
                       hdf5_reason(why, sizeof why));
        goto done;
    }
done:
    close_id(&dapl);
    close_id(&space);
    close_id(&type);
    close_id(&dset);
    return st;
}

static gar_status open_columns(gar_stack *s, hid_t grp)
{
    char why[256], members[128];
    gar_status st = GAR_OK;
    int present[NCOLS] = {0};
    static const unsigned groups[] = {GAR_COL_POSE, GAR_COL_ORIGIN, GAR_COL_CTF,
                                      GAR_COL_PHASE_SHIFT};

    for (size_t c = 0; c < NCOLS; c++) {
        const coldef *d = &particle_cols[c];
        hsize_t len = 0;
        htri_t exists = H5Lexists(grp, d->name, H5P_DEFAULT);
        if (exists < 0)
            return gar_error(GAR_ERR_DATA, "%s: /particles/%s: cannot look it up (HDF5: %s)",
                             s->path, d->name, hdf5_reason(why, sizeof why));
        if (exists == 0) {
            if (d->group == 0)
                return gar_error(GAR_ERR_DATA, "%s: /particles/%s: missing (always required)",
                                 s->path, d->name);
            continue;
        }
        s->cols[c] = open_column(s->path, grp, "particles", d, &len, &st);
        if (st != GAR_OK)
            return st;
        if (len != s->n)
            return gar_error(GAR_ERR_DATA,
                             "%s: /particles/%s: %llu entries, expected %zu (one per image)",
                             s->path, d->name, (unsigned long long)len, s->n);
        present[c] = 1;
    }
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        const char *have = NULL, *lack = NULL;
        for (size_t c = 0; c < NCOLS; c++) {
            if (particle_cols[c].group != groups[g])
                continue;
            if (present[c] && have == NULL)
                have = particle_cols[c].name;
            if (!present[c] && lack == NULL)
                lack = particle_cols[c].name;
        }
        if (have != NULL && lack != NULL)
            return gar_error(GAR_ERR_DATA,
                             "%s: /particles/%s: missing, but %s is present (%s come together)",
                             s->path, lack, have, group_members(groups[g], members, sizeof members));
        if (have != NULL)
            s->columns |= groups[g];
    }
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
        if (flen > MAX_STRING_TYPE) {
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
                   hdf5_reason(why, sizeof why));
done:
    if (vlen_read)
        reclaim_vlen(mtype, space, vbuf);
    free(vbuf);
    free(fbuf);
    close_id(&space);
    close_id(&mtype);
    close_id(&ftype);
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
        const coldef *d = &optics_cols[c];
        hsize_t len = 0;
        exists = H5Lexists(grp, d->name, H5P_DEFAULT);
        if (exists <= 0) {
            st = gar_error(GAR_ERR_DATA, "%s: /optics/%s: missing", s->path, d->name);
            goto done;
        }
        dset = open_column(s->path, grp, "optics", d, &len, &st);
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
                               d->name, hdf5_reason(why, sizeof why));
                goto done;
            }
            for (size_t i = 0; i < s->n_optics; i++)
                memcpy((char *)&s->optics[i] + d->offset, (char *)buf + i * elem, elem);
        }
        close_id(&dset);
    }
    st = check_optics(s->path, s->optics, s->n_optics, s->box, &s->groups);
done:
    free(buf);
    close_id(&dset);
    close_id(&grp);
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
        const coldef *d = &particle_cols[which[k]];
        st = gar_alloc((void **)dest[k], s->n, sizeof(int32_t), d->name);
        if (st != GAR_OK)
            return st;
        if (s->n > 0 &&
            H5Dread(s->cols[which[k]], H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, *dest[k]) < 0)
            return gar_error(GAR_ERR_DATA,
                             "%s: /particles/%s: unreadable, checksum mismatch or file corrupt "
                             "(HDF5: %s)",
                             s->path, d->name, hdf5_reason(why, sizeof why));
    }
    for (size_t i = 0; i < s->n; i++) {
        if (s->half_set[i] != 1 && s->half_set[i] != 2)
            return gar_error(GAR_ERR_DATA,
                             "%s: /particles/half_set: particle %zu has %d, expected 1 or 2", s->path,
                             i, (int)s->half_set[i]);
        if (find_group(s->optics, s->groups, s->n_optics, s->optics_group[i]) == NULL)
            return gar_error(GAR_ERR_DATA,
                             "%s: /particles/optics_group: particle %zu has %d, not in "
                             "/optics/optics_group",
                             s->path, i, (int)s->optics_group[i]);
    }
    return GAR_OK;
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
    s->path = dup_str(path);
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
                       hdf5_reason(why, sizeof why));
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
    close_id(&grp);
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
    hdf5_quiet();

    st = stack_new(path, &s);
    if (st != GAR_OK)
        return st;
    if ((fapl = make_fapl()) < 0) {
        st = gar_error(GAR_ERR_INTERNAL, "%s: cannot set up HDF5 file access (HDF5: %s)", path,
                       hdf5_reason(why, sizeof why));
        goto done;
    }
    st = open_and_validate(s, path, fapl);
done:
    close_id(&fapl);
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
    hdf5_quiet();
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
                       name, len, hdf5_reason(why, sizeof why));
        goto done;
    }
    /* HDF5 takes two open files of the same name for one: every image gets
     * its own name. */
    snprintf(hdf5_name, sizeof hdf5_name, "/dev/null/garner-file-image-%lu",
             (unsigned long)atomic_fetch_add(&image_count, 1));
    st = open_and_validate(s, hdf5_name, fapl);
done:
    close_id(&fapl);
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
    hdf5_quiet();
    for (size_t c = 0; c < NCOLS; c++)
        close_id(&s->cols[c]);
    close_id(&s->images);
    close_id(&s->file);
    free(s->half_set);
    free(s->optics_group);
    free(s->groups);
    free(s->optics);
    free(s->path);
    free(s);
    *sp = NULL;
}

const char *gar_stack_path(const gar_stack *s) { return s ? s->path : NULL; }
size_t gar_stack_count(const gar_stack *s) { return s ? s->n : 0; }
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
    return s ? find_group(s->optics, s->groups, s->n_optics, group) : NULL;
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
    close_id(&mspace);
    close_id(&fspace);
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
    hdf5_quiet();
    if (read_slab(s->images, H5T_NATIVE_FLOAT, 3, first, count, s->box, out) >= 0)
        return GAR_OK;
    hdf5_reason(why, sizeof why);
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
    hdf5_quiet();
    memset(out, 0, count * sizeof *out);
    st = gar_alloc((void **)&buf, count, sizeof *buf, "metadata column");
    if (st != GAR_OK)
        goto done;
    for (size_t c = 0; c < NCOLS; c++) {
        const coldef *d = &particle_cols[c];
        if (d->kind != KIND_FLOAT || s->cols[c] < 0)
            continue;
        if (read_slab(s->cols[c], H5T_NATIVE_DOUBLE, 1, first, count, 0, buf) < 0) {
            st = gar_error(GAR_ERR_DATA,
                           "%s: /particles/%s: particles [%zu, %zu) unreadable, checksum mismatch "
                           "or file corrupt (HDF5: %s)",
                           s->path, d->name, first, first + count, hdf5_reason(why, sizeof why));
            goto done;
        }
        /* The writer's rule, applied to files from other tools: a NaN
         * defocus or angle would silently spoil every voxel it touches. */
        for (size_t i = 0; i < count; i++) {
            if (!isfinite(buf[i])) {
                st = gar_error(GAR_ERR_DATA,
                               "%s: /particles/%s: particle %zu has %g, expected a finite value",
                               s->path, d->name, first + i, buf[i]);
                goto done;
            }
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
