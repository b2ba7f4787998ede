/* Tests for the HDF5 particle stack (hdf5io/gar_stack_*.c, docs/FORMAT.md):
 * bad files. They are made by writing a good stack and then changing it with
 * the HDF5 API, so each test breaks exactly one rule; only the corrupt-chunk
 * test touches bytes, at an address HDF5 itself reports. Round trips and the
 * writer: tests/check_stack.c. Also the checkpoint's file (hdf5io/
 * gar_checkpoint.c): a round trip, and an older format refused. */
#include "stack_fixtures.h"

#include <dirent.h>
#include <limits.h>

#include "gar_checkpoint.h"
#include "h5_compose.h"

const char *const stack_tag = "stack-files";

/* ---------------------------------------------------------------- checkpoints */

/* A checkpoint round trip, and one of the layout before the stored sphere
 * (format version 2, issue 20) refused by name at both reads, the
 * fingerprint's first (a run compares it before it loads the sums, and
 * would otherwise name a key this garner added as the difference). */
START_TEST(test_checkpoint_older_layout_refused)
{
    const char *path = test_tmpfile(TAG, "ck.checkpoint.h5");
    float g0[8] = {1, 2, 3, 4, 5, 6, 7, 8}, g1[8] = {-1, -2, -3, -4, -5, -6, -7, -8};
    float w0[4] = {0.5f, 1, 1.5f, 2}, w1[4] = {4, 3, 2, 1}, G[2][8], W[2][4];
    unsigned char done[3] = {1, 0, 1}, got_done[3];
    gar_checkpoint c = {4, 8, 10, 3, 30, {7, 8}, 2, done, 4, {g0, g1}, {w0, w1}, "fingerprint text"};
    gar_checkpoint back = {4, 8, 10, 3, 30, {0, 0}, 0, got_done, 4, {G[0], G[1]}, {W[0], W[1]}, NULL};
    char *fp = NULL;
    ck_assert_msg(gar_checkpoint_save(path, &c) == GAR_OK, "%s", gar_errmsg());
    ck_assert_msg(gar_checkpoint_fingerprint(path, &fp) == GAR_OK, "%s", gar_errmsg());
    ck_assert_str_eq(fp, "fingerprint text");
    free(fp);
    fp = NULL;
    ck_assert_msg(gar_checkpoint_load(path, &back) == GAR_OK, "%s", gar_errmsg());
    ck_assert(memcmp(G[0], g0, sizeof g0) == 0 && memcmp(G[1], g1, sizeof g1) == 0);
    ck_assert(memcmp(W[0], w0, sizeof w0) == 0 && memcmp(W[1], w1, sizeof w1) == 0);
    ck_assert(memcmp(got_done, done, sizeof done) == 0 && back.count[0] == 7 && back.count[1] == 8 && back.skipped == 2);

    hid_t f = h5_open_rw(path);
    h5_root_int_attr(f, "format_version", H5T_STD_U64LE, 2);
    H5Fclose(f);
    ck_assert_int_eq(gar_checkpoint_fingerprint(path, &fp), GAR_ERR_DATA);
    ck_assert_ptr_null(fp);
    ck_assert_msg(strstr(gar_errmsg(), "written by an older garner, whose sums are in another layout (checkpoint "
                                       "version 2; this garner writes 3)") != NULL, "%s", gar_errmsg());
    ck_assert_int_eq(gar_checkpoint_load(path, &back), GAR_ERR_DATA);
    ck_assert_msg(strstr(gar_errmsg(), "another layout") != NULL, "%s", gar_errmsg());
}
END_TEST

/* ---------------------------------------------------------------- bad files */

START_TEST(test_missing_file)
{
    const char *path = test_tmpfile(TAG, "absent.h5");
    expect_open_error(path, GAR_ERR_NOINPUT, "No such file");
}
END_TEST

