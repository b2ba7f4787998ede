/* garner refine: the refinement object and its iterations (see gar_refine.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gar_fsc.h"
#include "gar_log.h"
#include "gar_mpi.h"
#include "gar_mrc.h"
#include "gar_outdir.h"
#include "gar_postprocess.h"
#include "gar_run.h"
#include "gar_stack.h"
#include "gar_sysinfo.h"
#include "refine_impl.h"
#include "run_files.h"
#include "run_fprint.h"

/* [postprocess] mask, for the solvent-corrected FSC: the particles' box and
 * pixel size, and a mask (gar_mask_check). */
static gar_status read_solvent_mask(gar_refine *r)
{
    gar_status st;
    const char *path = r->set->postprocess.mask;
    char loc[512];
    if ((st = gar_mrc_read(path, &r->solvent_mask)) != GAR_OK ||
        (st = run_check_map_values(r->p, "postprocess", "mask", path, r->solvent_mask, r->box, r->px)) != GAR_OK)
        return st;
    if ((st = gar_mask_check(r->solvent_mask)) != GAR_OK) {
        run_where(r->p, "postprocess", "mask", loc, sizeof loc);
        return gar_error_context(st, "%s: %s", loc, path);
    }
    r->solvent_mask->pixel_size = r->px;
    return GAR_OK;
}

/* [refine] mask_diameter = 0: the particle's diameter from the initial map,
 * the sphere about the box centre holding the solvent mask postprocess would
 * make of it at initial_resolution (threshold 0.2 of the low-passed maximum,
 * grown 3 px, 6 px soft edge), at most 90 % of the box. A mask as wide as
 * the box lets the noise around the particle into the references and the
 * images: on 4000 realistic particles (ice-and-carbon noise, 128 px of 1.5
 * Å, a particle about 95 Å across) 90 % of the box (173 Å) left 97.7 %
 * within 5 degrees and a mean FSC 0.040 below the known-pose map's, 120 Å
 * 99.8 % and 0.019 (docs/PERFORMANCE.md). Where no mask can be made (nothing
 * or everything above the threshold), 90 % of the box, with a warning. */
static gar_status auto_mask_radius(gar_refine *r)
{
    gar_status st;
    gar_mask_settings ms;
    double d = 0;
    const double widest = 0.9 * (double)r->box * r->px;
    gar_mask_settings_default(&ms);
    ms.lowpass_A = r->f->initial_resolution;
    st = gar_mask_extent_diameter(r->initial, &ms, &d);
    if (st == GAR_ERR_DATA) {
        if (r->rank == 0)
            gar_log_warn("[refine] mask_diameter: no particle found in %s (%s); using 90 %% of the box, %.0f Å: set "
                         "mask_diameter to the particle's diameter", r->f->initial_map, gar_errmsg(), widest);
        d = widest;
    } else if (st != GAR_OK)
        return st;
    if (d > widest)
        d = widest;
    r->mask_px = 0.5 * d / r->px;
    r->mask_auto = 1;
    return GAR_OK;
}

/* The settings, the stacks, the initial and reference maps: each checked,
 * with an error naming the key. */
