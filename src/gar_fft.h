/* garner: FFTW (single precision) behind plan objects.
 *
 * Plans are made once and executed many times (FFTW's model). The FFTW planner
 * is not thread-safe, so every plan creation and destruction in the process
 * goes through one lock here; execution is thread-safe, so each worker thread
 * owns its own plan and buffers and runs them without locking.
 *
 * Layouts are FFTW's r2c: an n x n real image has an (n/2+1) x n Hermitian half
 * transform, complex values interleaved (re, im), row-major with kx fastest:
 * c[(ky_index * (n/2+1) + kx) * 2 + {0,1}], ky = ky_index < n/2 ? ky_index : ky_index - n.
 * Transforms are unnormalised (forward then inverse multiplies by n²). */
#ifndef GAR_FFT_H
#define GAR_FFT_H

#include <stddef.h>
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_fft2 gar_fft2;

/* A forward and an inverse plan for n x n images with their own aligned
 * buffers. n >= 2 and even. */
gar_status gar_fft2_create(size_t n, gar_fft2 **out);
void gar_fft2_destroy(gar_fft2 **f);   /* NULL-safe */
size_t gar_fft2_size(const gar_fft2 *f);
/* The plan's buffers: real n*n floats, complex (n/2+1)*n*2 floats. */
float *gar_fft2_real(gar_fft2 *f);
float *gar_fft2_complex(gar_fft2 *f);
/* real buffer -> complex buffer */
void gar_fft2_forward(gar_fft2 *f);
/* complex buffer -> real buffer (the complex buffer is destroyed). */
void gar_fft2_inverse(gar_fft2 *f);

/* One-shot 3D transforms of an n³ cube (planned with FFTW_ESTIMATE under the
 * planner lock, executed on the calling thread so the result does not depend
 * on the thread count). Layout [z][y][x/2+1] complex interleaved. The input of
 * the c2r transform is destroyed. */
gar_status gar_fft3_r2c(size_t n, float *real_in, float *cplx_out);
gar_status gar_fft3_c2r(size_t n, float *cplx_in, float *real_out);

/* The central n³ of the inverse of an m³ transform (m, n even, n <= m):
 * out[z][y][x] = full[z + o][y + o][x + o], o = m/2 − n/2, where full is what
 * gar_fft3_c2r(m) gives (equal to rounding). `cplx` ([z][y][m/2+1], zero at
 * |k| > kmax, which lets whole lines be skipped; kmax >= m for none) is
 * destroyed. Done as 1D transforms along z, then y, then x, each pass only
 * over the lines the crop needs (about half the work of the full
 * transform), on `threads` threads; each line's arithmetic is the same
 * whatever the thread count, so the result is too. */
gar_status gar_fft3_c2r_crop(size_t m, size_t n, double kmax, float *cplx, float *out, int threads);

/* The same transform without the m × m × (m/2+1) input: `fill` makes the
 * lines along z it needs, and the first pass keeps only their n central z,
 * in `kept` (n × m × (m/2+1) complex, interleaved: n/m of the input's size),
 * so the caller never holds the whole transform (issue 20). fill(ctx, y,
 * x0, nb, lines) writes, for the nb (<= 8) columns kx = x0 .. x0 + nb − 1 of
 * FFT row y, line b's m values (complex interleaved, index z) at
 * lines + 2·b·m; it is called from several threads at once, and only for
 * the lines that may hold a value within kmax (the others are zero). Equal
 * bit for bit to gar_fft3_c2r_crop of the volume the lines make. */
typedef void (*gar_fft_line_fill)(void *ctx, size_t y, size_t x0, size_t nb, float *lines);
gar_status gar_fft3_c2r_crop_fill(size_t m, size_t n, double kmax, gar_fft_line_fill fill, void *ctx, float *kept,
                                  float *out, int threads);

/* Signed frequency of FFT index i for size n. */
static inline long gar_fft_freq(size_t i, size_t n)
{
    return (long)i < (long)(n / 2) ? (long)i : (long)i - (long)n;
}

/* The smallest 2^a 3^b 5^c 7^d (a >= 1) at or above n: FFT-friendly sizes. */
size_t gar_fft_good_size(size_t n);

/* Library version string ("fftw-3.3.10-sse2-avx"). */
const char *gar_fft_version(void);

#ifdef __cplusplus
}
#endif
#endif
