#define _GNU_SOURCE
#include "gar_sysinfo.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>
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
    return (size_t)best;
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
