/* garner simulate, the run (see gar_run_simulate.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "gar_log.h"
#include "gar_mrc.h"
#include "gar_run.h"
#include "gar_run_simulate.h"
#include "gar_simulate.h"
#include "gar_stack.h"
#include "gar_signal.h"
#include "run_files.h"

#define SIM_BATCH 64

/* The stack's ground-truth codes are the simulator's. */
_Static_assert((int)GAR_SIM_PARTICLE == (int)GAR_STACK_SIM_PARTICLE &&
                   (int)GAR_SIM_JUNK_PROTEIN == (int)GAR_STACK_SIM_PROTEIN &&
                   (int)GAR_SIM_JUNK_ICE == (int)GAR_STACK_SIM_ICE,
               "sim_junk codes");

void gar_simulate_request_default(gar_simulate_request *req)
{
    gar_sim_config cfg;
    gar_sim_config_default(&cfg);
    memset(req, 0, sizeof *req);
    req->snr = cfg.snr;
    req->defocus_min_A = cfg.defocus_min_A;
    req->defocus_max_A = cfg.defocus_max_A;
    req->astigmatism_A = cfg.astigmatism_A;
    req->shift_sigma_A = cfg.shift_sigma_A;
    req->apply_ctf = cfg.apply_ctf;
    req->voltage_kV = cfg.voltage_kV;
    req->cs_mm = cfg.cs_mm;
    req->amplitude_contrast = cfg.amplitude_contrast;
    req->seed = cfg.seed;
}

/* The simulator's settings from the request's; the pixel size is the map's
 * unless given. */
static void sim_config(const gar_simulate_request *req, gar_sim_config *cfg)
{
    gar_sim_config_default(cfg);
    cfg->seed = req->seed;
    cfg->snr = req->snr;
    cfg->apply_ctf = req->apply_ctf;
    cfg->defocus_min_A = req->defocus_min_A;
    cfg->defocus_max_A = req->defocus_max_A;
    cfg->astigmatism_A = req->astigmatism_A;
    cfg->shift_sigma_A = req->shift_sigma_A;
    cfg->voltage_kV = req->voltage_kV;
    cfg->cs_mm = req->cs_mm;
    cfg->amplitude_contrast = req->amplitude_contrast;
    cfg->bfactor_A2 = req->bfactor_A2;
    cfg->ramp_sigma = req->ramp_sigma;
    cfg->contrast_sigma = req->contrast_sigma;
    cfg->junk_fraction = req->junk_fraction;
    cfg->ctf_canvas = req->ctf_canvas;
}

/* The realism settings a caller of the run (not only the command line) may
 * get wrong, each named by its option. */
static gar_status check_request(const gar_simulate_request *req)
{
    if (!(isfinite(req->bfactor_A2) && req->bfactor_A2 >= 0))
        return gar_error(GAR_ERR_USAGE, "--bfactor: expected a finite value >= 0 Å², got %g", req->bfactor_A2);
    if (!(isfinite(req->ramp_sigma) && req->ramp_sigma >= 0))
        return gar_error(GAR_ERR_USAGE, "--ramp: expected a finite value >= 0, got %g", req->ramp_sigma);
    if (!(req->contrast_sigma >= 0 && req->contrast_sigma <= 3))
        return gar_error(GAR_ERR_USAGE, "--contrast-sigma: expected a value in [0, 3], got %g",
                         req->contrast_sigma);
    if (!(req->junk_fraction >= 0 && req->junk_fraction <= 1))
        return gar_error(GAR_ERR_USAGE, "--junk-fraction: expected a value in [0, 1], got %g", req->junk_fraction);
    if (req->junk_map != NULL && !(req->junk_fraction > 0))
        return gar_error(GAR_ERR_USAGE, "--junk-map: needs --junk-fraction above 0");
    if (req->noise_spectrum != NULL && req->noise_spectrum[0] == '\0')
        return gar_error(GAR_ERR_USAGE, "--noise-spectrum: expected 'ice' or a file, got ''");
    return GAR_OK;
}

