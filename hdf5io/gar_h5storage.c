/* garner: HDF5 data stored outside the file that names it (see
 * gar_h5storage.h). */
#include "gar_h5storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gar_h5util.h"

#define PATH_BYTES 4096

/* The folder of `path` ("." for a bare name) into dir. */
static void folder_of(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, size, ".");
    else if (slash == path)
        snprintf(dir, size, "/");
    else
        snprintf(dir, size, "%.*s", (int)(slash - path), path);
}

/* The folder of the file that holds object `obj` (for a dataset reached
 * through an external link: the target's file), as HDF5 opened it. */
static void folder_of_object(hid_t obj, char *dir, size_t size)
{
    char name[PATH_BYTES];
    hid_t file = H5Iget_file_id(obj);
    ssize_t len = file >= 0 ? H5Fget_name(file, name, sizeof name) : -1;
    gar_h5_close(&file);
    if (len <= 0 || (size_t)len >= sizeof name)
        snprintf(name, sizeof name, "x");
    folder_of(name, dir, size);
}

static int is_hdf5_file(const char *path)
{
    struct stat sb;
    /* H5Fis_hdf5 on a folder or FIFO would not answer sensibly (or block). */
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && H5Fis_hdf5(path) > 0;
}

/* Whether `path` is an HDF5 file, noted in `tried` (for the message). */
static int try_path(const char *path, char *tried, size_t tried_size)
{
    size_t used = strlen(tried);
    snprintf(tried + used, tried_size - used, "%s%s", used ? ", " : "", path);
    return is_hdf5_file(path);
}

/* a + b + "/" + c into out; 0 if it does not fit (that place is skipped). */
static int build(char *out, size_t size, const char *a, const char *b, const char *c)
{
    int k = snprintf(out, size, "%s%s/%s", a, b, c);
    return k > 0 && (size_t)k < size;
}

/* HDF5's search for the file `name` of a virtual dataset source (env
 * HDF5_VDS_PREFIX) or external link target (HDF5_EXT_PREFIX) named by a
 * file in folder `dir` (gar_h5storage.h gives the order). 1 and the path in
 * found, or 0; `tried` lists the places looked in, for the message. */
static int find_file(const char *name, const char *dir, const char *env, char *found, size_t size,
                     char *tried, size_t tried_size)
{
    const char *base = name, *prefix = getenv(env);
    char *copy = NULL, *save = NULL;
    int ok = 0;

    tried[0] = '\0';
    if (name[0] == '/') {
        snprintf(found, size, "%s", name);
        if (try_path(found, tried, tried_size))
            return 1;
        base = strrchr(name, '/') + 1;
    }
    if (prefix != NULL && prefix[0] != '\0' && (copy = strdup(prefix)) != NULL)
        for (char *p = strtok_r(copy, ":", &save); p != NULL && !ok; p = strtok_r(NULL, ":", &save)) {
            if (strncmp(p, "${ORIGIN}", 9) == 0)
                ok = build(found, size, dir, p + 9, base) && try_path(found, tried, tried_size);
            else
                ok = build(found, size, p, "", base) && try_path(found, tried, tried_size);
        }
    free(copy);
    if (!ok)
        ok = build(found, size, dir, "", base) && try_path(found, tried, tried_size);
    if (!ok) {
        snprintf(found, size, "%s", base);
        ok = try_path(found, tried, tried_size);
    }
    return ok;
}

int gar_h5_stored_here(hid_t dset)
{
    hid_t dcpl = H5Dget_create_plist(dset);
    H5D_layout_t layout = dcpl >= 0 ? H5Pget_layout(dcpl) : H5D_LAYOUT_ERROR;
    int external = dcpl >= 0 ? H5Pget_external_count(dcpl) : -1, ret;
    gar_h5_close(&dcpl);
    if (layout == H5D_LAYOUT_ERROR || external < 0)
        return -1;
    ret = layout != H5D_VIRTUAL && external == 0;
    return ret;
}

