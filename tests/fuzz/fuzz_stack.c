/* Fuzz target: the HDF5 stack validator (gar_stack_open_image, which shares
 * every rule with gar_stack_open) and, for stacks it accepts, the reads
 * (gar_stack_read_meta, gar_stack_read_images).
 *
 * The input is not an HDF5 file but a recipe for one: the bytes choose, for
 * the root attributes, /particles/images and every column of /particles and
 * /optics, whether it exists, its dtype, rank, length, storage and values.
 * The harness writes that file with HDF5 into memory (core driver), takes its
 * image and hands it to the validator. Mutating the recipe explores what
 * other programs may write (wrong dtypes and ranks, columns of different
 * lengths, missing groups, half_set 3, format_version 2, NaN optics, strings
 * too long, images declared but never written) instead of what HDF5's own
 * file-format parser makes of random bytes: that parser is HDF5's, not
 * garner's, and HDF5 1.10 has known crashes on corrupt metadata (see
 * docs/RELIABILITY.md). Inputs that run out of bytes read zeros. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gar_stack.h"

typedef struct recipe {
    const uint8_t *p;
    size_t left;
} recipe;

static unsigned take(recipe *r)
{
    if (r->left == 0)
        return 0;
    r->left--;
    return *r->p++;
}


/* A float value: mostly plausible ones, sometimes the awkward ones. */
static double take_double(recipe *r)
{
    static const double special[] = {0.0, 1.0, -1.0, 2.7, 0.1, 300.0, 15000.0, 3.0,
                                     NAN, INFINITY, -INFINITY, 1e308, -0.0, 1e-310, 0.999999, 1.0};
    unsigned b = take(r);
    if (b < 16)
        return special[b];
    if (b < 32) {
        uint64_t u = 0;
        double d;
        for (int i = 0; i < 8; i++)
            u |= (uint64_t)take(r) << (8 * i);
        memcpy(&d, &u, sizeof d);
        return d;
    }
    return (double)b / 8.0;
}

static long long take_int(recipe *r)
{
    unsigned b = take(r);
    switch (b >> 6) {
    case 0: return 1 + (b & 1);          /* 1 or 2 */
    case 1: return (long long)(b & 7);   /* 0..7 */
    case 2: return -(long long)(b & 3);
    default: {
        long long v = 0;
        for (int i = 0; i < 4; i++)
            v |= (long long)take(r) << (8 * i);
        return (int32_t)v;
    }
    }
}

/* ---------------------------------------------------------------- types */

enum { T_I8, T_I16, T_I32, T_I64, T_U32, T_F32, T_F64, T_F64BE, T_F32BE, T_S8, T_S64, T_S100,
       T_VSTR, T_COUNT };

static hid_t file_type(int t)
{
    hid_t s;
    switch (t) {
    case T_I8: return H5Tcopy(H5T_STD_I8LE);
    case T_I16: return H5Tcopy(H5T_STD_I16LE);
    case T_I32: return H5Tcopy(H5T_STD_I32LE);
    case T_I64: return H5Tcopy(H5T_STD_I64LE);
    case T_U32: return H5Tcopy(H5T_STD_U32LE);
    case T_F32: return H5Tcopy(H5T_IEEE_F32LE);
    case T_F64: return H5Tcopy(H5T_IEEE_F64LE);
    case T_F64BE: return H5Tcopy(H5T_IEEE_F64BE);
    case T_F32BE: return H5Tcopy(H5T_IEEE_F32BE);
    case T_S8:
    case T_S64:
    case T_S100:
        s = H5Tcopy(H5T_C_S1);
        H5Tset_size(s, t == T_S8 ? 8 : t == T_S64 ? 64 : 100);
        H5Tset_strpad(s, H5T_STR_NULLPAD);
        return s;
    default:
        s = H5Tcopy(H5T_C_S1);
        H5Tset_size(s, H5T_VARIABLE);
        H5Tset_cset(s, H5T_CSET_UTF8);
        return s;
    }
}

