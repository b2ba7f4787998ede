/* garner: the run-time tuning of the GPU gather (gar_gpu_inserter.h) and its
 * cache.
 *
 * On the first batch (tuning = auto with no cache entry, or force) every
 * gather variant that can run on the device is timed on the batch's slices,
 * and the fastest is used from then on. The choice is kept in a cache file,
 * one line per device model and run shape:
 *
 *   model<TAB>key<TAB>variant<TAB>µs per slice
 *
 * model is the CUDA device name, key the run's part (gar_gpu_insert_config's
 * tuning_key), variant a name from gar_gpu_variant_name; lines starting with
 * '#' are comments. The last line for a model and key counts.
 *
 * Only the variants with one summation order are timed (and taken from the
 * cache), unless the run opts in (gar_gpu_insert_config.tuning_atomic): the
 * float-atomic column variants add a voxel's terms in whatever order the
 * threads arrive, and a pick that depends on timing would make the map
 * differ between ranks and runs, breaking the per-shard determinism that
 * [mpi] reproducible = yes relies on.
 *
 * Inserters on one device tune one at a time, so that they do not time each
 * other's kernels: within a process (devices = 0,0) a lock per device, and
 * across processes (ranks sharing a GPU) an flock on
 * "<cache>.tuning-<host>-<PCI bus id>.lock" beside the cache (the bus id, not
 * the device number: CUDA_VISIBLE_DEVICES may number one GPU differently in
 * each rank; the host: a cache in a home folder shared by several nodes).
 * Without a cache file (tuning_cache empty and no $HOME) only the process's
 * own inserters take turns. The cache's read-modify-write holds an flock on
 * "<cache>.lock", so processes (ranks sharing a node) do not drop each
 * other's entries, and its temporary is named by the process (gar_atomic). */
#include <cuda_runtime.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "gar_atomic.h"
#include "gar_cuda_check.h"
#include "gar_gpu_gather.h"
#include "gar_gpu_inserter.h"
#include "gar_log.h"
#ifdef GAR_CUDA_EMU
#include "gar_cuda_emu_control.h"   /* gar_cuda_emu_probe: the tests' windows into the locks */
#define TUNING_PROBE(point) gar_cuda_emu_probe(point)
#else
#define TUNING_PROBE(point) ((void)0)
#endif

using gar_gather::GatherArgs;
using gar_gather::LaunchCtx;
using gar_gather::n_variants;
using gar_gather::variant_usable;
using gar_gather::variants;

/* Inserters of several devices in one process (one host thread each) tune at
 * once and would share gar_atomic's temporary (it is named by the process),
 * and each would replace the file without the others' new entries: their
 * rewrites of the cache take turns (other processes: the flock below). */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

/* One tuning at a time per device within the process. */
#define TUNING_DEVICES 64
static pthread_mutex_t device_tuning[TUNING_DEVICES];
static pthread_once_t device_tuning_once = PTHREAD_ONCE_INIT;
static void device_tuning_init(void)
{
    for (int i = 0; i < TUNING_DEVICES; i++)
        pthread_mutex_init(&device_tuning[i], NULL);
}

/* May the tuning (or the cache) choose variant v for this run? */
static bool tunable(const gar_gpu_inserter *g, int v, const LaunchCtx &c)
{
    return variant_usable(variants[v], c) && (!variants[v].atomic || g->cfg.tuning_atomic);
}

/* The variant named by a cache line (cut up in place) if the line is this
 * model's and run shape's entry, else NULL. strtok_r: inserters of several
 * devices may read and write the cache at once. */
static const char *cache_entry_name(const gar_gpu_inserter *g, char *line)
{
    char *save = NULL;
    const char *model = strtok_r(line, "\t\n", &save), *key = strtok_r(NULL, "\t\n", &save),
               *name = strtok_r(NULL, "\t\n", &save);
    if (model == NULL || key == NULL || name == NULL || model[0] == '#')
        return NULL;
    return strcmp(model, g->device_name) == 0 && strcmp(key, g->key) == 0 ? name : NULL;
}

int gar_tuning_lookup(const gar_gpu_inserter *g)
{
    FILE *f;
    char line[1024];
    int found = -1;
    if (g->cache_path == NULL || (f = fopen(g->cache_path, "r")) == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        const char *name = cache_entry_name(g, line);
        if (name == NULL)
            continue;
        for (int v = 0; v < n_variants; v++)
            if (strcmp(variants[v].name, name) == 0 && tunable(g, v, g->ctx))
                found = v;
    }
    fclose(f);
    return found;
}

