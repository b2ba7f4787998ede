#include "gar_simulate.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gar_fft.h"
#include "gar_geometry.h"
#include "gar_kernels.h"
#include "gar_project.h"
#include "gar_rng.h"

/* Separate random streams for the metadata and the noise of one particle, so
 * switching noise off leaves poses unchanged. */
#define STREAM_META(i) (2 * (uint64_t)(i))
#define STREAM_NOISE(i) (2 * (uint64_t)(i) + 1)
/* The realism draws (junk, contrast, ramp, junk pose): stream ids from 2^63
 * up, which the two above reach only at indices >= 2^62 (no stack has that
 * many particles), so adding them changed no existing stream. */
#define STREAM_TRUTH(i) ((UINT64_C(1) << 63) | (uint64_t)(i))

/* The "ice" model: S(s) = 1 + ICE_EXCESS exp(−(s / ICE_S0)²). */
#define ICE_EXCESS 6.0
#define ICE_S0 (1.0 / 40.0)
/* A spectrum file larger than this is refused (a FIFO or device too). */
#define SPECTRUM_MAX_BYTES (1L << 20)

void gar_sim_config_default(gar_sim_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 1;
    cfg->snr = 1.0;
    cfg->apply_ctf = 1;
    cfg->defocus_min_A = 10000.0;
    cfg->defocus_max_A = 25000.0;
    cfg->astigmatism_A = 200.0;
    cfg->shift_sigma_A = 0.0;
    cfg->voltage_kV = 300.0;
    cfg->cs_mm = 2.7;
    cfg->amplitude_contrast = 0.1;
}

int gar_sim_realism(const gar_sim_config *cfg)
{
    return cfg->bfactor_A2 != 0 || cfg->noise_spectrum != NULL || cfg->ramp_sigma != 0 ||
           cfg->contrast_sigma != 0 || cfg->junk_fraction != 0;
}

/* ---- noise spectra ---- */

struct gar_sim_spectrum {
    int ice;          /* the built-in model; else the table */
    size_t n;
    double *freq, *power;
};

gar_status gar_sim_spectrum_ice(gar_sim_spectrum **out)
{
    gar_status st = gar_calloc((void **)out, 1, sizeof **out, "noise spectrum");
    if (st == GAR_OK)
        (*out)->ice = 1;
    return st;
}

void gar_sim_spectrum_destroy(gar_sim_spectrum **s)
{
    if (s == NULL || *s == NULL)
        return;
    free((*s)->freq);
    free((*s)->power);
    free(*s);
    *s = NULL;
}

double gar_sim_spectrum_eval(const gar_sim_spectrum *s, double f)
{
    size_t lo = 0, hi;
    if (s->ice)
        return 1.0 + ICE_EXCESS * exp(-(f / ICE_S0) * (f / ICE_S0));
    if (f <= s->freq[0])
        return s->power[0];
    if (f >= s->freq[s->n - 1])
        return s->power[s->n - 1];
    hi = s->n - 1;
    while (hi - lo > 1) {   /* freq[lo] < f < freq[hi] */
        size_t mid = lo + (hi - lo) / 2;
        if (s->freq[mid] <= f)
            lo = mid;
        else
            hi = mid;
    }
    return s->power[lo] + (s->power[hi] - s->power[lo]) * (f - s->freq[lo]) / (s->freq[hi] - s->freq[lo]);
}

/* Append (f, p) to the table, growing it. */
static gar_status spectrum_push(gar_sim_spectrum *s, size_t *cap, double f, double p)
{
    if (s->n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        double *nf = realloc(s->freq, c * sizeof *nf);
        if (nf == NULL)
            return gar_error(GAR_ERR_NOMEM, "noise spectrum: out of memory at %zu rows", s->n);
        s->freq = nf;
        double *np = realloc(s->power, c * sizeof *np);
        if (np == NULL)
            return gar_error(GAR_ERR_NOMEM, "noise spectrum: out of memory at %zu rows", s->n);
        s->power = np;
        *cap = c;
    }
    s->freq[s->n] = f;
    s->power[s->n] = p;
    s->n++;
    return GAR_OK;
}

