/* garner submit: write a Slurm batch script for a run from the template and
 * hand it to sbatch (or print it with --dry-run); the run:
 * src/run/run_submit.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gar_cli.h"
#include "gar_run_submit.h"

static const char submit_help[] =
    "usage: garner submit PARAMS [options]\n"
    "\n"
    "Write a Slurm batch script for `garner reconstruct PARAMS` (or refine, with\n"
    "--command refine) and submit it with sbatch. PARAMS is checked first as the\n"
    "run will load it (unknown keys, values, stacks globs that match nothing,\n"
    "required keys; refine: initial_map): an error there is reported now, with\n"
    "nothing written, not after the job's wait in the queue.\n"
    "\n"
    "The job runs `srun --mpi=pmi2 --kill-on-bad-exit=1`. On one node, one rank\n"
    "drives all of its GPUs; on several nodes with --gpus-per-node G, G ranks per\n"
    "node (one per GPU): rank 0 only hands out work, and the other ranks of its\n"
    "node take its GPUs between them. Two minutes before the time limit garner\n"
    "checkpoints (refine: keeps its finished iterations) and exits 75; the job is\n"
    "requeued and resumes (refine: --continue). The script is written beside the\n"
    "parameter file as PARAMS.sbatch, the log as garner-JOBID.log. A failed\n"
    "sbatch is reported with its exit status and message (exit 69); the script\n"
    "stays, to submit by hand.\n"
    "\n"
    "options:\n"
    "  --command C          reconstruct (default) or refine\n"
    "  --nodes N            nodes (default 1)\n"
    "  --ranks-per-node R   MPI ranks per node (default 1, or G on several nodes with\n"
    "                       --gpus-per-node G)\n"
    "  --gpus-per-node G    GPUs per node (default: none requested)\n"
    "  --cpus-per-task C    cores per rank (default: [reconstruct] threads when set,\n"
    "                       else 8; 0 leaves it to Slurm, usually 1)\n"
    "  --mem M              memory per node, as sbatch takes it (e.g. 64G)\n"
    "  --partition P        Slurm partition (default: the cluster's default)\n"
    "  --account A          account to charge\n"
    "  --qos Q              quality of service\n"
    "  --constraint F       node features (sbatch --constraint)\n"
    "  --time T             time limit, as sbatch takes it (default 01:00:00)\n"
    "  --job-name NAME      job name (default garner)\n"
    "  --sbatch-arg ARG     any other sbatch option, as one word (--sbatch-arg\n"
    "                       --mail-type=END); repeatable\n"
    "  --module NAME        `module load NAME` in the job before srun; repeatable\n"
    "  --dry-run            print the script instead of writing and submitting it\n"
    "  -h, --help           this help\n"
    "\n"
    "Site defaults: the file named by GARNER_SUBMIT_DEFAULTS, else\n"
    "  " GAR_SYSCONFDIR "/garner/submit.conf where it exists, holds\n"
    "KEY = VALUE lines ('#' starts a comment line), each KEY one of the options\n"
    "above without its dashes (account, partition, qos, mem, constraint, time,\n"
    "job-name, cpus-per-task, gpus-per-node, sbatch-arg, module), or setup: a\n"
    "shell line the job runs before its modules. The command line overrides a\n"
    "value; sbatch-arg, module and setup lines add to the command line's.\n"
    "The template is GARNER_TEMPLATE, else the installed\n"
    "share/garner/garner.sbatch.in.\n";

int gar_cmd_submit(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"nodes", required_argument, NULL, 'n'},      {"ranks-per-node", required_argument, NULL, 'r'},
        {"gpus-per-node", required_argument, NULL, 'g'}, {"cpus-per-task", required_argument, NULL, 'c'},
        {"partition", required_argument, NULL, 'p'},  {"time", required_argument, NULL, 't'},
        {"job-name", required_argument, NULL, 'j'},   {"dry-run", no_argument, NULL, 'd'},
        {"command", required_argument, NULL, 'm'},    {"help", no_argument, NULL, 'h'},
        {"account", required_argument, NULL, 'A'},    {"qos", required_argument, NULL, 'q'},
        {"mem", required_argument, NULL, 'M'},        {"constraint", required_argument, NULL, 'C'},
        {"sbatch-arg", required_argument, NULL, 'S'}, {"module", required_argument, NULL, 'L'},
        {NULL, 0, NULL, 0},
    };
    gar_submit_request req = {
        .command = GAR_RUN_RECONSTRUCT,
        .nodes = 1,
        .gpus_per_node = GAR_SUBMIT_UNSET,
        .cpus_per_task = GAR_SUBMIT_UNSET,
        .datadir = GAR_PKGDATADIR,
        .sysconfdir = GAR_SYSCONFDIR,
    };
    /* The repeatable options, pointing into argv: at most one per argument. */
    const char **sbatch_args = calloc((size_t)argc + 1, sizeof *sbatch_args);
    const char **modules = calloc((size_t)argc + 1, sizeof *modules);
    int ranks_given = 0, c, rc = 0;
    gar_status st = GAR_OK;

    if (sbatch_args == NULL || modules == NULL) {
        st = gar_error(GAR_ERR_NOMEM, "cannot allocate the options");
        goto done;
    }
    req.sbatch_args = sbatch_args;
    req.modules = modules;
    optind = 1;
    opterr = 0;
    while (st == GAR_OK && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': st = gar_cli_size("--nodes", optarg, &req.nodes); break;
        case 'r':
            st = gar_cli_size("--ranks-per-node", optarg, &req.ranks_per_node);
            ranks_given = 1;
            break;
        case 'g': st = gar_cli_size("--gpus-per-node", optarg, &req.gpus_per_node); break;
        case 'c': st = gar_cli_size("--cpus-per-task", optarg, &req.cpus_per_task); break;
        case 'p': req.partition = optarg; break;
        case 't': req.time_limit = optarg; break;
        case 'j': req.job_name = optarg; break;
        case 'A': req.account = optarg; break;
        case 'q': req.qos = optarg; break;
        case 'M': req.mem = optarg; break;
        case 'C': req.constraint = optarg; break;
        case 'S': sbatch_args[req.n_sbatch_args++] = optarg; break;
        case 'L': modules[req.n_modules++] = optarg; break;
        case 'd': req.dry_run = 1; break;
        case 'm':
            if (strcmp(optarg, "reconstruct") == 0)
                req.command = GAR_RUN_RECONSTRUCT;
            else if (strcmp(optarg, "refine") == 0)
                req.command = GAR_RUN_REFINE;
            else {
                rc = gar_cli_usage_error("submit", "--command '%s': expected reconstruct or refine", optarg);
                goto done;
            }
            break;
        case 'h': fputs(submit_help, stdout); goto done;
        default:
            rc = gar_cli_usage_error("submit", "unknown or incomplete option '%s'", argv[optind - 1]);
            goto done;
        }
    }
    if (st != GAR_OK)
        goto done;
    if (optind != argc - 1) {
        rc = gar_cli_usage_error("submit", "expected one parameter file");
        goto done;
    }
    if (req.nodes < 1 || (ranks_given && req.ranks_per_node < 1)) {
        rc = gar_cli_usage_error("submit", "--nodes and --ranks-per-node must be at least 1");
        goto done;
    }
    req.params = argv[optind];
    st = gar_run_submit(&req);
done:
    free(sbatch_args);
    free(modules);
    return st == GAR_OK ? rc : gar_cli_fail(st);
}
