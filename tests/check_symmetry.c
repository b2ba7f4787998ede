/* Point groups against RELION's definitions and the group axioms, pose
 * distances modulo a group, and the symmetric phantom. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gar_geometry.h"
#include "gar_kernels.h"
#include "gar_map.h"
#include "gar_phantom.h"
#include "gar_rng.h"
#include "gar_status.h"
#include "gar_symmetry.h"
#include "testutil.h"

static const struct {
    const char *name;
    size_t order;
} groups[] = {
    {"C1", 1}, {"C2", 2}, {"C5", 5}, {"C7", 7}, {"C12", 12}, {"C100", 100}, {"D1", 2}, {"D2", 4},
    {"D3", 6}, {"D7", 14}, {"D12", 24}, {"T", 12}, {"O", 24}, {"I", 60}, {"I2", 60},
};
#define NGROUPS (sizeof groups / sizeof groups[0])

static gar_symmetry *make(const char *name)
{
    gar_symmetry *s = NULL;
    gar_status st = gar_symmetry_create(name, &s);
    ck_assert_msg(st == GAR_OK, "%s: %s", name, gar_errmsg());
    ck_assert_ptr_nonnull(s);
    return s;
}

/* out = A·Bᵀ (3 x 3, row-major). */
static void mul_transposed(const double *A, const double *B, double *out)
{
    double Bt[9];
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            Bt[3 * a + b] = B[3 * b + a];
    gar_mat3_mul(A, Bt, out);
}

static double max_diff(const double *A, const double *B)
{
    double d = 0.0;
    for (int k = 0; k < 9; k++)
        if (fabs(A[k] - B[k]) > d)
            d = fabs(A[k] - B[k]);
    return d;
}

/* The operator of s closest to M, as the largest element difference. */
static double nearest(const gar_symmetry *s, const double M[9])
{
    double best = INFINITY;
    for (size_t i = 0; i < gar_symmetry_order(s); i++) {
        double d = max_diff(gar_symmetry_matrix(s, i), M);
        if (d < best)
            best = d;
    }
    return best;
}

/* Rotation about an axis, written independently of the library: the matrix
 * that takes the axis to z, a rotation about z, and back, in long double. */
static void rotation_about(double ax, double ay, double az, double deg, double M[9])
{
    long double n = sqrtl((long double)ax * ax + (long double)ay * ay + (long double)az * az);
    long double k[3] = {ax / n, ay / n, az / n};
    long double a = deg * 3.14159265358979323846264338327950288L / 180.0L;
    long double c = cosl(a), s = sinl(a);
    /* M v = c v + s (k × v) + (1 - c)(k·v) k, column by column */
    for (int j = 0; j < 3; j++) {
        long double v[3] = {0, 0, 0}, kxv[3];
        v[j] = 1;
        kxv[0] = k[1] * v[2] - k[2] * v[1];
        kxv[1] = k[2] * v[0] - k[0] * v[2];
        kxv[2] = k[0] * v[1] - k[1] * v[0];
        for (int i = 0; i < 3; i++)
            M[3 * i + j] = (double)(c * v[i] + s * kxv[i] + (1 - c) * k[j] * k[i]);
    }
}

START_TEST(test_orders_and_names)
{
    for (size_t g = 0; g < NGROUPS; g++) {
        gar_symmetry *s = make(groups[g].name);
        ck_assert_msg(gar_symmetry_order(s) == groups[g].order, "%s: order %zu, expected %zu", groups[g].name,
                      gar_symmetry_order(s), groups[g].order);
        ck_assert_ptr_null(gar_symmetry_matrix(s, gar_symmetry_order(s)));
        gar_symmetry_destroy(&s);
        ck_assert_ptr_null(s);
    }
    gar_symmetry_destroy(NULL);
}
END_TEST

