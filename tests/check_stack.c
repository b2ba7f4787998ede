/* Tests for the HDF5 particle stack (hdf5io/gar_stack_*.c, docs/FORMAT.md):
 * round trips and the writer. The bad files: tests/check_stack_files.c. */
#include "stack_fixtures.h"

const char *const stack_tag = "stack";

START_TEST(test_round_trip)
{
    const unsigned all = GAR_COL_POSE | GAR_COL_ORIGIN | GAR_COL_CTF | GAR_COL_PHASE_SHIFT;
    const char *path = good_stack("round.h5");
    gar_stack *s = NULL;
    gar_optics want[2];
    const gar_optics *o;
    size_t n_optics = 0;
    float img[12 * PIX];
    gar_particle meta[12];

    ck_assert_msg(gar_stack_open(path, &s) == GAR_OK, "%s", gar_errmsg());
    ck_assert_str_eq(gar_stack_path(s), path);
    ck_assert_uint_eq(gar_stack_count(s), 12);
    ck_assert_uint_eq(gar_stack_box(s), BOX);
    ck_assert_uint_eq(gar_stack_columns(s), all);

    make_optics(want, BOX);
    o = gar_stack_optics(s, &n_optics);
    ck_assert_uint_eq(n_optics, 2);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_int_eq(o[i].group, want[i].group);
        ck_assert_str_eq(o[i].name, want[i].name);
        ck_assert(o[i].pixel_size_A == want[i].pixel_size_A);
        ck_assert(o[i].voltage_kV == want[i].voltage_kV);
        ck_assert(o[i].cs_mm == want[i].cs_mm);
        ck_assert(o[i].amplitude_contrast == want[i].amplitude_contrast);
        ck_assert_int_eq(o[i].image_size, want[i].image_size);
    }
    ck_assert(gar_stack_pixel_size(s) == 1.06);
    ck_assert_ptr_eq(gar_stack_optics_group(s, 7), &o[1]);
    ck_assert_ptr_eq(gar_stack_optics_group(s, 1), &o[0]);
    ck_assert_ptr_null(gar_stack_optics_group(s, 2));

    ck_assert_msg(gar_stack_read_images(s, 0, 12, img) == GAR_OK, "%s", gar_errmsg());
    check_images_equal(img, 0, 12);
    ck_assert_msg(gar_stack_read_meta(s, 0, 12, meta) == GAR_OK, "%s", gar_errmsg());
    for (size_t i = 0; i < 12; i++)
        check_meta_equal(&meta[i], i, all);
    gar_stack_close(&s);
    ck_assert_ptr_null(s);
    gar_stack_close(&s); /* NULL-safe */
}
END_TEST