static int is_string(int t) { return t >= T_S8; }
static int is_float(int t) { return t >= T_F32 && t <= T_F32BE; }

/* Write `n` values of type t from the recipe (or the given defaults) into a
 * new dataset `name` of rank `rank` ([n], [n][1] or a scalar). */
static void make_column(recipe *r, hid_t loc, const char *name, int t, int rank, hsize_t n,
                        int chunked, int fletcher, int want_int, int want_string)
{
    hsize_t dims[2] = {n, 1}, maxdims[2] = {H5S_UNLIMITED, 1}, chunk[2] = {n > 0 ? n : 1, 1};
    hid_t ftype = file_type(t), space = -1, dcpl = H5Pcreate(H5P_DATASET_CREATE), dset = -1;
    void *buf = NULL;
    char **vbuf = NULL;
    (void)want_int;
    (void)want_string;
    if (n > 64)
        n = dims[0] = chunk[0] = 64;
    space = rank == 0 ? H5Screate(H5S_SCALAR)
                      : H5Screate_simple(rank, dims, chunked ? maxdims : NULL);
    if (chunked && rank > 0) {
        H5Pset_chunk(dcpl, rank, chunk);
        if (fletcher && t != T_VSTR)
            H5Pset_fletcher32(dcpl);
    }
    dset = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dset >= 0 && take(r) % 8 != 0) { /* usually written; sometimes left as fill */
        hsize_t count = rank == 0 ? 1 : n;
        if (t == T_VSTR) {
            static const char *const names[] = {"opticsGroup1", "", NULL, "og",
                "a name of exactly sixty-four characters, which is one too many!"};
            vbuf = calloc(count ? count : 1, sizeof *vbuf);
            for (hsize_t i = 0; i < count; i++)
                vbuf[i] = (char *)names[take(r) % 5];
            H5Dwrite(dset, ftype, H5S_ALL, H5S_ALL, H5P_DEFAULT, vbuf);
        } else if (is_string(t)) {
            size_t w = H5Tget_size(ftype);
            buf = calloc(count ? count : 1, w);
            for (hsize_t i = 0; i < count; i++) {
                size_t len = take(r) % (w + 1);
                memset((char *)buf + i * w, 'a' + (int)(i % 26), len);
            }
            H5Dwrite(dset, ftype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        } else if (is_float(t)) {
            double *d = calloc(count ? count : 1, sizeof *d);
            for (hsize_t i = 0; i < count; i++)
                d[i] = take_double(r);
            H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, d);
            buf = d;
        } else {
            long long *v = calloc(count ? count : 1, sizeof *v);
            for (hsize_t i = 0; i < count; i++)
                v[i] = take_int(r);
            H5Dwrite(dset, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
            buf = v;
        }
    }
    free(buf);
    free(vbuf);
    if (dset >= 0)
        H5Dclose(dset);
    H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    H5Tclose(ftype);
}

/* ---------------------------------------------------------------- attributes */

static void str_attr(hid_t loc, const char *name, const char *value, int vlen, hsize_t count)
{
    hid_t t = H5Tcopy(H5T_C_S1), space;
    const char *vals[2] = {value, value};
    if (vlen)
        H5Tset_size(t, H5T_VARIABLE);
    else
        H5Tset_size(t, strlen(value) > 0 ? strlen(value) : 1);
    space = count == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &count, NULL);
    hid_t a = H5Acreate2(loc, name, t, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        if (vlen) {
            H5Awrite(a, t, vals);
        } else {
            char buf[256] = {0};
            size_t w = strlen(value) > 0 ? strlen(value) : 1;
            memcpy(buf, value, strlen(value));
            memcpy(buf + w, value, strlen(value));
            H5Awrite(a, t, buf);
        }
        H5Aclose(a);
    }
    H5Sclose(space);
    H5Tclose(t);
}

