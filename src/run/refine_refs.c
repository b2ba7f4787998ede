/* garner refine: the references, the sampling schedule and the memory
 * each iteration needs (see gar_refine.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gar_geometry.h"
#include "gar_kernels.h"
#include "gar_log.h"
#include "gar_mpi.h"
#include "gar_sysinfo.h"
#include "refine_impl.h"

/* Shell of the box at a resolution in Å. */
double refine_shell_of(const gar_refine *r, double res_A) { return (double)r->box * r->px / res_A; }

/* 1 up to shell r0, a raised cosine to 0 over 3 shells beyond. */
static void low_pass(double r0, double *w, size_t n)
{
    for (size_t s = 0; s < n; s++)
        w[s] = (double)s <= r0 ? 1.0 : (double)s >= r0 + 3 ? 0.0 : 0.5 + 0.5 * cos(GAR_PI * ((double)s - r0) / 3.0);
}

/* The search band (shells) for a resolution: a little beyond it, within the box. */
double refine_search_band(const gar_refine *r, double res_A)
{
    double b = 1.2 * refine_shell_of(r, res_A) + 2.0, top = r->box / 2.0 - 3.0;
    return b < 3.0 ? 3.0 : b > top ? top : b;
}

/* The first search's band: the initial resolution. */
double refine_first_band(const gar_refine *r)
{
    return fmin(refine_shell_of(r, r->f->initial_resolution), r->box / 2.0 - 3.0);
}

/* The references of the next iteration. Iteration 1: the initial map, low
 * pass filtered, for both half sets. Later: each half map (or, while the
 * resolution is worse than join_below, their average), Wiener filtered
 * within the band: multiplied per shell by its expected signal share
 * s/(s+n), which is the FSC between the half maps for a half map, and
 * 2 FSC / (1 + FSC) for their average (docs/ARCHITECTURE.md, "The pose
 * score"). The filter that makes the reference the least-squares estimate
 * of the projection is also the one that makes the score's cross term the
 * best detector when the reference is noisy (RELION's τ² regularisation
 * comes to the same for its references). */
gar_status refine_make_references(gar_refine *r, const gar_map *initial, double band, gar_refproj *ref[2])
{
    gar_status st = GAR_OK;
    const size_t ns = r->box / 2 + 1;
    double *w = NULL;
    gar_map *avg = NULL;
    ref[0] = ref[1] = NULL;
    if ((st = gar_alloc((void **)&w, ns, sizeof *w, "filter")) != GAR_OK)
        return st;
    if (initial != NULL) {
        low_pass(refine_shell_of(r, r->f->initial_resolution), w, ns);
        st = gar_refproj_create(initial, r->mask_px, w, ns, &ref[0]);
        ref[1] = ref[0];
        goto done;
    }
    const int joined = r->state.resolution_A > r->f->join_below;
    for (size_t s = 0; s < ns; s++) {
        double F = r->fsc[s] > 0 ? fmin(r->fsc[s], 1.0) : 0;
        w[s] = (double)s <= band ? (joined ? 2 * F / (1 + F) : F) : 0;
    }
    w[0] = 1;
    if (joined) {
        if ((st = gar_map_create(r->box, r->box, r->box, r->px, &avg)) != GAR_OK)
            goto done;
        for (size_t i = 0; i < gar_map_voxels(avg); i++)
            avg->data[i] = 0.5f * (r->half[0]->data[i] + r->half[1]->data[i]);
        st = gar_refproj_create(avg, r->mask_px, w, ns, &ref[0]);
        ref[1] = ref[0];
        goto done;
    }
    if ((st = gar_refproj_create(r->half[0], r->mask_px, w, ns, &ref[0])) == GAR_OK)
        st = gar_refproj_create(r->half[1], r->mask_px, w, ns, &ref[1]);
done:
    free(w);
    gar_map_destroy(&avg);
    return st;
}

void refine_free_references(gar_refproj *ref[2])
{
    if (ref[1] != ref[0])
        gar_refproj_destroy(&ref[1]);
    gar_refproj_destroy(&ref[0]);
    ref[1] = NULL;
}

/* Particles searched per second by one process, from the searching
 * processes' mean time in the search (0 when there was none). */
double refine_search_rate(const gar_refine *r, double search_seconds)
{
    const double per_process = r->size > 1 ? (double)r->n / (double)(r->size - 1) : (double)r->n;
    return search_seconds > 0 ? per_process / search_seconds : 0;
}

