#include "gar_cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <getopt.h>
#include "gar_log.h"
#include "gar_run.h"
#include "gar_run_params.h"

int gar_cli_fail(gar_status st)
{
    /* Stopping on request is not an error: "garner import: stopped by
     * SIGTERM; nothing written" (docs/RELIABILITY.md, "Signals"). */
    if (st == GAR_ERR_STOPPED)
        gar_log_info("%s", gar_errmsg());
    else
        gar_log_error("%s", gar_errmsg());
    return gar_status_exit_code(st);
}

int gar_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gar_log_error("%s (see 'garner %s --help')", msg, cmd);
    return gar_status_exit_code(GAR_ERR_USAGE);
}

gar_status gar_cli_double(const char *opt, const char *text, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno != 0 || !isfinite(v))
        return gar_error(GAR_ERR_USAGE, "%s: expected a number, got '%s'", opt, text);
    *out = v;
    return GAR_OK;
}

gar_status gar_cli_u64(const char *opt, const char *text, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    if (text[0] == '-')
        return gar_error(GAR_ERR_USAGE, "%s: expected a non-negative integer, got '%s'", opt, text);
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0)
        return gar_error(GAR_ERR_USAGE, "%s: expected a non-negative integer, got '%s'", opt, text);
    *out = (uint64_t)v;
    return GAR_OK;
}

gar_status gar_cli_size(const char *opt, const char *text, size_t *out)
{
    uint64_t v;
    gar_status st = gar_cli_u64(opt, text, &v);
    if (st == GAR_OK && v > SIZE_MAX)
        st = gar_error(GAR_ERR_USAGE, "%s: %s is too large", opt, text);
    if (st == GAR_OK)
        *out = (size_t)v;
    return st;
}

gar_status gar_cli_range(const char *opt, const char *text, double *lo, double *hi)
{
    char buf[128];
    char *colon;
    gar_status st;
    snprintf(buf, sizeof buf, "%s", text);
    colon = strchr(buf, ':');
    if (colon == NULL)
        return gar_error(GAR_ERR_USAGE, "%s: expected MIN:MAX, got '%s'", opt, text);
    *colon = '\0';
    if ((st = gar_cli_double(opt, buf, lo)) != GAR_OK ||
        (st = gar_cli_double(opt, colon + 1, hi)) != GAR_OK)
        return st;
    if (*lo > *hi)
        return gar_error(GAR_ERR_USAGE, "%s: MIN %g is larger than MAX %g", opt, *lo, *hi);
    return GAR_OK;
}

int gar_cli_parallel_main(int argc, char **argv, const char *name, const char *help, int can_resume,
                          int command)
{
    /* --resume (reconstruct's word) and --continue (refine's) name one idea:
     * go on from what an interrupted run kept. Both commands take both.
     * Without a resume option (tune) the table ends before them. */
    const struct option longopts[] = {
        {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {"threads", required_argument, NULL, 't'},
        {can_resume ? "resume" : NULL, no_argument, NULL, 'r'},
        {"continue", no_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    const char *sets[256];
    char threads_set[64];
    gar_run_request req = {(gar_run_command)command, NULL, sets, 0, 0};
    int c, report = 1;
    size_t threads;
    gar_status st;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (req.n_sets == sizeof sets / sizeof sets[0])
                return gar_cli_usage_error(name, "too many --set options");
            sets[req.n_sets++] = optarg;
            break;
        case 'r': req.resume = 1; break;
        case 't':
            /* A shortcut for --set reconstruct.threads=N, checked by the
             * schema's bounds like any --set. */
            if ((st = gar_cli_size("--threads", optarg, &threads)) != GAR_OK)
                return gar_cli_fail(st);
            if (req.n_sets == sizeof sets / sizeof sets[0])
                return gar_cli_usage_error(name, "too many --set options");
            snprintf(threads_set, sizeof threads_set, "reconstruct.threads=%zu", threads);
            sets[req.n_sets++] = threads_set;
            break;
        case 'h':
            /* The keys come from the schema, so the help cannot drift from it. */
            fputs(help, stdout);
            printf("\nparameter keys and defaults ('garner params %s' writes them as a commented\n"
                   "file, a line on each; docs/PARAMETERS.md explains them):\n", name);
            gar_run_params_key_list(name, stdout);
            return 0;
        default: return gar_cli_usage_error(name, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return gar_cli_usage_error(name, "expected one parameter file");
    req.params_path = argv[optind];
    st = gar_run_parallel(&req, &report);
    if (st == GAR_OK)
        return 0;
    /* Every rank found the same error; rank 0 says it once. */
    if (!report)
        return gar_status_exit_code(st);
    /* A checkpoint at a signal is the expected end of a job at its time limit. */
    if (st == GAR_ERR_CHECKPOINT) {
        gar_log_info("%s", gar_errmsg());
        return gar_status_exit_code(st);
    }
    return gar_cli_fail(st);
}
