/* garner: what the commands that reconstruct share (see cmd_common.h). */
#include <errno.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <getopt.h>
#include <unistd.h>
#include "cmd_common.h"
#include "gar_cli.h"
#include "gar_gpu.h"
#include "gar_exactsum.h"
#include "gar_log.h"
#include "gar_mpi.h"
#include "gar_partials.h"
#include "gar_stack.h"
#include "gar_sysinfo.h"

/* This rank's index among its node's workers and their number
 * (cmd_parallel_main sets them once MPI is up; one process: 0 of 1). */
static int node_worker = 0, node_workers = 1;

gar_status cmd_read_recon_settings(const gar_params *p, recon_settings *s)
{
    gar_status st;
    const char *mode = NULL, *nonfinite = NULL, *devices = NULL, *tuning = NULL, *cache = NULL;
    memset(s, 0, sizeof *s);
    if ((st = gar_params_get_path_list(p, "input", "stacks", &s->stacks, &s->n_stacks)) != GAR_OK ||
        (st = gar_params_get_string(p, "input", "nonfinite", &nonfinite)) != GAR_OK ||
        (st = gar_params_get_path(p, "output", "dir", &s->out_dir)) != GAR_OK ||
        (st = gar_params_get_bool(p, "output", "overwrite", &s->overwrite)) != GAR_OK ||
        (st = gar_params_get_double(p, "output", "checkpoint_minutes", &s->checkpoint_minutes)) != GAR_OK ||
        (st = gar_params_get_string(p, "reconstruct", "symmetry", &s->symmetry)) != GAR_OK ||
        (st = gar_params_get_string(p, "reconstruct", "symmetry_mode", &mode)) != GAR_OK ||
        (st = gar_params_get_bool(p, "reconstruct", "ctf", &s->ctf)) != GAR_OK ||
        (st = gar_params_get_bool(p, "reconstruct", "outer_mask", &s->outer_mask)) != GAR_OK ||
        (st = gar_params_get_int(p, "reconstruct", "pad", &s->pad)) != GAR_OK ||
        (st = gar_params_get_double(p, "reconstruct", "blob_radius", &s->blob_radius)) != GAR_OK ||
        (st = gar_params_get_double(p, "reconstruct", "blob_alpha", &s->blob_alpha)) != GAR_OK ||
        (st = gar_params_get_int(p, "reconstruct", "blob_order", &s->blob_order)) != GAR_OK ||
        (st = gar_params_get_double(p, "reconstruct", "max_resolution", &s->max_res)) != GAR_OK ||
        (st = gar_params_get_int(p, "reconstruct", "threads", &s->threads)) != GAR_OK ||
        (st = gar_params_get_int(p, "reconstruct", "batch", &s->batch)) != GAR_OK ||
        (st = gar_params_get_int(p, "mpi", "shard_size", &s->shard_size)) != GAR_OK ||
        (st = gar_params_get_int(p, "mpi", "reduce_chunk_mb", &s->reduce_chunk_mb)) != GAR_OK ||
        (st = gar_params_get_string(p, "gpu", "devices", &devices)) != GAR_OK ||
        (st = gar_params_get_bool(p, "gpu", "fft_on_gpu", &s->gpu_fft)) != GAR_OK ||
        (st = gar_params_get_string(p, "gpu", "tuning", &tuning)) != GAR_OK ||
        (st = gar_params_get_string(p, "gpu", "tuning_cache", &cache)) != GAR_OK ||
        (st = gar_params_get_bool(p, "mpi", "reproducible", &s->reproducible)) != GAR_OK)
        return st;
    if ((st = gar_gpu_choose(devices, node_worker, node_workers, s->gpus, &s->n_gpus, s->gpu_why,
                             sizeof s->gpu_why)) != GAR_OK) {
        char loc[512];
        cmd_where(p, "gpu", "devices", loc, sizeof loc);
        return gar_error_context(st, "%s", loc);
    }
    s->gpu_tuning = strcmp(tuning, "off") == 0 ? GAR_TUNE_OFF : strcmp(tuning, "cached") == 0 ? GAR_TUNE_CACHED
                                                                                              : GAR_TUNE_AUTO;
    if (strcmp(cache, "auto") == 0)
        gar_gpu_default_cache(s->gpu_cache, sizeof s->gpu_cache);
    else if (strcmp(cache, "none") != 0)
        snprintf(s->gpu_cache, sizeof s->gpu_cache, "%s", cache);
    if (gar_params_is_set(p, "reconstruct", "reference") &&
        (st = gar_params_get_path(p, "reconstruct", "reference", &s->reference)) != GAR_OK)
        return st;
    s->sym_volume = strcmp(mode, "volume") == 0;
    s->skip_nonfinite = strcmp(nonfinite, "skip") == 0;
    return GAR_OK;
}

