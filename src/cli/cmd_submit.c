/* garner submit: write a Slurm batch script for a run from the template and
 * hand it to sbatch (or print it with --dry-run). */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "gar_cli.h"
#include "gar_log.h"

static const char submit_help[] =
    "usage: garner submit PARAMS [options]\n"
    "\n"
    "Write a Slurm batch script for `garner reconstruct PARAMS` (or refine, with\n"
    "--command refine) from garner's\n"
    "template (share/garner/garner.sbatch.in) and submit it with sbatch. The job\n"
    "runs `srun --mpi=pmi2 --kill-on-bad-exit=1`. On one node, one rank drives all\n"
    "of its GPUs; on several nodes with --gpus-per-node G, G ranks per node (one\n"
    "per GPU): rank 0 only hands out work, and the other ranks of its node take\n"
    "its GPUs between them, so no GPU stays idle. Two minutes\n"
    "before the time limit garner checkpoints (refine: keeps its finished\n"
    "iterations) and exits 75; the job is requeued and resumes (refine:\n"
    "--continue). The script is written beside the parameter file as\n"
    "PARAMS.sbatch, the log as garner-JOBID.log.\n"
    "\n"
    "options:\n"
    "  --command C          reconstruct (default) or refine\n"
    "  --nodes N            nodes (default 1)\n"
    "  --ranks-per-node R   MPI ranks per node (default 1, or G on several nodes with --gpus-per-node G)\n"
    "  --gpus-per-node G    GPUs per node (default: none requested)\n"
    "  --cpus-per-task C    cores per rank (default: none requested)\n"
    "  --partition P        Slurm partition (default: the cluster's default)\n"
    "  --time T             time limit, as sbatch takes it (default 01:00:00)\n"
    "  --job-name NAME      job name (default garner)\n"
    "  --dry-run            print the script instead of submitting it\n"
    "  -h, --help           this help\n";

