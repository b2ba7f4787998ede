/* garner postprocess: mask, corrected FSC, B-factor and sharpened map from
 * two half maps (the run: src/run/run_postprocess.c). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>

#include "gar_cli.h"
#include "gar_run_postprocess.h"

static const char postprocess_help[] =
    "usage: garner postprocess --half1 H1.mrc --half2 H2.mrc --out DIR [options]\n"
    "\n"
    "Post-process two half maps as relion_postprocess does: a soft solvent mask\n"
    "(made from the average map, or given), the FSC between the half maps\n"
    "unmasked, masked, and masked after randomising both maps' phases beyond the\n"
    "shell where the unmasked FSC falls below 0.8, and the masked FSC corrected\n"
    "for the mask's own correlation (Chen et al. 2013); the resolution is where\n"
    "the corrected FSC falls below 0.143. The B-factor is fitted to the Guinier\n"
    "plot (ln of the mean amplitude against 1/d²) of the FSC-weighted, masked\n"
    "average map from 10 Å to that resolution (Rosenthal & Henderson 2003), and the\n"
    "average map sharpened: FSC-weighted, multiplied by exp(B s²/4) and low-passed\n"
    "at the resolution. docs/ARCHITECTURE.md (\"Post-processing\") has the formulas.\n"
    "Under mpiexec -n P the local resolution's points are split over the P ranks\n"
    "(the same files as one process, bit for bit); rank 0 writes.\n"
    "\n"
    "Writes into DIR (which appears only when complete):\n"
    "  postprocess.mrc         the sharpened map\n"
    "  postprocess_masked.mrc  the same times the mask\n"
    "  mask.mrc                the mask used\n"
    "  locres.mrc              local resolution (Å): windowed half-map FSC inside the mask\n"
    "  postprocess.json        resolution_A, bfactor_A2 (applied), the fit, the mask\n"
    "  fsc.csv, fsc.png        the four FSC curves\n"
    "  guinier.csv, guinier.png  the Guinier plot and the fitted line\n"
    "\n"
    "options:\n"
    "  --half1 FILE          the first half map (MRC; required)\n"
    "  --half2 FILE          the second, a cube of the same size (required)\n"
    "  --out DIR             the output folder (required)\n"
    "  --mask FILE           a mask (MRC, values 0 to 1) instead of one made from the map\n"
    "  --bfactor B           sharpen with this B-factor (Å², > 0 sharpens; RELION's\n"
    "                        --adhoc_bfac -B) instead of the fitted one\n"
    "  --reference MAP       a model map of the structure (MRC, the half maps' box and\n"
    "                        pixel size): sharpen by the fitted B less the model's own,\n"
    "                        fitted alike, so the map keeps the model's fall-off instead\n"
    "                        of a flat spectrum (default: none, the fitted B)\n"
    "  --fit-from A          the Guinier fit's low-resolution end (default 10 Å)\n"
    "  --fit-to A            its high-resolution end (default: the resolution)\n"
    "  --guinier-unmasked    fit the unmasked average map's Guinier plot, as\n"
    "                        relion_postprocess does (default: the masked map's)\n"
    "  --mask-lowpass A      the made mask: low-pass before the threshold (default 15 Å)\n"
    "  --mask-threshold T    the made mask: threshold in the low-passed map's units\n"
    "                        (default: --mask-fraction of its maximum)\n"
    "  --mask-fraction F     the threshold as a fraction of the maximum (default 0.2)\n"
    "  --mask-extend PX      grow the thresholded region by PX pixels (default 3)\n"
    "  --mask-soft PX        width of the cosine edge in pixels (default 6)\n"
    "  --randomise-below F   randomise phases from where the unmasked FSC < F (default 0.8)\n"
    "  --locres-step A       local resolution: grid spacing (default 10 Å; windows\n"
    "                        12 Å with a 12 Å cosine edge)\n"
    "  --angpix A            Å per pixel for all maps, instead of their headers'\n"
    "  --seed S              seed of the random phases (default 1)\n"
    "  --overwrite           replace an existing output folder\n"
    "  -h, --help            this help\n";

int gar_cmd_postprocess(int argc, char **argv)
{
    enum { O_H1 = 256, O_H2, O_MASK, O_OUT, O_B, O_FROM, O_TO, O_MLP, O_MTH, O_MFR, O_MEXT, O_MSOFT, O_RAND,
           O_ANGPIX, O_SEED, O_OVER, O_GUNM, O_LRSTEP, O_REF };
    static const struct option longopts[] = {
        {"half1", required_argument, NULL, O_H1},
        {"half2", required_argument, NULL, O_H2},
        {"mask", required_argument, NULL, O_MASK},
        {"out", required_argument, NULL, O_OUT},
        {"bfactor", required_argument, NULL, O_B},
        {"reference", required_argument, NULL, O_REF},
        {"fit-from", required_argument, NULL, O_FROM},
        {"fit-to", required_argument, NULL, O_TO},
        {"mask-lowpass", required_argument, NULL, O_MLP},
        {"mask-threshold", required_argument, NULL, O_MTH},
        {"mask-fraction", required_argument, NULL, O_MFR},
        {"mask-extend", required_argument, NULL, O_MEXT},
        {"mask-soft", required_argument, NULL, O_MSOFT},
        {"randomise-below", required_argument, NULL, O_RAND},
        {"angpix", required_argument, NULL, O_ANGPIX},
        {"seed", required_argument, NULL, O_SEED},
        {"overwrite", no_argument, NULL, O_OVER},
        {"guinier-unmasked", no_argument, NULL, O_GUNM},
        {"locres-step", required_argument, NULL, O_LRSTEP},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    gar_postprocess_request req = {0};
    gar_mask_settings *ms = &req.mask_settings;
    gar_postprocess_settings *ps = &req.settings;
    gar_status st = GAR_OK;
    uint64_t seed;
    int c;

    gar_mask_settings_default(ms);
    gar_postprocess_settings_default(ps);
    gar_locres_settings_default(&req.locres_settings);
    req.argc = argc;
    req.argv = argv;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_H1: req.half1 = optarg; break;
        case O_H2: req.half2 = optarg; break;
        case O_MASK: req.mask = optarg; break;
        case O_REF: req.reference = optarg; break;
        case O_OUT: req.out = optarg; break;
        case O_OVER: req.overwrite = 1; break;
        case O_GUNM: ps->guinier_unmasked = 1; break;
        case O_LRSTEP: st = gar_cli_double("--locres-step", optarg, &req.locres_settings.step_A); break;
        case O_B: st = gar_cli_double("--bfactor", optarg, &ps->bfactor); break;
        case O_FROM: st = gar_cli_double("--fit-from", optarg, &ps->fit_from_A); break;
        case O_TO: st = gar_cli_double("--fit-to", optarg, &ps->fit_to_A); break;
        case O_MLP: st = gar_cli_double("--mask-lowpass", optarg, &ms->lowpass_A); break;
        case O_MTH: st = gar_cli_double("--mask-threshold", optarg, &ms->threshold); break;
        case O_MFR: st = gar_cli_double("--mask-fraction", optarg, &ms->threshold_fraction); break;
        case O_MEXT: st = gar_cli_double("--mask-extend", optarg, &ms->extend_px); break;
        case O_MSOFT: st = gar_cli_double("--mask-soft", optarg, &ms->soft_px); break;
        case O_RAND: st = gar_cli_double("--randomise-below", optarg, &ps->randomise_below); break;
        case O_ANGPIX: st = gar_cli_double("--angpix", optarg, &req.angpix); break;
        case O_SEED:
            if ((st = gar_cli_u64("--seed", optarg, &seed)) == GAR_OK)
                ps->seed = seed;
            break;
        case 'h': fputs(postprocess_help, stdout); return 0;
        default:
            return gar_cli_usage_error("postprocess", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
        if (st != GAR_OK)
            return gar_cli_fail(st);
    }
    if (optind < argc)
        return gar_cli_usage_error("postprocess", "unexpected argument '%s'", argv[optind]);
    if (req.half1 == NULL || req.half2 == NULL || req.out == NULL)
        return gar_cli_usage_error("postprocess", "expected --half1, --half2 and --out");
    if (req.angpix < 0)
        return gar_cli_usage_error("postprocess", "--angpix: expected a pixel size in Å > 0");
    if (!(ps->fit_from_A > 0) || ps->fit_to_A < 0 || (ps->fit_to_A > 0 && ps->fit_to_A >= ps->fit_from_A))
        return gar_cli_usage_error("postprocess", "--fit-from %g, --fit-to %g: expected Å with fit-from > fit-to > 0",
                                   ps->fit_from_A, ps->fit_to_A);
    if (!(req.locres_settings.step_A > 0) || !isfinite(req.locres_settings.step_A))
        return gar_cli_usage_error("postprocess", "--locres-step %g: expected a spacing in Å > 0",
                                   req.locres_settings.step_A);
    if (!isnan(ps->bfactor) && !isfinite(ps->bfactor))
        return gar_cli_usage_error("postprocess", "--bfactor: expected a finite B-factor in Å²");
    if (!(ms->lowpass_A > 0) || !(ms->extend_px >= 0) || !(ms->soft_px >= 0) ||
        !(ms->threshold_fraction > 0 && ms->threshold_fraction < 1))
        return gar_cli_usage_error("postprocess", "--mask-lowpass > 0, --mask-extend and --mask-soft >= 0, "
                                   "--mask-fraction between 0 and 1 expected");
    if (!(ps->randomise_below > 0 && ps->randomise_below < 1))
        return gar_cli_usage_error("postprocess", "--randomise-below: expected an FSC between 0 and 1");
    {
        int report = 1;
        st = gar_run_postprocess(&req, &report);
        if (st == GAR_OK)
            return 0;
        /* Every rank found the same error; rank 0 says it once. */
        return report ? gar_cli_fail(st) : gar_status_exit_code(st);
    }
}
