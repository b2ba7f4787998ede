/* renameat2 and RENAME_EXCHANGE (glibc 2.28 and later) are GNU extensions. */
#define _GNU_SOURCE
#include "gar_outdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "gar_log.h"

/* Inside every partial folder: "HOST PID\n" of the process writing it, so
 * that a later run can tell a folder left by a dead process (kill -9, a
 * node's crash: no handler runs) from one another run is writing now. */
#define OWNER_FILE ".garner-owner"

struct gar_outdir {
    char final[PATH_MAX];
    char partial[PATH_MAX];
    char lock[PATH_MAX];
    char file[2 * PATH_MAX];
    int lock_fd;      /* DIR.lock, flock()ed; -1: none (attach/begin failed, or locks unsupported) */
    int overwrite;
    int placed;       /* the results are in `final` (published, or attached): write there */
};

static int dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int empty = 1;
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    closedir(d);
    return empty;
}

/* mkdir -p */
static gar_status make_dirs(const char *path, const char *what)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return gar_error(GAR_ERR_USAGE, "%s: invalid folder name", what);
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return gar_error(GAR_ERR_OUTPUT, "%s: cannot create folder %s: %s", what, buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return gar_error(GAR_ERR_OUTPUT, "%s: cannot create folder %s: %s", what, buf, strerror(errno));
    return GAR_OK;
}

/* rm -r, without following symbolic links: an old refine folder holds
 * iter_NNN folders. The depth limit only guards against a pathological tree. */
static void remove_tree_depth(const char *path, int depth)
{
    DIR *d;
    struct dirent *e;
    struct stat sb;
    char buf[2 * PATH_MAX];
    if (depth > 16 || (d = opendir(path)) == NULL) {
        rmdir(path);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(buf, sizeof buf, "%s/%s", path, e->d_name);
        if (lstat(buf, &sb) == 0 && S_ISDIR(sb.st_mode))
            remove_tree_depth(buf, depth + 1);
        else
            unlink(buf);
    }
    closedir(d);
    rmdir(path);
}

static void remove_tree(const char *path) { remove_tree_depth(path, 0); }

static void host_name(char *host, size_t len)
{
    if (gethostname(host, len) != 0 || host[0] == '\0')
        snprintf(host, len, "?");
    host[len - 1] = '\0';
}

/* Folders "<final>.partial-<pid>" left by earlier runs into the same
 * output: removed when their owner file names this host and a process that
 * no longer exists; otherwise named in a warning (another host's process,
 * or a run still going, cannot be judged from here). A "<final>.old-<pid>"
 * is an earlier result that a swap (gar_outdir_publish) had moved aside
 * when its process died: put back when <final> is missing, else named. */
