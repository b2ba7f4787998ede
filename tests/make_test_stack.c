/* Test helper: write garner stacks that the bad-input tests need and that
 * garner itself would never write.
 *   make_test_stack empty OUT.h5   a valid stack holding no particles
 *   make_test_stack nan OUT.h5     4 particles of 64 px, particle 2 holding a NaN
 *                                  pixel (as another program might write it)
 * and, for tests/bad-inputs, a valid stack of 4 particles of 64 px (pose and
 * CTF columns, one optics group) changed behind garner's back:
 *   good          unchanged
 *   badlen        /particles/defocus_u_A has 3 entries instead of 4
 *   baddtype      /particles/images is float64
 *   badrank       /particles/images is 2-D [4][4096]
 *   nonsquare     /particles/images is [4][8][10]
 *   oddbox        /particles/images is [4][7][7] (and image_size 7)
 *   box2          /particles/images is [4][2][2] (and image_size 2): too small
 *                 to reconstruct (issue 18, case 21)
 *   halfset3      particle 2 has half_set 3
 *   onehalf       every particle in half set 1 (valid, garner writes it; a
 *                 gold-standard run refuses it: issue 18, case 21)
 *   bright        valid, the images 10^5 times good's (raw counts beside
 *                 normalised images: beyond exact sums' headroom, issue 20)
 *   badgroup      particle 0 has optics_group 9, not in /optics
 *   nover         no root attribute format_version
 *   newver        format_version 2
 *   notgarner     root attribute format = "foo"
 *   posesformat   root attribute format = "garner-poses" (a poses file given as a stack)
 *   partialpose   rot_deg and psi_deg without tilt_deg
 *   nandefocus    particle 1 has defocus_u_A NaN
 *   negdefocus    particle 1 has defocus_u_A -15000 (overfocus sign: issue 18, case 5)
 *   hugedefocus   particle 1 has defocus_v_A 1e300 (an infinite float CTF: case 6)
 *   farorigin     particle 2 has origin_x_A 1000, beyond its 192 Å image
 *   nanpixel      /optics/pixel_size_A is NaN
 *   hugecount     every /particles dataset extended to 10^9 entries that were
 *                 never written (a file of about 100 KB claiming 16 TB)
 *   corrupt       one byte of particle 2's image chunk flipped on disk, so
 *                 its Fletcher32 checksum fails
 * and stacks made of other stacks (issue 18, cases 7 and 21; OUT-x.h5 are
 * made beside OUT.h5, named in it without their folder):
 *   vds           every /particles dataset virtual over two good stacks
 *                 OUT-part1.h5 and OUT-part2.h5 (8 particles); valid
 *   vdsmissing    vds, then OUT-part2.h5 removed (HDF5 would read zeros)
 *   vdsnodset     vds, then /particles/images removed from OUT-part2.h5
 *   vdscolumn     good, but /particles/defocus_u_A virtual over the one of
 *                 OUT-part1.h5, which is then removed
 *   elink         good, but every /particles dataset an external link to the
 *                 same in OUT-target.h5; valid, and small: `make_test_stack
 *                 elink OUT.h5 COPIES` also writes COPIES copies of it,
 *                 OUT-0000.h5, OUT-0001.h5, ... (tests/many_stacks.sh)
 *   elinkdangling elink, then OUT-target.h5 removed
 * Usage: make_test_stack MODE OUT.h5 [COPIES] */
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gar_stack.h"
#include "h5_compose.h"

#define N 4
#define BOX 64

static const char *const modes[] = {
    "empty", "nan", "good", "badlen", "baddtype", "badrank", "nonsquare", "oddbox", "halfset3",
    "badgroup", "nover", "newver", "notgarner", "posesformat", "partialpose", "nandefocus", "nanpixel",
    "hugecount", "corrupt", "negdefocus", "hugedefocus", "farorigin", "box2", "vds", "vdsmissing",
    "vdsnodset", "vdscolumn", "elink", "elinkdangling", "onehalf", "bright", NULL};

