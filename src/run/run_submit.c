/* garner submit, the run (see gar_run_submit.h). */
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gar_atomic.h"
#include "gar_log.h"
#include "gar_params.h"
#include "gar_run_submit.h"
#include "run_files.h"
#include "run_settings.h"

extern char **environ;

/* ---- the parameter file, checked as the run will load it ---- */

/* A map file named by [section] key is there to read (the run reads it
 * only once the job starts). */
static gar_status check_map_file(const gar_params *p, const char *section, const char *key, const char *path)
{
    char loc[512];
    FILE *f;
    if (path == NULL)
        return GAR_OK;
    if ((f = fopen(path, "rb")) == NULL) {
        int err = errno;
        run_where(p, section, key, loc, sizeof loc);
        return gar_error(GAR_ERR_NOINPUT, "%s: %s: %s", loc, path, strerror(err));
    }
    fclose(f);
    return GAR_OK;
}

/* The loading and the checks of `garner reconstruct`/`refine` that need no
 * GPU and no stack opened; *threads gets [reconstruct] threads. */
static gar_status check_params(const gar_submit_request *req, long *threads)
{
    gar_params *p = NULL;
    gar_settings set;
    gar_status st;
    if ((st = gar_params_load(req->params, &p)) != GAR_OK)
        return st;
    memset(&set, 0, sizeof set);
    if ((st = run_read_settings(p, &set)) != GAR_OK)
        goto done;
    if (req->command == GAR_RUN_REFINE) {
        if ((st = gar_params_require(p, "refine", "initial_map")) != GAR_OK ||
            (st = check_map_file(p, "refine", "initial_map", set.refine.initial_map)) != GAR_OK)
            goto done;
    }
    if ((st = check_map_file(p, "reconstruct", "reference", set.reconstruct.reference)) != GAR_OK)
        goto done;
    *threads = set.reconstruct.threads;
done:
    gar_params_destroy(&p);
    return st;
}

/* ---- the site defaults ---- */

typedef struct strlist {
    char **items;
    size_t n;
} strlist;

static gar_status strlist_push(strlist *l, const char *s)
{
    char **grown = realloc(l->items, (l->n + 1) * sizeof *grown);
    char *copy = strdup(s);
    if (grown == NULL || copy == NULL) {
        free(copy);
        if (grown != NULL)
            l->items = grown;
        return gar_error(GAR_ERR_NOMEM, "cannot allocate the batch script's lines");
    }
    l->items = grown;
    l->items[l->n++] = copy;
    return GAR_OK;
}

static void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* One value per key for the scalars; the lists add up. */
enum site_key {
    SITE_ACCOUNT, SITE_PARTITION, SITE_QOS, SITE_MEM, SITE_CONSTRAINT, SITE_TIME, SITE_JOB_NAME,
    SITE_CPUS, SITE_GPUS, SITE_N_SCALARS,
    SITE_SBATCH_ARG = SITE_N_SCALARS, SITE_MODULE, SITE_SETUP, SITE_N_KEYS
};
static const char *const site_key_names[SITE_N_KEYS] = {
    "account", "partition", "qos", "mem", "constraint", "time", "job-name", "cpus-per-task", "gpus-per-node",
    "sbatch-arg", "module", "setup",
};

typedef struct site_defaults {
    char path[PATH_MAX];                 /* "": none */
    char *scalar[SITE_N_SCALARS];        /* NULL: not given */
    long scalar_line[SITE_N_SCALARS];
    strlist sbatch_args, modules, setup;
} site_defaults;

static void site_free(site_defaults *s)
{
    for (size_t k = 0; k < SITE_N_SCALARS; k++)
        free(s->scalar[k]);
    strlist_free(&s->sbatch_args);
    strlist_free(&s->modules);
    strlist_free(&s->setup);
}

/* An sbatch option to pass through: one line, starting with '-'. */
static gar_status check_sbatch_arg(const char *where, const char *arg)
{
    if (arg[0] != '-' || strchr(arg, '\n') != NULL)
        return gar_error(GAR_ERR_USAGE, "%s '%s': expected one sbatch option, such as --mail-type=END", where, arg);
    return GAR_OK;
}

