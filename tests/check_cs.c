/* cryoSPARC .cs import and export (hdf5io/gar_cs.c) on a hand-made project:
 * PROJ/J12/particles.cs naming PROJ/J12/imported/p.mrcs as cryoSPARC does
 * (relative to the project folder, one path with the leading '>'). The
 * expected values are worked out by hand from pyem's conversion (see the
 * comment of test_rotvec_analytic in check_geometry.c for the pose), and the
 * .cs -> stack -> .cs round trip keeps poses, shifts and CTF to float32. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gar_cs.h"
#include "gar_geometry.h"
#include "gar_mrc.h"
#include "gar_npy.h"
#include "gar_stack.h"
#include "testutil.h"

#define BOX 8
#define ROWS 3

static char root[256], proj[300], csfile[400], stackfile[400];

/* The fields of a cryoSPARC refinement's particles, as its outputs name them. */
static const gar_npy_spec specs[] = {
    {"uid", "<u8", 1},          {"blob/path", "|S24", 1},          {"blob/idx", "<u4", 1},
    {"blob/shape", "<u4", 2},   {"blob/psize_A", "<f4", 1},        {"blob/sign", "<f4", 1},
    {"ctf/accel_kv", "<f4", 1}, {"ctf/cs_mm", "<f4", 1},           {"ctf/amp_contrast", "<f4", 1},
    {"ctf/df1_A", "<f4", 1},    {"ctf/df2_A", "<f4", 1},           {"ctf/df_angle_rad", "<f4", 1},
    {"ctf/phase_shift_rad", "<f4", 1}, {"ctf/exp_group_id", "<u4", 1}, {"alignments3D/pose", "<f4", 3},
    {"alignments3D/shift", "<f4", 2},  {"alignments3D/psize_A", "<f4", 1}, {"alignments3D/split", "<u4", 1},
};
enum { UID, PATH, IDX, SHAPE, PSIZE, SIGN, KV, CS, AC, DF1, DF2, DFANG, PHASE, GROUP, POSE, SHIFT, APSIZE, SPLIT };

/* Row values: a pose of known angles (pyem: (pi/2, 0, 0) -> rot -90, tilt 90,
 * psi 90), shifts in pixels of a 2 Å alignment grid, exposure groups 4 and 0. */
static const struct {
    const char *path;
    unsigned idx;
    double sign, df1, df2, dfang, phase, pose[3], shift[2], kv;
    unsigned group, split;
} rows[ROWS] = {
    {">J12/imported/p.mrcs", 2, -1.0, 15000, 14000, GAR_PI / 6, GAR_PI / 4, {GAR_PI / 2, 0, 0}, {1.5, -2.0}, 300, 4, 1},
    {"J12/imported/p.mrcs", 0, 1.0, 20000, 19500, 1.0, 0.0, {0.3, -0.5, 0.8}, {0.25, 0.75}, 300, 4, 0},
    {"J12/imported/p.mrcs", 1, 1.0, 9000, 9000, -0.5, 0.1, {0, 0, 0}, {0, 0}, 200, 0, 1},
};

