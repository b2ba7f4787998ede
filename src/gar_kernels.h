/* garner: the per-voxel and per-pixel maths shared by the CPU code and the
 * CUDA kernels. Compiled by gcc (as static inline C) and by nvcc (as
 * __host__ __device__ functions), so the CPU unit tests check the very
 * arithmetic the GPU runs.
 *
 * Keep to the common subset of C and C++: no _Complex, no VLAs, no designated
 * initialisers, no library calls other than <math.h> functions that CUDA also
 * provides for device code. Only pure functions live here; accumulation
 * belongs to each backend.
 *
 * One deliberate second copy exists: the CPU's AVX-512 backend,
 * src/gar_recon_avx512.c with its register kernels in gar_plane_simd.h and
 * gar_gather_simd.h, redoes gar_plane_pixel, gar_plane_ctf_weight,
 * gar_slice_q and gar_gather_voxel in vector lanes (about 45 instructions a
 * voxel against the scalar gather's 330, docs/PERFORMANCE.md). A change here
 * must go there too: tests/check_recon.c holds the two equal
 * (test_gather_simd_matches_scalar, test_plane_simd_matches_scalar, and
 * test_gather_matches_scatter, which runs both gathers against an
 * independent scatter). */
#ifndef GAR_KERNELS_H
#define GAR_KERNELS_H

#include <math.h>
#include <stddef.h>

#if defined(__CUDACC__)
#define GAR_HD __host__ __device__ __forceinline__
#elif defined(__GNUC__)
/* Always inlined, so each caller's target (the AVX2 clone of the CPU
 * insertion loop, say) compiles the maths for its own instruction set. */
#define GAR_HD static inline __attribute__((always_inline))
#else
#define GAR_HD static inline
#endif

#define GAR_PI 3.14159265358979323846

/* The planes, tables and sums a kernel touches never overlap; saying so lets
 * compilers keep sums in registers. */
#if defined(__CUDACC__) || defined(__cplusplus)
#define GAR_RESTRICT __restrict__
#else
#define GAR_RESTRICT restrict
#endif

/* ---------------------------------------------------------------- rotations */

/* RELION/Xmipp ZYZ Euler angles (degrees) to the row-major matrix A
 * (DESIGN.md, "Euler angles"). The projection of a map at pose A has the
 * 2D transform P(k) = V^(A^T (kx, ky, 0)). */
GAR_HD void gar_euler_to_matrix(double rot_deg, double tilt_deg, double psi_deg, double A[9])
{
    const double d2r = GAR_PI / 180.0;
    double ca = cos(rot_deg * d2r), sa = sin(rot_deg * d2r);
    double cb = cos(tilt_deg * d2r), sb = sin(tilt_deg * d2r);
    double cg = cos(psi_deg * d2r), sg = sin(psi_deg * d2r);
    A[0] = cg * cb * ca - sg * sa;
    A[1] = cg * cb * sa + sg * ca;
    A[2] = -cg * sb;
    A[3] = -sg * cb * ca - cg * sa;
    A[4] = -sg * cb * sa + cg * ca;
    A[5] = sg * sb;
    A[6] = sb * ca;
    A[7] = sb * sa;
    A[8] = cb;
}

/* y = M x for a row-major 3x3 matrix. */
GAR_HD void gar_mat3_apply(const double M[9], const double x[3], double y[3])
{
    y[0] = M[0] * x[0] + M[1] * x[1] + M[2] * x[2];
    y[1] = M[3] * x[0] + M[4] * x[1] + M[5] * x[2];
    y[2] = M[6] * x[0] + M[7] * x[1] + M[8] * x[2];
}

/* y = M^T x. */
GAR_HD void gar_mat3_apply_t(const double M[9], const double x[3], double y[3])
{
    y[0] = M[0] * x[0] + M[3] * x[1] + M[6] * x[2];
    y[1] = M[1] * x[0] + M[4] * x[1] + M[7] * x[2];
    y[2] = M[2] * x[0] + M[5] * x[1] + M[8] * x[2];
}

/* C = A Bᵀ for row-major 3x3 matrices: the slice of a particle of pose A
 * under the symmetry operator B. */