void cmd_recon_config(const recon_settings *s, size_t box, double pixel_A, const gar_optics *optics,
                      size_t n_optics, const gar_symmetry *sym, gar_recon_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->box = box;
    cfg->pixel_size_A = pixel_A;
    cfg->pad = (int)s->pad;
    cfg->max_resolution_A = s->max_res;
    cfg->blob_radius = s->blob_radius;
    cfg->blob_alpha = s->blob_alpha;
    cfg->blob_order = (int)s->blob_order;
    cfg->ctf = s->ctf;
    cfg->optics = optics;
    cfg->n_optics = n_optics;
    cfg->sym_ops = gar_symmetry_matrices(sym);
    cfg->n_ops = gar_symmetry_order(sym);
    cfg->sym_mode = s->sym_volume ? GAR_SYM_VOLUME : GAR_SYM_INSERT;
    cfg->threads = s->threads > 0 ? (int)s->threads : gar_usable_cores();
    cfg->batch = (size_t)s->batch;
    cfg->outer_mask = s->outer_mask;
    cfg->gpu_devices = s->gpus;
    cfg->n_gpu_devices = s->n_gpus;
    cfg->gpu_fft = s->gpu_fft;
    cfg->gpu_tuning = s->gpu_tuning;
    cfg->gpu_tuning_cache = s->gpu_cache[0] ? s->gpu_cache : NULL;
}

void cmd_log_devices(const recon_settings *s, const gar_recon *rec)
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
                     s->gpu_why, s->gpu_fft ? "the GPU" : "the CPU", tuning[s->gpu_tuning]);
        return;
    }
    for (size_t d = 0; d < gar_recon_gpu_count(rec); d++)
        gar_log_info("GPU %d: gather variant %s", s->gpus[d], gar_recon_gpu_variant(rec, d, NULL, 0));
}

/* Copy a file byte for byte (the parameter file into the output). */
gar_status cmd_copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = NULL;
    char buf[65536];
    size_t n;
    gar_status st = GAR_OK;
    if (in == NULL)
        return gar_error(GAR_ERR_NOINPUT, "%s: cannot read", from);
    out = fopen(to, "wb");
    if (out == NULL) {
        fclose(in);
        return gar_error(GAR_ERR_OUTPUT, "%s: cannot create", to);
    }
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) {
            st = gar_error(GAR_ERR_IO, "%s: write failed", to);
            break;
        }
    fclose(in);
    if (fclose(out) != 0 && st == GAR_OK)
        st = gar_error(GAR_ERR_IO, "%s: write failed", to);
    return st;
}

gar_status cmd_write_fsc_csv(const char *path, const double *fsc, const double *fsc_ref, size_t n,
                                size_t box, double pixel)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return gar_error(GAR_ERR_OUTPUT, "%s: cannot create", path);
    fprintf(f, "shell,resolution_A,fsc_half_maps%s\n", fsc_ref ? ",fsc_reference" : "");
    for (size_t s = 0; s < n; s++) {
        double res = s > 0 ? box * pixel / (double)s : INFINITY;
        if (s > 0)
            fprintf(f, "%zu,%.4f,%.6f", s, res, fsc[s]);
        else
            fprintf(f, "%zu,inf,%.6f", s, fsc[s]);
        if (fsc_ref)
            fprintf(f, ",%.6f", fsc_ref[s]);
        fprintf(f, "\n");
    }
    if (fclose(f) != 0)
        return gar_error(GAR_ERR_IO, "%s: write failed", path);
    return GAR_OK;
}

