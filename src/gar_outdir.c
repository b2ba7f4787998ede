#include "gar_outdir.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    remove_tree(o->partial);
    if (mkdir(o->partial, 0777) != 0) {
        st = gar_error(GAR_ERR_OUTPUT, "%s: cannot create folder %s: %s", what, o->partial, strerror(errno));
        goto fail;
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
