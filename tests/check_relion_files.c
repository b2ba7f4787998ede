/* Import of the files RELION writes, as users have them: STAR files in job
 * folders with image names relative to the project folder, RELION 3.0
 * layouts, Extract/autopick output, RELION's own Class2D output, merged
 * optics groups at slightly different pixel sizes, and what must be refused
 * (CTF-premultiplied images, 3D particles). The files are in
 * tests/data/relion-project (its README says how each was made). Every
 * imported value is compared with the source STAR text and every pixel with
 * the MRCS file; the resampling of merged optics groups is checked against an
 * analytic image. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gar_import.h"
#include "gar_mrc.h"
#include "gar_resample.h"
#include "gar_stack.h"
#include "gar_star.h"
#include "testutil.h"

#define NPART 24
#define BOX 64

static const gar_import_options quiet = {0, "test", 0, NULL};

static const char *project(const char *name)
{
    static char buf[8][4096];
    static int k;
    char rel[512];
    snprintf(rel, sizeof rel, "relion-project/%s", name);
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s", test_data(rel));
    return buf[k];
}

/* Imports `star` (a path in the project) into tag/out.h5, which must work;
 * the stack is returned open. */
static gar_stack *import_ok(const char *tag, const char *star, const gar_import_options *opt,
                           gar_import_report *rep)
{
    const char *out = test_tmpfile(tag, "out.h5");
    gar_stack *s = NULL;
    remove(out);
    gar_status st = gar_import_star(star, out, opt, rep);
    ck_assert_msg(st == GAR_OK, "%s: %s", star, gar_errmsg());
    ck_assert_int_eq(gar_stack_open(out, &s), GAR_OK);
    return s;
}

static void import_refused(const char *tag, const char *star, gar_status want, const char *needle)
{
    const char *out = test_tmpfile(tag, "out.h5");
    gar_import_report rep;
    ck_assert_int_eq(gar_import_star(star, out, &quiet, &rep), want);
    ck_assert_msg(strstr(gar_errmsg(), needle) != NULL, "expected '%s' in: %s", needle, gar_errmsg());
    ck_assert(!test_file_exists(out));
    ck_assert_int_eq(test_count_prefix(test_tmpdir(tag), "out.h5"), 0);
}

/* A label's value in row r of the particles block, as a number. */
static double star_value(const gar_star *star, const char *block, size_t r, const char *label)
{
    const gar_star_table *t = gar_star_block(star, block);
    double v = NAN;
    int c = gar_star_column(t, label);
    ck_assert_msg(c >= 0, "%s: no %s", gar_star_path(star), label);
    ck_assert_int_eq(gar_star_cell_double(star, t, r, c, &v), GAR_OK);
    return v;
}

/* The 24 source images, from the MRCS file RELION wrote. */
static float *source_images(void)
{
    gar_mrc *mrc = NULL;
    float *a = malloc(sizeof(float) * NPART * BOX * BOX);
    ck_assert_int_eq(gar_mrc_open(project("Extract/job007/Movies/mic1.mrcs"), &mrc), GAR_OK);
    ck_assert_uint_eq(gar_mrc_nz(mrc), NPART);
    ck_assert_int_eq(gar_mrc_read_sections(mrc, 0, NPART, a), GAR_OK);
    gar_mrc_close(&mrc);
    return a;
}

/* The stack's metadata against the RELION 3.1 STAR `truth`: angles, Å
 * origins and defocus equal to the text parsed as numbers (origins within
 * `origin_tol` Å for files that give them in pixels). */
static void expect_meta_equal(gar_stack *s, const gar_star *truth, double origin_tol)
{
    gar_particle meta[NPART];
    ck_assert_int_eq(gar_stack_read_meta(s, 0, NPART, meta), GAR_OK);
    for (size_t r = 0; r < NPART; r++) {
        const gar_particle *p = &meta[r];
        ck_assert_double_eq(p->rot_deg, star_value(truth, "particles", r, "rlnAngleRot"));
        ck_assert_double_eq(p->tilt_deg, star_value(truth, "particles", r, "rlnAngleTilt"));
        ck_assert_double_eq(p->psi_deg, star_value(truth, "particles", r, "rlnAnglePsi"));
        ck_assert_double_eq(p->defocus_u_A, star_value(truth, "particles", r, "rlnDefocusU"));
        ck_assert_double_eq(p->defocus_v_A, star_value(truth, "particles", r, "rlnDefocusV"));
        ck_assert_double_eq(p->defocus_angle_deg, star_value(truth, "particles", r, "rlnDefocusAngle"));
        ck_assert(fabs(p->origin_x_A - star_value(truth, "particles", r, "rlnOriginXAngst")) <= origin_tol);
        ck_assert(fabs(p->origin_y_A - star_value(truth, "particles", r, "rlnOriginYAngst")) <= origin_tol);
    }
}