void cmd_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

/* Every schema key with its effective value, typed. */
void cmd_json_parameters(FILE *f, const gar_params *p)
{
    const gar_param_spec *spec = gar_params_schema();
    const char *section = NULL;
    int first_section = 1, first_key = 1;
    fprintf(f, "  \"parameters\": {");
    for (; spec->section != NULL; spec++) {
        if (section == NULL || strcmp(section, spec->section) != 0) {
            fprintf(f, "%s\n    ", first_section ? "" : "\n    },\n    ");
            cmd_json_string(f, spec->section);
            fprintf(f, ": {");
            section = spec->section;
            first_section = 0;
            first_key = 1;
        }
        fprintf(f, "%s\n      ", first_key ? "" : ",");
        first_key = 0;
        cmd_json_string(f, spec->key);
        fprintf(f, ": ");
        if (spec->default_value == NULL && !gar_params_is_set(p, spec->section, spec->key)) {
            fprintf(f, "null");
            continue;
        }
        switch (spec->type) {
        case GAR_PARAM_INT: {
            long v = 0;
            gar_params_get_int(p, spec->section, spec->key, &v);
            fprintf(f, "%ld", v);
            break;
        }
        case GAR_PARAM_DOUBLE: {
            double v = 0;
            gar_params_get_double(p, spec->section, spec->key, &v);
            fprintf(f, "%.10g", v);
            break;
        }
        case GAR_PARAM_BOOL: {
            int v = 0;
            gar_params_get_bool(p, spec->section, spec->key, &v);
            fprintf(f, "%s", v ? "true" : "false");
            break;
        }
        case GAR_PARAM_PATH: {
            const char *v = "";
            gar_params_get_path(p, spec->section, spec->key, &v);
            cmd_json_string(f, v);
            break;
        }
        case GAR_PARAM_PATH_LIST: {
            const char *const *v = NULL;
            size_t n = 0;
            gar_params_get_path_list(p, spec->section, spec->key, &v, &n);
            fprintf(f, "[");
            for (size_t i = 0; i < n; i++) {
                if (i)
                    fprintf(f, ", ");
                cmd_json_string(f, v[i]);
            }
            fprintf(f, "]");
            break;
        }
        default: {
            const char *v = "";
            gar_params_get_string(p, spec->section, spec->key, &v);
            cmd_json_string(f, v);
        }
        }
    }
    fprintf(f, "\n    }\n  }\n");
}

/* A value's origin for messages: "run.ini:7: [reconstruct] symmetry". */
void cmd_where(const gar_params *p, const char *section, const char *key, char *buf, size_t len)
{
    snprintf(buf, len, "%s: [%s] %s", gar_params_origin(p, section, key), section, key);
}

/* Every stack cut into shards of `size` particles (the last of each stack shorter). */
gar_status cmd_make_shards(gar_inputs *in, size_t size, cmd_shard **out, size_t *n_out)
{
    size_t n = 0, k = 0;
    cmd_shard *list = NULL;
    gar_status st;
    for (size_t i = 0; i < gar_inputs_n_stacks(in); i++)
        n += (gar_stack_count(gar_inputs_stack(in, i)) + size - 1) / size;
    if ((st = gar_alloc((void **)&list, n ? n : 1, sizeof *list, "shard list")) != GAR_OK)
        return st;
    for (size_t i = 0; i < gar_inputs_n_stacks(in); i++) {
        size_t count = gar_stack_count(gar_inputs_stack(in, i));
        for (size_t first = 0; first < count; first += size) {
            list[k].stack = i;
            list[k].first = first;
            list[k].count = count - first < size ? count - first : size;
            k++;
        }
    }
    *out = list;
    *n_out = n;
    return GAR_OK;
}