GAR_HD void gar_mat3_mul_bt(const double A[9], const double B[9], double C[9])
{
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            C[3 * a + b] = A[3 * a] * B[3 * b] + A[3 * a + 1] * B[3 * b + 1] + A[3 * a + 2] * B[3 * b + 2];
}

/* ---------------------------------------------------------------- the stored sphere */

/* The layout of the reconstruction's sums (src/gar_sphere.h), shared by the
 * CPU's and the GPU's insertion: row (ky, kz), ky and kz in [−K, K], is
 * (kz + K)·side + ky + K with side = 2K + 1, and a held voxel is its row's
 * start plus kx. */
GAR_HD size_t gar_sphere_row_of(int K, int side, int ky, int kz)
{
    return (size_t)(kz + K) * (size_t)side + (size_t)(ky + K);
}

GAR_HD size_t gar_sphere_lookup(const size_t *row_start, int K, int side, int kx, int ky, int kz)
{
    return row_start[gar_sphere_row_of(K, side, ky, kz)] + (size_t)kx;
}

/* ---------------------------------------------------------------- CTF */

/* CTF parameters reduced to what the per-pixel evaluation needs, prepared
 * once per particle on the host by gar_ctf_prepare(). */
typedef struct gar_ctf {
    float defocus_avg;     /* Å, (dU + dV) / 2, > 0 underfocus */
    float defocus_dev;     /* Å, (dU - dV) / 2 */
    float cos2a, sin2a;    /* cos 2φA, sin 2φA of the astigmatism angle */
    float k1;              /* π λ           (Å) */
    float k2;              /* π/2 Cs λ³     (Å³) */
    float phase;           /* atan(Q / √(1−Q²)) + phase shift (rad) */
} gar_ctf;

/* Relativistic electron wavelength in Å for an acceleration voltage in volts. */
GAR_HD double gar_electron_wavelength(double voltage_V)
{
    return 12.2643247 / sqrt(voltage_V * (1.0 + 0.978466e-6 * voltage_V));
}

/* voltage in kV, Cs in mm, Q amplitude contrast in [0,1), angles in degrees. */
GAR_HD gar_ctf gar_ctf_prepare(double defocus_u_A, double defocus_v_A, double angle_deg,
                               double voltage_kV, double cs_mm, double amp_contrast,
                               double phase_shift_deg)
{
    gar_ctf c;
    double lambda = gar_electron_wavelength(voltage_kV * 1e3);
    double cs = cs_mm * 1e7;
    double a2 = 2.0 * angle_deg * GAR_PI / 180.0;
    c.defocus_avg = (float)(0.5 * (defocus_u_A + defocus_v_A));
    c.defocus_dev = (float)(0.5 * (defocus_u_A - defocus_v_A));
    c.cos2a = (float)cos(a2);
    c.sin2a = (float)sin(a2);
    c.k1 = (float)(GAR_PI * lambda);
    c.k2 = (float)(0.5 * GAR_PI * cs * lambda * lambda * lambda);
    c.phase = (float)(atan2(amp_contrast, sqrt(1.0 - amp_contrast * amp_contrast)) +
                      phase_shift_deg * GAR_PI / 180.0);
    return c;
}

/* CTF at spatial frequency (kx, ky) in 1/Å:
 *   CTF = √(1−Q²) sin χ + Q cos χ = sin(χ + φQ),   so CTF(0) = +Q,
 *   χ = π λ Δf(φ) k² − π/2 Cs λ³ k⁴,
 *   Δf(φ) = avg + dev cos 2(φ − φA),  cos 2(φ−φA) = (cos2φ cos2φA + sin2φ sin2φA)
 * with cos 2φ = (kx²−ky²)/k², sin 2φ = 2 kx ky / k², so no atan2 per pixel.
 * The sign is RELION's (its getCTF negates both χ and the result): DESIGN.md's
 * −[...] correlates at −0.57 with RELION's simulated particles, this at +0.57
 * (tests/check_simulate.c keeps that check). */