/* Whether the dataset has a filter that compresses (anything but the
 * Fletcher32 checksum and the byte shuffle); -1 when HDF5 cannot say. */
static int compressed(hid_t dset)
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
    gar_h5_close(&dcpl);
    return ret;
}

int gar_h5_data_fits(hid_t dset, unsigned long long *need, unsigned long long *have, int *comp)
{
    hid_t space = H5Dget_space(dset), type = H5Dget_type(dset), file = H5Iget_file_id(dset);
    hssize_t npoints = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    size_t elem = type >= 0 ? H5Tget_size(type) : 0;
    hsize_t file_size = 0;
    int ret = -1;
    *need = *have = 0;
    *comp = compressed(dset);
    if (npoints < 0 || elem == 0 || file < 0 || *comp < 0 || H5Fget_filesize(file, &file_size) < 0)
        goto done;
    *have = (unsigned long long)file_size;
    /* Saturate: a declared size beyond 2^64 bytes fits no file. */
    *need = (unsigned long long)npoints > ~0ull / elem ? ~0ull : (unsigned long long)npoints * elem;
    ret = *comp ? *need / GAR_H5_MAX_COMPRESSION <= *have : *need <= *have;
done:
    gar_h5_close(&file);
    gar_h5_close(&type);
    gar_h5_close(&space);
    return ret;
}

/* A string property of a virtual mapping (H5Pget_virtual_filename or
 * _dsetname), malloc'd; NULL on failure. */
static char *mapping_string(ssize_t (*get)(hid_t, size_t, char *, size_t), hid_t dcpl, size_t i)
{
    ssize_t len = get(dcpl, i, NULL, 0);
    char *s = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (s != NULL && get(dcpl, i, s, (size_t)len + 1) < 0) {
        free(s);
        s = NULL;
    }
    return s;
}

/* External raw data files (H5Pset_external): HDF5 reads zeros past the end
 * of a short one, so each must exist and hold its declared part (as much of
 * it as the dataset uses). Names resolve as HDF5 1.10 resolves them: against
 * HDF5_EXTFILE_PREFIX when set (a leading ${ORIGIN} standing for the
 * dataset's folder), else relative to the working folder. */
static gar_status check_external(hid_t dset, hid_t dcpl, int count, const char *stack, const char *where)
{
    char name[PATH_BYTES], path[PATH_BYTES], dir[PATH_BYTES], why[256];
    const char *prefix = getenv("HDF5_EXTFILE_PREFIX");
    hid_t space = H5Dget_space(dset), type = H5Dget_type(dset);
    hssize_t npoints = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    size_t elem = type >= 0 ? H5Tget_size(type) : 0;
    unsigned long long left;
    gar_status st = GAR_OK;

    gar_h5_close(&type);
    gar_h5_close(&space);
    if (npoints < 0 || elem == 0) {
        return gar_error(GAR_ERR_DATA, "%s: %s: cannot read its shape (HDF5: %s)", stack, where,
                         gar_h5_reason(why, sizeof why));
    }
    left = (unsigned long long)npoints > ~0ull / elem ? ~0ull : (unsigned long long)npoints * elem;
    folder_of_object(dset, dir, sizeof dir);
    for (int i = 0; i < count && left > 0 && st == GAR_OK; i++) {
        off_t offset = 0;
        hsize_t size = 0;
        struct stat sb;
        unsigned long long part, avail;
        int len;
        if (H5Pget_external(dcpl, (unsigned)i, sizeof name, name, &offset, &size) < 0)
            return gar_error(GAR_ERR_DATA, "%s: %s: cannot read its external files (HDF5: %s)", stack,
                             where, gar_h5_reason(why, sizeof why));
        name[sizeof name - 1] = '\0';
        if (name[0] != '/' && prefix != NULL && prefix[0] != '\0')
            len = strncmp(prefix, "${ORIGIN}", 9) == 0
                      ? snprintf(path, sizeof path, "%s%s/%s", dir, prefix + 9, name)
                      : snprintf(path, sizeof path, "%s/%s", prefix, name);
        else
            len = snprintf(path, sizeof path, "%s", name);
        if (len < 0 || (size_t)len >= sizeof path)
            return gar_error(GAR_ERR_DATA, "%s: %s: external data file '%s': path too long", stack,
                             where, name);
        part = size == H5F_UNLIMITED || size > left ? left : (unsigned long long)size;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            st = gar_error(GAR_ERR_DATA, "%s: %s: external data file '%s' not found (looked for %s)",
                           stack, where, name, path);
        else if ((avail = sb.st_size > offset ? (unsigned long long)(sb.st_size - offset) : 0) < part)
            st = gar_error(GAR_ERR_DATA,
                           "%s: %s: external data file '%s' holds %llu of the %llu bytes it should "
                           "from offset %lld (the rest would read as zeros)",
                           stack, where, name, avail, part, (long long)offset);
        left -= part;
    }
    return st;
}