/* One line: blank or a comment (*got = 0), or two numbers (*got = 1). */
static gar_status spectrum_line(const char *path, size_t lineno, char *line, double *f, double *p, int *got)
{
    char *hash = strchr(line, '#'), *end, *q = line;
    *got = 0;
    if (hash != NULL)
        *hash = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    while (*q == ' ' || *q == '\t')
        q++;
    if (*q == '\0')
        return GAR_OK;
    *f = strtod(q, &end);
    if (end == q)
        goto bad;
    q = end;
    *p = strtod(q, &end);
    if (end == q)
        goto bad;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end != '\0')
        goto bad;
    if (!isfinite(*f) || *f < 0)
        return gar_error(GAR_ERR_DATA, "%s: line %zu: frequency %g, expected a finite value >= 0 (1/Å)", path,
                         lineno, *f);
    if (!isfinite(*p) || !(*p > 0))
        return gar_error(GAR_ERR_DATA, "%s: line %zu: relative power %g, expected a finite value > 0", path,
                         lineno, *p);
    *got = 1;
    return GAR_OK;
bad:
    return gar_error(GAR_ERR_DATA, "%s: line %zu: expected two numbers 'frequency_1/Å relative_power', got '%s'",
                     path, lineno, line);
}

gar_status gar_sim_spectrum_read(const char *path, gar_sim_spectrum **out)
{
    gar_status st = GAR_OK;
    gar_sim_spectrum *s = NULL;
    FILE *fp = NULL;
    struct stat sb;
    int fd;
    char line[1024];
    size_t cap = 0, lineno = 0;
    *out = NULL;
    /* A FIFO would block the open and a device never end: opened without
     * blocking, only a regular file is read. */
    if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
        return gar_error(GAR_ERR_NOINPUT, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return gar_error(GAR_ERR_NOINPUT, "%s: not a regular file", path);
    }
    if ((fp = fdopen(fd, "r")) == NULL) {
        close(fd);
        return gar_error(GAR_ERR_NOINPUT, "%s: cannot open: %s", path, strerror(errno));
    }
    if (sb.st_size > SPECTRUM_MAX_BYTES) {
        st = gar_error(GAR_ERR_DATA, "%s: %lld bytes, more than the limit of %ld for a noise spectrum", path,
                       (long long)sb.st_size, SPECTRUM_MAX_BYTES);
        goto done;
    }
    if ((st = gar_calloc((void **)&s, 1, sizeof *s, "noise spectrum")) != GAR_OK)
        goto done;
    while (fgets(line, sizeof line, fp) != NULL) {
        double f, p;
        int got;
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(fp)) {
            st = gar_error(GAR_ERR_DATA, "%s: line %zu: longer than %zu characters", path, lineno,
                           sizeof line - 2);
            goto done;
        }
        if ((st = spectrum_line(path, lineno, line, &f, &p, &got)) != GAR_OK)
            goto done;
        if (!got)
            continue;
        if (s->n > 0 && !(f > s->freq[s->n - 1])) {
            st = gar_error(GAR_ERR_DATA, "%s: line %zu: frequency %g is not above the previous row's %g "
                           "(frequencies must increase)", path, lineno, f, s->freq[s->n - 1]);
            goto done;
        }
        if ((st = spectrum_push(s, &cap, f, p)) != GAR_OK)
            goto done;
    }
    if (ferror(fp)) {
        st = gar_error(GAR_ERR_IO, "%s: read error: %s", path, strerror(errno));
        goto done;
    }
    if (s->n < 2)
        st = gar_error(GAR_ERR_DATA, "%s: %zu row%s of 'frequency_1/Å relative_power', expected at least 2", path,
                       s->n, s->n == 1 ? "" : "s");
done:
    fclose(fp);
    if (st != GAR_OK)
        gar_sim_spectrum_destroy(&s);
    *out = s;
    return st;
}