static char *trim(char *s)
{
    char *end = s + strlen(s);
    while (*s && isspace((unsigned char)*s))
        s++;
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* KEY = VALUE lines, the keys named as garner submit's options; '#' starts
 * a comment line. Read line by line here (not with inih) so that every
 * error names its line, and a setup line keeps its ';' and '#'. */
static gar_status site_parse(FILE *f, site_defaults *s)
{
    gar_status st = GAR_OK;
    char *line = NULL, where[PATH_MAX + 64];
    size_t cap = 0;
    long lineno = 0;
    while (st == GAR_OK && getline(&line, &cap, f) != -1) {
        char *text = trim(line), *eq, *key, *value;
        size_t k;
        lineno++;
        snprintf(where, sizeof where, "%s:%ld:", s->path, lineno);
        if (*text == '\0' || *text == '#')
            continue;
        if ((eq = strchr(text, '=')) == NULL) {
            st = gar_error(GAR_ERR_USAGE, "%s expected KEY = VALUE (keys: account, partition, qos, mem, "
                           "constraint, time, job-name, cpus-per-task, gpus-per-node, sbatch-arg, module, setup)", where);
            break;
        }
        *eq = '\0';
        key = trim(text);
        value = trim(eq + 1);
        for (k = 0; k < SITE_N_KEYS; k++)
            if (strcmp(key, site_key_names[k]) == 0)
                break;
        if (k == SITE_N_KEYS) {
            st = gar_error(GAR_ERR_USAGE, "%s unknown key '%s' (keys: account, partition, qos, mem, constraint, "
                           "time, job-name, cpus-per-task, gpus-per-node, sbatch-arg, module, setup)", where, key);
        } else if (k < SITE_N_SCALARS) {
            if (s->scalar[k] != NULL)
                st = gar_error(GAR_ERR_USAGE, "%s %s given twice (first on line %ld)", where, key, s->scalar_line[k]);
            else if ((s->scalar[k] = strdup(value)) == NULL)
                st = gar_error(GAR_ERR_NOMEM, "%s cannot allocate the value", where);
            s->scalar_line[k] = lineno;
        } else if (*value == '\0') {
            st = gar_error(GAR_ERR_USAGE, "%s %s: empty value", where, key);
        } else if (k == SITE_SBATCH_ARG) {
            char opt[PATH_MAX + 80];
            snprintf(opt, sizeof opt, "%s sbatch-arg", where);
            if ((st = check_sbatch_arg(opt, value)) == GAR_OK)
                st = strlist_push(&s->sbatch_args, value);
        } else {
            st = strlist_push(k == SITE_MODULE ? &s->modules : &s->setup, value);
        }
    }
    free(line);
    if (st == GAR_OK && ferror(f))
        st = gar_error(GAR_ERR_IO, "%s: read failed", s->path);
    return st;
}

/* $GARNER_SUBMIT_DEFAULTS (which must exist), else SYSCONFDIR/garner/submit.conf
 * where there is one. */
static gar_status site_load(const char *sysconfdir, site_defaults *s)
{
    const char *env = getenv("GARNER_SUBMIT_DEFAULTS");
    gar_status st;
    FILE *f;
    memset(s, 0, sizeof *s);
    if (env != NULL && *env != '\0') {
        snprintf(s->path, sizeof s->path, "%s", env);
        if ((f = fopen(s->path, "r")) == NULL)
            return gar_error(GAR_ERR_NOINPUT, "%s: %s (named by GARNER_SUBMIT_DEFAULTS)", s->path, strerror(errno));
    } else {
        snprintf(s->path, sizeof s->path, "%s/garner/submit.conf", sysconfdir ? sysconfdir : "/etc");
        if ((f = fopen(s->path, "r")) == NULL) {
            if (errno == ENOENT) {
                s->path[0] = '\0';
                return GAR_OK;
            }
            return gar_error(GAR_ERR_NOINPUT, "%s: %s", s->path, strerror(errno));
        }
    }
    st = site_parse(f, s);
    fclose(f);
    return st;
}

/* A size from the site defaults (GAR_SUBMIT_UNSET where not given). */
static gar_status site_size(const site_defaults *s, int key, size_t *out)
{
    const char *v = s->scalar[key];
    char *end;
    unsigned long long n;
    *out = GAR_SUBMIT_UNSET;
    if (v == NULL)
        return GAR_OK;
    errno = 0;
    n = strtoull(v, &end, 10);
    if (*v == '\0' || *end != '\0' || *v == '-' || errno != 0 || n > 1u << 20)
        return gar_error(GAR_ERR_USAGE, "%s:%ld: %s = '%s': expected a whole number", s->path, s->scalar_line[key],
                         site_key_names[key], v);
    *out = (size_t)n;
    return GAR_OK;
}

/* ---- the script ---- */

/* The template: $GARNER_TEMPLATE, the installed copy, or the source tree's. */
static FILE *open_template(const char *datadir, char *path, size_t len)
{
    const char *env = getenv("GARNER_TEMPLATE");
    char exe[PATH_MAX], dir[PATH_MAX];
    FILE *f;
    if (env != NULL) {
        snprintf(path, len, "%s", env);
        return fopen(path, "r");
    }
    snprintf(path, len, "%s/garner.sbatch.in", datadir);
    if ((f = fopen(path, "r")) != NULL)
        return f;
    /* An uninstalled build: the template sits in scripts/ beside the binary. */
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        snprintf(dir, sizeof dir, "%s", exe);
        snprintf(path, len, "%s/scripts/garner.sbatch.in", dirname(dir));
        if ((f = fopen(path, "r")) != NULL)
            return f;
    }
    snprintf(path, len, "%s/garner.sbatch.in", datadir);
    return NULL;
}