static gar_status check_depth(hid_t dset, const char *stack, const char *where, int fit,
                              size_t *files, int depth);

/* Mapping i of a virtual dataset whose creation list is dcpl: its source
 * file found (unless "." : this file), its dataset there, covering the
 * selection the mapping reads. */
static gar_status check_mapping(hid_t dset, hid_t dcpl, size_t i, const char *stack,
                                const char *where, int fit, size_t *files, int depth)
{
    char why[256], dir[PATH_BYTES], found[PATH_BYTES], tried[2 * PATH_BYTES];
    char *fname = mapping_string(H5Pget_virtual_filename, dcpl, i);
    char *dname = mapping_string(H5Pget_virtual_dsetname, dcpl, i);
    hid_t fapl = -1, sfile = -1, src = -1, sel = -1, vsel = -1, sspace = -1;
    hsize_t start[H5S_MAX_RANK], end[H5S_MAX_RANK], dims[H5S_MAX_RANK];
    gar_status st = GAR_OK;
    int rank;

    if (fname == NULL || dname == NULL) {
        st = gar_error(GAR_ERR_DATA, "%s: %s: cannot read virtual mapping %zu (HDF5: %s)", stack,
                       where, i, gar_h5_reason(why, sizeof why));
        goto done;
    }
    if (strchr(fname, '%') != NULL || strchr(dname, '%') != NULL) {
        st = gar_error(GAR_ERR_DATA,
                       "%s: %s: virtual dataset source '%s' (%s) is a printf-style pattern, which "
                       "garner does not read (what it maps depends on which files exist; map each "
                       "source file explicitly)",
                       stack, where, fname, dname);
        goto done;
    }
    if (strcmp(fname, ".") == 0) {
        /* A source in the same file: no file to find. */
        sfile = H5Iget_file_id(dset);
    } else {
        folder_of_object(dset, dir, sizeof dir);
        if (!find_file(fname, dir, "HDF5_VDS_PREFIX", found, sizeof found, tried, sizeof tried)) {
            st = gar_error(GAR_ERR_DATA,
                           "%s: %s: virtual dataset source '%s' (%s) not found (looked for %s); "
                           "HDF5 would read its part as zeros",
                           stack, where, fname, dname, tried);
            goto done;
        }
        if ((fapl = gar_h5_fapl_nolock()) < 0 ||
            (sfile = H5Fopen(found, H5F_ACC_RDONLY, fapl)) < 0) {
            st = gar_error(GAR_ERR_DATA, "%s: %s: virtual dataset source '%s' (%s): %s is not readable (HDF5: %s)",
                           stack, where, fname, dname, found, gar_h5_reason(why, sizeof why));
            goto done;
        }
        if (files != NULL)
            (*files)++;
    }
    if ((src = H5Dopen2(sfile, dname, H5P_DEFAULT)) < 0) {
        st = gar_error(GAR_ERR_DATA,
                       "%s: %s: virtual dataset source '%s' (%s) not found (the file has no such "
                       "dataset); HDF5 would read its part as zeros",
                       stack, where, fname, dname);
        goto done;
    }
    /* The part of the source the mapping reads must exist: HDF5 reads the
     * fill value for the rest. A selection of all of the source (h5py's
     * unsliced VirtualSource) is stored without its extent and takes the
     * source's actual one, so the source must hold as many values as the
     * virtual selection maps; another selection must lie within the
     * source's extent. An unlimited virtual selection has no end (its
     * bounds cannot be read) and shrinks the dataset rather than filling:
     * the source's existence is what matters there. */
    if ((sel = H5Pget_virtual_srcspace(dcpl, i)) < 0 || (vsel = H5Pget_virtual_vspace(dcpl, i)) < 0 ||
        (sspace = H5Dget_space(src)) < 0 || (rank = H5Sget_simple_extent_ndims(sspace)) < 0 ||
        H5Sget_simple_extent_dims(sspace, dims, NULL) < 0) {
        st = gar_error(GAR_ERR_DATA, "%s: %s: virtual dataset source '%s' (%s): cannot read its shape (HDF5: %s)",
                       stack, where, fname, dname, gar_h5_reason(why, sizeof why));
        goto done;
    }
    if (H5Sget_select_bounds(vsel, start, end) >= 0) {
        hssize_t want = H5Sget_select_npoints(vsel), have = H5Sget_simple_extent_npoints(sspace);
        if (H5Sget_select_type(sel) == H5S_SEL_ALL) {
            if (want >= 0 && have >= 0 && have != want) {
                st = gar_error(GAR_ERR_DATA,
                               "%s: %s: virtual dataset source '%s' (%s) holds %lld values, the "
                               "mapping reads %lld (HDF5 would read the difference as zeros)",
                               stack, where, fname, dname, (long long)have, (long long)want);
                goto done;
            }
        } else if (H5Sget_simple_extent_ndims(sel) == rank && H5Sget_select_bounds(sel, start, end) >= 0) {
            for (int d = 0; d < rank; d++)
                if (end[d] >= dims[d]) {
                    st = gar_error(GAR_ERR_DATA,
                                   "%s: %s: virtual dataset source '%s' (%s) has %llu entries along "
                                   "axis %d, the mapping reads up to %llu (HDF5 would read the rest "
                                   "as zeros)",
                                   stack, where, fname, dname, (unsigned long long)dims[d], d,
                                   (unsigned long long)end[d] + 1);
                    goto done;
                }
        }
    }
    H5Eclear2(H5E_DEFAULT);
    if (fit) {
        int here = gar_h5_stored_here(src), comp = 0, fits;
        unsigned long long need = 0, have = 0;
        if (here == 1 && (fits = gar_h5_data_fits(src, &need, &have, &comp)) == 0) {
            st = gar_error(GAR_ERR_DATA,
                           "%s: %s: virtual dataset source '%s' (%s) declares %llu bytes, %sthe "
                           "file has %llu (truncated, or never written)",
                           stack, where, fname, dname, need,
                           comp ? "more than 2048 times what " : "", have);
            goto done;
        }
    }
    st = check_depth(src, stack, where, fit, files, depth + 1);
done:
    gar_h5_close(&sspace);
    gar_h5_close(&vsel);
    gar_h5_close(&sel);
    gar_h5_close(&src);
    gar_h5_close(&sfile);
    gar_h5_close(&fapl);
    free(dname);
    free(fname);
    return st;
}

