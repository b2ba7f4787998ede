/* garner submit, the run: a Slurm batch script for a run, from garner's
 * template, handed to sbatch (the command line: src/cli/cmd_submit.c). */
#ifndef GAR_RUN_SUBMIT_H
#define GAR_RUN_SUBMIT_H

#include <stddef.h>
#include "gar_run.h"
#include "gar_status.h"

/* A size the command line did not give (the site defaults or garner's apply). */
#define GAR_SUBMIT_UNSET ((size_t)-1)
/* Cores per rank when neither the command line, the site defaults nor
 * [reconstruct] threads say: Slurm's own default is one. */
#define GAR_SUBMIT_DEFAULT_CPUS 8

typedef struct gar_submit_request {
    const char *params;            /* the run's parameter file, as given */
    gar_run_command command;       /* GAR_RUN_RECONSTRUCT or GAR_RUN_REFINE */
    size_t nodes;                  /* >= 1 */
    size_t ranks_per_node;         /* 0: 1, or gpus_per_node on several nodes */
    /* GAR_SUBMIT_UNSET or NULL: not given, so the site defaults' value, else
     * garner's default (no GPUs; cores from [reconstruct] threads, else
     * GAR_SUBMIT_DEFAULT_CPUS; the cluster's partition, account, QOS, memory
     * and constraint; 01:00:00; "garner"). A given 0 or "" requests none. */
    size_t gpus_per_node;
    size_t cpus_per_task;
    const char *partition;
    const char *time_limit;        /* as sbatch takes it */
    const char *job_name;
    const char *account;
    const char *qos;
    const char *mem;               /* per node, as sbatch --mem takes it (e.g. 64G) */
    const char *constraint;
    /* Added after the site defaults' own: "#SBATCH ARG" lines, each ARG an
     * option ("--mail-type=END"), and `module load NAME` lines before srun. */
    const char *const *sbatch_args;
    size_t n_sbatch_args;
    const char *const *modules;
    size_t n_modules;
    int dry_run;                   /* print the script to stdout; write and submit nothing */
    const char *datadir;           /* where garner's data is installed: the template is
                                    * $GARNER_TEMPLATE, else DATADIR/garner.sbatch.in, else
                                    * scripts/garner.sbatch.in beside the program (a build) */
    const char *sysconfdir;        /* the site defaults are $GARNER_SUBMIT_DEFAULTS, else
                                    * SYSCONFDIR/garner/submit.conf where it exists */
} gar_submit_request;

/* Check the parameter file as `garner reconstruct` (or refine) would load
 * it (unknown keys, values, globs that match nothing, the required keys;
 * refine: initial_map) and refuse with its error before anything is
 * written; read the site defaults; fill the template's @FIELD@s (an
 * #SBATCH line whose field is empty, or a line that is only an empty field,
 * is left out; a field given a value that the template lacks is an error,
 * since the job would run without it); write the script beside the
 * parameter file as PARAMS.sbatch (under a temporary name, then renamed),
 * its log as garner-JOBID.log there too; then run sbatch on it
 * (GAR_ERR_NOT_BUILT when sbatch fails or is missing, with its exit status
 * and its stderr: the script stays to submit by hand). The caller owns the
 * request. */
gar_status gar_run_submit(const gar_submit_request *req);

#endif
