/* Geometry, CTF, FFT sizes and random numbers: the shared maths against
 * independent formulations and hand-computed values. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "gar_fft.h"
#include "gar_geometry.h"
#include "gar_kernels.h"
#include "gar_rng.h"
#include "testutil.h"

/* RELION's Euler_angles2matrix builds A = Rz(psi) Ry(tilt) Rz(rot) with
 * Rz(a) = [[c, s, 0], [-s, c, 0], [0, 0, 1]], Ry(b) = [[c, 0, -s], [0, 1, 0], [s, 0, c]].
 * Composing the three rotations in long double is an independent reference. */
static void relion_reference(long double rot, long double tilt, long double psi, long double A[9])
{
    const long double d2r = 3.14159265358979323846264338327950288L / 180.0L;
    long double a = rot * d2r, b = tilt * d2r, g = psi * d2r;
    long double Ra[9] = {cosl(a), sinl(a), 0, -sinl(a), cosl(a), 0, 0, 0, 1};
    long double Rb[9] = {cosl(b), 0, -sinl(b), 0, 1, 0, sinl(b), 0, cosl(b)};
    long double Rg[9] = {cosl(g), sinl(g), 0, -sinl(g), cosl(g), 0, 0, 0, 1};
    long double T[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            T[3 * i + j] = Rb[3 * i] * Ra[j] + Rb[3 * i + 1] * Ra[3 + j] + Rb[3 * i + 2] * Ra[6 + j];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            A[3 * i + j] = Rg[3 * i] * T[j] + Rg[3 * i + 1] * T[3 + j] + Rg[3 * i + 2] * T[6 + j];
}

START_TEST(test_euler_matches_relion)
{
    gar_rng rng;
    double worst = 0.0;
    gar_rng_init(&rng, 2024, 0);
    for (int n = 0; n < 10000; n++) {
        double rot = 720.0 * gar_rng_uniform(&rng) - 360.0;
        double tilt = 360.0 * gar_rng_uniform(&rng) - 180.0;
        double psi = 720.0 * gar_rng_uniform(&rng) - 360.0;
        double A[9];
        long double R[9];
        gar_euler_to_matrix(rot, tilt, psi, A);
        relion_reference(rot, tilt, psi, R);
        for (int k = 0; k < 9; k++) {
            double d = fabs(A[k] - (double)R[k]);
            if (d > worst)
                worst = d;
        }
    }
    ck_assert_msg(worst < 1e-12, "largest element difference %g (tolerance 1e-12)", worst);
}
END_TEST

START_TEST(test_euler_round_trip)
{
    gar_rng rng;
    double worst = 0.0;
    gar_rng_init(&rng, 7, 0);
    for (int n = 0; n < 10000; n++) {
        double rot, tilt, psi, r2, t2, p2, A[9], B[9];
        gar_random_pose(&rng, &rot, &tilt, &psi);
        if (n == 0)
            tilt = 0.0; /* the degenerate poles */
        if (n == 1)
            tilt = 180.0;
        gar_euler_to_matrix(rot, tilt, psi, A);
        gar_matrix_to_euler(A, &r2, &t2, &p2);
        ck_assert(t2 >= 0.0 && t2 <= 180.0);
        ck_assert(r2 > -180.0 - 1e-9 && r2 <= 180.0 + 1e-9);
        ck_assert(p2 > -180.0 - 1e-9 && p2 <= 180.0 + 1e-9);
        gar_euler_to_matrix(r2, t2, p2, B);
        for (int k = 0; k < 9; k++)
            if (fabs(A[k] - B[k]) > worst)
                worst = fabs(A[k] - B[k]);
    }
    ck_assert_msg(worst < 1e-12, "angles -> matrix -> angles -> matrix differs by %g", worst);
}
END_TEST

START_TEST(test_euler_known_angles)
{
    double r, t, p, A[9];
    /* Non-degenerate angles come back exactly as given. */
    gar_euler_to_matrix(30.0, 60.0, -45.0, A);
    gar_matrix_to_euler(A, &r, &t, &p);
    ck_assert_double_eq_tol(r, 30.0, 1e-10);
    ck_assert_double_eq_tol(t, 60.0, 1e-10);
    ck_assert_double_eq_tol(p, -45.0, 1e-10);
    /* Rotation by 90 degrees about z: A maps x to -y (RELION's Rz(a) rows). */
    gar_euler_to_matrix(90.0, 0.0, 0.0, A);
    ck_assert_double_eq_tol(A[1], 1.0, 1e-15);
    ck_assert_double_eq_tol(A[3], -1.0, 1e-15);
    ck_assert_double_eq_tol(A[8], 1.0, 1e-15);
}
END_TEST

START_TEST(test_rotation_angle)
{
    double A[9], B[9];
    gar_euler_to_matrix(10.0, 20.0, 30.0, A);
    gar_euler_to_matrix(10.0, 20.0, 30.0 + 17.0, B);
    /* Composing an extra in-plane rotation of 17 degrees. */
    ck_assert_double_eq_tol(gar_rotation_angle_between(A, B), 17.0, 1e-9);
    ck_assert_double_eq_tol(gar_rotation_angle_between(A, A), 0.0, 1e-5);
}
END_TEST

START_TEST(test_random_pose_uniform)
{
    /* Uniform over SO(3): the viewing direction (third row of A) is uniform on
     * the sphere, so each component has mean 0 and variance 1/3. */
    gar_rng rng;
    double sum[3] = {0}, sumsq[3] = {0};
    const int n = 200000;
    gar_rng_init(&rng, 99, 0);
    for (int i = 0; i < n; i++) {
        double r, t, p, A[9];
        gar_random_pose(&rng, &r, &t, &p);
        gar_euler_to_matrix(r, t, p, A);
        for (int k = 0; k < 3; k++) {
            sum[k] += A[6 + k];
            sumsq[k] += A[6 + k] * A[6 + k];
        }
    }
    for (int k = 0; k < 3; k++) {
        /* 5 standard errors: sd of the mean is sqrt(1/3/n) = 0.0013 */
        ck_assert_double_eq_tol(sum[k] / n, 0.0, 0.0065);
        ck_assert_double_eq_tol(sumsq[k] / n, 1.0 / 3.0, 0.005);
    }
}
END_TEST

/* Rotation vectors: the Rodrigues matrix of analytic cases, and cryoSPARC's
 * poses as RELION's Euler angles. The expected angles follow pyem's
 * csparc2star (pyem/metadata/cryosparc2.py: rot2euler(expmap(pose)),
 * pyem/geom/convert.py: expmap builds I + sin t K + (1 - cos t) K^2 with
 * K = [[0, w2, -w1], [-w2, 0, w0], [w1, -w0, 0]], the transpose of the usual
 * cross-product matrix, so expmap(v) = R(v)^T; rot2euler is RELION's
 * Euler_matrix2angles), worked by hand:
 *   v = (0, 0, pi/2): R(v) = [[0,-1,0],[1,0,0],[0,0,1]], expmap = [[0,1,0],[-1,0,0],[0,0,1]]
 *       = RELION's Rz(90): (rot, tilt, psi) = (0, 0, 90) (tilt 0 puts the angle in psi);
 *   v = (0, pi/2, 0): expmap = [[0,0,-1],[0,1,0],[1,0,0]] = RELION's Ry(90): (0, 90, 0);
 *   v = (pi/2, 0, 0): expmap = [[1,0,0],[0,0,1],[0,-1,0]]: psi = atan2(r12, -r02) =
 *       atan2(1, 0) = 90, rot = atan2(r21, r20) = atan2(-1, 0) = -90, tilt = atan2(1, r22 = 0) = 90;
 *   v = (0.3, -0.5, 0.8): pyem's two functions transcribed line by line into
 *       plain Python (math module, no numpy) give (-125.4684289249,
 *       32.4950713358, 172.6040580109). */
START_TEST(test_rotvec_analytic)
{
    static const struct {
        double v[3], rot, tilt, psi;
    } cases[] = {
        {{0.0, 0.0, 0.0}, 0.0, 0.0, 0.0},
        {{0.0, 0.0, GAR_PI / 2}, 0.0, 0.0, 90.0},
        {{0.0, GAR_PI / 2, 0.0}, 0.0, 90.0, 0.0},
        {{GAR_PI / 2, 0.0, 0.0}, -90.0, 90.0, 90.0},
        {{0.3, -0.5, 0.8}, -125.4684289249, 32.4950713358, 172.6040580109},
    };
    double R[9];
    /* 90 degrees about z turns x into y: the first column of R is (0, 1, 0). */
    gar_rotvec_to_matrix((double[3]){0.0, 0.0, GAR_PI / 2}, R);
    ck_assert_double_eq_tol(R[0], 0.0, 1e-15);
    ck_assert_double_eq_tol(R[3], 1.0, 1e-15);
    ck_assert_double_eq_tol(R[1], -1.0, 1e-15);
    ck_assert_double_eq_tol(R[8], 1.0, 1e-15);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double r, t, p, back[3];
        gar_cryosparc_pose_to_euler(cases[i].v, &r, &t, &p);
        ck_assert_msg(fabs(r - cases[i].rot) < 1e-9 && fabs(t - cases[i].tilt) < 1e-9 &&
                          fabs(p - cases[i].psi) < 1e-9,
                      "case %zu: (%.10f, %.10f, %.10f), expected (%.10f, %.10f, %.10f)", i, r, t, p,
                      cases[i].rot, cases[i].tilt, cases[i].psi);
        gar_euler_to_cryosparc_pose(r, t, p, back);
        for (int k = 0; k < 3; k++)
            ck_assert_msg(fabs(back[k] - cases[i].v[k]) < 1e-12, "case %zu: vector[%d] %.15f back, expected %.15f",
                          i, k, back[k], cases[i].v[k]);
    }
}
END_TEST