typedef struct field {
    const char *key;
    const char *value;   /* "" or NULL: an #SBATCH line holding it, or a line that is only it, is left out */
    int must_use;        /* a value here the template has no place for is an error */
    int used;
} field;

/* Copy the template into *out (malloc'd), replacing the @KEY@ fields. */
static gar_status fill(FILE *in, const char *tpl_path, field *fields, size_t n, char **out, size_t *out_len)
{
    gar_status st = GAR_OK;
    char *line = NULL, *res = NULL;
    size_t cap = 0, res_len = 0;
    FILE *script = open_memstream(out, out_len);
    if (script == NULL)
        return gar_error(GAR_ERR_NOMEM, "cannot allocate the batch script");
    while (st == GAR_OK && getline(&line, &cap, in) != -1) {
        FILE *m = open_memstream(&res, &res_len);
        int empty_field = 0, any_field = 0, only_fields = 1;
        if (m == NULL) {
            st = gar_error(GAR_ERR_NOMEM, "cannot allocate the batch script");
            break;
        }
        for (const char *p = line; *p;) {
            const char *end = NULL;
            size_t k = n;
            if (*p == '@' && (end = strchr(p + 1, '@')) != NULL && end > p + 1)
                for (k = 0; k < n; k++)
                    if (strlen(fields[k].key) == (size_t)(end - p - 1) &&
                        strncmp(fields[k].key, p + 1, (size_t)(end - p - 1)) == 0)
                        break;
            if (k < n) {
                const char *v = fields[k].value ? fields[k].value : "";
                fields[k].used = 1;
                any_field = 1;
                empty_field |= *v == '\0';
                fputs(v, m);
                p = end + 1;
            } else {
                only_fields &= isspace((unsigned char)*p) != 0;
                fputc(*p++, m);
            }
        }
        if (fclose(m) != 0) {
            st = gar_error(GAR_ERR_NOMEM, "cannot allocate the batch script");
            break;
        }
        int blank = 1;
        for (const char *p = res; *p; p++)
            blank &= isspace((unsigned char)*p) != 0;
        if (!(empty_field && strncmp(res, "#SBATCH", 7) == 0) && !(any_field && only_fields && blank))
            fputs(res, script);
        free(res);
        res = NULL;
    }
    if (st == GAR_OK && ferror(in))
        st = gar_error(GAR_ERR_IO, "%s: read failed", tpl_path);
    free(line);
    if (fclose(script) != 0 && st == GAR_OK)
        st = gar_error(GAR_ERR_NOMEM, "cannot allocate the batch script");
    for (size_t k = 0; st == GAR_OK && k < n; k++)
        if (fields[k].must_use && !fields[k].used && fields[k].value != NULL && fields[k].value[0] != '\0')
            st = gar_error(GAR_ERR_DATA, "%s: the batch template has no @%s@ field, so '%s' would be left out of "
                           "the job: add it (see garner's share/garner/garner.sbatch.in)", tpl_path, fields[k].key,
                           fields[k].value);
    if (st != GAR_OK) {
        free(*out);
        *out = NULL;
    }
    return st;
}

/* 'text' quoted for the shell. */
static void put_quoted(FILE *f, const char *text)
{
    fputc('\'', f);
    for (const char *p = text; *p; p++)
        if (*p == '\'')
            fputs("'\\''", f);
        else
            fputc(*p, f);
    fputc('\'', f);
}

