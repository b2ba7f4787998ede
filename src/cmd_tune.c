/* garner tune: time the GPU gather variants for a run's parameter file and
 * cache the fastest, so that the run itself starts tuned. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_common.h"
#include "gar_cli.h"
#include "gar_gpu.h"
#include "gar_inputs.h"
#include "gar_log.h"
#include "gar_recon.h"
#include "gar_stack.h"
#include "gar_symmetry.h"

static const char tune_help[] =
    "usage: garner tune PARAMS [--set section.key=value ...]\n"
    "\n"
    "Time every variant of the GPU gather kernel on the first batch of the\n"
    "run's particles, on each GPU that [gpu] devices gives this process, print\n"
    "the times, and store the fastest in the tuning cache ([gpu] tuning_cache),\n"
    "keyed by GPU model and the run's shape (box, padding, symmetry mode and\n"
    "operators, blob), where `garner reconstruct` or `refine` with\n"
    "[gpu] tuning = auto or cached finds it. Writes nothing else.\n"
    "\n"
    "options:\n"
    "  --set S.K=V   override a parameter (repeatable)\n"
    "  -h, --help    this help\n";

static gar_status tune_run(gar_params *p, const char *params_path, int resume, int rank, int size)
{
    gar_status st;
    recon_settings s;
    gar_symmetry *sym = NULL;
    gar_inputs *in = NULL;
    gar_recon *rec = NULL;
    gar_recon_config cfg;
    float *images = NULL;
    gar_particle *meta = NULL;
    const gar_optics *optics;
    size_t n_optics = 0, box, count;
    gar_stack *stack;
    (void)params_path, (void)resume, (void)rank;
    if (size > 1)
        return gar_error(GAR_ERR_USAGE, "garner tune runs as one process (without mpiexec or srun)");
    if ((st = cmd_read_recon_settings(p, &s)) != GAR_OK)
        return st;
    if (s.n_gpus == 0)
        return gar_error(GAR_ERR_NO_DEVICE, "nothing to tune: %s", s.gpu_why);
    if ((st = gar_symmetry_create(s.symmetry, &sym)) != GAR_OK ||
        (st = gar_inputs_open(s.stacks, s.n_stacks, &in)) != GAR_OK)
        goto done;
    box = gar_inputs_box(in);
    stack = gar_inputs_stack(in, 0);
    optics = gar_stack_optics(stack, &n_optics);
    s.gpu_tuning = GAR_TUNE_FORCE;
    if (s.ctf && !(gar_inputs_columns(in) & GAR_COL_CTF))
        s.ctf = 0;
    cmd_recon_config(&s, box, gar_inputs_pixel_size(in), optics, n_optics, sym, &cfg);
    count = gar_stack_count(stack) < cfg.batch ? gar_stack_count(stack) : cfg.batch;
    if ((st = gar_alloc((void **)&images, count, box * box * sizeof(float), "particle batch")) != GAR_OK ||
        (st = gar_alloc((void **)&meta, count, sizeof *meta, "metadata batch")) != GAR_OK ||
        (st = gar_stack_read_images(stack, 0, count, images)) != GAR_OK ||
        (st = gar_stack_read_meta(stack, 0, count, meta)) != GAR_OK)
        goto done;
    cmd_log_devices(&s, NULL);
    if ((st = gar_recon_create(&cfg, &rec)) != GAR_OK)
        goto done;
    /* Batches go to the devices in turn: one each. */
    for (size_t d = 0; d < gar_recon_gpu_count(rec) && st == GAR_OK; d++)
        st = gar_recon_insert(rec, images, meta, count);
    if (st != GAR_OK || (st = gar_recon_flush(rec)) != GAR_OK)
        goto done;
    for (size_t d = 0; d < gar_recon_gpu_count(rec); d++) {
        char report[4096], name[256];
        const char *best = gar_recon_gpu_variant(rec, d, report, sizeof report);
        gar_gpu_device_name(s.gpus[d], name, sizeof name);
        printf("GPU %d (%s): %zu particles of %zu px, symmetry %s (%s), %zu operator%s inserted each:\n%s"
               "fastest: %s\n", s.gpus[d], name, count, box, gar_symmetry_name(sym), s.sym_volume ? "volume" : "insert",
               s.sym_volume ? (size_t)1 : gar_symmetry_order(sym), s.sym_volume || gar_symmetry_order(sym) == 1 ? "" : "s",
               report, best);
    }
    printf("tuning cache: %s\n", s.gpu_cache[0] ? s.gpu_cache : "none ([gpu] tuning_cache = none)");
done:
    gar_recon_destroy(&rec);
    gar_inputs_close(&in);
    gar_symmetry_destroy(&sym);
    free(images);
    free(meta);
    return st;
}

int gar_cmd_tune(int argc, char **argv)
{
    return cmd_parallel_main(argc, argv, "tune", tune_help, NULL, NULL, tune_run);
}
