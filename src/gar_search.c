/* garner: pose search by projection matching (see gar_search.h): create
 * and destroy, and the batches, threaded over particles, with the coarse
 * stage of a global search staged for the GPUs. The sampling is in
 * gar_search_grid.c, the scoring of one particle in gar_search_score.c. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "gar_fft.h"
#include "gar_gpu.h"
#include "gar_kernels.h"
#include "gar_log.h"
#include "gar_search_impl.h"

/* The GPU's best coarse score may differ from the CPU's by float rounding
 * (another order of additions); more than this means the GPU path is wrong. */
#define GPU_CHECK_TOLERANCE 1e-3

/* The coarse stage goes to the GPUs for a global search given devices (and
 * no more kept poses than the GPU ranks). */
static int uses_gpus(const gar_search_config *cfg)
{
    const int K = coarse_keep(cfg);
    return cfg->mode == GAR_SEARCH_GLOBAL && cfg->n_gpu_devices > 0 && K <= GAR_GPU_TOP_MAX;
}

/* A global search's staging for a batch. */
static gar_status create_staging(gar_search *s, const search_sizes *z)
{
    gar_status st;
    const size_t n = staged_count(&s->cfg), K = (size_t)coarse_keep(&s->cfg);
    if ((st = gar_alloc((void **)&s->st_band, n, GAR_SEARCH_BAND_FLOATS * s->B * sizeof(float), "search staging")) != GAR_OK ||
        (st = gar_alloc((void **)&s->st_norm, n, 2 * sizeof(double), "search staging")) != GAR_OK ||
        (st = gar_alloc((void **)&s->st_Y, n, z->n_shift * 2 * s->Bc * sizeof(float), "search staging")) != GAR_OK ||
        (st = gar_alloc((void **)&s->st_W, n, s->Bc * sizeof(float), "search staging")) != GAR_OK ||
        (st = gar_alloc((void **)&s->st_normc, n, sizeof(double), "search staging")) != GAR_OK ||
        (st = gar_alloc((void **)&s->st_topv, n, K * sizeof(double), "search staging")) != GAR_OK ||
        (st = gar_alloc((void **)&s->st_top, n, K * sizeof(size_t), "search staging")) != GAR_OK ||
        (st = gar_alloc((void **)&s->st_slot, n, sizeof(size_t), "search staging")) != GAR_OK)
        return st;
    s->staged = n;
    return GAR_OK;
}

/* One scorer a device, each holding the coarse slices of both half sets. */
static gar_status create_scorers(gar_search *s, const search_sizes *z)
{
    gar_status st;
    const size_t K = (size_t)coarse_keep(&s->cfg);
    if (s->cfg.n_gpu_devices > GAR_SEARCH_MAX_GPUS)
        return gar_error(GAR_ERR_USAGE, "%zu GPUs for the search: at most %d", s->cfg.n_gpu_devices,
                         GAR_SEARCH_MAX_GPUS);
    for (size_t d = 0; d < s->cfg.n_gpu_devices; d++) {
        gar_gpu_scorer_config gc;
        memset(&gc, 0, sizeof gc);
        gc.device = s->cfg.gpu_devices[d];
        gc.P[0] = s->cP[0];
        gc.P[1] = s->cP[1];
        gc.P2[0] = s->cP2[0];
        gc.P2[1] = s->cP2[1];
        gc.n_pose = s->n_coarse;
        gc.nb = s->Bc;
        gc.n_shift = z->n_shift;
        gc.max_particles = s->staged;
        gc.k = (int)K;
        if ((st = gar_gpu_scorer_create(&gc, &s->scorer[d])) == GAR_ERR_NOT_BUILT) {
            /* No cuBLAS on this node: the CPU threads do the coarse stage. */
            gar_log_warn("search: %s; the coarse stage runs on the CPU", gar_errmsg());
            while (s->n_scorers > 0)
                gar_gpu_scorer_destroy(&s->scorer[--s->n_scorers]);
            return GAR_OK;
        }
        if (st != GAR_OK)
            return st;
        s->n_scorers++;
    }
    return GAR_OK;
}