static void num_attr(hid_t loc, const char *name, hid_t ftype, hid_t mtype, const void *value,
                     hsize_t count)
{
    hid_t space = count == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &count, NULL);
    hid_t a = H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        H5Awrite(a, mtype, value);
        H5Aclose(a);
    }
    H5Sclose(space);
}

static void root_attributes(recipe *r, hid_t file)
{
    hid_t root = H5Gopen2(file, "/", H5P_DEFAULT);
    long long v[2];
    double d = 1.0;
    unsigned f = take(r), g = take(r);
    switch (f % 8) {
    case 0: break; /* missing */
    case 1: str_attr(root, "format", GAR_STACK_FORMAT, 0, 1); break;
    case 2: str_attr(root, "format", GAR_STACK_FORMAT, 1, 1); break;
    case 3: str_attr(root, "format", "garner-stacks", 0, 1); break;
    case 4: v[0] = 1; num_attr(root, "format", H5T_STD_I32LE, H5T_NATIVE_LLONG, v, 1); break;
    case 5: str_attr(root, "format", "", 0, 1); break;
    case 6: str_attr(root, "format", GAR_STACK_FORMAT, 0, 2); break;
    default:
        str_attr(root, "format",
                 "garner-stack, but with a long tail that does not fit the reader's buffer", f & 1,
                 1);
        break;
    }
    if (f >= 8 && f < 128) /* most recipes get a valid format */
        str_attr(root, "format", GAR_STACK_FORMAT, f & 1, 1);
    v[0] = v[1] = take_int(r);
    switch (g % 8) {
    case 0: break;
    case 1: num_attr(root, "format_version", H5T_STD_I32LE, H5T_NATIVE_LLONG, v, 1); break;
    case 2: num_attr(root, "format_version", H5T_STD_I64BE, H5T_NATIVE_LLONG, v, 1); break;
    case 3: num_attr(root, "format_version", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &d, 1); break;
    case 4: str_attr(root, "format_version", "1", 0, 1); break;
    case 5: num_attr(root, "format_version", H5T_STD_U8LE, H5T_NATIVE_LLONG, v, 1); break;
    case 6: num_attr(root, "format_version", H5T_STD_I32LE, H5T_NATIVE_LLONG, v, 2); break;
    default: v[0] = 1; num_attr(root, "format_version", H5T_STD_I32LE, H5T_NATIVE_LLONG, v, 1); break;
    }
    if (g >= 8 && g < 128 && g % 8 != 7 && g % 8 != 1) {
        v[0] = 1;
        num_attr(root, "format_version", H5T_STD_I32LE, H5T_NATIVE_LLONG, v, 1);
    }
    H5Gclose(root);
}

/* ---------------------------------------------------------------- datasets */

static const char *const particle_names[] = {
    "rot_deg", "tilt_deg", "psi_deg", "origin_x_A", "origin_y_A", "defocus_u_A", "defocus_v_A",
    "defocus_angle_deg", "phase_shift_deg", "half_set", "optics_group"};
static const char *const optics_names[] = {"optics_group", "name", "pixel_size_A", "voltage_kV",
                                           "cs_mm", "amplitude_contrast", "image_size"};

