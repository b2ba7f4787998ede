/* garner: post-processing of two half maps (see gar_postprocess.h; the
 * formulas: docs/ARCHITECTURE.md, "Post-processing"). */
#include "gar_postprocess.h"
#include "gar_rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gar_fft.h"

#define PP_PI 3.14159265358979323846
/* "Infinitely far" in the squared distance transform: finite, so that
 * differences of two such values stay numbers. */
#define EDT_FAR 1e20

void gar_mask_settings_default(gar_mask_settings *s)
{
    s->lowpass_A = 15.0;
    s->threshold = NAN;
    s->threshold_fraction = 0.2;
    s->extend_px = 3.0;
    s->soft_px = 6.0;
}

void gar_postprocess_settings_default(gar_postprocess_settings *s)
{
    s->randomise_below = 0.8;
    s->fit_from_A = 10.0;
    s->fit_to_A = 0.0;
    s->bfactor = NAN;
    s->reference = NULL;
    s->lowpass_edge = 2.0;
    s->guinier_unmasked = 0;
    s->seed = 1;
    s->unfitted_unsharpened = 0;
}

static gar_status check_cube(const gar_map *m, const char *what)
{
    if (m->nx != m->ny || m->nx != m->nz || m->nx < 4 || m->nx % 2 != 0)
        return gar_error(GAR_ERR_DATA, "%s is %zu x %zu x %zu: expected a cube with an even side of 4 or more",
                         what, m->nx, m->ny, m->nz);
    return GAR_OK;
}

gar_status gar_map_filter_radial(gar_map *map, double (*gain)(double k, void *ctx), void *ctx)
{
    gar_status st;
    size_t n = map->nx, h = n / 2 + 1, nvox = n * n * n;
    float *f = NULL;
    if ((st = check_cube(map, "the map to filter")) != GAR_OK ||
        (st = gar_alloc((void **)&f, n * n * h, 2 * sizeof(float), "Fourier filter buffer")) != GAR_OK ||
        (st = gar_fft3_r2c(n, map->data, f)) != GAR_OK)
        goto done;
    for (size_t z = 0; z < n; z++) {
        long kz = gar_fft_freq(z, n);
        for (size_t y = 0; y < n; y++) {
            long ky = gar_fft_freq(y, n);
            for (size_t x = 0; x < h; x++) {
                double g = gain(sqrt((double)(x * x) + (double)(ky * ky) + (double)(kz * kz)), ctx);
                float *p = f + 2 * ((z * n + y) * h + x);
                p[0] = (float)(p[0] * g);
                p[1] = (float)(p[1] * g);
            }
        }
    }
    if ((st = gar_fft3_c2r(n, f, map->data)) != GAR_OK)
        goto done;
    for (size_t i = 0; i < nvox; i++)
        map->data[i] /= (float)nvox;
done:
    free(f);
    return st;
}

/* 1 below k0 − w/2, 0 above k0 + w/2, a raised cosine between. */
typedef struct cosine_lowpass {
    double k0, w;
} cosine_lowpass;

static double cosine_lowpass_gain(double k, void *ctx)
{
    const cosine_lowpass *c = ctx;
    double lo = c->k0 - 0.5 * c->w;
    if (k <= lo)
        return 1.0;
    if (k >= c->k0 + 0.5 * c->w)
        return 0.0;
    return 0.5 * (1.0 + cos(PP_PI * (k - lo) / c->w));
}

/* Felzenszwalb and Huttenlocher's squared distance transform of one line
 * (stride apart in `a`), in place: a[i] = min_j (i − j)² + a[j]. */
