/* garner phantom, the run (see gar_run_phantom.h). */
#include "gar_log.h"
#include "gar_mrc.h"
#include "gar_phantom.h"
#include "gar_run.h"
#include "gar_run_phantom.h"
#include "gar_symmetry.h"

gar_status gar_run_phantom(const gar_phantom_request *req)
{
    gar_phantom_config cfg = {req->box, req->pixel_size_A, req->seed, req->atoms, 0.0};
    gar_symmetry *sym = NULL;
    gar_map *map = NULL;
    gar_status st;

    if ((st = gar_symmetry_create(req->symmetry, &sym)) != GAR_OK)
        return st;
    if ((st = gar_run_check_output_file("--out", req->out, req->overwrite)) != GAR_OK)
        goto done;
    gar_log_info("phantom with %s symmetry (%zu operator%s), %zu px, %.4g Å/px, seed %llu",
                 gar_symmetry_name(sym), gar_symmetry_order(sym), gar_symmetry_order(sym) > 1 ? "s" : "",
                 cfg.box, cfg.pixel_size_A, (unsigned long long)cfg.seed);
    if ((st = gar_phantom_create(&cfg, sym, &map)) != GAR_OK ||
        (st = gar_mrc_write(req->out, map, GAR_MRC_VOLUME)) != GAR_OK)
        goto done;
    gar_log_info("wrote %s", req->out);
done:
    gar_map_destroy(&map);
    gar_symmetry_destroy(&sym);
    return st;
}
