/* garner: helpers shared by the subcommands (option parsing with one-line
 * errors, the main of the commands that run under MPI). */
#ifndef GAR_CLI_H
#define GAR_CLI_H

#include <stddef.h>
#include <stdint.h>
#include "gar_status.h"

/* A subcommand: argv[0] is the subcommand name. Returns the process exit code. */
typedef int (*gar_command_fn)(int argc, char **argv);

int gar_cmd_import(int argc, char **argv);
int gar_cmd_simulate(int argc, char **argv);
int gar_cmd_info(int argc, char **argv);
int gar_cmd_reconstruct(int argc, char **argv);
int gar_cmd_refine(int argc, char **argv);
int gar_cmd_tune(int argc, char **argv);
int gar_cmd_export(int argc, char **argv);
int gar_cmd_fsc(int argc, char **argv);
int gar_cmd_postprocess(int argc, char **argv);
int gar_cmd_submit(int argc, char **argv);
int gar_cmd_phantom(int argc, char **argv);
int gar_cmd_params(int argc, char **argv);

/* Print "garner <cmd>: error: <message>" and return the exit code for st. */
int gar_cli_fail(gar_status st);
/* Print a usage error with a pointer to --help; returns 64. */
int gar_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

gar_status gar_cli_double(const char *opt, const char *text, double *out);
gar_status gar_cli_size(const char *opt, const char *text, size_t *out);
gar_status gar_cli_u64(const char *opt, const char *text, uint64_t *out);
/* "MIN:MAX" with MIN <= MAX. */
gar_status gar_cli_range(const char *opt, const char *text, double *lo, double *hi);
/* The main of a command run as `[mpiexec -n P] garner NAME PARAMS [--set
 * section.key=value ...] [--threads N] [--resume | --continue]` (the last
 * two, synonyms, only where can_resume): the options, then gar_run_parallel
 * with `command` (a gar_run_command), and the exit code (75 for a
 * checkpoint; an error said once, by rank 0). */
int gar_cli_parallel_main(int argc, char **argv, const char *name, const char *help, int can_resume,
                          int command);

#endif