START_TEST(test_not_hdf5)
{
    const char *path = test_tmpfile(TAG, "text.h5");
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    fputs("data_particles\nloop_\n_rlnImageName #1\n", f);
    fclose(f);
    /* Named by content, with the command that makes a stack of it. */
    expect_open_error(path, GAR_ERR_DATA, "text.h5: a STAR file (text), not a garner HDF5 stack: run `garner "
                      "import --star ");
    expect_open_error(path, GAR_ERR_DATA, "text-stack.h5` first");
}
END_TEST

START_TEST(test_not_garner)
{
    const char *path = test_tmpfile(TAG, "other.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[3] = {2, 4, 4};
    hid_t sp = H5Screate_simple(3, dims, NULL);
    hid_t d = H5Dcreate2(f, "images", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(d >= 0);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
    expect_open_error(path, GAR_ERR_DATA, "not a garner stack");

    /* A format attribute naming something else. */
    f = h5_open_rw(path);
    h5_vlen_str_attr(f, "format", "some-other-stack");
    H5Fclose(f);
    expect_open_error(path, GAR_ERR_DATA, "\"some-other-stack\", expected \"garner-stack\"");
}
END_TEST

START_TEST(test_truncated)
{
    const char *good = good_stack("whole.h5");
    const char *path = test_tmpfile(TAG, "half.h5");
    gar_stack *s = NULL;
    gar_status st;
    copy_file(good, path, 0.5);
    st = gar_stack_open(path, &s);
    if (st == GAR_OK) {
        float img[12 * PIX];
        gar_particle meta[12];
        st = gar_stack_read_images(s, 0, 12, img);
        if (st == GAR_OK)
            st = gar_stack_read_meta(s, 0, 12, meta);
        gar_stack_close(&s);
    }
    ck_assert_int_ne(st, GAR_OK);
    ck_assert_msg_has(path);
}
END_TEST

/* Flip one bit in the middle of the chunk holding element `index` of a
 * dataset, at the address HDF5 reports for it. */
static void flip_chunk_byte(const char *path, const char *dataset, hsize_t index,
                            hsize_t expect_size)
{
    hid_t f, d;
    hsize_t offset[3] = {index, 0, 0}, size = 0;
    haddr_t addr = 0;
    unsigned mask = 0;
    FILE *fp;
    int c;
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    d = H5Dopen2(f, dataset, H5P_DEFAULT);
    ck_assert(d >= 0);
    ck_assert(H5Dget_chunk_info_by_coord(d, offset, &mask, &addr, &size) >= 0);
    ck_assert_uint_eq(size, expect_size);
    H5Dclose(d);
    H5Fclose(f);

    fp = fopen(path, "r+b");
    ck_assert(fp != NULL);
    ck_assert(fseek(fp, (long)(addr + size / 2), SEEK_SET) == 0);
    c = fgetc(fp);
    ck_assert(c != EOF);
    ck_assert(fseek(fp, (long)(addr + size / 2), SEEK_SET) == 0);
    ck_assert(fputc(c ^ 0x10, fp) != EOF);
    ck_assert(fclose(fp) == 0);
}

START_TEST(test_corrupt_chunk)
{
    const char *path = good_stack("flip.h5");
    gar_stack *s = NULL;
    float img[12 * PIX];
    flip_chunk_byte(path, "/particles/images", 5, PIX * sizeof(float) + 4 /* Fletcher32 */);

    ck_assert_msg(gar_stack_open(path, &s) == GAR_OK, "%s", gar_errmsg());
    ck_assert_int_eq(gar_stack_read_images(s, 0, 12, img), GAR_ERR_DATA);
    ck_assert_msg_has("/particles/images: particle 5: checksum mismatch");
    ck_assert_msg_has(path);
    ck_assert_int_eq(gar_stack_read_images(s, 3, 4, img), GAR_ERR_DATA);
    ck_assert_msg_has("particle 5");
    /* The rest of the stack still reads. */
    ck_assert(gar_stack_read_images(s, 0, 5, img) == GAR_OK);
    check_images_equal(img, 0, 5);
    ck_assert(gar_stack_read_images(s, 6, 6, img) == GAR_OK);
    check_images_equal(img, 6, 6);
    gar_stack_close(&s);
}
END_TEST

START_TEST(test_corrupt_metadata)
{
    const char *path = good_stack("flipmeta.h5");
    gar_stack *s = NULL;
    gar_particle meta[12];
    /* One 4096-entry chunk holds the whole column. */
    flip_chunk_byte(path, "/particles/defocus_v_A", 0, 4096 * sizeof(double) + 4);
    ck_assert_msg(gar_stack_open(path, &s) == GAR_OK, "%s", gar_errmsg());
    ck_assert_int_eq(gar_stack_read_meta(s, 0, 12, meta), GAR_ERR_DATA);
    ck_assert_msg_has("/particles/defocus_v_A: particles [0, 12) unreadable");
    ck_assert_msg_has("Fletcher32");
    gar_stack_close(&s);

    /* In a column read whole at open, the open fails. */
    path = good_stack("flipint.h5");
    flip_chunk_byte(path, "/particles/optics_group", 0, 4096 * sizeof(int32_t) + 4);
    expect_open_error(path, GAR_ERR_DATA, "/particles/optics_group: unreadable");
}
END_TEST

START_TEST(test_column_length_mismatch)
{
    const char *path = good_stack("short.h5");
    h5_set_extent(path, "/particles/defocus_u_A", 11);
    expect_open_error(path, GAR_ERR_DATA,
                      "/particles/defocus_u_A: 11 entries, expected 12 (one per image)");
}
END_TEST

START_TEST(test_optics_length_mismatch)
{
    const char *path = good_stack("optlen.h5");
    hsize_t three = 3;
    h5_replace(path, "/optics/cs_mm", H5T_IEEE_F64LE, 1, &three);
    expect_open_error(path, GAR_ERR_DATA, "/optics/cs_mm: 3 entries, expected 2");
}
END_TEST

START_TEST(test_string_column)
{
    const char *path = good_stack("strcol.h5");
    hsize_t n = 12;
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 8);
    h5_replace(path, "/particles/rot_deg", t, 1, &n);
    H5Tclose(t);
    expect_open_error(path, GAR_ERR_DATA, "/particles/rot_deg: dtype string, expected a float");
}
END_TEST

START_TEST(test_int_column_for_float)
{
    const char *path = good_stack("intcol.h5");
    hsize_t n = 12;
    h5_replace(path, "/particles/psi_deg", H5T_STD_I32LE, 1, &n);
    expect_open_error(path, GAR_ERR_DATA, "/particles/psi_deg: dtype int32, expected a float");
}
END_TEST

START_TEST(test_2d_column)
{
    const char *path = good_stack("twod.h5");
    hsize_t dims[2] = {12, 3};
    h5_replace(path, "/particles/rot_deg", H5T_IEEE_F64LE, 2, dims);
    expect_open_error(path, GAR_ERR_DATA, "/particles/rot_deg: rank 2, expected 1-D");
}
END_TEST

START_TEST(test_images_wrong_rank)
{
    const char *path = good_stack("rank.h5");
    hsize_t dims[2] = {12, PIX};
    h5_replace(path, "/particles/images", H5T_IEEE_F32LE, 2, dims);
    expect_open_error(path, GAR_ERR_DATA, "/particles/images: rank 2, expected 3");
}
END_TEST

START_TEST(test_images_wrong_type)
{
    const char *path = good_stack("f64.h5");
    hsize_t dims[3] = {12, BOX, BOX};
    h5_replace(path, "/particles/images", H5T_IEEE_F64LE, 3, dims);
    expect_open_error(path, GAR_ERR_DATA, "/particles/images: dtype float64, expected float32");
}
END_TEST

START_TEST(test_images_not_square)
{
    const char *path = good_stack("rect.h5");
    hsize_t dims[3] = {12, BOX, BOX + 2};
    h5_replace(path, "/particles/images", H5T_IEEE_F32LE, 3, dims);
    expect_open_error(path, GAR_ERR_DATA, "images are 8 x 10, expected square");
}
END_TEST

START_TEST(test_images_odd_box)
{
    const char *path = good_stack("odd.h5");
    hsize_t dims[3] = {12, 7, 7};
    h5_replace(path, "/particles/images", H5T_IEEE_F32LE, 3, dims);
    expect_open_error(path, GAR_ERR_DATA, "box 7, expected an even size");
}
END_TEST

START_TEST(test_half_set_three)
{
    const char *path = good_stack("half3.h5");
    h5_write_int(path, "/particles/half_set", 4, 3);
    expect_open_error(path, GAR_ERR_DATA, "/particles/half_set: particle 4 has 3, expected 1 or 2");
}
END_TEST

START_TEST(test_unknown_optics_group)
{
    const char *path = good_stack("group9.h5");
    h5_write_int(path, "/particles/optics_group", 10, 9);
    expect_open_error(path, GAR_ERR_DATA, "/particles/optics_group: particle 10 has 9");
}
END_TEST

START_TEST(test_bad_optics_values)
{
    const char *path = good_stack("optics0.h5");
    h5_write_double(path, "/optics/pixel_size_A", 1, 0.0);
    expect_open_error(path, GAR_ERR_DATA, "/optics/pixel_size_A: group 7 has 0");

    path = good_stack("optics_size.h5");
    h5_write_int(path, "/optics/image_size", 0, 64);
    expect_open_error(path, GAR_ERR_DATA, "/optics/image_size: group 1 has 64, expected 8");

    path = good_stack("optics_kv.h5");
    h5_write_double(path, "/optics/voltage_kV", 0, -300);
    expect_open_error(path, GAR_ERR_DATA, "/optics/voltage_kV");
}
END_TEST

START_TEST(test_partial_column_group)
{
    const char *path = good_stack("partial.h5");
    h5_delete(path, "/particles/tilt_deg");
    expect_open_error(path, GAR_ERR_DATA, "/particles/tilt_deg: missing, but rot_deg is present");
}
END_TEST

START_TEST(test_missing_mandatory)
{
    const char *path = good_stack("nohalf.h5");
    h5_delete(path, "/particles/half_set");
    expect_open_error(path, GAR_ERR_DATA, "/particles/half_set: missing");

    path = good_stack("noimages.h5");
    h5_delete(path, "/particles/images");
    expect_open_error(path, GAR_ERR_DATA, "/particles/images: missing");

    path = good_stack("nooptics.h5");
    h5_delete(path, "/optics/voltage_kV");
    expect_open_error(path, GAR_ERR_DATA, "/optics/voltage_kV: missing");
}
END_TEST

START_TEST(test_missing_format_version)
{
    const char *path = good_stack("nover.h5");
    hid_t f = h5_open_rw(path);
    ck_assert(H5Adelete(f, "format_version") >= 0);
    H5Fclose(f);
    expect_open_error(path, GAR_ERR_DATA, "format_version is missing");
}
END_TEST

START_TEST(test_newer_format_version)
{
    const char *path = good_stack("v2.h5");
    hid_t f = h5_open_rw(path);
    h5_root_int_attr(f, "format_version", H5T_STD_I32LE, 2);
    H5Fclose(f);
    expect_open_error(path, GAR_ERR_DATA,
                      "format_version 2 is newer than this garner reads (1); upgrade garner");
}
END_TEST

START_TEST(test_hdf5_never_prints)
{
    /* Turn HDF5's own printing back on, then fail in every way: nothing may
     * reach stderr, because our one-line message is the whole report. */
    const char *good = good_stack("quiet.h5");
    const char *trunc = test_tmpfile(TAG, "quiet-half.h5");
    const char *log = test_tmpfile(TAG, "stderr.txt");
    gar_stack *s = NULL;
    gar_stack_writer *w = NULL;
    gar_optics o[2];
    struct stat sb;
    int saved, fd;
    copy_file(good, trunc, 0.5);
    h5_write_int(good, "/particles/half_set", 0, 5);
    make_optics(o, BOX);

    fflush(stderr);
    saved = dup(2);
    fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    H5Eset_auto2(H5E_DEFAULT, (H5E_auto2_t)H5Eprint2, stderr);
    ck_assert(gar_stack_open(trunc, &s) != GAR_OK);
    H5Eset_auto2(H5E_DEFAULT, (H5E_auto2_t)H5Eprint2, stderr);
    ck_assert(gar_stack_open(good, &s) != GAR_OK);
    H5Eset_auto2(H5E_DEFAULT, (H5E_auto2_t)H5Eprint2, stderr);
    ck_assert(gar_stack_writer_create(test_tmpfile(TAG, "nope/x.h5"), BOX, o, 2, 0, "", &w) !=
              GAR_OK);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    ck_assert(stat(log, &sb) == 0);
    ck_assert_msg(sb.st_size == 0, "%lld bytes reached stderr", (long long)sb.st_size);
}
END_TEST

/* ------------------------------------ data in other files (issue 18, 7 & 21) */

/* Particles [first, first+count) of `got` read the same images and metadata,
 * bit for bit, as particles [0, count) of `want`. */
static void expect_same_particles(gar_stack *got, size_t first, const char *want)
{
    gar_stack *w = NULL;
    size_t count;
    float *a, *b;
    gar_particle *ma, *mb;
    ck_assert_msg(gar_stack_open(want, &w) == GAR_OK, "%s", gar_errmsg());
    count = gar_stack_count(w);
    a = malloc(count * PIX * sizeof *a);
    b = malloc(count * PIX * sizeof *b);
    ma = calloc(count, sizeof *ma);
    mb = calloc(count, sizeof *mb);
    ck_assert(a && b && ma && mb);
    ck_assert_msg(gar_stack_read_images(got, first, count, a) == GAR_OK, "%s", gar_errmsg());
    ck_assert_msg(gar_stack_read_meta(got, first, count, ma) == GAR_OK, "%s", gar_errmsg());
    ck_assert_msg(gar_stack_read_images(w, 0, count, b) == GAR_OK, "%s", gar_errmsg());
    ck_assert_msg(gar_stack_read_meta(w, 0, count, mb) == GAR_OK, "%s", gar_errmsg());
    ck_assert_msg(memcmp(a, b, count * PIX * sizeof *a) == 0, "images [%zu, %zu) differ from %s", first,
                  first + count, want);
    ck_assert_msg(memcmp(ma, mb, count * sizeof *ma) == 0, "metadata [%zu, %zu) differs from %s", first,
                  first + count, want);
    free(a);
    free(b);
    free(ma);
    free(mb);
    gar_stack_close(&w);
}

/* Two stacks of 12 and 5 particles, and a stack of 17 whose every
 * /particles dataset is a virtual dataset over them, as h5py's
 * VirtualLayout makes it (source files named relative to its folder). */
static const char *make_vds(const char **p1, const char **p2, const char *only)
{
    static const size_t five[1] = {5};
    const char *vds = test_tmpfile(TAG, "vds.h5");
    const char *parts[2], *names[2] = {"vds-part1.h5", "vds-part2.h5"};
    *p1 = parts[0] = test_tmpfile(TAG, "vds-part1.h5");
    *p2 = parts[1] = test_tmpfile(TAG, "vds-part2.h5");
    write_stack(*p1, GAR_COL_POSE | GAR_COL_ORIGIN | GAR_COL_CTF | GAR_COL_PHASE_SHIFT, twelve, 3);
    write_stack(*p2, GAR_COL_POSE | GAR_COL_ORIGIN | GAR_COL_CTF | GAR_COL_PHASE_SHIFT, five, 1);
    ck_assert(compose_vds(vds, parts, names, only ? 1 : 2, only) == 0);
    return vds;
}

START_TEST(test_vds_reads_like_its_sources)
{
    const char *p1, *p2, *vds = make_vds(&p1, &p2, NULL);
    gar_stack *s = NULL;
    ck_assert_msg(gar_stack_open(vds, &s) == GAR_OK, "%s", gar_errmsg());
    ck_assert_uint_eq(gar_stack_count(s), 17);
    ck_assert_uint_eq(gar_stack_columns(s), GAR_COL_POSE | GAR_COL_ORIGIN | GAR_COL_CTF | GAR_COL_PHASE_SHIFT);
    expect_same_particles(s, 0, p1);
    expect_same_particles(s, 12, p2);
    gar_stack_close(&s);
}
END_TEST

START_TEST(test_vds_source_file_missing)
{
    const char *p1, *p2, *vds = make_vds(&p1, &p2, NULL);
    ck_assert(unlink(p2) == 0);
    expect_open_error(vds, GAR_ERR_DATA,
                      ": /particles/images: virtual dataset source 'vds-part2.h5' (/particles/images) not found");
}
END_TEST

START_TEST(test_vds_source_dataset_missing)
{
    const char *p1, *p2, *vds = make_vds(&p1, &p2, NULL);
    h5_delete(p2, "/particles/images");
    expect_open_error(vds, GAR_ERR_DATA,
                      ": /particles/images: virtual dataset source 'vds-part2.h5' (/particles/images) not "
                      "found (the file has no such dataset)");
}
END_TEST

START_TEST(test_vds_source_short)
{
    const char *p1, *p2, *vds = make_vds(&p1, &p2, NULL);
    hid_t f = h5_open_rw(p2), d = H5Dopen2(f, "/particles/images", H5P_DEFAULT);
    hsize_t dims[3] = {3, BOX, BOX};
    ck_assert(d >= 0 && H5Dset_extent(d, dims) >= 0);
    H5Dclose(d);
    ck_assert(H5Fclose(f) >= 0);
    expect_open_error(vds, GAR_ERR_DATA,
                      "/particles/images: virtual dataset source 'vds-part2.h5' (/particles/images) holds "
                      "192 values, the mapping reads 320");
}
END_TEST

/* Metadata columns may be virtual too: one virtual column whose source is
 * gone is refused by name. */
START_TEST(test_vds_column_source_missing)
{
    const char *p1, *p2, *vds = make_vds(&p1, &p2, "defocus_v_A");
    gar_stack *s = NULL;
    ck_assert_msg(gar_stack_open(vds, &s) == GAR_OK, "%s", gar_errmsg());
    expect_same_particles(s, 0, p1);
    gar_stack_close(&s);
    ck_assert(unlink(p1) == 0);
    expect_open_error(vds, GAR_ERR_DATA,
                      ": /particles/defocus_v_A: virtual dataset source 'vds-part1.h5' (/particles/defocus_v_A) "
                      "not found");
}
END_TEST

/* A stack whose images and every column are external links into a stack
 * of 200 particles: many more bytes of images than the linking file has,
 * which the size check once called "truncated". */
START_TEST(test_external_links_followed)
{
    static const size_t many[1] = {200};
    static const char *const links[] = {"/particles/images",   "/particles/half_set",    "/particles/optics_group",
                                        "/particles/rot_deg",  "/particles/tilt_deg",    "/particles/psi_deg",
                                        "/particles/defocus_u_A", "/particles/defocus_v_A",
                                        "/particles/defocus_angle_deg"};
    const char *target = test_tmpfile(TAG, "elink-target.h5"), *path = test_tmpfile(TAG, "elink.h5");
    gar_stack *s = NULL;
    struct stat sb;
    write_stack(target, GAR_COL_POSE | GAR_COL_CTF, many, 1);
    ck_assert(compose_elink(path, target, "elink-target.h5", links, sizeof links / sizeof *links) == 0);
    ck_assert(stat(path, &sb) == 0 && (size_t)sb.st_size < 200 * PIX * sizeof(float));
    ck_assert_msg(gar_stack_open(path, &s) == GAR_OK, "%s", gar_errmsg());
    ck_assert_uint_eq(gar_stack_count(s), 200);
    expect_same_particles(s, 0, target);
    gar_stack_close(&s);
}
END_TEST

START_TEST(test_external_link_dangling)
{
    static const char *const links[] = {"/particles/images"};
    const char *target = test_tmpfile(TAG, "gone.h5"), *path = test_tmpfile(TAG, "dangling.h5");
    write_stack(target, GAR_COL_POSE | GAR_COL_CTF, twelve, 3);
    ck_assert(compose_elink(path, target, "gone.h5", links, 1) == 0);
    ck_assert(unlink(target) == 0);
    expect_open_error(path, GAR_ERR_DATA,
                      ": /particles/images: external link to 'gone.h5' (/particles/images) is dangling: file "
                      "not found");
}
END_TEST

/* More stacks than the open-file budget: each read reopens what the pool
 * released and reads the same particles; never more files open than the
 * budget allows. */
START_TEST(test_open_file_pool)
{
    enum { NSTACKS = 5 };
    static const size_t four[1] = {4};
    char name[32];
    const char *paths[NSTACKS];
    gar_stack *s[NSTACKS] = {NULL};
    gar_stack_set_open_limit(2);
    for (int k = 0; k < NSTACKS; k++) {
        snprintf(name, sizeof name, "pool%d.h5", k);
        paths[k] = strdup(test_tmpfile(TAG, name));
        write_stack(paths[k], GAR_COL_POSE, k % 2 ? four : twelve, k % 2 ? 1 : 3);
        ck_assert_msg(gar_stack_open(paths[k], &s[k]) == GAR_OK, "%s", gar_errmsg());
        ck_assert_int_le(H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_FILE), 2);
    }
    for (int round = 0; round < 2; round++)
        for (int k = 0; k < NSTACKS; k++) {
            ck_assert_uint_eq(gar_stack_count(s[k]), k % 2 ? 4 : 12);
            expect_same_particles(s[k], 0, paths[k]);
        }
    /* A file rewritten behind the run's back is not read again. */
    ck_assert_msg(gar_stack_read_images(s[4], 0, 1, (float[PIX]){0}) == GAR_OK, "%s", gar_errmsg());
    h5_write_double(paths[0], "/particles/rot_deg", 0, 1.0);
    {
        float img[PIX];
        ck_assert_int_eq(gar_stack_read_images(s[0], 0, 1, img), GAR_ERR_DATA);
        ck_assert_msg_has("changed on disk since garner opened it");
    }
    for (int k = 0; k < NSTACKS; k++) {
        gar_stack_close(&s[k]);
        free((void *)paths[k]);
    }
    gar_stack_set_open_limit(0);
}
END_TEST