/* The #SBATCH lines passed through: the site's, then the command line's. */
static gar_status sbatch_lines(const site_defaults *site, const gar_submit_request *req, char **out)
{
    size_t len;
    FILE *m = open_memstream(out, &len);
    if (m == NULL)
        return gar_error(GAR_ERR_NOMEM, "cannot allocate the batch script");
    for (size_t i = 0; i < site->sbatch_args.n; i++)
        fprintf(m, "%s#SBATCH %s", ftell(m) ? "\n" : "", site->sbatch_args.items[i]);
    for (size_t i = 0; i < req->n_sbatch_args; i++)
        fprintf(m, "%s#SBATCH %s", ftell(m) ? "\n" : "", req->sbatch_args[i]);
    return fclose(m) == 0 ? GAR_OK : gar_error(GAR_ERR_NOMEM, "cannot allocate the batch script");
}

/* The job's environment before srun: the site's setup lines, then a module
 * load for each module (the site's, then the command line's), each one
 * ending the job if it fails rather than leaving garner to start without
 * its libraries. */
static gar_status environment_lines(const site_defaults *site, const gar_submit_request *req, char **out)
{
    size_t len, n_modules = site->modules.n + req->n_modules;
    FILE *m = open_memstream(out, &len);
    if (m == NULL)
        return gar_error(GAR_ERR_NOMEM, "cannot allocate the batch script");
    for (size_t i = 0; i < site->setup.n; i++)
        fprintf(m, "%s%s", ftell(m) ? "\n" : "", site->setup.items[i]);
    if (n_modules > 0) {
        /* A batch shell is not a login shell: define `module` where the
         * submitting shell did not pass it on. */
        fprintf(m, "%sif ! command -v module >/dev/null 2>&1; then\n"
                   "    for init in /etc/profile.d/lmod.sh /usr/share/lmod/lmod/init/bash /etc/profile.d/modules.sh; do\n"
                   "        if [ -r \"$init\" ]; then . \"$init\"; break; fi\n"
                   "    done\n"
                   "fi",
                ftell(m) ? "\n" : "");
        for (size_t i = 0; i < n_modules; i++) {
            const char *name = i < site->modules.n ? site->modules.items[i] : req->modules[i - site->modules.n];
            char said[PATH_MAX];
            snprintf(said, sizeof said, "garner job: module load %s failed", name);
            fputs("\nmodule load ", m);
            put_quoted(m, name);
            fputs(" || { echo ", m);
            put_quoted(m, said);
            fputs(" >&2; exit 1; }", m);
        }
    }
    return fclose(m) == 0 ? GAR_OK : gar_error(GAR_ERR_NOMEM, "cannot allocate the batch script");
}

/* ---- sbatch ---- */

/* Run `sbatch SCRIPT`, its stdout ours ("Submitted batch job N"), its
 * stderr collected: passed on when it succeeds, and in the error when it
 * fails, with its exit status. */
static gar_status run_sbatch(const char *script)
{
    gar_status st = GAR_OK;
    char *argv[] = {"sbatch", (char *)script, NULL};
    char *err = NULL, buf[4096];
    size_t err_len = 0;
    int fds[2], rc, status = 0;
    ssize_t got;
    pid_t pid;
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t dfl;
    FILE *m;

    if (pipe(fds) != 0)
        return gar_error(GAR_ERR_IO, "cannot run sbatch: pipe: %s", strerror(errno));
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    /* garner ignores SIGPIPE (gar_signal.h); an ignored signal stays
     * ignored across exec, so give sbatch the default. */
    posix_spawnattr_init(&attr);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    fflush(stdout);
    rc = posix_spawnp(&pid, "sbatch", &actions, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return gar_error(GAR_ERR_NOT_BUILT, "cannot run sbatch: %s (not a Slurm login node?); the script is written: "
                         "submit %s with sbatch where Slurm is", strerror(rc), script);
    }
    if ((m = open_memstream(&err, &err_len)) == NULL)
        st = gar_error(GAR_ERR_NOMEM, "cannot allocate sbatch's messages");
    while ((got = read(fds[0], buf, sizeof buf)) != 0) {
        if (got < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (m != NULL)
            fwrite(buf, 1, (size_t)got, m);
    }
    close(fds[0]);
    if (m != NULL)
        fclose(m);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            if (st == GAR_OK)
                st = gar_error(GAR_ERR_INTERNAL, "waiting for sbatch: %s", strerror(errno));
            break;
        }
    if (st == GAR_OK && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        if (err != NULL)
            fputs(err, stderr);
    } else if (st == GAR_OK) {
        /* sbatch's messages on one line. */
        char said[1024] = "";
        size_t used = 0;
        for (char *save = NULL, *l = strtok_r(err ? err : (char[]){""}, "\n", &save); l != NULL;
             l = strtok_r(NULL, "\n", &save)) {
            l = trim(l);
            if (*l != '\0' && used < sizeof said)
                used += (size_t)snprintf(said + used, sizeof said - used, "%s%s", used ? "; " : "", l);
        }
        if (WIFEXITED(status))
            st = gar_error(GAR_ERR_NOT_BUILT, "sbatch %s exited with status %d: %s; fix that and submit it by hand "
                           "(sbatch %s) or run garner submit again", script, WEXITSTATUS(status),
                           *said ? said : "(no message)", script);
        else
            st = gar_error(GAR_ERR_NOT_BUILT, "sbatch %s was killed by signal %d%s%s; submit it by hand", script,
                           WIFSIGNALED(status) ? WTERMSIG(status) : 0, *said ? ": " : "", said);
    }
    free(err);
    return st;
}

