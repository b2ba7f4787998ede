/* Test helper: refined poses against the true poses a simulated stack holds.
 *   compare_poses STACK.h5 POSES.h5 SYMMETRY MIN_WITHIN MAX_MEDIAN_SHIFT [MAX_MEDIAN_ANGLE]
 * (POSES.h5 a garner poses file, or a stack whose pose columns hold the
 * poses, e.g. RELION's refined STAR file imported with garner import) prints the fraction of particles within 5 degrees of the truth (modulo the
 * symmetry), the median angular error and the median origin error (Å); exits
 * 0 when the fraction is at least MIN_WITHIN and the median origin error at
 * most MAX_MEDIAN_SHIFT Å (and, when given, the median angular error at most
 * MAX_MEDIAN_ANGLE degrees). When STACK.h5 holds the ground truth of a
 * simulation with junk (/particles/sim_junk), the junk particles (sim_junk
 * != 0) are left out of every statistic, and a line before says how many;
 * with a garner poses file, another says what share of the junk it flags
 * (`junk` = 1) and of the real particles, and with GARNER_MIN_JUNK_FLAGGED
 * set to a fraction, less junk flagged than that fails.
 *   compare_poses A.h5 B.h5 same
 * exits 0 when two poses files hold bitwise the same poses. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gar_kernels.h"
#include "gar_poses.h"
#include "gar_stack.h"
#include "gar_symmetry.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int same_poses(const char *a, const char *b)
{
    size_t n = 0, m = 0;
    gar_pose *pa, *pb;
    gar_refine_state sa, sb;
    if (gar_poses_count(a, &n) != GAR_OK || gar_poses_count(b, &m) != GAR_OK || n != m) {
        fprintf(stderr, "%s\n", gar_errmsg());
        return 1;
    }
    pa = calloc(n ? n : 1, sizeof *pa);
    pb = calloc(n ? n : 1, sizeof *pb);
    if (gar_poses_read(a, pa, n, &sa, NULL, NULL) != GAR_OK || gar_poses_read(b, pb, n, &sb, NULL, NULL) != GAR_OK) {
        fprintf(stderr, "%s\n", gar_errmsg());
        return 1;
    }
    size_t differ = 0;
    for (size_t i = 0; i < n; i++)
        differ += memcmp(&pa[i], &pb[i], sizeof pa[i]) != 0;
    printf("%zu of %zu poses differ\n", differ, n);
    free(pa);
    free(pb);
    return differ != 0;
}

int main(int argc, char **argv)
{
    gar_stack *stack = NULL;
    gar_symmetry *sym = NULL;
    gar_pose *poses = NULL;
    gar_particle *truth = NULL;
    gar_refine_state state;
    double *ang = NULL, *shift = NULL;
    int32_t *junk = NULL;
    size_t n, within = 0, used = 0, left_out = 0;
    int rc = 1;
    if (argc == 4 && strcmp(argv[3], "same") == 0)
        return same_poses(argv[1], argv[2]);
    if (argc != 6 && argc != 7)
        return 64;
    if (gar_stack_open(argv[1], &stack) != GAR_OK || gar_symmetry_create(argv[3], &sym) != GAR_OK) {
        fprintf(stderr, "%s\n", gar_errmsg());
        goto done;
    }
    n = gar_stack_count(stack);
    poses = calloc(n, sizeof *poses);
    truth = calloc(n, sizeof *truth);
    ang = calloc(n, sizeof *ang);
    shift = calloc(n, sizeof *shift);
    if (gar_stack_read_meta(stack, 0, n, truth) != GAR_OK) {
        fprintf(stderr, "%s\n", gar_errmsg());
        goto done;
    }
    int from_poses_file = 1;
    if (gar_poses_read(argv[2], poses, n, &state, NULL, NULL) != GAR_OK) {
        from_poses_file = 0;
        gar_stack *other = NULL;
        gar_particle *m = calloc(n ? n : 1, sizeof *m);
        if (gar_stack_open(argv[2], &other) != GAR_OK || gar_stack_count(other) != n ||
            gar_stack_read_meta(other, 0, n, m) != GAR_OK) {
            fprintf(stderr, "%s: neither a poses file nor a stack of %zu particles\n", argv[2], n);
            free(m);
            gar_stack_close(&other);
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            poses[i].rot_deg = m[i].rot_deg;
            poses[i].tilt_deg = m[i].tilt_deg;
            poses[i].psi_deg = m[i].psi_deg;
            poses[i].origin_x_A = m[i].origin_x_A;
            poses[i].origin_y_A = m[i].origin_y_A;
        }
        free(m);
        gar_stack_close(&other);
    }
    if (gar_stack_has_sim_truth(stack)) {
        junk = calloc(n ? n : 1, sizeof *junk);
        if (gar_stack_read_sim_truth(stack, 0, n, junk, NULL) != GAR_OK) {
            fprintf(stderr, "%s\n", gar_errmsg());
            goto done;
        }
    }
    for (size_t i = 0; i < n; i++) {
        double A[9], B[9];
        if (junk != NULL && junk[i] != 0) {
            left_out++;
            continue;
        }
        gar_euler_to_matrix(poses[i].rot_deg, poses[i].tilt_deg, poses[i].psi_deg, A);
        gar_euler_to_matrix(truth[i].rot_deg, truth[i].tilt_deg, truth[i].psi_deg, B);
        ang[used] = gar_symmetry_angle_between(sym, A, B);
        shift[used] = hypot(poses[i].origin_x_A - truth[i].origin_x_A, poses[i].origin_y_A - truth[i].origin_y_A);
        within += ang[used] <= 5.0;
        used++;
    }
    if (junk != NULL)
        printf("%zu of %zu particles are junk (sim_junk != 0) and left out\n", left_out, n);
    /* A garner poses file flags junk: how much of the true junk, and how
     * many real particles with it (GARNER_MIN_JUNK_FLAGGED: fail below). */
    double junk_flagged = -1;
    if (junk != NULL && from_poses_file) {
        size_t tj = 0, fj = 0, fr = 0;
        for (size_t i = 0; i < n; i++) {
            tj += junk[i] != 0;
            fj += junk[i] != 0 && poses[i].junk;
            fr += junk[i] == 0 && poses[i].junk;
        }
        junk_flagged = tj ? (double)fj / (double)tj : 1.0;
        printf("junk flagged: %.1f %% of the %zu junk particles, %.1f %% of the %zu real ones\n", 100 * junk_flagged,
               tj, n > tj ? 100.0 * (double)fr / (double)(n - tj) : 0.0, n - tj);
    }
    if (used == 0) {
        fprintf(stderr, "%s: no particles to compare\n", argv[1]);
        goto done;
    }
    qsort(ang, used, sizeof *ang, cmp_double);
    qsort(shift, used, sizeof *shift, cmp_double);
    double frac = (double)within / (double)used, med_a = ang[used / 2], med_s = shift[used / 2];
    size_t far = 0;
    for (size_t i = 0; i < used; i++)
        far += ang[i] > 20.0;
    printf("%zu particles: %.1f %% within 5 degrees (need %.1f %%), median angular error %.2f degrees, "
           "median origin error %.2f Å (need <= %s); %.1f %% more than 20 degrees off, 90th percentile %.2f "
           "degrees\n",
           used, 100 * frac, 100 * atof(argv[4]), med_a, med_s, argv[5], 100.0 * (double)far / (double)used,
           ang[(9 * used) / 10]);
    rc = frac >= atof(argv[4]) && med_s <= atof(argv[5]) && (argc < 7 || med_a <= atof(argv[6])) ? 0 : 1;
    if (getenv("GARNER_MIN_JUNK_FLAGGED") != NULL && !(junk_flagged >= atof(getenv("GARNER_MIN_JUNK_FLAGGED"))))
        rc = 1;
done:
    gar_stack_close(&stack);
    gar_symmetry_destroy(&sym);
    free(poses);
    free(truth);
    free(ang);
    free(shift);
    free(junk);
    return rc;
}