static void images(recipe *r, hid_t grp, hsize_t n, hsize_t box)
{
    static const hsize_t sizes[8] = {0, 1, 2, 3, 4, 6, 8, 16};
    unsigned shape = take(r), store = take(r), type = take(r);
    int rank = shape < 200 ? 3 : 1 + (int)(shape % 4);
    hsize_t dims[4] = {n, box, box, 1}, maxdims[4], chunk[4] = {1, box, box, 1};
    hid_t ftype, space, dcpl = H5Pcreate(H5P_DATASET_CREATE), dset;
    if (shape >= 160 && shape < 200) { /* a non-square or odd shape */
        dims[1] = sizes[take(r) % 8];
        dims[2] = sizes[take(r) % 8];
    }
    if (shape >= 150 && shape < 160)  /* declared huge, never written */
        dims[0] = (hsize_t)1 << (20 + take(r) % 24);
    for (int i = 0; i < 4; i++) {
        maxdims[i] = i == 0 ? H5S_UNLIMITED : dims[i];
        if (chunk[i] == 0 || chunk[i] > dims[i])
            chunk[i] = dims[i] > 0 ? dims[i] : 1;
    }
    chunk[0] = 1;
    ftype = type < 200 ? H5Tcopy(H5T_IEEE_F32LE) : file_type((int)(type % T_COUNT));
    if (type >= 190 && type < 200)
        H5Tset_order(ftype, H5T_ORDER_BE);
    switch (store % 4) {
    case 0: /* contiguous: needs fixed dims */
        space = H5Screate_simple(rank, dims, NULL);
        break;
    case 1: /* garner's layout */
    case 2: /* compressed */
        space = H5Screate_simple(rank, dims, maxdims);
        H5Pset_chunk(dcpl, rank, chunk);
        if (store % 4 == 2)
            H5Pset_deflate(dcpl, 1);
        H5Pset_fletcher32(dcpl);
        break;
    default: /* chunked without a checksum */
        space = H5Screate_simple(rank, dims, maxdims);
        H5Pset_chunk(dcpl, rank, chunk);
        break;
    }
    dset = H5Dcreate2(grp, "images", ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dset >= 0 && store < 224) { /* written, unless left unallocated */
        hsize_t total = 1;
        for (int i = 0; i < rank; i++)
            total *= dims[i];
        if (total > 0 && total <= 16 * 16 * 16 && H5Tget_class(ftype) != H5T_STRING) {
            float *px = malloc(total * sizeof *px);
            for (hsize_t i = 0; i < total; i++)
                px[i] = i < 64 ? (float)take_double(r) : (float)(i % 13);
            H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, px);
            free(px);
        }
    }
    if (dset >= 0)
        H5Dclose(dset);
    H5Sclose(space);
    H5Pclose(dcpl);
    H5Tclose(ftype);
}

/* One column: usually the dtype garner writes and the right length. */
static void column(recipe *r, hid_t grp, const char *name, int int_kind, int string_kind,
                   hsize_t len)
{
    unsigned pres = take(r), how = take(r);
    int t = string_kind ? T_S64 : int_kind ? T_I32 : T_F64, rank = 1;
    if (pres < 24)
        return; /* absent */
    if (how >= 160)
        t = (int)(take(r) % T_COUNT);
    if (how >= 240)
        rank = how & 1 ? 0 : 2;
    if (how >= 200 && how < 240)
        len = how % 3 == 0 ? len + 1 : len > 0 ? len - 1 : 0;
    make_column(r, grp, name, t, rank, len, how % 5 != 0, how % 7 != 0, int_kind, string_kind);
}

