/* garner fsc, the run (see gar_run_fsc.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gar_fsc.h"
#include "gar_log.h"
#include "gar_mrc.h"
#include "gar_recon.h"
#include "gar_run_fsc.h"
#include "run_files.h"

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
    if ((st = run_maps_pixel(req->map1, a, req->map2, b, req->angpix, &pixel)) != GAR_OK)
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
