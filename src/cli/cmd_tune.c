/* garner tune: time the GPU gather variants for a run's parameter file and
 * cache the fastest, so that the run itself starts tuned (the run:
 * src/run/run_tune.c). */
#include <stdio.h>
#include "gar_cli.h"
#include "gar_run.h"

static const char tune_help[] =
    "usage: garner tune PARAMS [--set section.key=value ...]\n"
    "\n"
    "Time every variant of the GPU gather kernel on the first batch of the\n"
    "run's particles, on each GPU that [gpu] devices gives this process, print\n"
    "the times, and store the fastest in the tuning cache ([gpu] tuning_cache),\n"
    "keyed by GPU model and the run's shape (box, padding, symmetry mode and\n"
    "operators, blob), where `garner reconstruct` or `refine` with\n"
    "[gpu] tuning = auto or cached finds it. Writes nothing else.\n"
    "\n"
    "options:\n"
    "  --set S.K=V   override a parameter (repeatable)\n"
    "  -h, --help    this help\n";

int gar_cmd_tune(int argc, char **argv)
{
    return gar_cli_parallel_main(argc, argv, "tune", tune_help, 0, GAR_RUN_TUNE);
}