START_TEST(test_group_axioms)
{
    static const double I3[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    for (size_t g = 0; g < NGROUPS; g++) {
        gar_symmetry *s = make(groups[g].name);
        size_t n = gar_symmetry_order(s);
        ck_assert_msg(max_diff(gar_symmetry_matrix(s, 0), I3) == 0.0, "%s: operator 0 is not the identity",
                      groups[g].name);
        for (size_t i = 0; i < n; i++) {
            const double *R = gar_symmetry_matrix(s, i);
            double RRt[9], det;
            mul_transposed(R, R, RRt);
            ck_assert_msg(max_diff(RRt, I3) < 1e-12, "%s: operator %zu not orthonormal", groups[g].name, i);
            det = R[0] * (R[4] * R[8] - R[5] * R[7]) - R[1] * (R[3] * R[8] - R[5] * R[6]) +
                  R[2] * (R[3] * R[7] - R[4] * R[6]);
            ck_assert_msg(fabs(det - 1.0) < 1e-12, "%s: operator %zu has det %g", groups[g].name, i, det);
            for (size_t j = 0; j < i; j++)
                ck_assert_msg(max_diff(R, gar_symmetry_matrix(s, j)) > 1e-3, "%s: operators %zu and %zu equal",
                              groups[g].name, j, i);
            for (size_t j = 0; j < n; j++) {
                double P[9];
                gar_mat3_mul(R, gar_symmetry_matrix(s, j), P);
                ck_assert_msg(nearest(s, P) < 1e-9, "%s: product of operators %zu and %zu not in the group",
                              groups[g].name, i, j);
            }
        }
        gar_symmetry_destroy(&s);
    }
}
END_TEST

START_TEST(test_parse)
{
    static const char *const good[][2] = {
        {"c7", "C7"}, {"C7", "C7"}, {"d2", "D2"}, {"I2", "I"}, {"i2", "I"}, {"i", "I"},
        {"t", "T"}, {"O", "O"}, {"C07", "C7"}, {"C1", "C1"},
    };
    static const char *const bad[] = {"X5", "C0", "D", "", "C-3", "C+3", "C 3", "C3 ", "C3x", "TD", "CI", "D0", "C99999999999999999999", "C1001", "Cn"};
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
        gar_symmetry *s = make(good[k][0]);
        ck_assert_str_eq(gar_symmetry_name(s), good[k][1]);
        gar_symmetry_destroy(&s);
    }
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        gar_symmetry *s = (gar_symmetry *)&s; /* must be reset to NULL */
        gar_error_clear();
        gar_status st = gar_symmetry_create(bad[k], &s);
        ck_assert_msg(st == GAR_ERR_USAGE, "'%s' accepted (status %d)", bad[k], (int)st);
        ck_assert_ptr_null(s);
        ck_assert_msg(strstr(gar_errmsg(), "unknown symmetry") != NULL, "'%s': message '%s'", bad[k],
                      gar_errmsg());
        ck_assert_msg(strstr(gar_errmsg(), bad[k]) != NULL, "'%s': message '%s' does not name it", bad[k],
                      gar_errmsg());
    }
    /* RELION's other icosahedral orientations: refused by name, with what
     * garner takes and how to get there. */
    static const char *const other_i[] = {"I1", "I3", "i4", "I5"};
    for (size_t k = 0; k < sizeof other_i / sizeof other_i[0]; k++) {
        gar_symmetry *s = NULL;
        gar_error_clear();
        ck_assert_int_eq(gar_symmetry_create(other_i[k], &s), GAR_ERR_USAGE);
        ck_assert_ptr_null(s);
        ck_assert_msg(strstr(gar_errmsg(), "only RELION's I2 orientation") != NULL &&
                          strstr(gar_errmsg(), "relion_align_symmetry") != NULL,
                      "'%s': message '%s'", other_i[k], gar_errmsg());
    }
}
END_TEST

/* RELION's SymList::fill_symmetry_class (src/symmetries.cpp) lists these
 * generators, with its rounded decimals; each rotation by 360°/fold about the
 * listed axis must be an operator, to the precision of the decimals. */
START_TEST(test_relion_generators)
{
    static const struct {
        const char *group;
        int fold;
        double x, y, z;
    } gen[] = {
        {"C7", 7, 0, 0, 1},
        {"D7", 7, 0, 0, 1},
        {"D7", 2, 1, 0, 0},
        {"D2", 2, 1, 0, 0},
        {"T", 3, 0., 0., 1.},
        {"T", 2, 0., 0.816496, 0.577350},
        {"O", 3, .5773502, .5773502, .5773502},
        {"O", 4, 0, 0, 1},
        {"I", 2, 0, 0, 1},
        {"I", 5, 0.525731114, 0, 0.850650807},
        {"I", 3, 0, 0.356822076, 0.934172364},
    };
    for (size_t k = 0; k < sizeof gen / sizeof gen[0]; k++) {
        gar_symmetry *s = make(gen[k].group);
        for (int p = 1; p < gen[k].fold; p++) {
            double M[9];
            rotation_about(gen[k].x, gen[k].y, gen[k].z, 360.0 * p / gen[k].fold, M);
            ck_assert_msg(nearest(s, M) < 1e-5, "%s lacks the rotation by %d/%d turn about (%g, %g, %g)",
                          gen[k].group, p, gen[k].fold, gen[k].x, gen[k].y, gen[k].z);
        }
        gar_symmetry_destroy(&s);
    }
}
END_TEST