static gar_status check_inputs(gar_refine *r)
{
    gar_status st;
    const gar_params *p = r->p;
    char loc[512];
    if ((st = run_read_recon_settings(p, &r->rs)) != GAR_OK ||
        (st = gar_params_require(p, "refine", "initial_map")) != GAR_OK)
        return st;
    if (gar_params_is_set(p, "reconstruct", "symmetry") && strcmp(r->set->reconstruct.symmetry, r->f->symmetry) != 0) {
        run_where(p, "reconstruct", "symmetry", loc, sizeof loc);
        return gar_error(GAR_ERR_USAGE, "%s = %s, but refine uses [refine] symmetry (%s): set the symmetry there "
                         "only", loc, r->set->reconstruct.symmetry, r->f->symmetry);
    }
    if ((st = gar_symmetry_create(r->f->symmetry, &r->sym)) != GAR_OK) {
        run_where(p, "refine", "symmetry", loc, sizeof loc);
        return gar_error_context(st, "%s", loc);
    }
    if ((st = gar_inputs_open(r->set->input.stacks, r->set->input.n_stacks, &r->in)) != GAR_OK ||
        (st = gar_inputs_check_halves(r->in)) != GAR_OK)
        return st;
    r->n = gar_inputs_count(r->in);
    r->box = gar_inputs_box(r->in);
    r->px = gar_inputs_pixel_size(r->in);
    r->n_shells = r->box / 2 + 1;
    if (r->set->reconstruct.ctf && !(gar_inputs_columns(r->in) & GAR_COL_CTF)) {
        run_where(p, "reconstruct", "ctf", loc, sizeof loc);
        return gar_error(GAR_ERR_DATA, "%s = yes, but the stacks hold no defocus columns; set it to no for data "
                         "without a CTF", loc);
    }
    if ((st = gar_mrc_read(r->f->initial_map, &r->initial)) != GAR_OK)
        return st;
    if ((st = run_check_map_values(p, "refine", "initial_map", r->f->initial_map, r->initial, r->box, r->px)) !=
        GAR_OK)
        return st;
    if (r->set->reconstruct.reference != NULL &&
        (st = gar_mrc_read(r->set->reconstruct.reference, &r->truth)) != GAR_OK)
        return st;
    if (r->truth != NULL && (st = run_check_map_values(p, "reconstruct", "reference", r->set->reconstruct.reference,
                                                       r->truth, r->box, r->px)) != GAR_OK)
        return st;
    if (r->f->solvent_fsc_below > 0 && r->set->postprocess.mask != NULL &&
        (st = read_solvent_mask(r)) != GAR_OK)
        return st;
    if (r->f->mask_diameter > 0)
        r->mask_px = 0.5 * r->f->mask_diameter / r->px;
    else if ((st = auto_mask_radius(r)) != GAR_OK)
        return st;
    if (r->mask_px > 0.5 * (double)r->box) {
        run_where(p, "refine", "mask_diameter", loc, sizeof loc);
        return gar_error(GAR_ERR_USAGE, "%s: %g Å is wider than the box (%g Å)", loc, r->f->mask_diameter,
                         r->box * r->px);
    }
    if (refine_shell_of(r, r->f->initial_resolution) >= r->box / 2.0 - 3) {
        run_where(p, "refine", "initial_resolution", loc, sizeof loc);
        return gar_error(GAR_ERR_USAGE, "%s: %g Å is too close to Nyquist (%g Å) to start from", loc,
                         r->f->initial_resolution, 2 * r->px);
    }
    return GAR_OK;
}

/* The start: half sets from the stacks, no poses (a global search needs none). */
static gar_status read_half_sets(gar_refine *r)
{
    gar_status st = GAR_OK;
    size_t base = 0;
    gar_particle *m = NULL;
    if ((st = gar_alloc((void **)&m, 4096, sizeof *m, "metadata")) != GAR_OK)
        return st;
    for (size_t k = 0; k < gar_inputs_n_stacks(r->in) && st == GAR_OK; k++) {
        gar_stack *stack = gar_inputs_stack(r->in, k);
        r->stack_base[k] = base;
        for (size_t i = 0; i < gar_stack_count(stack) && st == GAR_OK; i += 4096) {
            size_t cnt = gar_stack_count(stack) - i < 4096 ? gar_stack_count(stack) - i : 4096;
            if ((st = gar_inputs_read_meta(r->in, k, i, cnt, m)) == GAR_OK)
                for (size_t j = 0; j < cnt; j++) {
                    r->poses[base + i + j].half_set = m[j].half_set;
                    r->poses[base + i + j].scale = 1.0;
                }
        }
        base += gar_stack_count(stack);
    }
    free(m);
    return st;
}

