/* garner simulate: particles with known poses from a map. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "gar_cli.h"
#include "gar_log.h"
#include "gar_mrc.h"
#include "gar_simulate.h"
#include "gar_stack.h"

#define SIM_BATCH 64

static const char simulate_help[] =
    "usage: garner simulate --map MAP.mrc --count N --out STACK.h5 [options]\n"
    "\n"
    "Simulate N particle images of a cubic map with known, uniformly random\n"
    "poses: the map is put in solvent (background outside the inscribed sphere\n"
    "removed) and prefiltered for interpolation, then projected in real space\n"
    "(ray sums), shifted, CTF applied, and white Gaussian\n"
    "noise at the requested SNR (variance of the noise-free image over the box\n"
    "divided by the noise variance, per image). Half sets alternate 1, 2, ...\n"
    "The true poses, shifts and CTF parameters are stored in the stack.\n"
    "\n"
    "options:\n"
    "  --map FILE           input map, MRC, cubic with an even box (required)\n"
    "  --count N            number of particles (required)\n"
    "  --out FILE           output HDF5 stack (required; written atomically)\n"
    "  --snr X              signal-to-noise ratio (default 1; 'inf' for no noise)\n"
    "  --defocus MIN:MAX    defocus range in µm, uniform (default 1.0:2.5)\n"
    "  --astigmatism A      largest |dU-dV|/2 in Å (default 200)\n"
    "  --no-ctf             do not apply a CTF (no CTF columns are stored)\n"
    "  --shift-sigma S      standard deviation of the shifts per axis in Å (default 0)\n"
    "  --pixel-size P       Å per pixel (default: the map header's)\n"
    "  --voltage KV         acceleration voltage in kV (default 300)\n"
    "  --cs MM              spherical aberration in mm (default 2.7)\n"
    "  --amp-contrast Q     amplitude contrast (default 0.1)\n"
    "  --seed S             random seed (default 1); the stack depends only on it\n"
    "  --threads T          threads (default: all cores)\n"
    "  --overwrite          replace an existing output file\n"
    "  -h, --help           this help\n";

typedef struct sim_args {
    const char *map, *out;
    size_t count;
    int overwrite, threads;
    double pixel_size;
    gar_sim_config cfg;
} sim_args;

static int parse_args(int argc, char **argv, sim_args *a, gar_status *st)
{
    static const struct option longopts[] = {
        {"map", required_argument, NULL, 'm'},      {"count", required_argument, NULL, 'n'},
        {"out", required_argument, NULL, 'o'},      {"snr", required_argument, NULL, 's'},
        {"defocus", required_argument, NULL, 'd'},  {"astigmatism", required_argument, NULL, 'a'},
        {"no-ctf", no_argument, NULL, 'C'},         {"shift-sigma", required_argument, NULL, 'x'},
        {"pixel-size", required_argument, NULL, 'p'}, {"voltage", required_argument, NULL, 'v'},
        {"cs", required_argument, NULL, 'c'},       {"amp-contrast", required_argument, NULL, 'q'},
        {"seed", required_argument, NULL, 'r'},     {"threads", required_argument, NULL, 't'},
        {"overwrite", no_argument, NULL, 'w'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    double lo, hi;
    size_t threads;
    memset(a, 0, sizeof *a);
    gar_sim_config_default(&a->cfg);
    *st = GAR_OK;
    optind = 1;
    opterr = 0;
    while (*st == GAR_OK && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': a->map = optarg; break;
        case 'o': a->out = optarg; break;
        case 'n': *st = gar_cli_size("--count", optarg, &a->count); break;
        case 's':
            if (strcmp(optarg, "inf") == 0)
                a->cfg.snr = INFINITY;
            else if ((*st = gar_cli_double("--snr", optarg, &a->cfg.snr)) == GAR_OK && !(a->cfg.snr > 0))
                *st = gar_error(GAR_ERR_USAGE, "--snr: expected a positive number or 'inf', got '%s'", optarg);
            break;
        case 'd':
            if ((*st = gar_cli_range("--defocus", optarg, &lo, &hi)) == GAR_OK) {
                if (!(lo > 0))
                    *st = gar_error(GAR_ERR_USAGE, "--defocus: expected positive (underfocus) µm, got '%s'", optarg);
                a->cfg.defocus_min_A = lo * 1e4;
                a->cfg.defocus_max_A = hi * 1e4;
            }
            break;
        case 'a':
            if ((*st = gar_cli_double("--astigmatism", optarg, &a->cfg.astigmatism_A)) == GAR_OK &&
                a->cfg.astigmatism_A < 0)
                *st = gar_error(GAR_ERR_USAGE, "--astigmatism: expected >= 0 Å, got '%s'", optarg);
            break;
        case 'C': a->cfg.apply_ctf = 0; break;
        case 'x':
            if ((*st = gar_cli_double("--shift-sigma", optarg, &a->cfg.shift_sigma_A)) == GAR_OK &&
                a->cfg.shift_sigma_A < 0)
                *st = gar_error(GAR_ERR_USAGE, "--shift-sigma: expected >= 0 Å, got '%s'", optarg);
            break;
        case 'p':
            if ((*st = gar_cli_double("--pixel-size", optarg, &a->pixel_size)) == GAR_OK && !(a->pixel_size > 0))
                *st = gar_error(GAR_ERR_USAGE, "--pixel-size: expected a positive size in Å, got '%s'", optarg);
            break;
        case 'v':
            if ((*st = gar_cli_double("--voltage", optarg, &a->cfg.voltage_kV)) == GAR_OK && !(a->cfg.voltage_kV > 0))
                *st = gar_error(GAR_ERR_USAGE, "--voltage: expected a positive kV, got '%s'", optarg);
            break;
        case 'c': *st = gar_cli_double("--cs", optarg, &a->cfg.cs_mm); break;
        case 'q':
            if ((*st = gar_cli_double("--amp-contrast", optarg, &a->cfg.amplitude_contrast)) == GAR_OK &&
                !(a->cfg.amplitude_contrast >= 0 && a->cfg.amplitude_contrast < 1))
                *st = gar_error(GAR_ERR_USAGE, "--amp-contrast: expected a value in [0, 1), got '%s'", optarg);
            break;
        case 'r': *st = gar_cli_u64("--seed", optarg, &a->cfg.seed); break;
        case 't':
            if ((*st = gar_cli_size("--threads", optarg, &threads)) == GAR_OK) {
                if (threads < 1 || threads > 4096)
                    *st = gar_error(GAR_ERR_USAGE, "--threads: expected 1 to 4096, got '%s'", optarg);
                a->threads = (int)threads;
            }
            break;
        case 'w': a->overwrite = 1; break;
        case 'h': fputs(simulate_help, stdout); return 1;
        default:
            *st = gar_error(GAR_ERR_USAGE, "unknown or incomplete option '%s' (see 'garner simulate --help')",
                            argv[optind - 1]);
        }
    }
    if (*st == GAR_OK && optind < argc)
        *st = gar_error(GAR_ERR_USAGE, "unexpected argument '%s'", argv[optind]);
    if (*st == GAR_OK && (a->map == NULL || a->out == NULL || a->count == 0))
        *st = gar_error(GAR_ERR_USAGE, "--map, --out and a positive --count are required "
                        "(see 'garner simulate --help')");
    return 0;
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

int gar_cmd_simulate(int argc, char **argv)
{
    sim_args a;
    gar_status st;
    gar_map *map = NULL;
    gar_stack_writer *w = NULL;
    gar_sim_worker **workers = NULL;
    float *images = NULL;
    gar_particle *meta = NULL;
    gar_progress *progress = NULL;
    gar_optics optics;
    char *prov = NULL;
    int nthreads = 1;
    size_t box;

    if (parse_args(argc, argv, &a, &st))
        return 0;
    if (st != GAR_OK)
        return gar_cli_fail(st);
    if ((st = gar_cli_check_output_file("--out", a.out, a.overwrite)) != GAR_OK)
        return gar_cli_fail(st);
    if ((st = gar_mrc_read(a.map, &map)) != GAR_OK)
        goto done;
    box = map->nx;
    if (map->ny != box || map->nz != box || box % 2 != 0) {
        st = gar_error(GAR_ERR_DATA, "%s: map is %zu x %zu x %zu: expected a cube with an even edge",
                       a.map, map->nx, map->ny, map->nz);
        goto done;
    }
    {
        gar_map *prepared = NULL;
        if ((st = gar_sim_prepare_map(map, &prepared)) != GAR_OK)
            goto done;
        prepared->pixel_size = map->pixel_size;
        gar_map_destroy(&map);
        map = prepared;
    }
    a.cfg.pixel_size_A = a.pixel_size > 0 ? a.pixel_size : map->pixel_size;
    if (!(a.cfg.pixel_size_A > 0)) {
        st = gar_error(GAR_ERR_USAGE, "%s: the header gives no pixel size; pass --pixel-size", a.map);
        goto done;
    }
#ifdef _OPENMP
    if (a.threads > 0)
        omp_set_num_threads(a.threads);
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
    gar_sim_optics(&a.cfg, box, &optics);
    prov = gar_cli_provenance(argc, argv);
    if ((st = gar_stack_writer_create(a.out, box, &optics, 1,
                                      GAR_COL_POSE | GAR_COL_ORIGIN | (a.cfg.apply_ctf ? GAR_COL_CTF : 0),
                                      prov ? prov : "garner simulate", &w)) != GAR_OK)
        goto done;
    gar_log_info("simulating %zu particles of %s (%zu px, %.4g Å/px), SNR %g, %s, %d thread%s",
                 a.count, a.map, box, a.cfg.pixel_size_A, a.cfg.snr,
                 a.cfg.apply_ctf ? "CTF" : "no CTF", nthreads, nthreads > 1 ? "s" : "");
    progress = gar_progress_create("simulate", "particles", a.count, 10.0);
    for (size_t first = 0; first < a.count; first += SIM_BATCH) {
        size_t n = a.count - first < SIM_BATCH ? a.count - first : SIM_BATCH;
        if ((st = render_batch(workers, map, &a.cfg, first, n, images, meta)) != GAR_OK ||
            (st = gar_stack_writer_append(w, images, meta, n)) != GAR_OK)
            goto done;
        gar_progress_update(progress, first + n);
    }
    if ((st = gar_stack_writer_commit(&w)) != GAR_OK)
        goto done;
    gar_progress_finish(&progress);
    gar_log_info("wrote %s", a.out);
done:
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
    return st == GAR_OK ? 0 : gar_cli_fail(st);
}