/* ---- per-particle draws ---- */

void gar_sim_draw_truth(const gar_sim_config *cfg, size_t index, gar_sim_truth *t)
{
    gar_rng rng;
    double u_junk, u_kind, z;
    memset(t, 0, sizeof *t);
    gar_rng_init(&rng, cfg->seed, STREAM_TRUTH(index));
    /* Always the same draws in the same order, whichever settings are on. */
    u_junk = gar_rng_uniform(&rng);
    u_kind = gar_rng_uniform(&rng);
    z = gar_rng_normal(&rng);
    t->ramp_gx = gar_rng_normal(&rng);
    t->ramp_gy = gar_rng_normal(&rng);
    gar_random_pose(&rng, &t->junk_rot_deg, &t->junk_tilt_deg, &t->junk_psi_deg);
    t->junk = GAR_SIM_PARTICLE;
    if (u_junk < cfg->junk_fraction)
        t->junk = cfg->junk_map != NULL && u_kind < 0.5 ? GAR_SIM_JUNK_PROTEIN : GAR_SIM_JUNK_ICE;
    t->scale = t->junk == GAR_SIM_JUNK_ICE ? 0.0 : cfg->contrast_sigma > 0 ? exp(cfg->contrast_sigma * z) : 1.0;
}

void gar_sim_optics(const gar_sim_config *cfg, size_t box, gar_optics *optics)
{
    memset(optics, 0, sizeof *optics);
    optics->group = 1;
    strcpy(optics->name, "opticsGroup1");
    optics->pixel_size_A = cfg->pixel_size_A;
    optics->voltage_kV = cfg->voltage_kV;
    optics->cs_mm = cfg->cs_mm;
    optics->amplitude_contrast = cfg->amplitude_contrast;
    optics->image_size = (int32_t)box;
}

void gar_sim_draw(const gar_sim_config *cfg, size_t index, gar_particle *meta)
{
    gar_rng rng;
    memset(meta, 0, sizeof *meta);
    gar_rng_init(&rng, cfg->seed, STREAM_META(index));
    gar_random_pose(&rng, &meta->rot_deg, &meta->tilt_deg, &meta->psi_deg);
    meta->origin_x_A = cfg->shift_sigma_A * gar_rng_normal(&rng) + 0.0; /* no "-0" in listings */
    meta->origin_y_A = cfg->shift_sigma_A * gar_rng_normal(&rng) + 0.0;
    if (cfg->apply_ctf) {
        double d = cfg->defocus_min_A + (cfg->defocus_max_A - cfg->defocus_min_A) * gar_rng_uniform(&rng);
        double a = cfg->astigmatism_A * gar_rng_uniform(&rng);
        meta->defocus_u_A = d + a;
        meta->defocus_v_A = d - a;
        meta->defocus_angle_deg = 180.0 * gar_rng_uniform(&rng);
    }
    meta->half_set = (int32_t)(1 + index % 2);
    meta->optics_group = 1;
}

void gar_sim_solvent(gar_map *m)
{
    size_t n = m->nx, cnt = 0;
    double c = (double)(n / 2), rmax = 0.5 * (double)n - 1.0, bg = 0.0;
    for (size_t z = 0; z < n; z++)
        for (size_t y = 0; y < n; y++)
            for (size_t x = 0; x < n; x++) {
                double r2 = (x - c) * (x - c) + (y - c) * (y - c) + (z - c) * (z - c);
                if (r2 > rmax * rmax) {
                    bg += m->data[(z * n + y) * n + x];
                    cnt++;
                }
            }
    bg = cnt ? bg / cnt : 0.0;
    for (size_t z = 0; z < n; z++)
        for (size_t y = 0; y < n; y++)
            for (size_t x = 0; x < n; x++) {
                double r2 = (x - c) * (x - c) + (y - c) * (y - c) + (z - c) * (z - c);
                float *v = &m->data[(z * n + y) * n + x];
                *v = r2 > rmax * rmax ? 0.0f : (float)(*v - bg);
            }
}