/* An exclusive flock on `path` (created), or -1 where the file system has
 * none: then, as without the lock, an entry may be lost or two tunings
 * overlap, and a later run tunes again. */
static int lock_file(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    while (flock(fd, LOCK_EX) != 0)
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    return fd;
}

static int make_parent_dirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return 0;
}

/* s with ':' and '/' made '-', to stand in a file name. */
static void file_name_safe(char *s)
{
    for (; *s; s++)
        if (*s == ':' || *s == '/')
            *s = '-';
}

/* The flock that makes the processes tuning on this GPU take turns, or -1
 * (no cache file to put it beside). */
static int lock_device_tuning(const gar_gpu_inserter *g)
{
    char bus[64] = "", host[256] = "", path[4096 + 400];
    if (g->cache_path == NULL || make_parent_dirs(g->cache_path) != 0)
        return -1;
    if (cudaDeviceGetPCIBusId(bus, sizeof bus, g->cfg.device) != cudaSuccess) {
        cudaGetLastError();   /* not sticky; the device number stands in */
        snprintf(bus, sizeof bus, "device%d", g->cfg.device);
    }
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "host");
    file_name_safe(bus);
    file_name_safe(host);
    snprintf(path, sizeof path, "%s.tuning-%s-%s.lock", g->cache_path, host, bus);
    return lock_file(path);
}

/* Replace this model and key's entry, written through gar_atomic (a
 * temporary renamed into place), so a reader never sees half a file. A
 * failure only costs the next run a tuning: it is logged, not fatal. */
static void cache_store(const gar_gpu_inserter *g, double us_per_slice)
{
    char line[1024], copy[1024];
    FILE *in, *out;
    gar_atomic a;
    int lock_fd = -1;
    if (g->cache_path == NULL)
        return;
    pthread_mutex_lock(&cache_lock);
    if (make_parent_dirs(g->cache_path) != 0) {
        gar_log_warn("GPU tuning cache %s: cannot write (%s); later runs will tune again", g->cache_path,
                     strerror(errno));
        goto done;
    }
    {
        char lock_path[4096];
        snprintf(lock_path, sizeof lock_path, "%s.lock", g->cache_path);
        lock_fd = lock_file(lock_path);
    }
    if (gar_atomic_begin(&a, g->cache_path, 0) != GAR_OK) {
        gar_log_warn("GPU tuning cache: %s; later runs will tune again", gar_errmsg());
        goto done;
    }
    if ((out = fopen(a.tmp, "w")) == NULL) {
        gar_log_warn("GPU tuning cache %s: cannot write (%s); later runs will tune again", g->cache_path,
                     strerror(errno));
        gar_atomic_abort(&a);
        goto done;
    }
    fprintf(out, "# garner GPU tuning cache: device model, run key, fastest gather variant, microseconds per slice\n");
    if ((in = fopen(g->cache_path, "r")) != NULL) {
        while (fgets(line, sizeof line, in) != NULL) {
            if (line[0] == '#')
                continue;
            snprintf(copy, sizeof copy, "%s", line);
            if (cache_entry_name(g, copy) != NULL)
                continue;
            fputs(line, out);
        }
        fclose(in);
    }
    TUNING_PROBE("cache-read");
    fprintf(out, "%s\t%s\t%s\t%.3f\n", g->device_name, g->key, variants[g->variant].name, us_per_slice);
    if (fclose(out) != 0) {
        gar_log_warn("GPU tuning cache %s: cannot write (%s); later runs will tune again", g->cache_path,
                     strerror(errno));
        gar_atomic_abort(&a);
        goto done;
    }
    if (gar_atomic_commit(&a) != GAR_OK)
        gar_log_warn("GPU tuning cache: %s; later runs will tune again", gar_errmsg());
done:
    if (lock_fd >= 0)
        close(lock_fd);   /* releases the flock */
    pthread_mutex_unlock(&cache_lock);
}

/* Each variant is run once to warm up (and to drop a variant the device
 * cannot launch), then timed once. */
