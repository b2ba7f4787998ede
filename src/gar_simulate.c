#include "gar_simulate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gar_fft.h"
#include "gar_geometry.h"
#include "gar_kernels.h"
#include "gar_project.h"
#include "gar_rng.h"

/* Separate random streams for the metadata and the noise of one particle, so
 * switching noise off leaves poses unchanged. */
#define STREAM_META(i) (2 * (uint64_t)(i))
#define STREAM_NOISE(i) (2 * (uint64_t)(i) + 1)

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

gar_status gar_sim_truth(const gar_map *in, gar_map **out) { return solvent_filtered(in, 0, out); }

struct gar_sim_worker {
    size_t box;
    gar_fft2 *fft;
    gar_fft2 *canvas;   /* the CTF's canvas (gar_sim_canvas), made on first use */
    size_t canvas_n;
};

size_t gar_sim_canvas(const gar_sim_config *cfg, size_t box)
{
    double lambda, kmax, df, reach;
    if (!cfg->apply_ctf || cfg->ctf_wrap || !(cfg->pixel_size_A > 0))
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

/* Multiply the half transform by the CTF and by the phase ramp that moves the
 * image by (dx, dy) pixels, then normalise the round trip. */
static void apply_ctf_and_shift(float *c, size_t n, const gar_ctf *ctf, double pixel_size,
                                double dx, double dy)
{
    size_t hx = n / 2 + 1;
    double inv_n = 1.0 / (double)n, norm = 1.0 / ((double)n * (double)n);
    for (size_t j = 0; j < n; j++) {
        long ky = gar_fft_freq(j, n);
        for (size_t i = 0; i < hx; i++) {
            long kx = (long)i;
            float *z = c + 2 * (j * hx + i);
            double gain = norm;
            if (ctf != NULL)
                gain *= gar_ctf_eval(ctf, (float)(kx * inv_n / pixel_size),
                                     (float)(ky * inv_n / pixel_size));
            double ph = -2.0 * GAR_PI * (kx * dx + ky * dy) * inv_n;
            double cr = cos(ph) * gain, ci = sin(ph) * gain;
            double re = z[0], im = z[1];
            z[0] = (float)(re * cr - im * ci);
            z[1] = (float)(re * ci + im * cr);
        }
    }
}

gar_status gar_sim_render(gar_sim_worker *w, const gar_map *map, const gar_sim_config *cfg,
                          size_t index, const gar_particle *meta, float *image, float *clean)
{
    size_t n = w->box, npix = n * n;
    double A[9];
    float *real = gar_fft2_real(w->fft);
    gar_status st;
    gar_ctf ctf;
    if (map->nx != n)
        return gar_error(GAR_ERR_INTERNAL, "simulation worker for box %zu given a %zu map", n, map->nx);
    size_t cn = gar_sim_canvas(cfg, n);
    gar_fft2 *f = w->fft;
    gar_euler_to_matrix(meta->rot_deg, meta->tilt_deg, meta->psi_deg, A);
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
    apply_ctf_and_shift(gar_fft2_complex(f), cn, cfg->apply_ctf ? &ctf : NULL,
                        cfg->pixel_size_A, -meta->origin_x_A / cfg->pixel_size_A,
                        -meta->origin_y_A / cfg->pixel_size_A);
    gar_fft2_inverse(f);
    if (cn > n) {
        const float *cr = gar_fft2_real(f);
        const size_t off = cn / 2 - n / 2;
        for (size_t y = 0; y < n; y++)
            memcpy(real + y * n, cr + (y + off) * cn + off, n * sizeof(float));
    }
    if (clean != NULL)
        memcpy(clean, real, npix * sizeof(float));
    if (cfg->snr > 0 && isfinite(cfg->snr)) {
        double mean = 0.0, var = 0.0, sigma;
        gar_rng rng;
        for (size_t k = 0; k < npix; k++)
            mean += real[k];
        mean /= (double)npix;
        for (size_t k = 0; k < npix; k++)
            var += (real[k] - mean) * (real[k] - mean);
        var /= (double)npix;
        sigma = sqrt(var / cfg->snr);
        gar_rng_init(&rng, cfg->seed, STREAM_NOISE(index));
        for (size_t k = 0; k < npix; k++)
            image[k] = (float)(real[k] + sigma * gar_rng_normal(&rng));
    } else {
        memcpy(image, real, npix * sizeof(float));
    }
    return GAR_OK;
}