static void write_project(gar_npy **keep)
{
    gar_npy *t = NULL;
    gar_mrc_writer *w = NULL;
    float img[3 * BOX * BOX];
    char cmd[700], mrcs[400];
    snprintf(root, sizeof root, "tests/tmp/check-cs-%d", (int)getpid());
    snprintf(proj, sizeof proj, "%s/PROJ", root);
    snprintf(csfile, sizeof csfile, "%s/J12/particles.cs", proj);
    snprintf(stackfile, sizeof stackfile, "%s/out.h5", root);
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s/J12/imported", root, proj);
    ck_assert_int_eq(system(cmd), 0);
    /* image k holds the value k + 1 everywhere */
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < BOX * BOX; i++)
            img[k * BOX * BOX + i] = (float)(k + 1);
    snprintf(mrcs, sizeof mrcs, "%s/J12/imported/p.mrcs", proj);
    ck_assert_int_eq(gar_mrc_writer_create(mrcs, BOX, BOX, 3, 2.0, GAR_MRC_STACK, &w), GAR_OK);
    ck_assert_int_eq(gar_mrc_writer_append(w, img, 3), GAR_OK);
    ck_assert_int_eq(gar_mrc_writer_commit(&w), GAR_OK);
    ck_assert_int_eq(gar_npy_create(specs, sizeof specs / sizeof specs[0], ROWS, &t), GAR_OK);
    for (size_t r = 0; r < ROWS; r++) {
        ck_assert_int_eq(gar_npy_set_u64(t, UID, r, 0, 1000 + r), GAR_OK);
        ck_assert_int_eq(gar_npy_set_string(t, PATH, r, rows[r].path), GAR_OK);
        ck_assert_int_eq(gar_npy_set_double(t, IDX, r, 0, rows[r].idx), GAR_OK);
        ck_assert_int_eq(gar_npy_set_double(t, SHAPE, r, 0, BOX), GAR_OK);
        ck_assert_int_eq(gar_npy_set_double(t, SHAPE, r, 1, BOX), GAR_OK);
        ck_assert_int_eq(gar_npy_set_double(t, PSIZE, r, 0, 2.0), GAR_OK);
        ck_assert_int_eq(gar_npy_set_double(t, SIGN, r, 0, rows[r].sign), GAR_OK);
        ck_assert_int_eq(gar_npy_set_double(t, KV, r, 0, rows[r].kv), GAR_OK);
        ck_assert_int_eq(gar_npy_set_double(t, CS, r, 0, 2.7), GAR_OK);
        ck_assert_int_eq(gar_npy_set_double(t, AC, r, 0, 0.07), GAR_OK);
        ck_assert_int_eq(gar_npy_set_double(t, DF1, r, 0, rows[r].df1), GAR_OK);
        ck_assert_int_eq(gar_npy_set_double(t, DF2, r, 0, rows[r].df2), GAR_OK);
        ck_assert_int_eq(gar_npy_set_double(t, DFANG, r, 0, rows[r].dfang), GAR_OK);
        ck_assert_int_eq(gar_npy_set_double(t, PHASE, r, 0, rows[r].phase), GAR_OK);
        ck_assert_int_eq(gar_npy_set_double(t, GROUP, r, 0, rows[r].group), GAR_OK);
        for (size_t k = 0; k < 3; k++)
            ck_assert_int_eq(gar_npy_set_double(t, POSE, r, k, rows[r].pose[k]), GAR_OK);
        for (size_t k = 0; k < 2; k++)
            ck_assert_int_eq(gar_npy_set_double(t, SHIFT, r, k, rows[r].shift[k]), GAR_OK);
        ck_assert_int_eq(gar_npy_set_double(t, APSIZE, r, 0, 2.0), GAR_OK);
        ck_assert_int_eq(gar_npy_set_double(t, SPLIT, r, 0, rows[r].split), GAR_OK);
    }
    ck_assert_int_eq(gar_npy_write(t, csfile), GAR_OK);
    *keep = t;
}

static void cleanup(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    ck_assert_int_eq(system(cmd), 0);
}

/* Rotation matrices of two rotation vectors agree to float32. */
static void assert_same_rotation(const double a[3], const double b[3], size_t row)
{
    double A[9], B[9];
    gar_rotvec_to_matrix(a, A);
    gar_rotvec_to_matrix(b, B);
    for (int k = 0; k < 9; k++)
        ck_assert_msg(fabs(A[k] - B[k]) < 2e-6, "row %zu: rotation element %d: %g vs %g", row, k, A[k], B[k]);
}