/* Decide the next iteration's step and mode from this one's resolution. */
void refine_advance(gar_refine *r, double resolution, double changed)
{
    gar_refine_state *s = &r->state;
    const double D = r->mask_px * 2 * r->px;
    s->resolution_A = resolution;
    s->changed_fraction = changed;
    if (s->best_resolution_A <= 0 || resolution < 0.99 * s->best_resolution_A) {
        s->best_resolution_A = resolution;
        s->stalls = 0;
    } else {
        s->stalls++;
    }
    /* The finest step worth searching: a quarter of the angle the resolution
     * subtends at the particle's radius. Half of it (as before) ended the
     * tii-64 benchmark one step coarser: one more local iteration there cost
     * 14-20 % more time and gave a median angular error of 0.54° instead of
     * 0.61° at SNR 1, 1.87° instead of 2.04° at SNR 0.2 (92.3 % within 5°
     * instead of 90.8 %). */
    r->finest_step = fmax(0.5, (s->best_resolution_A / (0.5 * D)) * 180.0 / GAR_PI * 0.25);
    /* Hardly any pose still moves by more than the step (after the first
     * iteration, whose start is no pose at all): the search at this step has
     * done its work, finer sampling is next, as RELION's auto-refine moves
     * on when the orientations stop changing, without waiting for the
     * resolution to stall (which can creep for a few global iterations at
     * full band). 5 %: at 15 % the realistic benchmark's 1000-particle set
     * left global searches one iteration early and ended with 57 % of the
     * particles within 5 degrees instead of 67 %. */
    if (s->stalls == 0 && s->iteration > 1 && changed < 0.05 && s->angular_step_deg > r->finest_step)
        s->stalls = 1;
    if (s->stalls > 0) {
        if (s->angular_step_deg > r->finest_step) {
            s->angular_step_deg *= 0.5;
            s->stalls = 0;
        } else if (changed < 0.1) {
            s->converged = 1;
        }
    }
    s->local = s->angular_step_deg <= r->f->local_search_below;
}

/* The search's configuration for an iteration. */
void refine_search_config(const gar_refine *r, double step, int local, double band, gar_search_config *sc)
{
    memset(sc, 0, sizeof *sc);
    sc->box = r->box;
    sc->pixel_size_A = r->px;
    sc->band_radius = band;
    sc->mask_radius_px = r->mask_px;
    sc->ctf = r->set->reconstruct.ctf;
    sc->optics = r->optics;
    sc->n_optics = r->n_optics;
    sc->sym = r->sym;
    sc->mode = local ? GAR_SEARCH_LOCAL : GAR_SEARCH_GLOBAL;
    sc->angular_step_deg = step;
    sc->shift_range_A = r->f->shift_range > 0 ? r->f->shift_range : 5 * r->px;
    sc->shift_step_A = r->f->shift_step > 0 ? r->f->shift_step : r->px;
    sc->top_k = 8;
    sc->threads = r->rcfg.threads;
    sc->gpu_devices = r->rcfg.gpu_devices;
    sc->n_gpu_devices = r->rcfg.n_gpu_devices;
    sc->batch = (size_t)r->set->reconstruct.batch;
    sc->noise = r->noise;
    sc->alternatives = r->noise != NULL ? (int)r->f->alternatives : 0;
}

static gar_status iteration_memory(const gar_refine *r, int rank, size_t it, double step, int local, double band,
                                   refine_memory *m)
{
    gar_status st;
    const int two_refs = it > 1 && r->state.resolution_A <= r->f->join_below;
    const double vol = (double)r->box * r->box * r->box * sizeof(float);
    double ref_kept, ref_extra;
    memset(m, 0, sizeof *m);
    if (rank != 0 || r->size == 1) {
        gar_search_config sc;
        refine_search_config(r, step, local, band, &sc);
        if ((st = gar_search_memory_bytes(&sc, two_refs, &m->search)) != GAR_OK)
            return st;
        gar_refproj_memory_bytes(r->box, &ref_kept, &ref_extra);
        m->refs = (two_refs ? 2 : 1) * ref_kept + ref_extra;
    }
    m->recon = (double)gar_recon_memory_bytes(&r->rcfg) +
               (double)run_partials_memory_bytes(&r->rcfg, &r->rs, rank, r->size, 1);
    /* Besides: half maps, their average, the initial map and the reference
     * map; the poses and their flags; a batch of particles with metadata
     * (two with [refine] alternatives: the weighted copies). */
    m->total = m->search + m->refs + m->recon + 5 * vol + (double)r->n * (sizeof *r->poses + 1) +
               (r->noise != NULL && r->f->alternatives > 0 ? 2.0 : 1.0) * (double)r->set->reconstruct.batch *
                   ((double)r->box * r->box * sizeof(float) + sizeof(gar_particle) + 16);
    return GAR_OK;
}

