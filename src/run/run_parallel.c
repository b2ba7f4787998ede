/* garner: a command's run under MPI (see gar_run.h). */
#include "gar_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>
#include "gar_log.h"
#include "gar_mpi.h"
#include "run_settings.h"
#include "gar_signal.h"
#include "gar_sysinfo.h"
#include "run_shards.h"

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

/* srun --mpi=none starts singletons that would each do the whole job. */
static gar_status check_slurm_tasks(int size)
{
    const char *ntasks = getenv("SLURM_NTASKS");
    if (ntasks != NULL && atoi(ntasks) > 1 && atoi(ntasks) != size)
        return gar_error(GAR_ERR_USAGE, "Slurm started %s tasks but MPI sees %d process%s: launch with "
                         "srun --mpi=pmi2 (or mpiexec), not --mpi=none", ntasks, size, size > 1 ? "es" : "");
    return GAR_OK;
}

static gar_status run_command(const gar_run_request *req, gar_params *p, int rank, int size)
{
    switch (req->command) {
    case GAR_RUN_RECONSTRUCT: return gar_run_reconstruct(p, req->params_path, req->resume, rank, size);
    case GAR_RUN_REFINE: return gar_run_refine(p, req->params_path, req->resume, rank, size);
    case GAR_RUN_TUNE: return gar_run_tune(p, rank, size);
    }
    return gar_error(GAR_ERR_INTERNAL, "unknown command %d", (int)req->command);
}

/* MPICH's transport (UCX) maps its shared memory through files of tens of
 * MiB: under a smaller `ulimit -f` MPI_Init fails with a page of UCX errors
 * (or, with SIGXFSZ at its default, the process dies before any line;
 * issue 18, case 18). Said before MPI starts, in one line. */
#define RUN_MIN_FILE_SIZE ((rlim_t)64 << 20)

static gar_status check_file_size_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= RUN_MIN_FILE_SIZE)
        return GAR_OK;
    return gar_error(GAR_ERR_OUTPUT, "ulimit -f is %llu KiB: MPI's shared memory alone needs files of %llu MiB, "
                     "and maps and checkpoints are larger; raise it (ulimit -f unlimited)",
                     (unsigned long long)(rl.rlim_cur / 1024), (unsigned long long)(RUN_MIN_FILE_SIZE >> 20));
}

/* MPI_Init (MPICH over UCX) grows the address space by ~55 MiB on one rank
 * (its libraries' heaps, shared-memory segments and a progress thread with
 * its stack and malloc arena). Under a `ulimit -v` that leaves less, UCX
 * aborts inside MPI_Init with a page of backtrace and no garner line
 * (issue 18, case 19). The margin covers that with room for more ranks on a
 * node; a reconstruction's own need is checked after MPI starts, by the
 * memory preflight, which names the volumes. */
#define RUN_MPI_START_BYTES ((size_t)96 << 20)

static gar_status check_address_space_for_mpi(void)
{
    size_t limit, left = gar_address_space_left(&limit);
    char limit_s[32], used_s[32], need_s[32];
    if (left >= RUN_MPI_START_BYTES)
        return GAR_OK;
    gar_format_bytes((double)limit, limit_s, sizeof limit_s);
    gar_format_bytes((double)(limit - left), used_s, sizeof used_s);
    gar_format_bytes((double)RUN_MPI_START_BYTES, need_s, sizeof need_s);
    return gar_error(GAR_ERR_NOMEM, "ulimit -v is %s and garner's libraries already take %s of it: MPI's start "
                     "needs about %s more, and the run more again; raise it (ulimit -v unlimited; Slurm's --mem "
                     "limits memory without it)", limit_s, used_s, need_s);
}

/* More threads than cores only makes threads compete (a run at threads =
 * 64 on 2 cores, or 3 ranks of all cores each on a 2-core node, is slower,
 * not faster): a warning line, never a refusal, since a user may know
 * better (hyper-threads the affinity mask hides, a node shared on
 * purpose). Rank 0 judges its own node: the ranks there that insert (all
 * but rank 0 itself in a run of several) times each one's threads, against
 * the node's online CPUs. */
static void warn_oversubscription(const gar_params *p, int size, gar_status placed, const gar_mpi_place *place)
{
    long threads = 0;
    int usable = gar_usable_cores(), per_rank;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (gar_params_get_int(p, "reconstruct", "threads", &threads) != GAR_OK) {
        gar_error_clear();
        return;
    }
    if (threads > usable)
        gar_log_warn("[reconstruct] threads = %ld, but this process may use %d cores (its CPU affinity): "
                     "threads beyond that compete and slow the run; use threads = 0 (all usable cores) or "
                     "at most %d", threads, usable, usable);
    per_rank = threads > 0 ? (int)threads : usable;
    if (size > 1 && placed == GAR_OK && online > 0) {
        long workers = place->local_size - 1;   /* rank 0 hands out shards; it inserts nothing */
        if (workers > 1 && workers * per_rank > online)
            gar_log_warn("%ld ranks on this node insert with %d threads each: %ld threads on %ld cores "
                         "compete and slow the run; set --threads %ld (or [reconstruct] threads = %ld), "
                         "or run fewer ranks a node",
                         workers, per_rank, workers * per_rank, online, online / workers > 0 ? online / workers : 1,
                         online / workers > 0 ? online / workers : 1);
    }
}

gar_status gar_run_parallel(const gar_run_request *req, int *report)
{
    int rank = 0, size = 1;
    gar_params *p = NULL;
    gar_status st, placed;
    gar_mpi_place place;

    *report = 1;
    if ((st = check_file_size_limit()) != GAR_OK || (st = check_address_space_for_mpi()) != GAR_OK ||
        (st = gar_mpi_start(NULL, NULL, &rank, &size)) != GAR_OK)
        return st;
    /* Installed again after MPI_Init, which replaces handlers: UCX (MPICH's
     * transport) takes SIGHUP for its debug output (UCX_DEBUG_SIGNO) and
     * error signals for backtraces. Reconstruct checkpoints at a signal,
     * refine stops between iterations; tune keeps nothing. */
    gar_signals_install(req->command == GAR_RUN_RECONSTRUCT ? "garner reconstruct"
                        : req->command == GAR_RUN_REFINE    ? "garner refine"
                                                            : "garner tune",
                        req->command == GAR_RUN_TUNE ? GAR_SIGNALS_CLEANUP : GAR_SIGNALS_CHECKPOINT);
    /* Where this rank runs: logged below, and what the GPU binding goes by. */
    if ((placed = gar_mpi_node_place(&place)) == GAR_OK)
        run_set_node_place(place.worker, place.workers);
    if (rank != 0)
        gar_log_set_quiet(1);
    if (size > 1) {
        char map[4096];
        gar_mpi_rank_map(map, sizeof map);
        gar_log_info("%d ranks (pid@host): %s", size, map);
        log_placement(rank, size, placed, &place);
    }
    if ((st = check_slurm_tasks(size)) == GAR_OK && (st = gar_params_load(req->params_path, &p)) == GAR_OK) {
        for (size_t i = 0; i < req->n_sets && st == GAR_OK; i++)
            st = gar_params_set(p, req->sets[i]);
        if (st == GAR_OK && rank == 0)
            warn_oversubscription(p, size, placed, &place);
        if (st == GAR_OK)
            st = run_command(req, p, rank, size);
    }
    gar_params_destroy(&p);
    gar_mpi_stop();
    /* Every rank found the same error; rank 0 says it once. */
    *report = rank == 0;
    return st;
}