/* Random rotations, and angles at 0 and near pi, where the naive inverse
 * (acos of the trace, divided by sin) loses its digits. */
START_TEST(test_rotvec_round_trip)
{
    gar_rng rng;
    double worst_m = 0.0, worst_v = 0.0;
    gar_rng_init(&rng, 11, 0);
    for (int n = 0; n < 20000; n++) {
        double rot, tilt, psi, r2, t2, p2, v[3], A[9], B[9], R[9], w[3];
        gar_random_pose(&rng, &rot, &tilt, &psi);
        gar_euler_to_cryosparc_pose(rot, tilt, psi, v);
        ck_assert(sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]) <= GAR_PI + 1e-12);
        gar_cryosparc_pose_to_euler(v, &r2, &t2, &p2);
        gar_euler_to_matrix(rot, tilt, psi, A);
        gar_euler_to_matrix(r2, t2, p2, B);
        for (int k = 0; k < 9; k++)
            worst_m = fmax(worst_m, fabs(A[k] - B[k]));
        /* vector -> matrix -> vector, with angles spread over [0, pi) */
        double len = GAR_PI * gar_rng_uniform(&rng);
        if (n % 4 == 0)
            len = GAR_PI * (1.0 - 1e-9 * gar_rng_uniform(&rng));
        if (n % 4 == 1)
            len = 1e-9 * gar_rng_uniform(&rng);
        double ax[3] = {A[6], A[7], A[8]}; /* a random unit axis */
        for (int k = 0; k < 3; k++)
            v[k] = len * ax[k];
        gar_rotvec_to_matrix(v, R);
        gar_matrix_to_rotvec(R, w);
        for (int k = 0; k < 3; k++)
            worst_v = fmax(worst_v, fabs(w[k] - v[k]));
    }
    ck_assert_msg(worst_m < 1e-12, "Euler -> pose -> Euler matrices differ by %g", worst_m);
    ck_assert_msg(worst_v < 1e-7, "vector -> matrix -> vector differs by %g", worst_v);
}
END_TEST