/* The map in solvent, band-limited to the Nyquist sphere and, with
 * prefilter, divided by the trilinear attenuation (see gar_simulate.h). */
static gar_status solvent_filtered(const gar_map *in, int prefilter, gar_map **out)
{
    gar_status st;
    gar_map *m = NULL;
    float *spec = NULL;
    size_t n = in->nx, h = n / 2 + 1;
    *out = NULL;
    if (in->ny != n || in->nz != n || n < 4 || n % 2)
        return gar_error(GAR_ERR_DATA, "simulation needs a cubic map with an even edge, got %zu x %zu x %zu",
                         in->nx, in->ny, in->nz);
    if ((st = gar_map_create(n, n, n, in->pixel_size, &m)) != GAR_OK)
        return st;
    memcpy(m->data, in->data, n * n * n * sizeof(float));
    gar_sim_solvent(m);
    if ((st = gar_alloc((void **)&spec, n * n * h, 2 * sizeof(float), "map spectrum")) != GAR_OK ||
        (st = gar_fft3_r2c(n, m->data, spec)) != GAR_OK)
        goto fail;
    for (size_t z = 0; z < n; z++)
        for (size_t y = 0; y < n; y++)
            for (size_t x = 0; x < h; x++) {
                long k[3] = {(long)x, gar_fft_freq(y, n), gar_fft_freq(z, n)};
                double g = 1.0 / ((double)n * n * n), r2 = 0;
                for (int a = 0; a < 3; a++) {
                    double t = GAR_PI * k[a] / n, s = t == 0 ? 1.0 : sin(t) / t;
                    if (prefilter)
                        g /= s * s;
                    r2 += (double)k[a] * k[a];
                }
                /* Beyond Nyquist the gain would amplify aliasing: band-limit. */
                if (r2 > 0.25 * n * n)
                    g = 0.0;
                float *c = spec + 2 * ((z * n + y) * h + x);
                c[0] = (float)(c[0] * g);
                c[1] = (float)(c[1] * g);
            }
    if ((st = gar_fft3_c2r(n, spec, m->data)) != GAR_OK)
        goto fail;
    free(spec);
    *out = m;
    return GAR_OK;
fail:
    free(spec);
    gar_map_destroy(&m);
    return st;
}

gar_status gar_sim_prepare_map(const gar_map *in, gar_map **out) { return solvent_filtered(in, 1, out); }

gar_status gar_sim_true_map(const gar_map *in, gar_map **out) { return solvent_filtered(in, 0, out); }

struct gar_sim_worker {
    size_t box;
    gar_fft2 *fft;
    gar_fft2 *canvas;   /* the CTF's canvas (gar_sim_canvas), made on first use */
    size_t canvas_n;
};

size_t gar_sim_canvas(const gar_sim_config *cfg, size_t box)
{
    double lambda, kmax, df, reach;
    if (!cfg->apply_ctf || !cfg->ctf_canvas || !(cfg->pixel_size_A > 0))
        return box;
    /* The point-spread function of χ = πλΔf k² − π/2 Cs λ³ k⁴ moves a
     * frequency k by |dχ/dk| / 2π = |λΔf k − Cs λ³ k³| Å; bounded over the
     * box's frequencies (to its corners) at the largest defocus. */
    lambda = gar_electron_wavelength(cfg->voltage_kV * 1e3);
    kmax = sqrt(2.0) / (2.0 * cfg->pixel_size_A);
    df = cfg->defocus_max_A + cfg->astigmatism_A;
    reach = (lambda * fabs(df) * kmax + cfg->cs_mm * 1e7 * lambda * lambda * lambda * kmax * kmax * kmax) /
            cfg->pixel_size_A;
    /* Signal moved by up to `reach` pixels from the particle (within the
     * box) wraps round the canvas to at least canvas − box/2 − reach
     * pixels from the centre: outside the box when canvas >= box + reach. */
    return gar_fft_good_size(box + (size_t)ceil(reach) + 2);
}

