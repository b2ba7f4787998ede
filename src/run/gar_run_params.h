/* garner params, the run: a commented template of a command's parameter
 * file, every key with its default and what it does (the command line:
 * src/cli/cmd_params.c). */
#ifndef GAR_RUN_PARAMS_H
#define GAR_RUN_PARAMS_H

#include <stdio.h>
#include "gar_status.h"

/* The commands that take a parameter file, for the usage line and the
 * did-you-mean of a misspelt name: "reconstruct", "refine", "tune". */
extern const char *const gar_run_params_commands[];

/* Write the template for `command` (one of gar_run_params_commands) to f:
 * the sections that command reads, from the schema the loader uses, so the
 * output loads back as the defaults. GAR_ERR_USAGE for another command,
 * naming the closest. */
gar_status gar_run_params_template(const char *command, FILE *f);

/* The keys `command` reads with their defaults, a few to a line by
 * section ("  [reconstruct] symmetry=C1 ctf=yes ..."), for --help. */
void gar_run_params_key_list(const char *command, FILE *f);

#endif