static herr_t write_one(hid_t f, const char *name, hid_t mtype, hsize_t index, const void *value)
{
    hsize_t start[3] = {index, 0, 0}, count[3] = {1, 1, 1};
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t fs = d >= 0 ? H5Dget_space(d) : -1;
    int rank = fs >= 0 ? H5Sget_simple_extent_ndims(fs) : 1;
    hid_t ms = H5Screate_simple(rank, count, NULL);
    herr_t e = -1;
    if (fs >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0)
        e = H5Dwrite(d, mtype, ms, fs, H5P_DEFAULT, value);
    H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    if (d >= 0)
        H5Dclose(d);
    return e;
}

/* Replace a dataset by a new one of the given type and shape, filled with zeros. */
static herr_t replace(hid_t f, const char *name, hid_t ftype, int rank, const hsize_t *dims)
{
    hid_t s, d;
    double zeros[4096] = {0};
    hsize_t total = 1;
    if (H5Ldelete(f, name, H5P_DEFAULT) < 0)
        return -1;
    for (int i = 0; i < rank; i++)
        total *= dims[i];
    s = H5Screate_simple(rank, dims, NULL);
    d = H5Dcreate2(f, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(s);
    if (d < 0)
        return -1;
    if (total <= 4096 && H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros) < 0) {
        H5Dclose(d);
        return -1;
    }
    return H5Dclose(d);
}

static herr_t set_int_attr(hid_t f, const char *name, int value)
{
    hid_t root = H5Gopen2(f, "/", H5P_DEFAULT), s = H5Screate(H5S_SCALAR), a;
    herr_t e = -1;
    H5Adelete(root, name);
    a = H5Acreate2(root, name, H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        e = H5Awrite(a, H5T_NATIVE_INT, &value);
        H5Aclose(a);
    }
    H5Sclose(s);
    H5Gclose(root);
    return e;
}

static herr_t set_str_attr(hid_t f, const char *name, const char *value)
{
    hid_t root = H5Gopen2(f, "/", H5P_DEFAULT), s = H5Screate(H5S_SCALAR), t = H5Tcopy(H5T_C_S1), a;
    herr_t e = -1;
    H5Tset_size(t, strlen(value));
    H5Adelete(root, name);
    a = H5Acreate2(root, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        e = H5Awrite(a, t, value);
        H5Aclose(a);
    }
    H5Tclose(t);
    H5Sclose(s);
    H5Gclose(root);
    return e;
}

/* Every /particles dataset to n entries (the images to [n][BOX][BOX]),
 * without writing any. */
static herr_t extend_all(hid_t f, hsize_t n)
{
    static const char *const names[] = {"images", "half_set", "optics_group", "rot_deg",
                                        "tilt_deg", "psi_deg", "defocus_u_A", "defocus_v_A",
                                        "defocus_angle_deg"};
    hid_t g = H5Gopen2(f, "particles", H5P_DEFAULT);
    herr_t e = g >= 0 ? 0 : -1;
    for (size_t i = 0; i < sizeof names / sizeof *names && e >= 0; i++) {
        hsize_t dims[3] = {n, BOX, BOX};
        hid_t d = H5Dopen2(g, names[i], H5P_DEFAULT);
        e = d >= 0 ? H5Dset_extent(d, dims) : -1;
        if (d >= 0)
            H5Dclose(d);
    }
    if (g >= 0)
        H5Gclose(g);
    return e;
}

/* Flip one byte inside the stored chunk of image 2: HDF5 then reports a
 * Fletcher32 mismatch when that image is read. */