/* Rank 0: the output folder, new, or the one to continue from. */
static gar_status open_output(gar_refine *r, int resume)
{
    gar_status st;
    char loc[512];
    run_where(r->p, "output", "dir", loc, sizeof loc);
    if ((st = run_fprint_build(r->p, RUN_FPRINT_REFINE, &r->fingerprint)) != GAR_OK)
        return st;
    if (resume) {
        size_t last = refine_last_iteration(r);
        /* Continued in place, but still one run at a time; the last
         * iteration read again under the lock. */
        if (last != 0) {
            if ((st = gar_outdir_attach(r->set->output.dir, loc, &r->out)) != GAR_OK ||
                (st = gar_log_tee_open(gar_outdir_file(r->out, "run.log"))) != GAR_OK)
                return st;
            last = refine_last_iteration(r);
        }
        if (last == 0)
            return gar_error(GAR_ERR_NOINPUT, "%s: %s holds no finished iteration to continue from", loc,
                             r->set->output.dir);
        if ((st = refine_load_iteration(r, last)) == GAR_OK)
            gar_log_info("continuing from iteration %zu of %s: resolution %.2f Å, next step %.3g degrees", last,
                         r->set->output.dir, r->state.resolution_A, r->state.angular_step_deg);
        return st;
    }
    /* The first iteration goes into a partial folder, which then replaces
     * the output folder as a whole (refine_write_iteration): an
     * overwritten run's iterations never mix with this run's, and stay
     * whole if this run fails before its first. */
    if ((st = gar_outdir_begin(r->set->output.dir, r->set->output.overwrite, r->set->input.stacks,
                               r->set->input.n_stacks, loc, &r->out)) != GAR_OK)
        return st;
    return gar_log_tee_open(gar_outdir_file(r->out, "run.log"));
}

/* Collective: rank 0 holds the state; every rank starts the next iteration
 * (or the end) from it: the state, poses, FSC and half maps. */
static gar_status share_state(gar_refine *r)
{
    gar_status st = GAR_OK;
    if (r->size == 1)
        return GAR_OK;
    if ((st = gar_mpi_bcast_bytes(&r->state, sizeof r->state, 0)) != GAR_OK ||
        (st = gar_mpi_bcast_bytes(r->poses, r->n * sizeof *r->poses, 0)) != GAR_OK ||
        (st = gar_mpi_bcast_bytes(r->fsc, r->n_shells * sizeof *r->fsc, 0)) != GAR_OK)
        return st;
    if ((st = refine_noise_share(r)) != GAR_OK)
        return st;
    if (r->state.iteration == 0)
        return GAR_OK;
    for (int h = 0; h < 2 && st == GAR_OK; h++)
        if (r->half[h] == NULL)
            st = gar_map_create(r->box, r->box, r->box, r->px, &r->half[h]);
    if ((st = gar_mpi_agree_report(st, r->size)) != GAR_OK)
        return st;
    for (int h = 0; h < 2 && st == GAR_OK; h++)
        st = gar_mpi_bcast_bytes(r->half[h]->data, gar_map_voxels(r->half[h]) * sizeof(float), 0);
    return st;
}

