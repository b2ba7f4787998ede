/* garner fsc: Fourier shell correlation between two maps. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gar_cli.h"
#include "gar_fsc.h"
#include "gar_mrc.h"
#include "gar_recon.h"

static const char fsc_help[] =
    "usage: garner fsc MAP1.mrc MAP2.mrc [--threshold T] [--mask-outer]\n"
    "\n"
    "Print the Fourier shell correlation between two maps of one size (MRC) as\n"
    "CSV (shell, resolution in Å, FSC), then the resolution where it first falls\n"
    "below the threshold and the mean FSC over shells 1 to Nyquist. Use 0.143 for\n"
    "two half maps and 0.5 (the default) for a map against a known truth.\n"
    "\n"
    "options:\n"
    "  --threshold T   FSC threshold (default 0.5)\n"
    "  --mask-outer    apply garner's soft outer mask ([reconstruct] outer_mask) to both maps first\n"
    "  -h, --help      this help\n";

static void apply_outer_mask(gar_map *m)
{
    size_t n = m->nx;
    for (size_t z = 0; z < n; z++)
        for (size_t y = 0; y < n; y++)
            for (size_t x = 0; x < n; x++) {
                double dx = (double)x - n / 2, dy = (double)y - n / 2, dz = (double)z - n / 2;
                m->data[(z * n + y) * n + x] *= (float)gar_recon_outer_mask(n, sqrt(dx * dx + dy * dy + dz * dz));
            }
}

int gar_cmd_fsc(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"threshold", required_argument, NULL, 't'},
        {"mask-outer", no_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double threshold = 0.5, pixel;
    int c, mask = 0;
    gar_status st = GAR_OK;
    gar_map *a = NULL, *b = NULL;
    double *fsc = NULL;
    size_t n;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            if ((st = gar_cli_double("--threshold", optarg, &threshold)) != GAR_OK)
                return gar_cli_fail(st);
            break;
        case 'm': mask = 1; break;
        case 'h': fputs(fsc_help, stdout); return 0;
        default: return gar_cli_usage_error("fsc", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        return gar_cli_usage_error("fsc", "expected two maps");
    if ((st = gar_mrc_read(argv[optind], &a)) != GAR_OK || (st = gar_mrc_read(argv[optind + 1], &b)) != GAR_OK)
        goto done;
    if (a->nx != a->ny || a->nx != a->nz || b->nx != a->nx || b->ny != a->nx || b->nz != a->nx) {
        st = gar_error(GAR_ERR_DATA, "%s is %zu x %zu x %zu and %s is %zu x %zu x %zu: expected two cubes of "
                       "one size", argv[optind], a->nx, a->ny, a->nz, argv[optind + 1], b->nx, b->ny, b->nz);
        goto done;
    }
    if (mask) {
        apply_outer_mask(a);
        apply_outer_mask(b);
    }
    n = a->nx / 2 + 1;
    pixel = a->pixel_size > 0 ? a->pixel_size : 1.0;
    if ((st = gar_alloc((void **)&fsc, n, sizeof(double), "FSC")) != GAR_OK ||
        (st = gar_fsc_compute(a, b, fsc)) != GAR_OK)
        goto done;
    printf("shell,resolution_A,fsc\n");
    for (size_t s = 1; s < n; s++)
        printf("%zu,%.4f,%.6f\n", s, a->nx * pixel / (double)s, fsc[s]);
    printf("# resolution at FSC %g: %.3f A\n", threshold, gar_fsc_resolution(fsc, n, a->nx, pixel, threshold));
    printf("# mean FSC over shells 1-%zu: %.4f\n", n - 1, gar_fsc_mean(fsc, 1, n - 1));
done:
    free(fsc);
    gar_map_destroy(&a);
    gar_map_destroy(&b);
    return st == GAR_OK ? 0 : gar_cli_fail(st);
}