static void clean_stale_partials(const char *final)
{
    char parent[PATH_MAX], prefix[PATH_MAX + 16], old_prefix[PATH_MAX + 16], host[256] = "";
    char path[2 * PATH_MAX], owner[3 * PATH_MAX];
    const char *slash = strrchr(final, '/'), *base = slash != NULL ? slash + 1 : final;
    DIR *d;
    struct dirent *e;
    struct stat sb;
    if (slash == NULL)
        snprintf(parent, sizeof parent, ".");
    else
        snprintf(parent, sizeof parent, "%.*s", slash == final ? 1 : (int)(slash - final), final);
    snprintf(prefix, sizeof prefix, "%s.partial-", base);
    snprintf(old_prefix, sizeof old_prefix, "%s.old-", base);
    if (gethostname(host, sizeof host) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    if ((d = opendir(parent)) == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char *end, who[256] = "";
        long pid, owner_pid = 0;
        FILE *f;
        if (strncmp(e->d_name, old_prefix, strlen(old_prefix)) == 0) {
            pid = strtol(e->d_name + strlen(old_prefix), &end, 10);
            if (*end != '\0' || pid <= 0 || pid == (long)getpid())
                continue;
            snprintf(path, sizeof path, "%s/%s", parent, e->d_name);
            if (stat(final, &sb) != 0 && errno == ENOENT && rename(path, final) == 0)
                gar_log_warn("%s: put back the earlier results that process %ld had moved to %s when it ended",
                             final, pid, path);
            else
                gar_log_warn("%s holds earlier results of %s that process %ld moved aside; remove it if they "
                             "are not needed", path, final, pid);
            continue;
        }
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        pid = strtol(e->d_name + strlen(prefix), &end, 10);
        if (*end != '\0' || pid <= 0 || pid == (long)getpid())
            continue;
        snprintf(path, sizeof path, "%s/%s", parent, e->d_name);
        snprintf(owner, sizeof owner, "%s/%s", path, OWNER_FILE);
        if ((f = fopen(owner, "r")) != NULL) {
            if (fscanf(f, "%255s %ld", who, &owner_pid) != 2)
                who[0] = '\0';
            fclose(f);
        }
        if (who[0] != '\0' && strcmp(who, host) == 0 && owner_pid == pid && kill((pid_t)pid, 0) != 0 &&
            errno == ESRCH) {
            remove_tree(path);
            gar_log_info("removed %s, left by process %ld on this host, which has ended", path, pid);
        } else if (who[0] != '\0' && strcmp(who, host) == 0) {
            gar_log_warn("%s belongs to process %ld, still running: another run writes into the same output",
                         path, pid);
        } else {
            gar_log_warn("%s was left by process %ld on %s; remove it if that run has ended", path, pid,
                         who[0] != '\0' ? who : "an unknown host");
        }
    }
    closedir(d);
}

/* The lock holder's "HOST PID" for the refusal. It writes them just after
 * taking the lock, so an empty file is read again for a moment. */
static void read_lock_owner(int fd, char *who, size_t len, long *pid)
{
    char buf[320];
    struct timespec pause = {0, 10 * 1000 * 1000};
    *pid = 0;
    snprintf(who, len, "?");
    for (int tries = 0; tries < 50; tries++) {
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        char name[256];
        if (n > 0) {
            buf[n] = '\0';
            if (sscanf(buf, "%255s %ld", name, pid) == 2) {
                snprintf(who, len, "%s", name);
                return;
            }
        }
        nanosleep(&pause, NULL);
    }
}

/* Take "<final>.lock" (flock, exclusive, not waiting) and write "HOST PID"
 * into it. The holder removes the file when it lets go; a run that opened
 * the file before that removal may then lock a file no longer under the
 * name, so the lock counts only once the name still leads to the locked
 * file (else it tries again). A filesystem without locks (ENOLCK, ENOSYS:
 * some NFS mounts) gets a warning and no lock, rather than no run. */
static gar_status take_lock(gar_outdir *o, const char *what)
{
    int fd = -1;
    for (int tries = 0;; tries++) {
        struct stat by_fd, by_name;
        if ((fd = open(o->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666)) < 0)
            return gar_error(GAR_ERR_OUTPUT, "%s: cannot create the lock file %s: %s", what, o->lock,
                             strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int err = errno;
            char who[256];
            long pid;
            if (err == EWOULDBLOCK) {
                read_lock_owner(fd, who, sizeof who, &pid);
                close(fd);
                if (pid > 0)
                    return gar_error(GAR_ERR_OUTPUT, "%s: %s: another garner run (pid %ld on %s) is writing it",
                                     what, o->final, pid, who);
                return gar_error(GAR_ERR_OUTPUT, "%s: %s: another garner run is writing it (%s is locked)", what,
                                 o->final, o->lock);
            }
            close(fd);
            if (err == ENOLCK || err == ENOSYS || err == EOPNOTSUPP) {
                gar_log_warn("%s: cannot lock %s (%s): a second run into %s at the same time would not be "
                             "refused", what, o->lock, strerror(err), o->final);
                unlink(o->lock);
                return GAR_OK;
            }
            return gar_error(GAR_ERR_OUTPUT, "%s: cannot lock %s: %s", what, o->lock, strerror(err));
        }
        if (fstat(fd, &by_fd) == 0 && stat(o->lock, &by_name) == 0 && by_fd.st_dev == by_name.st_dev &&
            by_fd.st_ino == by_name.st_ino)
            break;
        close(fd);
        if (tries == 100)
            return gar_error(GAR_ERR_OUTPUT, "%s: cannot lock %s: it keeps being replaced", what, o->lock);
    }
    {
        char host[256], line[320];
        int n;
        host_name(host, sizeof host);
        n = snprintf(line, sizeof line, "%s %ld\n", host, (long)getpid());
        /* The owner's name only words a refusal: no reason to fail the run. */
        if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)n, 0) != n)
            gar_log_warn("%s: cannot write the owner into %s: %s", what, o->lock, strerror(errno));
    }
    o->lock_fd = fd;
    return GAR_OK;
}

/* Remove the lock file while still holding it (see take_lock), then let go. */
static void release_lock(gar_outdir *o)
{
    if (o->lock_fd < 0)
        return;
    unlink(o->lock);
    close(o->lock_fd);
    o->lock_fd = -1;
}

/* The names and the lock; the parent folder made first unless `attach`
 * (a folder to continue must exist already). */