static int corrupt_chunk(const char *path)
{
    hsize_t offset[3] = {2, 0, 0}, size = 0;
    haddr_t addr = HADDR_UNDEF;
    unsigned mask = 0;
    unsigned char byte;
    int fd, ok = 0;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = f >= 0 ? H5Dopen2(f, "/particles/images", H5P_DEFAULT) : -1;
    if (d >= 0)
        ok = H5Dget_chunk_info_by_coord(d, offset, &mask, &addr, &size) >= 0 && addr != HADDR_UNDEF;
    if (d >= 0)
        H5Dclose(d);
    if (f >= 0)
        H5Fclose(f);
    if (!ok || size < 200 || (fd = open(path, O_RDWR)) < 0)
        return 0;
    ok = pread(fd, &byte, 1, (off_t)addr + 100) == 1;
    byte ^= 0x40;
    ok = ok && pwrite(fd, &byte, 1, (off_t)addr + 100) == 1;
    return close(fd) == 0 && ok;
}

static herr_t change(hid_t f, const char *mode)
{
    double nan = NAN;
    int32_t v;
    if (strcmp(mode, "nan") == 0) {
        float x = NAN;
        hsize_t start[3] = {2, 10, 10}, count[3] = {1, 1, 1};
        hid_t d = H5Dopen2(f, "/particles/images", H5P_DEFAULT);
        hid_t fs = H5Dget_space(d), ms = H5Screate_simple(3, count, NULL);
        herr_t e = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
        if (e >= 0)
            e = H5Dwrite(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, &x);
        H5Sclose(ms);
        H5Sclose(fs);
        H5Dclose(d);
        return e;
    }
    if (strcmp(mode, "badlen") == 0) {
        hsize_t dims[1] = {N - 1};
        return replace(f, "/particles/defocus_u_A", H5T_IEEE_F64LE, 1, dims);
    }
    if (strcmp(mode, "baddtype") == 0) {
        hsize_t dims[3] = {N, BOX, BOX};
        return replace(f, "/particles/images", H5T_IEEE_F64LE, 3, dims);
    }
    if (strcmp(mode, "badrank") == 0) {
        hsize_t dims[2] = {N, BOX * BOX};
        return replace(f, "/particles/images", H5T_IEEE_F32LE, 2, dims);
    }
    if (strcmp(mode, "nonsquare") == 0) {
        hsize_t dims[3] = {N, 8, 10};
        return replace(f, "/particles/images", H5T_IEEE_F32LE, 3, dims);
    }
    if (strcmp(mode, "oddbox") == 0) {
        hsize_t dims[3] = {N, 7, 7};
        v = 7;
        return replace(f, "/particles/images", H5T_IEEE_F32LE, 3, dims) < 0 ? -1
               : write_one(f, "/optics/image_size", H5T_NATIVE_INT32, 0, &v);
    }
    if (strcmp(mode, "box2") == 0) {
        hsize_t dims[3] = {N, 2, 2};
        v = 2;
        return replace(f, "/particles/images", H5T_IEEE_F32LE, 3, dims) < 0 ? -1
               : write_one(f, "/optics/image_size", H5T_NATIVE_INT32, 0, &v);
    }
    if (strcmp(mode, "halfset3") == 0) {
        v = 3;
        return write_one(f, "/particles/half_set", H5T_NATIVE_INT32, 2, &v);
    }
    if (strcmp(mode, "badgroup") == 0) {
        v = 9;
        return write_one(f, "/particles/optics_group", H5T_NATIVE_INT32, 0, &v);
    }
    if (strcmp(mode, "nover") == 0) {
        hid_t root = H5Gopen2(f, "/", H5P_DEFAULT);
        herr_t e = H5Adelete(root, "format_version");
        H5Gclose(root);
        return e;
    }
    if (strcmp(mode, "newver") == 0)
        return set_int_attr(f, "format_version", 2);
    if (strcmp(mode, "notgarner") == 0)
        return set_str_attr(f, "format", "foo");
    if (strcmp(mode, "posesformat") == 0)
        return set_str_attr(f, "format", "garner-poses");
    if (strcmp(mode, "partialpose") == 0)
        return H5Ldelete(f, "/particles/tilt_deg", H5P_DEFAULT);
    if (strcmp(mode, "nandefocus") == 0)
        return write_one(f, "/particles/defocus_u_A", H5T_NATIVE_DOUBLE, 1, &nan);
    if (strcmp(mode, "negdefocus") == 0) {
        double d = -15000;
        return write_one(f, "/particles/defocus_u_A", H5T_NATIVE_DOUBLE, 1, &d);
    }
    if (strcmp(mode, "hugedefocus") == 0) {
        double d = 1e300;
        return write_one(f, "/particles/defocus_v_A", H5T_NATIVE_DOUBLE, 1, &d);
    }
    if (strcmp(mode, "farorigin") == 0) {
        double o = 1000;
        return write_one(f, "/particles/origin_x_A", H5T_NATIVE_DOUBLE, 2, &o);
    }
    if (strcmp(mode, "nanpixel") == 0)
        return write_one(f, "/optics/pixel_size_A", H5T_NATIVE_DOUBLE, 0, &nan);
    if (strcmp(mode, "hugecount") == 0)
        return extend_all(f, 1000000000);
    return 0; /* good, corrupt (done on the closed file) */
}