gar_status gar_sim_worker_create(size_t box, gar_sim_worker **out)
{
    gar_sim_worker *w = NULL;
    gar_status st = gar_calloc((void **)&w, 1, sizeof *w, "simulation worker");
    *out = NULL;
    if (st != GAR_OK)
        return st;
    w->box = box;
    st = gar_fft2_create(box, &w->fft);
    if (st != GAR_OK) {
        free(w);
        return st;
    }
    *out = w;
    return GAR_OK;
}

void gar_sim_worker_destroy(gar_sim_worker **w)
{
    if (w == NULL || *w == NULL)
        return;
    gar_fft2_destroy(&(*w)->fft);
    gar_fft2_destroy(&(*w)->canvas);
    free(*w);
    *w = NULL;
}

/* Multiply the half transform by the CTF (and the B-factor envelope
 * exp(−B s²/4), when B != 0) and by the phase ramp that moves the image by
 * (dx, dy) pixels, then normalise the round trip. */
static void apply_ctf_and_shift(float *c, size_t n, const gar_ctf *ctf, double bfactor, double pixel_size,
                                double dx, double dy)
{
    size_t hx = n / 2 + 1;
    double inv_n = 1.0 / (double)n, norm = 1.0 / ((double)n * (double)n);
    double b_s2 = bfactor / 4.0 * (inv_n / pixel_size) * (inv_n / pixel_size);   /* per k² */
    for (size_t j = 0; j < n; j++) {
        long ky = gar_fft_freq(j, n);
        for (size_t i = 0; i < hx; i++) {
            long kx = (long)i;
            float *z = c + 2 * (j * hx + i);
            double gain = norm;
            if (ctf != NULL)
                gain *= gar_ctf_eval(ctf, (float)(kx * inv_n / pixel_size),
                                     (float)(ky * inv_n / pixel_size));
            if (bfactor != 0)
                gain *= exp(-b_s2 * (double)(kx * kx + ky * ky));
            double ph = -2.0 * GAR_PI * (kx * dx + ky * dy) * inv_n;
            double cr = cos(ph) * gain, ci = sin(ph) * gain;
            double re = z[0], im = z[1];
            z[0] = (float)(re * cr - im * ci);
            z[1] = (float)(re * ci + im * cr);
        }
    }
}

/* The noise-free projection of `map` at (rot, tilt, psi) with meta's shift
 * and CTF, into the worker's real buffer. */
static gar_status render_signal(gar_sim_worker *w, const gar_map *map, const gar_sim_config *cfg,
                                const gar_particle *meta, double rot, double tilt, double psi)
{
    size_t n = w->box;
    double A[9];
    gar_status st;
    gar_ctf ctf;
    if (map->nx != n)
        return gar_error(GAR_ERR_INTERNAL, "simulation worker for box %zu given a %zu map", n, map->nx);
    size_t cn = gar_sim_canvas(cfg, n);
    gar_fft2 *f = w->fft;
    float *real = gar_fft2_real(w->fft);
    gar_euler_to_matrix(rot, tilt, psi, A);
    st = gar_project_real(map, A, real);
    if (st != GAR_OK)
        return st;
    if (cn > n) {
        /* The projection in the middle of a canvas large enough that the
         * CTF's spread leaves the box rather than wrapping into it: what a
         * micrograph holds and particle picking cuts out. */
        if (w->canvas_n != cn) {
            gar_fft2_destroy(&w->canvas);
            w->canvas_n = 0;
            if ((st = gar_fft2_create(cn, &w->canvas)) != GAR_OK)
                return st;
            w->canvas_n = cn;
        }
        f = w->canvas;
        float *cr = gar_fft2_real(f);
        const size_t off = cn / 2 - n / 2;
        memset(cr, 0, cn * cn * sizeof(float));
        for (size_t y = 0; y < n; y++)
            memcpy(cr + (y + off) * cn + off, real + y * n, n * sizeof(float));
    }
    gar_fft2_forward(f);
    if (cfg->apply_ctf)
        ctf = gar_ctf_prepare(meta->defocus_u_A, meta->defocus_v_A, meta->defocus_angle_deg,
                              cfg->voltage_kV, cfg->cs_mm, cfg->amplitude_contrast,
                              meta->phase_shift_deg);
    /* The image holds the projection moved by −origin (RELION 3.1). */
    apply_ctf_and_shift(gar_fft2_complex(f), cn, cfg->apply_ctf ? &ctf : NULL, cfg->bfactor_A2,
                        cfg->pixel_size_A, -meta->origin_x_A / cfg->pixel_size_A,
                        -meta->origin_y_A / cfg->pixel_size_A);
    gar_fft2_inverse(f);
    if (cn > n) {
        const float *cr = gar_fft2_real(f);
        const size_t off = cn / 2 - n / 2;
        for (size_t y = 0; y < n; y++)
            memcpy(real + y * n, cr + (y + off) * cn + off, n * sizeof(float));
    }
    return GAR_OK;
}