/* The axes that tell RELION's orientation from others: I (= I2) has its
 * 2-folds on x, y and z exactly, and not the 5-fold of the orientation turned
 * 90° about z (I1-like) nor a 5-fold about z (I3); T has a 3-fold about z;
 * O 4-folds about x, y and z; D_n the 2-fold about x. */
START_TEST(test_axes)
{
    static const double Dx[9] = {1, 0, 0, 0, -1, 0, 0, 0, -1};
    static const double Dy[9] = {-1, 0, 0, 0, 1, 0, 0, 0, -1};
    static const double Dz[9] = {-1, 0, 0, 0, -1, 0, 0, 0, 1};
    double M[9];
    gar_symmetry *s;

    s = make("I");
    ck_assert(nearest(s, Dx) == 0.0 && nearest(s, Dy) == 0.0 && nearest(s, Dz) == 0.0);
    rotation_about(0, 0.525731114, 0.850650807, 72, M);
    ck_assert_msg(nearest(s, M) > 0.1, "I has a 5-fold about (0, 0.53, 0.85): the wrong orientation");
    rotation_about(0, 0, 1, 72, M);
    ck_assert(nearest(s, M) > 0.1);
    gar_symmetry_destroy(&s);

    s = make("T");
    rotation_about(0, 0, 1, 120, M);
    ck_assert(nearest(s, M) < 1e-12);
    ck_assert_msg(nearest(s, Dz) > 0.1, "T has a 2-fold about z: not RELION's orientation");
    gar_symmetry_destroy(&s);

    s = make("O");
    for (int a = 0; a < 3; a++) {
        rotation_about(a == 0, a == 1, a == 2, 90, M);
        ck_assert(nearest(s, M) < 1e-12);
    }
    gar_symmetry_destroy(&s);

    for (int n = 1; n <= 8; n++) {
        char name[16];
        snprintf(name, sizeof name, "D%d", n);
        s = make(name);
        ck_assert_msg(nearest(s, Dx) == 0.0, "%s lacks the 2-fold about x", name);
        /* about y only when n is even */
        ck_assert_msg((nearest(s, Dy) < 1e-12) == (n % 2 == 0), "%s: 2-fold about y", name);
        gar_symmetry_destroy(&s);
        snprintf(name, sizeof name, "C%d", n);
        s = make(name);
        rotation_about(0, 0, 1, 360.0 / n, M);
        ck_assert(nearest(s, M) < 1e-12);
        if (n > 1)
            ck_assert(nearest(s, Dx) > 0.1);
        gar_symmetry_destroy(&s);
    }
}
END_TEST

START_TEST(test_angle_between)
{
    gar_rng rng;
    gar_symmetry *c1 = make("C1"), *c4 = make("C4"), *ico = make("I");
    double Rz90[9], small[9];
    gar_rng_init(&rng, 11, 0);
    rotation_about(0, 0, 1, 90, Rz90);
    rotation_about(0.3, -0.5, 0.8, 5.0, small);
    for (int t = 0; t < 200; t++) {
        double r, ti, p, A[9], B[9], C[9], brute = INFINITY;
        gar_random_pose(&rng, &r, &ti, &p);
        gar_euler_to_matrix(r, ti, p, A);
        gar_random_pose(&rng, &r, &ti, &p);
        gar_euler_to_matrix(r, ti, p, B);

        /* A·Rᵀ is the same pose of a C4 particle */
        mul_transposed(A, Rz90, C);
        ck_assert(gar_rotation_angle_between(A, C) > 89.0);
        ck_assert(gar_symmetry_angle_between(c4, A, C) < 1e-5);
        ck_assert(gar_symmetry_angle_between(c4, C, A) < 1e-5);

        /* unrelated poses: the brute-force minimum, and C1 is plain distance */
        for (size_t k = 0; k < gar_symmetry_order(ico); k++) {
            const double *R = gar_symmetry_matrix(ico, k);
            double ARt[9];
            mul_transposed(A, R, ARt);
            double d = gar_rotation_angle_between(ARt, B);
            if (d < brute)
                brute = d;
        }
        ck_assert(fabs(gar_symmetry_angle_between(ico, A, B) - brute) < 1e-9);
        ck_assert(gar_symmetry_angle_between(ico, A, B) > 0.01);
        ck_assert(fabs(gar_symmetry_angle_between(c1, A, B) - gar_rotation_angle_between(A, B)) < 1e-9);
        ck_assert(gar_symmetry_angle_between(c4, A, B) <= gar_rotation_angle_between(A, B) + 1e-9);

        /* a symmetry mate of A turned by 5° is 5° from A */
        for (size_t k = 0; k < gar_symmetry_order(ico); k += 7) {
            const double *R = gar_symmetry_matrix(ico, k);
            double T[9];
            mul_transposed(A, R, T);
            gar_mat3_mul(T, small, C);
            ck_assert(fabs(gar_symmetry_angle_between(ico, A, C) - 5.0) < 1e-6);
        }
    }
    gar_symmetry_destroy(&c1);
    gar_symmetry_destroy(&c4);
    gar_symmetry_destroy(&ico);
}
END_TEST

