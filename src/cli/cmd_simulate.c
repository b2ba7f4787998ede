/* garner simulate: particles with known poses from a map (the run:
 * src/run/run_simulate.c). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gar_cli.h"

/* The largest defocus taken as µm (see --defocus). */
#define GAR_CLI_DEFOCUS_MAX_UM 100.0
#include "gar_run_simulate.h"
#include "gar_signal.h"

static const char simulate_help[] =
    "usage: garner simulate --map MAP.mrc --count N --out STACK.h5 [options]\n"
    "\n"
    "Simulate N particle images of a cubic map with known, uniformly random\n"
    "poses: the map is put in solvent (background outside the inscribed sphere\n"
    "removed) and prefiltered for interpolation, then projected in real space\n"
    "(ray sums), shifted, CTF applied, and white Gaussian\n"
    "noise at the requested SNR (variance of the noise-free image over the box\n"
    "divided by the noise variance, per image). Half sets alternate 1, 2, ...\n"
    "The CTF is applied on the box's own grid, as relion_project does (the\n"
    "signal it spreads beyond the box wraps in from the other side: such images\n"
    "reconstruct best with [reconstruct] image_model = periodic); --ctf-canvas\n"
    "applies it on a canvas larger than the box, so that signal is lost, as in\n"
    "a micrograph (image_model = boxed, the default, suits those).\n"
    "The true poses, shifts and CTF parameters are stored in the stack; --truth\n"
    "writes the map the images are projections of (in solvent, band-limited to\n"
    "Nyquist, without the prefilter): the reference for an FSC of a map made\n"
    "from them (garner fsc MAP TRUTH), which the input map is not where it has\n"
    "a background.\n"
    "\n"
    "Realism (docs/SIMULATE.md; all off by default, and then the stack is the\n"
    "same as without these options, bit for bit). With any of them on, the noise\n"
    "sigma is one value for the whole stack, sigma^2 = (mean variance of the\n"
    "noise-free particles 0..63 at contrast 1) / SNR, and the stack holds the\n"
    "ground truth in /particles/sim_junk (0 particle, 1 another protein, 2 empty\n"
    "ice) and /particles/sim_scale (the contrast scale; 0 for empty ice).\n"
    "\n"
    "options:\n"
    "  --map FILE           input map, MRC, cubic with an even box (required)\n"
    "  --count N            number of particles (required)\n"
    "  --out FILE           output HDF5 stack (required; written atomically)\n"
    "  --truth FILE         also write the true map (MRC) there\n"
    "  --snr X              signal-to-noise ratio (default 1; 'inf' for no noise)\n"
    "  --defocus MIN:MAX    defocus range in µm, uniform (default 1.0:2.5); values over\n"
    "                       100 are refused as Å (RELION's unit)\n"
    "  --astigmatism A      largest |dU-dV|/2 in Å (default 200)\n"
    "  --no-ctf             do not apply a CTF (no CTF columns are stored)\n"
    "  --ctf-canvas         apply the CTF on a canvas larger than the box, then cut\n"
    "                       the box out (a micrograph's images; default: the box's\n"
    "                       own grid, periodic images, as relion_project)\n"
    "  --shift-sigma S      standard deviation of the shifts per axis in Å (default 0;\n"
    "                       at most 1/12 of the image, so shifts stay inside it)\n"
    "  --pixel-size P       Å per pixel (default: the map header's)\n"
    "  --voltage KV         acceleration voltage in kV (default 300)\n"
    "  --cs MM              spherical aberration in mm (default 2.7)\n"
    "  --amp-contrast Q     amplitude contrast (default 0.1)\n"
    "  --bfactor B          B-factor envelope exp(-B s^2/4), s in 1/Å, B in Å^2,\n"
    "                       applied with the CTF (also with --no-ctf) (default 0)\n"
    "  --noise-spectrum S   coloured noise: 'ice' (ice and carbon,\n"
    "                       S(s) = 1 + 6 exp(-(40 Å s)^2): 7 times the high-\n"
    "                       frequency power at s = 0), or a text file of lines\n"
    "                       'frequency_1/Å relative_power' (# comments, >= 2 rows,\n"
    "                       increasing frequencies, powers > 0; linear between\n"
    "                       rows, constant beyond); the noise variance over the\n"
    "                       box stays sigma^2 (default: white)\n"
    "  --ramp R             background ramp per image: sigma * R * (gx (x-N/2) +\n"
    "                       gy (y-N/2)) / (N/2), gx, gy standard normal, i.e. R\n"
    "                       noise sigmas at the box edge per axis (default 0)\n"
    "  --contrast-sigma S   contrast scale per particle exp(S z), z standard\n"
    "                       normal (median 1), 0 to 3 (default 0)\n"
    "  --junk-fraction F    this fraction of the particles are junk: projections\n"
    "                       of --junk-map at random poses and empty ice (noise and\n"
    "                       ramp only), half each; all empty ice without\n"
    "                       --junk-map (default 0)\n"
    "  --junk-map MAP       another map (MRC) for the junk: the map's box and\n"
    "                       pixel size, prepared like the map\n"
    "  --seed S             random seed (default 1); the stack depends only on it\n"
    "  --threads T          threads (default: all cores)\n"
    "  --overwrite          replace an existing output file\n"
    "  -h, --help           this help\n";