GAR_HD float gar_ctf_eval(const gar_ctf *c, float kx, float ky)
{
    float k2 = kx * kx + ky * ky;
    float cos2phi = 1.0f, sin2phi = 0.0f;
    float dz, chi;
    if (k2 > 0.0f) {
        cos2phi = (kx * kx - ky * ky) / k2;
        sin2phi = 2.0f * kx * ky / k2;
    }
    dz = c->defocus_avg + c->defocus_dev * (cos2phi * c->cos2a + sin2phi * c->sin2a);
    chi = c->k1 * dz * k2 - c->k2 * k2 * k2;
    return sinf(chi + c->phase);
}

/* ---------------------------------------------------------------- blob */

/* Modified Bessel function of the first kind I_m(x) for small integer m,
 * by its power series Σ (x/2)^(2k+m) / (k! (k+m)!), in double. Converges
 * quickly for the arguments a blob uses (x <= α, α ~ 10-20). */
GAR_HD double gar_bessel_i(int m, double x)
{
    double half = 0.5 * x, term = 1.0, sum;
    for (int j = 1; j <= m; j++)
        term *= half / j;
    sum = term;
    for (int k = 1; k < 200; k++) {
        term *= half * half / ((double)k * (double)(k + m));
        sum += term;
        if (term < 1e-17 * sum)
            break;
    }
    return sum;
}

/* Kaiser-Bessel blob (Lewitt): b(r) = [√(1−(r/a)²)]^m I_m(α√(1−(r/a)²)) / I_m(α)
 * for r < a, else 0; b(0) = 1 for m = 0. r in padded Fourier voxels. */
GAR_HD double gar_blob_value(double r, double radius, double alpha, int order)
{
    double t, s, p = 1.0;
    if (r >= radius)
        return 0.0;
    t = r / radius;
    s = sqrt(1.0 - t * t);
    for (int j = 0; j < order; j++)
        p *= s;
    return p * gar_bessel_i(order, alpha * s) / gar_bessel_i(order, alpha);
}

/* Blob weights are looked up by squared distance (no sqrt per tap) in a table
 * of GAR_BLOB_TABLE samples table[i] = b(√(i·a²/(GAR_BLOB_TABLE−1))), linearly
 * interpolated; inv_step = (GAR_BLOB_TABLE−1)/a². */
#define GAR_BLOB_TABLE 10000

GAR_HD float gar_blob_lookup(const float *table, float inv_step, float r2)
{
    float x = r2 * inv_step;
    int i = (int)x;
    float f;
    if (i >= GAR_BLOB_TABLE - 1) /* r >= a: callers test d2 < a2, this guards rounding */
        return 0.0f;
    f = x - (float)i;
    return table[i] + f * (table[i + 1] - table[i]);
}

/* ---------------------------------------------------------------- gather */

/* A prepared particle: its padded transform's pixels (u, v), u, v in [−R, R],
 * as three planes of (2R+1)² floats (CTF·X real and imaginary parts, CTF²) at
 * index (v + R)·(2R+1) + (u + R). Hermitian-expanded, so u < 0 needs no branch. */
typedef struct gar_plane {
    const float *GAR_RESTRICT re, *GAR_RESTRICT im, *GAR_RESTRICT c2;
    int R;
} gar_plane;

/* The blob weight at squared distance r2 (< a²) from the table, linearly
 * interpolated (gar_gather_voxel passes r2 = 0 for taps outside the radius).
 * For r2 just below a², x = r2 · inv_step can round to GAR_BLOB_TABLE − 1
 * (555 of 3001 radii between 1 and 4, 2.2 and 2.4 among them): the segment
 * index is clamped to the last segment, so x = GAR_BLOB_TABLE − 1 reads
 * table[GAR_BLOB_TABLE − 1] (fraction 1) and never the word after the table
 * (on a GPU, the next word of shared or global memory). */
GAR_HD float gar_blob_table_weight(const float *GAR_RESTRICT table, float inv_step, float r2)
{
    const float x = r2 * inv_step;
    const int t = (int)x < GAR_BLOB_TABLE - 2 ? (int)x : GAR_BLOB_TABLE - 2;
    return table[t] + (x - (float)t) * (table[t + 1] - table[t]);
}

/* The order-0 blob computed on the fly in single precision, for the GPU
 * variant that keeps no table: I_0(α√(1−r²/a²)) / I_0(α) by `terms` terms of
 * the power series (terms >= 1.2 α + 8 reaches float precision), inv_a2 = 1/a²,
 * inv_i0 = 1 / I_0(α). */