/* The junk map: a cube of the particles' box, finite, with the particles'
 * pixel size (within GAR_MAP_PIXEL_TOLERANCE) where its header gives one; prepared like the map. */
static gar_status load_junk_map(const char *path, size_t box, double pixel_A, gar_map **out)
{
    gar_status st;
    gar_map *raw = NULL;
    size_t bad = 0, nvox;
    *out = NULL;
    if ((st = gar_mrc_read(path, &raw)) != GAR_OK)
        return gar_error_context(st, "--junk-map");
    nvox = gar_map_voxels(raw);
    bad = gar_map_nonfinite_voxels(raw);
    if (raw->nx != box || raw->ny != box || raw->nz != box)
        st = gar_error(GAR_ERR_DATA, "--junk-map: %s is %zu x %zu x %zu, expected %zu^3 (the map's box)", path,
                       raw->nx, raw->ny, raw->nz, box);
    else if (bad > 0)
        st = gar_error(GAR_ERR_DATA, "--junk-map: %s: %zu of %zu voxels are NaN or infinite", path, bad, nvox);
    else if (raw->pixel_size > 0 && !gar_map_pixel_sizes_agree(raw->pixel_size, pixel_A))
        st = gar_error(GAR_ERR_DATA, "--junk-map: %s has %.4g Å pixels, the particles %.4g Å", path,
                       raw->pixel_size, pixel_A);
    else if ((st = gar_sim_prepare_map(raw, out)) == GAR_OK)
        (*out)->pixel_size = pixel_A;
    gar_map_destroy(&raw);
    return st;
}

/* Render particles [first, first+count) in parallel; each thread keeps its own
 * FFT plan and buffers for the whole run. */
static gar_status render_batch(gar_sim_worker **workers, const gar_map *map, const gar_sim_config *cfg,
                               size_t first, size_t count, float *images, gar_particle *meta,
                               int32_t *junk, double *scale)
{
    size_t npix = map->nx * map->nx;
    gar_status st = GAR_OK;
    char msg[512] = "";   /* error messages are per thread: carry the first back */
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t k = 0; k < count; k++) {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        gar_sim_draw(cfg, first + k, &meta[k]);
        if (junk != NULL) {
            gar_sim_truth truth;
            gar_sim_draw_truth(cfg, first + k, &truth);
            junk[k] = truth.junk;
            scale[k] = truth.scale;
        }
        gar_status s = gar_sim_render(workers[t], map, cfg, first + k, &meta[k], images + k * npix, NULL);
        if (s != GAR_OK) {
#pragma omp critical
            if (st == GAR_OK) {
                st = s;
                snprintf(msg, sizeof msg, "%s", gar_errmsg());
            }
        }
    }
    return st == GAR_OK ? st : gar_error(st, "%s", msg);
}