/* A number that must be above `min` (or at least `min`, if not `above`). */
static gar_status number(const char *opt, const char *text, double *out, double min, int above,
                         const char *expected)
{
    gar_status st = gar_cli_double(opt, text, out);
    if (st == GAR_OK && (above ? !(*out > min) : !(*out >= min)))
        st = gar_error(GAR_ERR_USAGE, "%s: expected %s, got '%s'", opt, expected, text);
    return st;
}

int gar_cmd_simulate(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"map", required_argument, NULL, 'm'},      {"count", required_argument, NULL, 'n'},
        {"out", required_argument, NULL, 'o'},      {"snr", required_argument, NULL, 's'},
        {"defocus", required_argument, NULL, 'd'},  {"astigmatism", required_argument, NULL, 'a'},
        {"no-ctf", no_argument, NULL, 'C'},         {"shift-sigma", required_argument, NULL, 'x'},
        {"pixel-size", required_argument, NULL, 'p'}, {"voltage", required_argument, NULL, 'v'},
        {"cs", required_argument, NULL, 'c'},       {"amp-contrast", required_argument, NULL, 'q'},
        {"seed", required_argument, NULL, 'r'},     {"threads", required_argument, NULL, 't'},
        {"overwrite", no_argument, NULL, 'w'},      {"help", no_argument, NULL, 'h'},
        {"bfactor", required_argument, NULL, 'B'},  {"noise-spectrum", required_argument, NULL, 'N'},
        {"ramp", required_argument, NULL, 'R'},     {"contrast-sigma", required_argument, NULL, 'S'},
        {"junk-fraction", required_argument, NULL, 'J'}, {"junk-map", required_argument, NULL, 'M'},
        {"truth", required_argument, NULL, 'T'},  {"ctf-canvas", no_argument, NULL, 'W'},
        {NULL, 0, NULL, 0},
    };
    gar_simulate_request req;
    gar_status st = GAR_OK;
    int c;
    double lo, hi;
    size_t threads = 0;

    gar_simulate_request_default(&req);
    optind = 1;
    opterr = 0;
    while (st == GAR_OK && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': req.map = optarg; break;
        case 'o': req.out = optarg; break;
        case 'T': req.truth = optarg; break;
        case 'n': st = gar_cli_size("--count", optarg, &req.count); break;
        case 's':
            if (strcmp(optarg, "inf") == 0)
                req.snr = INFINITY;
            else
                st = number("--snr", optarg, &req.snr, 0, 1, "a positive number or 'inf'");
            break;
        case 'd':
            if ((st = gar_cli_range("--defocus", optarg, &lo, &hi)) == GAR_OK) {
                if (!(lo > 0))
                    st = gar_error(GAR_ERR_USAGE, "--defocus: expected positive (underfocus) µm, got '%s'", optarg);
                /* No defocus of cryo-EM reaches 100 µm, while RELION writes
                 * defocus in Å (rlnDefocusU 10000 = 1 µm): values that large
                 * are Å typed where µm are read. Refused with the values in
                 * µm rather than reinterpreted, so a value means one thing. */
                else if (hi > GAR_CLI_DEFOCUS_MAX_UM)
                    st = gar_error(GAR_ERR_USAGE,
                                   "--defocus %s: the unit is µm, and %g µm is no defocus; if these are Å, as "
                                   "RELION writes defocus, that is --defocus %g:%g",
                                   optarg, hi, lo * 1e-4, hi * 1e-4);
                req.defocus_min_A = lo * 1e4;
                req.defocus_max_A = hi * 1e4;
            }
            break;
        case 'a': st = number("--astigmatism", optarg, &req.astigmatism_A, 0, 0, ">= 0 Å"); break;
        case 'C': req.apply_ctf = 0; break;
        case 'W': req.ctf_canvas = 1; break;
        case 'x': st = number("--shift-sigma", optarg, &req.shift_sigma_A, 0, 0, ">= 0 Å"); break;
        case 'p': st = number("--pixel-size", optarg, &req.pixel_size_A, 0, 1, "a positive size in Å"); break;
        case 'v': st = number("--voltage", optarg, &req.voltage_kV, 0, 1, "a positive kV"); break;
        case 'c': st = gar_cli_double("--cs", optarg, &req.cs_mm); break;
        case 'q':
            if ((st = gar_cli_double("--amp-contrast", optarg, &req.amplitude_contrast)) == GAR_OK &&
                !(req.amplitude_contrast >= 0 && req.amplitude_contrast < 1))
                st = gar_error(GAR_ERR_USAGE, "--amp-contrast: expected a value in [0, 1), got '%s'", optarg);
            break;
        case 'r': st = gar_cli_u64("--seed", optarg, &req.seed); break;
        case 't':
            if ((st = gar_cli_size("--threads", optarg, &threads)) == GAR_OK && (threads < 1 || threads > 4096))
                st = gar_error(GAR_ERR_USAGE, "--threads: expected 1 to 4096, got '%s'", optarg);
            req.threads = (int)threads;
            break;
        case 'w': req.overwrite = 1; break;
        case 'B': st = number("--bfactor", optarg, &req.bfactor_A2, 0, 0, "a B-factor >= 0 Å²"); break;
        case 'N': req.noise_spectrum = optarg; break;
        case 'R': st = number("--ramp", optarg, &req.ramp_sigma, 0, 0, "a value >= 0 (noise sigmas)"); break;
        case 'S':
            if ((st = gar_cli_double("--contrast-sigma", optarg, &req.contrast_sigma)) == GAR_OK &&
                !(req.contrast_sigma >= 0 && req.contrast_sigma <= 3))
                st = gar_error(GAR_ERR_USAGE, "--contrast-sigma: expected a value in [0, 3], got '%s'", optarg);
            break;
        case 'J':
            if ((st = gar_cli_double("--junk-fraction", optarg, &req.junk_fraction)) == GAR_OK &&
                !(req.junk_fraction >= 0 && req.junk_fraction <= 1))
                st = gar_error(GAR_ERR_USAGE, "--junk-fraction: expected a value in [0, 1], got '%s'", optarg);
            break;
        case 'M': req.junk_map = optarg; break;
        case 'h': fputs(simulate_help, stdout); return 0;
        default:
            st = gar_error(GAR_ERR_USAGE, "unknown or incomplete option '%s' (see 'garner simulate --help')",
                           argv[optind - 1]);
        }
    }
    if (st == GAR_OK && optind < argc)
        st = gar_error(GAR_ERR_USAGE, "unexpected argument '%s'", argv[optind]);
    if (st == GAR_OK && (req.map == NULL || req.out == NULL || req.count == 0))
        st = gar_error(GAR_ERR_USAGE, "--map, --out and a positive --count are required "
                       "(see 'garner simulate --help')");
    req.argc = argc;
    req.argv = argv;
    /* The stack writer checks for a stop signal at every batch. */
    gar_signals_polled(1);
    if (st == GAR_OK)
        st = gar_run_simulate(&req);
    return st == GAR_OK ? 0 : gar_cli_fail(st);
}
