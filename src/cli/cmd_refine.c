/* garner refine: gold-standard refinement by projection matching (the run:
 * src/run/refine*.c, the object gar_refine). */
#include <stdio.h>
#include "gar_cli.h"
#include "gar_run.h"

static const char refine_help[] =
    "usage: garner refine PARAMS [--set section.key=value ...] [--threads N] [--continue]\n"
    "\n"
    "Find every particle's pose and origin by projection matching against the\n"
    "current map, reconstruct the two half maps from the new poses, and repeat\n"
    "until the resolution stops improving (gold standard: the half sets are\n"
    "refined independently below [refine] join_below). Starts from\n"
    "[refine] initial_map, low-pass filtered to [refine] initial_resolution; the\n"
    "poses stored in the stacks are not used. The reconstructions use the\n"
    "[reconstruct] keys (ctf, pad, blob_*, threads, batch).\n"
    "\n"
    "Writes into [output] dir:\n"
    "  iter_NNN/       per iteration: half1.mrc, half2.mrc, fsc.csv, poses.h5\n"
    "  map.mrc         the final map from all particles; half1.mrc, half2.mrc\n"
    "  fsc.csv         FSC between the final half maps (and against\n"
    "                  [reconstruct] reference when given); fsc.png\n"
    "  angdist.png     the distribution of directions; slices.png\n"
    "  poses.h5        the final poses (garner export writes them as STAR)\n"
    "  summary.json    resolution, iterations, time, parameters\n"
    "  params.ini      the parameter file as given; params-effective.ini with\n"
    "                  every key's value, defaults and --set included\n"
    "  run.log         this log (appended to by --continue)\n"
    "  postprocess/    the final half maps post-processed ([postprocess]: mask,\n"
    "                  corrected FSC, B-factor, sharpened map, local resolution)\n"
    "\n"
    "options:\n"
    "  --set section.key=value   override a parameter (repeatable)\n"
    "  --threads N               the same as --set reconstruct.threads=N (0: all cores)\n"
    "  --continue, --resume      go on from the last finished iteration in [output] dir\n"
    "  --quiet, --verbose        warnings and errors only / debug messages too\n"
    "  -h, --help                this help\n"
    "\n"
    "SIGINT, SIGTERM, SIGHUP or SIGUSR1 (Slurm's --signal) stops the run between\n"
    "shards with exit 75, keeping the finished iterations for --continue.\n";

int gar_cmd_refine(int argc, char **argv)
{
    return gar_cli_parallel_main(argc, argv, "refine", refine_help, 1, GAR_RUN_REFINE);
}