static void edt_line(float *a, size_t n, size_t stride, double *f, double *d, size_t *v, double *zb)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        f[i] = a[i * stride];
    v[0] = 0;
    zb[0] = -INFINITY;
    zb[1] = INFINITY;
    for (size_t q = 1; q < n; q++) {
        double s;
        for (;;) {
            size_t p = v[k];
            s = ((f[q] + (double)(q * q)) - (f[p] + (double)(p * p))) / (2.0 * (double)q - 2.0 * (double)p);
            /* zb[0] is −∞: k stops at 0. */
            if (s <= zb[k])
                k--;
            else
                break;
        }
        k++;
        v[k] = q;
        zb[k] = s;
        zb[k + 1] = INFINITY;
    }
    k = 0;
    for (size_t q = 0; q < n; q++) {
        while (zb[k + 1] < (double)q)
            k++;
        double dq = (double)q - (double)v[k];
        d[q] = dq * dq + f[v[k]];
    }
    for (size_t i = 0; i < n; i++)
        a[i * stride] = (float)(d[i] < EDT_FAR ? d[i] : EDT_FAR);
}

gar_status gar_mask_from_map(const gar_map *map, const gar_mask_settings *s, gar_map **out, double *level_used)
{
    gar_status st;
    gar_map *m = NULL;
    size_t n = map->nx, nvox, inside = 0;
    double *f = NULL, *d = NULL, *zb = NULL, top = -INFINITY, level;
    size_t *v = NULL;
    cosine_lowpass lp;

    *out = NULL;
    if ((st = check_cube(map, "the map to make a mask from")) != GAR_OK)
        return st;
    if (!(map->pixel_size > 0) || !(s->lowpass_A > 0) || !(s->extend_px >= 0) || !(s->soft_px >= 0))
        return gar_error(GAR_ERR_USAGE, "mask: pixel size %g Å, low-pass %g Å, extend %g px, soft edge %g px: "
                         "expected positive values (extend and edge may be 0)",
                         map->pixel_size, s->lowpass_A, s->extend_px, s->soft_px);
    nvox = n * n * n;
    if ((st = gar_map_create(n, n, n, map->pixel_size, &m)) != GAR_OK)
        return st;
    memcpy(m->data, map->data, nvox * sizeof(float));
    /* The cut at lowpass_A with an edge a quarter of that frequency wide: no
     * ringing to speak of at the threshold. */
    lp.k0 = (double)n * map->pixel_size / s->lowpass_A;
    lp.w = 0.5 * lp.k0;
    if ((st = gar_map_filter_radial(m, cosine_lowpass_gain, &lp)) != GAR_OK)
        goto done;
    for (size_t i = 0; i < nvox; i++)
        if (m->data[i] > top)
            top = m->data[i];
    level = isnan(s->threshold) ? s->threshold_fraction * top : s->threshold;
    if (level_used != NULL)
        *level_used = level;
    /* Squared distance to the region above the level: 0 in it, far elsewhere. */
    for (size_t i = 0; i < nvox; i++) {
        int in = m->data[i] > level;
        inside += (size_t)in;
        m->data[i] = in ? 0.0f : (float)EDT_FAR;
    }
    if (inside == 0 || inside == nvox) {
        st = gar_error(GAR_ERR_DATA, "mask: %s of the map (low-passed to %g Å, maximum %g) is above the threshold "
                       "%g: expected a particle in solvent; give the threshold or a mask", inside ? "all" : "none",
                       s->lowpass_A, top, level);
        goto done;
    }
    if ((st = gar_alloc((void **)&f, n, sizeof(double), "distance transform")) != GAR_OK ||
        (st = gar_alloc((void **)&d, n, sizeof(double), "distance transform")) != GAR_OK ||
        (st = gar_alloc((void **)&zb, n + 1, sizeof(double), "distance transform")) != GAR_OK ||
        (st = gar_alloc((void **)&v, n, sizeof(size_t), "distance transform")) != GAR_OK)
        goto done;
    for (size_t z = 0; z < n; z++)
        for (size_t y = 0; y < n; y++)
            edt_line(m->data + (z * n + y) * n, n, 1, f, d, v, zb);
    for (size_t z = 0; z < n; z++)
        for (size_t x = 0; x < n; x++)
            edt_line(m->data + z * n * n + x, n, n, f, d, v, zb);
    for (size_t y = 0; y < n; y++)
        for (size_t x = 0; x < n; x++)
            edt_line(m->data + y * n + x, n, n * n, f, d, v, zb);
    for (size_t i = 0; i < nvox; i++) {
        double r = sqrt((double)m->data[i]);
        double value = r <= s->extend_px               ? 1.0
                       : r >= s->extend_px + s->soft_px ? 0.0
                                                        : 0.5 * (1.0 + cos(PP_PI * (r - s->extend_px) / s->soft_px));
        m->data[i] = (float)value;
    }
    *out = m;
    m = NULL;
done:
    free(f);
    free(d);
    free(zb);
    free(v);
    gar_map_destroy(&m);
    return st;
}

