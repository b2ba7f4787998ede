/* garner phantom: a pseudo-atomic test map with exact point-group symmetry
 * (the run: src/run/run_phantom.c). */
#include <getopt.h>
#include <stdio.h>

#include "gar_cli.h"
#include "gar_run_phantom.h"

static const char phantom_help[] =
    "usage: garner phantom --symmetry G --box N --pixel-size P --out MAP.mrc [options]\n"
    "\n"
    "Write a pseudo-atomic phantom map with exact point-group symmetry: Gaussian\n"
    "atoms at random positions in a shell of 0.05 to 0.3 box around the centre\n"
    "(voxel N/2 on each axis), copied by every operator of the group, each voxel\n"
    "the sum of the Gaussians at its centre. The map is normalised to mean 0 and\n"
    "standard deviation 1 over the box. Symmetry groups and their axes follow\n"
    "RELION's --sym (I is I2: 2-fold axes on x, y and z).\n"
    "\n"
    "options:\n"
    "  --symmetry G         point group: C<n>, D<n>, T, O or I (required)\n"
    "  --box N              box size in pixels, even, at least 16 (required)\n"
    "  --pixel-size P       Å per pixel (required)\n"
    "  --out FILE           output MRC map (required; written atomically)\n"
    "  --seed S             random seed (default 1); the map depends only on it\n"
    "  --atoms K            atoms in the asymmetric unit before copying\n"
    "                       (default: about 600 in all, at least 8 per unit)\n"
    "  --overwrite          replace an existing output file\n"
    "  -h, --help           this help\n";

int gar_cmd_phantom(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"symmetry", required_argument, NULL, 'g'}, {"box", required_argument, NULL, 'b'},
        {"pixel-size", required_argument, NULL, 'p'}, {"out", required_argument, NULL, 'o'},
        {"seed", required_argument, NULL, 'r'},     {"atoms", required_argument, NULL, 'k'},
        {"overwrite", no_argument, NULL, 'w'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    gar_phantom_request req = {NULL, 0, 0.0, 1, 0, NULL, 0};
    gar_status st;
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'g': req.symmetry = optarg; break;
        case 'o': req.out = optarg; break;
        case 'b':
            if ((st = gar_cli_size("--box", optarg, &req.box)) != GAR_OK)
                return gar_cli_fail(st);
            if (req.box < 16 || req.box % 2 != 0)
                return gar_cli_usage_error("phantom", "--box: expected an even size of at least 16, got '%s'",
                                           optarg);
            break;
        case 'p':
            if ((st = gar_cli_double("--pixel-size", optarg, &req.pixel_size_A)) != GAR_OK)
                return gar_cli_fail(st);
            if (!(req.pixel_size_A > 0))
                return gar_cli_usage_error("phantom", "--pixel-size: expected a positive size in Å, got '%s'",
                                           optarg);
            break;
        case 'r':
            if ((st = gar_cli_u64("--seed", optarg, &req.seed)) != GAR_OK)
                return gar_cli_fail(st);
            break;
        case 'k':
            if ((st = gar_cli_size("--atoms", optarg, &req.atoms)) != GAR_OK)
                return gar_cli_fail(st);
            if (req.atoms == 0)
                return gar_cli_usage_error("phantom", "--atoms: expected a positive count, got '%s'", optarg);
            break;
        case 'w': req.overwrite = 1; break;
        case 'h': fputs(phantom_help, stdout); return 0;
        default:
            return gar_cli_usage_error("phantom", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return gar_cli_usage_error("phantom", "unexpected argument '%s'", argv[optind]);
    if (req.symmetry == NULL || req.out == NULL || req.box == 0 || req.pixel_size_A == 0)
        return gar_cli_usage_error("phantom", "--symmetry, --box, --pixel-size and --out are required");
    st = gar_run_phantom(&req);
    return st == GAR_OK ? 0 : gar_cli_fail(st);
}