struct cmd_partials {
    gar_recon *rec;
    gar_partials *parts;
};

int cmd_exact_sums(const recon_settings *s, int size) { return gar_partials_exact(s->reproducible, size); }

size_t cmd_partials_memory_bytes(const gar_recon_config *cfg, const recon_settings *s, int rank, int size)
{
    return gar_partials_memory_bytes(gar_recon_config_voxels(cfg), cmd_exact_sums(s, size),
                                     (size_t)s->reduce_chunk_mb << 20, rank);
}

gar_status cmd_partials_create(gar_recon *rec, const recon_settings *s, int threads, int rank, int size,
                               cmd_partials **out)
{
    gar_status st;
    cmd_partials *p = NULL;
    *out = NULL;
    if ((st = gar_calloc((void **)&p, 1, sizeof *p, "partial volumes")) != GAR_OK)
        return st;
    p->rec = rec;
    if ((st = gar_partials_create(gar_recon_voxels(rec), cmd_exact_sums(s, size), (size_t)s->reduce_chunk_mb << 20,
                                  threads, rank, &p->parts)) != GAR_OK) {
        free(p);
        return st;
    }
    *out = p;
    return GAR_OK;
}

void cmd_partials_destroy(cmd_partials **p)
{
    if (p == NULL || *p == NULL)
        return;
    gar_partials_destroy(&(*p)->parts);
    free(*p);
    *p = NULL;
}

gar_status cmd_partials_fold(cmd_partials *p)
{
    gar_recon_partial v;
    gar_status st = gar_recon_partial_view(p->rec, &v);
    return st != GAR_OK ? st : gar_partials_fold(p->parts, &v);
}

gar_status cmd_partials_reduce(cmd_partials *p, double *extra, size_t n_extra)
{
    gar_recon_partial v;
    gar_status st = gar_recon_partial_view(p->rec, &v);
    return st != GAR_OK ? st : gar_partials_reduce(p->parts, &v, extra, n_extra);
}

void cmd_partials_clear(cmd_partials *p)
{
    gar_recon_reset(p->rec);
    gar_partials_clear(p->parts);
}

void cmd_log_spread(const gar_sched *sched, int size)
{
    char line[1024];
    size_t used = 0;
    line[0] = '\0';
    for (int r = 1; r < size && used + 1 < sizeof line; r++) {
        int w = snprintf(line + used, sizeof line - used, "%s%zu", r > 1 ? " " : "", gar_sched_taken(sched, r));
        if (w < 0)
            break;
        used += (size_t)w;
    }
    gar_log_info("shards per worker (ranks 1 to %d): %s", size - 1, line);
}

volatile sig_atomic_t cmd_stop_signal = 0;

static void on_stop_signal(int sig) { cmd_stop_signal = sig; }

void cmd_catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    /* A blocked signal mask is inherited across exec (some launchers and
     * CI runners block signals): unblock the two we act on. */
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaddset(&sa.sa_mask, SIGUSR1);
    sigprocmask(SIG_UNBLOCK, &sa.sa_mask, NULL);
}

