/* garner fsc: Fourier shell correlation between two maps (the run:
 * src/run/run_fsc.c). */
#include <getopt.h>
#include <stdio.h>

#include "gar_cli.h"
#include "gar_run_fsc.h"

static const char fsc_help[] =
    "usage: garner fsc MAP1.mrc MAP2.mrc [--threshold T] [--mask-outer] [--angpix A]\n"
    "\n"
    "Print the Fourier shell correlation between two maps of one size (MRC) as\n"
    "CSV (shell, resolution in Å, FSC), then the resolution where it first falls\n"
    "below the threshold and the mean FSC over shells 1 to Nyquist. The default,\n"
    "0.143, is for two half maps (as garner reconstruct and refine, RELION and\n"
    "EMDB report); use --threshold 0.5 for a map against a known truth.\n"
    "\n"
    "The pixel size is the maps' headers' (cella / mx). Maps whose pixel sizes\n"
    "differ by more than 0.5 % are refused, naming both; where a header gives\n"
    "none (0), the resolution is printed in pixels (column resolution_px,\n"
    "Nyquist 2 px) with a warning. --angpix overrides both headers, and says so.\n"
    "\n"
    "options:\n"
    "  --threshold T   FSC threshold (default 0.143; 0.5 against a known map)\n"
    "  --mask-outer    apply garner's soft outer mask ([reconstruct] outer_mask) to both maps first\n"
    "  --angpix A      Å per pixel for both maps, instead of their headers'\n"
    "  -h, --help      this help\n";

int gar_cmd_fsc(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"threshold", required_argument, NULL, 't'},
        {"mask-outer", no_argument, NULL, 'm'},
        {"angpix", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    gar_fsc_request req = {NULL, NULL, 0.143, 0, 0};
    gar_status st;
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            if ((st = gar_cli_double("--threshold", optarg, &req.threshold)) != GAR_OK)
                return gar_cli_fail(st);
            break;
        case 'm': req.mask_outer = 1; break;
        case 'a':
            if ((st = gar_cli_double("--angpix", optarg, &req.angpix)) != GAR_OK)
                return gar_cli_fail(st);
            if (req.angpix <= 0)
                return gar_cli_usage_error("fsc", "--angpix: expected a pixel size in Å > 0, got '%s'", optarg);
            break;
        case 'h': fputs(fsc_help, stdout); return 0;
        default: return gar_cli_usage_error("fsc", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        return gar_cli_usage_error("fsc", "expected two maps");
    req.map1 = argv[optind];
    req.map2 = argv[optind + 1];
    st = gar_run_fsc(&req);
    return st == GAR_OK ? 0 : gar_cli_fail(st);
}
