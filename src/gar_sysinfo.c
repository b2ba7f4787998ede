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

size_t gar_available_memory(char *source, size_t len)
{
    unsigned long long best = 0, lim, use;
    char line[256];
    FILE *f = fopen("/proc/meminfo", "r");
    snprintf(source, len, "unknown");
    if (f != NULL) {
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %llu kB", &lim) == 1) {
                best = lim * 1024ULL;
                snprintf(source, len, "MemAvailable in /proc/meminfo");
                break;
            }
        fclose(f);
    }
    /* cgroup v2, then v1; "max" (no limit) fails the numeric read. */
    if (read_u64("/sys/fs/cgroup/memory.max", &lim)) {
        use = 0;
        read_u64("/sys/fs/cgroup/memory.current", &use);
        if (lim > use && (best == 0 || lim - use < best)) {
            best = lim - use;
            snprintf(source, len, "cgroup memory.max");
        }
    } else if (read_u64("/sys/fs/cgroup/memory/memory.limit_in_bytes", &lim) && lim < (1ULL << 60)) {
        use = 0;
        read_u64("/sys/fs/cgroup/memory/memory.usage_in_bytes", &use);
        if (lim > use && (best == 0 || lim - use < best)) {
            best = lim - use;
            snprintf(source, len, "cgroup memory.limit_in_bytes");
        }
    }
    limit_by_rlimit(RLIMIT_AS, "VmSize", "ulimit -v, less the address space in use", &best, source, len);
    limit_by_rlimit(RLIMIT_DATA, "VmData", "ulimit -d, less the data in use", &best, source, len);
    return (size_t)best;
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
