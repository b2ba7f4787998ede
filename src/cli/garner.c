/* garner: the command. One binary, subcommands, exit codes after sysexits.h. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "gar_cli.h"
#include "gar_log.h"
#include "gar_run.h"
#include "gar_signal.h"

typedef struct command {
    const char *name;
    gar_command_fn fn;
    const char *summary;
} command;

static const command commands[] = {
    {"import", gar_cmd_import, "import RELION 3.1 STAR + MRCS particles into a garner HDF5 stack"},
    {"simulate", gar_cmd_simulate, "simulate particles with known poses from a map"},
    {"reconstruct", gar_cmd_reconstruct, "reconstruct a map from particles with known poses"},
    {"refine", gar_cmd_refine, "find the particles' poses and refine the map (gold standard)"},
    {"tune", gar_cmd_tune, "time the GPU gather variants for a run and cache the fastest"},
    {"export", gar_cmd_export, "write refined poses and particles as a RELION STAR file and MRC stack"},
    {"phantom", gar_cmd_phantom, "make a pseudo-atomic phantom map with exact point-group symmetry"},
    {"submit", gar_cmd_submit, "write a Slurm batch script for a run and submit it"},
    {"fsc", gar_cmd_fsc, "Fourier shell correlation between two maps"},
    {"postprocess", gar_cmd_postprocess, "mask, corrected FSC, B-factor and sharpened map from two half maps"},
    {"info", gar_cmd_info, "describe a particle stack (HDF5), a poses file or a map (MRC)"},
    {"params", gar_cmd_params, "print a commented parameter file for reconstruct, refine or tune"},
    {NULL, NULL, NULL},
};

static void print_usage(FILE *f)
{
    fprintf(f, "usage: garner [--version] [--help] <command> [options] [--quiet | --verbose]\n\ncommands:\n");
    int width = 0;
    for (const command *c = commands; c->name; c++)
        width = (int)strlen(c->name) > width ? (int)strlen(c->name) : width;
    /* Two spaces past the longest name, so every summary starts in one column. */
    for (const command *c = commands; c->name; c++)
        fprintf(f, "  %-*s  %s\n", width, c->name, c->summary);
    fprintf(f, "\n'garner <command> --help' describes each command; 'garner params refine'\n"
               "prints every key of a refine parameter file with its default.\n"
               "--quiet: warnings and errors only (no progress); --verbose: debug messages too.\n"
               "Exit codes: 0 ok, 64 usage, 65 bad input data, 66 missing input, 69 unavailable,\n"
               "70 internal error, 71 out of memory, 73 cannot create output, 74 I/O error,\n"
               "75 checkpointed (requeue), 128 + N stopped by signal N (130 SIGINT, 143 SIGTERM).\n");
}

static void print_version(void)
{
    char libraries[2048];
    gar_run_describe_libraries(libraries, sizeof libraries);
    printf("garner %s\n%s", PACKAGE_VERSION, libraries);
}

/* --quiet and --verbose, taken out of argv wherever they are (before
 * "--"), so every command has them; the last one given wins. */
static int take_log_options(int argc, char **argv)
{
    int out = 0, end = 0;
    for (int i = 0; i < argc; i++) {
        if (!end && strcmp(argv[i], "--") == 0)
            end = 1;
        if (!end && strcmp(argv[i], "--quiet") == 0)
            gar_log_set_level(GAR_LOG_WARN);
        else if (!end && strcmp(argv[i], "--verbose") == 0)
            gar_log_set_level(GAR_LOG_DEBUG);
        else
            argv[out++] = argv[i];
    }
    argv[out] = NULL;
    return out;
}

static int unknown_command(const char *name)
{
    const char *names[sizeof commands / sizeof commands[0]];
    const char *near;
    size_t n = 0;
    for (const command *c = commands; c->name; c++)
        names[n++] = c->name;
    near = gar_params_suggest_word(name, names, n);
    if (near != NULL)
        fprintf(stderr, "garner: error: unknown command '%s' (did you mean '%s'? see 'garner --help')\n", name,
                near);
    else
        fprintf(stderr, "garner: error: unknown command '%s' (see 'garner --help')\n", name);
    return 64;
}

int main(int argc, char **argv)
{
    argc = take_log_options(argc, argv);
    if (argc < 2) {
        print_usage(stderr);
        return 64;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        print_version();
        return 0;
    }
    for (const command *c = commands; c->name; c++) {
        if (strcmp(argv[1], c->name) == 0) {
            char tag[64];
            snprintf(tag, sizeof tag, "garner %s", c->name);
            gar_log_set_tag(tag);
            /* Every command stops cleanly on SIGINT, SIGTERM, SIGHUP and
             * SIGUSR1 and ignores SIGPIPE (gar_signal.h). reconstruct,
             * refine and tune install their own policy again once MPI has
             * started, since UCX installs handlers of its own. */
            gar_signals_install(tag, GAR_SIGNALS_CLEANUP);
            return gar_run_exit(c->fn(argc - 1, argv + 1));
        }
    }
    return unknown_command(argv[1]);
}
