/* garner refine: one pass over all particles (see refine_impl.h). With one
 * process it works through the shards itself; with several, rank 0 hands
 * them out on request and the workers search and insert them, folding their
 * sums after each shard (run_shards.h); then the sums and the poses found
 * meet on rank 0. */
#include <stdlib.h>
#include <string.h>
#include "gar_geometry.h"
#include "gar_log.h"
#include "gar_mpi.h"
#include "refine_impl.h"
#include "run_shards.h"

/* A pose found, as it travels to rank 0. */
typedef struct pose_row {
    uint64_t index;
    double rot_deg, tilt_deg, psi_deg, origin_x_A, origin_y_A, score, scale, evidence, misfit;
} pose_row;

typedef struct refine_pass_ctx {
    gar_refine *r;
    gar_search *search;        /* NULL: insert the current poses only */
    double step;
    gar_search_result *res;    /* a batch's scores and contrast scales */
    size_t moved;              /* poses that moved by more than `step` (modulo the symmetry) */
    pose_row *rows;            /* a worker's poses found, for rank 0 */
    size_t n_rows, cap_rows;
    size_t skipped;
    double read_seconds;
    /* [refine] alternatives: a batch of weighted copies to insert. */
    float *wimages, *wscale;
    gar_particle *wmeta;
    size_t wn;
} refine_pass_ctx;

gar_status refine_stopped(const gar_refine *r)
{
    return gar_error(GAR_ERR_CHECKPOINT, "stopped by a signal during iteration %llu: %s holds the iterations "
                     "finished before it; run again with --continue to go on from there",
                     (unsigned long long)r->state.iteration + 1, r->set->output.dir);
}

static gar_status add_row(refine_pass_ctx *c, size_t index, const gar_pose *q)
{
    if (c->n_rows == c->cap_rows) {
        size_t cap = c->cap_rows ? 2 * c->cap_rows : 1024;
        pose_row *more = realloc(c->rows, cap * sizeof *more);
        if (more == NULL)
            return gar_error(GAR_ERR_NOMEM, "out of memory for %zu poses", cap);
        c->rows = more;
        c->cap_rows = cap;
    }
    c->rows[c->n_rows++] = (pose_row){index, q->rot_deg, q->tilt_deg, q->psi_deg, q->origin_x_A, q->origin_y_A,
                                      q->score, q->scale, q->evidence, q->misfit};
    return GAR_OK;
}

/* One weighted copy of particle i of the batch at `pose` (NULL: the one
 * found), weight w: image × sqrt(w) inserted with scale × sqrt(w) adds
 * w·a·C·X and w·a²·C² (gar_recon_insert_scaled); the copies go in batches. */
static gar_status add_copy(refine_pass_ctx *c, const run_batch *b, size_t i, const gar_search_alt *pose, double w)
{
    gar_refine *r = c->r;
    gar_status st;
    const size_t npix = r->box * r->box, cap = (size_t)r->set->reconstruct.batch;
    const float g = (float)sqrt(w);
    if (c->wn == cap) {
        if ((st = gar_recon_insert_scaled(r->rec, c->wimages, c->wmeta, c->wscale, c->wn)) != GAR_OK)
            return st;
        c->wn = 0;
    }
    for (size_t k = 0; k < npix; k++)
        c->wimages[c->wn * npix + k] = b->images[i * npix + k] * g;
    c->wmeta[c->wn] = b->meta[i];
    if (pose != NULL) {
        c->wmeta[c->wn].rot_deg = pose->rot_deg;
        c->wmeta[c->wn].tilt_deg = pose->tilt_deg;
        c->wmeta[c->wn].psi_deg = pose->psi_deg;
        c->wmeta[c->wn].origin_x_A = pose->origin_x_A;
        c->wmeta[c->wn].origin_y_A = pose->origin_y_A;
    }
    c->wscale[c->wn++] = r->batch_scale[i] * g;
    return GAR_OK;
}

/* [refine] alternatives: each particle at its best pose and at the
 * alternatives the search kept, weighted by their posterior shares. */
static gar_status insert_weighted(refine_pass_ctx *c, const run_batch *b)
{
    gar_status st = GAR_OK;
    for (size_t i = 0; i < b->count && st == GAR_OK; i++) {
        const gar_search_result *q = &c->res[i];
        if (c->r->batch_scale[i] == 0.0f)   /* junk: left out */
            continue;
        st = add_copy(c, b, i, NULL, q->n_alt > 0 ? q->best_weight : 1.0);
        for (int k = 0; k < q->n_alt && st == GAR_OK; k++)
            st = add_copy(c, b, i, &q->alt[k], q->alt[k].weight);
    }
    if (st == GAR_OK && c->wn > 0) {
        st = gar_recon_insert_scaled(c->r->rec, c->wimages, c->wmeta, c->wscale, c->wn);
        c->wn = 0;
    }
    return st;
}

