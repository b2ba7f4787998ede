/* garner import: RELION 3.1 STAR + MRCS, or a cryoSPARC .cs file, into a
 * garner HDF5 stack (the run: src/run/run_import.c). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "gar_cli.h"
#include "gar_run_import.h"
#include "gar_signal.h"

static const char import_help[] =
    "usage: garner import --star PARTICLES.star --out STACK.h5 [options]\n"
    "       garner import --cs PARTICLES.cs --out STACK.h5 [options]\n"
    "\n"
    "Import particles described by a RELION STAR file into one garner HDF5 stack\n"
    "(docs/FORMAT.md lists every column read and how). RELION 3.1 to 5 files\n"
    "(data_optics and data_particles) and RELION 3.0 files (optics in every row)\n"
    "are read, from any job folder. Image names (NNNNNN@stack.mrcs) are relative\n"
    "to the RELION project folder: they are looked for in the working folder,\n"
    "then in the STAR file's folder and each folder above it, or in --project-dir.\n"
    "Poses, origins, CTF parameters, half sets (rlnRandomSubset) and optics groups\n"
    "are kept; without rlnRandomSubset the half sets alternate 1, 2, 1, ...; an\n"
    "Extract or autopick file (psi only, or -999) imports without poses. Optics\n"
    "groups whose pixel sizes are within 1 % of the first group's are resampled\n"
    "to it; CTF-premultiplied images and 3D particles are refused.\n"
    "With --cs, a cryoSPARC particle file (.cs) instead: blob/path and blob/idx\n"
    "name the images, CTF and exposure groups (optics groups) are kept, and\n"
    "alignments3D/pose (a rotation vector), /shift and /split become RELION's\n"
    "Euler angles, origins in Å and half sets (docs/FORMAT.md).\n"
    "\n"
    "options:\n"
    "  --star FILE            RELION STAR file, 3.0 to 5 (this or --cs)\n"
    "  --cs FILE              cryoSPARC particle file (.cs; this or --star)\n"
    "  --out FILE             output HDF5 stack (required; written atomically)\n"
    "  --project-dir DIR      the project folder image names are relative to:\n"
    "                         RELION's (default: searched as above) or\n"
    "                         cryoSPARC's (default: the first of the .cs file's\n"
    "                         folder's parent, its folder, the working folder\n"
    "                         that holds the images)\n"
    "  --nonfinite MODE       error or skip: what to do with images holding NaN/Inf\n"
    "                         (default error)\n"
    "  --overwrite            replace an existing output file\n"
    "  -h, --help             this help\n";

int gar_cmd_import(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"star", required_argument, NULL, 's'},
        {"cs", required_argument, NULL, 'c'},
        {"project-dir", required_argument, NULL, 'p'},
        {"out", required_argument, NULL, 'o'},
        {"nonfinite", required_argument, NULL, 'n'},
        {"overwrite", no_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    gar_import_request req = {NULL, NULL, 0, 0, argc, argv, NULL, NULL};
    int c;
    gar_status st;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's': req.star = optarg; break;
        case 'c': req.cs = optarg; break;
        case 'p': req.project_dir = optarg; break;
        case 'o': req.out = optarg; break;
        case 'w': req.overwrite = 1; break;
        case 'n':
            if (strcmp(optarg, "error") == 0)
                req.skip_nonfinite = 0;
            else if (strcmp(optarg, "skip") == 0)
                req.skip_nonfinite = 1;
            else
                return gar_cli_usage_error("import", "--nonfinite: expected error or skip, got '%s'", optarg);
            break;
        case 'h': fputs(import_help, stdout); return 0;
        default:
            return gar_cli_usage_error("import", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return gar_cli_usage_error("import", "unexpected argument '%s'", argv[optind]);
    if ((req.star == NULL) == (req.cs == NULL) || req.out == NULL)
        return gar_cli_usage_error("import", "--out and one of --star or --cs are required");
    /* The stack writer checks for a stop signal at every batch. */
    gar_signals_polled(1);
    st = gar_run_import(&req);
    return st == GAR_OK ? 0 : gar_cli_fail(st);
}