gar_status gar_mask_extent_diameter(const gar_map *map, const gar_mask_settings *s, double *diameter_A)
{
    gar_status st;
    gar_map *m = NULL;
    double r2max = 0;
    if ((st = gar_mask_from_map(map, s, &m, NULL)) != GAR_OK)
        return st;
    const long n = (long)m->nx, c = n / 2;
    for (long z = 0; z < n; z++)
        for (long y = 0; y < n; y++)
            for (long x = 0; x < n; x++)
                if (m->data[(size_t)((z * n + y) * n + x)] > 0) {
                    double r2 = (double)((x - c) * (x - c) + (y - c) * (y - c) + (z - c) * (z - c));
                    if (r2 > r2max)
                        r2max = r2;
                }
    *diameter_A = 2.0 * sqrt(r2max) * map->pixel_size;
    gar_map_destroy(&m);
    return GAR_OK;
}

gar_status gar_map_randomise_phases(gar_map *map, size_t from_shell, uint64_t seed)
{
    gar_status st;
    size_t n = map->nx, h = n / 2 + 1, nvox = n * n * n;
    float *f = NULL;
    if ((st = check_cube(map, "the map to randomise")) != GAR_OK ||
        (st = gar_alloc((void **)&f, n * n * h, 2 * sizeof(float), "phase randomisation buffer")) != GAR_OK ||
        (st = gar_fft3_r2c(n, map->data, f)) != GAR_OK)
        goto done;
    for (size_t z = 0; z < n; z++) {
        long kz = gar_fft_freq(z, n);
        for (size_t y = 0; y < n; y++) {
            long ky = gar_fft_freq(y, n);
            for (size_t x = 0; x < h; x++) {
                double r = sqrt((double)(x * x) + (double)(ky * ky) + (double)(kz * kz));
                float *p = f + 2 * ((z * n + y) * h + x);
                long cy = ky, cz = kz;
                double sign = 1.0, amp, phase;
                uint64_t key;
                if ((size_t)(r + 0.5) < from_shell)
                    continue;
                /* On the kx = 0 plane k and −k are both stored: the phase is
                 * drawn for one of them and negated for the other. */
                if (x == 0 && (kz < 0 || (kz == 0 && ky < 0))) {
                    cy = -ky;
                    cz = -kz;
                    sign = -1.0;
                }
                key = gar_mix64(seed ^ gar_mix64(((uint64_t)x << 42) ^ ((uint64_t)(cy + (long)n) << 21) ^
                                         (uint64_t)(cz + (long)n)));
                phase = sign * 2.0 * PP_PI * (double)(key >> 11) * 0x1.0p-53;
                amp = hypot(p[0], p[1]);
                p[0] = (float)(amp * cos(phase));
                p[1] = (float)(amp * sin(phase));
            }
        }
    }
    if ((st = gar_fft3_c2r(n, f, map->data)) != GAR_OK)
        goto done;
    for (size_t i = 0; i < nvox; i++)
        map->data[i] /= (float)nvox;
done:
    free(f);
    return st;
}