/* ---------------------------------------------------------------- phantom */

static gar_map *phantom(const char *group, size_t box, uint64_t seed, double sigma_A)
{
    gar_phantom_config cfg;
    gar_symmetry *s = make(group);
    gar_map *m = NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.box = box;
    cfg.pixel_size_A = 1.0;
    cfg.seed = seed;
    cfg.atom_sigma_A = sigma_A;
    gar_status st = gar_phantom_create(&cfg, s, &m);
    ck_assert_msg(st == GAR_OK, "%s phantom: %s", group, gar_errmsg());
    ck_assert(m->nx == box && m->ny == box && m->nz == box && m->pixel_size == 1.0);
    gar_symmetry_destroy(&s);
    return m;
}

static float voxel(const gar_map *m, long x, long y, long z)
{
    return m->data[((size_t)z * m->ny + (size_t)y) * m->nx + (size_t)x];
}

/* Trilinear interpolation at (x, y, z) in voxel indices; 0 outside. */
static double trilinear(const gar_map *m, double x, double y, double z)
{
    long x0 = (long)floor(x), y0 = (long)floor(y), z0 = (long)floor(z);
    double fx = x - x0, fy = y - y0, fz = z - z0, v = 0.0;
    long n = (long)m->nx;
    if (x0 < 0 || y0 < 0 || z0 < 0 || x0 + 1 >= n || y0 + 1 >= n || z0 + 1 >= n)
        return 0.0;
    for (int c = 0; c < 8; c++) {
        int dx = c & 1, dy = (c >> 1) & 1, dz = (c >> 2) & 1;
        double w = (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy) * (dz ? fz : 1 - fz);
        v += w * voxel(m, x0 + dx, y0 + dy, z0 + dz);
    }
    return v;
}

/* Correlation of V(x) and V(R x) over the sphere |x| < 0.4 box, V(R x) by
 * trilinear interpolation. */
static double rotated_correlation(const gar_map *m, const double R[9])
{
    long n = (long)m->nx, c = n / 2;
    double r2max = 0.16 * (double)(n * n), sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, cnt = 0;
    for (long z = 0; z < n; z++)
        for (long y = 0; y < n; y++)
            for (long x = 0; x < n; x++) {
                double p[3] = {(double)(x - c), (double)(y - c), (double)(z - c)}, q[3];
                if (p[0] * p[0] + p[1] * p[1] + p[2] * p[2] >= r2max)
                    continue;
                gar_mat3_apply(R, p, q);
                double a = voxel(m, x, y, z), b = trilinear(m, q[0] + c, q[1] + c, q[2] + c);
                sa += a;
                sb += b;
                saa += a * a;
                sbb += b * b;
                sab += a * b;
                cnt += 1;
            }
    sa /= cnt;
    sb /= cnt;
    return (sab / cnt - sa * sb) / sqrt((saa / cnt - sa * sa) * (sbb / cnt - sb * sb));
}

/* Largest |V(x) - V(R x)| for an operator R with integer entries (it maps the
 * grid around the centre voxel to itself), over voxels whose image is inside. */
