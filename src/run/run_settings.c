/* garner: the [input], [output], [reconstruct], [gpu] and [mpi] settings of
 * a run, and the reconstructor's configuration from them (see run_settings.h). */
#include "run_settings.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "gar_gpu.h"
#include "gar_log.h"
#include "gar_mpi.h"
#include "gar_partials.h"
#include "gar_sysinfo.h"
#include "run_files.h"
#include "run_shards.h"

/* This rank's index among its node's workers and their number
 * (gar_run_parallel sets them once MPI is up; one process: 0 of 1). */
static int node_worker = 0, node_workers = 1;

void run_set_node_place(int worker, int workers)
{
    node_worker = worker;
    node_workers = workers;
}

gar_status run_read_settings(const gar_params *p, gar_settings *set)
{
    gar_status st;
    if ((st = gar_params_settings(p, set)) != GAR_OK || (st = gar_params_require(p, "input", "stacks")) != GAR_OK)
        return st;
    return gar_params_require(p, "output", "dir");
}

gar_status run_read_recon_settings(const gar_params *p, recon_settings *s)
{
    gar_status st;
    const char *cache;
    memset(s, 0, sizeof *s);
    if ((st = run_read_settings(p, &s->set)) != GAR_OK)
        return st;
    if ((st = gar_gpu_choose(s->set.gpu.devices, node_worker, node_workers, s->gpus, &s->n_gpus, s->gpu_why,
                             sizeof s->gpu_why)) != GAR_OK) {
        char loc[512];
        run_where(p, "gpu", "devices", loc, sizeof loc);
        return gar_error_context(st, "%s", loc);
    }
    cache = s->set.gpu.tuning_cache;
    if (strcmp(cache, "auto") == 0)
        gar_gpu_default_cache(s->gpu_cache, sizeof s->gpu_cache);
    else if (strcmp(cache, "none") != 0)
        snprintf(s->gpu_cache, sizeof s->gpu_cache, "%s", cache);
    return GAR_OK;
}

void run_recon_config(const recon_settings *s, size_t box, double pixel_A, const gar_optics *optics,
                      size_t n_optics, const gar_symmetry *sym, gar_recon_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->box = box;
    cfg->pixel_size_A = pixel_A;
    cfg->pad = (int)s->set.reconstruct.pad;
    cfg->max_resolution_A = s->set.reconstruct.max_resolution;
    cfg->blob_radius = s->set.reconstruct.blob_radius;
    cfg->blob_alpha = s->set.reconstruct.blob_alpha;
    cfg->blob_order = (int)s->set.reconstruct.blob_order;
    cfg->ctf = s->set.reconstruct.ctf;
    cfg->optics = optics;
    cfg->n_optics = n_optics;
    cfg->sym_ops = gar_symmetry_matrices(sym);
    cfg->n_ops = gar_symmetry_order(sym);
    cfg->sym_mode = (gar_sym_mode)s->set.reconstruct.symmetry_mode;
    cfg->threads = s->set.reconstruct.threads > 0 ? (int)s->set.reconstruct.threads : gar_usable_cores();
    cfg->batch = (size_t)s->set.reconstruct.batch;
    cfg->outer_mask = s->set.reconstruct.outer_mask;
    cfg->image_model = (gar_image_model)s->set.reconstruct.image_model;
    cfg->gpu_devices = s->gpus;
    cfg->n_gpu_devices = s->n_gpus;
    cfg->gpu_fft = s->set.gpu.fft_on_gpu;
    cfg->gpu_tuning = s->set.gpu.tuning;
    cfg->gpu_tuning_cache = s->gpu_cache[0] ? s->gpu_cache : NULL;
}

