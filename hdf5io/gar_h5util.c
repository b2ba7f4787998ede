/* garner: small HDF5 helpers (see gar_h5util.h). */
#include "gar_h5util.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "gar_status.h"

static herr_t write_attr(hid_t loc, const char *name, hid_t ftype, hid_t mtype, const void *v)
{
    hid_t s = H5Screate(H5S_SCALAR), a = -1;
    herr_t e = -1;
    if (s >= 0 && (a = H5Acreate2(loc, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT)) >= 0)
        e = H5Awrite(a, mtype, v);
    if (a >= 0)
        H5Aclose(a);
    if (s >= 0)
        H5Sclose(s);
    return e;
}

static herr_t read_attr(hid_t loc, const char *name, hid_t mtype, void *v)
{
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    herr_t e = -1;
    if (a >= 0) {
        e = H5Aread(a, mtype, v);
        H5Aclose(a);
    }
    return e;
}

herr_t gar_h5_write_attr_u64(hid_t loc, const char *name, uint64_t v)
{
    return write_attr(loc, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &v);
}

herr_t gar_h5_read_attr_u64(hid_t loc, const char *name, uint64_t *v)
{
    return read_attr(loc, name, H5T_NATIVE_UINT64, v);
}

herr_t gar_h5_write_attr_f64(hid_t loc, const char *name, double v)
{
    return write_attr(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

herr_t gar_h5_read_attr_f64(hid_t loc, const char *name, double *v)
{
    return read_attr(loc, name, H5T_NATIVE_DOUBLE, v);
}

herr_t gar_h5_write_attr_string(hid_t loc, const char *name, const char *v)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    herr_t e = -1;
    if (t >= 0 && H5Tset_size(t, strlen(v) + 1) >= 0)
        e = write_attr(loc, name, t, t, v);
    if (t >= 0)
        H5Tclose(t);
    return e;
}

int gar_h5_attr_string_is(hid_t loc, const char *name, const char *v)
{
    hid_t a = -1, t = -1, m = -1;
    int same = 0;
    char buf[256];
    if (H5Aexists(loc, name) <= 0 || (a = H5Aopen(loc, name, H5P_DEFAULT)) < 0)
        return 0;
    if ((t = H5Aget_type(a)) >= 0 && H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t) &&
        H5Tget_size(t) < sizeof buf && (m = H5Tcopy(H5T_C_S1)) >= 0 && H5Tset_size(m, sizeof buf) >= 0) {
        memset(buf, 0, sizeof buf);
        if (H5Aread(a, m, buf) >= 0)
            same = strcmp(buf, v) == 0;
    }
    if (m >= 0)
        H5Tclose(m);
    if (t >= 0)
        H5Tclose(t);
    H5Aclose(a);
    return same;
}