/* A batch: each particle starts from its current pose and half set; search
 * it (when searching), record the pose found and its raw contrast scale
 * (refine_judge makes it relative), add its residual to the noise sums,
 * insert it with that pose and scale (0: junk by the last pass's scores). */
static gar_status search_batch(void *arg, run_batch *b)
{
    refine_pass_ctx *c = arg;
    gar_refine *r = c->r;
    gar_status st;
    const size_t base = r->stack_base[b->stack];
    for (size_t i = 0; i < b->count; i++) {
        const gar_pose *q = &r->poses[base + b->index[i]];
        b->meta[i].rot_deg = q->rot_deg;
        b->meta[i].tilt_deg = q->tilt_deg;
        b->meta[i].psi_deg = q->psi_deg;
        b->meta[i].origin_x_A = q->origin_x_A;
        b->meta[i].origin_y_A = q->origin_y_A;
        b->meta[i].half_set = q->half_set;
    }
    if (c->search != NULL) {
        const double t = gar_wall_seconds();
        if ((st = gar_search_batch(c->search, b->images, b->meta, c->res, r->noise ? r->noise_rows : NULL,
                                   b->count)) != GAR_OK ||
            (r->noise != NULL && (st = refine_noise_add(r, b->meta, b->count)) != GAR_OK))
            return st;
        r->search_seconds += gar_wall_seconds() - t;
        for (size_t i = 0; i < b->count; i++) {
            gar_pose *q = &r->poses[base + b->index[i]];
            double A[9], B[9];
            gar_euler_to_matrix(q->rot_deg, q->tilt_deg, q->psi_deg, A);
            gar_euler_to_matrix(b->meta[i].rot_deg, b->meta[i].tilt_deg, b->meta[i].psi_deg, B);
            c->moved += gar_symmetry_angle_between(r->sym, A, B) > c->step;
            q->rot_deg = b->meta[i].rot_deg;
            q->tilt_deg = b->meta[i].tilt_deg;
            q->psi_deg = b->meta[i].psi_deg;
            q->origin_x_A = b->meta[i].origin_x_A;
            q->origin_y_A = b->meta[i].origin_y_A;
            q->score = c->res[i].score;
            q->scale = c->res[i].scale;   /* raw, against this pass's reference, until refine_judge */
            q->evidence = c->res[i].evidence;
            q->misfit = c->res[i].misfit;
            if (r->size > 1 && (st = add_row(c, base + b->index[i], q)) != GAR_OK)
                return st;
        }
    }
    for (size_t i = 0; i < b->count; i++)
        r->batch_scale[i] = refine_insert_scale(r, &r->poses[base + b->index[i]], c->search != NULL);
    if (c->search != NULL && c->wimages != NULL)
        return insert_weighted(c, b);
    return gar_recon_insert_scaled(r->rec, b->images, b->meta, r->batch_scale, b->count);
}

/* After each shard: the GPUs' sums into the host's (with exact sums, so
 * that a device's float sum covers one shard only, whoever took it). */
static gar_status flush_shard(void *arg)
{
    refine_pass_ctx *c = arg;
    return gar_recon_flush(c->r->rec);
}


/* A signal (Slurm's --signal before the time limit) stops the pass between
 * shards; the finished iterations stay on disk for --continue. */
static int want_stop(void *arg)
{
    (void)arg;
    return gar_signal_received() != 0;
}

static gar_status stop(void *arg, const unsigned char *done)
{
    (void)done;
    return refine_stopped(((refine_pass_ctx *)arg)->r);
}

/* Collective: the workers' partial volumes and counts summed on rank 0 (as
 * for reconstruct: exact with [mpi] reproducible), with the moved poses and
 * search times; the poses found, as (index, pose) rows, to rank 0. */
