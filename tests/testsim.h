/* Shared by the Check tests that need simulated particles in memory. */
#ifndef GAR_TESTSIM_H
#define GAR_TESTSIM_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "gar_map.h"
#include "gar_particle.h"
#include "gar_recon.h"
#include "gar_search.h"
#include "gar_simulate.h"

/* Particles simulated from a map (prepared for the simulator) into arrays. */
typedef struct sim_set {
    size_t n, box;
    float *images;
    gar_particle *meta;
    gar_optics optics;
} sim_set;

/* The simulator's defaults for a map, with the given noise, CTF, shifts and seed. */
static inline gar_sim_config sim_config(const gar_map *raw, double snr, int ctf, double shift_sigma, uint64_t seed)
{
    gar_sim_config cfg;
    gar_sim_config_default(&cfg);
    cfg.pixel_size_A = raw->pixel_size > 0 ? raw->pixel_size : 3.0;
    cfg.snr = snr;
    cfg.apply_ctf = ctf;
    cfg.shift_sigma_A = shift_sigma;
    cfg.seed = seed;
    return cfg;
}

static inline void simulate_with(const gar_map *raw, size_t n, const gar_sim_config *config, sim_set *out)
{
    gar_map *m = NULL;
    gar_sim_worker *w = NULL;
    gar_sim_config cfg = *config;
    size_t box = raw->nx;
    ck_assert_int_eq(gar_sim_prepare_map(raw, &m), GAR_OK);
    ck_assert_int_eq(gar_sim_worker_create(box, &w), GAR_OK);
    out->n = n;
    out->box = box;
    out->images = malloc(sizeof(float) * n * box * box);
    out->meta = malloc(sizeof(gar_particle) * n);
    for (size_t i = 0; i < n; i++) {
        gar_sim_draw(&cfg, i, &out->meta[i]);
        ck_assert_int_eq(gar_sim_render(w, m, &cfg, i, &out->meta[i], out->images + i * box * box, NULL), GAR_OK);
    }
    gar_sim_optics(&cfg, box, &out->optics);
    gar_sim_worker_destroy(&w);
    gar_map_destroy(&m);
}

static inline void simulate(const gar_map *raw, size_t n, double snr, int ctf, double shift_sigma, uint64_t seed,
                            sim_set *out)
{
    gar_sim_config cfg = sim_config(raw, snr, ctf, shift_sigma, seed);
    simulate_with(raw, n, &cfg, out);
}

/* The reconstructor's defaults (pad 2, blob 1.9/15/0, no symmetry, CPU) for
 * a simulated set. */
static inline gar_recon_config test_recon_config(const sim_set *s, int ctf, int threads, size_t batch)
{
    gar_recon_config c;
    memset(&c, 0, sizeof c);
    c.box = s->box;
    c.pixel_size_A = s->optics.pixel_size_A;
    c.pad = 2;
    c.blob_radius = 1.9;
    c.blob_alpha = 15;
    c.ctf = ctf;
    c.optics = &s->optics;
    c.n_optics = 1;
    c.threads = threads;
    c.batch = batch;
    return c;
}

/* The search settings the search tests share for a simulated set: band to a
 * quarter of the box, mask at 0.45 of it, CTF, origins within 3 pixels in
 * steps of 1, 8 coarse poses refined, 2 threads, one reference for both half
 * sets, the CPU. */
static inline gar_search_config test_search_config(const sim_set *s, const gar_refproj *ref, gar_search_mode mode,
                                                   double step_deg)
{
    gar_search_config c;
    memset(&c, 0, sizeof c);
    c.box = s->box;
    c.pixel_size_A = s->optics.pixel_size_A;
    c.band_radius = s->box / 4.0;
    c.mask_radius_px = 0.45 * s->box;
    c.ctf = 1;
    c.optics = &s->optics;
    c.n_optics = 1;
    c.mode = mode;
    c.angular_step_deg = step_deg;
    c.shift_range_A = 3 * s->optics.pixel_size_A;
    c.shift_step_A = s->optics.pixel_size_A;
    c.top_k = 8;
    c.threads = 2;
    c.ref[0] = c.ref[1] = ref;
    return c;
}

static inline void sim_free(sim_set *s)
{
    free(s->images);
    free(s->meta);
}

#endif