START_TEST(test_file_layout)
{
    /* What other tools see: the attributes, dtypes, chunking and filters
     * docs/FORMAT.md promises. */
    const char *path = good_stack("layout.h5");
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d, dcpl, t, a, at;
    hsize_t chunk[3];
    int version = 0;
    char buf[64];
    ck_assert(f >= 0);
    a = H5Aopen(f, "format", H5P_DEFAULT);
    at = H5Aget_type(a);
    ck_assert_int_eq(H5Tget_class(at), H5T_STRING);
    ck_assert_int_eq(H5Tis_variable_str(at), 0);
    memset(buf, 0, sizeof buf);
    ck_assert(H5Aread(a, at, buf) >= 0);
    ck_assert_str_eq(buf, "garner-stack");
    H5Tclose(at);
    H5Aclose(a);
    a = H5Aopen(f, "format_version", H5P_DEFAULT);
    at = H5Aget_type(a);
    ck_assert(H5Tequal(at, H5T_STD_I32LE) > 0);
    ck_assert(H5Aread(a, H5T_NATIVE_INT, &version) >= 0);
    ck_assert_int_eq(version, 1);
    H5Tclose(at);
    H5Aclose(a);
    ck_assert(H5Aexists(f, "creator") > 0 && H5Aexists(f, "created") > 0 &&
              H5Aexists(f, "provenance") > 0);

    d = H5Dopen2(f, "/particles/images", H5P_DEFAULT);
    t = H5Dget_type(d);
    ck_assert(H5Tequal(t, H5T_IEEE_F32LE) > 0);
    dcpl = H5Dget_create_plist(d);
    ck_assert_int_eq(H5Pget_layout(dcpl), H5D_CHUNKED);
    ck_assert_int_eq(H5Pget_chunk(dcpl, 3, chunk), 3);
    ck_assert(chunk[0] == 1 && chunk[1] == BOX && chunk[2] == BOX);
    ck_assert_int_eq(H5Pget_nfilters(dcpl), 1);
    ck_assert(H5Pget_filter_by_id2(dcpl, H5Z_FILTER_FLETCHER32, NULL, NULL, NULL, 0, NULL, NULL) >=
              0);
    H5Pclose(dcpl);
    H5Tclose(t);
    H5Dclose(d);

    d = H5Dopen2(f, "/particles/defocus_u_A", H5P_DEFAULT);
    t = H5Dget_type(d);
    ck_assert(H5Tequal(t, H5T_IEEE_F64LE) > 0);
    a = H5Aopen(d, "star_label", H5P_DEFAULT);
    at = H5Aget_type(a);
    memset(buf, 0, sizeof buf);
    ck_assert(H5Tget_size(at) < sizeof buf);
    ck_assert(H5Aread(a, at, buf) >= 0);
    ck_assert_str_eq(buf, "rlnDefocusU");
    H5Tclose(at);
    H5Aclose(a);
    dcpl = H5Dget_create_plist(d);
    ck_assert(H5Pget_filter_by_id2(dcpl, H5Z_FILTER_FLETCHER32, NULL, NULL, NULL, 0, NULL, NULL) >=
              0);
    H5Pclose(dcpl);
    H5Tclose(t);
    H5Dclose(d);

    d = H5Dopen2(f, "/particles/half_set", H5P_DEFAULT);
    t = H5Dget_type(d);
    ck_assert(H5Tequal(t, H5T_STD_I32LE) > 0);
    H5Tclose(t);
    H5Dclose(d);
    ck_assert(H5Fclose(f) >= 0);
}
END_TEST

START_TEST(test_sub_ranges)
{
    const char *path = good_stack("ranges.h5");
    gar_stack *s = NULL;
    float img[12 * PIX];
    gar_particle meta[12];
    ck_assert_msg(gar_stack_open(path, &s) == GAR_OK, "%s", gar_errmsg());

    /* Ranges that cross append boundaries (3 | 5 | 4) and the ends. */
    ck_assert(gar_stack_read_images(s, 2, 5, img) == GAR_OK);
    check_images_equal(img, 2, 5);
    ck_assert(gar_stack_read_images(s, 11, 1, img) == GAR_OK);
    check_images_equal(img, 11, 1);
    ck_assert(gar_stack_read_images(s, 0, 1, img) == GAR_OK);
    check_images_equal(img, 0, 1);
    ck_assert(gar_stack_read_meta(s, 7, 5, meta) == GAR_OK);
    for (size_t i = 0; i < 5; i++)
        check_meta_equal(&meta[i], 7 + i, gar_stack_columns(s));
    ck_assert(gar_stack_read_images(s, 12, 0, img) == GAR_OK);
    ck_assert(gar_stack_read_meta(s, 12, 0, meta) == GAR_OK);

    ck_assert_int_eq(gar_stack_read_images(s, 10, 3, img), GAR_ERR_USAGE);
    ck_assert_msg_has("[10, 13)");
    ck_assert_msg_has("[0, 12)");
    ck_assert_int_eq(gar_stack_read_meta(s, 13, 0, meta), GAR_ERR_USAGE);
    ck_assert_msg_has("[13, 13)");
    ck_assert_int_eq(gar_stack_read_images(s, SIZE_MAX, 2, img), GAR_ERR_USAGE);
    gar_stack_close(&s);
}
END_TEST