/* Checked before the iteration's references, search and reconstruction are
 * made: iteration 1 before the output folder is made, each later one as it
 * starts (a later global search at a finer step may need much more).
 * *searching receives a searching rank's need, the largest, for the log
 * (this rank's own unless it is the master of a parallel run). */
gar_status refine_check_memory(const gar_refine *r, size_t it, double step, int local, double band,
                               refine_memory *searching)
{
    gar_status st;
    refine_memory m;
    char mem_src[128], node_src[128], need_s[32], avail_s[32], search_s[32], refs_s[32], recon_s[32];
    size_t avail, node_avail;
    double held, node_need = 0, node_most = 0;
    int node_ranks = 1;
    if ((st = iteration_memory(r, r->rank, it, step, local, band, &m)) != GAR_OK)
        return st;
    *searching = m;
    if (r->rank == 0 && r->size > 1 && (st = iteration_memory(r, 1, it, step, local, band, searching)) != GAR_OK)
        return st;
    /* The reconstructor, made once a run, already holds its part: what is
     * available beside it counts it in. The ranks on one node share its
     * memory (issue 20): their needs still to allocate are summed. */
    held = r->rec != NULL ? m.recon : 0;
    if ((st = gar_mpi_node_sum(m.total - held, &node_need, &node_most, &node_ranks)) != GAR_OK)
        return st;
    avail = gar_available_memory(mem_src, sizeof mem_src);
    node_avail = gar_node_memory_available(node_src, sizeof node_src);
    if (node_ranks > 1 && node_avail > 0 && node_need > (double)node_avail && !(avail > 0 && m.total > (double)avail + held)) {
        const long fit = node_most > 0 ? (long)((double)node_avail / node_most) : 1;
        char fit_s[160];
        run_node_fit_advice(fit, fit_s, sizeof fit_s);
        gar_format_bytes(node_need, need_s, sizeof need_s);
        gar_format_bytes(node_most, search_s, sizeof search_s);
        gar_format_bytes((double)node_avail, avail_s, sizeof avail_s);
        return gar_error(GAR_ERR_NOMEM, "iteration %zu: the %d ranks on this node need %s together (up to %s each, "
                         "%s search at %.3g degrees with %d thread%s) but the node has %s (%s); %s%s",
                         it, node_ranks, need_s, search_s, local ? "local" : "global", step, r->rcfg.threads,
                         r->rcfg.threads == 1 ? "" : "s", avail_s, node_src, fit_s,
                         local ? "lower [reconstruct] threads, batch or pad"
                               : "raise [refine] angular_step, or lower [reconstruct] threads");
    }
    if (avail == 0 || m.total <= (double)avail + held)
        return GAR_OK;
    gar_format_bytes(m.total, need_s, sizeof need_s);
    gar_format_bytes((double)avail, avail_s, sizeof avail_s);
    gar_format_bytes(m.search, search_s, sizeof search_s);
    gar_format_bytes(m.refs, refs_s, sizeof refs_s);
    gar_format_bytes(m.recon, recon_s, sizeof recon_s);
    return gar_error(GAR_ERR_NOMEM, "iteration %zu needs %s on this rank (%s search at %.3g degrees over %.1f shells "
                     "with %d thread%s: %s; references %s; reconstruction %s) but only %s is available (%s); %s",
                     it, need_s, local ? "local" : "global", step, band, r->rcfg.threads,
                     r->rcfg.threads == 1 ? "" : "s", search_s, refs_s, recon_s, avail_s, mem_src,
                     local ? "lower [reconstruct] threads, batch or pad, or run on a node with more memory"
                           : "raise [refine] angular_step, or local_search_below to search locally from this step, "
                             "lower [reconstruct] threads, or run on a node with more memory");
}

