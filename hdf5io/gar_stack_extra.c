/* garner: the carried STAR columns of a stack (see gar_stack_extra.h). */
#include "gar_stack_extra.h"

#include <stdlib.h>
#include <string.h>

#include "gar_stack_impl.h"

#define EXTRA_CHUNK 4096 /* rows per chunk and per write */
#define EXTRA_MAX_COLS 4096

static const char *block_path(gar_extra_block b)
{
    return b == GAR_EXTRA_OPTICS ? "/optics/star_extra" : "/particles/star_extra";
}

static hid_t vlen_string_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0))
        gar_h5_close(&t);
    return t;
}

gar_status gar_stack_writer_put_extra(gar_stack_writer *w, gar_extra_block block, const char *const *labels,
                                      size_t k, size_t rows,
                                      const char *(*cell)(void *ctx, size_t row, size_t col), void *ctx)
{
    char why[256];
    const char *where = block_path(block);
    const char *path = gar_stack_writer_path(w);
    hid_t file = gar_stack_writer_hid(w), st_type = -1, space = -1, dcpl = -1, dset = -1, aspace = -1,
          attr = -1, fspace = -1, mspace = -1;
    hsize_t dims[2] = {rows, k}, chunk[2], adim = k;
    const char **buf = NULL;
    gar_status st = GAR_OK;
    const size_t expect = block == GAR_EXTRA_OPTICS ? gar_stack_writer_n_optics(w) : gar_stack_writer_count(w);

    if (k == 0)
        return GAR_OK;
    if (k > EXTRA_MAX_COLS)
        return gar_error(GAR_ERR_DATA, "%s: %s: %zu columns, more than %d", path, where, k, EXTRA_MAX_COLS);
    if (rows != expect)
        return gar_error(GAR_ERR_INTERNAL, "%s: %s: %zu rows for %zu entries", path, where, rows, expect);
    gar_h5_quiet();
    chunk[0] = rows < EXTRA_CHUNK ? (rows ? rows : 1) : EXTRA_CHUNK;
    chunk[1] = k;
    if ((st = gar_alloc((void **)&buf, (size_t)chunk[0] * k, sizeof *buf, "carried STAR columns")) != GAR_OK)
        return st;
    if ((st_type = vlen_string_type()) < 0 || (space = H5Screate_simple(2, dims, NULL)) < 0 ||
        (dcpl = H5Pcreate(H5P_DATASET_CREATE)) < 0 || H5Pset_chunk(dcpl, 2, chunk) < 0 ||
        H5Pset_deflate(dcpl, 4) < 0 ||
        (dset = H5Dcreate2(file, where, st_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0 ||
        (aspace = H5Screate_simple(1, &adim, NULL)) < 0 ||
        (attr = H5Acreate2(dset, "labels", st_type, aspace, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        H5Awrite(attr, st_type, labels) < 0)
        goto h5fail;
    for (size_t first = 0; first < rows; first += chunk[0]) {
        size_t cnt = rows - first < chunk[0] ? rows - first : (size_t)chunk[0];
        hsize_t start[2] = {first, 0}, count[2] = {cnt, k};
        for (size_t r = 0; r < cnt; r++)
            for (size_t c = 0; c < k; c++)
                buf[r * k + c] = cell(ctx, first + r, c);
        if ((fspace = H5Dget_space(dset)) < 0 ||
            H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            (mspace = H5Screate_simple(2, count, NULL)) < 0 ||
            H5Dwrite(dset, st_type, mspace, fspace, H5P_DEFAULT, buf) < 0)
            goto h5fail;
        gar_h5_close(&fspace);
        gar_h5_close(&mspace);
    }
    goto done;
h5fail:
    st = gar_error(GAR_ERR_IO, "%s: %s: cannot write (HDF5: %s)", path, where, gar_h5_reason(why, sizeof why));
done:
    gar_h5_close(&mspace);
    gar_h5_close(&fspace);
    gar_h5_close(&attr);
    gar_h5_close(&aspace);
    gar_h5_close(&dset);
    gar_h5_close(&dcpl);
    gar_h5_close(&space);
    gar_h5_close(&st_type);
    free(buf);
    return st;
}

struct gar_stack_extra {
    const char *path;   /* the stack's, for messages */
    const char *where;
    hid_t dset, type;
    size_t rows, k;
    char **labels;
};

void gar_stack_extra_free_cells(char **cells, size_t n)
{
    for (size_t i = 0; cells != NULL && i < n; i++) {
        free(cells[i]);
        cells[i] = NULL;
    }
}

void gar_stack_extra_close(gar_stack_extra **xp)
{
    gar_stack_extra *x;
    if (xp == NULL || *xp == NULL)
        return;
    x = *xp;
    gar_h5_close(&x->dset);
    gar_h5_close(&x->type);
    gar_stack_extra_free_cells(x->labels, x->k);
    free(x->labels);
    free(x);
    *xp = NULL;
}

/* HDF5's variable-length strings, read into a vector it allocated, copied to
 * malloc'd strings so callers never meet HDF5's allocator. */
static gar_status copy_vlen(gar_stack_extra *x, hid_t space, char **tmp, size_t n, char **out)
{
    gar_status st = GAR_OK;
    for (size_t i = 0; i < n; i++) {
        const char *s = tmp[i] ? tmp[i] : "";
        if ((out[i] = strdup(s)) == NULL) {
            st = gar_error(GAR_ERR_NOMEM, "%s: %s: out of memory", x->path, x->where);
            gar_stack_extra_free_cells(out, i);
            break;
        }
    }
    H5Dvlen_reclaim(x->type, space, H5P_DEFAULT, tmp);
    return st;
}

gar_status gar_stack_extra_open(gar_stack *s, gar_extra_block block, gar_stack_extra **out)
{
    char why[256];
    gar_stack_extra *x = NULL;
    hid_t file = -1, space = -1, attr = -1, aspace = -1;
    hsize_t dims[2];
    char **tmp = NULL;
    gar_status st = GAR_OK;
    size_t expect = gar_stack_count(s);

    if (block == GAR_EXTRA_OPTICS)
        (void)gar_stack_optics(s, &expect);

    *out = NULL;
    gar_h5_quiet();
    /* The open-file pool may have released the file: reopened here. */
    if ((st = gar_stack_file(s, &file)) != GAR_OK)
        return st;
    if (H5Lexists(file, block == GAR_EXTRA_OPTICS ? "/optics" : "/particles", H5P_DEFAULT) <= 0 ||
        H5Lexists(file, block_path(block), H5P_DEFAULT) <= 0)
        return GAR_OK;
    if ((st = gar_calloc((void **)&x, 1, sizeof *x, "carried STAR columns")) != GAR_OK)
        return st;
    x->path = gar_stack_path(s);
    x->where = block_path(block);
    x->dset = x->type = -1;
    if ((x->dset = H5Dopen2(file, x->where, H5P_DEFAULT)) < 0 || (x->type = vlen_string_type()) < 0 ||
        (space = H5Dget_space(x->dset)) < 0 || H5Sget_simple_extent_ndims(space) != 2 ||
        H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
        st = gar_error(GAR_ERR_DATA, "%s: %s: expected a 2-D dataset of strings (HDF5: %s)", x->path,
                       x->where, gar_h5_reason(why, sizeof why));
        goto done;
    }
    x->rows = (size_t)dims[0];
    x->k = (size_t)dims[1];
    if (x->rows != expect || x->k == 0 || x->k > EXTRA_MAX_COLS) {
        st = gar_error(GAR_ERR_DATA, "%s: %s: %zu x %zu, expected %zu rows and 1 to %d columns", x->path,
                       x->where, x->rows, x->k, expect, EXTRA_MAX_COLS);
        goto done;
    }
    if ((st = gar_calloc((void **)&x->labels, x->k, sizeof *x->labels, "labels")) != GAR_OK ||
        (st = gar_calloc((void **)&tmp, x->k, sizeof *tmp, "labels")) != GAR_OK)
        goto done;
    if ((attr = H5Aopen(x->dset, "labels", H5P_DEFAULT)) < 0 || (aspace = H5Aget_space(attr)) < 0 ||
        H5Sget_simple_extent_npoints(aspace) != (hssize_t)x->k || H5Aread(attr, x->type, tmp) < 0) {
        st = gar_error(GAR_ERR_DATA, "%s: %s: expected an attribute 'labels' of %zu strings (HDF5: %s)",
                       x->path, x->where, x->k, gar_h5_reason(why, sizeof why));
        goto done;
    }
    st = copy_vlen(x, aspace, tmp, x->k, x->labels);
done:
    free(tmp);
    gar_h5_close(&aspace);
    gar_h5_close(&attr);
    gar_h5_close(&space);
    if (st != GAR_OK)
        gar_stack_extra_close(&x);
    *out = x;
    return st;
}

size_t gar_stack_extra_ncols(const gar_stack_extra *x) { return x ? x->k : 0; }

const char *gar_stack_extra_label(const gar_stack_extra *x, size_t col)
{
    return x && col < x->k ? x->labels[col] : NULL;
}

gar_status gar_stack_extra_read(gar_stack_extra *x, size_t first, size_t count, char **cells)
{
    char why[256];
    hid_t fspace = -1, mspace = -1;
    hsize_t start[2] = {first, 0}, cnt[2] = {count, x->k};
    char **tmp = NULL;
    gar_status st;
    if (first > x->rows || count > x->rows - first)
        return gar_error(GAR_ERR_INTERNAL, "%s: %s: rows %zu..%zu of %zu", x->path, x->where, first,
                         first + count, x->rows);
    if (count == 0)
        return GAR_OK;
    if ((st = gar_calloc((void **)&tmp, count * x->k, sizeof *tmp, "carried STAR columns")) != GAR_OK)
        return st;
    gar_h5_quiet();
    if ((fspace = H5Dget_space(x->dset)) < 0 ||
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0 ||
        (mspace = H5Screate_simple(2, cnt, NULL)) < 0 ||
        H5Dread(x->dset, x->type, mspace, fspace, H5P_DEFAULT, tmp) < 0)
        st = gar_error(GAR_ERR_DATA, "%s: %s: cannot read rows %zu..%zu (HDF5: %s)", x->path, x->where,
                       first, first + count, gar_h5_reason(why, sizeof why));
    else
        st = copy_vlen(x, mspace, tmp, count * x->k, cells);
    gar_h5_close(&mspace);
    gar_h5_close(&fspace);
    free(tmp);
    return st;
}