START_TEST(test_mandatory_columns_only)
{
    const char *path = test_tmpfile(TAG, "bare.h5");
    const size_t counts[1] = {6};
    gar_stack *s = NULL;
    gar_particle meta[6];
    float img[6 * PIX];
    hid_t f;
    write_stack(path, 0, counts, 1);

    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert(f >= 0);
    ck_assert_int_eq(H5Lexists(f, "/particles/rot_deg", H5P_DEFAULT), 0);
    ck_assert_int_eq(H5Lexists(f, "/particles/defocus_u_A", H5P_DEFAULT), 0);
    ck_assert(H5Lexists(f, "/particles/half_set", H5P_DEFAULT) > 0);
    H5Fclose(f);

    ck_assert_msg(gar_stack_open(path, &s) == GAR_OK, "%s", gar_errmsg());
    ck_assert_uint_eq(gar_stack_columns(s), 0);
    ck_assert_uint_eq(gar_stack_count(s), 6);
    /* Poison the output: absent columns must come back as zeros. */
    memset(meta, 0x7f, sizeof meta);
    ck_assert(gar_stack_read_meta(s, 0, 6, meta) == GAR_OK);
    for (size_t i = 0; i < 6; i++)
        check_meta_equal(&meta[i], i, 0);
    ck_assert(gar_stack_read_images(s, 0, 6, img) == GAR_OK);
    check_images_equal(img, 0, 6);
    gar_stack_close(&s);
}
END_TEST

START_TEST(test_column_subset)
{
    const char *path = test_tmpfile(TAG, "ctf.h5");
    const size_t counts[2] = {2, 3};
    gar_stack *s = NULL;
    gar_particle meta[5];
    write_stack(path, GAR_COL_CTF | GAR_COL_ORIGIN, counts, 2);
    ck_assert_msg(gar_stack_open(path, &s) == GAR_OK, "%s", gar_errmsg());
    ck_assert_uint_eq(gar_stack_columns(s), GAR_COL_CTF | GAR_COL_ORIGIN);
    ck_assert(gar_stack_read_meta(s, 0, 5, meta) == GAR_OK);
    for (size_t i = 0; i < 5; i++)
        check_meta_equal(&meta[i], i, GAR_COL_CTF | GAR_COL_ORIGIN);
    gar_stack_close(&s);
}
END_TEST

START_TEST(test_empty_stack)
{
    const char *path = test_tmpfile(TAG, "empty.h5");
    gar_stack *s = NULL;
    write_stack(path, GAR_COL_POSE, NULL, 0);
    ck_assert_msg(gar_stack_open(path, &s) == GAR_OK, "%s", gar_errmsg());
    ck_assert_uint_eq(gar_stack_count(s), 0);
    ck_assert_uint_eq(gar_stack_columns(s), GAR_COL_POSE);
    gar_stack_close(&s);
}
END_TEST

/* The ground truth of a simulated stack: written, read back over any range,
 * absent from a plain stack (GAR_ERR_NOINPUT), both columns or neither,
 * values checked by the writer and the reader. */
