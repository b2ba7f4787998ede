/* garner tune, the run: time every GPU gather variant on the run's first
 * batch and cache the fastest (see gar_run.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gar_gpu.h"
#include "gar_inputs.h"
#include "gar_log.h"
#include "gar_recon.h"
#include "gar_run.h"
#include "gar_stack.h"
#include "gar_symmetry.h"
#include "run_settings.h"

gar_status gar_run_tune(gar_params *p, int rank, int size)
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
    (void)rank;
    if (size > 1)
        return gar_error(GAR_ERR_USAGE, "garner tune runs as one process (without mpiexec or srun)");
    if ((st = run_read_recon_settings(p, &s)) != GAR_OK)
        return st;
    if (s.n_gpus == 0)
        return gar_error(GAR_ERR_NO_DEVICE, "nothing to tune: %s", s.gpu_why);
    if ((st = gar_symmetry_create(s.set.reconstruct.symmetry, &sym)) != GAR_OK ||
        (st = gar_inputs_open(s.set.input.stacks, s.set.input.n_stacks, &in)) != GAR_OK)
        goto done;
    box = gar_inputs_box(in);
    stack = gar_inputs_stack(in, 0);
    optics = gar_inputs_optics(in, &n_optics);
    s.set.gpu.tuning = GAR_TUNE_FORCE;
    if (s.set.reconstruct.ctf && !(gar_inputs_columns(in) & GAR_COL_CTF))
        s.set.reconstruct.ctf = 0;
    run_recon_config(&s, box, gar_inputs_pixel_size(in), optics, n_optics, sym, &cfg);
    count = gar_stack_count(stack) < cfg.batch ? gar_stack_count(stack) : cfg.batch;
    if ((st = gar_alloc((void **)&images, count, box * box * sizeof(float), "particle batch")) != GAR_OK ||
        (st = gar_alloc((void **)&meta, count, sizeof *meta, "metadata batch")) != GAR_OK ||
        (st = gar_stack_read_images(stack, 0, count, images)) != GAR_OK ||
        (st = gar_inputs_read_meta(in, 0, 0, count, meta)) != GAR_OK)
        goto done;
    run_log_devices(&s, NULL);
    if ((st = gar_recon_create(&cfg, &rec)) != GAR_OK)
        goto done;
    /* Batches go to the devices in turn: one each. */
    for (size_t d = 0; d < gar_recon_gpu_count(rec) && st == GAR_OK; d++)
        st = gar_recon_insert(rec, images, meta, count);
    if (st != GAR_OK || (st = gar_recon_flush(rec)) != GAR_OK)
        goto done;
    for (size_t d = 0; d < gar_recon_gpu_count(rec); d++) {
        const int volume = cfg.sym_mode == GAR_SYM_VOLUME;
        char report[4096], name[256];
        const char *best = gar_recon_gpu_variant(rec, d, report, sizeof report);
        gar_gpu_device_name(s.gpus[d], name, sizeof name);
        printf("GPU %d (%s): %zu particles of %zu px, symmetry %s (%s), %zu operator%s inserted each:\n%s"
               "fastest: %s\n", s.gpus[d], name, count, box, gar_symmetry_name(sym), volume ? "volume" : "insert",
               volume ? (size_t)1 : gar_symmetry_order(sym), volume || gar_symmetry_order(sym) == 1 ? "" : "s",
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