/* Variance over the box of n² values (about their mean). */
static double box_variance(const float *v, size_t npix)
{
    double mean = 0.0, var = 0.0;
    for (size_t k = 0; k < npix; k++)
        mean += v[k];
    mean /= (double)npix;
    for (size_t k = 0; k < npix; k++)
        var += (v[k] - mean) * (v[k] - mean);
    return var / (double)npix;
}

/* σ · coloured noise of particle `index` added to image: white Gaussian noise
 * (the noise stream, as for white noise), its transform times
 * sqrt(S(s) / mean S) where the mean is over all N² frequencies of the box, so
 * the expected mean square over the box stays σ². */
static void add_coloured_noise(gar_sim_worker *w, const gar_sim_config *cfg, size_t index, double sigma,
                               float *image)
{
    size_t n = w->box, hx = n / 2 + 1, npix = n * n;
    float *real = gar_fft2_real(w->fft), *c;
    double mean_s = 0.0, inv_len = 1.0 / ((double)n * cfg->pixel_size_A), norm;
    gar_rng rng;
    gar_rng_init(&rng, cfg->seed, STREAM_NOISE(index));
    for (size_t k = 0; k < npix; k++)
        real[k] = (float)gar_rng_normal(&rng);
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < n; i++) {
            long kx = gar_fft_freq(i, n), ky = gar_fft_freq(j, n);
            mean_s += gar_sim_spectrum_eval(cfg->noise_spectrum, inv_len * sqrt((double)(kx * kx + ky * ky)));
        }
    mean_s /= (double)npix;
    norm = 1.0 / ((double)npix * sqrt(mean_s));   /* the FFT round trip and the mean */
    gar_fft2_forward(w->fft);
    c = gar_fft2_complex(w->fft);
    for (size_t j = 0; j < n; j++) {
        long ky = gar_fft_freq(j, n);
        for (size_t i = 0; i < hx; i++) {
            long kx = (long)i;
            double g = norm * sqrt(gar_sim_spectrum_eval(cfg->noise_spectrum,
                                                         inv_len * sqrt((double)(kx * kx + ky * ky))));
            float *z = c + 2 * (j * hx + i);
            z[0] = (float)(z[0] * g);
            z[1] = (float)(z[1] * g);
        }
    }
    gar_fft2_inverse(w->fft);
    for (size_t k = 0; k < npix; k++)
        image[k] = (float)(image[k] + sigma * real[k]);
}