START_TEST(test_sim_truth)
{
    const char *path = test_tmpfile(TAG, "truth.h5"), *half = test_tmpfile(TAG, "truth-half.h5");
    const char *badv = test_tmpfile(TAG, "truth-bad.h5");
    gar_optics o[2];
    gar_stack_writer *w = NULL;
    gar_stack *s = NULL;
    float img[5 * PIX];
    gar_particle meta[5];
    int32_t junk[5] = {0, 1, 2, 0, 2}, jr[5];
    double scale[5] = {1.25, 0.5, 0.0, 1.0, 0.0}, sr[5];
    make_optics(o, BOX);
    make_images(img, 0, 5, BOX);
    make_meta(meta, 0, 5);
    ck_assert_int_eq(gar_stack_writer_create(path, BOX, o, 2, GAR_COL_POSE, "test", &w), GAR_OK);
    ck_assert_int_eq(gar_stack_writer_add_sim_truth(w), GAR_OK);
    /* With the columns, a plain append is refused (the columns would fall behind). */
    ck_assert_int_eq(gar_stack_writer_append(w, img, meta, 2), GAR_ERR_INTERNAL);
    junk[1] = 3;
    ck_assert_int_eq(gar_stack_writer_append_sim(w, img, meta, junk, scale, 2), GAR_ERR_DATA);
    ck_assert_msg_has("sim_junk: particle 1 has 3");
    junk[1] = 1;
    scale[0] = -1;
    ck_assert_int_eq(gar_stack_writer_append_sim(w, img, meta, junk, scale, 2), GAR_ERR_DATA);
    ck_assert_msg_has("sim_scale: particle 0 has -1");
    scale[0] = 1.25;
    ck_assert_int_eq(gar_stack_writer_append_sim(w, img, meta, junk, scale, 2), GAR_OK);
    ck_assert_int_eq(gar_stack_writer_add_sim_truth(w), GAR_ERR_INTERNAL);
    ck_assert_int_eq(gar_stack_writer_append_sim(w, img + 2 * PIX, meta + 2, junk + 2, scale + 2, 3), GAR_OK);
    ck_assert_int_eq(gar_stack_writer_commit(&w), GAR_OK);
    ck_assert_msg(gar_stack_open(path, &s) == GAR_OK, "%s", gar_errmsg());
    ck_assert_int_eq(gar_stack_has_sim_truth(s), 1);
    ck_assert_int_eq(gar_stack_read_sim_truth(s, 1, 4, jr, sr), GAR_OK);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(jr[i], junk[i + 1]);
        ck_assert_double_eq(sr[i], scale[i + 1]);
    }
    ck_assert_int_eq(gar_stack_read_sim_truth(s, 4, 1, NULL, sr), GAR_OK);
    ck_assert_double_eq(sr[0], 0.0);
    ck_assert_int_eq(gar_stack_read_sim_truth(s, 3, 3, jr, sr), GAR_ERR_USAGE);
    gar_stack_close(&s);

    /* A plain stack: no columns, a distinguishable status. */
    ck_assert_msg(gar_stack_open(good_stack("plain.h5"), &s) == GAR_OK, "%s", gar_errmsg());
    ck_assert_int_eq(gar_stack_has_sim_truth(s), 0);
    ck_assert_int_eq(gar_stack_read_sim_truth(s, 0, 1, jr, sr), GAR_ERR_NOINPUT);
    ck_assert_msg_has("absent");
    gar_stack_close(&s);

    /* One column without the other; a value out of range written by another tool. */
    copy_file(path, half, 1.0);
    h5_delete(half, "/particles/sim_scale");
    expect_open_error(half, GAR_ERR_DATA, "sim_scale: missing, but sim_junk is present");
    copy_file(path, badv, 1.0);
    h5_write_int(badv, "/particles/sim_junk", 2, 7);
    ck_assert_msg(gar_stack_open(badv, &s) == GAR_OK, "%s", gar_errmsg());
    ck_assert_int_eq(gar_stack_read_sim_truth(s, 0, 5, jr, NULL), GAR_ERR_DATA);
    ck_assert_msg_has("sim_junk: particle 2 has 7, expected 0, 1 or 2");
    gar_stack_close(&s);
}
END_TEST

/* ---------------------------------------------------------- temp and commit */

START_TEST(test_temp_file_lifecycle)
{
    const char *dir = test_tmpdir(TAG);
    const char *path = test_tmpfile(TAG, "life.h5");
    gar_optics o[2];
    gar_stack_writer *w = NULL;
    float img[PIX];
    gar_particle p = particle_meta(0);
    make_optics(o, BOX);
    make_images(img, 0, 1, BOX);

    ck_assert(gar_stack_writer_create(path, BOX, o, 2, GAR_COL_POSE, "", &w) == GAR_OK);
    ck_assert_int_eq(test_count_prefix(dir, "life.h5.tmp-"), 1);
    ck_assert(!test_file_exists(path));
    ck_assert(gar_stack_writer_append(w, img, &p, 1) == GAR_OK);
    ck_assert(gar_stack_writer_commit(&w) == GAR_OK);
    ck_assert_ptr_null(w);
    ck_assert_int_eq(test_count_prefix(dir, "life.h5.tmp-"), 0);
    ck_assert(test_file_exists(path));

    ck_assert(gar_stack_writer_create(path, BOX, o, 2, 0, "", &w) == GAR_OK);
    ck_assert(gar_stack_writer_append(w, img, &p, 1) == GAR_OK);
    ck_assert_int_eq(test_count_prefix(dir, "life.h5.tmp-"), 1);
    gar_stack_writer_abort(&w);
    ck_assert_ptr_null(w);
    ck_assert_int_eq(test_count_prefix(dir, "life.h5.tmp-"), 0);
    gar_stack_writer_abort(&w); /* NULL-safe */
    gar_stack_writer_abort(NULL);

    /* The committed stack survived the aborted rewrite. */
    {
        gar_stack *s = NULL;
        ck_assert(gar_stack_open(path, &s) == GAR_OK);
        ck_assert_uint_eq(gar_stack_columns(s), GAR_COL_POSE);
        gar_stack_close(&s);
    }
}
END_TEST