START_TEST(test_rotvec_half_turn)
{
    /* Exactly pi about an axis: v or -v, both the same rotation. */
    double v[3] = {0.0, GAR_PI * 0.6, GAR_PI * 0.8}, R[9], w[3], R2[9];
    gar_rotvec_to_matrix(v, R);
    gar_matrix_to_rotvec(R, w);
    ck_assert_double_eq_tol(sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2]), GAR_PI, 1e-12);
    gar_rotvec_to_matrix(w, R2);
    for (int k = 0; k < 9; k++)
        ck_assert_double_eq_tol(R[k], R2[k], 1e-12);
}
END_TEST

/* Hand-computed with λ = 0.0196876153 Å (300 kV), Cs 2.7 mm, Q 0.1:
 * CTF = √(1−Q²) sin χ + Q cos χ, χ = π λ Δf(φ) k² − π/2 Cs λ³ k⁴, φ = atan2(ky, kx). */
START_TEST(test_ctf_values)
{
    struct {
        double du, dv, ang, kx, ky, expect;
    } cases[] = {
        {20000, 20000, 0, 0.0, 0.0, 0.100000000},
        {20000, 20000, 0, 0.05, 0.0, -0.049055699},
        {21000, 19000, 30, 0.03, 0.04, -0.155349772},
        {15000, 14000, 120, -0.1, 0.07, 0.900460912},
    };
    ck_assert_double_eq_tol(gar_electron_wavelength(300e3), 0.0196876153, 1e-9);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gar_ctf c = gar_ctf_prepare(cases[i].du, cases[i].dv, cases[i].ang, 300.0, 2.7, 0.1, 0.0);
        float v = gar_ctf_eval(&c, (float)cases[i].kx, (float)cases[i].ky);
        ck_assert_msg(fabs(v - cases[i].expect) < 2e-4, "case %zu: CTF %.6f, expected %.6f", i, v,
                      cases[i].expect);
    }
}
END_TEST