void cmd_test_shard_pause(const volatile sig_atomic_t *stop)
{
    const char *env = getenv("GARNER_TEST_SHARD_DELAY");
    char *end;
    double v;
    struct timespec ts;
    if (env == NULL || *env == '\0')
        return;
    v = strtod(env, &end);
    if (*end != '\0' || !(v > 0 && v < 3600))
        return;
    ts.tv_sec = (time_t)v;
    ts.tv_nsec = (long)((v - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && (stop == NULL || *stop == 0))
        ;
}

/* Collective: for every rank, rank 0 logs where it runs and what a GPU
 * binding goes by: its node-local rank, and the GPUs a launcher (Slurm's
 * --gres, for one) made visible to it. Information only: a failure here
 * (out of memory on rank 0, or no node-local rank) leaves a line out or says
 * so in it, and never stops the run. */
static void log_placement(int rank, int size, gar_status placed, const gar_mpi_place *place)
{
    char host[256] = "?", line[GAR_MPI_LINE], *all = NULL;
    const char *gpus = getenv("CUDA_VISIBLE_DEVICES");
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "?");
    host[sizeof host - 1] = '\0';
    if (placed == GAR_OK)
        snprintf(line, sizeof line, "rank %d on %.100s: node-local rank %d of %d, CUDA_VISIBLE_DEVICES=%.80s",
                 rank, host, place->local_rank, place->local_size, gpus != NULL ? gpus : "unset");
    else
        snprintf(line, sizeof line, "rank %d on %.100s: %.120s", rank, host, gar_errmsg());
    if (gar_mpi_gather_lines(line, &all) == GAR_OK && all != NULL)
        for (int r = 0; r < size; r++)
            gar_log_info("%s", all + (size_t)r * GAR_MPI_LINE);
    free(all);
}

int cmd_parallel_main(int argc, char **argv, const char *name, const char *help, const char *resume_option,
                      void (*on_start)(void), cmd_run_fn run)
{
    /* Without a resume option its row ends the table early. */
    const struct option longopts[] = {
        {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {resume_option, no_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    const char *sets[256];
    size_t n_sets = 0;
    int c, rank = 0, size = 1, resume = 0;
    gar_params *p = NULL;
    gar_status st;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (n_sets == sizeof sets / sizeof sets[0])
                return gar_cli_usage_error(name, "too many --set options");
            sets[n_sets++] = optarg;
            break;
        case 'r': resume = 1; break;
        case 'h': fputs(help, stdout); return 0;
        default: return gar_cli_usage_error(name, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return gar_cli_usage_error(name, "expected one parameter file");
    if ((st = gar_mpi_start(NULL, NULL, &rank, &size)) != GAR_OK)
        return gar_cli_fail(st);
    if (on_start != NULL)
        on_start();
    /* Where this rank runs: logged below, and what the GPU binding goes by
     * (cmd_read_recon_settings). */
    gar_mpi_place place;
    gar_status placed = gar_mpi_node_place(&place);
    if (placed == GAR_OK) {
        node_worker = place.worker;
        node_workers = place.workers;
    }
    if (rank != 0)
        gar_log_set_quiet(1);
    if (size > 1) {
        char map[4096];
        gar_mpi_rank_map(map, sizeof map);
        gar_log_info("%d ranks (pid@host): %s", size, map);
        log_placement(rank, size, placed, &place);
    }
    {
        /* srun --mpi=none starts singletons that would each do the whole job. */
        const char *ntasks = getenv("SLURM_NTASKS");
        if (ntasks != NULL && atoi(ntasks) > 1 && atoi(ntasks) != size) {
            st = gar_error(GAR_ERR_USAGE, "Slurm started %s tasks but MPI sees %d process%s: launch with "
                           "srun --mpi=pmi2 (or mpiexec), not --mpi=none", ntasks, size, size > 1 ? "es" : "");
            goto out;
        }
    }
    if ((st = gar_params_load(argv[optind], &p)) != GAR_OK)
        goto out;
    for (size_t i = 0; i < n_sets && st == GAR_OK; i++)
        st = gar_params_set(p, sets[i]);
    if (st == GAR_OK)
        st = run(p, argv[optind], resume, rank, size);
    gar_params_destroy(&p);
out:
    gar_mpi_stop();
    /* Every rank found the same error; rank 0 says it once. */
    if (st != GAR_OK && rank != 0)
        return gar_status_exit_code(st);
    /* A checkpoint at a signal is the expected end of a job at its time limit. */
    if (st == GAR_ERR_CHECKPOINT) {
        gar_log_info("%s", gar_errmsg());
        return gar_status_exit_code(st);
    }
    return st == GAR_OK ? 0 : gar_cli_fail(st);
}
