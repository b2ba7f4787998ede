/* garner params, the run (see gar_run_params.h). */
#include <string.h>

#include "gar_params.h"
#include "gar_run_params.h"

const char *const gar_run_params_commands[] = {"reconstruct", "refine", "tune", NULL};

/* The sections each command reads: refine also reads [reconstruct] (its
 * reconstructions) and tune the sections of the reconstruction it times. */
static const char *const recon_sections[] = {"input", "output", "reconstruct", "gpu", "mpi", NULL};
static const char *const refine_sections[] = {"input", "output", "reconstruct", "refine", "postprocess", "gpu", "mpi",
                                             NULL};

static const char recon_intro[] =
    "; garner reconstruct: every parameter with its default (garner params reconstruct).\n"
    "; docs/PARAMETERS.md says more about each. Every line below is a comment: remove\n"
    "; the leading '; ' of a key to change its default. [input] stacks and [output] dir\n"
    "; have no default and must be given, here or with --set section.key=value.\n"
    "; Relative paths are resolved against this file's folder; a leading ~/ is $HOME.\n";
static const char refine_intro[] =
    "; garner refine: every parameter with its default (garner params refine).\n"
    "; docs/PARAMETERS.md says more about each. Every line below is a comment:\n"
    "; remove the leading '; ' of a key to change its default. [input] stacks,\n"
    "; [output] dir and [refine] initial_map have no default and must be given,\n"
    "; here or with --set section.key=value. Refine's reconstructions use the\n"
    "; [reconstruct] keys.\n"
    "; Relative paths are resolved against this file's folder; a leading ~/ is $HOME.\n";
static const char tune_intro[] =
    "; garner tune: every parameter with its default (garner params tune); tune times\n"
    "; the reconstruction these keys describe. docs/PARAMETERS.md says more about each.\n"
    "; Every line below is a comment: remove the leading '; ' of a key to change it.\n"
    "; [input] stacks has no default and must be given.\n";

static const char *const *sections_of(const char *command)
{
    if (command != NULL && strcmp(command, "refine") == 0)
        return refine_sections;
    return recon_sections;
}

void gar_run_params_key_list(const char *command, FILE *f)
{
    const char *section = NULL;
    size_t col = 0;
    for (const gar_param_spec *spec = gar_params_schema(); spec->section != NULL; spec++) {
        char item[256];
        size_t len;
        int wanted = 0;
        for (const char *const *s = sections_of(command); *s != NULL; s++)
            wanted |= strcmp(*s, spec->section) == 0;
        if (!wanted)
            continue;
        if (section == NULL || strcmp(section, spec->section) != 0) {
            section = spec->section;
            col = (size_t)fprintf(f, "%s  [%s]", col ? "\n" : "", section) - (col ? 1 : 0);
        }
        snprintf(item, sizeof item, " %s=%s", spec->key, spec->default_value ? spec->default_value : "(no default)");
        len = strlen(item);
        if (col + len > 79) {
            fprintf(f, "\n   ");
            col = 3;
        }
        fputs(item, f);
        col += len;
    }
    fputs("\n", f);
}

gar_status gar_run_params_template(const char *command, FILE *f)
{
    const char *near;
    size_t n = 0;
    if (command != NULL && strcmp(command, "reconstruct") == 0)
        return gar_params_write_template(f, recon_intro, recon_sections);
    if (command != NULL && strcmp(command, "refine") == 0)
        return gar_params_write_template(f, refine_intro, refine_sections);
    if (command != NULL && strcmp(command, "tune") == 0)
        return gar_params_write_template(f, tune_intro, recon_sections);
    while (gar_run_params_commands[n] != NULL)
        n++;
    near = command != NULL ? gar_params_suggest_word(command, gar_run_params_commands, n) : NULL;
    return gar_error(GAR_ERR_USAGE, "'%s' takes no parameter file: expected reconstruct, refine or tune%s%s%s",
                     command != NULL ? command : "", near ? " (did you mean '" : "", near ? near : "",
                     near ? "'?)" : "");
}
