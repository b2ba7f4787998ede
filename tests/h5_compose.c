/* Test helper: stacks made of other stacks (see h5_compose.h). */
#include "h5_compose.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static herr_t copy_attr(hid_t from, const char *name, const H5A_info_t *info, void *to_p)
{
    hid_t to = *(hid_t *)to_p, a = H5Aopen(from, name, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : -1, s = a >= 0 ? H5Aget_space(a) : -1, b = -1;
    hssize_t n = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
    size_t size = t >= 0 ? H5Tget_size(t) : 0;
    void *buf = n >= 0 && size > 0 ? calloc((size_t)n + 1, size) : NULL;
    herr_t e = -1;
    (void)info;
    /* Fixed-length types only (garner writes no other attributes). */
    if (buf != NULL && H5Aread(a, t, buf) >= 0 &&
        (b = H5Acreate2(to, name, t, s, H5P_DEFAULT, H5P_DEFAULT)) >= 0)
        e = H5Awrite(b, t, buf);
    free(buf);
    if (b >= 0)
        H5Aclose(b);
    if (s >= 0)
        H5Sclose(s);
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    return e;
}

/* A new file `out` with the root attributes of `from` and copies of the
 * groups named (NULL-terminated). */
static hid_t start_copy(const char *out, hid_t from, const char *const *groups)
{
    hid_t f = H5Fcreate(out, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t idx = 0;
    if (f < 0)
        return -1;
    if (H5Aiterate2(from, H5_INDEX_NAME, H5_ITER_INC, &idx, copy_attr, &f) < 0)
        goto fail;
    for (size_t i = 0; groups[i] != NULL; i++)
        if (H5Ocopy(from, groups[i], f, groups[i], H5P_DEFAULT, H5P_DEFAULT) < 0)
            goto fail;
    return f;
fail:
    H5Fclose(f);
    return -1;
}

typedef struct names {
    char *v[64];
    size_t n;
} names;

static herr_t collect(hid_t g, const char *name, const H5L_info_t *info, void *p)
{
    names *ns = p;
    (void)g;
    (void)info;
    if (ns->n < 64)
        ns->v[ns->n++] = strdup(name);
    return 0;
}

/* /particles/<name> of out: a virtual dataset over the same dataset of each part. */
static int virtual_column(hid_t out, const char *name, const char *const *parts,
                          const char *const *srcnames, size_t nparts)
{
    char path[256];
    hsize_t total[3] = {0, 0, 0}, dims[3], start[3] = {0, 0, 0};
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), type = -1, vspace = -1, d = -1;
    int rank = 0, ok = dcpl >= 0;
    snprintf(path, sizeof path, "/particles/%s", name);
    /* First the total shape, then one mapping per part. */
    for (int pass = 0; pass < 2 && ok; pass++)
        for (size_t k = 0; k < nparts && ok; k++) {
            hid_t f = H5Fopen(parts[k], H5F_ACC_RDONLY, H5P_DEFAULT);
            hid_t ds = f >= 0 ? H5Dopen2(f, path, H5P_DEFAULT) : -1;
            hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
            ok = sp >= 0 && (rank = H5Sget_simple_extent_dims(sp, dims, NULL)) > 0;
            if (ok && pass == 0) {
                if (type < 0)
                    type = H5Dget_type(ds);
                total[0] += dims[0];
                total[1] = dims[1];
                total[2] = dims[2];
            }
            if (ok && pass == 1) {
                hid_t vs = H5Screate_simple(rank, total, NULL);
                ok = vs >= 0 && H5Sselect_hyperslab(vs, H5S_SELECT_SET, start, NULL, dims, NULL) >= 0 &&
                     H5Pset_virtual(dcpl, vs, srcnames[k], path, sp) >= 0;
                start[0] += dims[0];
                if (vs >= 0)
                    H5Sclose(vs);
            }
            if (sp >= 0)
                H5Sclose(sp);
            if (ds >= 0)
                H5Dclose(ds);
            if (f >= 0)
                H5Fclose(f);
        }
    if (ok)
        ok = (vspace = H5Screate_simple(rank, total, NULL)) >= 0 &&
             (d = H5Dcreate2(out, path, type, vspace, H5P_DEFAULT, dcpl, H5P_DEFAULT)) >= 0;
    if (d >= 0)
        H5Dclose(d);
    if (vspace >= 0)
        H5Sclose(vspace);
    if (type >= 0)
        H5Tclose(type);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (!ok)
        fprintf(stderr, "compose_vds: cannot make %s virtual\n", path);
    return ok ? 0 : -1;
}

int compose_vds(const char *out, const char *const *parts, const char *const *srcnames, size_t nparts,
                const char *only)
{
    static const char *const groups[] = {"optics", NULL};
    names ns = {{NULL}, 0};
    hid_t from = H5Fopen(parts[0], H5F_ACC_RDONLY, H5P_DEFAULT), f = -1, g = -1;
    int ok = from >= 0 && (f = start_copy(out, from, groups)) >= 0 &&
             (g = H5Gcreate2(f, "particles", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
             H5Literate_by_name(from, "particles", H5_INDEX_NAME, H5_ITER_INC, NULL, collect, &ns,
                                H5P_DEFAULT) >= 0;
    for (size_t i = 0; i < ns.n && ok; i++) {
        char path[256];
        snprintf(path, sizeof path, "/particles/%s", ns.v[i]);
        if (only == NULL || strcmp(only, ns.v[i]) == 0)
            ok = virtual_column(f, ns.v[i], parts, srcnames, nparts) == 0;
        else
            ok = H5Ocopy(from, path, f, path, H5P_DEFAULT, H5P_DEFAULT) >= 0;
    }
    for (size_t i = 0; i < ns.n; i++)
        free(ns.v[i]);
    if (g >= 0)
        H5Gclose(g);
    if (f >= 0 && H5Fclose(f) < 0)
        ok = 0;
    if (from >= 0)
        H5Fclose(from);
    if (!ok)
        fprintf(stderr, "compose_vds: cannot write %s\n", out);
    return ok ? 0 : -1;
}

int compose_elink(const char *out, const char *target, const char *target_name,
                  const char *const *links, size_t nlinks)
{
    static const char *const groups[] = {"optics", NULL};
    names ns = {{NULL}, 0};
    hid_t from = H5Fopen(target, H5F_ACC_RDONLY, H5P_DEFAULT), f = -1, g = -1;
    int ok = from >= 0 && (f = start_copy(out, from, groups)) >= 0 &&
             (g = H5Gcreate2(f, "particles", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
             H5Literate_by_name(from, "particles", H5_INDEX_NAME, H5_ITER_INC, NULL, collect, &ns,
                                H5P_DEFAULT) >= 0;
    /* Linked datasets are never copied, so the file stays small (deleting
     * a copy would not give its space back). */
    for (size_t i = 0; i < ns.n && ok; i++) {
        char path[256];
        int linked = 0;
        snprintf(path, sizeof path, "/particles/%s", ns.v[i]);
        for (size_t k = 0; k < nlinks; k++)
            linked |= strcmp(links[k], path) == 0;
        if (linked)
            ok = H5Lcreate_external(target_name, path, f, path, H5P_DEFAULT, H5P_DEFAULT) >= 0;
        else
            ok = H5Ocopy(from, path, f, path, H5P_DEFAULT, H5P_DEFAULT) >= 0;
    }
    for (size_t i = 0; i < ns.n; i++)
        free(ns.v[i]);
    if (g >= 0)
        H5Gclose(g);
    if (f >= 0 && H5Fclose(f) < 0)
        ok = 0;
    if (from >= 0)
        H5Fclose(from);
    if (!ok)
        fprintf(stderr, "compose_elink: cannot write %s\n", out);
    return ok ? 0 : -1;
}
