/* garner reconstruct: particles with known poses into a map, half maps and
 * FSC (the run itself: src/run/run_reconstruct.c). */
#include <stdio.h>
#include "gar_cli.h"
#include "gar_run.h"

static const char reconstruct_help[] =
    "usage: garner reconstruct PARAMS [--set section.key=value ...] [--threads N] [--resume]\n"
    "\n"
    "Reconstruct a map from the particle stacks named in the parameter file,\n"
    "with the poses, shifts and CTF parameters stored in them, by gather-based\n"
    "direct Fourier inversion with a Kaiser-Bessel blob. Writes into [output] dir:\n"
    "  map.mrc         both half sets\n"
    "  half1.mrc       half set 1 (rlnRandomSubset 1)\n"
    "  half2.mrc       half set 2\n"
    "  fsc.csv         shell, resolution (Å), FSC between the half maps\n"
    "                  (and against [reconstruct] reference, if given)\n"
    "  fsc.png         the FSC curve with the 0.143 line and the resolution\n"
    "  slices.png      three central sections of the map\n"
    "  summary.json    particles, resolution, time, rate, memory, parameters\n"
    "  params.ini      the parameter file as given; params-effective.ini with\n"
    "                  every key's value (defaults and --set included)\n"
    "  run.log         this log\n"
    "The folder appears only when complete. docs/PARAMETERS.md lists every key.\n"
    "\n"
    "SIGINT, SIGTERM, SIGHUP or SIGUSR1 (Slurm's --signal), or [output] checkpoint_minutes,\n"
    "writes a checkpoint DIR.checkpoint.h5 beside the output folder; after a signal\n"
    "garner exits 75 and --resume continues from the checkpoint.\n"
    "\n"
    "options:\n"
    "  --set section.key=value   override a parameter (repeatable)\n"
    "  --threads N               the same as --set reconstruct.threads=N (0: all cores)\n"
    "  --resume, --continue      continue from the checkpoint of an interrupted run\n"
    "  --quiet, --verbose        warnings and errors only / debug messages too\n"
    "  -h, --help                this help\n";

int gar_cmd_reconstruct(int argc, char **argv)
{
    return gar_cli_parallel_main(argc, argv, "reconstruct", reconstruct_help, 1, GAR_RUN_RECONSTRUCT);
}
