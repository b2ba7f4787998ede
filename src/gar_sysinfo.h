/* garner: what this process may use of the machine: cores (its affinity mask,
 * which Slurm's --cpus-per-task sets) and memory (the smallest of the
 * kernel's MemAvailable, the cgroup's limit less its usage, and the
 * process's `ulimit -v` and `ulimit -d` less what it already uses). */
#ifndef GAR_SYSINFO_H
#define GAR_SYSINFO_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

int gar_usable_cores(void);
/* Bytes available; `source` receives what limited it ("MemAvailable",
 * "cgroup memory.max"). Returns 0 if nothing could be read. */
size_t gar_available_memory(char *source, size_t len);
/* "1.5 GiB" */
void gar_format_bytes(double bytes, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