static gar_star *truth_star(void)
{
    gar_star *t = NULL;
    ck_assert_int_eq(gar_star_read(project("Refine3D/job010/run_data.star"), &t), GAR_OK);
    return t;
}

START_TEST(test_job_folder)
{
    gar_import_report rep;
    gar_star *truth = truth_star();
    gar_stack *s = import_ok("job", project("Refine3D/job010/run_data.star"), &quiet, &rep);
    float *a = source_images(), *b = malloc(sizeof(float) * NPART * BOX * BOX);
    ck_assert_uint_eq(gar_stack_count(s), NPART);
    ck_assert_uint_eq(gar_stack_columns(s), GAR_COL_POSE | GAR_COL_ORIGIN | GAR_COL_CTF);
    ck_assert_int_eq(rep.relion30, 0);
    expect_meta_equal(s, truth, 0.0);
    ck_assert_int_eq(gar_stack_read_images(s, 0, NPART, b), GAR_OK);
    ck_assert_msg(memcmp(a, b, sizeof(float) * NPART * BOX * BOX) == 0, "pixels differ from mic1.mrcs");
    free(a);
    free(b);
    gar_stack_close(&s);
    gar_star_destroy(&truth);
}
END_TEST

START_TEST(test_project_dir)
{
    gar_import_report rep;
    gar_import_options opt = quiet;
    gar_stack *s;
    /* Told outright, and right. */
    opt.project_dir = project("");
    s = import_ok("projdir", project("Refine3D/job010/run_data.star"), &opt, &rep);
    ck_assert_uint_eq(gar_stack_count(s), NPART);
    gar_stack_close(&s);
    /* Told outright, and wrong: no search, and the message says where it looked. */
    opt.project_dir = test_tmpdir("projdir-wrong");
    const char *out = test_tmpfile("projdir-wrong", "out.h5");
    ck_assert_int_eq(gar_import_star(project("Refine3D/job010/run_data.star"), out, &opt, &rep),
                     GAR_ERR_NOINPUT);
    ck_assert_msg(strstr(gar_errmsg(), "Extract/job007/Movies/mic1.mrcs") &&
                      strstr(gar_errmsg(), "projdir-wrong") && strstr(gar_errmsg(), "run_data.star:"),
                  "%s", gar_errmsg());
    ck_assert(!test_file_exists(out));
}
END_TEST

START_TEST(test_class2d_output)
{
    /* RELION's own refine output, with its many columns. */
    gar_import_report rep;
    gar_star *truth = truth_star();
    gar_stack *s = import_ok("class2d", project("Class2D/job008/run_it001_data.star"), &quiet, &rep);
    gar_star *src = NULL;
    gar_particle meta[NPART];
    ck_assert_int_eq(gar_star_read(project("Class2D/job008/run_it001_data.star"), &src), GAR_OK);
    ck_assert_uint_eq(gar_stack_count(s), NPART);
    ck_assert_int_eq(gar_stack_read_meta(s, 0, NPART, meta), GAR_OK);
    for (size_t r = 0; r < NPART; r++) {
        ck_assert_double_eq(meta[r].psi_deg, star_value(src, "particles", r, "rlnAnglePsi"));
        ck_assert_double_eq(meta[r].origin_x_A, star_value(src, "particles", r, "rlnOriginXAngst"));
        ck_assert_double_eq(meta[r].defocus_u_A, star_value(truth, "particles", r, "rlnDefocusU"));
    }
    gar_star_destroy(&src);
    gar_star_destroy(&truth);
    gar_stack_close(&s);
}
END_TEST

START_TEST(test_relion30)
{
    gar_import_report rep;
    gar_star *truth = truth_star();
    gar_stack *s = import_ok("r30", project("Relion30/particles.star"), &quiet, &rep);
    size_t no;
    const gar_optics *o = gar_stack_optics(s, &no);
    gar_particle meta[NPART];
    ck_assert_int_eq(rep.relion30, 1);
    ck_assert_uint_eq(no, 1);
    /* 3 µm detector pixels at 10000x. */
    ck_assert_double_eq_tol(o[0].pixel_size_A, 3.0, 1e-12);
    ck_assert_double_eq(o[0].voltage_kV, 300.0);
    ck_assert_double_eq(o[0].cs_mm, 2.7);
    ck_assert_double_eq(o[0].amplitude_contrast, 0.1);
    /* Origins were pixels printed to 1e-9: Å within 3e-9. */
    expect_meta_equal(s, truth, 3e-9);
    ck_assert_int_eq(gar_stack_read_meta(s, 0, NPART, meta), GAR_OK);
    for (size_t r = 0; r < NPART; r++)
        ck_assert_int_eq(meta[r].half_set, 1 + (int)(r % 2));
    gar_stack_close(&s);
    gar_star_destroy(&truth);
}
END_TEST