gar_status gar_refine_create(const gar_params *p, const char *params_path, int resume, int rank, int size,
                             gar_refine **out)
{
    gar_status st = GAR_OK;
    gar_refine *r = NULL;
    char need_s[32], avail_s[32], mem_src[128], mem_note[128] = "";

    *out = NULL;
    if ((st = gar_calloc((void **)&r, 1, sizeof *r, "refinement")) != GAR_OK)
        return st;
    r->p = p;
    r->set = &r->rs.set;
    r->f = &r->rs.set.refine;
    r->params_path = params_path;
    r->rank = rank;
    r->size = size;
    r->t0 = gar_wall_seconds();
    if ((st = check_inputs(r)) != GAR_OK)
        goto checked;
    /* The run-wide table: every stack's groups, renumbered where two
     * stacks' groups of one number differ (gar_inputs.h). */
    r->optics = gar_inputs_optics(r->in, &r->n_optics);
    if ((st = gar_calloc((void **)&r->poses, r->n ? r->n : 1, sizeof *r->poses, "poses")) != GAR_OK ||
        (st = gar_calloc((void **)&r->fsc, r->n_shells, sizeof *r->fsc, "FSC")) != GAR_OK ||
        (st = gar_calloc((void **)&r->stack_base, gar_inputs_n_stacks(r->in), sizeof *r->stack_base,
                         "stack offsets")) != GAR_OK)
        goto checked;
    run_recon_config(&r->rs, r->box, r->px, r->optics, r->n_optics, r->sym, &r->rcfg);
    /* A worker with exact sums inserts into fixed point (gar_partials.h). */
    r->rcfg.fixed_sums = run_exact_sums(&r->rs, size) && rank != 0;
    if ((st = read_half_sets(r)) != GAR_OK)
        goto checked;
    st = refine_noise_create(r);
checked:
    /* Every rank checked the same inputs; agreed before the memory check,
     * which is collective. */
    if ((st = gar_mpi_agree_report(st, size)) != GAR_OK)
        goto fail;
    r->state.junk_threshold = -INFINITY;
    r->state.misfit_threshold = INFINITY;
    r->state.angular_step_deg = r->f->angular_step;
    r->state.local = r->f->angular_step <= r->f->local_search_below;
    if (!resume) {
        refine_memory m;
        if ((st = refine_check_memory(r, 1, r->f->angular_step, r->state.local, refine_first_band(r), &m)) == GAR_OK) {
            gar_format_bytes(m.total, need_s, sizeof need_s);
            gar_format_bytes((double)gar_available_memory(mem_src, sizeof mem_src), avail_s, sizeof avail_s);
            snprintf(mem_note, sizeof mem_note, ", memory %s of %s available per rank", need_s, avail_s);
            st = run_check_thread_stacks(p, r->rcfg.threads, (size_t)m.total);
        }
    } else {
        st = run_check_thread_stacks(p, r->rcfg.threads, 0);
    }
    if ((st = gar_mpi_agree_report(st, size)) != GAR_OK)
        goto fail;
    if (rank == 0)
        st = open_output(r, resume);
    if ((st = gar_mpi_agree_report(st, size)) != GAR_OK)
        goto fail;
    /* A new run, or a continued one whose poses file holds no model (garner 0.1's). */
    if (r->noise != NULL && (!resume || gar_noise_is_white(r->noise)) && (st = refine_noise_start(r)) != GAR_OK)
        goto fail;
    gar_log_info("%zu particles, %zu px at %.4g Å/px, symmetry %s, from %s at %g Å, step %g degrees, %d rank%s × %d "
                 "thread%s%s", r->n, r->box, r->px, gar_symmetry_name(r->sym), r->f->initial_map,
                 r->f->initial_resolution, r->f->angular_step, size, size > 1 ? "s" : "", r->rcfg.threads,
                 r->rcfg.threads == 1 ? "" : "s", mem_note);
    gar_log_info("mask: %.0f Å across%s", 2 * r->mask_px * r->px,
                 r->mask_auto ? " (the particle in the initial map; [refine] mask_diameter sets it)" : "");
    if (rank == 0 || size == 1) {
        run_log_devices(&r->rs, NULL);
        if (r->rcfg.n_gpu_devices > 0)
            gar_log_info("search: the coarse stage of global searches on the same GPU%s (cuBLAS), the rest on "
                         "the CPU threads", r->rcfg.n_gpu_devices > 1 ? "s" : "");
    }
    if ((st = share_state(r)) != GAR_OK)
        goto fail;
    *out = r;
    return GAR_OK;
fail:
    gar_refine_destroy(&r);
    return st;
}