/* ---- the run ---- */

static const char *pick(const char *given, const char *site, const char *dflt)
{
    return given != NULL ? given : site != NULL ? site : dflt;
}

gar_status gar_run_submit(const gar_submit_request *req)
{
    gar_status st = GAR_OK;
    const char *command;
    char params[PATH_MAX], garner[PATH_MAX], tpl_path[PATH_MAX], script[PATH_MAX + 32], log[PATH_MAX + 32];
    char s_nodes[32], s_ranks[32], s_gpus[32], s_cpus[32];
    char *sbatch_extra = NULL, *environment = NULL, *text = NULL;
    size_t text_len = 0, ranks = req->ranks_per_node, gpus, cpus, site_gpus, site_cpus;
    long threads = 0;
    site_defaults site;
    gar_atomic out = {0};
    FILE *tpl = NULL, *f = NULL;

    memset(&site, 0, sizeof site);
    if (req->command != GAR_RUN_RECONSTRUCT && req->command != GAR_RUN_REFINE)
        return gar_error(GAR_ERR_USAGE, "garner submit runs reconstruct or refine");
    command = req->command == GAR_RUN_REFINE ? "refine" : "reconstruct";
    for (size_t i = 0; i < req->n_sbatch_args; i++)
        if ((st = check_sbatch_arg("--sbatch-arg", req->sbatch_args[i])) != GAR_OK)
            return st;
    /* The job would fail on these only after its wait in the queue. */
    if ((st = check_params(req, &threads)) != GAR_OK)
        return st;
    if (realpath(req->params, params) == NULL)
        return gar_error(GAR_ERR_NOINPUT, "%s: %s", req->params, strerror(errno));
    if ((st = site_load(req->sysconfdir, &site)) != GAR_OK || (st = site_size(&site, SITE_GPUS, &site_gpus)) != GAR_OK ||
        (st = site_size(&site, SITE_CPUS, &site_cpus)) != GAR_OK)
        goto done;
    if (site.path[0] != '\0')
        gar_log_info("site defaults from %s", site.path);

    gpus = req->gpus_per_node != GAR_SUBMIT_UNSET ? req->gpus_per_node : site_gpus != GAR_SUBMIT_UNSET ? site_gpus : 0;
    /* Slurm gives a task one core unless asked: as many as the run's
     * threads, else a share that keeps a GPU fed or a CPU run going. */
    cpus = req->cpus_per_task != GAR_SUBMIT_UNSET ? req->cpus_per_task
         : site_cpus != GAR_SUBMIT_UNSET          ? site_cpus
         : threads > 0                            ? (size_t)threads
                                                  : GAR_SUBMIT_DEFAULT_CPUS;
    if (threads > 0 && cpus > 0 && (size_t)threads > cpus)
        gar_log_warn("%s: [reconstruct] threads = %ld, but the job asks for %zu cores per rank: the threads will "
                     "share them (give --cpus-per-task %ld)", req->params, threads, cpus, threads);
    /* One rank per node would leave the first node's GPUs idle: its rank is
     * the master. With one rank per GPU its other ranks share them out. */
    if (ranks == 0)
        ranks = req->nodes > 1 && gpus > 0 ? gpus : 1;
    ssize_t n = readlink("/proc/self/exe", garner, sizeof garner - 1);
    if (n <= 0)
        snprintf(garner, sizeof garner, "garner");
    else
        garner[n] = '\0';
    if ((tpl = open_template(req->datadir, tpl_path, sizeof tpl_path)) == NULL) {
        st = gar_error(GAR_ERR_NOINPUT, "%s: batch template not found (set GARNER_TEMPLATE)", tpl_path);
        goto done;
    }
    snprintf(s_nodes, sizeof s_nodes, "%zu", req->nodes);
    snprintf(s_ranks, sizeof s_ranks, "%zu", ranks);
    snprintf(s_gpus, sizeof s_gpus, gpus ? "%zu" : "", gpus);
    snprintf(s_cpus, sizeof s_cpus, cpus ? "%zu" : "", cpus);
    {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", params);
        snprintf(log, sizeof log, "%s/garner-%%j.log", dirname(dir));
    }
    if ((st = sbatch_lines(&site, req, &sbatch_extra)) != GAR_OK ||
        (st = environment_lines(&site, req, &environment)) != GAR_OK)
        goto done;
    field fields[] = {
        {"JOB", pick(req->job_name, site.scalar[SITE_JOB_NAME], "garner"), 0, 0},
        /* A template of a site's own may leave out what it is not given. */
        {"NODES", s_nodes, req->nodes > 1, 0},
        {"RANKS_PER_NODE", s_ranks, ranks > 1, 0},
        {"CPUS", s_cpus, req->cpus_per_task != GAR_SUBMIT_UNSET || site_cpus != GAR_SUBMIT_UNSET, 0},
        {"GPUS", s_gpus, 1, 0},
        {"PARTITION", pick(req->partition, site.scalar[SITE_PARTITION], ""), 1, 0},
        {"ACCOUNT", pick(req->account, site.scalar[SITE_ACCOUNT], ""), 1, 0},
        {"QOS", pick(req->qos, site.scalar[SITE_QOS], ""), 1, 0},
        {"MEM", pick(req->mem, site.scalar[SITE_MEM], ""), 1, 0},
        {"CONSTRAINT", pick(req->constraint, site.scalar[SITE_CONSTRAINT], ""), 1, 0},
        {"TIME", pick(req->time_limit, site.scalar[SITE_TIME], "01:00:00"),
         req->time_limit != NULL || site.scalar[SITE_TIME] != NULL, 0},
        {"SBATCH_ARGS", sbatch_extra, 1, 0},
        {"ENVIRONMENT", environment, 1, 0},
        {"LOG", log, 0, 0},
        {"GARNER", garner, 1, 0},
        {"PARAMS", params, 1, 0},
        {"COMMAND", command, 1, 0},
        {"RESUME", req->command == GAR_RUN_REFINE ? "--continue" : "--resume", 0, 0},
    };
    if ((st = fill(tpl, tpl_path, fields, sizeof fields / sizeof fields[0], &text, &text_len)) != GAR_OK)
        goto done;
    if (req->dry_run) {
        if (fwrite(text, 1, text_len, stdout) != text_len || fflush(stdout) != 0)
            st = gar_error(GAR_ERR_IO, "writing the batch script to stdout failed: %s", strerror(errno));
        goto done;
    }
    snprintf(script, sizeof script, "%s.sbatch", params);
    if ((st = gar_atomic_begin(&out, script, 0)) != GAR_OK)
        goto done;
    if ((f = fopen(out.tmp, "w")) == NULL) {
        st = gar_error(GAR_ERR_OUTPUT, "%s: cannot create: %s", script, strerror(errno));
        goto done;
    }
    if (fwrite(text, 1, text_len, f) != text_len)
        st = gar_error(GAR_ERR_IO, "%s: write failed: %s", script, strerror(errno));
    if (fclose(f) != 0 && st == GAR_OK)
        st = gar_error(GAR_ERR_IO, "%s: write failed: %s", script, strerror(errno));
    if (st != GAR_OK || (st = gar_atomic_commit(&out)) != GAR_OK)
        goto done;
    gar_log_info("wrote %s", script);
    st = run_sbatch(script);
done:
    gar_atomic_abort(&out);
    if (tpl != NULL)
        fclose(tpl);
    free(text);
    free(sbatch_extra);
    free(environment);
    site_free(&site);
    return st;
}