START_TEST(test_cs_import_known_values)
{
    gar_npy *t = NULL, *back = NULL;
    gar_stack *s = NULL;
    gar_particle m[ROWS];
    float img[ROWS * BOX * BOX];
    gar_cs_import_options opt = {NULL, 0, "check_cs", 0};
    gar_cs_import_report rep;
    size_t n_optics;
    char out_cs[500];
    write_project(&t);
    /* No --project-dir: found under the .cs file's folder's parent. */
    ck_assert_msg(gar_import_cs(csfile, stackfile, &opt, &rep) == GAR_OK, "%s", gar_errmsg());
    ck_assert_uint_eq(rep.written, ROWS);
    ck_assert_uint_eq(rep.inverted, 1);
    ck_assert_uint_eq(rep.optics_groups, 2);
    ck_assert_int_eq(rep.has_poses, 1);
    ck_assert_int_eq(rep.half_sets_assigned, 0);
    ck_assert_int_eq(gar_stack_open(stackfile, &s), GAR_OK);
    ck_assert_int_eq(gar_stack_read_meta(s, 0, ROWS, m), GAR_OK);
    ck_assert_int_eq(gar_stack_read_images(s, 0, ROWS, img), GAR_OK);
    /* Row 0 by hand: pose -> (-90, 90, 90); shift (1.5, -2) px x 2 Å = (3, -4) Å;
     * pi/6 rad = 30 degrees; pi/4 = 45 degrees; split 1 -> half set 2;
     * exposure group 4 -> optics group 5; image 2 (value 3) times sign -1. */
    ck_assert_double_eq_tol(m[0].rot_deg, -90.0, 1e-4);
    ck_assert_double_eq_tol(m[0].tilt_deg, 90.0, 1e-4);
    ck_assert_double_eq_tol(m[0].psi_deg, 90.0, 1e-4);
    ck_assert_double_eq_tol(m[0].origin_x_A, 3.0, 1e-6);
    ck_assert_double_eq_tol(m[0].origin_y_A, -4.0, 1e-6);
    ck_assert_double_eq_tol(m[0].defocus_u_A, 15000.0, 1e-3);
    ck_assert_double_eq_tol(m[0].defocus_v_A, 14000.0, 1e-3);
    ck_assert_double_eq_tol(m[0].defocus_angle_deg, 30.0, 1e-4);
    ck_assert_double_eq_tol(m[0].phase_shift_deg, 45.0, 1e-4);
    ck_assert_int_eq(m[0].half_set, 2);
    ck_assert_int_eq(m[0].optics_group, 5);
    ck_assert_float_eq(img[0], -3.0f);
    /* Row 1: pyem's (0.3, -0.5, 0.8) -> (-125.4684289249, 32.4950713358, 172.6040580109). */
    ck_assert_double_eq_tol(m[1].rot_deg, -125.4684289249, 1e-4);
    ck_assert_double_eq_tol(m[1].tilt_deg, 32.4950713358, 1e-4);
    ck_assert_double_eq_tol(m[1].psi_deg, 172.6040580109, 1e-4);
    ck_assert_double_eq_tol(m[1].origin_x_A, 0.5, 1e-6);
    ck_assert_double_eq_tol(m[1].origin_y_A, 1.5, 1e-6);
    ck_assert_int_eq(m[1].half_set, 1);
    ck_assert_float_eq(img[BOX * BOX], 1.0f);
    /* Row 2: identity; exposure group 0 -> optics group 1 at 200 kV. */
    ck_assert_double_eq_tol(m[2].tilt_deg, 0.0, 1e-9);
    ck_assert_int_eq(m[2].optics_group, 1);
    ck_assert_float_eq(img[2 * BOX * BOX], 2.0f);
    {
        const gar_optics *o = gar_stack_optics(s, &n_optics);
        ck_assert_uint_eq(n_optics, 2);
        ck_assert_int_eq(o[0].group, 5);
        ck_assert_double_eq_tol(o[0].voltage_kV, 300.0, 1e-9);
        ck_assert_int_eq(o[1].group, 1);
        ck_assert_double_eq_tol(o[1].voltage_kV, 200.0, 1e-9);
        ck_assert_double_eq_tol(o[1].amplitude_contrast, 0.07, 1e-7);
        ck_assert_double_eq_tol(o[1].pixel_size_A, 2.0, 1e-9);

        /* ... and back to a .cs: the same poses, shifts and CTF to float32. */
        snprintf(out_cs, sizeof out_cs, "%s/back.cs", root);
        ck_assert_int_eq(gar_cs_write(out_cs, "back.mrcs", BOX, o, n_optics, m, ROWS, 1, 7), GAR_OK);
    }
    ck_assert_int_eq(gar_npy_read(out_cs, &back), GAR_OK);
    ck_assert_uint_eq(gar_npy_rows(back), ROWS);
    uint64_t u0 = 0;
    for (size_t r = 0; r < ROWS; r++) {
        double v[3], w[3], x, y;
        uint64_t u;
        const char *same[] = {"blob/psize_A", "ctf/accel_kv", "ctf/cs_mm", "ctf/amp_contrast", "ctf/df1_A",
                              "ctf/df2_A", "ctf/df_angle_rad", "ctf/phase_shift_rad", "ctf/exp_group_id",
                              "alignments3D/split", "alignments3D/psize_A"};
        for (size_t k = 0; k < 3; k++) {
            ck_assert_int_eq(gar_npy_get_double(t, POSE, r, k, &v[k]), GAR_OK);
            ck_assert_int_eq(gar_npy_get_double(back, gar_npy_find(back, "alignments3D/pose"), r, k, &w[k]), GAR_OK);
        }
        assert_same_rotation(v, w, r);
        for (size_t k = 0; k < 2; k++) {
            ck_assert_int_eq(gar_npy_get_double(t, SHIFT, r, k, &x), GAR_OK);
            ck_assert_int_eq(gar_npy_get_double(back, gar_npy_find(back, "alignments3D/shift"), r, k, &y), GAR_OK);
            ck_assert_double_eq_tol(x, y, 1e-6);
        }
        for (size_t k = 0; k < sizeof same / sizeof same[0]; k++) {
            ck_assert_int_eq(gar_npy_get_double(t, gar_npy_find(t, same[k]), r, 0, &x), GAR_OK);
            ck_assert_int_eq(gar_npy_get_double(back, gar_npy_find(back, same[k]), r, 0, &y), GAR_OK);
            ck_assert_msg(fabs(x - y) <= 1e-6 * fabs(x) + 1e-7, "row %zu: %s %.9g back as %.9g", r, same[k], x, y);
        }
        ck_assert_int_eq(gar_npy_get_double(back, gar_npy_find(back, "blob/idx"), r, 0, &y), GAR_OK);
        ck_assert_double_eq(y, (double)r);
        ck_assert_int_eq(gar_npy_get_double(back, gar_npy_find(back, "blob/sign"), r, 0, &y), GAR_OK);
        ck_assert_double_eq(y, 1.0);
        ck_assert_int_eq(gar_npy_get_u64(back, gar_npy_find(back, "uid"), r, 0, &u), GAR_OK);
        if (r > 0)
            ck_assert(u != u0);
        u0 = u;
    }
    gar_stack_close(&s);
    gar_npy_destroy(&t);
    gar_npy_destroy(&back);
    cleanup();
}
END_TEST

