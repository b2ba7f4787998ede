#include "gar_h5util.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

hid_t gar_h5_create_temp(const char *path, char *tmp, size_t len)
{
    snprintf(tmp, len, "%s.tmp-%ld", path, (long)getpid());
    return H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
}

int gar_h5_finish_temp(hid_t f, const char *tmp, const char *path, int failed)
{
    int rc = failed ? -3 : 0;
    if (f >= 0 && H5Fclose(f) < 0 && rc == 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -2;
    if (rc != 0)
        unlink(tmp);
    return rc;
}