GAR_HD float gar_blob_otf(float r2, float inv_a2, float alpha, float inv_i0, int terms)
{
    float t = 1.0f - r2 * inv_a2;
    t = t > 0.0f ? t : 0.0f;
    const float x = 0.5f * alpha * sqrtf(t), x2 = x * x;
    float term = 1.0f, sum = 1.0f;
    for (int k = 1; k <= terms; k++) {
        term *= x2 / (float)(k * k);
        sum += term;
    }
    return sum * inv_i0;
}

/* The loop of one voxel's gather, with the blob weight of a tap at squared
 * distance D2 given by the expression WEIGHT (a macro so that the table and
 * the on-the-fly variants share every other line). */
#define GAR_GATHER_VOXEL_BODY(WEIGHT)                                                              \
    const float rz2 = qz * qz;                                                                     \
    const float r = sqrtf(a2 - rz2);                                                               \
    const int u0 = (int)ceilf(qx - r), u1 = (int)floorf(qx + r);                                   \
    const int v0 = (int)ceilf(qy - r), v1 = (int)floorf(qy + r);                                   \
    const int stride = 2 * pl->R + 1;                                                              \
    const float *GAR_RESTRICT re = pl->re, *GAR_RESTRICT im = pl->im, *GAR_RESTRICT c2 = pl->c2;   \
    float sre = 0.0f, sim = 0.0f, sw = 0.0f;                                                       \
    for (int v = v0; v <= v1; v++) {                                                               \
        const float dy = (float)v - qy;                                                            \
        const float d2y = dy * dy + rz2;                                                           \
        const size_t row = (size_t)(v + pl->R) * stride + pl->R;                                   \
        for (int u = u0; u <= u1; u++) {                                                           \
            const float dx = (float)u - qx;                                                        \
            const float d2 = dx * dx + d2y;                                                        \
            const float m = d2 < a2 ? 1.0f : 0.0f;                                                 \
            const float D2 = d2 * m;                                                               \
            const float b = m * (WEIGHT);                                                          \
            sre += b * re[row + u];                                                                \
            sim += b * im[row + u];                                                                \
            sw += b * c2[row + u];                                                                 \
        }                                                                                          \
    }                                                                                              \
    *g_re += sre;                                                                                  \
    *g_im += sim;                                                                                  \
    *w += sw;

/* One voxel's gather: the voxel sits at (qx, qy) in the particle's plane at
 * distance qz from it (|qz| < a checked by the caller). Adds Σ b·CTF·X to
 * (g_re, g_im) and Σ b·CTF² to w over the pixels within the blob radius
 * (a2 = a²). The taps of the bounding square outside the radius are weighted
 * 0 rather than skipped: a branch there is mispredicted about half the time. */
GAR_HD void gar_gather_voxel(const gar_plane *pl, float qx, float qy, float qz, float a2,
                             const float *GAR_RESTRICT table, float inv_step, float *g_re,
                             float *g_im, float *w)
{
    GAR_GATHER_VOXEL_BODY(gar_blob_table_weight(table, inv_step, D2))
}

/* The same with the order-0 blob computed per tap (gar_blob_otf). */
GAR_HD void gar_gather_voxel_otf(const gar_plane *pl, float qx, float qy, float qz, float a2,
                                 float alpha, float inv_i0, int terms, float *g_re, float *g_im,
                                 float *w)
{
    const float inv_a2 = 1.0f / a2;
    GAR_GATHER_VOXEL_BODY(gar_blob_otf(D2, inv_a2, alpha, inv_i0, terms))
}

/* ---------------------------------------------------------------- particles */

/* What the insertion needs of one particle, prepared on the host from its
 * metadata (gar_recon_particle_geom, gar_recon_plane.c) and used by the CPU
 * and the GPU preparation alike. */
typedef struct gar_particle_geom {
    double A[9];     /* pose (gar_euler_to_matrix) */
    double ox, oy;   /* origin shift in pixels */
    gar_ctf ctf;     /* valid when use_ctf */
    int use_ctf;
    int half;        /* half set, 0 or 1 */
    float scale;     /* contrast scale a (1: none): the plane holds a·C·X and a²·C² */
} gar_particle_geom;