START_TEST(test_extract_without_poses)
{
    gar_import_report rep;
    gar_star *truth = truth_star();
    gar_stack *s = import_ok("extract", project("Extract/job007/particles.star"), &quiet, &rep);
    gar_particle meta[NPART];
    ck_assert_uint_eq(gar_stack_columns(s), GAR_COL_CTF | GAR_COL_PHASE_SHIFT);
    ck_assert_int_eq(gar_stack_read_meta(s, 0, NPART, meta), GAR_OK);
    for (size_t r = 0; r < NPART; r++) {
        ck_assert_double_eq(meta[r].psi_deg, 0.0);
        ck_assert_double_eq(meta[r].defocus_u_A, star_value(truth, "particles", r, "rlnDefocusU"));
    }
    gar_stack_close(&s);
    gar_star_destroy(&truth);
}
END_TEST

START_TEST(test_no_amplitude_contrast)
{
    gar_import_report rep;
    gar_stack *s = import_ok("noq", project("NoAmplitudeContrast/particles.star"), &quiet, &rep);
    size_t no;
    const gar_optics *o = gar_stack_optics(s, &no);
    ck_assert_uint_eq(no, 1);
    ck_assert_double_eq(o[0].amplitude_contrast, 0.0);
    ck_assert_double_eq(o[0].cs_mm, 2.7);
    gar_stack_close(&s);
}
END_TEST

START_TEST(test_six_optics_groups)
{
    gar_import_report rep;
    gar_stack *s = import_ok("six", project("SixOptics/particles.star"), &quiet, &rep);
    size_t no;
    const gar_optics *o = gar_stack_optics(s, &no);
    float *a = source_images(), *b = malloc(sizeof(float) * NPART * BOX * BOX);
    float *want = malloc(sizeof(float) * BOX * BOX);
    gar_resampler *rs = NULL;
    gar_particle meta[NPART];
    ck_assert_uint_eq(no, 6);
    for (size_t g = 0; g < no; g++) {
        char name[64];
        ck_assert_double_eq(o[g].pixel_size_A, 1.24);
        ck_assert_int_eq(o[g].group, (int)g + 1);
        if (g % 2 == 0)
            snprintf(name, sizeof name, "session %zu", g / 2 + 1);
        else
            snprintf(name, sizeof name, "opticsGroup%zu", g + 1);
        ck_assert_str_eq(o[g].name, name);
    }
    ck_assert_uint_eq(rep.resampled, 12);
    ck_assert_int_eq(gar_stack_read_meta(s, 0, NPART, meta), GAR_OK);
    ck_assert_int_eq(gar_stack_read_images(s, 0, NPART, b), GAR_OK);
    ck_assert_int_eq(gar_resampler_create(BOX, 1.25, 1.24, &rs), GAR_OK);
    for (size_t r = 0; r < NPART; r++) {
        const float *src = a + r * BOX * BOX, *got = b + r * BOX * BOX;
        ck_assert_int_eq(meta[r].optics_group, 1 + (int)(r / 4));
        if (r < 12) {
            ck_assert_msg(memcmp(src, got, sizeof(float) * BOX * BOX) == 0, "particle %zu changed", r);
        } else {
            gar_resampler_apply(rs, src, want);
            ck_assert_msg(memcmp(want, got, sizeof(float) * BOX * BOX) == 0, "particle %zu not resampled", r);
            ck_assert_msg(test_rel_l2(src, got, BOX * BOX) > 1e-3, "particle %zu left as it was", r);
        }
    }
    gar_resampler_destroy(&rs);
    free(a);
    free(b);
    free(want);
    gar_stack_close(&s);
}
END_TEST

/* A copy of a project STAR file with one text replaced, in the project
 * folder's image search path (written to the scratch folder, it finds the
 * images through --project-dir). */
static const char *edited_copy(const char *tag, const char *star, const char *from, const char *to)
{
    static char path[8192];
    FILE *f = fopen(project(star), "rb");
    char *buf = calloc(1, 1 << 20), *hit;
    size_t n;
    ck_assert_ptr_nonnull(f);
    n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = '\0';
    hit = strstr(buf, from);
    ck_assert_msg(hit != NULL, "%s: no '%s'", star, from);
    snprintf(path, sizeof path, "%s/edited.star", test_tmpdir(tag));
    f = fopen(path, "wb");
    fwrite(buf, 1, (size_t)(hit - buf), f);
    fputs(to, f);
    fputs(hit + strlen(from), f);
    fclose(f);
    free(buf);
    return path;
}