void gar_fsc_correct_masked(const double *fsc_masked, const double *fsc_randomised, size_t n, size_t from,
                            double *out)
{
    for (size_t s = 0; s < n; s++) {
        double t = fsc_masked[s], r = fsc_randomised[s];
        if (s < from + 2)
            out[s] = t;
        else if (r > t || r >= 1.0)
            out[s] = 0.0;
        else
            out[s] = (t - r) / (1.0 - r);
    }
}

size_t gar_line_fit(const double *x, const double *y, size_t n, double lo, double hi, double *slope,
                    double *intercept, double *r)
{
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, cxx, cyy, cxy;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(x[i] >= lo && x[i] <= hi) || !isfinite(y[i]))
            continue;
        sx += x[i];
        sy += y[i];
        sxx += x[i] * x[i];
        syy += y[i] * y[i];
        sxy += x[i] * y[i];
        m++;
    }
    *slope = *intercept = *r = NAN;
    if (m < 2)
        return m;
    cxx = sxx - sx * sx / (double)m;
    cyy = syy - sy * sy / (double)m;
    cxy = sxy - sx * sy / (double)m;
    if (!(cxx > 0))
        return m;
    *slope = cxy / cxx;
    *intercept = (sy - *slope * sx) / (double)m;
    *r = cyy > 0 ? cxy / sqrt(cxx * cyy) : 1.0;
    return m;
}

/* An FSC between copies of a and b multiplied by mask (NULL: none). */
static gar_status masked_fsc(const gar_map *a, const gar_map *b, const gar_map *mask, double *fsc)
{
    gar_status st;
    gar_map *ma = NULL, *mb = NULL;
    size_t nvox = gar_map_voxels(a);
    if ((st = gar_map_create(a->nx, a->ny, a->nz, a->pixel_size, &ma)) != GAR_OK ||
        (st = gar_map_create(b->nx, b->ny, b->nz, b->pixel_size, &mb)) != GAR_OK)
        goto done;
    for (size_t i = 0; i < nvox; i++) {
        float w = mask != NULL ? mask->data[i] : 1.0f;
        ma->data[i] = a->data[i] * w;
        mb->data[i] = b->data[i] * w;
    }
    st = gar_fsc_compute(ma, mb, fsc);
done:
    gar_map_destroy(&ma);
    gar_map_destroy(&mb);
    return st;
}

gar_status gar_fsc_solvent_corrected(const gar_map *h1, const gar_map *h2, const gar_map *mask,
                                     double randomise_below, uint64_t seed, double *unmasked, double *masked,
                                     double *randomised, double *corrected, size_t *randomise_from)
{
    gar_status st;
    gar_map *ra = NULL, *rb = NULL;
    size_t n = h1->nx, nvox, ns, from;
    if ((st = check_cube(h1, "half map 1")) != GAR_OK)
        return st;
    if (h2->nx != n || h2->ny != n || h2->nz != n || mask->nx != n || mask->ny != n || mask->nz != n)
        return gar_error(GAR_ERR_DATA, "half maps and mask must be one size: %zu³, %zu x %zu x %zu and "
                         "%zu x %zu x %zu", n, h2->nx, h2->ny, h2->nz, mask->nx, mask->ny, mask->nz);
    nvox = n * n * n;
    ns = n / 2 + 1;
    /* The FSCs: unmasked, masked, and masked after randomising both halves'
     * phases (independently) from where the unmasked FSC falls below
     * randomise_below. */
    if ((st = masked_fsc(h1, h2, NULL, unmasked)) != GAR_OK || (st = masked_fsc(h1, h2, mask, masked)) != GAR_OK)
        goto done;
    from = ns;
    for (size_t i = 1; i < ns; i++)
        if (!(unmasked[i] >= randomise_below)) {
            from = i;
            break;
        }
    if (from < ns) {
        if ((st = gar_map_create(n, n, n, h1->pixel_size, &ra)) != GAR_OK ||
            (st = gar_map_create(n, n, n, h1->pixel_size, &rb)) != GAR_OK)
            goto done;
        memcpy(ra->data, h1->data, nvox * sizeof(float));
        memcpy(rb->data, h2->data, nvox * sizeof(float));
        if ((st = gar_map_randomise_phases(ra, from, seed)) != GAR_OK ||
            (st = gar_map_randomise_phases(rb, from, gar_mix64(seed + 1))) != GAR_OK ||
            (st = masked_fsc(ra, rb, mask, randomised)) != GAR_OK)
            goto done;
    } else {
        /* Above randomise_below everywhere: nothing to randomise. */
        for (size_t i = 0; i < ns; i++)
            randomised[i] = 0.0;
    }
    gar_fsc_correct_masked(masked, randomised, ns, from, corrected);
    *randomise_from = from;
done:
    gar_map_destroy(&ra);
    gar_map_destroy(&rb);
    return st;
}

