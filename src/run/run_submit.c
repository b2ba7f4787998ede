/* garner submit, the run (see gar_run_submit.h). */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gar_log.h"
#include "gar_run_submit.h"

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
    const char *value;   /* "" or NULL: the line is left out if it is an #SBATCH line */
} field;

/* Copy the template, replacing @KEY@ fields; drop #SBATCH lines whose field is empty. */
static gar_status fill(FILE *in, FILE *out, const field *fields, size_t n)
{
    char line[1024];
    while (fgets(line, sizeof line, in) != NULL) {
        char result[4096];
        size_t used = 0;
        int empty_field = 0;
        for (const char *p = line; *p && used + 1 < sizeof result;) {
            const char *end;
            if (*p == '@' && (end = strchr(p + 1, '@')) != NULL && end > p + 1) {
                size_t klen = (size_t)(end - p - 1), k;
                for (k = 0; k < n; k++)
                    if (strlen(fields[k].key) == klen && strncmp(fields[k].key, p + 1, klen) == 0)
                        break;
                if (k < n) {
                    const char *v = fields[k].value ? fields[k].value : "";
                    if (*v == '\0')
                        empty_field = 1;
                    used += (size_t)snprintf(result + used, sizeof result - used, "%s", v);
                    p = end + 1;
                    continue;
                }
            }
            result[used++] = *p++;
            result[used] = '\0';
        }
        result[used] = '\0';
        if (empty_field && strncmp(result, "#SBATCH", 7) == 0)
            continue;
        fputs(result, out);
    }
    return ferror(in) || ferror(out) ? gar_error(GAR_ERR_IO, "writing the batch script failed") : GAR_OK;
}

gar_status gar_run_submit(const gar_submit_request *req)
{
    gar_status st = GAR_OK;
    const char *command;
    char params[PATH_MAX], garner[PATH_MAX], tpl_path[PATH_MAX], script[PATH_MAX + 32], log[PATH_MAX + 32];
    char s_nodes[32], s_ranks[32], s_gpus[32], s_cpus[32];
    size_t ranks = req->ranks_per_node;
    FILE *tpl = NULL, *out = NULL;
    int rc;

    if (req->command != GAR_RUN_RECONSTRUCT && req->command != GAR_RUN_REFINE)
        return gar_error(GAR_ERR_USAGE, "garner submit runs reconstruct or refine");
    command = req->command == GAR_RUN_REFINE ? "refine" : "reconstruct";
    /* One rank per node would leave the first node's GPUs idle: its rank is
     * the master. With one rank per GPU its other ranks share them out. */
    if (ranks == 0)
        ranks = req->nodes > 1 && req->gpus_per_node > 0 ? req->gpus_per_node : 1;
    if (realpath(req->params, params) == NULL)
        return gar_error(GAR_ERR_NOINPUT, "%s: %s", req->params, strerror(errno));
    ssize_t n = readlink("/proc/self/exe", garner, sizeof garner - 1);
    if (n <= 0)
        snprintf(garner, sizeof garner, "garner");
    else
        garner[n] = '\0';
    if ((tpl = open_template(req->datadir, tpl_path, sizeof tpl_path)) == NULL)
        return gar_error(GAR_ERR_NOINPUT, "%s: batch template not found (set GARNER_TEMPLATE)", tpl_path);
    snprintf(s_nodes, sizeof s_nodes, "%zu", req->nodes);
    snprintf(s_ranks, sizeof s_ranks, "%zu", ranks);
    snprintf(s_gpus, sizeof s_gpus, req->gpus_per_node ? "%zu" : "", req->gpus_per_node);
    snprintf(s_cpus, sizeof s_cpus, req->cpus_per_task ? "%zu" : "", req->cpus_per_task);
    {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", params);
        snprintf(log, sizeof log, "%s/garner-%%j.log", dirname(dir));
    }
    field fields[] = {
        {"JOB", req->job_name}, {"NODES", s_nodes}, {"RANKS_PER_NODE", s_ranks}, {"CPUS", s_cpus},
        {"GPUS", s_gpus},       {"PARTITION", req->partition}, {"TIME", req->time_limit}, {"LOG", log},
        {"GARNER", garner},     {"PARAMS", params},   {"COMMAND", command},
        {"RESUME", req->command == GAR_RUN_REFINE ? "--continue" : "--resume"},
    };
    if (req->dry_run) {
        st = fill(tpl, stdout, fields, sizeof fields / sizeof fields[0]);
        fclose(tpl);
        return st;
    }
    snprintf(script, sizeof script, "%s.sbatch", params);
    if ((out = fopen(script, "w")) == NULL) {
        fclose(tpl);
        return gar_error(GAR_ERR_OUTPUT, "%s: cannot create: %s", script, strerror(errno));
    }
    st = fill(tpl, out, fields, sizeof fields / sizeof fields[0]);
    fclose(tpl);
    if (fclose(out) != 0 && st == GAR_OK)
        st = gar_error(GAR_ERR_IO, "%s: write failed", script);
    if (st != GAR_OK)
        return st;
    gar_log_info("wrote %s", script);
    {
        char cmd[2 * PATH_MAX];
        struct sigaction dfl, old;
        snprintf(cmd, sizeof cmd, "sbatch '%s'", script);
        /* garner ignores SIGPIPE (gar_signal.h); an ignored signal stays
         * ignored across exec, so give sbatch and its shell the default. */
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(SIGPIPE, &dfl, &old);
        rc = system(cmd);
        sigaction(SIGPIPE, &old, NULL);
        if (rc != 0)
            return gar_error(GAR_ERR_NOT_BUILT, "sbatch failed or is not installed (exit %d); submit %s by hand",
                             rc, script);
    }
    return GAR_OK;
}
