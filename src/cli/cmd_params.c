/* garner params: print a commented parameter-file template for a command
 * (the run: src/run/run_params.c). */
#include <stdio.h>
#include <string.h>

#include "gar_cli.h"
#include "gar_run_params.h"

static const char params_help[] =
    "usage: garner params reconstruct|refine|tune > run.ini\n"
    "\n"
    "Print a parameter file for the command with every key it reads, its default,\n"
    "its type or range and one line on what it does, all commented out: the file\n"
    "loads as the defaults, and you remove the '; ' of the keys you change. Keys\n"
    "without a default ([input] stacks, [output] dir, [refine] initial_map) must be\n"
    "given, in the file or with --set. The template is made from the schema the\n"
    "loader checks files against, so it lists exactly the keys garner accepts;\n"
    "docs/PARAMETERS.md explains each.\n"
    "\n"
    "  garner params refine > refine.ini\n"
    "  garner refine refine.ini --set input.stacks=particles.h5 \\\n"
    "      --set output.dir=run1 --set refine.initial_map=initial.mrc\n";

int gar_cmd_params(int argc, char **argv)
{
    gar_status st;
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(params_help, stdout);
        return 0;
    }
    if (argc != 2)
        return gar_cli_usage_error("params", "expected one command: reconstruct, refine or tune");
    if ((st = gar_run_params_template(argv[1], stdout)) != GAR_OK)
        return gar_cli_fail(st);
    if (fflush(stdout) != 0 || ferror(stdout))
        return gar_cli_fail(gar_error(GAR_ERR_IO, "cannot write the template to standard output"));
    return 0;
}
