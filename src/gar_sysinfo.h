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
/* Bytes available to this process: the smaller of the two below; `source`
 * receives what limited it ("MemAvailable in /proc/meminfo", "cgroup
 * memory.max", "ulimit -v, less the address space in use"). Returns 0 if
 * nothing could be read. `source` may be NULL. */
size_t gar_available_memory(char *source, size_t len);
/* Bytes available on this node, shared by every process on it: the
 * kernel's MemAvailable and the cgroup's limit less its usage (Slurm's
 * --mem is per node), the smaller; 0 if neither could be read. The test
 * hook GARNER_TEST_NODE_MEMORY (a size: "300M", "2G") stands in for
 * MemAvailable (docs/RELIABILITY.md, "Host memory"). */
size_t gar_node_memory_available(char *source, size_t len);
/* Bytes this process's own limits (ulimit -v, -d) leave beside what it
 * uses; SIZE_MAX without such a limit. */
size_t gar_process_memory_left(char *source, size_t len);
/* Address space (bytes) each thread the process starts reserves for its
 * stack: OMP_STACKSIZE when set (OpenMP's threads take it; a number with an
 * optional B, K, M or G suffix, K without one), else the soft `ulimit -s`
 * (glibc's default for a new thread), else 8 MiB; one guard page added.
 * `source` receives which of them it was. */
size_t gar_thread_stack_bytes(char *source, size_t len);
/* Bytes `ulimit -v` (RLIMIT_AS) leaves beside what the process maps
 * already, and the limit itself in *limit; SIZE_MAX (and *limit SIZE_MAX)
 * when there is no such limit. */
size_t gar_address_space_left(size_t *limit);
/* "1.5 GiB" */
void gar_format_bytes(double bytes, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