static double grid_asymmetry(const gar_map *m, const double R[9])
{
    long n = (long)m->nx, c = n / 2;
    double worst = 0.0;
    for (long z = 0; z < n; z++)
        for (long y = 0; y < n; y++)
            for (long x = 0; x < n; x++) {
                double p[3] = {(double)(x - c), (double)(y - c), (double)(z - c)}, q[3];
                gar_mat3_apply(R, p, q);
                long qx = lround(q[0]) + c, qy = lround(q[1]) + c, qz = lround(q[2]) + c;
                if (qx < 0 || qy < 0 || qz < 0 || qx >= n || qy >= n || qz >= n)
                    continue;
                double d = fabs((double)voxel(m, x, y, z) - (double)voxel(m, qx, qy, qz));
                if (d > worst)
                    worst = d;
            }
    return worst;
}

static const double Dx[9] = {1, 0, 0, 0, -1, 0, 0, 0, -1};
static const double Dy[9] = {-1, 0, 0, 0, 1, 0, 0, 0, -1};
static const double Dz[9] = {-1, 0, 0, 0, -1, 0, 0, 0, 1};

START_TEST(test_phantom_d7)
{
    gar_map *m = phantom("D7", 64, 5, 0.0);
    double R[9], asym = grid_asymmetry(m, Dx), cor;
    ck_assert_msg(asym < 1e-5, "D7 phantom: V(x,y,z) - V(x,-y,-z) up to %g", asym);
    rotation_about(0, 0, 1, 360.0 / 7, R);
    cor = rotated_correlation(m, R);
    ck_assert_msg(cor > 0.98, "D7 phantom vs its 7-fold rotation: correlation %g", cor);
    rotation_about(0, 0, 1, 3 * 360.0 / 7, R);
    cor = rotated_correlation(m, R);
    ck_assert_msg(cor > 0.98, "D7 phantom vs its 3/7-turn rotation: correlation %g", cor);
    /* D7 has no 2-fold about y or z: the tests can fail */
    cor = rotated_correlation(m, Dy);
    ck_assert_msg(cor < 0.9, "D7 phantom symmetric under the 2-fold about y? correlation %g", cor);
    cor = rotated_correlation(m, Dz);
    ck_assert_msg(cor < 0.9, "D7 phantom symmetric under the 2-fold about z? correlation %g", cor);
    rotation_about(0, 0, 1, 360.0 / 14, R);
    cor = rotated_correlation(m, R);
    ck_assert_msg(cor < 0.9, "D7 phantom symmetric under a 14-fold? correlation %g", cor);
    gar_map_destroy(&m);
}
END_TEST

START_TEST(test_phantom_c1_not_symmetric)
{
    gar_map *m = phantom("C1", 64, 5, 0.0);
    double R[9], cor = rotated_correlation(m, Dz);
    ck_assert_msg(cor < 0.9, "C1 phantom vs its 2-fold rotation about z: correlation %g", cor);
    rotation_about(0, 0, 1, 360.0 / 7, R);
    cor = rotated_correlation(m, R);
    ck_assert_msg(cor < 0.9, "C1 phantom vs a 7-fold rotation: correlation %g", cor);
    ck_assert(grid_asymmetry(m, Dx) > 0.1);
    gar_map_destroy(&m);
}
END_TEST

START_TEST(test_phantom_cubic_groups)
{
    double R[9], cor;
    gar_map *m = phantom("I", 64, 3, 0.0);
    ck_assert(grid_asymmetry(m, Dx) < 1e-5);
    ck_assert(grid_asymmetry(m, Dy) < 1e-5);
    ck_assert(grid_asymmetry(m, Dz) < 1e-5);
    rotation_about(0.525731114, 0, 0.850650807, 72, R);
    cor = rotated_correlation(m, R);
    ck_assert_msg(cor > 0.98, "I phantom vs its 5-fold: correlation %g", cor);
    gar_map_destroy(&m);

    m = phantom("O", 48, 3, 0.0);
    rotation_about(0, 0, 1, 90, R);
    ck_assert(grid_asymmetry(m, R) < 1e-5);
    rotation_about(1, 0, 0, 90, R);
    ck_assert(grid_asymmetry(m, R) < 1e-5);
    gar_map_destroy(&m);

    m = phantom("T", 48, 3, 0.0);
    rotation_about(0, 0, 1, 120, R);
    cor = rotated_correlation(m, R);
    ck_assert_msg(cor > 0.98, "T phantom vs its 3-fold about z: correlation %g", cor);
    cor = rotated_correlation(m, Dz);
    ck_assert_msg(cor < 0.9, "T phantom symmetric under a 2-fold about z? correlation %g", cor);
    gar_map_destroy(&m);
}
END_TEST

