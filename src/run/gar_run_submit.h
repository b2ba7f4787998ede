/* garner submit, the run: a Slurm batch script for a run, from garner's
 * template, handed to sbatch (the command line: src/cli/cmd_submit.c). */
#ifndef GAR_RUN_SUBMIT_H
#define GAR_RUN_SUBMIT_H

#include <stddef.h>
#include "gar_run.h"
#include "gar_status.h"

typedef struct gar_submit_request {
    const char *params;            /* the run's parameter file, as given */
    gar_run_command command;       /* GAR_RUN_RECONSTRUCT or GAR_RUN_REFINE */
    size_t nodes;                  /* >= 1 */
    size_t ranks_per_node;         /* 0: 1, or gpus_per_node on several nodes */
    size_t gpus_per_node;          /* 0: none requested */
    size_t cpus_per_task;          /* 0: none requested */
    const char *partition;         /* "": the cluster's default */
    const char *time_limit;        /* as sbatch takes it */
    const char *job_name;
    int dry_run;                   /* print the script to stdout; write and submit nothing */
    const char *datadir;           /* where garner's data is installed: the template is
                                    * $GARNER_TEMPLATE, else DATADIR/garner.sbatch.in, else
                                    * scripts/garner.sbatch.in beside the program (a build) */
} gar_submit_request;

/* Fill the template's @FIELD@s (an #SBATCH line whose field is empty is
 * left out) and write the script beside the parameter file as
 * PARAMS.sbatch, its log as garner-JOBID.log there too; then run sbatch on
 * it (GAR_ERR_NOT_BUILT when sbatch fails or is missing: the script stays
 * to submit by hand). The caller owns the request. */
gar_status gar_run_submit(const gar_submit_request *req);

#endif