int gar_refine_converged(const gar_refine *r)
{
    return r->state.converged || r->state.iteration >= (uint64_t)r->f->iterations;
}

/* The reconstructor and its partial sums, once a run (the first pass makes them). */
static gar_status make_recon(gar_refine *r)
{
    gar_status st;
    if (r->rec != NULL)
        return GAR_OK;
    if ((st = gar_recon_create(&r->rcfg, &r->rec)) != GAR_OK)
        return st;
    return run_partials_create(r->rec, &r->rs, r->rcfg.threads, r->rank, r->size, &r->parts);
}

/* Rank 0: the resolution of the solvent-corrected FSC of the half maps
 * (docs/ARCHITECTURE.md, "Refine's solvent-corrected FSC") once the
 * unmasked one is at or finer than [refine] solvent_fsc_below; NaN before,
 * when it is off, or when no mask can be made from the map (a warning). */
static gar_status solvent_resolution(gar_refine *r, double unmasked, double *masked)
{
    gar_status st;
    gar_map *made = NULL;
    const gar_map *mask = r->solvent_mask;
    double *fsc = NULL;
    size_t ns = r->n_shells, from;
    gar_mask_settings ms;
    gar_postprocess_settings ps;

    *masked = NAN;
    if (!(r->f->solvent_fsc_below > 0) || !(unmasked <= r->f->solvent_fsc_below))
        return GAR_OK;
    gar_mask_settings_default(&ms);
    gar_postprocess_settings_default(&ps);
    if (mask == NULL) {
        if ((st = gar_mask_from_halves(r->half[0], r->half[1], &ms, &made, NULL)) == GAR_ERR_DATA) {
            gar_log_warn("no solvent mask from this iteration's map (%s): its resolution is the unmasked FSC's",
                         gar_errmsg());
            return GAR_OK;
        }
        if (st != GAR_OK)
            return st;
        mask = made;
    }
    if ((st = gar_alloc((void **)&fsc, 4 * ns, sizeof *fsc, "solvent-corrected FSC")) != GAR_OK ||
        (st = gar_fsc_solvent_corrected(r->half[0], r->half[1], mask, ps.randomise_below, ps.seed, fsc, fsc + ns,
                                        fsc + 2 * ns, fsc + 3 * ns, &from)) != GAR_OK)
        goto done;
    *masked = gar_fsc_resolution(fsc + 3 * ns, ns, r->box, r->px, 0.143);
done:
    free(fsc);
    gar_map_destroy(&made);
    return st;
}

/* Rank 0, after a pass: the half maps, their FSC, the next step, the
 * iteration's folder and its line in the log. */