/* The template: $GARNER_TEMPLATE, the installed copy, or the source tree's. */
static FILE *open_template(const char *argv0, char *path, size_t len)
{
    const char *env = getenv("GARNER_TEMPLATE");
    char exe[PATH_MAX], dir[PATH_MAX];
    FILE *f;
    if (env != NULL) {
        snprintf(path, len, "%s", env);
        return fopen(path, "r");
    }
    snprintf(path, len, "%s/garner.sbatch.in", GAR_PKGDATADIR);
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
    (void)argv0;
    snprintf(path, len, "%s/garner.sbatch.in", GAR_PKGDATADIR);
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

int gar_cmd_submit(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"nodes", required_argument, NULL, 'n'},      {"ranks-per-node", required_argument, NULL, 'r'},
        {"gpus-per-node", required_argument, NULL, 'g'}, {"cpus-per-task", required_argument, NULL, 'c'},
        {"partition", required_argument, NULL, 'p'},  {"time", required_argument, NULL, 't'},
        {"job-name", required_argument, NULL, 'j'},   {"dry-run", no_argument, NULL, 'd'},
        {"command", required_argument, NULL, 'm'},    {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    size_t nodes = 1, ranks = 1, gpus = 0, cpus = 0;
    int ranks_given = 0;
    const char *partition = "", *time_limit = "01:00:00", *job = "garner", *command = "reconstruct";
    int dry = 0, c, rc = 0;
    gar_status st = GAR_OK;
    char params[PATH_MAX], garner[PATH_MAX], tpl_path[PATH_MAX], script[PATH_MAX + 32], log[PATH_MAX + 32];
    char s_nodes[32], s_ranks[32], s_gpus[32], s_cpus[32];
    FILE *tpl = NULL, *out = NULL;

    optind = 1;
    opterr = 0;
    while (st == GAR_OK && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': st = gar_cli_size("--nodes", optarg, &nodes); break;
        case 'r':
            st = gar_cli_size("--ranks-per-node", optarg, &ranks);
            ranks_given = 1;
            break;
        case 'g': st = gar_cli_size("--gpus-per-node", optarg, &gpus); break;
        case 'c': st = gar_cli_size("--cpus-per-task", optarg, &cpus); break;
        case 'p': partition = optarg; break;
        case 't': time_limit = optarg; break;
        case 'j': job = optarg; break;
        case 'd': dry = 1; break;
        case 'm':
            if (strcmp(optarg, "reconstruct") != 0 && strcmp(optarg, "refine") != 0)
                return gar_cli_usage_error("submit", "--command '%s': expected reconstruct or refine", optarg);
            command = optarg;
            break;
        case 'h': fputs(submit_help, stdout); return 0;
        default: return gar_cli_usage_error("submit", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (st != GAR_OK)
        return gar_cli_fail(st);
    if (optind != argc - 1)
        return gar_cli_usage_error("submit", "expected one parameter file");
    if (nodes < 1 || ranks < 1)
        return gar_cli_usage_error("submit", "--nodes and --ranks-per-node must be at least 1");
    /* One rank per node would leave the first node's GPUs idle: its rank is
     * the master. With one rank per GPU its other ranks share them out. */
    if (!ranks_given && nodes > 1 && gpus > 0)
        ranks = gpus;
    if (realpath(argv[optind], params) == NULL) {
        st = gar_error(GAR_ERR_NOINPUT, "%s: %s", argv[optind], strerror(errno));
        return gar_cli_fail(st);
    }
    ssize_t n = readlink("/proc/self/exe", garner, sizeof garner - 1);
    if (n <= 0)
        snprintf(garner, sizeof garner, "garner");
    else
        garner[n] = '\0';
    if ((tpl = open_template(argv[0], tpl_path, sizeof tpl_path)) == NULL) {
        st = gar_error(GAR_ERR_NOINPUT, "%s: batch template not found (set GARNER_TEMPLATE)", tpl_path);
        return gar_cli_fail(st);
    }
    snprintf(s_nodes, sizeof s_nodes, "%zu", nodes);
    snprintf(s_ranks, sizeof s_ranks, "%zu", ranks);
    snprintf(s_gpus, sizeof s_gpus, gpus ? "%zu" : "", gpus);
    snprintf(s_cpus, sizeof s_cpus, cpus ? "%zu" : "", cpus);
    {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", params);
        snprintf(log, sizeof log, "%s/garner-%%j.log", dirname(dir));
    }
    field fields[] = {
        {"JOB", job},           {"NODES", s_nodes}, {"RANKS_PER_NODE", s_ranks}, {"CPUS", s_cpus},
        {"GPUS", s_gpus},       {"PARTITION", partition}, {"TIME", time_limit}, {"LOG", log},
        {"GARNER", garner},     {"PARAMS", params},   {"COMMAND", command},
        {"RESUME", strcmp(command, "refine") == 0 ? "--continue" : "--resume"},
    };
    if (dry) {
        st = fill(tpl, stdout, fields, sizeof fields / sizeof fields[0]);
        fclose(tpl);
        return st == GAR_OK ? 0 : gar_cli_fail(st);
    }
    snprintf(script, sizeof script, "%s.sbatch", params);
    if ((out = fopen(script, "w")) == NULL) {
        fclose(tpl);
        st = gar_error(GAR_ERR_OUTPUT, "%s: cannot create: %s", script, strerror(errno));
        return gar_cli_fail(st);
    }
    st = fill(tpl, out, fields, sizeof fields / sizeof fields[0]);
    fclose(tpl);
    if (fclose(out) != 0 && st == GAR_OK)
        st = gar_error(GAR_ERR_IO, "%s: write failed", script);
    if (st != GAR_OK)
        return gar_cli_fail(st);
    gar_log_info("wrote %s", script);
    {
        char cmd[2 * PATH_MAX];
        snprintf(cmd, sizeof cmd, "sbatch '%s'", script);
        rc = system(cmd);
        if (rc != 0) {
            st = gar_error(GAR_ERR_NOT_BUILT, "sbatch failed or is not installed (exit %d); submit %s by hand",
                           rc, script);
            return gar_cli_fail(st);
        }
    }
    return 0;
}