/* A particle's pixel (x, y) of an N × N image is background (used for the
 * normalisation) outside the inscribed circle. */
GAR_HD int gar_is_background(int x, int y, int N)
{
    const double dx = (double)x - N / 2, dy = (double)y - N / 2;
    return dx * dx + dy * dy > 0.25 * N * N;
}

/* The mean of an N × N image's background (gar_is_background), which the
 * CPU's planes subtract before the FFT (the GPU's plane kernel sums it in
 * parallel, gpu/gar_gpu_gather.cu). Host only. */
static inline double gar_background_mean(const float *image, size_t N)
{
    double bg = 0.0;
    size_t nbg = 0;
    for (size_t y = 0; y < N; y++)
        for (size_t x = 0; x < N; x++)
            if (gar_is_background((int)x, (int)y, (int)N)) {
                bg += image[y * N + x];
                nbg++;
            }
    return nbg ? bg / nbg : 0.0;
}

/* One axis' factor of the shift phase, (−1)^k e^{−2πi k o / M}: it moves the
 * particle's origin by o pixels and puts it at M/2. The pixel (u, v) has the
 * phase (cu + i su)(cv + i sv). */
GAR_HD void gar_shift_phase(int k, double o, double M, double *c, double *s)
{
    const double sg = (k & 1) ? -1.0 : 1.0;
    const double ang = -2.0 * GAR_PI * k * o / M;
    *c = sg * cos(ang);
    *s = sg * sin(ang);
}

/* The largest |u| kept in row v of a prepared plane (pixels within rlim of
 * the centre and inside the transform, half = M/2), or −1 if row v is empty. */
GAR_HD int gar_plane_row_umax(int v, double rlim, int half)
{
    const double vv = (double)v * v;
    int umax;
    if (vv > rlim * rlim || (v < 0 ? -v : v) >= half)
        return -1;
    umax = (int)floor(sqrt(rlim * rlim - vv));
    return umax > half ? half : umax;
}

/* Whether pixel (u, v) of a padded plane lies on the box's own frequency
 * grid, every step-th pixel (step = M/N; 1: every pixel does). Planes of
 * periodic images keep only those (GAR_IMAGE_PERIODIC). */
GAR_HD int gar_plane_on_lattice(int u, int v, int step)
{
    return step <= 1 || (u % step == 0 && v % step == 0);
}

/* The weight of pixel (u, v) of a transform of M pixels of px Å (Mpx =
 * M·px): the particle's contrast scale times its CTF (1 without CTF). With
 * image X = a·C·V + noise, inserting a·C·X and a²·C² makes Σ a C X / Σ a² C²
 * the least-squares V (a = 1: exactly the CTF weight, bit for bit). */
GAR_HD float gar_plane_ctf_weight(const gar_particle_geom *g, int u, int v, double Mpx)
{
    return g->scale * (g->use_ctf ? gar_ctf_eval(&g->ctf, (float)(u / Mpx), (float)(v / Mpx)) : 1.0f);
}

/* One pixel (u, v) of a prepared plane from the particle's r2c transform c
 * (M rows of M/2+1 complex values, interleaved): the Hermitian mate for
 * u < 0, the shift phase, and the CTF weight w: out = (w·Re, w·Im, w²). */
GAR_HD void gar_plane_pixel(const float *GAR_RESTRICT c, int M, int u, int v, double cu, double su,
                            double cv, double sv, float wgt, float out[3])
{
    const size_t H = (size_t)(M / 2 + 1);
    float re, im;
    if (u >= 0) {
        const float *z = c + 2 * ((size_t)((v + M) % M) * H + (size_t)u);
        re = z[0];
        im = z[1];
    } else {
        const float *z = c + 2 * ((size_t)((-v + M) % M) * H + (size_t)(-u));
        re = z[0];
        im = -z[1];
    }
    const double cr = cu * cv - su * sv;
    const double ci = cu * sv + su * cv;
    const float rr = (float)(re * cr - im * ci), ii = (float)(re * ci + im * cr);
    out[0] = wgt * rr;
    out[1] = wgt * ii;
    out[2] = wgt * wgt;
}

/* ---------------------------------------------------------------- slices */