static gar_status check_depth(hid_t dset, const char *stack, const char *where, int fit,
                              size_t *files, int depth)
{
    char why[256];
    gar_status st = GAR_OK;
    hid_t dcpl = H5Dget_create_plist(dset);
    H5D_layout_t layout = dcpl >= 0 ? H5Pget_layout(dcpl) : H5D_LAYOUT_ERROR;
    int external = dcpl >= 0 ? H5Pget_external_count(dcpl) : -1;
    size_t count = 0;

    if (layout == H5D_LAYOUT_ERROR || external < 0) {
        st = gar_error(GAR_ERR_DATA, "%s: %s: cannot read its storage layout (HDF5: %s)", stack,
                       where, gar_h5_reason(why, sizeof why));
        goto done;
    }
    if (external > 0) {
        st = check_external(dset, dcpl, external, stack, where);
        goto done;
    }
    if (layout != H5D_VIRTUAL)
        goto done;
    if (depth >= GAR_H5_MAX_VDS_DEPTH) {
        st = gar_error(GAR_ERR_DATA,
                       "%s: %s: virtual datasets nested more than %d deep (a loop of files?)",
                       stack, where, GAR_H5_MAX_VDS_DEPTH);
        goto done;
    }
    if (H5Pget_virtual_count(dcpl, &count) < 0) {
        st = gar_error(GAR_ERR_DATA, "%s: %s: cannot read its virtual mappings (HDF5: %s)", stack,
                       where, gar_h5_reason(why, sizeof why));
        goto done;
    }
    for (size_t i = 0; i < count && st == GAR_OK; i++)
        st = check_mapping(dset, dcpl, i, stack, where, fit, files, depth);
done:
    gar_h5_close(&dcpl);
    return st;
}

