/* garner submit: write a Slurm batch script for a run from the template and
 * hand it to sbatch (or print it with --dry-run); the run:
 * src/run/run_submit.c. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "gar_cli.h"
#include "gar_run_submit.h"

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
    gar_submit_request req = {NULL, GAR_RUN_RECONSTRUCT, 1, 0, 0, 0, "", "01:00:00", "garner", 0, GAR_PKGDATADIR};
    int ranks_given = 0, c;
    gar_status st = GAR_OK;

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
        case 'd': req.dry_run = 1; break;
        case 'm':
            if (strcmp(optarg, "reconstruct") == 0)
                req.command = GAR_RUN_RECONSTRUCT;
            else if (strcmp(optarg, "refine") == 0)
                req.command = GAR_RUN_REFINE;
            else
                return gar_cli_usage_error("submit", "--command '%s': expected reconstruct or refine", optarg);
            break;
        case 'h': fputs(submit_help, stdout); return 0;
        default: return gar_cli_usage_error("submit", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (st != GAR_OK)
        return gar_cli_fail(st);
    if (optind != argc - 1)
        return gar_cli_usage_error("submit", "expected one parameter file");
    if (req.nodes < 1 || (ranks_given && req.ranks_per_node < 1))
        return gar_cli_usage_error("submit", "--nodes and --ranks-per-node must be at least 1");
    req.params = argv[optind];
    st = gar_run_submit(&req);
    return st == GAR_OK ? 0 : gar_cli_fail(st);
}