/* One slice to insert (a particle, or a particle under one symmetry
 * operator): its rotation, and the coordinate plane most parallel to it.
 * Axis c is the column axis (|n[c]| >= 1/√3, n the slice's normal); (o, i)
 * the plane's outer and inner axes, z outer when it lies in the plane. */
typedef struct gar_slice_geom {
    float A[9];
    double n[3];
    double inv_nc;
    int c, o, i;
    int half;     /* half set, 0 or 1 */
    int plane;    /* the particle's plane within its batch */
} gar_slice_geom;

GAR_HD void gar_slice_geom_make(const double Ad[9], int half, int plane, gar_slice_geom *g)
{
    for (int k = 0; k < 9; k++)
        g->A[k] = (float)Ad[k];
    g->n[0] = Ad[6];
    g->n[1] = Ad[7];
    g->n[2] = Ad[8];
    if (fabs(g->n[2]) >= fabs(g->n[0]) && fabs(g->n[2]) >= fabs(g->n[1])) {
        g->c = 2, g->o = 1, g->i = 0;
    } else if (fabs(g->n[1]) >= fabs(g->n[0])) {
        g->c = 1, g->o = 2, g->i = 0;
    } else {
        g->c = 0, g->o = 2, g->i = 1;
    }
    g->inv_nc = 1.0 / g->n[g->c];
    g->half = half;
    g->plane = plane;
}

/* The column (k[o], k[i]) = (ko, ki) of slice g: if it lies within the
 * resolution disc, *rr = ko² + ki² and [*lo, *hi] is the range of k[c]
 * within the bounds [lo_b, hi_b] whose voxels are within a of the slice;
 * returns 0 when there is none. */
GAR_HD int gar_slice_column(const gar_slice_geom *g, int ko, int ki, double a, double kmax2,
                            const int lo_b[3], const int hi_b[3], double *rr, int *lo, int *hi)
{
    const double r2 = (double)ko * ko + (double)ki * ki;
    double c0, c1;
    int l, h;
    if (r2 > kmax2)
        return 0;
    const double s = g->n[g->o] * ko + g->n[g->i] * ki;
    c0 = (-a - s) * g->inv_nc;
    c1 = (a - s) * g->inv_nc;
    if (c0 > c1) {
        const double tmp = c0;
        c0 = c1;
        c1 = tmp;
    }
    l = (int)ceil(c0);
    h = (int)floor(c1);
    if (l < lo_b[g->c])
        l = lo_b[g->c];
    if (h > hi_b[g->c])
        h = hi_b[g->c];
    *rr = r2;
    *lo = l;
    *hi = h;
    return l <= h;
}

/* The position q = A·K of voxel K relative to a slice of rotation A; 0 when
 * it lies a blob radius or more from the slice (qz² >= a2, q[0..1] unset). */
GAR_HD int gar_slice_q(const float A[9], int kx, int ky, int kz, float a2, float q[3])
{
    const float fx = (float)kx, fy = (float)ky, fz = (float)kz;
    q[2] = A[6] * fx + A[7] * fy + A[8] * fz;
    if (q[2] * q[2] >= a2)
        return 0;
    q[0] = A[0] * fx + A[1] * fy + A[2] * fz;
    q[1] = A[3] * fx + A[4] * fy + A[5] * fz;
    return 1;
}

/* Voxel K = (kx, ky, kz) against a slice of rotation A: q = A·K; if the
 * voxel lies within the blob radius of the slice (qz² < a2), gather from the
 * plane into the sums and return 1. */
GAR_HD int gar_slice_voxel(const float A[9], int kx, int ky, int kz, const gar_plane *pl, float a2,
                           const float *GAR_RESTRICT table, float inv_step, float *g_re, float *g_im,
                           float *w)
{
    float q[3];
    if (!gar_slice_q(A, kx, ky, kz, a2, q))
        return 0;
    gar_gather_voxel(pl, q[0], q[1], q[2], a2, table, inv_step, g_re, g_im, w);
    return 1;
}

/* On x86-64 the CPU's hot loops (insertion, reference slices) are also
 * built for x86-64-v3 (AVX2 + FMA; floorf becomes one instruction) and the
 * loader picks the version the CPU runs; on one machine the choice is fixed,
 * so results stay bitwise repeatable. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__CUDACC__)
#define GAR_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define GAR_CPU_CLONES
#endif

/* ---------------------------------------------------------------- projection */

