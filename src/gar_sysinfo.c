#define _GNU_SOURCE
#include "gar_sysinfo.h"

#include <ctype.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int gar_usable_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int read_u64(const char *path, unsigned long long *out)
{
    FILE *f = fopen(path, "r");
    int ok;
    if (f == NULL)
        return 0;
    ok = fscanf(f, "%llu", out) == 1;
    fclose(f);
    return ok;
}

/* A field of /proc/self/status in bytes ("VmSize", "VmData"); 0 if unread. */
static unsigned long long self_status_bytes(const char *field)
{
    char line[256];
    unsigned long long kb = 0;
    const size_t n = strlen(field);
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            if (sscanf(line + n + 1, "%llu", &kb) != 1)
                kb = 0;
            break;
        }
    fclose(f);
    return kb * 1024ULL;
}

/* A process limit (ulimit -v, -d; Slurm propagates them) leaves the limit
 * less what the process already maps. */
static void limit_by_rlimit(int resource, const char *field, const char *name, unsigned long long *best,
                            char *source, size_t len)
{
    struct rlimit rl;
    unsigned long long used, left;
    if (getrlimit(resource, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return;
    used = self_status_bytes(field);
    left = (unsigned long long)rl.rlim_cur > used ? (unsigned long long)rl.rlim_cur - used : 1;
    if (*best == 0 || left < *best) {
        *best = left;
        snprintf(source, len, "%s", name);
    }
}

/* "300M", "2G", "1048576": bytes, with an optional K, M or G (binary)
 * suffix; 0 if it is not such a size. */
static unsigned long long parse_size(const char *text)
{
    char *end;
    unsigned long long v, unit = 1;
    if (text == NULL || !isdigit((unsigned char)*text))
        return 0;
    v = strtoull(text, &end, 10);
    switch (toupper((unsigned char)*end)) {
    case '\0': break;
    case 'K': unit = 1ULL << 10; end++; break;
    case 'M': unit = 1ULL << 20; end++; break;
    case 'G': unit = 1ULL << 30; end++; break;
    default: return 0;
    }
    if (*end != '\0' || v > (1ULL << 62) / unit)
        return 0;
    return v * unit;
}

size_t gar_node_memory_available(char *source, size_t len)
{
    unsigned long long best = 0, lim, use;
    char line[256];
    const unsigned long long hook = parse_size(getenv("GARNER_TEST_NODE_MEMORY"));
    FILE *f;
    if (source != NULL && len > 0)
        snprintf(source, len, "unknown");
    if (hook > 0) {
        best = hook;
        if (source != NULL && len > 0)
            snprintf(source, len, "GARNER_TEST_NODE_MEMORY");
    } else if ((f = fopen("/proc/meminfo", "r")) != NULL) {
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %llu kB", &lim) == 1) {
                best = lim * 1024ULL;
                if (source != NULL && len > 0)
                    snprintf(source, len, "MemAvailable in /proc/meminfo");
                break;
            }
        fclose(f);
    }
    /* cgroup v2, then v1; "max" (no limit) fails the numeric read. Slurm
     * puts a job's tasks on one node in one cgroup (--mem is per node), so
     * its limit is the node's share too. */
    if (read_u64("/sys/fs/cgroup/memory.max", &lim)) {
        use = 0;
        read_u64("/sys/fs/cgroup/memory.current", &use);
        if (lim > use && (best == 0 || lim - use < best)) {
            best = lim - use;
            if (source != NULL && len > 0)
                snprintf(source, len, "cgroup memory.max");
        }
    } else if (read_u64("/sys/fs/cgroup/memory/memory.limit_in_bytes", &lim) && lim < (1ULL << 60)) {
        use = 0;
        read_u64("/sys/fs/cgroup/memory/memory.usage_in_bytes", &use);
        if (lim > use && (best == 0 || lim - use < best)) {
            best = lim - use;
            if (source != NULL && len > 0)
                snprintf(source, len, "cgroup memory.limit_in_bytes");
        }
    }
    return (size_t)best;
}

size_t gar_process_memory_left(char *source, size_t len)
{
    unsigned long long best = 0;
    char src[128] = "";
    limit_by_rlimit(RLIMIT_AS, "VmSize", "ulimit -v, less the address space in use", &best, src, sizeof src);
    limit_by_rlimit(RLIMIT_DATA, "VmData", "ulimit -d, less the data in use", &best, src, sizeof src);
    if (source != NULL && len > 0)
        snprintf(source, len, "%s", best > 0 ? src : "no process limit");
    return best > 0 ? (size_t)best : SIZE_MAX;
}

size_t gar_available_memory(char *source, size_t len)
{
    char node_src[128], proc_src[128];
    const size_t node = gar_node_memory_available(node_src, sizeof node_src);
    const size_t proc = gar_process_memory_left(proc_src, sizeof proc_src);
    const int by_process = proc != SIZE_MAX && (node == 0 || proc < node);
    if (source != NULL && len > 0)
        snprintf(source, len, "%s", by_process ? proc_src : node_src);
    return by_process ? proc : node;
}

/* OMP_STACKSIZE as OpenMP reads it: a size, K(iB) without a unit; 0 if
 * it is not one (libgomp then ignores it and so does this). */
static unsigned long long omp_stacksize(const char *text)
{
    char *end;
    unsigned long long v, unit = 1024;
    while (isspace((unsigned char)*text))
        text++;
    if (!isdigit((unsigned char)*text))
        return 0;
    v = strtoull(text, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    switch (toupper((unsigned char)*end)) {
    case '\0': break;
    case 'B': unit = 1; end++; break;
    case 'K': end++; break;
    case 'M': unit = 1ULL << 20; end++; break;
    case 'G': unit = 1ULL << 30; end++; break;
    default: return 0;
    }
    while (isspace((unsigned char)*end))
        end++;
    if (*end != '\0' || v > (1ULL << 63) / unit)
        return 0;
    return v * unit;
}

size_t gar_thread_stack_bytes(char *source, size_t len)
{
    struct rlimit rl;
    const char *omp = getenv("OMP_STACKSIZE");
    unsigned long long stack = omp != NULL ? omp_stacksize(omp) : 0;
    long page = sysconf(_SC_PAGESIZE);
    if (stack > 0) {
        snprintf(source, len, "OMP_STACKSIZE");
    } else if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        stack = (unsigned long long)rl.rlim_cur;
        snprintf(source, len, "ulimit -s");
    } else {
        /* glibc's own default without a stack limit is smaller (2 MiB on
         * x86-64); 8 MiB, the usual `ulimit -s`, errs on the safe side. */
        stack = 8ULL << 20;
        snprintf(source, len, "the default 8 MiB");
    }
    stack += page > 0 ? (unsigned long long)page : 4096ULL;
    return stack > SIZE_MAX ? SIZE_MAX : (size_t)stack;
}

size_t gar_address_space_left(size_t *limit)
{
    struct rlimit rl;
    unsigned long long used;
    *limit = SIZE_MAX;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return SIZE_MAX;
    *limit = (size_t)rl.rlim_cur;
    used = self_status_bytes("VmSize");
    return (unsigned long long)rl.rlim_cur > used ? (size_t)((unsigned long long)rl.rlim_cur - used) : 0;
}

void gar_format_bytes(double bytes, char *buf, size_t len)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024.0 && u < 4) {
        bytes /= 1024.0;
        u++;
    }
    snprintf(buf, len, "%.1f %s", bytes, unit[u]);
}
