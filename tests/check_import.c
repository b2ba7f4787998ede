/* Import of RELION 3.1 STAR + MRCS, and the input-list checks a run makes:
 * pixels and columns equal the source exactly; bad inputs give one clear
 * error and leave no output. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gar_import.h"
#include "gar_inputs.h"
#include "gar_mrc.h"
#include "gar_stack.h"
#include "gar_star.h"
#include "testutil.h"

static const gar_import_options quiet = {0, "test", 0, NULL};

START_TEST(test_import_relion_sim_exact)
{
    const char *out = test_tmpfile("import", "relion.h5");
    gar_import_report rep;
    gar_stack *s = NULL;
    gar_star *star = NULL;
    gar_mrc *mrc = NULL;
    gar_status st = gar_import_star(test_data("relion-sim/particles.star"), out, &quiet, &rep);
    ck_assert_msg(st == GAR_OK, "%s", gar_errmsg());
    ck_assert_uint_eq(rep.written, 400);
    ck_assert_int_eq(rep.half_sets_assigned, 0);
    ck_assert_int_eq(gar_stack_open(out, &s), GAR_OK);
    ck_assert_uint_eq(gar_stack_count(s), 400);
    ck_assert_uint_eq(gar_stack_box(s), 64);
    ck_assert_double_eq(gar_stack_pixel_size(s), 3.0);
    ck_assert_uint_eq(gar_stack_columns(s), GAR_COL_POSE | GAR_COL_ORIGIN | GAR_COL_CTF);
    size_t no;
    const gar_optics *o = gar_stack_optics(s, &no);
    ck_assert_uint_eq(no, 1);
    ck_assert_double_eq(o[0].voltage_kV, 300.0);
    ck_assert_double_eq(o[0].cs_mm, 2.7);
    ck_assert_double_eq(o[0].amplitude_contrast, 0.1);

    /* Pixels: bit-exact against the MRCS file. */
    const size_t npix = 64 * 64;
    float *a = malloc(sizeof(float) * 400 * npix), *b = malloc(sizeof(float) * 400 * npix);
    ck_assert_int_eq(gar_mrc_open(test_data("relion-sim/particles.mrcs"), &mrc), GAR_OK);
    ck_assert_int_eq(gar_mrc_read_sections(mrc, 0, 400, a), GAR_OK);
    ck_assert_int_eq(gar_stack_read_images(s, 0, 400, b), GAR_OK);
    ck_assert_msg(memcmp(a, b, sizeof(float) * 400 * npix) == 0, "imported pixels differ from the MRCS file");

    /* Columns: equal to the STAR text parsed as numbers. */
    gar_particle *meta = malloc(sizeof *meta * 400);
    ck_assert_int_eq(gar_stack_read_meta(s, 0, 400, meta), GAR_OK);
    ck_assert_int_eq(gar_star_read(test_data("relion-sim/particles.star"), &star), GAR_OK);
    const gar_star_table *t = gar_star_block(star, "particles");
    const char *labels[9] = {"rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi", "rlnOriginXAngst",
                             "rlnOriginYAngst", "rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle",
                             "rlnRandomSubset"};
    for (size_t r = 0; r < 400; r++) {
        const gar_particle *p = &meta[r];
        double got[9] = {p->rot_deg, p->tilt_deg, p->psi_deg, p->origin_x_A, p->origin_y_A,
                         p->defocus_u_A, p->defocus_v_A, p->defocus_angle_deg, p->half_set};
        for (int k = 0; k < 9; k++) {
            double want;
            ck_assert_int_eq(gar_star_cell_double(star, t, r, gar_star_column(t, labels[k]), &want), GAR_OK);
            ck_assert_msg(got[k] == want, "particle %zu %s: %.17g in the stack, %.17g in the STAR file", r,
                          labels[k], got[k], want);
        }
        ck_assert_int_eq(p->optics_group, 1);
    }
    free(a);
    free(b);
    free(meta);
    gar_mrc_close(&mrc);
    gar_star_destroy(&star);
    gar_stack_close(&s);
}
END_TEST

