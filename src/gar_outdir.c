#include "gar_outdir.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "gar_log.h"

/* Inside every partial folder: "HOST PID\n" of the process writing it, so
 * that a later run can tell a folder left by a dead process (kill -9, a
 * node's crash: no handler runs) from one another run is writing now. */
#define OWNER_FILE ".garner-owner"

struct gar_outdir {
    char final[PATH_MAX];
    char partial[PATH_MAX];
    char file[2 * PATH_MAX];
    int final_exists;
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

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    char buf[2 * PATH_MAX];
    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(buf, sizeof buf, "%s/%s", path, e->d_name);
            unlink(buf);
        }
        closedir(d);
    }
    rmdir(path);
}

/* Folders "<final>.partial-<pid>" left by earlier runs into the same
 * output: removed when their owner file names this host and a process that
 * no longer exists; otherwise named in a warning (another host's process,
 * or a run still going, cannot be judged from here). */
static void clean_stale_partials(const char *final)
{
    char parent[PATH_MAX], prefix[PATH_MAX + 16], host[256] = "", path[2 * PATH_MAX], owner[3 * PATH_MAX];
    const char *slash = strrchr(final, '/'), *base = slash != NULL ? slash + 1 : final;
    DIR *d;
    struct dirent *e;
    if (slash == NULL)
        snprintf(parent, sizeof parent, ".");
    else
        snprintf(parent, sizeof parent, "%.*s", slash == final ? 1 : (int)(slash - final), final);
    snprintf(prefix, sizeof prefix, "%s.partial-", base);
    if (gethostname(host, sizeof host) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    if ((d = opendir(parent)) == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char *end, who[256] = "";
        long pid, owner_pid = 0;
        FILE *f;
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

gar_status gar_outdir_begin(const char *dir, int overwrite, const char *const *inputs,
                            size_t n_inputs, const char *what, gar_outdir **out)
{
    gar_outdir *o = NULL;
    struct stat sb;
    char parent[PATH_MAX], *slash;
    gar_status st;
    *out = NULL;
    if (strlen(dir) + 32 >= PATH_MAX)
        return gar_error(GAR_ERR_USAGE, "%s: folder name too long", what);
    /* An input named as the output is the likelier mistake, so it is named
     * as such rather than as a file where a folder should be. */
    for (size_t i = 0; i < n_inputs; i++) {
        char a[PATH_MAX], b[PATH_MAX];
        if (realpath(dir, a) != NULL && realpath(inputs[i], b) != NULL && strcmp(a, b) == 0)
            return gar_error(GAR_ERR_USAGE, "%s: %s is also an input; choose another output folder",
                             what, dir);
    }
    if (stat(dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode))
            return gar_error(GAR_ERR_USAGE, "%s: %s exists and is not a folder", what, dir);
        if (!overwrite && !dir_is_empty(dir))
            return gar_error(GAR_ERR_USAGE, "%s: %s exists and is not empty (set [output] overwrite = "
                             "yes, or --set output.overwrite=yes, to replace its files)", what, dir);
    }
    if ((st = gar_calloc((void **)&o, 1, sizeof *o, "output folder")) != GAR_OK)
        return st;
    snprintf(o->final, sizeof o->final, "%s", dir);
    /* Strip trailing slashes so the sibling name is well formed. */
    for (size_t n = strlen(o->final); n > 1 && o->final[n - 1] == '/'; n--)
        o->final[n - 1] = '\0';
    o->final_exists = stat(o->final, &sb) == 0;
    snprintf(parent, sizeof parent, "%s", o->final);
    slash = strrchr(parent, '/');
    if (slash != NULL && slash != parent) {
        *slash = '\0';
        if ((st = make_dirs(parent, what)) != GAR_OK)
            goto fail;
    }
    if (snprintf(o->partial, sizeof o->partial, "%s.partial-%ld", o->final, (long)getpid()) >=
        (int)sizeof o->partial) {
        st = gar_error(GAR_ERR_USAGE, "%s: folder name too long", what);
        goto fail;
    }
    clean_stale_partials(o->final);
    remove_tree(o->partial);
    if (mkdir(o->partial, 0777) != 0) {
        st = gar_error(GAR_ERR_OUTPUT, "%s: cannot create folder %s: %s", what, o->partial, strerror(errno));
        goto fail;
    }
    {
        char host[256] = "?", owner[2 * PATH_MAX];
        FILE *f;
        if (gethostname(host, sizeof host) != 0 || host[0] == '\0')
            snprintf(host, sizeof host, "?");
        host[sizeof host - 1] = '\0';
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
    free(o);
    return st;
}

const char *gar_outdir_file(gar_outdir *o, const char *name)
{
    snprintf(o->file, sizeof o->file, "%s/%s", o->partial, name);
    return o->file;
}

const char *gar_outdir_final(const gar_outdir *o) { return o->final; }

gar_status gar_outdir_commit(gar_outdir **po)
{
    gar_outdir *o = *po;
    gar_status st = GAR_OK;
    struct stat sb;
    char owner[2 * PATH_MAX];
    /* The owner file describes the partial folder, not the result. */
    snprintf(owner, sizeof owner, "%s/%s", o->partial, OWNER_FILE);
    unlink(owner);
    if (stat(o->final, &sb) != 0) {
        if (rename(o->partial, o->final) != 0)
            st = gar_error(GAR_ERR_OUTPUT, "cannot rename %s to %s: %s", o->partial, o->final, strerror(errno));
    } else {
        DIR *d = opendir(o->partial);
        struct dirent *e;
        char from[2 * PATH_MAX], to[2 * PATH_MAX];
        if (d == NULL) {
            st = gar_error(GAR_ERR_OUTPUT, "cannot read %s: %s", o->partial, strerror(errno));
        } else {
            while ((e = readdir(d)) != NULL && st == GAR_OK) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                snprintf(from, sizeof from, "%s/%s", o->partial, e->d_name);
                snprintf(to, sizeof to, "%s/%s", o->final, e->d_name);
                if (rename(from, to) != 0)
                    st = gar_error(GAR_ERR_OUTPUT, "cannot move %s into %s: %s", from, o->final, strerror(errno));
            }
            closedir(d);
        }
    }
    if (st != GAR_OK) {
        gar_outdir_abort(po);
        return st;
    }
    remove_tree(o->partial);
    free(o);
    *po = NULL;
    return GAR_OK;
}

void gar_outdir_abort(gar_outdir **po)
{
    if (po == NULL || *po == NULL)
        return;
    remove_tree((*po)->partial);
    free(*po);
    *po = NULL;
}