START_TEST(test_replace_only_at_commit)
{
    const char *path = test_tmpfile(TAG, "replace.h5");
    const size_t two[1] = {2};
    gar_optics o[2];
    gar_stack_writer *w = NULL;
    gar_stack *s = NULL;
    float img[5 * PIX];
    gar_particle meta[5];
    write_stack(path, 0, two, 1);
    make_optics(o, BOX);
    make_images(img, 0, 5, BOX);
    make_meta(meta, 0, 5);

    ck_assert(gar_stack_writer_create(path, BOX, o, 2, GAR_COL_POSE, "", &w) == GAR_OK);
    ck_assert(gar_stack_writer_append(w, img, meta, 5) == GAR_OK);
    ck_assert(gar_stack_open(path, &s) == GAR_OK);
    ck_assert_uint_eq(gar_stack_count(s), 2);
    gar_stack_close(&s);
    ck_assert(gar_stack_writer_commit(&w) == GAR_OK);
    ck_assert(gar_stack_open(path, &s) == GAR_OK);
    ck_assert_uint_eq(gar_stack_count(s), 5);
    gar_stack_close(&s);
}
END_TEST

START_TEST(test_commit_into_missing_folder)
{
    const char *path = test_tmpfile(TAG, "no-such-folder/out.h5");
    gar_optics o[2];
    gar_stack_writer *w = NULL;
    make_optics(o, BOX);
    ck_assert_int_eq(gar_stack_writer_create(path, BOX, o, 2, 0, "", &w), GAR_ERR_OUTPUT);
    ck_assert_ptr_null(w);
    ck_assert_msg_has("no-such-folder/out.h5");
}
END_TEST

/* ------------------------------------------------------------ append checks */

START_TEST(test_append_refuses_bad_values)
{
    const char *dir = test_tmpdir(TAG);
    const char *path = test_tmpfile(TAG, "refuse.h5");
    gar_optics o[2];
    gar_stack_writer *w = NULL;
    gar_stack *s = NULL;
    float img[4 * PIX];
    gar_particle meta[4];
    make_optics(o, BOX);
    ck_assert(gar_stack_writer_create(path, BOX, o, 2, GAR_COL_POSE | GAR_COL_CTF, "", &w) ==
              GAR_OK);
    make_images(img, 0, 3, BOX);
    make_meta(meta, 0, 3);
    ck_assert(gar_stack_writer_append(w, img, meta, 3) == GAR_OK);

    /* The second append holds global particles 3..6; the bad one is 4. */
    make_images(img, 3, 4, BOX);
    make_meta(meta, 3, 4);
    meta[1].defocus_u_A = NAN;
    ck_assert_int_eq(gar_stack_writer_append(w, img, meta, 4), GAR_ERR_DATA);
    ck_assert_msg_has("particle 4");
    ck_assert_msg_has("/particles/defocus_u_A");
    ck_assert_msg_has("refuse.h5");

    make_meta(meta, 3, 4);
    meta[2].rot_deg = INFINITY;
    ck_assert_int_eq(gar_stack_writer_append(w, img, meta, 4), GAR_ERR_DATA);
    ck_assert_msg_has("particle 5");
    ck_assert_msg_has("rot_deg");

    make_meta(meta, 3, 4);
    meta[0].half_set = 3;
    ck_assert_int_eq(gar_stack_writer_append(w, img, meta, 4), GAR_ERR_DATA);
    ck_assert_msg_has("particle 3 has 3, expected 1 or 2");

    make_meta(meta, 3, 4);
    meta[3].optics_group = 2;
    ck_assert_int_eq(gar_stack_writer_append(w, img, meta, 4), GAR_ERR_DATA);
    ck_assert_msg_has("/particles/optics_group: particle 6 has 2");

    make_meta(meta, 3, 4);
    img[2 * PIX + 5] = NAN;
    ck_assert_int_eq(gar_stack_writer_append(w, img, meta, 4), GAR_ERR_DATA);
    ck_assert_msg_has("/particles/images: particle 5");

    /* A non-finite value in a column the stack does not have is ignored. */
    make_images(img, 3, 4, BOX);
    make_meta(meta, 3, 4);
    meta[0].origin_x_A = NAN;
    meta[1].phase_shift_deg = -INFINITY;
    ck_assert_msg(gar_stack_writer_append(w, img, meta, 4) == GAR_OK, "%s", gar_errmsg());

    /* Refused appends wrote nothing. */
    ck_assert(gar_stack_writer_commit(&w) == GAR_OK);
    ck_assert_int_eq(test_count_prefix(dir, "refuse.h5.tmp-"), 0);
    ck_assert(gar_stack_open(path, &s) == GAR_OK);
    ck_assert_uint_eq(gar_stack_count(s), 7);
    {
        float got[7 * PIX];
        ck_assert(gar_stack_read_images(s, 0, 7, got) == GAR_OK);
        check_images_equal(got, 0, 7);
    }
    gar_stack_close(&s);
}
END_TEST