/* One sample of a central slice: the padded Hermitian half transform F
 * (complex interleaved, index ((z·M + y)·H + x), H = M/2 + 1, x >= 0 only,
 * y and z wrapped) read by trilinear interpolation at padded coordinates
 * (qx, qy, qz); a point with qx < 0 is read as the conjugate at −q. The
 * caller keeps |q| < M/2 − 1, so no neighbour wraps onto the opposite edge.
 * Trilinear interpolation multiplies the map by sinc² per axis, which the
 * reference undoes beforehand (gar_refproj.c). */
GAR_HD void gar_slice_sample(const float *GAR_RESTRICT F, int M, float qx, float qy, float qz,
                             float *out_re, float *out_im)
{
    const int H = M / 2 + 1;
    float sign = 1.0f;
    if (qx < 0.0f) {
        qx = -qx;
        qy = -qy;
        qz = -qz;
        sign = -1.0f;
    }
    const float fx = floorf(qx), fy = floorf(qy), fz = floorf(qz);
    const float tx = qx - fx, ty = qy - fy, tz = qz - fz;
    const int x0 = (int)fx, y0 = (int)fy, z0 = (int)fz;
    float re = 0.0f, im = 0.0f;
    for (int dz = 0; dz <= 1; dz++) {
        const int z = z0 + dz;
        const size_t zi = (size_t)(z < 0 ? z + M : z);
        const float wz = dz ? tz : 1.0f - tz;
        for (int dy = 0; dy <= 1; dy++) {
            const int y = y0 + dy;
            const size_t row = (zi * (size_t)M + (size_t)(y < 0 ? y + M : y)) * (size_t)H;
            const float wzy = wz * (dy ? ty : 1.0f - ty);
            const float *v = F + 2 * (row + (size_t)x0);
            re += wzy * ((1.0f - tx) * v[0] + tx * v[2]);
            im += wzy * ((1.0f - tx) * v[1] + tx * v[3]);
        }
    }
    *out_re = re;
    *out_im = sign * im;
}

/* A soft-edged disc or ball: 1 inside radius r0, a raised cosine over
 * `edge` pixels outside it, 0 beyond (r, r0, edge in pixels). */
GAR_HD float gar_soft_mask(float r, float r0, float edge)
{
    if (r <= r0)
        return 1.0f;
    if (r >= r0 + edge)
        return 0.0f;
    return 0.5f + 0.5f * cosf((float)GAR_PI * (r - r0) / edge);
}

/* The particle mask of the pose search and of the noise model's background:
 * radius r0, a soft edge of 5 pixels (r, r0 in pixels). */
GAR_HD float gar_particle_mask(float r, float r0) { return gar_soft_mask(r, r0, 5.0f); }

/* Pose search (gar_search_score.c on the CPU, gpu/gar_gpu_search.cu on a GPU).
 * The normalised cross-correlation of a score: corr = Σ w C Re[X conj(P)],
 * normX = Σ w |X|², normP = Σ w C² |P|²; −2 (below any score) where a norm
 * is 0. */
GAR_HD double gar_ncc(float corr, double normX, float normP)
{
    const double d = normX * (double)normP;
    return d > 0 ? (double)corr / sqrt(d) : -2.0;
}

/* Pose (v, c) ranks before (w, d): a higher score, or the same and a lower index. */
GAR_HD int gar_top_before(double v, size_t c, double w, size_t d) { return v > w || (v == w && c < d); }

/* Offer pose c with score v to a list of the best (at most K, best first,
 * *n held). The list is always the first K of the offered poses sorted by
 * score, ties by index, in whatever order they are offered. */
GAR_HD void gar_top_offer(double *topv, size_t *top, int *n, int K, double v, size_t c)
{
    if (*n == K && !gar_top_before(v, c, topv[K - 1], top[K - 1]))
        return;
    int j = *n < K ? (*n)++ : K - 1;
    while (j > 0 && gar_top_before(v, c, topv[j - 1], top[j - 1])) {
        topv[j] = topv[j - 1];
        top[j] = top[j - 1];
        j--;
    }
    topv[j] = v;
    top[j] = c;
}
#endif