static gar_status conclude(gar_refine *r, size_t it, double t_it, double step, double band, double memory,
                           int local, double changed)
{
    gar_status st;
    double res, res_unmasked, res_masked;
    char masked_s[64] = "";
    gar_map_destroy(&r->half[0]);
    gar_map_destroy(&r->half[1]);
    if ((st = refine_judge(r)) != GAR_OK ||
        (st = gar_recon_finalize(r->rec, 1, &r->half[0])) != GAR_OK ||
        (st = gar_recon_finalize(r->rec, 2, &r->half[1])) != GAR_OK)
        return st;
    refine_apply_gain(r, r->half[0]);
    refine_apply_gain(r, r->half[1]);
    if ((st = gar_fsc_compute(r->half[0], r->half[1], r->fsc)) != GAR_OK)
        return st;
    res_unmasked = gar_fsc_resolution(r->fsc, r->n_shells, r->box, r->px, 0.143);
    if ((st = solvent_resolution(r, res_unmasked, &res_masked)) != GAR_OK)
        return st;
    res = isfinite(res_masked) ? res_masked : res_unmasked;
    r->state.iteration = it;
    refine_advance(r, res, it == 1 ? 1.0 : changed);
    if (r->n_rec < sizeof r->rec_log / sizeof r->rec_log[0])
        r->rec_log[r->n_rec++] = (iter_record){.step = step, .resolution = res,
                                               .changed = it == 1 ? 1.0 : changed,
                                               .seconds = gar_wall_seconds() - t_it, .band = band, .memory = memory,
                                               .resolution_unmasked = res_unmasked,
                                               .resolution_masked = res_masked,
                                               .search_seconds = r->search_seconds, .local = local};
    if ((st = refine_write_iteration(r, it)) != GAR_OK)
        return st;
    if (isfinite(res_masked))
        snprintf(masked_s, sizeof masked_s, ", %.2f Å masked (corrected)", res_masked);
    else if (r->f->solvent_fsc_below > 0)
        snprintf(masked_s, sizeof masked_s, "; masked from %g Å", r->f->solvent_fsc_below);
    gar_log_info("iteration %zu: resolution %.2f Å (FSC 0.143: %.2f Å unmasked%s), %.0f %% of poses moved more "
                 "than %.3g degrees, %.1f s (search %.1f s, %.0f particles/s per process)%s", it, res, res_unmasked,
                 masked_s, 100 * (it == 1 ? 1.0 : changed), step, gar_wall_seconds() - t_it, r->search_seconds,
                 refine_search_rate(r, r->search_seconds), r->state.converged ? "; converged" : "");
    if (r->f->junk_sigma > 0)
        gar_log_info("iteration %zu: %llu particles (%.1f %%) junk (contrast below %.3g of the median's or misfit above "
                     "%.3g: %g robust σ), left out of the next reconstruction", it,
                     (unsigned long long)r->state.junk_count,
                     r->n ? 100.0 * (double)r->state.junk_count / (double)r->n : 0.0, r->state.junk_threshold,
                     r->state.misfit_threshold, r->f->junk_sigma);
    return GAR_OK;
}

gar_status gar_refine_iterate(gar_refine *r)
{
    gar_status st = GAR_OK;
    const size_t it = (size_t)r->state.iteration + 1;
    const double t_it = gar_wall_seconds(), step = r->state.angular_step_deg;
    const int local = (int)r->state.local;
    const double band = it == 1 ? refine_first_band(r) : refine_search_band(r, r->state.resolution_A);
    double changed = 0;
    char need_s[32] = "";
    refine_memory it_mem;
    gar_search *search = NULL;
    gar_refproj *ref[2] = {NULL, NULL};

    if ((st = refine_check_memory(r, it, step, local, band, &it_mem)) == GAR_OK)
        gar_format_bytes(it_mem.total, need_s, sizeof need_s);
    if (st == GAR_OK && (r->rank != 0 || r->size == 1)) {
        gar_search_config sc;
        refine_search_config(r, step, local, band, &sc);
        if ((st = refine_make_references(r, it == 1 ? r->initial : NULL, band, ref)) == GAR_OK) {
            sc.ref[0] = ref[0];
            sc.ref[1] = ref[1];
            st = gar_search_create(&sc, &search);
        }
    }
    if (st == GAR_OK)
        st = make_recon(r);
    if ((st = gar_mpi_agree_report(st, r->size)) != GAR_OK)
        goto done;
    gar_log_info("iteration %zu: %s search at %.3g degrees over %.1f shells (%.1f Å)%s, memory %s per rank", it,
                 local ? "local" : "global", step, band, r->box * r->px / band,
                 it > 1 && r->state.resolution_A > r->f->join_below ? ", half sets joined" : "", need_s);
    if ((st = refine_pass(r, search, step, &changed)) != GAR_OK)
        goto done;
    if (r->noise != NULL && (st = gar_mpi_agree_report(refine_noise_update(r, band), r->size)) != GAR_OK)
        goto done;
    gar_search_destroy(&search);
    refine_free_references(ref);
    if (r->rank == 0)
        st = conclude(r, it, t_it, step, band, it_mem.total, local, changed);
    if ((st = gar_mpi_agree_report(st, r->size)) != GAR_OK)
        goto done;
    st = share_state(r);
done:
    gar_search_destroy(&search);
    refine_free_references(ref);
    return st;
}