gar_status gar_search_create(const gar_search_config *cfg, gar_search **out)
{
    gar_status st;
    gar_search *s = NULL;
    search_sizes z;
    *out = NULL;
    if ((st = gar_search_check_config(cfg)) != GAR_OK)
        return st;
    if (cfg->ref[0] == NULL || cfg->ref[1] == NULL || gar_refproj_box(cfg->ref[0]) != cfg->box ||
        gar_refproj_box(cfg->ref[1]) != cfg->box)
        return gar_error(GAR_ERR_INTERNAL, "search references missing or of another box");
    if ((st = gar_calloc((void **)&s, 1, sizeof *s, "search")) != GAR_OK)
        return st;
    /* Threads are garner's (one particle each): OpenBLAS runs in the caller's. */
    openblas_set_num_threads(1);
    s->cfg = *cfg;
    s->N = cfg->box;
    s->threads = cfg->threads > 0 ? cfg->threads : 1;
    if ((st = gar_search_build_band(s)) != GAR_OK)
        goto fail;
    s->Bc = gar_search_coarse_band_pixels(&s->cfg);
    if (cfg->mode == GAR_SEARCH_GLOBAL && (st = gar_search_build_coarse(s)) != GAR_OK)
        goto fail;
    gar_search_sizes_of(&s->cfg, s->n_coarse, &z);
    if ((st = gar_search_make_cube(s, cube_half(cfg), cfg->angular_step_deg * GAR_PI / 180.0)) != GAR_OK)
        goto fail;
    s->n_local = z.n_local;
    s->n_shift_max = z.n_shift;
    if ((st = gar_calloc((void **)&s->ws, (size_t)s->threads, sizeof *s->ws, "search workspace")) != GAR_OK)
        goto fail;
    for (int t = 0; t < s->threads; t++) {
        search_ws *w = &s->ws[t];
        const size_t B = s->B;
        if ((st = gar_fft2_create(s->N, &w->fft)) != GAR_OK ||
            (st = gar_alloc((void **)&w->xr, B, sizeof(float), "search")) != GAR_OK ||
            (st = gar_alloc((void **)&w->xi, B, sizeof(float), "search")) != GAR_OK ||
            (st = gar_alloc((void **)&w->wc, B, sizeof(float), "search")) != GAR_OK ||
            (st = gar_alloc((void **)&w->wc2, B, sizeof(float), "search")) != GAR_OK ||
            (st = gar_alloc((void **)&w->ctf, B, sizeof(float), "search")) != GAR_OK ||
            (st = gar_alloc((void **)&w->Y, s->n_shift_max, 2 * B * sizeof(float), "search")) != GAR_OK ||
            (st = gar_alloc((void **)&w->P, s->n_local, 2 * B * sizeof(float), "search")) != GAR_OK ||
            (st = gar_alloc((void **)&w->P2, s->n_local, B * sizeof(float), "search")) != GAR_OK ||
            (st = gar_alloc((void **)&w->S, s->n_shift_max, z.rows * sizeof(float), "search scores")) != GAR_OK ||
            (st = gar_alloc((void **)&w->nP, z.rows, sizeof(float), "search")) != GAR_OK ||
            (st = gar_alloc((void **)&w->mats, s->n_local, 9 * sizeof(double), "search")) != GAR_OK ||
            (st = gar_alloc((void **)&w->sx, s->n_shift_max, sizeof(double), "search")) != GAR_OK ||
            (st = gar_alloc((void **)&w->sy, s->n_shift_max, sizeof(double), "search")) != GAR_OK ||
            (st = gar_alloc((void **)&w->eu, (size_t)s->R + 1, 2 * sizeof(float), "search")) != GAR_OK ||
            (st = gar_alloc((void **)&w->ev, 2 * (size_t)s->R + 1, 2 * sizeof(float), "search")) != GAR_OK)
            goto fail;
    }
    if (cfg->mode == GAR_SEARCH_GLOBAL && (st = create_staging(s, &z)) != GAR_OK)
        goto fail;
    if (uses_gpus(cfg) && (st = create_scorers(s, &z)) != GAR_OK)
        goto fail;
    *out = s;
    return GAR_OK;
fail:
    gar_search_destroy(&s);
    return st;
}