/* A good stack of 4 particles at `out`, then changed as `mode` says. */
static int make(const char *mode, const char *out)
{
    gar_optics o = {1, "og", 3.0, 300.0, 2.7, 0.1, BOX};
    gar_stack_writer *w = NULL;
    static float images[N * BOX * BOX];
    gar_particle meta[N];
    int empty = strcmp(mode, "empty") == 0;
    /* Origin columns only where the mode changes one (the other modes' files stay as they were). */
    unsigned columns = GAR_COL_POSE | GAR_COL_CTF | (strcmp(mode, "farorigin") == 0 ? GAR_COL_ORIGIN : 0u);
    if (gar_stack_writer_create(out, BOX, &o, 1, columns, "test", &w) != GAR_OK)
        goto fail;
    if (!empty) {
        memset(meta, 0, sizeof meta);
        for (int i = 0; i < N; i++) {
            meta[i].half_set = strcmp(mode, "onehalf") == 0 ? 1 : 1 + i % 2;
            meta[i].optics_group = 1;
            meta[i].tilt_deg = 30.0 * i;
            meta[i].defocus_u_A = meta[i].defocus_v_A = 15000.0;
        }
        for (int k = 0; k < N * BOX * BOX; k++)
            images[k] = ((float)(k % 7) - 3.0f) * (strcmp(mode, "bright") == 0 ? 1e5f : 1.0f);
        if (gar_stack_writer_append(w, images, meta, N) != GAR_OK)
            goto fail;
    }
    if (gar_stack_writer_commit(&w) != GAR_OK)
        goto fail;
    if (strcmp(mode, "corrupt") == 0)
        return corrupt_chunk(out) ? 0 : 1;
    if (!empty && strcmp(mode, "good") != 0 && strcmp(mode, "onehalf") != 0 && strcmp(mode, "bright") != 0) {
        /* Change the file behind garner's back, as another program might. */
        hid_t f = H5Fopen(out, H5F_ACC_RDWR, H5P_DEFAULT);
        herr_t e = f >= 0 ? change(f, mode) : -1;
        if (f >= 0 && H5Fclose(f) < 0)
            e = -1;
        if (e < 0) {
            fprintf(stderr, "make_test_stack: %s: cannot make mode %s\n", out, mode);
            return 1;
        }
    }
    return 0;
fail:
    fprintf(stderr, "%s\n", gar_errmsg());
    gar_stack_writer_abort(&w);
    return 1;
}

/* OUT-<part>.h5 into path, and its name without the folder into name. */
static void beside(const char *out, const char *part, char *path, char *name, size_t size)
{
    const char *slash = strrchr(out, '/'), *base = slash ? slash + 1 : out;
    size_t stem = strlen(out) - (strlen(out) > 3 && strcmp(out + strlen(out) - 3, ".h5") == 0 ? 3 : 0);
    snprintf(path, size, "%.*s-%s.h5", (int)stem, out, part);
    snprintf(name, size, "%s", path + (base - out));
}