START_TEST(test_refusals)
{
    gar_import_options opt = quiet;
    gar_import_report rep;
    import_refused("premult", project("Premultiplied/particles.star"), GAR_ERR_DATA,
                   "rlnCtfDataAreCtfPremultiplied 1");
    import_refused("vol3d", project("Volumes3D/particles.star"), GAR_ERR_DATA, "rlnImageDimensionality 3");
    import_refused("vol3d-name", project("Volumes3D/no_dimensionality.star"), GAR_ERR_DATA,
                   "names the whole of");
    /* 1.24 vs 1.30 Å: 4.8 %, beyond the tolerance. */
    import_refused("pixel-far", edited_copy("pixel-far", "SixOptics/particles.star", "1.250000", "1.300000"),
                   GAR_ERR_DATA, "1.3 Å");
    /* One particle with a known pose among unknown ones. */
    {
        const char *star = edited_copy("psi-mixed", "Refine3D/job010/run_data.star", "165.778100", "-999.0");
        const char *out = test_tmpfile("psi-mixed", "out.h5");
        opt.project_dir = project("");
        ck_assert_int_eq(gar_import_star(star, out, &opt, &rep), GAR_ERR_DATA);
        ck_assert_msg(strstr(gar_errmsg(), "-999") != NULL, "%s", gar_errmsg());
        ck_assert(!test_file_exists(out));
    }
}
END_TEST

/* ---- the resampler against an analytic image ---- */

/* A Gaussian of σ = 6 Å centred 2.3 Å right of and 1.1 Å above the box
 * centre, sampled at `pix` Å per pixel. */
static void gaussian_image(float *img, size_t N, double pix)
{
    const double c = (double)(N / 2), s = 6.0;
    for (size_t y = 0; y < N; y++)
        for (size_t x = 0; x < N; x++) {
            double dx = ((double)x - c) * pix - 2.3, dy = ((double)y - c) * pix - 1.1;
            img[y * N + x] = (float)exp(-(dx * dx + dy * dy) / (2 * s * s));
        }
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

START_TEST(test_resample_analytic)
{
    const size_t N = 64;
    float *at125 = malloc(sizeof(float) * N * N), *at124 = malloc(sizeof(float) * N * N);
    float *got = malloc(sizeof(float) * N * N);
    gar_resampler *r = NULL;
    gaussian_image(at125, N, 1.25);
    gaussian_image(at124, N, 1.24);
    ck_assert_int_eq(gar_resampler_create(N, 1.25, 1.24, &r), GAR_OK);
    gar_resampler_apply(r, at125, got);
    /* The Gaussian is band-limited to float precision at 1.25 Å/px (σ 4.8
     * px): the interpolant is exact up to rounding. */
    ck_assert_msg(max_abs_diff(got, at124, N * N) < 2e-5, "resampled: max error %g",
                  max_abs_diff(got, at124, N * N));
    /* Not resampling would be wrong by far more: the test can tell. */
    ck_assert_msg(max_abs_diff(at125, at124, N * N) > 5e-3, "no-op error %g", max_abs_diff(at125, at124, N * N));
    gar_resampler_destroy(&r);
    /* The other way, and the identity. */
    ck_assert_int_eq(gar_resampler_create(N, 1.24, 1.25, &r), GAR_OK);
    gar_resampler_apply(r, at124, got);
    ck_assert_msg(max_abs_diff(got, at125, N * N) < 2e-5, "1.24 -> 1.25: max error %g",
                  max_abs_diff(got, at125, N * N));
    gar_resampler_destroy(&r);
    ck_assert_int_eq(gar_resampler_create(N, 1.25, 1.25, &r), GAR_OK);
    gar_resampler_apply(r, at125, got);
    ck_assert_msg(max_abs_diff(got, at125, N * N) < 1e-6, "identity: max error %g",
                  max_abs_diff(got, at125, N * N));
    gar_resampler_destroy(&r);
    free(at125);
    free(at124);
    free(got);
}
END_TEST

int main(void)
{
    TCase *files = TEST_CASE("files", 60, test_job_folder, test_project_dir, test_class2d_output,
                             test_relion30, test_extract_without_poses, test_no_amplitude_contrast,
                             test_six_optics_groups, test_refusals);
    TCase *resample = TEST_CASE("resample", 30, test_resample_analytic);
    return test_run_suite(test_suite("relion_files", files, resample, NULL));
}