gar_status gar_run_simulate(const gar_simulate_request *req)
{
    gar_status st;
    gar_sim_config cfg;
    gar_map *map = NULL, *junk_map = NULL;
    gar_sim_spectrum *spectrum = NULL;
    gar_stack_writer *w = NULL;
    int32_t *junk = NULL;
    double *scale = NULL;
    gar_sim_worker **workers = NULL;
    float *images = NULL;
    gar_particle *meta = NULL;
    gar_progress *progress = NULL;
    gar_optics optics;
    char *prov = NULL;
    int nthreads = 1, realism, truth_written = 0;
    size_t box;

    sim_config(req, &cfg);
    if ((st = check_request(req)) != GAR_OK ||
        (st = gar_run_check_output_file("--out", req->out, req->overwrite)) != GAR_OK ||
        (req->truth != NULL && (st = gar_run_check_output_file("--truth", req->truth, req->overwrite)) != GAR_OK))
        return st;
    if ((st = gar_mrc_read(req->map, &map)) != GAR_OK)
        goto done;
    box = map->nx;
    if (map->ny != box || map->nz != box || box % 2 != 0) {
        st = gar_error(GAR_ERR_DATA, "%s: map is %zu x %zu x %zu: expected a cube with an even edge",
                       req->map, map->nx, map->ny, map->nz);
        goto done;
    }
    /* A NaN voxel makes NaN images, which the stack writer would refuse
     * naming the output file: say it is the map. */
    if (gar_map_nonfinite_voxels(map) > 0) {
        st = gar_error(GAR_ERR_DATA, "--map: %s: %zu of %zu voxels are NaN or infinite; the map must be finite",
                       req->map, gar_map_nonfinite_voxels(map), gar_map_voxels(map));
        goto done;
    }
    if (req->truth != NULL) {
        /* The object the particles are projections of, the fair reference
         * for a map made from them (gar_sim_truth). */
        gar_map *truth = NULL;
        if ((st = gar_sim_true_map(map, &truth)) != GAR_OK)
            goto done;
        truth->pixel_size = req->pixel_size_A > 0 ? req->pixel_size_A : map->pixel_size;
        st = gar_mrc_write(req->truth, truth, GAR_MRC_VOLUME);
        gar_map_destroy(&truth);
        if (st != GAR_OK)
            goto done;
        truth_written = 1;
    }
    {
        gar_map *prepared = NULL;
        if ((st = gar_sim_prepare_map(map, &prepared)) != GAR_OK)
            goto done;
        prepared->pixel_size = map->pixel_size;
        gar_map_destroy(&map);
        map = prepared;
    }
    cfg.pixel_size_A = req->pixel_size_A > 0 ? req->pixel_size_A : map->pixel_size;
    if (!(cfg.pixel_size_A > 0)) {
        st = gar_error(GAR_ERR_USAGE, "%s: the header gives no pixel size; pass --pixel-size", req->map);
        goto done;
    }
    /* Stacks refuse an origin beyond half the image (gar_stack_check_value):
     * keep six σ of the drawn shifts inside it, rather than fail part way. */
    if (cfg.shift_sigma_A > (double)box * cfg.pixel_size_A / 12.0) {
        st = gar_error(GAR_ERR_USAGE,
                       "--shift-sigma: %g Å is more than 1/12 of the %g Å image (%g Å): shifts would leave it",
                       cfg.shift_sigma_A, (double)box * cfg.pixel_size_A, (double)box * cfg.pixel_size_A / 12.0);
        goto done;
    }
    if (req->noise_spectrum != NULL) {
        st = strcmp(req->noise_spectrum, "ice") == 0 ? gar_sim_spectrum_ice(&spectrum)
                                                     : gar_sim_spectrum_read(req->noise_spectrum, &spectrum);
        if (st != GAR_OK) {
            st = gar_error_context(st, "--noise-spectrum");
            goto done;
        }
        cfg.noise_spectrum = spectrum;
    }
    if (req->junk_map != NULL) {
        if ((st = load_junk_map(req->junk_map, box, cfg.pixel_size_A, &junk_map)) != GAR_OK)
            goto done;
        cfg.junk_map = junk_map;
    }
    realism = gar_sim_realism(&cfg);
#ifdef _OPENMP
    if (req->threads > 0)
        omp_set_num_threads(req->threads);
    nthreads = omp_get_max_threads();
#endif
    if ((st = gar_calloc((void **)&workers, (size_t)nthreads, sizeof *workers, "workers")) != GAR_OK)
        goto done;
    for (int t = 0; t < nthreads; t++)
        if ((st = gar_sim_worker_create(box, &workers[t])) != GAR_OK)
            goto done;
    if ((st = gar_alloc((void **)&images, SIM_BATCH, box * box * sizeof(float), "simulation batch")) != GAR_OK ||
        (st = gar_alloc((void **)&meta, SIM_BATCH, sizeof *meta, "simulation metadata")) != GAR_OK)
        goto done;
    if (realism) {
        /* One noise σ for the whole stack, as a detector gives: empty ice
         * gets the noise of real particles. */
        if ((st = gar_alloc((void **)&junk, SIM_BATCH, sizeof *junk, "simulation truth")) != GAR_OK ||
            (st = gar_alloc((void **)&scale, SIM_BATCH, sizeof *scale, "simulation truth")) != GAR_OK ||
            (st = gar_sim_stack_sigma(workers[0], map, &cfg, &cfg.noise_sigma)) != GAR_OK)
            goto done;
    }
    gar_sim_optics(&cfg, box, &optics);
    prov = run_provenance(req->argc, req->argv);
    if ((st = gar_stack_writer_create(req->out, box, &optics, 1,
                                      GAR_COL_POSE | GAR_COL_ORIGIN | (cfg.apply_ctf ? GAR_COL_CTF : 0),
                                      prov ? prov : "garner simulate", &w)) != GAR_OK ||
        (realism && (st = gar_stack_writer_add_sim_truth(w)) != GAR_OK))
        goto done;
    {
        char ctf[96];
        size_t canvas = gar_sim_canvas(&cfg, box);
        if (!cfg.apply_ctf)
            snprintf(ctf, sizeof ctf, "no CTF");
        else if (canvas > box)
            snprintf(ctf, sizeof ctf, "CTF on a %zu px canvas", canvas);
        else
            snprintf(ctf, sizeof ctf, "CTF on the box (wrapped)");
        gar_log_info("simulating %zu particles of %s (%zu px, %.4g Å/px), SNR %g, %s, %d thread%s", req->count,
                     req->map, box, cfg.pixel_size_A, cfg.snr, ctf, nthreads, nthreads > 1 ? "s" : "");
    }
    if (realism)
        gar_log_info("realism: B-factor %g Å², noise %s, ramp %g, contrast sigma %g, junk %g (%s); "
                     "noise sigma %.6g for every image",
                     cfg.bfactor_A2, req->noise_spectrum ? req->noise_spectrum : "white", cfg.ramp_sigma,
                     cfg.contrast_sigma, cfg.junk_fraction,
                     junk_map ? "half another protein, half empty ice" : "empty ice", cfg.noise_sigma);
    progress = gar_progress_create("", "particles", req->count, 10.0);
    for (size_t first = 0; first < req->count; first += SIM_BATCH) {
        size_t n = req->count - first < SIM_BATCH ? req->count - first : SIM_BATCH;
        if ((st = render_batch(workers, map, &cfg, first, n, images, meta, junk, scale)) != GAR_OK ||
            (st = realism ? gar_stack_writer_append_sim(w, images, meta, junk, scale, n)
                          : gar_stack_writer_append(w, images, meta, n)) != GAR_OK)
            goto done;
        gar_progress_update(progress, first + n);
    }
    if ((st = gar_stack_writer_commit(&w)) != GAR_OK)
        goto done;
    gar_progress_finish(&progress);
    if (truth_written)
        gar_log_info("wrote %s and the true map %s", req->out, req->truth);
    else
        gar_log_info("wrote %s", req->out);
done:
    if (st != GAR_OK && truth_written) {
        unlink(req->truth);
        /* The true map was put in place before the signal came; removed,
         * it no longer counts (gar_signal_check words the message). */
        if (st == GAR_ERR_STOPPED)
            st = gar_error(st, "stopped by %s; nothing written", gar_signal_name(gar_signal_received()));
    }
    gar_progress_destroy(&progress);
    gar_stack_writer_abort(&w);
    if (workers != NULL)
        for (int t = 0; t < nthreads; t++)
            gar_sim_worker_destroy(&workers[t]);
    free(workers);
    free(images);
    free(meta);
    free(junk);
    free(scale);
    free(prov);
    gar_sim_spectrum_destroy(&spectrum);
    gar_map_destroy(&junk_map);
    gar_map_destroy(&map);
    return st;
}