/* -------------------------------------------------------------------- main */

static Suite *stack_suite(void)
{
    TCase *bad = TEST_CASE("bad files", 0,
                           test_missing_file,
                           test_not_hdf5,
                           test_not_garner,
                           test_truncated,
                           test_corrupt_chunk,
                           test_corrupt_metadata,
                           test_column_length_mismatch,
                           test_optics_length_mismatch,
                           test_string_column,
                           test_int_column_for_float,
                           test_2d_column,
                           test_images_wrong_rank,
                           test_images_wrong_type,
                           test_images_not_square,
                           test_images_odd_box,
                           test_half_set_three,
                           test_unknown_optics_group,
                           test_bad_optics_values,
                           test_partial_column_group,
                           test_missing_mandatory,
                           test_missing_format_version,
                           test_newer_format_version,
                           test_checkpoint_older_layout_refused,
                           test_hdf5_never_prints);
    TCase *elsewhere = TEST_CASE("data in other files", 0,
                                 test_vds_reads_like_its_sources,
                                 test_vds_source_file_missing,
                                 test_vds_source_dataset_missing,
                                 test_vds_source_short,
                                 test_vds_column_source_missing,
                                 test_external_links_followed,
                                 test_external_link_dangling,
                                 test_open_file_pool);
    tcase_add_checked_fixture(bad, NULL, teardown);
    tcase_add_checked_fixture(elsewhere, NULL, teardown);
    return test_suite("stack files", bad, elsewhere, NULL);
}

int main(void)
{
    return stack_run_suite(stack_suite());
}