static gar_status new_outdir(const char *dir, int overwrite, int attach, const char *what, gar_outdir **out)
{
    gar_outdir *o = NULL;
    char parent[PATH_MAX], *slash;
    gar_status st;
    *out = NULL;
    if (strlen(dir) + 32 >= PATH_MAX)
        return gar_error(GAR_ERR_USAGE, "%s: folder name too long", what);
    if ((st = gar_calloc((void **)&o, 1, sizeof *o, "output folder")) != GAR_OK)
        return st;
    o->lock_fd = -1;
    o->overwrite = overwrite;
    snprintf(o->final, sizeof o->final, "%s", dir);
    /* Strip trailing slashes so the sibling names are well formed. */
    for (size_t n = strlen(o->final); n > 1 && o->final[n - 1] == '/'; n--)
        o->final[n - 1] = '\0';
    snprintf(o->lock, sizeof o->lock, "%s.lock", o->final);
    if (snprintf(o->partial, sizeof o->partial, "%s.partial-%ld", o->final, (long)getpid()) >=
        (int)sizeof o->partial) {
        st = gar_error(GAR_ERR_USAGE, "%s: folder name too long", what);
        goto fail;
    }
    snprintf(parent, sizeof parent, "%s", o->final);
    slash = strrchr(parent, '/');
    if (!attach && slash != NULL && slash != parent) {
        *slash = '\0';
        if ((st = make_dirs(parent, what)) != GAR_OK)
            goto fail;
    }
    if ((st = take_lock(o, what)) != GAR_OK)
        goto fail;
    *out = o;
    return GAR_OK;
fail:
    free(o);
    return st;
}

gar_status gar_outdir_begin(const char *dir, int overwrite, const char *const *inputs,
                            size_t n_inputs, const char *what, gar_outdir **out)
{
    gar_outdir *o = NULL;
    struct stat sb;
    gar_status st;
    *out = NULL;
    /* An input named as the output is the likelier mistake, so it is named
     * as such rather than as a file where a folder should be. */
    for (size_t i = 0; i < n_inputs; i++) {
        char a[PATH_MAX], b[PATH_MAX];
        if (realpath(dir, a) != NULL && realpath(inputs[i], b) != NULL && strcmp(a, b) == 0)
            return gar_error(GAR_ERR_USAGE, "%s: %s is also an input; choose another output folder",
                             what, dir);
    }
    if (stat(dir, &sb) == 0 && !S_ISDIR(sb.st_mode))
        return gar_error(GAR_ERR_USAGE, "%s: %s exists and is not a folder", what, dir);
    if ((st = new_outdir(dir, overwrite, 0, what, &o)) != GAR_OK)
        return st;
    /* Judged under the lock: a run that held it may have just put its
     * results there. */
    if (stat(o->final, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode)) {
            st = gar_error(GAR_ERR_USAGE, "%s: %s exists and is not a folder", what, dir);
            goto fail;
        }
        if (!overwrite && !dir_is_empty(o->final)) {
            st = gar_error(GAR_ERR_USAGE, "%s: %s exists and is not empty (set [output] overwrite = "
                           "yes, or --set output.overwrite=yes, to replace its files)", what, dir);
            goto fail;
        }
    }
    clean_stale_partials(o->final);
    remove_tree(o->partial);
    if (mkdir(o->partial, 0777) != 0) {
        st = gar_error(GAR_ERR_OUTPUT, "%s: cannot create folder %s: %s", what, o->partial, strerror(errno));
        goto fail;
    }
    {
        char host[256], owner[2 * PATH_MAX];
        FILE *f;
        host_name(host, sizeof host);
        snprintf(owner, sizeof owner, "%s/%s", o->partial, OWNER_FILE);
        /* Without it a later run only warns about this folder: no reason
         * to fail the run. */
        if ((f = fopen(owner, "w")) != NULL) {
            fprintf(f, "%s %ld\n", host, (long)getpid());
            fclose(f);
        }
    }
    *out = o;
    return GAR_OK;
fail:
    release_lock(o);
    free(o);
    return st;
}

gar_status gar_outdir_attach(const char *dir, const char *what, gar_outdir **out)
{
    gar_outdir *o = NULL;
    struct stat sb;
    gar_status st;
    *out = NULL;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return gar_error(GAR_ERR_NOINPUT, "%s: %s: %s", what, dir,
                         stat(dir, &sb) != 0 ? strerror(errno) : "not a folder");
    if ((st = new_outdir(dir, 0, 1, what, &o)) != GAR_OK)
        return st;
    clean_stale_partials(o->final);
    o->placed = 1;
    *out = o;
    return GAR_OK;
}