/* A refused import names the file and the field, and leaves no stack. */
static void expect_refusal(const char *cs, const char *project, gar_status code, const char *fragment)
{
    gar_cs_import_options opt = {project, 0, NULL, 0};
    gar_cs_import_report rep;
    ck_assert_int_eq(gar_import_cs(cs, stackfile, &opt, &rep), code);
    ck_assert_msg(strstr(gar_errmsg(), fragment) != NULL, "message lacks '%s': %s", fragment, gar_errmsg());
    ck_assert_int_ne(access(stackfile, F_OK), 0);
}

START_TEST(test_cs_refusals)
{
    gar_npy *t = NULL;
    char moved[500], cmd[1200];
    write_project(&t);
    /* The project given outright, and wrongly: every folder tried is named. */
    expect_refusal(csfile, root, GAR_ERR_NOINPUT, "in none of the folders tried");
    expect_refusal(csfile, root, GAR_ERR_NOINPUT, "(--project-dir)");
    /* Moved out of the project: the parent, the folder, the working directory. */
    snprintf(moved, sizeof moved, "%s/elsewhere.cs", root);
    snprintf(cmd, sizeof cmd, "cp %s %s", csfile, moved);
    ck_assert_int_eq(system(cmd), 0);
    expect_refusal(moved, NULL, GAR_ERR_NOINPUT, "the .cs file's folder's parent");
    expect_refusal(moved, NULL, GAR_ERR_NOINPUT, "the working directory");
    {
        gar_cs_import_options opt = {proj, 0, NULL, 0};
        gar_cs_import_report rep;
        ck_assert_msg(gar_import_cs(moved, stackfile, &opt, &rep) == GAR_OK, "%s", gar_errmsg());
        unlink(stackfile);
    }
    /* Bad values, each naming the file, row and field. */
    ck_assert_int_eq(gar_npy_set_double(t, SPLIT, 1, 0, 2), GAR_OK);
    ck_assert_int_eq(gar_npy_write(t, csfile), GAR_OK);
    expect_refusal(csfile, NULL, GAR_ERR_DATA, "particles.cs: row 1: field 'alignments3D/split' is 2, expected 0 or 1");
    ck_assert_int_eq(gar_npy_set_double(t, SPLIT, 1, 0, 0), GAR_OK);
    ck_assert_int_eq(gar_npy_set_double(t, PSIZE, 2, 0, 1.5), GAR_OK);
    ck_assert_int_eq(gar_npy_write(t, csfile), GAR_OK);
    expect_refusal(csfile, NULL, GAR_ERR_DATA, "row 2: field 'blob/psize_A' is 1.5 Å");
    ck_assert_int_eq(gar_npy_set_double(t, PSIZE, 2, 0, 2.0), GAR_OK);
    ck_assert_int_eq(gar_npy_set_double(t, KV, 1, 0, 200), GAR_OK);
    ck_assert_int_eq(gar_npy_write(t, csfile), GAR_OK);
    expect_refusal(csfile, NULL, GAR_ERR_DATA, "row 1: field 'ctf/accel_kv' differs");
    ck_assert_int_eq(gar_npy_set_double(t, KV, 1, 0, 300), GAR_OK);
    ck_assert_int_eq(gar_npy_set_double(t, IDX, 1, 0, 3), GAR_OK);
    ck_assert_int_eq(gar_npy_write(t, csfile), GAR_OK);
    expect_refusal(csfile, NULL, GAR_ERR_DATA, "row 1: field 'blob/idx' is 3, but");
    ck_assert_int_eq(gar_npy_set_double(t, IDX, 1, 0, 0), GAR_OK);
    ck_assert_int_eq(gar_npy_set_double(t, SIGN, 1, 0, 0.5), GAR_OK);
    ck_assert_int_eq(gar_npy_write(t, csfile), GAR_OK);
    expect_refusal(csfile, NULL, GAR_ERR_DATA, "row 1: field 'blob/sign' is 0.5, expected 1 or -1");
    gar_npy_destroy(&t);
    /* A file without blob/idx. */
    {
        gar_npy_spec few[] = {{"uid", "<u8", 1}, {"blob/path", "|S8", 1}};
        ck_assert_int_eq(gar_npy_create(few, 2, 1, &t), GAR_OK);
        ck_assert_int_eq(gar_npy_write(t, csfile), GAR_OK);
        expect_refusal(csfile, NULL, GAR_ERR_DATA, "particles.cs: missing field 'blob/idx'");
        gar_npy_destroy(&t);
    }
    cleanup();
}
END_TEST

int main(void)
{
    TCase *tc = TEST_CASE("cs", 60, test_cs_import_known_values, test_cs_refusals);
    return test_run_suite(test_suite("cs", tc, NULL));
}
