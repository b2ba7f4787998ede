/* garner: write-to-a-temporary-then-rename (see gar_atomic.h). */
#include "gar_atomic.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "gar_signal.h"

/* The in-flight table. A signal handler reads it while the thread it
 * interrupted (or another) may be changing it, so each entry's state is a
 * lock-free atomic and its name is complete before the entry is marked
 * READY: FREE -> CLAIMED (name being copied) -> READY -> FREE. The handler
 * removes READY entries only. An entry is freed after the rename or unlink,
 * so a temporary is never on disk unlisted (a handler that runs between the
 * rename and the freeing finds the name gone: ENOENT, harmless). */
enum { SLOT_FREE, SLOT_CLAIMED, SLOT_READY };
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the in-flight table needs lock-free atomics in a signal handler");
static atomic_int slot_state[GAR_ATOMIC_SLOTS];
static char slot_tmp[GAR_ATOMIC_SLOTS][GAR_ATOMIC_PATH + 64];
static atomic_long committed;

static void slot_take(gar_atomic *a)
{
    a->slot = 0;
    for (int i = 0; i < GAR_ATOMIC_SLOTS; i++) {
        int expected = SLOT_FREE;
        if (atomic_compare_exchange_strong(&slot_state[i], &expected, SLOT_CLAIMED)) {
            memcpy(slot_tmp[i], a->tmp, strlen(a->tmp) + 1);
            atomic_store(&slot_state[i], SLOT_READY);
            a->slot = i + 1;
            return;
        }
    }
}

static void slot_release(gar_atomic *a)
{
    if (a->slot > 0 && a->slot <= GAR_ATOMIC_SLOTS)
        atomic_store(&slot_state[a->slot - 1], SLOT_FREE);
    a->slot = 0;
}

/* unlink, or rmdir for a folder (unlink fails with EISDIR on Linux, EPERM
 * in POSIX); both async-signal-safe. */
static void remove_tmp(const char *tmp)
{
    if (unlink(tmp) != 0 && (errno == EISDIR || errno == EPERM))
        rmdir(tmp);
}

void gar_atomic_remove_all(void)
{
    int saved = errno;
    for (int i = 0; i < GAR_ATOMIC_SLOTS; i++)
        if (atomic_load(&slot_state[i]) == SLOT_READY)
            remove_tmp(slot_tmp[i]);
    errno = saved;
}

long gar_atomic_committed(void) { return atomic_load(&committed); }

gar_status gar_atomic_begin(gar_atomic *a, const char *path, int hidden)
{
    const char *slash = strrchr(path, '/');
    int n;
    a->active = 0;
    a->slot = 0;
    a->tmp[0] = '\0';
    if (snprintf(a->path, sizeof a->path, "%s", path) >= (int)sizeof a->path)
        return gar_error(GAR_ERR_OUTPUT, "%.200s...: path too long", path);
    if (hidden)
        n = slash != NULL ? snprintf(a->tmp, sizeof a->tmp, "%.*s/.%s.tmp-%ld", (int)(slash - path), path, slash + 1,
                                     (long)getpid())
                          : snprintf(a->tmp, sizeof a->tmp, ".%s.tmp-%ld", path, (long)getpid());
    else
        n = snprintf(a->tmp, sizeof a->tmp, "%s.tmp-%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof a->tmp)
        return gar_error(GAR_ERR_OUTPUT, "%.200s...: path too long", path);
    a->active = 1;
    slot_take(a);
    return GAR_OK;
}

gar_status gar_atomic_commit(gar_atomic *a)
{
    gar_status st;
    if (!a->active)
        return gar_error(GAR_ERR_INTERNAL, "%s: committed twice, or never begun", a->path);
    /* Asked to stop (gar_signal.h): put nothing in place. */
    if ((st = gar_signal_check()) != GAR_OK) {
        gar_atomic_abort(a);
        return st;
    }
    if (rename(a->tmp, a->path) != 0) {
        int err = errno;
        gar_atomic_abort(a);
        st = gar_error(GAR_ERR_OUTPUT, "%s: cannot rename %s into place: %s", a->path, a->tmp, strerror(err));
        /* for callers that word the failure their own way */
        errno = err;
        return st;
    }
    a->active = 0;
    atomic_fetch_add(&committed, 1);
    slot_release(a);
    return GAR_OK;
}

void gar_atomic_abort(gar_atomic *a)
{
    if (!a->active)
        return;
    remove_tmp(a->tmp);
    a->active = 0;
    slot_release(a);
}