gar_status gar_mask_check(const gar_map *m)
{
    size_t n = gar_map_voxels(m);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(m->data[i] >= -GAR_MASK_SLACK && m->data[i] <= 1 + GAR_MASK_SLACK))
            return gar_error(GAR_ERR_DATA, "voxel %zu is %g: expected a mask with values from 0 to 1", i, m->data[i]);
        sum += m->data[i];
    }
    if (!(sum > 0))
        return gar_error(GAR_ERR_DATA, "every voxel is 0: expected a mask around the particle");
    return GAR_OK;
}

gar_status gar_mask_from_halves(const gar_map *h1, const gar_map *h2, const gar_mask_settings *s, gar_map **out,
                                double *level_used)
{
    gar_status st;
    gar_map *avg = NULL;
    size_t nvox;
    *out = NULL;
    if (h2->nx != h1->nx || h2->ny != h1->ny || h2->nz != h1->nz)
        return gar_error(GAR_ERR_DATA, "half maps of two sizes: %zu x %zu x %zu and %zu x %zu x %zu", h1->nx, h1->ny,
                         h1->nz, h2->nx, h2->ny, h2->nz);
    if ((st = gar_map_create(h1->nx, h1->ny, h1->nz, h1->pixel_size, &avg)) != GAR_OK)
        return st;
    nvox = gar_map_voxels(h1);
    for (size_t i = 0; i < nvox; i++)
        avg->data[i] = 0.5f * (h1->data[i] + h2->data[i]);
    st = gar_mask_from_map(avg, s, out, level_used);
    gar_map_destroy(&avg);
    return st;
}

/* ln of the mean amplitude per shell of `map`'s transform, NaN where a
 * shell is empty or zero. */
static gar_status guinier_curve(const gar_map *map, double *ln_amp)
{
    gar_status st;
    size_t n = map->nx, h = n / 2 + 1, nshell = n / 2 + 1;
    float *buf = NULL, *f = NULL;
    double *sum = NULL, *cnt = NULL;
    if ((st = gar_alloc((void **)&buf, gar_map_voxels(map), sizeof(float), "Guinier buffer")) != GAR_OK ||
        (st = gar_alloc((void **)&f, n * n * h, 2 * sizeof(float), "Guinier buffer")) != GAR_OK ||
        (st = gar_calloc((void **)&sum, nshell, sizeof(double), "Guinier sums")) != GAR_OK ||
        (st = gar_calloc((void **)&cnt, nshell, sizeof(double), "Guinier sums")) != GAR_OK)
        goto done;
    memcpy(buf, map->data, gar_map_voxels(map) * sizeof(float));
    if ((st = gar_fft3_r2c(n, buf, f)) != GAR_OK)
        goto done;
    for (size_t z = 0; z < n; z++) {
        long kz = gar_fft_freq(z, n);
        for (size_t y = 0; y < n; y++) {
            long ky = gar_fft_freq(y, n);
            for (size_t x = 0; x < h; x++) {
                size_t s = (size_t)(sqrt((double)(x * x) + (double)(ky * ky) + (double)(kz * kz)) + 0.5);
                const float *p = f + 2 * ((z * n + y) * h + x);
                double w = x == 0 ? 1.0 : 2.0;
                if (s >= nshell)
                    continue;
                sum[s] += w * hypot(p[0], p[1]);
                cnt[s] += w;
            }
        }
    }
    for (size_t s = 0; s < nshell; s++)
        ln_amp[s] = cnt[s] > 0 && sum[s] > 0 ? log(sum[s] / cnt[s]) : NAN;
done:
    free(buf);
    free(f);
    free(sum);
    free(cnt);
    return st;
}