static gar_status gather_results(refine_pass_ctx *c)
{
    gar_refine *r = c->r;
    gar_status st;
    gar_recon_partial v;
    double sums[2] = {(double)c->moved, r->search_seconds};
    pose_row *all = NULL;
    size_t n_all = 0;
    if ((st = gar_recon_partial_view(r->rec, &v)) != GAR_OK ||
        (st = gar_partials_reduce(r->parts, &v, sums, 2)) != GAR_OK)
        return st;
    if ((st = gar_mpi_gather_rows(c->rows, c->n_rows, sizeof *c->rows, 0, (void **)&all, &n_all)) != GAR_OK)
        return st;
    if (r->rank == 0) {
        c->moved = (size_t)sums[0];
        r->search_seconds = sums[1] / (double)(r->size - 1);   /* rank 0 hands out, workers search */
        for (size_t i = 0; i < n_all; i++) {
            gar_pose *q;
            if (all[i].index >= r->n) {
                free(all);
                return gar_error(GAR_ERR_INTERNAL, "pose of particle %llu of %zu", (unsigned long long)all[i].index,
                                 r->n);
            }
            q = &r->poses[all[i].index];
            q->rot_deg = all[i].rot_deg, q->tilt_deg = all[i].tilt_deg, q->psi_deg = all[i].psi_deg;
            q->origin_x_A = all[i].origin_x_A, q->origin_y_A = all[i].origin_y_A, q->score = all[i].score;
            q->scale = all[i].scale;
            q->evidence = all[i].evidence;
            q->misfit = all[i].misfit;
        }
    }
    free(all);
    return GAR_OK;
}

gar_status refine_pass(gar_refine *r, gar_search *search, double step, double *changed)
{
    gar_status st;
    run_shards *shards = NULL;
    refine_pass_ctx c;
    const size_t shard_size =
        run_shard_size(r->set->mpi.shard_size, r->n, r->size, 8, 16, (size_t)r->set->reconstruct.batch);
    memset(&c, 0, sizeof c);
    c.r = r;
    c.search = search;
    c.step = step;
    const gar_settings *set = &r->rs.set;
    const run_shard_plan plan = {search != NULL ? "search" : "reconstruct", 30.0, (size_t)set->reconstruct.batch,
                                 set->input.nonfinite == GAR_NONFINITE_SKIP, &c.skipped, &c.read_seconds,
                                 search_batch, flush_shard, want_stop, stop, &c, set->input.normalize};
    r->search_seconds = 0;
    r->raw_scales = 0;
    r->map_gain = 1.0;
    /* A new pass starts from zero sums (the reconstructor and its partials
     * are made once a run, zeroed: the first pass needs no reset, which at
     * box 256 would touch 1.6 GB again). */
    if (r->passes > 0) {
        if ((st = gar_recon_reset(r->rec)) != GAR_OK)
            goto done;
    }
    if (search != NULL && r->noise != NULL && r->f->alternatives > 0) {
        const size_t cap = (size_t)r->set->reconstruct.batch;
        if ((st = gar_alloc((void **)&c.wimages, cap, r->box * r->box * sizeof(float), "weighted copies")) != GAR_OK ||
            (st = gar_alloc((void **)&c.wmeta, cap, sizeof *c.wmeta, "weighted copies")) != GAR_OK ||
            (st = gar_alloc((void **)&c.wscale, cap, sizeof *c.wscale, "weighted copies")) != GAR_OK)
            goto done;
    }
    if ((st = gar_alloc((void **)&c.res, (size_t)r->set->reconstruct.batch, sizeof *c.res, "scores")) != GAR_OK ||
        (r->batch_scale == NULL && (st = gar_alloc((void **)&r->batch_scale, (size_t)r->set->reconstruct.batch,
                                                   sizeof *r->batch_scale, "scales")) != GAR_OK) ||
        (st = run_shards_create(r->in, shard_size, &shards)) != GAR_OK)
        goto done;
    /* With exact sums: the pass's quanta, on every rank. */
    if ((st = run_set_fixed_scale(&r->rs, r->rank, r->size, shards, r->rec, r->parts, r->n,
                                  refine_insert_scale_cap(r, search != NULL))) != GAR_OK)
        goto done;
    st = run_shards_drive(shards, r->rank, r->size, &plan);
    if ((st = gar_mpi_agree_report(st, r->size)) != GAR_OK)
        goto done;
    if (r->size > 1 && (st = gather_results(&c)) != GAR_OK)
        goto done;
    *changed = r->n ? (double)c.moved / (double)r->n : 0;
    r->passes++;
done:
    run_shards_destroy(&shards);
    free(c.res);
    free(c.wimages);
    free(c.wmeta);
    free(c.wscale);
    free(c.rows);
    return st;
}
