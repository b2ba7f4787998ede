#include "gar_gather_simd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Solves the 5 × 5 system V c = f by Gaussian elimination with partial
 * pivoting (V: Vandermonde at Chebyshev nodes, well conditioned). */
static void solve5(double V[5][5], double f[5], double c[5])
{
    for (int col = 0; col < 5; col++) {
        int piv = col;
        for (int i = col + 1; i < 5; i++)
            if (fabs(V[i][col]) > fabs(V[piv][col]))
                piv = i;
        for (int j = 0; j < 5; j++) {
            double tmp = V[col][j];
            V[col][j] = V[piv][j];
            V[piv][j] = tmp;
        }
        double tf = f[col];
        f[col] = f[piv];
        f[piv] = tf;
        for (int i = col + 1; i < 5; i++) {
            double m = V[i][col] / V[col][col];
            for (int j = col; j < 5; j++)
                V[i][j] -= m * V[col][j];
            f[i] -= m * f[col];
        }
    }
    for (int i = 4; i >= 0; i--) {
        double s = f[i];
        for (int j = i + 1; j < 5; j++)
            s -= V[i][j] * c[j];
        c[i] = s / V[i][i];
    }
}

/* The blob at x = r²/a². */
static double blob_at(double x, double a, double alpha, int order)
{
    return gar_blob_value(a * sqrt(x < 0 ? 0 : x), a, alpha, order);
}

double gar_blob_poly_fit(double a, double alpha, int order, gar_blob_poly *p)
{
    const int P = GAR_BLOB_PIECES;
    double worst = 0;
    memset(p, 0, sizeof *p);
    for (int i = 0; i < P; i++) {
        double V[5][5], f[5], c[5];
        for (int j = 0; j < 5; j++) {
            double t = 0.5 - 0.5 * cos((2 * j + 1) * M_PI / 10.0);
            f[j] = blob_at((i + t) / P, a, alpha, order);
            for (int k = 0; k < 5; k++)
                V[j][k] = pow(t, k);
        }
        solve5(V, f, c);
        for (int k = 0; k < 5; k++)
            p->c[k][i] = (float)c[k];
    }
    p->scale = (float)(P / (a * a));
    p->a = (float)a;
    p->a2 = (float)(a * a);
    /* The error as the registers evaluate it: float Horner with FMA, for
     * r < a (the gather masks r >= a, where the blob drops to 0). */
    for (int i = 0; i < P; i++)
        for (int s = 0; s < (i == P - 1 ? 64 : 65); s++) {
            float t = (float)s / 64.0f, b = p->c[4][i];
            for (int k = 3; k >= 0; k--)
                b = fmaf(b, t, p->c[k][i]);
            double e = fabs((double)b - blob_at((i + (double)t) / P, a, alpha, order));
            if (e > worst)
                worst = e;
        }
    return worst;
}

int gar_simd_cpu_available(void)
{
#ifdef GAR_HAVE_AVX512_GATHER
    /* GARNER_SCALAR_GATHER=1 keeps the scalar code (tests compare the two;
     * also a way round a CPU or emulator that misreports AVX-512). */
    const char *env = getenv("GARNER_SCALAR_GATHER");
    if (env != NULL && *env != '\0' && strcmp(env, "0") != 0)
        return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
#else
    return 0;
#endif
}

int gar_gather_simd_available(double a) { return a >= 1.5 && a < 2.0 && gar_simd_cpu_available(); }