START_TEST(test_create_refuses_bad_optics)
{
    const char *path = test_tmpfile(TAG, "never.h5");
    const char *dir = test_tmpdir(TAG);
    gar_optics o[2];
    gar_stack_writer *w = NULL;

    make_optics(o, BOX);
    ck_assert_int_eq(gar_stack_writer_create(path, 7, o, 2, 0, "", &w), GAR_ERR_DATA);
    ck_assert_msg_has("box 7");
    ck_assert_int_eq(gar_stack_writer_create(path, BOX, o, 0, 0, "", &w), GAR_ERR_DATA);
    ck_assert_msg_has("/optics");
    o[1].image_size = 2 * BOX;
    ck_assert_int_eq(gar_stack_writer_create(path, BOX, o, 2, 0, "", &w), GAR_ERR_DATA);
    ck_assert_msg_has("/optics/image_size: group 7 has 16, expected 8");
    make_optics(o, BOX);
    o[1].pixel_size_A = 1.2;
    ck_assert_int_eq(gar_stack_writer_create(path, BOX, o, 2, 0, "", &w), GAR_ERR_DATA);
    ck_assert_msg_has("one pixel size");
    make_optics(o, BOX);
    o[1].group = 1;
    ck_assert_int_eq(gar_stack_writer_create(path, BOX, o, 2, 0, "", &w), GAR_ERR_DATA);
    ck_assert_msg_has("group 1 appears twice");
    make_optics(o, BOX);
    o[0].amplitude_contrast = 1.0;
    ck_assert_int_eq(gar_stack_writer_create(path, BOX, o, 2, 0, "", &w), GAR_ERR_DATA);
    ck_assert_msg_has("amplitude_contrast");
    make_optics(o, BOX);
    memset(o[0].name, 'x', sizeof o[0].name);
    ck_assert_int_eq(gar_stack_writer_create(path, BOX, o, 2, 0, "", &w), GAR_ERR_DATA);
    ck_assert_msg_has("/optics/name");
    ck_assert_ptr_null(w);
    ck_assert_int_eq(test_count_prefix(dir, "never.h5"), 0);
}
END_TEST


