/* garner: a file (or folder) appears under its name only when complete.
 *
 * Every output is written under a temporary name beside its final one and
 * renamed into place: rename(2) within a folder is atomic, so a crash, a
 * full disk or a signal never leaves a complete-looking name on a partial
 * file, and a reader sees the old file or the new one, never a mix.
 *
 *   gar_atomic a;
 *   if ((st = gar_atomic_begin(&a, path, 0)) != GAR_OK) return st;
 *   ... write a.tmp ...
 *   st = ok ? gar_atomic_commit(&a) : (gar_atomic_abort(&a), st);
 *
 * The temporary name holds the process id, so two processes writing the same
 * file never share a temporary.
 *
 * Every temporary in flight (begun, neither committed nor aborted) is also
 * listed in a fixed table that a signal handler may read:
 * gar_atomic_remove_all() removes them with unlink(2) and rmdir(2) only, so
 * a command stopped by a signal leaves no PATH.tmp-PID behind (gar_signal.h).
 * Under GAR_SIGNALS_CLEANUP, commit after a stop signal aborts instead:
 * nothing is put in place once the user asked to stop. */
#ifndef GAR_ATOMIC_H
#define GAR_ATOMIC_H

#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GAR_ATOMIC_PATH 4096

typedef struct gar_atomic {
    char path[GAR_ATOMIC_PATH];        /* the final name */
    char tmp[GAR_ATOMIC_PATH + 64];    /* where to write */
    int active;                        /* begun, neither committed nor aborted */
    int slot;                          /* 1 + its entry in the in-flight table; 0: none */
} gar_atomic;

/* The temporary name for `path`: "PATH.tmp-PID", or with hidden set
 * "DIR/.NAME.tmp-PID" (outputs inside a result folder, where a visible
 * temporary would look like a result). GAR_ERR_OUTPUT for a name too long.
 * Creates nothing. */
gar_status gar_atomic_begin(gar_atomic *a, const char *path, int hidden);
/* Rename the temporary into place (replacing what was there); on failure
 * the temporary is removed, the error names both and the reason, and errno
 * holds rename's error (for a caller that words the message its own way).
 * a->tmp keeps the temporary's name after commit or abort. */
gar_status gar_atomic_commit(gar_atomic *a);
/* Remove the temporary (a file, or an empty folder) if begun and not
 * committed; safe to call twice, after commit, after a failed begin, and on
 * a zeroed gar_atomic (`gar_atomic a = {0};`) never begun. */
void gar_atomic_abort(gar_atomic *a);
/* Remove every temporary in flight in this process (the table holds the
 * first GAR_ATOMIC_SLOTS at once; more are written but not listed).
 * Async-signal-safe: for a signal handler that is about to _exit. */
void gar_atomic_remove_all(void);
/* How many outputs this process has put in place (async-signal-safe): 0
 * means a stopped command wrote nothing. */
long gar_atomic_committed(void);

#define GAR_ATOMIC_SLOTS 64

#ifdef __cplusplus
}
#endif
#endif
