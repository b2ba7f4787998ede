/* garner: write-to-a-temporary-then-rename (see gar_atomic.h). */
#include "gar_atomic.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

gar_status gar_atomic_begin(gar_atomic *a, const char *path, int hidden)
{
    const char *slash = strrchr(path, '/');
    int n;
    a->active = 0;
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
    return GAR_OK;
}

gar_status gar_atomic_commit(gar_atomic *a)
{
    if (!a->active)
        return gar_error(GAR_ERR_INTERNAL, "%s: committed twice, or never begun", a->path);
    if (rename(a->tmp, a->path) != 0) {
        int err = errno;
        gar_status st;
        gar_atomic_abort(a);
        st = gar_error(GAR_ERR_OUTPUT, "%s: cannot rename %s into place: %s", a->path, a->tmp, strerror(err));
        /* for callers that word the failure their own way */
        errno = err;
        return st;
    }
    a->active = 0;
    return GAR_OK;
}

void gar_atomic_abort(gar_atomic *a)
{
    if (!a->active)
        return;
    /* A folder: unlink fails with EISDIR (Linux) or EPERM (POSIX). */
    if (unlink(a->tmp) != 0 && (errno == EISDIR || errno == EPERM))
        rmdir(a->tmp);
    a->active = 0;
}