/* A small STAR + MRCS pair in the scratch folder; image 2 (1-based) may hold a NaN. */
static const char *write_small_set(const char *tag, int with_nan, const char *mrcs_name_in_star)
{
    const char *dir = test_tmpdir(tag);
    char path[8192];
    float *img = calloc(3 * 16 * 16, sizeof(float));
    for (int i = 0; i < 3 * 16 * 16; i++)
        img[i] = (float)(i % 17) - 8.0f;
    if (with_nan)
        img[16 * 16 + 5] = NAN;
    snprintf(path, sizeof path, "%s/small.mrcs", dir);
    ck_assert_int_eq(gar_mrc_write_data(path, img, 16, 16, 3, 2.0, GAR_MRC_STACK), GAR_OK);
    free(img);
    static char star_path[8192];
    snprintf(star_path, sizeof star_path, "%s/small.star", dir);
    FILE *f = fopen(star_path, "w");
    fprintf(f, "data_optics\nloop_\n_rlnOpticsGroup #1\n_rlnOpticsGroupName #2\n_rlnImagePixelSize #3\n"
               "_rlnImageSize #4\n_rlnVoltage #5\n_rlnSphericalAberration #6\n_rlnAmplitudeContrast #7\n"
               "1 og1 2.0 16 300 2.7 0.1\n\ndata_particles\nloop_\n_rlnImageName #1\n_rlnAngleRot #2\n"
               "_rlnAngleTilt #3\n_rlnAnglePsi #4\n_rlnOpticsGroup #5\n");
    for (int i = 1; i <= 3; i++)
        fprintf(f, "%06d@%s %d.5 %d 0 1\n", i, mrcs_name_in_star, 10 * i, 20 * i);
    fclose(f);
    return star_path;
}

/* Imports star into tag/out.h5 with the quiet options: it must fail with
 * `want` and leave no output file, not even a temporary one. */
static void expect_import_fails(const char *tag, const char *star, gar_status want)
{
    const char *out = test_tmpfile(tag, "out.h5");
    gar_import_report rep;
    ck_assert_int_eq(gar_import_star(star, out, &quiet, &rep), want);
    ck_assert(!test_file_exists(out));
    ck_assert_int_eq(test_count_prefix(test_tmpdir(tag), "out.h5"), 0);
}

START_TEST(test_import_nonfinite_error_and_skip)
{
    const char *star = write_small_set("nan", 1, "small.mrcs");
    gar_import_report rep;
    expect_import_fails("nan", star, GAR_ERR_DATA);
    ck_assert_msg(strstr(gar_errmsg(), "image 2") && strstr(gar_errmsg(), "NaN"), "%s", gar_errmsg());
    gar_import_options skip = quiet;
    skip.skip_nonfinite = 1;
    ck_assert_int_eq(gar_import_star(star, test_tmpfile("nan", "out.h5"), &skip, &rep), GAR_OK);
    ck_assert_uint_eq(rep.written, 2);
    ck_assert_uint_eq(rep.skipped_nonfinite, 1);
    ck_assert_int_eq(rep.half_sets_assigned, 1);
}
END_TEST

START_TEST(test_import_missing_mrcs)
{
    expect_import_fails("missing", write_small_set("missing", 0, "nowhere.mrcs"), GAR_ERR_NOINPUT);
    ck_assert_msg(strstr(gar_errmsg(), "nowhere.mrcs") != NULL, "%s", gar_errmsg());
    ck_assert_msg(strstr(gar_errmsg(), "small.star:") != NULL, "message should name the STAR line: %s",
                  gar_errmsg());
}
END_TEST

START_TEST(test_inputs_mixed_sizes)
{
    const char *big = test_tmpfile("mixed", "big.h5");
    const char *small_star = write_small_set("mixed", 0, "small.mrcs");
    const char *small = test_tmpfile("mixed", "small.h5");
    gar_import_report rep;
    gar_inputs *in = NULL;
    ck_assert_int_eq(gar_import_star(test_data("relion-sim/particles.star"), big, &quiet, &rep), GAR_OK);
    ck_assert_int_eq(gar_import_star(small_star, small, &quiet, &rep), GAR_OK);
    const char *ok[2] = {big, big};
    ck_assert_int_eq(gar_inputs_open(ok, 2, &in), GAR_OK);
    ck_assert_uint_eq(gar_inputs_count(in), 800);
    size_t si, li;
    ck_assert_int_eq(gar_inputs_locate(in, 401, &si, &li), GAR_OK);
    ck_assert_uint_eq(si, 1);
    ck_assert_uint_eq(li, 1);
    gar_inputs_close(&in);
    const char *bad[2] = {big, small};
    gar_status st = gar_inputs_open(bad, 2, &in);
    ck_assert_int_eq(st, GAR_ERR_DATA);
    ck_assert_msg(strstr(gar_errmsg(), "small.h5") && strstr(gar_errmsg(), "16 x 16") &&
                      strstr(gar_errmsg(), "64 x 64"),
                  "%s", gar_errmsg());
    ck_assert_ptr_null(in);
}
END_TEST

int main(void)
{
    TCase *tc = TEST_CASE("core", 120,
                          test_import_relion_sim_exact,
                          test_import_nonfinite_error_and_skip,
                          test_import_missing_mrcs,
                          test_inputs_mixed_sizes);
    return test_run_suite(test_suite("import", tc, NULL));
}