static void build(recipe *r, hid_t file)
{
    unsigned layout = take(r), counts = take(r);
    hsize_t n = counts % 6, m = 1 + (counts >> 4) % 3, box = 2 + 2 * (take(r) % 3);
    hid_t grp;
    root_attributes(r, file);
    if (layout % 16 == 0) { /* /particles is a dataset, not a group */
        make_column(r, file, "particles", T_F64, 1, 1, 1, 1, 0, 0);
    } else if (layout % 16 != 1) {
        grp = H5Gcreate2(file, "particles", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (layout % 16 != 2)
            images(r, grp, n, box);
        for (size_t c = 0; c < sizeof particle_names / sizeof *particle_names; c++)
            column(r, grp, particle_names[c], c >= 9, 0, n);
        H5Gclose(grp);
    }
    if ((layout >> 4) % 8 == 0) /* no /optics */
        return;
    grp = H5Gcreate2(file, "optics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (size_t c = 0; c < sizeof optics_names / sizeof *optics_names; c++) {
        if (c == 6 && take(r) < 128) { /* image_size usually equal to the box */
            long long v = (long long)box;
            hsize_t dims = m;
            hid_t space = H5Screate_simple(1, &dims, NULL);
            hid_t d = H5Dcreate2(grp, "image_size", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT,
                                 H5P_DEFAULT);
            long long vals[4] = {v, v, v, v};
            if (d >= 0) {
                H5Dwrite(d, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, vals);
                H5Dclose(d);
            }
            H5Sclose(space);
            continue;
        }
        column(r, grp, optics_names[c], c == 0 || c == 6, c == 1, m);
    }
    H5Gclose(grp);
}

/* ---------------------------------------------------------------- reading */

static void read_back(gar_stack *s, size_t image_len)
{
    size_t n = gar_stack_count(s), box = gar_stack_box(s), n_optics = 0;
    size_t cnt = n < 8 ? n : 8;
    const gar_optics *optics = gar_stack_optics(s, &n_optics);
    gar_particle meta[8];
    float *px;
    if (box < 2 || box % 2 != 0 || n_optics == 0 || optics == NULL)
        gar_fuzz_fail("stack", "accepted a stack without a valid box or optics");
    for (size_t i = 0; i < n_optics; i++)
        if (!(optics[i].pixel_size_A > 0) || strlen(optics[i].name) >= sizeof optics[i].name ||
            gar_stack_optics_group(s, optics[i].group) == NULL)
            gar_fuzz_fail("stack", "accepted invalid optics");
    /* The recipes declare boxes of at most 16; the raw images must fit the
     * file (2048 times it when compressed), which bounds n. */
    if (box > 16 || (double)n * box * box * 4 > 2048.0 * (double)image_len)
        gar_fuzz_fail("stack", "accepted a stack larger than the file can hold");
    if (gar_stack_read_meta(s, 0, cnt, meta) == GAR_OK)
        for (size_t i = 0; i < cnt; i++)
            if ((meta[i].half_set != 1 && meta[i].half_set != 2) ||
                gar_stack_optics_group(s, meta[i].optics_group) == NULL ||
                !isfinite(meta[i].defocus_u_A) || !isfinite(meta[i].rot_deg))
                gar_fuzz_fail("stack", "gar_stack_read_meta returned invalid metadata");
    if (gar_stack_read_meta(s, n, 1, meta) == GAR_OK)
        gar_fuzz_fail("stack", "read metadata beyond the end");
    px = malloc((cnt > 0 ? cnt : 1) * box * box * sizeof *px);
    if (px != NULL) {
        gar_stack_read_images(s, 0, cnt, px);
        if (n > 0)
            gar_stack_read_images(s, n - 1, 1, px);
        if (gar_stack_read_images(s, n, 1, px) == GAR_OK)
            gar_fuzz_fail("stack", "read images beyond the end");
        free(px);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    recipe r = {data, size};
    hid_t fapl, file;
    ssize_t len;
    void *image = NULL;
    gar_stack *s = NULL;

    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, 1 << 12, 0);
    file = H5Fcreate("/dev/null/garner-fuzz-build", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (file < 0)
        gar_fuzz_fail("stack", "cannot create an in-memory HDF5 file");
    build(&r, file);
    H5Fflush(file, H5F_SCOPE_GLOBAL);
    len = H5Fget_file_image(file, NULL, 0);
    if (len > 0 && (image = malloc((size_t)len)) != NULL &&
        H5Fget_file_image(file, image, (size_t)len) == len) {
        gar_status st = gar_stack_open_image(image, (size_t)len, "fuzz.h5", &s);
        gar_fuzz_note("stack", st);
        if (st == GAR_OK) {
            free(image); /* the stack keeps its own copy */
            image = NULL;
            read_back(s, (size_t)len);
            gar_stack_close(&s);
        } else if (s != NULL) {
            gar_fuzz_fail("stack", "a refused stack left a handle");
        }
    }
    free(image);
    H5Fclose(file);
    return 0;
}