void gar_search_destroy(gar_search **ps)
{
    gar_search *s;
    if (ps == NULL || (s = *ps) == NULL)
        return;
    if (s->ws != NULL)
        for (int t = 0; t < s->threads; t++) {
            search_ws *w = &s->ws[t];
            gar_fft2_destroy(&w->fft);
            free(w->xr);
            free(w->xi);
            free(w->wc);
            free(w->wc2);
            free(w->ctf);
            free(w->Y);
            free(w->P);
            free(w->P2);
            free(w->S);
            free(w->nP);
            free(w->mats);
            free(w->sx);
            free(w->sy);
            free(w->eu);
            free(w->ev);
        }
    free(s->ws);
    for (int d = 0; d < s->n_scorers; d++)
        gar_gpu_scorer_destroy(&s->scorer[d]);
    free(s->st_band);
    free(s->st_norm);
    free(s->st_Y);
    free(s->st_W);
    free(s->st_normc);
    free(s->st_topv);
    free(s->st_top);
    free(s->st_slot);
    if (s->cP[1] != s->cP[0]) {
        free(s->cP[1]);
        free(s->cP2[1]);
    }
    free(s->cP[0]);
    free(s->cP2[0]);
    free(s->coarse_mats);
    free(s->cube);
    free(s->ku);
    free(s->kv);
    free(s->w);
    free(s->shell);
    free(s->inv_noise);
    free(s);
    *ps = NULL;
}

size_t gar_search_coarse_poses(const gar_search *s) { return s->n_coarse; }
size_t gar_search_band_pixels(const gar_search *s) { return s->B; }

static particle_band thread_band(search_ws *w)
{
    particle_band b = {w->xr, w->xi, w->wc, w->wc2, w->ctf, 0.0, 0.0};
    return b;
}

/* A local search of one particle, in a thread's scratch. */
static gar_status search_local(gar_search *s, search_ws *w, const float *image, gar_particle *meta,
                               gar_search_result *res, float *noise)
{
    gar_status st;
    particle_band b = thread_band(w);
    size_t n_shift;
    double shift_step;
    if ((st = gar_search_prepare_particle(s, w, image, meta, &b)) != GAR_OK)
        return st;
    n_shift = gar_search_particle_origins(s, w, meta, &shift_step);
    gar_search_fine(s, w, &b, meta->half_set == 2, n_shift, shift_step, NULL, 0, meta, res, noise);
    return GAR_OK;
}

/* The first error of a parallel loop, with its message (the thread's own). */
static void keep_error(gar_status e, gar_status *st, char *msg, size_t len)
{
    if (e == GAR_OK)
        return;
#pragma omp critical(gar_search_error)
    if (*st == GAR_OK) {
        *st = e;
        snprintf(msg, len, "%s", gar_errmsg());
    }
}

/* Floats of one particle's noise row. */
static size_t noise_row(const gar_search *s) { return 2 * gar_search_noise_shells(s); }

