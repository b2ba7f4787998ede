/* garner import, the run (see gar_run_import.h): STAR or .cs. */
#include <stdlib.h>

#include "gar_cs.h"
#include "gar_import.h"
#include "gar_log.h"
#include "gar_run.h"
#include "gar_run_import.h"
#include "run_files.h"

static gar_status import_cs(const gar_import_request *req, const char *prov)
{
    gar_cs_import_options opt = {req->project_dir, req->skip_nonfinite, prov, 1};
    gar_cs_import_report rep;
    gar_status st = gar_import_cs(req->cs, req->out, &opt, &rep);
    if (st != GAR_OK)
        return st;
    if (!rep.has_poses)
        gar_log_info("no alignments3D/pose: imported without poses or origins");
    if (rep.half_sets_assigned)
        gar_log_info("no alignments3D/split dividing the particles: half sets assigned alternately");
    if (rep.inverted > 0)
        gar_log_info("%zu particles had blob/sign -1: their pixels were negated", rep.inverted);
    if (rep.skipped_nonfinite > 0)
        gar_log_warn("skipped %zu particles with NaN/Inf pixels", rep.skipped_nonfinite);
    gar_log_info("wrote %zu particles (%zu x %zu, %.4g Å/px, %zu optics groups) to %s", rep.written, rep.box,
                 rep.box, rep.pixel_size_A, rep.optics_groups, req->out);
    return GAR_OK;
}

gar_status gar_run_import(const gar_import_request *req)
{
    gar_import_options opt = {req->skip_nonfinite, NULL, 1, req->project_dir};
    gar_import_report rep;
    gar_status st;
    char *prov;

    if ((st = gar_run_check_output_file("--out", req->out, req->overwrite)) != GAR_OK)
        return st;
    prov = run_provenance(req->argc, req->argv);
    if (req->cs != NULL) {
        st = import_cs(req, prov);
        free(prov);
        return st;
    }
    opt.provenance = prov;
    st = gar_import_star(req->star, req->out, &opt, &rep);
    free(prov);
    if (st != GAR_OK)
        return st;
    if (rep.half_sets_assigned)
        gar_log_info("no rlnRandomSubset column: half sets assigned alternately");
    if (rep.resampled > 0)
        gar_log_info("resampled %zu images to %.5g Å/px", rep.resampled, rep.pixel_size_A);
    if (rep.skipped_nonfinite > 0)
        gar_log_warn("skipped %zu particles with NaN/Inf pixels", rep.skipped_nonfinite);
    gar_log_info("wrote %zu particles (%zu x %zu, %.4g Å/px) to %s", rep.written, rep.box, rep.box,
                 rep.pixel_size_A, req->out);
    return GAR_OK;
}