/* The sharpening filter of one frequency |k|: FSC weight of its shell
 * sqrt(2 FSC / (1 + FSC)) (0 where FSC <= 0 and beyond Nyquist), the
 * B-factor undone, exp(B s² / 4), and the cosine low-pass at the resolution. */
typedef struct sharpen_filter {
    const double *fsc;
    size_t n_shells;
    double inv_box_A;   /* 1 / (N p): 1/Å per Fourier voxel */
    double bfactor;
    int weight;         /* apply the FSC weight (0: only B and low-pass) */
    cosine_lowpass lp;
} sharpen_filter;

static double fsc_weight(double fsc) { return fsc > 0 ? sqrt(2.0 * fsc / (1.0 + fsc)) : 0.0; }

static double sharpen_gain(double k, void *ctx)
{
    const sharpen_filter *f = ctx;
    size_t s = (size_t)(k + 0.5);
    double freq = k * f->inv_box_A, g;
    if (s >= f->n_shells)
        return 0.0;
    g = f->weight ? fsc_weight(f->fsc[s]) : 1.0;
    return g * exp(0.25 * f->bfactor * freq * freq) * cosine_lowpass_gain(k, (void *)&f->lp);
}

/* What a Guinier plot is made of: `src` times the mask, or unmasked with
 * guinier_unmasked. */
static void guinier_input(const gar_map *src, const gar_map *mask, int unmasked, gar_map *out)
{
    const size_t nvox = gar_map_voxels(src);
    for (size_t i = 0; i < nvox; i++)
        out->data[i] = src->data[i] * (unmasked ? 1.0f : mask->data[i]);
}

/* The line through a Guinier curve over the fit's range; the points used. */
static size_t guinier_fit(const gar_postprocess_result *r, const double *ln, double *slope, double *icpt,
                          double *corr)
{
    return gar_line_fit(r->guinier_x, ln, r->n_shells, 1.0 / (r->fit_from_A * r->fit_from_A),
                        1.0 / (r->fit_to_A * r->fit_to_A), slope, icpt, corr);
}

void gar_postprocess_result_destroy(gar_postprocess_result **r)
{
    if (r == NULL || *r == NULL)
        return;
    free((*r)->fsc_unmasked);
    free((*r)->fsc_masked);
    free((*r)->fsc_randomised);
    free((*r)->fsc_corrected);
    free((*r)->guinier_x);
    free((*r)->guinier_ln);
    free((*r)->guinier_ln_weighted);
    free((*r)->guinier_ln_sharpened);
    free((*r)->guinier_ln_reference);
    gar_map_destroy(&(*r)->average);
    gar_map_destroy(&(*r)->sharpened);
    free(*r);
    *r = NULL;
}

