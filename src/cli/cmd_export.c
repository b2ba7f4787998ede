/* garner export: refined poses with their particles as a RELION 3.1 STAR
 * file and/or a cryoSPARC .cs file, with an MRC stack beside each, so the
 * result can go on in RELION or cryoSPARC (the run: src/run/run_export.c). */
#include <getopt.h>
#include <stdio.h>
#include "gar_cli.h"
#include "gar_run_export.h"

static const char export_help[] =
    "usage: garner export --stack S.h5 [--stack S2.h5 ...] [--poses P.h5] (--star OUT.star | --cs OUT.cs)\n"
    "                     [--overwrite]\n"
    "\n"
    "Write the particles of the stacks with the poses of a refinement (the\n"
    "poses.h5 of garner refine; the stacks in the order of the run's [input]\n"
    "stacks), or without --poses with the poses the stacks carry (a\n"
    "simulation's true poses, an import's), as a RELION 3.1 STAR file,\n"
    "OUT.star, and the images as an MRC\n"
    "stack beside it, OUT.mrcs, which the STAR file's rlnImageName refers to.\n"
    "Poses, origins (Å), defocus, optics groups and half sets (rlnRandomSubset)\n"
    "are carried over. With --cs (besides or instead of --star) the particles go\n"
    "to a cryoSPARC .cs file, OUT.cs, with the images in OUT.mrcs beside it\n"
    "(blob/path names it relative to the .cs file's folder; docs/FORMAT.md).\n"
    "All files are written under temporary names and renamed.\n"
    "\n"
    "options:\n"
    "  --stack FILE     a particle stack (HDF5; repeatable, in the run's order)\n"
    "  --poses FILE     the poses file (default: the stacks' own poses)\n"
    "  --star FILE      the STAR file to write (the stack goes to FILE with .star\n"
    "                   replaced by .mrcs)\n"
    "  --cs FILE        a cryoSPARC .cs file to write (poses as rotation vectors,\n"
    "                   shifts in pixels; the stack goes to FILE with .cs\n"
    "                   replaced by .mrcs)\n"
    "  --overwrite      replace existing output files\n"
    "  -h, --help       this help\n";

int gar_cmd_export(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"stack", required_argument, NULL, 'k'}, {"poses", required_argument, NULL, 'p'},
        {"star", required_argument, NULL, 's'},  {"overwrite", no_argument, NULL, 'o'},
        {"cs", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *stacks[1024];
    gar_export_request req = {stacks, 0, NULL, NULL, 0, NULL};
    int c;
    gar_status st;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (req.n_stacks == sizeof stacks / sizeof stacks[0])
                return gar_cli_usage_error("export", "too many --stack options");
            stacks[req.n_stacks++] = optarg;
            break;
        case 'p': req.poses = optarg; break;
        case 's': req.star = optarg; break;
        case 'c': req.cs = optarg; break;
        case 'o': req.overwrite = 1; break;
        case 'h': fputs(export_help, stdout); return 0;
        default: return gar_cli_usage_error("export", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return gar_cli_usage_error("export", "unexpected argument '%s'", argv[optind]);
    if (req.n_stacks == 0 || (req.star == NULL && req.cs == NULL))
        return gar_cli_usage_error("export", "--stack and --star or --cs are required");
    st = gar_run_export(&req);
    return st == GAR_OK ? 0 : gar_cli_fail(st);
}
