/* garner fsc, the run (see gar_run_fsc.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gar_fsc.h"
#include "gar_log.h"
#include "gar_mrc.h"
#include "gar_recon.h"
#include "gar_run_fsc.h"

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

/* The pixel size both maps are measured in, into *out; 0 when a header
 * gives none and --angpix does not either. A resolution on one map's scale
 * is wrong for the other when they differ, and an FSC between maps of
 * different sampling compares different frequencies shell by shell, so
 * disagreeing headers are refused rather than one of them believed. */
static gar_status choose_pixel(const gar_fsc_request *req, const gar_map *a, const gar_map *b, double *out)
{
    double pa = a->pixel_size, pb = b->pixel_size, big = pa > pb ? pa : pb;

    *out = 0;
    if (req->angpix != 0) {
        if (!isfinite(req->angpix) || req->angpix < 0)
            return gar_error(GAR_ERR_USAGE, "--angpix %g: expected a pixel size in Å > 0", req->angpix);
        gar_log_info("--angpix: %g Å pixels used for both maps, not their headers' (%s: %g Å, %s: %g Å)",
                     req->angpix, req->map1, pa, req->map2, pb);
        *out = req->angpix;
        return GAR_OK;
    }
    if (pa == 0 || pb == 0) {
        gar_log_warn("%s gives no pixel size (0 in its MRC header): resolution printed in pixels "
                     "(resolution_px; Nyquist is 2 px), not in Å; give --angpix A for Å",
                     pa == 0 && pb == 0 ? "neither map" : pa == 0 ? req->map1 : req->map2);
        return GAR_OK;
    }
    if (!gar_map_pixel_sizes_agree(pa, pb))
        return gar_error(GAR_ERR_DATA, "%s has %g Å pixels and %s %g Å (%.2g %% apart, more than %g %%): "
                         "expected one pixel size; resample one map, or give --angpix A if a header is wrong",
                         req->map1, pa, req->map2, pb, 100 * fabs(pa - pb) / big, 100 * GAR_MAP_PIXEL_TOLERANCE);
    *out = 0.5 * (pa + pb);
    return GAR_OK;
}

gar_status gar_run_fsc(const gar_fsc_request *req)
{
    gar_status st;
    gar_map *a = NULL, *b = NULL;
    double *fsc = NULL, pixel, scale, res;
    gar_fsc_crossing cross;
    const char *unit;
    size_t n;

    if ((st = gar_mrc_read(req->map1, &a)) != GAR_OK || (st = gar_mrc_read(req->map2, &b)) != GAR_OK)
        goto done;
    if (a->nx != a->ny || a->nx != a->nz || b->nx != a->nx || b->ny != a->nx || b->nz != a->nx) {
        st = gar_error(GAR_ERR_DATA, "%s is %zu x %zu x %zu and %s is %zu x %zu x %zu: expected two cubes of "
                       "one size", req->map1, a->nx, a->ny, a->nz, req->map2, b->nx, b->ny, b->nz);
        goto done;
    }
    if ((st = choose_pixel(req, a, b, &pixel)) != GAR_OK)
        goto done;
    if (req->mask_outer) {
        apply_outer_mask(a);
        apply_outer_mask(b);
    }
    n = a->nx / 2 + 1;
    if ((st = gar_alloc((void **)&fsc, n, sizeof(double), "FSC")) != GAR_OK ||
        (st = gar_fsc_compute(a, b, fsc)) != GAR_OK)
        goto done;
    /* Unknown pixel size: the same figures on a scale of 1 px, named so. */
    /* The CSV's column names stay ASCII (resolution_A, docs/FORMAT.md); the
     * summary lines are for people and say Å. */
    unit = pixel > 0 ? "Å" : "px";
    scale = pixel > 0 ? pixel : 1.0;
    printf("shell,resolution_%s,fsc\n", pixel > 0 ? "A" : "px");
    for (size_t s = 1; s < n; s++)
        printf("%zu,%.4f,%.6f\n", s, a->nx * scale / (double)s, fsc[s]);
    res = gar_fsc_find_resolution(fsc, n, a->nx, scale, req->threshold, &cross);
    printf("# resolution at FSC %g: %.3f %s%s\n", req->threshold, res, unit,
           cross == GAR_FSC_NEVER_BELOW      ? " (never below it up to Nyquist: Nyquist or finer)"
           : cross == GAR_FSC_BELOW_AT_FIRST ? " (below it from the first shell: no resolution within the box)"
                                             : "");
    printf("# mean FSC over shells 1-%zu: %.4f\n", n - 1, gar_fsc_mean(fsc, 1, n - 1));
done:
    free(fsc);
    gar_map_destroy(&a);
    gar_map_destroy(&b);
    return st;
}