/* The realism path (gar_sim_realism): see gar_simulate.h. */
static gar_status render_real(gar_sim_worker *w, const gar_map *map, const gar_sim_config *cfg, size_t index,
                              const gar_particle *meta, float *image, float *clean)
{
    size_t n = w->box, npix = n * n;
    float *real = gar_fft2_real(w->fft);
    gar_sim_truth t;
    gar_status st = GAR_OK;
    double sigma = 0.0;
    gar_sim_draw_truth(cfg, index, &t);
    if (t.junk == GAR_SIM_JUNK_ICE) {
        memset(image, 0, npix * sizeof(float));
    } else {
        if (t.junk == GAR_SIM_JUNK_PROTEIN)
            st = render_signal(w, cfg->junk_map, cfg, meta, t.junk_rot_deg, t.junk_tilt_deg, t.junk_psi_deg);
        else
            st = render_signal(w, map, cfg, meta, meta->rot_deg, meta->tilt_deg, meta->psi_deg);
        if (st != GAR_OK)
            return st;
        for (size_t k = 0; k < npix; k++)
            image[k] = (float)(t.scale * real[k]);
    }
    if (clean != NULL)
        memcpy(clean, image, npix * sizeof(float));
    if (cfg->noise_sigma > 0)
        sigma = cfg->noise_sigma;
    else if (cfg->snr > 0 && isfinite(cfg->snr))
        sigma = sqrt(box_variance(image, npix) / cfg->snr);
    if (sigma > 0) {
        if (cfg->noise_spectrum != NULL) {
            add_coloured_noise(w, cfg, index, sigma, image);
        } else {
            gar_rng rng;
            gar_rng_init(&rng, cfg->seed, STREAM_NOISE(index));
            for (size_t k = 0; k < npix; k++)
                image[k] = (float)(image[k] + sigma * gar_rng_normal(&rng));
        }
    }
    if (sigma > 0 && cfg->ramp_sigma > 0) {
        double half = 0.5 * (double)n, a = sigma * cfg->ramp_sigma / half;
        for (size_t y = 0; y < n; y++)
            for (size_t x = 0; x < n; x++)
                image[y * n + x] = (float)(image[y * n + x] + a * (t.ramp_gx * ((double)x - half) +
                                                                  t.ramp_gy * ((double)y - half)));
    }
    return GAR_OK;
}

gar_status gar_sim_render(gar_sim_worker *w, const gar_map *map, const gar_sim_config *cfg,
                          size_t index, const gar_particle *meta, float *image, float *clean)
{
    size_t n = w->box, npix = n * n;
    float *real = gar_fft2_real(w->fft);
    gar_status st;
    if (gar_sim_realism(cfg))
        return render_real(w, map, cfg, index, meta, image, clean);
    /* Without realism: the rule of the first garner simulate, bit for bit. */
    st = render_signal(w, map, cfg, meta, meta->rot_deg, meta->tilt_deg, meta->psi_deg);
    if (st != GAR_OK)
        return st;
    if (clean != NULL)
        memcpy(clean, real, npix * sizeof(float));
    if (cfg->snr > 0 && isfinite(cfg->snr)) {
        double sigma = sqrt(box_variance(real, npix) / cfg->snr);
        gar_rng rng;
        gar_rng_init(&rng, cfg->seed, STREAM_NOISE(index));
        for (size_t k = 0; k < npix; k++)
            image[k] = (float)(real[k] + sigma * gar_rng_normal(&rng));
    } else {
        memcpy(image, real, npix * sizeof(float));
    }
    return GAR_OK;
}

gar_status gar_sim_stack_sigma(gar_sim_worker *w, const gar_map *map, const gar_sim_config *cfg, double *sigma)
{
    size_t npix = w->box * w->box;
    double sum = 0.0;
    *sigma = 0.0;
    if (!(cfg->snr > 0 && isfinite(cfg->snr)))
        return GAR_OK;
    for (size_t i = 0; i < GAR_SIM_SIGMA_REF; i++) {
        gar_particle meta;
        gar_status st;
        gar_sim_draw(cfg, i, &meta);
        st = render_signal(w, map, cfg, &meta, meta.rot_deg, meta.tilt_deg, meta.psi_deg);
        if (st != GAR_OK)
            return st;
        sum += box_variance(gar_fft2_real(w->fft), npix);
    }
    *sigma = sqrt(sum / GAR_SIM_SIGMA_REF / cfg->snr);
    return GAR_OK;
}