const char *gar_outdir_file(gar_outdir *o, const char *name)
{
    snprintf(o->file, sizeof o->file, "%s/%s", gar_outdir_current(o), name);
    return o->file;
}

const char *gar_outdir_final(const gar_outdir *o) { return o->final; }

const char *gar_outdir_current(const gar_outdir *o) { return o->placed ? o->final : o->partial; }

/* GARNER_TEST_FAIL_SWAP=1 (a test hook, see gar_outdir.h): the swap's
 * second rename fails, as a full or failing filesystem would make it. */
static int test_fail_swap(void)
{
    const char *env = getenv("GARNER_TEST_FAIL_SWAP");
    return env != NULL && strcmp(env, "1") == 0;
}

/* An existing `final` replaced by the partial folder as a whole. Where
 * renameat2 can exchange the two names, one atomic step; else the old
 * folder is renamed aside to "<final>.old-PID", the new one into place,
 * and the old one put back if that second rename fails, so either the old
 * results or the new ones are under the name, never a mix of both. The
 * old folder is removed last. */
static gar_status swap_into_place(gar_outdir *o)
{
    char old[PATH_MAX + 32];
    int err;
#ifdef RENAME_EXCHANGE
    if (!test_fail_swap()) {
        if (renameat2(AT_FDCWD, o->partial, AT_FDCWD, o->final, RENAME_EXCHANGE) == 0) {
            remove_tree(o->partial);   /* now the old results */
            return GAR_OK;
        }
        /* Filesystems or kernels without the exchange: the three renames. */
        if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP && errno != ENOTSUP)
            return gar_error(GAR_ERR_OUTPUT, "cannot exchange %s and %s: %s; %s is unchanged", o->partial,
                             o->final, strerror(errno), o->final);
    }
#endif
    snprintf(old, sizeof old, "%s.old-%ld", o->final, (long)getpid());
    remove_tree(old);
    if (rename(o->final, old) != 0)
        return gar_error(GAR_ERR_OUTPUT, "cannot move %s aside to %s: %s; it is unchanged", o->final, old,
                         strerror(errno));
    if (test_fail_swap()) {
        err = EIO;
    } else if (rename(o->partial, o->final) == 0) {
        remove_tree(old);
        return GAR_OK;
    } else {
        err = errno;
    }
    if (rename(old, o->final) != 0)
        return gar_error(GAR_ERR_OUTPUT, "cannot rename %s to %s: %s; the earlier results of %s are in %s "
                         "(could not be put back: %s)", o->partial, o->final, strerror(err), o->final, old,
                         strerror(errno));
    return gar_error(GAR_ERR_OUTPUT, "cannot rename %s to %s: %s; %s is unchanged", o->partial, o->final,
                     strerror(err), o->final);
}

gar_status gar_outdir_publish(gar_outdir *o)
{
    gar_status st = GAR_OK;
    struct stat sb;
    char owner[2 * PATH_MAX];
    if (o->placed)
        return GAR_OK;
    /* The owner file describes the partial folder, not the result. */
    snprintf(owner, sizeof owner, "%s/%s", o->partial, OWNER_FILE);
    unlink(owner);
    if (lstat(o->final, &sb) == 0 && o->overwrite) {
        st = swap_into_place(o);
    } else if (rename(o->partial, o->final) != 0) {
        /* Without overwrite only a missing or empty folder is replaced:
         * rename(2) refuses a non-empty one (ENOTEMPTY, EEXIST), which
         * another program may have filled meanwhile. */
        if (errno == ENOTEMPTY || errno == EEXIST)
            st = gar_error(GAR_ERR_OUTPUT, "%s: appeared meanwhile and is not empty; not replaced (set [output] "
                           "overwrite = yes to replace it)", o->final);
        else
            st = gar_error(GAR_ERR_OUTPUT, "cannot rename %s to %s: %s", o->partial, o->final, strerror(errno));
    }
    if (st == GAR_OK)
        o->placed = 1;
    return st;
}

gar_status gar_outdir_commit(gar_outdir **po)
{
    gar_status st = gar_outdir_publish(*po);
    if (st != GAR_OK) {
        gar_outdir_abort(po);
        return st;
    }
    release_lock(*po);
    free(*po);
    *po = NULL;
    return GAR_OK;
}

void gar_outdir_abort(gar_outdir **po)
{
    if (po == NULL || *po == NULL)
        return;
    if (!(*po)->placed)
        remove_tree((*po)->partial);
    release_lock(*po);
    free(*po);
    *po = NULL;
}