START_TEST(test_h5py_style_file)
{
    /* What a user's h5py script produces: str attributes as variable-length
     * UTF-8, Python ints as int64, contiguous (unchunked, unfiltered) data,
     * float32 columns, int64/uint8 ints, optics names as variable-length. */
    const char *path = test_tmpfile(TAG, "h5py.h5");
    const size_t n = 4;
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), g, sp, d, t;
    hsize_t dims[3] = {n, BOX, BOX}, m = 2;
    float img[4 * PIX], rot32[4] = {1.5f, -2.25f, 3.0f, 400.125f};
    int64_t half64[4] = {1, 2, 2, 1}, group64[4] = {3, 3, 4, 4}, ogroup[2] = {3, 4}, isize[2] = {BOX, BOX};
    uint8_t dummy = 0;
    double px[2] = {0.83, 0.83}, kv[2] = {300, 300}, cs[2] = {2.7, 2.7}, ac[2] = {0.1, 0.1};
    const char *names[2] = {"og3", "og4"};
    gar_stack *s = NULL;
    gar_particle meta[4];
    float got[4 * PIX];
    const gar_optics *o;
    size_t n_optics;
    (void)dummy;
    make_images(img, 0, n, BOX);
    ck_assert(f >= 0);
    h5_vlen_str_attr(f, "format", "garner-stack");
    h5_root_int_attr(f, "format_version", H5T_STD_I64LE, 1);

    g = H5Gcreate2(f, "particles", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    sp = H5Screate_simple(3, dims, NULL);
    d = H5Dcreate2(g, "images", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, img) >= 0);
    H5Dclose(d);
    H5Sclose(sp);
    sp = H5Screate_simple(1, dims, NULL);
    d = H5Dcreate2(g, "half_set", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, half64) >= 0);
    H5Dclose(d);
    d = H5Dcreate2(g, "optics_group", H5T_STD_U8LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, group64) >= 0);
    H5Dclose(d);
    {
        const char *pose[3] = {"rot_deg", "tilt_deg", "psi_deg"};
        for (int k = 0; k < 3; k++) {
            d = H5Dcreate2(g, pose[k], H5T_IEEE_F32BE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            ck_assert(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, rot32) >= 0);
            H5Dclose(d);
        }
    }
    H5Sclose(sp);
    H5Gclose(g);

    g = H5Gcreate2(f, "optics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    sp = H5Screate_simple(1, &m, NULL);
#define OPTCOL(name, ftype, mtype, buf)                                                            \
    d = H5Dcreate2(g, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);                     \
    ck_assert(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);                        \
    H5Dclose(d)
    OPTCOL("optics_group", H5T_STD_I64LE, H5T_NATIVE_INT64, ogroup);
    OPTCOL("pixel_size_A", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, px);
    OPTCOL("voltage_kV", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, kv);
    OPTCOL("cs_mm", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, cs);
    OPTCOL("amplitude_contrast", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, ac);
    OPTCOL("image_size", H5T_STD_I64LE, H5T_NATIVE_INT64, isize);
    t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    OPTCOL("name", t, t, names);
#undef OPTCOL
    H5Tclose(t);
    H5Sclose(sp);
    H5Gclose(g);
    ck_assert(H5Fclose(f) >= 0);

    ck_assert_msg(gar_stack_open(path, &s) == GAR_OK, "%s", gar_errmsg());
    ck_assert_uint_eq(gar_stack_count(s), n);
    ck_assert_uint_eq(gar_stack_columns(s), GAR_COL_POSE);
    ck_assert(gar_stack_pixel_size(s) == 0.83);
    o = gar_stack_optics(s, &n_optics);
    ck_assert_uint_eq(n_optics, 2);
    ck_assert_str_eq(o[0].name, "og3");
    ck_assert_str_eq(o[1].name, "og4");
    ck_assert_int_eq(o[1].image_size, BOX);
    ck_assert(gar_stack_read_images(s, 0, n, got) == GAR_OK);
    check_images_equal(got, 0, n);
    ck_assert(gar_stack_read_meta(s, 1, 3, meta) == GAR_OK);
    for (size_t i = 0; i < 3; i++) {
        ck_assert(meta[i].rot_deg == rot32[i + 1] && meta[i].psi_deg == rot32[i + 1]);
        ck_assert_int_eq(meta[i].half_set, half64[i + 1]);
        ck_assert_int_eq(meta[i].optics_group, group64[i + 1]);
        ck_assert(meta[i].defocus_u_A == 0);
    }
    gar_stack_close(&s);
}
END_TEST



/* -------------------------------------------------------------------- main */

static Suite *stack_suite(void)
{
    TCase *rt = TEST_CASE("round trip", 0,
                          test_round_trip,
                          test_file_layout,
                          test_sub_ranges,
                          test_mandatory_columns_only,
                          test_column_subset,
                          test_empty_stack,
                          test_sim_truth,
                          test_h5py_style_file);
    tcase_add_checked_fixture(rt, NULL, teardown);
    TCase *wr = TEST_CASE("writer", 0,
                          test_temp_file_lifecycle,
                          test_replace_only_at_commit,
                          test_commit_into_missing_folder,
                          test_append_refuses_bad_values,
                          test_create_refuses_bad_optics);
    tcase_add_checked_fixture(wr, NULL, teardown);
    return test_suite("stack", rt, wr, NULL);
}

int main(void)
{
    return stack_run_suite(stack_suite());
}