void run_log_devices(const recon_settings *s, const gar_recon *rec)
{
    char list[1024] = "";
    size_t used = 0;
    if (s->n_gpus == 0) {
        gar_log_info("insertion on the CPU: %s", s->gpu_why);
        return;
    }
    for (size_t d = 0; d < s->n_gpus && used + 1 < sizeof list; d++) {
        char name[256];
        gar_gpu_device_name(s->gpus[d], name, sizeof name);
        int w = snprintf(list + used, sizeof list - used, "%s%d (%s)", d ? ", " : "", s->gpus[d], name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (rec == NULL) {
        static const char *const tuning[] = {"auto", "off", "cached", "forced"};
        gar_log_info("insertion on GPU%s %s: %s; FFT on %s; tuning %s", s->n_gpus > 1 ? "s" : "", list,
                     s->gpu_why, s->set.gpu.fft_on_gpu ? "the GPU" : "the CPU", tuning[s->set.gpu.tuning]);
        return;
    }
    for (size_t d = 0; d < gar_recon_gpu_count(rec); d++)
        gar_log_info("GPU %d: gather variant %s", s->gpus[d], gar_recon_gpu_variant(rec, d, NULL, 0));
}

int run_exact_sums(const recon_settings *s, int size) { return gar_partials_exact(s->set.mpi.reproducible, size); }

size_t run_partials_memory_bytes(const gar_recon_config *cfg, const recon_settings *s, int rank, int size,
                                 int reduces)
{
    return gar_partials_memory_bytes(gar_recon_config_voxels(cfg), run_exact_sums(s, size),
                                     (size_t)s->set.mpi.reduce_chunk_mb << 20, rank, reduces);
}

gar_status run_partials_create(const gar_recon *rec, const recon_settings *s, int threads, int rank, int size,
                               gar_partials **out)
{
    return gar_partials_create(gar_recon_voxels(rec), run_exact_sums(s, size), (size_t)s->set.mpi.reduce_chunk_mb << 20,
                               threads, rank, out);
}

gar_status run_set_fixed_scale(const recon_settings *s, int rank, int size, run_shards *shards, gar_recon *rec,
                               gar_partials *parts, size_t particles, double scale_cap)
{
    gar_status st;
    gar_fixed_scale fs;
    if (!run_exact_sums(s, size))
        return GAR_OK;
    st = run_shards_fixed_scale(shards, rank, size, s->set.input.normalize, scale_cap > 1.0 ? scale_cap : 1.0,
                                particles * gar_recon_insert_ops(rec), gar_recon_blob_sum(rec), &fs);
    if (st == GAR_OK) {
        gar_partials_set_fixed_scale(parts, &fs);
        if (rank != 0)
            st = gar_recon_set_fixed_scale(rec, &fs);
    }
    return gar_mpi_agree_report(st, size);
}

gar_status run_check_thread_stacks(const gar_params *p, int threads, size_t other_bytes)
{
    char loc[512], src[64], stack_s[32], stacks_s[32], other_s[32], left_s[32], limit_s[32];
    size_t limit, left = gar_address_space_left(&limit), stack = gar_thread_stack_bytes(src, sizeof src), fit;
    const size_t extra = threads > 1 ? (size_t)threads - 1 : 0;   /* the calling thread's stack is mapped already */
    if (left == SIZE_MAX || extra == 0)
        return GAR_OK;
    if (other_bytes < left && extra <= (left - other_bytes) / stack)
        return GAR_OK;
    fit = other_bytes < left ? 1 + (left - other_bytes) / stack : 1;
    run_where(p, "reconstruct", "threads", loc, sizeof loc);
    gar_format_bytes((double)stack, stack_s, sizeof stack_s);
    gar_format_bytes((double)extra * (double)stack, stacks_s, sizeof stacks_s);
    gar_format_bytes((double)other_bytes, other_s, sizeof other_s);
    gar_format_bytes((double)left, left_s, sizeof left_s);
    gar_format_bytes((double)limit, limit_s, sizeof limit_s);
    return gar_error(GAR_ERR_NOMEM, "%s: %d threads do not fit in the address space: their stacks take %s "
                     "(%zu × %s, from %s), with the run's %s more than the %s that ulimit -v (%s) leaves; use "
                     "at most %zu threads, or a smaller ulimit -s or OMP_STACKSIZE, or raise ulimit -v",
                     loc, threads, stacks_s, extra, stack_s, src, other_s, left_s, limit_s, fit);
}

void run_node_fit_advice(long fit, char *buf, size_t size)
{
    if (fit >= 1)
        snprintf(buf, size, "%ld rank%s of this size fit%s: start fewer ranks per node "
                 "(srun --ntasks-per-node, mpiexec -ppn), or ", fit, fit == 1 ? "" : "s", fit == 1 ? "s" : "");
    else
        snprintf(buf, size, "not one rank of this size fits: ");
}