gar_status gar_h5_check_storage(hid_t dset, const char *stack, const char *where, int fit,
                                size_t *files)
{
    return check_depth(dset, stack, where, fit, files, 0);
}

/* Why an external link cannot be followed: its target file is not where
 * HDF5 looks, or it lacks the object. */
static gar_status dangling_link(hid_t grp, const char *name, const char *stack, const char *where,
                                const char *hdf5_why)
{
    char dir[PATH_BYTES], found[PATH_BYTES], tried[2 * PATH_BYTES];
    H5L_info_t info;
    void *val = NULL;
    const char *file = NULL, *obj = NULL;
    unsigned flags = 0;
    gar_status st;

    if (H5Lget_info(grp, name, &info, H5P_DEFAULT) < 0 || info.type != H5L_TYPE_EXTERNAL ||
        (val = malloc(info.u.val_size)) == NULL ||
        H5Lget_val(grp, name, val, info.u.val_size, H5P_DEFAULT) < 0 ||
        H5Lunpack_elink_val(val, info.u.val_size, &flags, &file, &obj) < 0) {
        free(val);
        return gar_error(GAR_ERR_DATA, "%s: %s: not a readable dataset (HDF5: %s)", stack, where,
                         hdf5_why);
    }
    folder_of_object(grp, dir, sizeof dir);
    if (!find_file(file, dir, "HDF5_EXT_PREFIX", found, sizeof found, tried, sizeof tried))
        st = gar_error(GAR_ERR_DATA,
                       "%s: %s: external link to '%s' (%s) is dangling: file not found (looked for "
                       "%s)",
                       stack, where, file, obj, tried);
    else
        st = gar_error(GAR_ERR_DATA,
                       "%s: %s: external link to '%s' (%s) cannot be followed: %s has no such "
                       "dataset, or it is unreadable (HDF5: %s)",
                       stack, where, file, obj, found, hdf5_why);
    free(val);
    return st;
}

gar_status gar_h5_open_dataset(hid_t grp, const char *name, hid_t dapl, const char *stack,
                               const char *where, int fit, size_t *files, hid_t *out)
{
    char why[256];
    H5L_info_t info;
    gar_status st;
    hid_t dset = -1;

    *out = -1;
    if ((dset = H5Dopen2(grp, name, dapl)) < 0) {
        gar_h5_reason(why, sizeof why);
        return dangling_link(grp, name, stack, where, why);
    }
    /* The target file stays open as long as the dataset. */
    if (files != NULL && H5Lget_info(grp, name, &info, H5P_DEFAULT) >= 0 &&
        info.type == H5L_TYPE_EXTERNAL)
        (*files)++;
    st = gar_h5_check_storage(dset, stack, where, fit, files);
    if (st != GAR_OK)
        gar_h5_close(&dset);
    *out = dset;
    return st;
}