static int thread_index(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static gar_status search_batch_local(gar_search *s, const float *images, gar_particle *meta,
                                     gar_search_result *res, float *noise, size_t count)
{
    gar_status st = GAR_OK;
    char msg[512] = "";
    const size_t npix = s->N * s->N;
#pragma omp parallel for num_threads(s->threads) schedule(dynamic, 1)
    for (size_t i = 0; i < count; i++)
        keep_error(search_local(s, &s->ws[thread_index()], images + i * npix, &meta[i], &res[i],
                                noise ? noise + i * noise_row(s) : NULL),
                   &st, msg, sizeof msg);
    return st == GAR_OK ? GAR_OK : gar_error(st, "%s", msg);
}

static particle_band staged_band(const gar_search *s, size_t slot)
{
    float *base = s->st_band + slot * GAR_SEARCH_BAND_FLOATS * s->B;
    particle_band b = {base, base + s->B, base + 2 * s->B, base + 3 * s->B, base + 4 * s->B, s->st_norm[2 * slot],
                       s->st_norm[2 * slot + 1]};
    return b;
}

/* The batch's particle i as the calling thread sees it (staged_particle). */
typedef struct staged_view {
    search_ws *w;        /* the thread's scratch */
    particle_band b;     /* the particle's staged band */
    size_t slot;         /* its place in the staging */
    size_t n_shift;      /* its origin grid, in w (gar_search_particle_origins) */
    double step;         /* the grid's step, pixels */
} staged_view;

/* For the batch's particle i (meta: its metadata), on the calling thread:
 * its scratch, its staged band, and its origin grid. */
static staged_view staged_particle(gar_search *s, size_t i, const gar_particle *meta)
{
    staged_view p;
    p.slot = s->st_slot[i];
    p.w = &s->ws[thread_index()];
    p.b = staged_band(s, p.slot);
    p.n_shift = gar_search_particle_origins(s, p.w, meta, &p.step);
    return p;
}

/* The coarse stage of the staged particles [first, first + n), all of half
 * set h, on the CPU threads or shared among the GPUs. */
static gar_status coarse_stage(gar_search *s, int h, size_t first, size_t n, int on_gpus)
{
    gar_status st = GAR_OK;
    char msg[512] = "";
    const size_t K = (size_t)coarse_keep(&s->cfg), Bc = s->Bc, ns = s->n_shift_max;
    if (!on_gpus) {
#pragma omp parallel for num_threads(s->threads) schedule(dynamic, 1)
        for (size_t slot = first; slot < first + n; slot++)
            gar_search_coarse_top(s, &s->ws[thread_index()], s->st_Y + slot * ns * 2 * Bc, s->st_W + slot * Bc,
                                 s->st_normc[slot], h, ns, s->st_top + slot * K, s->st_topv + slot * K);
        return GAR_OK;
    }
    const size_t D = (size_t)s->n_scorers, per = (n + D - 1) / D;
#pragma omp parallel for num_threads(s->n_scorers) schedule(static, 1)
    for (size_t d = 0; d < D; d++) {
        const size_t a = first + d * per, m = d * per >= n ? 0 : (n - d * per < per ? n - d * per : per);
        if (m > 0)
            keep_error(gar_gpu_scorer_top(s->scorer[d], h, s->st_Y + a * ns * 2 * Bc, s->st_W + a * Bc,
                                          s->st_normc + a, m, s->st_top + a * K, s->st_topv + a * K),
                       &st, msg, sizeof msg);
    }
    return st == GAR_OK ? GAR_OK : gar_error(st, "%s", msg);
}

/* The first batch on the GPUs checks one particle's best coarse score
 * against the CPU's; a disagreement turns the GPUs off for this search. */
static void check_gpu_stage(gar_search *s, const gar_particle *meta)
{
    search_ws *w = &s->ws[0];
    const size_t slot = s->st_slot[0], K = (size_t)coarse_keep(&s->cfg);
    size_t top[GAR_SEARCH_TOP_MAX];
    double topv[GAR_SEARCH_TOP_MAX];
    s->gpu_checked = 1;
    gar_search_coarse_top(s, w, s->st_Y + slot * s->n_shift_max * 2 * s->Bc, s->st_W + slot * s->Bc,
                         s->st_normc[slot], meta->half_set == 2, s->n_shift_max, top, topv);
    if (!(fabs(topv[0] - s->st_topv[slot * K]) <= GPU_CHECK_TOLERANCE)) {
        gar_log_warn("search: the GPU's best coarse score for a particle is %.6f, the CPU's %.6f: the search goes "
                     "on on the CPU only", s->st_topv[slot * K], topv[0]);
        s->gpu_off = 1;
        return;
    }
    gar_log_debug("search: GPU and CPU agree on a particle's best coarse score (%.6f, %.6f)", s->st_topv[slot * K],
                  topv[0]);
}

/* A global search of at most `staged` particles in three stages: (1) every
 * particle's band and origin rows over the coarse band, on the CPU threads,
 * staged half set by half set; (2) the coarse stage (coarse_stage); (3) the
 * fine stage about the best coarse poses, on the CPU threads. */
static gar_status search_batch_global(gar_search *s, const float *images, gar_particle *meta,
                                      gar_search_result *res, float *noise, size_t count)
{
    gar_status st = GAR_OK;
    char msg[512] = "";
    const size_t npix = s->N * s->N, K = (size_t)coarse_keep(&s->cfg), Bc = s->Bc, ns = s->n_shift_max;
    const int nk = (int)(K < s->n_coarse ? K : s->n_coarse);
    size_t n_half[2] = {0, 0}, next[2];
    for (size_t i = 0; i < count; i++)
        n_half[meta[i].half_set == 2]++;
    next[0] = 0;
    next[1] = n_half[0];
    for (size_t i = 0; i < count; i++)
        s->st_slot[i] = next[meta[i].half_set == 2]++;
#pragma omp parallel for num_threads(s->threads) schedule(dynamic, 1)
    for (size_t i = 0; i < count; i++) {
        staged_view p = staged_particle(s, i, &meta[i]);
        gar_status e = gar_search_prepare_particle(s, p.w, images + i * npix, &meta[i], &p.b);
        if (e == GAR_OK) {
            gar_search_particle_rows(s, p.w, &p.b, p.n_shift, Bc, s->st_Y + p.slot * ns * 2 * Bc);
            memcpy(s->st_W + p.slot * Bc, p.b.wc2, Bc * sizeof(float));
            s->st_norm[2 * p.slot] = p.b.normX;
            s->st_norm[2 * p.slot + 1] = s->st_normc[p.slot] = p.b.normXc;
        }
        keep_error(e, &st, msg, sizeof msg);
    }
    if (st != GAR_OK)
        return gar_error(st, "%s", msg);
    for (int pass = 0; pass < 2; pass++) {
        const int on_gpus = s->n_scorers > 0 && !s->gpu_off;
        for (int h = 0; h < 2 && st == GAR_OK; h++)
            if (n_half[h] > 0)
                st = coarse_stage(s, h, h ? n_half[0] : 0, n_half[h], on_gpus);
        if (st != GAR_OK)
            return st;
        if (!on_gpus || s->gpu_checked)
            break;
        check_gpu_stage(s, &meta[0]);
        if (!s->gpu_off)
            break;   /* else the CPU does the coarse stage again */
    }
#pragma omp parallel for num_threads(s->threads) schedule(dynamic, 1)
    for (size_t i = 0; i < count; i++) {
        staged_view p = staged_particle(s, i, &meta[i]);
        gar_search_fine(s, p.w, &p.b, meta[i].half_set == 2, p.n_shift, p.step, s->st_top + p.slot * K, nk, &meta[i],
                        &res[i], noise ? noise + i * noise_row(s) : NULL);
    }
    return GAR_OK;
}

int gar_search_gpus(const gar_search *s) { return s->gpu_off ? 0 : s->n_scorers; }

size_t gar_search_noise_shells(const gar_search *s) { return s->N / 2 + 1; }

gar_status gar_search_batch(gar_search *s, const float *images, gar_particle *meta, gar_search_result *res,
                            float *noise, size_t count)
{
    gar_status st = GAR_OK;
    const size_t npix = s->N * s->N;
    for (size_t i = 0; i < count; i++)
        if (meta[i].half_set != 1 && meta[i].half_set != 2)
            return gar_error(GAR_ERR_DATA, "particle with half set %d: expected 1 or 2", meta[i].half_set);
    if (s->cfg.mode == GAR_SEARCH_LOCAL)
        return search_batch_local(s, images, meta, res, noise, count);
    for (size_t a = 0; a < count && st == GAR_OK; a += s->staged) {
        const size_t m = count - a < s->staged ? count - a : s->staged;
        st = search_batch_global(s, images + a * npix, meta + a, res + a, noise ? noise + a * noise_row(s) : NULL, m);
    }
    return st;
}