herr_t gar_h5_write_column(hid_t loc, const char *name, hid_t mtype, hid_t ftype, const void *buf, size_t n)
{
    hsize_t dims = n;
    hid_t s = H5Screate_simple(1, &dims, NULL), d = -1;
    herr_t e = -1;
    if (s >= 0 && (d = H5Dcreate2(loc, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0)
        e = H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    if (d >= 0)
        H5Dclose(d);
    if (s >= 0)
        H5Sclose(s);
    return e;
}

herr_t gar_h5_read_column(hid_t loc, const char *name, hid_t mtype, void *buf, size_t n)
{
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT), s = -1;
    herr_t e = -1;
    if (d >= 0 && (s = H5Dget_space(d)) >= 0 && H5Sget_simple_extent_ndims(s) == 1 &&
        H5Sget_simple_extent_npoints(s) == (hssize_t)n)
        e = H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    if (s >= 0)
        H5Sclose(s);
    if (d >= 0)
        H5Dclose(d);
    return e;
}

hid_t gar_h5_create_temp(gar_atomic *a, const char *path)
{
    hid_t f;
    if (gar_atomic_begin(a, path, 0) != GAR_OK)
        return -1;
    f = H5Fcreate(a->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        gar_atomic_abort(a);
    return f;
}

/* Set when a file could not be closed: HDF5 1.10 leaves it half closed and
 * its exit handler then crashes on it (issue 18, case 13: a full disk or
 * ulimit -f, the error printed, then exit 139). */
static int unclosed_files;

int gar_h5_fclose(hid_t f)
{
    if (H5Fclose(f) < 0) {
        unclosed_files = 1;
        return -1;
    }
    return 0;
}

int gar_h5_unclosed_files(void) { return unclosed_files; }

int gar_h5_finish_temp(hid_t f, gar_atomic *a, int failed)
{
    int rc = failed ? -3 : 0;
    if (f >= 0 && gar_h5_fclose(f) < 0 && rc == 0)
        rc = -1;
    if (rc == 0 && gar_atomic_commit(a) != GAR_OK)
        rc = -2;
    if (rc != 0)
        gar_atomic_abort(a);
    return rc;
}

/* ------------------------------------------------------------------ shared with the stack */

void gar_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* Closes and sets -1. Closing clears HDF5's error stack, which the caller
 * may still want for gar_h5_reason(), so a pending stack is kept across it. */
void gar_h5_close(hid_t *id)
{
    hid_t pending = -1;
    if (*id < 0)
        return;
    if (H5Eget_num(H5E_DEFAULT) > 0)
        pending = H5Eget_current_stack();
    switch (H5Iget_type(*id)) {
    case H5I_FILE: gar_h5_fclose(*id); break;
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
const char *gar_h5_reason(char *buf, size_t size)
{
    reason_buf r = {buf, size};
    snprintf(buf, size, "no detail");
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, reason_walk, &r);
    /* A failed system call is described as "file write failed: time = ...,
     * filename = ..., errno = 28, error message = 'No space left on
     * device', ..."; the system's words are what a user acts on. */
    {
        const char *m = strstr(buf, "error message = '");
        if (m != NULL) {
            char sys[160];
            const char *e;
            m += strlen("error message = '");
            e = strchr(m, '\'');
            snprintf(sys, sizeof sys, "%.*s", e ? (int)(e - m) : 120, m);
            snprintf(buf, size, "%s", sys);
        }
    }
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return buf;
}

/* Readers must work on mounts that refuse locks (NFS, Lustre), and a writer's
 * temporary file is private until renamed, so nobody here needs a lock. */
hid_t gar_h5_fapl_nolock(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return -1;
    /* HDF5 opens the sources of virtual datasets and the targets of
     * external links itself, with its default locking, and refuses to open
     * one file twice with different locking ("file locking flag values
     * don't match"): a VDS source then reads as zeros, without an error.
     * The variable, which HDF5 reads at each open and which overrides the
     * property, makes every open in the process agree (a user's own
     * setting is kept: it applies to all opens alike). */
    setenv("HDF5_USE_FILE_LOCKING", "FALSE", 0);
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

const char *gar_h5_type_desc(hid_t t, char *buf, size_t size)
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

hid_t gar_h5_nullpad_type(size_t len)
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

herr_t gar_h5_write_attr_nullpad(hid_t loc, const char *name, const char *value)
{
    hid_t type = -1, space = -1, attr = -1;
    herr_t ret = -1;
    size_t len = strlen(value);
    if ((type = gar_h5_nullpad_type(len)) < 0 || (space = H5Screate(H5S_SCALAR)) < 0)
        goto done;
    if ((attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        goto done;
    /* An empty value is stored as one NUL (a zero-size type is invalid). */
    ret = H5Awrite(attr, type, len > 0 ? value : "");
done:
    gar_h5_close(&attr);
    gar_h5_close(&space);
    gar_h5_close(&type);
    return ret;
}

herr_t gar_h5_write_attr_i32(hid_t loc, const char *name, int32_t value)
{
    hid_t space = -1, attr = -1;
    herr_t ret = -1;
    if ((space = H5Screate(H5S_SCALAR)) < 0)
        goto done;
    if ((attr = H5Acreate2(loc, name, H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        goto done;
    ret = H5Awrite(attr, H5T_NATIVE_INT32, &value);
done:
    gar_h5_close(&attr);
    gar_h5_close(&space);
    return ret;
}

void gar_h5_reclaim_vlen(hid_t memtype, hid_t space, void *buf)
{
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(memtype, space, H5P_DEFAULT, buf);
#else
    H5Dvlen_reclaim(memtype, space, H5P_DEFAULT, buf);
#endif
}

/* Open the attribute `name` of loc and check it holds one element of class
 * `want`. *attr, *ftype and *space (-1 on entry) may be open whatever the
 * result; the caller closes them. */
static gar_h5_attr open_attr(hid_t loc, const char *name, H5T_class_t want, hid_t *attr,
                             hid_t *ftype, hid_t *space)
{
    htri_t exists = H5Aexists(loc, name);
    if (exists == 0)
        return GAR_H5_ATTR_MISSING;
    if (exists < 0 || (*attr = H5Aopen(loc, name, H5P_DEFAULT)) < 0 ||
        (*ftype = H5Aget_type(*attr)) < 0 || (*space = H5Aget_space(*attr)) < 0)
        return GAR_H5_ATTR_UNREADABLE;
    if (H5Tget_class(*ftype) != want || H5Sget_simple_extent_npoints(*space) != 1)
        return GAR_H5_ATTR_BADTYPE;
    return GAR_H5_ATTR_OK;
}

/* A one-element string attribute, fixed or variable length (h5py writes a
 * Python str as a variable-length UTF-8 string). */
gar_h5_attr gar_h5_read_attr_text(hid_t loc, const char *name, char *buf, size_t size)
{
    hid_t attr = -1, ftype = -1, mtype = -1, space = -1;
    gar_h5_attr r;
    char *vstr = NULL, *tmp = NULL;
    buf[0] = '\0';
    r = open_attr(loc, name, H5T_STRING, &attr, &ftype, &space);
    if (r != GAR_H5_ATTR_OK)
        goto done;
    r = GAR_H5_ATTR_UNREADABLE;
    if ((mtype = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0)
        goto done;
    if (H5Tis_variable_str(ftype) > 0) {
        if (H5Tset_size(mtype, H5T_VARIABLE) < 0 || H5Aread(attr, mtype, &vstr) < 0)
            goto done;
        /* A NULL variable-length string reads as "". */
        if (vstr != NULL && strlen(vstr) >= size) {
            r = GAR_H5_ATTR_TOOLONG;
        } else {
            snprintf(buf, size, "%s", vstr ? vstr : "");
            r = GAR_H5_ATTR_OK;
        }
        gar_h5_reclaim_vlen(mtype, space, &vstr);
    } else {
        size_t flen = H5Tget_size(ftype);
        if (flen > GAR_H5_MAX_STRING_TYPE) { /* too long for any value read here */
            r = GAR_H5_ATTR_TOOLONG;
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
            r = GAR_H5_ATTR_TOOLONG;
        } else {
            snprintf(buf, size, "%s", tmp);
            r = GAR_H5_ATTR_OK;
        }
    }
done:
    free(tmp);
    gar_h5_close(&mtype);
    gar_h5_close(&space);
    gar_h5_close(&ftype);
    gar_h5_close(&attr);
    return r;
}

/* A one-element integer attribute of any integer type (h5py writes int64). */
gar_h5_attr gar_h5_read_attr_int(hid_t loc, const char *name, long long *value)
{
    hid_t attr = -1, ftype = -1, space = -1;
    gar_h5_attr r = open_attr(loc, name, H5T_INTEGER, &attr, &ftype, &space);
    if (r == GAR_H5_ATTR_OK && H5Aread(attr, H5T_NATIVE_LLONG, value) < 0)
        r = GAR_H5_ATTR_UNREADABLE;
    gar_h5_close(&space);
    gar_h5_close(&ftype);
    gar_h5_close(&attr);
    return r;
}

herr_t gar_h5_write_text(hid_t loc, const char *name, const char *text)
{
    char attr[128];
    const size_t n = text != NULL ? strlen(text) : 0;
    snprintf(attr, sizeof attr, "%s_bytes", name);
    if (n == 0 || gar_h5_write_attr_u64(loc, attr, n) < 0 ||
        gar_h5_write_column(loc, name, H5T_NATIVE_CHAR, H5T_STD_I8LE, text, n) < 0)
        return -1;
    return 0;
}

int gar_h5_read_text(hid_t loc, const char *name, char **out)
{
    char attr[128], *s = NULL;
    uint64_t n = 0;
    *out = NULL;
    snprintf(attr, sizeof attr, "%s_bytes", name);
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return 1;
    /* 1 GiB: far beyond any fingerprint, and a damaged length is not allocated */
    if (gar_h5_read_attr_u64(loc, attr, &n) < 0 || n == 0 || n > ((uint64_t)1 << 30) ||
        (s = malloc((size_t)n + 1)) == NULL || gar_h5_read_column(loc, name, H5T_NATIVE_CHAR, s, (size_t)n) < 0) {
        free(s);
        return -1;
    }
    s[n] = '\0';
    *out = s;
    return 0;
}