/* The modes made of other stacks: a good stack or two beside OUT, then OUT
 * over them (tests/h5_compose.c). */
static int composed(const char *mode, const char *out)
{
    char p1[4096], n1[4096], p2[4096], n2[4096];
    const char *parts[2] = {p1, p2}, *names[2] = {n1, n2};
    static const char *const links[] = {"/particles/images", "/particles/half_set", "/particles/optics_group",
                                        "/particles/rot_deg", "/particles/tilt_deg", "/particles/psi_deg",
                                        "/particles/defocus_u_A", "/particles/defocus_v_A",
                                        "/particles/defocus_angle_deg"};
    int vds = strncmp(mode, "vds", 3) == 0, column = strcmp(mode, "vdscolumn") == 0;
    beside(out, vds ? "part1" : "target", p1, n1, sizeof p1);
    beside(out, "part2", p2, n2, sizeof p2);
    if (make("good", p1) != 0 || (vds && !column && make("good", p2) != 0))
        return 1;
    if (vds ? compose_vds(out, parts, names, column ? 1 : 2, column ? "defocus_u_A" : NULL)
            : compose_elink(out, p1, n1, links, sizeof links / sizeof *links))
        return 1;
    if (strcmp(mode, "vdsmissing") == 0)
        return unlink(p2) != 0;
    if (strcmp(mode, "vdscolumn") == 0 || strcmp(mode, "elinkdangling") == 0)
        return unlink(p1) != 0;
    if (strcmp(mode, "vdsnodset") == 0) {
        hid_t f = H5Fopen(p2, H5F_ACC_RDWR, H5P_DEFAULT);
        herr_t e = f >= 0 ? H5Ldelete(f, "/particles/images", H5P_DEFAULT) : -1;
        if (f >= 0 && H5Fclose(f) < 0)
            e = -1;
        return e < 0;
    }
    return 0;
}

/* COPIES copies of the file `out`, OUT-0000.h5 ...: one process, where a
 * shell loop of cp would fork a thousand times. */
static int copies(const char *out, long n)
{
    static char buf[1 << 20];
    char path[4096], name[4096], part[24];
    FILE *in = fopen(out, "rb");
    size_t len = in ? fread(buf, 1, sizeof buf, in) : 0;
    int ok = in != NULL && len > 0 && len < sizeof buf;
    if (in)
        fclose(in);
    for (long k = 0; k < n && ok; k++) {
        FILE *f;
        snprintf(part, sizeof part, "%04ld", k);
        beside(out, part, path, name, sizeof path);
        ok = (f = fopen(path, "wb")) != NULL && fwrite(buf, 1, len, f) == len;
        if (f != NULL && fclose(f) != 0)
            ok = 0;
    }
    if (!ok)
        fprintf(stderr, "make_test_stack: cannot copy %s\n", out);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *mode = argc == 3 || (argc == 4 && strcmp(argv[1], "elink") == 0) ? argv[1] : "";
    int known = 0;
    for (size_t i = 0; modes[i] != NULL; i++)
        known |= strcmp(mode, modes[i]) == 0;
    if (!known) {
        fprintf(stderr, "usage: make_test_stack MODE OUT.h5 (MODE:");
        for (size_t i = 0; modes[i] != NULL; i++)
            fprintf(stderr, " %s", modes[i]);
        fprintf(stderr, ")\n");
        return 64;
    }
    if (strncmp(mode, "vds", 3) == 0 || strncmp(mode, "elink", 5) == 0)
        return composed(mode, argv[2]) || (argc == 4 && copies(argv[2], strtol(argv[3], NULL, 10)));
    return make(mode, argv[2]);
}