START_TEST(test_ctf_phase_shift)
{
    /* A 90 degree phase plate shift turns sin(χ + φQ) into cos(χ + φQ); at k = 0, √(1−Q²). */
    gar_ctf c = gar_ctf_prepare(10000, 10000, 0, 300.0, 2.7, 0.1, 90.0);
    ck_assert_double_eq_tol(gar_ctf_eval(&c, 0.0f, 0.0f), sqrt(1 - 0.01), 1e-6);
}
END_TEST

START_TEST(test_fft_good_size)
{
    ck_assert_uint_eq(gar_fft_good_size(128), 128);
    ck_assert_uint_eq(gar_fft_good_size(130), 140);  /* 2^2 * 5 * 7 */
    ck_assert_uint_eq(gar_fft_good_size(97), 98);    /* 2 * 7^2 */
    ck_assert_uint_eq(gar_fft_good_size(243), 250);  /* 243 = 3^5 is odd; 250 = 2 * 5^3 */
    ck_assert_uint_eq(gar_fft_good_size(1), 2);
}
END_TEST

START_TEST(test_rng_normal)
{
    gar_rng rng, again;
    double s = 0, s2 = 0;
    const int n = 400000;
    gar_rng_init(&rng, 5, 3);
    gar_rng_init(&again, 5, 3);
    ck_assert_uint_eq(gar_rng_next(&rng), gar_rng_next(&again));
    for (int i = 0; i < n; i++) {
        double x = gar_rng_normal(&rng);
        s += x;
        s2 += x * x;
    }
    ck_assert_double_eq_tol(s / n, 0.0, 0.008);
    ck_assert_double_eq_tol(s2 / n, 1.0, 0.012);
}
END_TEST

int main(void)
{
    TCase *tc = TEST_CASE("core", 60,
                          test_euler_matches_relion,
                          test_euler_round_trip,
                          test_euler_known_angles,
                          test_rotation_angle,
                          test_rotvec_analytic,
                          test_rotvec_round_trip,
                          test_rotvec_half_turn,
                          test_random_pose_uniform,
                          test_ctf_values,
                          test_ctf_phase_shift,
                          test_fft_good_size,
                          test_rng_normal);
    return test_run_suite(test_suite("geometry", tc, NULL));
}