START_TEST(test_phantom_normalised_and_deterministic)
{
    const char *names[] = {"C1", "D7", "I"};
    for (int g = 0; g < 3; g++) {
        gar_map *a = phantom(names[g], 32, 42, 2.0), *b = phantom(names[g], 32, 42, 2.0);
        gar_map *c = phantom(names[g], 32, 43, 2.0);
        size_t nv = gar_map_voxels(a);
        double sum = 0, sum2 = 0, mean, sd;
        for (size_t v = 0; v < nv; v++)
            sum += a->data[v];
        mean = sum / nv;
        for (size_t v = 0; v < nv; v++)
            sum2 += (a->data[v] - mean) * (a->data[v] - mean);
        sd = sqrt(sum2 / nv);
        ck_assert_msg(fabs(mean) < 1e-4 && fabs(sd - 1.0) < 1e-4, "%s: mean %g sd %g", names[g], mean, sd);
        ck_assert_msg(memcmp(a->data, b->data, nv * sizeof(float)) == 0, "%s: same seed, different maps",
                      names[g]);
        ck_assert_msg(memcmp(a->data, c->data, nv * sizeof(float)) != 0, "%s: seed ignored", names[g]);
        /* the density stays inside the 0.35-box sphere */
        for (long z = 0; z < 32; z++)
            for (long y = 0; y < 32; y++)
                for (long x = 0; x < 32; x++) {
                    double r2 = (double)((x - 16) * (x - 16) + (y - 16) * (y - 16) + (z - 16) * (z - 16));
                    if (r2 > 0.45 * 0.45 * 32 * 32)
                        ck_assert(fabs(voxel(a, x, y, z) - voxel(a, 0, 0, 0)) < 1e-6);
                }
        gar_map_destroy(&a);
        gar_map_destroy(&b);
        gar_map_destroy(&c);
    }
}
END_TEST

START_TEST(test_phantom_bad_config)
{
    gar_phantom_config cfg;
    gar_symmetry *s = make("C2");
    gar_map *m = (gar_map *)&m;
    memset(&cfg, 0, sizeof cfg);
    cfg.box = 15;
    cfg.pixel_size_A = 1.0;
    ck_assert_int_eq(gar_phantom_create(&cfg, s, &m), GAR_ERR_USAGE);
    ck_assert_ptr_null(m);
    cfg.box = 8;
    ck_assert_int_eq(gar_phantom_create(&cfg, s, &m), GAR_ERR_USAGE);
    cfg.box = 32;
    cfg.pixel_size_A = 0.0;
    ck_assert_int_eq(gar_phantom_create(&cfg, s, &m), GAR_ERR_USAGE);
    cfg.pixel_size_A = NAN;
    ck_assert_int_eq(gar_phantom_create(&cfg, s, &m), GAR_ERR_USAGE);
    cfg.pixel_size_A = 1.0;
    cfg.atom_sigma_A = -1.0;
    ck_assert_int_eq(gar_phantom_create(&cfg, s, &m), GAR_ERR_USAGE);
    cfg.atom_sigma_A = 0.0;
    cfg.atoms = (size_t)1 << 40;
    ck_assert_int_eq(gar_phantom_create(&cfg, s, &m), GAR_ERR_USAGE);
    ck_assert_ptr_null(m);
    cfg.atoms = 3;
    ck_assert_int_eq(gar_phantom_create(&cfg, s, &m), GAR_OK);
    ck_assert_ptr_nonnull(m);
    gar_map_destroy(&m);
    gar_symmetry_destroy(&s);
}
END_TEST

int main(void)
{
    TCase *tc = TEST_CASE("groups", 0,
                          test_orders_and_names,
                          test_group_axioms,
                          test_parse,
                          test_relion_generators,
                          test_axes,
                          test_angle_between);
    TCase *tp = TEST_CASE("phantom", 120,
                          test_phantom_d7,
                          test_phantom_c1_not_symmetric,
                          test_phantom_cubic_groups,
                          test_phantom_normalised_and_deterministic,
                          test_phantom_bad_config);
    return test_run_suite(test_suite("symmetry", tc, tp, NULL));
}
