/* garner simulate, the run (see gar_run_simulate.h). */
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
#include "run_files.h"

#define SIM_BATCH 64

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
    cfg->ctf_wrap = req->ctf_wrap;
}

/* Render particles [first, first+count) in parallel; each thread keeps its own
 * FFT plan and buffers for the whole run. */
static gar_status render_batch(gar_sim_worker **workers, const gar_map *map, const gar_sim_config *cfg,
                               size_t first, size_t count, float *images, gar_particle *meta)
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
    gar_map *map = NULL;
    gar_stack_writer *w = NULL;
    gar_sim_worker **workers = NULL;
    float *images = NULL;
    gar_particle *meta = NULL;
    gar_progress *progress = NULL;
    gar_optics optics;
    char *prov = NULL;
    int nthreads = 1, truth_written = 0;
    size_t box;

    sim_config(req, &cfg);
    if ((st = gar_run_check_output_file("--out", req->out, req->overwrite)) != GAR_OK ||
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
    if (req->truth != NULL) {
        /* The object the particles are projections of, the fair reference
         * for a map made from them (gar_sim_truth). */
        gar_map *truth = NULL;
        if ((st = gar_sim_truth(map, &truth)) != GAR_OK)
            goto done;
        truth->pixel_size = req->pixel_size_A > 0 ? req->pixel_size_A : map->pixel_size;
        st = gar_mrc_write(req->truth, truth);
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
    gar_sim_optics(&cfg, box, &optics);
    prov = run_provenance(req->argc, req->argv);
    if ((st = gar_stack_writer_create(req->out, box, &optics, 1,
                                      GAR_COL_POSE | GAR_COL_ORIGIN | (cfg.apply_ctf ? GAR_COL_CTF : 0),
                                      prov ? prov : "garner simulate", &w)) != GAR_OK)
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
    progress = gar_progress_create("simulate", "particles", req->count, 10.0);
    for (size_t first = 0; first < req->count; first += SIM_BATCH) {
        size_t n = req->count - first < SIM_BATCH ? req->count - first : SIM_BATCH;
        if ((st = render_batch(workers, map, &cfg, first, n, images, meta)) != GAR_OK ||
            (st = gar_stack_writer_append(w, images, meta, n)) != GAR_OK)
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
    if (st != GAR_OK && truth_written)
        unlink(req->truth);
    gar_progress_destroy(&progress);
    gar_stack_writer_abort(&w);
    if (workers != NULL)
        for (int t = 0; t < nthreads; t++)
            gar_sim_worker_destroy(&workers[t]);
    free(workers);
    free(images);
    free(meta);
    free(prov);
    gar_map_destroy(&map);
    return st;
}