gar_status gar_tuning_run(gar_gpu_inserter *g, const GatherArgs &args)
{
    gar_status st = GAR_OK;
    float *scratch = g->tune_scratch;
    cudaEvent_t t0 = NULL, t1 = NULL;
    double best = 1e300;
    int best_v = 0;
    size_t used = 0;
    LaunchCtx c = g->ctx;
    pthread_mutex_t *lock;
    int device_lock_fd;
    c.g = args;
    pthread_once(&device_tuning_once, device_tuning_init);
    lock = &device_tuning[(unsigned)g->cfg.device % TUNING_DEVICES];
    pthread_mutex_lock(lock);
    device_lock_fd = lock_device_tuning(g);
    TUNING_PROBE("tuning-begin");
    if (scratch == NULL)
        GAR_CUDA_TRY(cudaMalloc((void **)&scratch, g->nvox * 3 * sizeof(float)), g->where, "tuning scratch volume");
    GAR_CUDA_TRY(cudaEventCreate(&t0), g->where, "event");
    GAR_CUDA_TRY(cudaEventCreate(&t1), g->where, "event");
    c.g.G[0] = c.g.G[1] = scratch;
    c.g.W[0] = c.g.W[1] = scratch + 2 * g->nvox;
    g->report[0] = '\0';
    for (int v = 0; v < n_variants; v++) {
        float ms = 0;
        int len = (int)strlen(g->report);
        if (!variant_usable(variants[v], c)) {
            snprintf(g->report + len, sizeof g->report - len, "  %-44s  not usable here\n", variants[v].name);
            continue;
        }
        if (!tunable(g, v, c)) {
            snprintf(g->report + len, sizeof g->report - len,
                     "  %-44s  not timed: atomic, its order of sums varies (opt in: tuning_atomic)\n",
                     variants[v].name);
            continue;
        }
        cudaError_t e = variants[v].launch(c);
        if (e == cudaSuccess)
            e = cudaStreamSynchronize(c.stream);
        if (e != cudaSuccess) {
            /* A launch-configuration error leaves the context usable: the
             * variant is reported and skipped, not an error. A sticky one
             * (an illegal address, a kernel fault) leaves the context dead:
             * every later call returns it, so it ends the tuning, and the
             * run, here, naming it. */
            cudaGetLastError();
            if (cudaStreamSynchronize(c.stream) != cudaSuccess || cudaGetLastError() != cudaSuccess) {
                st = gar_error(GAR_ERR_INTERNAL, "%s: tuning: gather variant %s: %s (the device's context is lost)",
                               g->where, variants[v].name, cudaGetErrorString(e));
                goto done;
            }
            snprintf(g->report + len, sizeof g->report - len, "  %-44s  failed: %s\n", variants[v].name,
                     cudaGetErrorString(e));
            continue;
        }
        GAR_CUDA_TRY(cudaEventRecord(t0, c.stream), g->where, "event");
        GAR_CUDA_TRY(variants[v].launch(c), g->where, "gather kernel");
        GAR_CUDA_TRY(cudaEventRecord(t1, c.stream), g->where, "event");
        GAR_CUDA_TRY(cudaEventSynchronize(t1), g->where, "gather kernel");
        GAR_CUDA_TRY(cudaEventElapsedTime(&ms, t0, t1), g->where, "event");
        snprintf(g->report + len, sizeof g->report - len, "  %-44s  %9.3f ms  %8.3f µs/slice\n", variants[v].name,
                 ms, 1e3 * ms / (args.n_slices > 0 ? args.n_slices : 1));
        used++;
        if (ms < best) {
            best = ms;
            best_v = v;
        }
    }
    if (used == 0) {
        st = gar_error(GAR_ERR_INTERNAL, "%s: no gather variant could run:\n%s", g->where, g->report);
        goto done;
    }
    g->variant = best_v;
    g->tuned = 1;
    gar_log_info("%s: tuned the gather on %d slices; fastest: %s (%.3f µs per slice)", g->where, args.n_slices,
                 variants[best_v].name, 1e3 * best / args.n_slices);
    cache_store(g, 1e3 * best / (args.n_slices > 0 ? args.n_slices : 1));
done:
    if (t0)
        cudaEventDestroy(t0);
    if (t1)
        cudaEventDestroy(t1);
    cudaFree(scratch);
    g->tune_scratch = NULL;
    TUNING_PROBE("tuning-end");
    if (device_lock_fd >= 0)
        close(device_lock_fd);   /* releases the flock */
    pthread_mutex_unlock(lock);
    return st;
}