gar_status gar_postprocess(const gar_map *half1, const gar_map *half2, const gar_map *mask, double pixel_A,
                           const gar_postprocess_settings *s, gar_postprocess_result **out)
{
    gar_status st;
    gar_postprocess_result *r = NULL;
    gar_map *weighted = NULL;
    size_t n = half1->nx, nvox, ns, m;
    double slope, icpt, corr;
    sharpen_filter sf;

    *out = NULL;
    if ((st = check_cube(half1, "half map 1")) != GAR_OK)
        return st;
    if (half2->nx != n || half2->ny != n || half2->nz != n || mask->nx != n || mask->ny != n || mask->nz != n)
        return gar_error(GAR_ERR_DATA, "half maps and mask must be one size: %zu³, %zu x %zu x %zu and "
                         "%zu x %zu x %zu", n, half2->nx, half2->ny, half2->nz, mask->nx, mask->ny, mask->nz);
    if (s->reference != NULL && (s->reference->nx != n || s->reference->ny != n || s->reference->nz != n))
        return gar_error(GAR_ERR_DATA, "the reference map is %zu x %zu x %zu and the half maps %zu³: expected one "
                         "size", s->reference->nx, s->reference->ny, s->reference->nz, n);
    if (!(pixel_A > 0))
        return gar_error(GAR_ERR_USAGE, "post-processing needs a pixel size > 0, got %g Å", pixel_A);
    nvox = n * n * n;
    ns = n / 2 + 1;
    if ((st = gar_calloc((void **)&r, 1, sizeof *r, "post-processing result")) != GAR_OK)
        return st;
    r->box = n;
    r->n_shells = ns;
    r->pixel_A = pixel_A;
    if ((st = gar_alloc((void **)&r->fsc_unmasked, ns, sizeof(double), "FSC")) != GAR_OK ||
        (st = gar_alloc((void **)&r->fsc_masked, ns, sizeof(double), "FSC")) != GAR_OK ||
        (st = gar_alloc((void **)&r->fsc_randomised, ns, sizeof(double), "FSC")) != GAR_OK ||
        (st = gar_alloc((void **)&r->fsc_corrected, ns, sizeof(double), "FSC")) != GAR_OK ||
        (st = gar_alloc((void **)&r->guinier_x, ns, sizeof(double), "Guinier plot")) != GAR_OK ||
        (st = gar_alloc((void **)&r->guinier_ln, ns, sizeof(double), "Guinier plot")) != GAR_OK ||
        (st = gar_alloc((void **)&r->guinier_ln_weighted, ns, sizeof(double), "Guinier plot")) != GAR_OK ||
        (st = gar_alloc((void **)&r->guinier_ln_sharpened, ns, sizeof(double), "Guinier plot")) != GAR_OK ||
        (st = gar_alloc((void **)&r->guinier_ln_reference, ns, sizeof(double), "Guinier plot")) != GAR_OK)
        goto done;
    for (size_t i = 0; i < ns; i++)
        r->guinier_ln_reference[i] = NAN;
    r->bfactor_reference = r->reference_fit_r = NAN;

    if ((st = gar_fsc_solvent_corrected(half1, half2, mask, s->randomise_below, s->seed, r->fsc_unmasked,
                                         r->fsc_masked, r->fsc_randomised, r->fsc_corrected, &r->randomise_from)) !=
        GAR_OK)
        goto done;
    r->resolution_A = gar_fsc_find_resolution(r->fsc_corrected, ns, n, pixel_A, 0.143, &r->crossing);
    r->resolution_unmasked_A = gar_fsc_resolution(r->fsc_unmasked, ns, n, pixel_A, 0.143);
    r->resolution_masked_A = gar_fsc_resolution(r->fsc_masked, ns, n, pixel_A, 0.143);

    /* The average map, its Guinier plot before and after FSC weighting. */
    if ((st = gar_map_create(n, n, n, pixel_A, &r->average)) != GAR_OK ||
        (st = gar_map_create(n, n, n, pixel_A, &weighted)) != GAR_OK)
        goto done;
    /* The Guinier plot is of the masked average: the FSC weight is the
     * masked (corrected) FSC's, so the amplitudes it weighs must be those
     * of the same masked map; the unmasked map's amplitudes hold all the
     * solvent's noise besides, which flattens the plot at high resolution
     * and lowers the fitted B (docs/ARCHITECTURE.md, "Post-processing"). */
    for (size_t i = 0; i < nvox; i++)
        r->average->data[i] = 0.5f * (half1->data[i] + half2->data[i]);
    guinier_input(r->average, mask, s->guinier_unmasked, weighted);
    sf.fsc = r->fsc_corrected;
    sf.n_shells = ns;
    sf.inv_box_A = 1.0 / ((double)n * pixel_A);
    sf.bfactor = 0.0;
    sf.weight = 1;
    sf.lp.k0 = 1e30;   /* no low-pass: the plot goes to Nyquist */
    sf.lp.w = 1.0;
    for (size_t i = 0; i < ns; i++) {
        double f = (double)i * sf.inv_box_A;
        r->guinier_x[i] = f * f;
    }
    if ((st = guinier_curve(weighted, r->guinier_ln)) != GAR_OK ||
        (st = gar_map_filter_radial(weighted, sharpen_gain, &sf)) != GAR_OK ||
        (st = guinier_curve(weighted, r->guinier_ln_weighted)) != GAR_OK)
        goto done;

    /* The B-factor: ln|F| = a − (B / 4) s² over the fit's range. */
    r->fit_from_A = s->fit_from_A;
    r->fit_to_A = s->fit_to_A > 0 ? s->fit_to_A : r->resolution_A;
    m = guinier_fit(r, r->guinier_ln_weighted, &slope, &icpt, &corr);
    r->fit_points = m >= 3 && isfinite(slope) ? m : 0;
    r->bfactor_fitted = r->fit_points ? -4.0 * slope : NAN;
    r->fit_intercept = r->fit_points ? icpt : NAN;
    r->fit_r = r->fit_points ? corr : NAN;
    if (isnan(s->bfactor) && r->fit_points == 0 && !s->unfitted_unsharpened) {
        st = gar_error(GAR_ERR_DATA, "B-factor fit from %.3g to %.3g Å: %zu shells in that range, expected 3 or more "
                       "(the map's resolution is %.3g Å); give --bfactor B, or a range",
                       r->fit_from_A, r->fit_to_A, m, r->resolution_A);
        goto done;
    }
    /* The reference's fall-off over the same range, masked alike; it has
     * no noise, so no FSC weight. */
    if (s->reference != NULL && r->fit_points) {
        size_t mr;
        guinier_input(s->reference, mask, s->guinier_unmasked, weighted);
        if ((st = guinier_curve(weighted, r->guinier_ln_reference)) != GAR_OK)
            goto done;
        mr = guinier_fit(r, r->guinier_ln_reference, &slope, &icpt, &corr);
        if (mr < 3 || !isfinite(slope)) {
            st = gar_error(GAR_ERR_DATA, "the reference map: %zu shells with amplitude from %.3g to %.3g Å, expected "
                           "3 or more (is it empty, or low-passed below the map's resolution?)", mr, r->fit_from_A,
                           r->fit_to_A);
            goto done;
        }
        r->bfactor_reference = -4.0 * slope;
        r->reference_fit_r = corr;
    }
    r->bfactor_applied = !isnan(s->bfactor)           ? s->bfactor
                         : r->fit_points == 0          ? 0.0
                         : s->reference != NULL        ? r->bfactor_fitted - r->bfactor_reference
                                                       : r->bfactor_fitted;

    /* The sharpened map: FSC-weighted, B undone, low-passed at the resolution. */
    if ((st = gar_map_create(n, n, n, pixel_A, &r->sharpened)) != GAR_OK)
        goto done;
    memcpy(r->sharpened->data, r->average->data, nvox * sizeof(float));
    sf.bfactor = r->bfactor_applied;
    sf.lp.k0 = (double)n * pixel_A / r->resolution_A;
    sf.lp.w = s->lowpass_edge;
    if ((st = gar_map_filter_radial(r->sharpened, sharpen_gain, &sf)) != GAR_OK)
        goto done;
    guinier_input(r->sharpened, mask, s->guinier_unmasked, weighted);
    if ((st = guinier_curve(weighted, r->guinier_ln_sharpened)) != GAR_OK)
        goto done;
    *out = r;
    r = NULL;
done:
    gar_map_destroy(&weighted);
    gar_postprocess_result_destroy(&r);
    return st;
}