gar_status gar_refine_finish(gar_refine *r)
{
    gar_status st = GAR_OK;
    if (r->passes == 0) {
        /* Continued after the last iteration: reconstruct from its poses. */
        double unused;
        st = make_recon(r);
        if ((st = gar_mpi_agree_report(st, r->size)) != GAR_OK || (st = refine_pass(r, NULL, 0, &unused)) != GAR_OK)
            return st;
    }
    /* A stack copied over during the run (issue 18, case 8): no final map
     * from two files. */
    if (r->rank == 0) {
        char *now = NULL;
        if ((st = run_fprint_stacks(r->p, &now)) == GAR_OK)
            st = run_fprint_compare(now, r->fingerprint, 1, "a stack changed during the run", "the run's start",
                                    "; no final map was written: run again once the stacks stay put");
        free(now);
    }
    if (r->rank == 0 && st == GAR_OK && (st = refine_write_final(r, gar_wall_seconds() - r->t0)) == GAR_OK &&
        (st = gar_outdir_commit(&r->out)) == GAR_OK) {
        const unsigned long long n_it = (unsigned long long)r->state.iteration;
        if (r->state.converged)
            gar_log_info("converged after %llu iteration%s in %.1f s", n_it, n_it == 1 ? "" : "s",
                         gar_wall_seconds() - r->t0);
        else
            /* params-effective.ini, not the parameter file given: it holds
             * the --set options too, which the fingerprint check of
             * --continue would otherwise find missing. */
            gar_log_info("stopped after %llu iteration%s in %.1f s, not converged ([refine] iterations reached); "
                         "garner refine --continue %s/params-effective.ini --set refine.iterations=%llu goes on "
                         "from here",
                         n_it, n_it == 1 ? "" : "s", gar_wall_seconds() - r->t0, r->set->output.dir, n_it + 4);
        gar_log_info("map: %s/map.mrc, resolution %.2f Å (FSC 0.143 between half maps%s)", r->set->output.dir,
                     r->state.resolution_A,
                     r->n_rec && isfinite(r->rec_log[r->n_rec - 1].resolution_masked)
                         ? ", masked and corrected; postprocess/ has the full analysis"
                         : "");
    }
    if ((st = gar_mpi_agree_report(st, r->size)) != GAR_OK)
        return st;
    /* Every rank: the local resolution's points are split over them. */
    if (r->set->postprocess.run)
        st = refine_postprocess(r);
    return st;
}

void gar_refine_destroy(gar_refine **rp)
{
    gar_refine *r;
    if (rp == NULL || *rp == NULL)
        return;
    r = *rp;
    gar_outdir_abort(&r->out);
    gar_partials_destroy(&r->parts);
    gar_recon_destroy(&r->rec);
    refine_noise_destroy(r);
    free(r->batch_scale);
    gar_map_destroy(&r->initial);
    gar_map_destroy(&r->truth);
    gar_map_destroy(&r->solvent_mask);
    gar_map_destroy(&r->half[0]);
    gar_map_destroy(&r->half[1]);
    free(r->fsc);
    free(r->poses);
    free(r->fingerprint);
    free(r->stack_base);
    gar_inputs_close(&r->in);
    gar_symmetry_destroy(&r->sym);
    free(r);
    *rp = NULL;
}

gar_status gar_run_refine(gar_params *p, const char *params_path, int resume, int rank, int size)
{
    gar_refine *r = NULL;
    gar_status st = gar_refine_create(p, params_path, resume, rank, size, &r);
    while (st == GAR_OK && !gar_refine_converged(r))
        st = gar_refine_iterate(r);
    if (st == GAR_OK)
        st = gar_refine_finish(r);
    gar_refine_destroy(&r);
    return st;
}
