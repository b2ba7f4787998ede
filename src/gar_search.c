/* garner: pose search by projection matching (see gar_search.h). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "gar_fft.h"
#include "gar_geometry.h"
#include "gar_gpu.h"
#include "gar_log.h"
#include "gar_kernels.h"
#include "gar_search.h"

#define LOCAL_HALF 2   /* local search: ±2 steps per rotation axis and origin axis */
#define GAR_SEARCH_TOP_MAX 64   /* coarse poses refined, at most */
/* The GPU's best coarse score may differ from the CPU's by float rounding
 * (another order of additions); more than this means the GPU path is wrong. */
#define GPU_CHECK_TOLERANCE 1e-3

/* Per-thread scratch. */
typedef struct search_ws {
    gar_fft2 *fft;
    float *xr, *xi;        /* the particle's band, B each */
    float *wc, *wc2;       /* w·C and w·C², B each */
    float *Y;              /* n_shift rows of 2B */
    float *P, *P2;         /* slices computed here: n_local rows of 2B and B */
    float *S;              /* scores, n_shift × max(n_coarse, n_local) */
    float *nP;             /* per-pose Σ w C² |P|² */
    double *mats;          /* n_local × 9 */
    double *sx, *sy;       /* the origin grid, pixels */
    float *eu, *ev;        /* per-row phase tables: e^{−2πi u ox/N}, u = 0..R; e^{−2πi v oy/N}, v = −R..R */
} search_ws;

struct gar_search {
    gar_search_config cfg;
    size_t N, B;                  /* box, band pixels (ordered by |k|) */
    size_t Bc;                    /* global: the first Bc of them, the coarse grid's band */
    int R;                        /* band radius, whole shells */
    double *cube;                 /* n_cube rotations about the identity (pose_cube) */
    size_t n_cube;
    float *ku, *kv, *w;           /* band: frequencies and Hermitian weights */
    size_t n_coarse;              /* global: coarse poses */
    double *coarse_mats;          /* n_coarse × 9 */
    float *cP[2], *cP2[2];        /* coarse slices per half set (cP[1] may alias cP[0]) */
    size_t n_local;               /* poses scored per refinement cube (all top_k cubes) */
    size_t n_shift_max;
    int threads;
    search_ws *ws;
    /* The coarse stage on GPUs (global searches given devices): one scorer a
     * device, and the batch staged for them. */
    gar_gpu_scorer *scorer[GAR_SEARCH_MAX_GPUS];
    int n_scorers;
    int gpu_checked, gpu_off;
    size_t staged;                /* particles the staging holds */
    float *st_band;               /* staged × 4 B: xr, xi, wc, wc2 */
    double *st_norm;              /* staged × 2: normX, normXc */
    float *st_Y, *st_W;           /* staged × n_shift × 2 Bc; staged × Bc */
    double *st_normc, *st_topv;   /* staged; staged × K */
    size_t *st_top, *st_slot;     /* staged × K; staged */
};

void gar_rotation_from_vector(const double r[3], double R[9])
{
    double th = sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
    double x = 0, y = 0, z = 1, c = cos(th), s = sin(th), t = 1 - c;
    if (th > 0) {
        x = r[0] / th;
        y = r[1] / th;
        z = r[2] / th;
    }
    R[0] = t * x * x + c;
    R[1] = t * x * y - s * z;
    R[2] = t * x * z + s * y;
    R[3] = t * x * y + s * z;
    R[4] = t * y * y + c;
    R[5] = t * y * z - s * x;
    R[6] = t * x * z - s * y;
    R[7] = t * y * z + s * x;
    R[8] = t * z * z + c;
}

gar_status gar_search_directions(const gar_symmetry *sym, double step_deg, double **dirs, size_t *n)
{
    gar_status st;
    const double step = step_deg * GAR_PI / 180.0;
    /* A generic direction (on no symmetry axis of any group garner knows):
     * its Dirichlet cell among its images is one asymmetric unit. */
    double v[3] = {0.3141, 0.2718, 0.9096};
    const size_t order = sym ? gar_symmetry_order(sym) : 1;
    size_t total, kept = 0;
    double *out = NULL, nv = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    double *images = NULL;
    *dirs = NULL;
    *n = 0;
    if (!(step_deg > 0.05 && step_deg <= 90))
        return gar_error(GAR_ERR_USAGE, "angular step %g degrees: expected (0.05, 90]", step_deg);
    total = (size_t)ceil(4.0 * GAR_PI / (step * step));
    if (total < 2)
        total = 2;
    for (int a = 0; a < 3; a++)
        v[a] /= nv;
    if ((st = gar_alloc((void **)&out, total, 2 * sizeof(double), "directions")) != GAR_OK ||
        (st = gar_alloc((void **)&images, order, 3 * sizeof(double), "directions")) != GAR_OK) {
        free(out);
        return st;
    }
    /* d is kept when d·v >= d·(Rᵀ v) for every operator R (d·R v = Rᵀd·v:
     * the images of d under the group are R d, and d is the one nearest v). */
    for (size_t g = 0; g < order; g++) {
        if (sym == NULL)
            memcpy(images, v, sizeof v);
        else
            gar_mat3_apply_t(gar_symmetry_matrix(sym, g), v, images + 3 * g);
    }
    const double golden = GAR_PI * (3.0 - sqrt(5.0));
    for (size_t i = 0; i < total; i++) {
        double z = 1.0 - (2.0 * i + 1.0) / (double)total, rxy = sqrt(1.0 - z * z), phi = golden * (double)i;
        double d[3] = {rxy * cos(phi), rxy * sin(phi), z};
        double own = d[0] * v[0] + d[1] * v[1] + d[2] * v[2];
        int keep = 1;
        for (size_t g = 1; g < order && keep; g++) {
            const double *u = images + 3 * g;
            if (d[0] * u[0] + d[1] * u[1] + d[2] * u[2] > own + 1e-12)
                keep = 0;
        }
        if (!keep)
            continue;
        out[2 * kept] = atan2(d[1], d[0]) * 180.0 / GAR_PI;
        out[2 * kept + 1] = acos(z) * 180.0 / GAR_PI;
        kept++;
    }
    free(images);
    *dirs = out;
    *n = kept;
    return GAR_OK;
}

typedef struct band_px {
    int u, v, k2;
} band_px;

static int by_radius(const void *a, const void *b)
{
    const band_px *x = a, *y = b;
    if (x->k2 != y->k2)
        return x->k2 < y->k2 ? -1 : 1;
    if (x->v != y->v)
        return x->v < y->v ? -1 : 1;
    return (x->u > y->u) - (x->u < y->u);
}

static int in_band(int k2, double r2) { return k2 >= 1 && k2 <= r2; }

/* Pixels of the band 1 <= |k| <= radius of the half plane (build_band lists them). */
static size_t band_count(double radius)
{
    const int r = (int)floor(radius);
    size_t n = 0;
    for (int v = -r; v <= r; v++)
        for (int u = 0; u <= r; u++)
            n += (size_t)in_band(u * u + v * v, radius * radius);
    return n;
}

/* The band 1 <= |k| <= band_radius of the half plane, ordered by |k| so that
 * a lower band is a prefix of it. */
static gar_status build_band(gar_search *s)
{
    gar_status st;
    const int r = (int)floor(s->cfg.band_radius);
    const double r2 = s->cfg.band_radius * s->cfg.band_radius;
    band_px *px = NULL;
    size_t n = 0;
    if ((st = gar_alloc((void **)&px, (size_t)(2 * r + 1) * (size_t)(r + 1), sizeof *px, "search band")) != GAR_OK)
        return st;
    for (int v = -r; v <= r; v++)
        for (int u = 0; u <= r; u++) {
            int k2 = u * u + v * v;
            if (!in_band(k2, r2))
                continue;
            px[n].u = u;
            px[n].v = v;
            px[n].k2 = k2;
            n++;
        }
    qsort(px, n, sizeof *px, by_radius);
    if ((st = gar_alloc((void **)&s->ku, n, sizeof(float), "search band")) != GAR_OK ||
        (st = gar_alloc((void **)&s->kv, n, sizeof(float), "search band")) != GAR_OK ||
        (st = gar_alloc((void **)&s->w, n, sizeof(float), "search band")) != GAR_OK) {
        free(px);
        return st;
    }
    for (size_t k = 0; k < n; k++) {
        s->ku[k] = (float)px[k].u;
        s->kv[k] = (float)px[k].v;
        s->w[k] = px[k].u > 0 ? 2.0f : 1.0f;
    }
    free(px);
    s->B = n;
    s->R = r;
    return GAR_OK;
}

/* The coarse grid's band: a pose error of one coarse step θ moves a point at
 * the mask radius ρ by ρθ pixels, which decorrelates frequencies beyond about
 * N/(ρθ) cycles per box; comparing them only adds noise and work. */
static double coarse_radius(const gar_search_config *cfg)
{
    const double theta = 2.0 * cfg->angular_step_deg * GAR_PI / 180.0;
    const double rho = cfg->mask_radius_px > 0 ? cfg->mask_radius_px : 0.45 * (double)cfg->box;
    const double rc = (double)cfg->box / (rho * theta);
    return fmin(rc < 4 ? 4 : rc, cfg->band_radius);
}

/* Slices of `ref` at n poses over the first nb band pixels, into rows of P
 * (2 nb: re then im) and P2 (|P|², nb). */
static void slices(const gar_search *s, const gar_refproj *ref, const double *mats, size_t n, size_t nb, float *P,
                   float *P2)
{
    for (size_t c = 0; c < n; c++) {
        float *re = P + c * 2 * nb, *im = re + nb, *p2 = P2 + c * nb;
        gar_refproj_slice(ref, mats + 9 * c, s->ku, s->kv, nb, re, im);
        for (size_t k = 0; k < nb; k++)
            p2[k] = re[k] * re[k] + im[k] * im[k];
    }
}

/* In-plane angles of the coarse grid (at twice the step). */
static size_t coarse_in_plane(const gar_search_config *cfg) { return (size_t)ceil(360.0 / (2.0 * cfg->angular_step_deg)); }

static gar_status build_coarse(gar_search *s)
{
    gar_status st;
    double *dirs = NULL;
    size_t n_dirs, n_psi;
    const double step = 2.0 * s->cfg.angular_step_deg;
    if ((st = gar_search_directions(s->cfg.sym, step, &dirs, &n_dirs)) != GAR_OK)
        return st;
    n_psi = coarse_in_plane(&s->cfg);
    s->n_coarse = n_dirs * n_psi;
    if ((st = gar_alloc((void **)&s->coarse_mats, s->n_coarse, 9 * sizeof(double), "coarse poses")) != GAR_OK)
        goto done;
    for (size_t d = 0; d < n_dirs; d++)
        for (size_t p = 0; p < n_psi; p++)
            gar_euler_to_matrix(dirs[2 * d], dirs[2 * d + 1], 360.0 * (double)p / (double)n_psi,
                                s->coarse_mats + 9 * (d * n_psi + p));
    for (int h = 0; h < 2; h++) {
        if (h == 1 && s->cfg.ref[1] == s->cfg.ref[0]) {
            s->cP[1] = s->cP[0];
            s->cP2[1] = s->cP2[0];
            break;
        }
        if ((st = gar_alloc((void **)&s->cP[h], s->n_coarse, 2 * s->Bc * sizeof(float), "coarse slices")) != GAR_OK ||
            (st = gar_alloc((void **)&s->cP2[h], s->n_coarse, s->Bc * sizeof(float), "coarse slices")) != GAR_OK)
            goto done;
        const size_t nc = s->n_coarse;
        const gar_refproj *ref = s->cfg.ref[h];
        float *P = s->cP[h], *P2 = s->cP2[h];
#pragma omp parallel for num_threads(s->threads) schedule(static)
        for (size_t c = 0; c < nc; c++)
            slices(s, ref, s->coarse_mats + 9 * c, 1, s->Bc, P + c * 2 * s->Bc, P2 + c * s->Bc);
    }
done:
    free(dirs);
    return st;
}

static size_t shift_axis_count(const gar_search_config *cfg)
{
    if (cfg->mode == GAR_SEARCH_LOCAL)
        return 2 * LOCAL_HALF + 1;
    return 2 * (size_t)floor(cfg->shift_range_A / cfg->shift_step_A + 1e-9) + 1;
}

/* Steps each way of a pose cube: ±1 about each coarse pose of a global
 * search, ±LOCAL_HALF about the previous pose of a local one. */
static int cube_half(const gar_search_config *cfg) { return cfg->mode == GAR_SEARCH_GLOBAL ? 1 : LOCAL_HALF; }

/* Rotations per refinement cube: (2h + 1)³ (make_cube). */
static size_t cube_count(const gar_search_config *cfg)
{
    const size_t side = 2 * (size_t)cube_half(cfg) + 1;
    return side * side * side;
}

/* The rotations R(δ) for δ on the cube {−h..h}³ × step (radians): the same
 * for every particle, so made once per search. */
static gar_status make_cube(gar_search *s, int h, double step)
{
    gar_status st;
    const size_t side = (size_t)(2 * h + 1);
    size_t n = 0;
    if ((st = gar_alloc((void **)&s->cube, side * side * side, 9 * sizeof(double), "rotation cube")) != GAR_OK)
        return st;
    for (int a = -h; a <= h; a++)
        for (int b = -h; b <= h; b++)
            for (int c = -h; c <= h; c++) {
                double r[3] = {a * step, b * step, c * step};
                gar_rotation_from_vector(r, s->cube + 9 * n++);
            }
    s->n_cube = n;
    return GAR_OK;
}

/* The poses R(δ)·A for every rotation of the cube. */
static size_t pose_cube(const gar_search *s, const double A[9], double *out)
{
    for (size_t n = 0; n < s->n_cube; n++)
        gar_mat3_mul(s->cube + 9 * n, A, out + 9 * n);
    return s->n_cube;
}

/* Coarse poses a global search refines: top_k within 1..GAR_SEARCH_TOP_MAX. */
static int coarse_keep(const gar_search_config *cfg)
{
    return cfg->top_k < 1 ? 1 : cfg->top_k < GAR_SEARCH_TOP_MAX ? cfg->top_k : GAR_SEARCH_TOP_MAX;
}

/* The coarse stage goes to the GPUs for a global search given devices (and
 * no more kept poses than the GPU ranks). */
static int uses_gpus(const gar_search_config *cfg)
{
    const int K = coarse_keep(cfg);
    return cfg->mode == GAR_SEARCH_GLOBAL && cfg->n_gpu_devices > 0 && K <= GAR_GPU_TOP_MAX;
}

/* Particles a global search stages at a time. */
static size_t staged_count(const gar_search_config *cfg) { return cfg->batch > 0 ? cfg->batch : 64; }

/* Host bytes staged a particle by a global search. */
static double staged_bytes(size_t B, size_t Bc, size_t n_shift, int K)
{
    return 4.0 * B * sizeof(float) + 3.0 * sizeof(double) + (double)n_shift * 2 * Bc * sizeof(float) +
           (double)Bc * sizeof(float) + (double)K * (sizeof(double) + sizeof(size_t)) + sizeof(size_t);
}

/* What a search of this configuration holds, from its configuration and
 * its coarse grid's size: gar_search_create allocates by it and
 * gar_search_memory_bytes counts it. */
typedef struct search_sizes {
    size_t B, Bc, n_coarse, n_cube, n_local, n_shift, rows;
} search_sizes;

/* The coarse grid's band is a prefix of the band (ordered by |k|). */
static size_t coarse_band_pixels(const gar_search_config *cfg)
{
    return band_count(cfg->mode == GAR_SEARCH_GLOBAL ? coarse_radius(cfg) : cfg->band_radius);
}

static void search_sizes_of(const gar_search_config *cfg, size_t n_coarse, search_sizes *z)
{
    const size_t ns = shift_axis_count(cfg), top_k = (size_t)coarse_keep(cfg);
    z->B = band_count(cfg->band_radius);
    z->Bc = coarse_band_pixels(cfg);
    z->n_coarse = n_coarse;
    z->n_cube = cube_count(cfg);
    z->n_local = cfg->mode == GAR_SEARCH_GLOBAL ? z->n_cube * top_k : z->n_cube;
    z->n_shift = ns * ns;
    z->rows = n_coarse > z->n_local ? n_coarse : z->n_local;
}

static gar_status check_config(const gar_search_config *cfg)
{
    if (cfg->box < 8 || cfg->box % 2 || !(cfg->band_radius >= 1.0) || cfg->band_radius > cfg->box / 2.0 - 2.0)
        return gar_error(GAR_ERR_USAGE, "search band of %g shells for a %zu box: expected 1 to %g",
                         cfg->band_radius, cfg->box, cfg->box / 2.0 - 2.0);
    if (!(cfg->shift_step_A > 0) || cfg->shift_range_A < 0 || cfg->shift_range_A / cfg->shift_step_A > 64)
        return gar_error(GAR_ERR_USAGE, "origin search over %g Å in steps of %g Å: expected a step > 0 and "
                         "at most 64 steps each way", cfg->shift_range_A, cfg->shift_step_A);
    return GAR_OK;
}

gar_status gar_search_memory_bytes(const gar_search_config *cfg, int two_references, double *bytes)
{
    gar_status st;
    search_sizes z;
    size_t n_coarse = 0;
    const double f = sizeof(float), d = sizeof(double), N = (double)cfg->box, R = floor(cfg->band_radius);
    double shared, per_thread;
    *bytes = 0;
    if ((st = check_config(cfg)) != GAR_OK)
        return st;
    if (cfg->mode == GAR_SEARCH_GLOBAL) {
        double *dirs = NULL;
        size_t n_dirs = 0;
        if ((st = gar_search_directions(cfg->sym, 2.0 * cfg->angular_step_deg, &dirs, &n_dirs)) != GAR_OK)
            return st;
        free(dirs);
        n_coarse = n_dirs * coarse_in_plane(cfg);
    }
    search_sizes_of(cfg, n_coarse, &z);
    /* In doubles: a mistaken configuration may ask for more than size_t counts. */
    shared = 3.0 * z.B * f + (double)z.n_coarse * 9 * d + (two_references ? 2.0 : 1.0) * z.n_coarse * 3.0 * z.Bc * f +
             (double)z.n_cube * 9 * d;
    per_thread = 4.0 * z.B * f + (double)z.n_shift * 2 * z.B * f + (double)z.n_local * 3 * z.B * f +
                 (double)z.n_shift * z.rows * f + (double)z.rows * f + (double)z.n_local * 9 * d +
                 (double)z.n_shift * 2 * d + (3 * R + 2) * 2 * f + N * N * f + N * (N / 2 + 1) * 2 * f;
    *bytes = shared + (cfg->threads > 0 ? cfg->threads : 1) * per_thread;
    if (cfg->mode == GAR_SEARCH_GLOBAL)
        *bytes += (double)staged_count(cfg) *
                  staged_bytes(z.B, z.Bc, z.n_shift, coarse_keep(cfg));
    return GAR_OK;
}

/* A global search's staging for a batch. */
static gar_status create_staging(gar_search *s, const search_sizes *z)
{
    gar_status st;
    const size_t n = staged_count(&s->cfg), K = (size_t)coarse_keep(&s->cfg);
    if ((st = gar_alloc((void **)&s->st_band, n, 4 * s->B * sizeof(float), "search staging")) != GAR_OK ||
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
    if ((st = check_config(cfg)) != GAR_OK)
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
    if ((st = build_band(s)) != GAR_OK)
        goto fail;
    s->Bc = coarse_band_pixels(&s->cfg);
    if (cfg->mode == GAR_SEARCH_GLOBAL && (st = build_coarse(s)) != GAR_OK)
        goto fail;
    search_sizes_of(&s->cfg, s->n_coarse, &z);
    if ((st = make_cube(s, cube_half(cfg), cfg->angular_step_deg * GAR_PI / 180.0)) !=
        GAR_OK)
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
    free(s);
    *ps = NULL;
}

size_t gar_search_coarse_poses(const gar_search *s) { return s->n_coarse; }
size_t gar_search_band_pixels(const gar_search *s) { return s->B; }

static const gar_optics *find_optics(const gar_search *s, int32_t group)
{
    for (size_t i = 0; i < s->cfg.n_optics; i++)
        if (s->cfg.optics[i].group == group)
            return &s->cfg.optics[i];
    return NULL;
}

/* A particle's band (prepare_particle): X, w·C and w·C² at the B band
 * pixels, and Σ w |X|² over the band and over the coarse band. In a thread's
 * scratch, or staged for the whole batch when the coarse stage runs on GPUs. */
typedef struct particle_band {
    float *xr, *xi, *wc, *wc2;
    double normX, normXc;
} particle_band;

static particle_band thread_band(search_ws *w)
{
    particle_band b = {w->xr, w->xi, w->wc, w->wc2, 0.0, 0.0};
    return b;
}

/* The particle's band X (background-levelled, soft-masked, centred), w·C,
 * w·C², and Σ w |X|² over the band and the coarse band, into b. */
static gar_status prepare_particle(const gar_search *s, search_ws *w, const float *image, const gar_particle *meta,
                                   particle_band *b)
{
    const size_t N = s->N, H = N / 2 + 1;
    float *real = gar_fft2_real(w->fft);
    const float *c;
    const double rm = s->cfg.mask_radius_px > 0 ? s->cfg.mask_radius_px : N / 2.0 - 3.0, px = s->cfg.pixel_size_A;
    double bg = 0.0, nx = 0.0;
    size_t nbg = 0;
    gar_ctf ctf;
    if (s->cfg.ctf) {
        const gar_optics *o = find_optics(s, meta->optics_group);
        if (o == NULL)
            return gar_error(GAR_ERR_DATA, "optics group %d is not in the stack's optics table", meta->optics_group);
        ctf = gar_ctf_prepare(meta->defocus_u_A, meta->defocus_v_A, meta->defocus_angle_deg, o->voltage_kV,
                              o->cs_mm, o->amplitude_contrast, meta->phase_shift_deg);
    }
    for (size_t y = 0; y < N; y++)
        for (size_t x = 0; x < N; x++) {
            double dx = (double)x - N / 2, dy = (double)y - N / 2;
            if (dx * dx + dy * dy > rm * rm) {
                bg += image[y * N + x];
                nbg++;
            }
        }
    bg = nbg ? bg / nbg : 0.0;
    /* Centre N/2 to index 0 (wrapped): the transform carries no (−1)^k. */
    for (size_t y = 0; y < N; y++)
        for (size_t x = 0; x < N; x++) {
            double dx = (double)x - N / 2, dy = (double)y - N / 2;
            float m = gar_soft_mask((float)sqrt(dx * dx + dy * dy), (float)rm, 5.0f);
            real[((y + N / 2) % N) * N + (x + N / 2) % N] = (float)((image[y * N + x] - bg) * m);
        }
    gar_fft2_forward(w->fft);
    c = gar_fft2_complex(w->fft);
    for (size_t k = 0; k < s->B; k++) {
        const int u = (int)s->ku[k], v = (int)s->kv[k];
        const float *z = c + 2 * ((size_t)((v + (int)N) % (int)N) * H + (size_t)u);
        float C = 1.0f;
        if (s->cfg.ctf)
            C = gar_ctf_eval(&ctf, (float)(u / (N * px)), (float)(v / (N * px)));
        b->xr[k] = z[0];
        b->xi[k] = z[1];
        b->wc[k] = s->w[k] * C;
        b->wc2[k] = s->w[k] * C * C;
        nx += (double)s->w[k] * ((double)z[0] * z[0] + (double)z[1] * z[1]);
        if (k + 1 == s->Bc)
            b->normXc = nx;
    }
    b->normX = nx;
    return GAR_OK;
}

/* Rows of Y over the first nb band pixels (2 nb each: re then im): w C X_o
 * for the n origins (sx, sy) (pixels), X_o = X e^{−2πi k·o/N}. The phase is
 * separable, e^{−2πi u ox/N} e^{−2πi v oy/N}: 3R + 2 sines per row, not nb. */
static void particle_rows(const gar_search *s, search_ws *w, const particle_band *b, size_t n, size_t nb, float *Y)
{
    const double f = -2.0 * GAR_PI / (double)s->N;
    const int R = s->R;
    for (size_t i = 0; i < n; i++) {
        float *yr = Y + i * 2 * nb, *yi = yr + nb;
        for (int u = 0; u <= R; u++) {
            w->eu[2 * u] = (float)cos(f * u * w->sx[i]);
            w->eu[2 * u + 1] = (float)sin(f * u * w->sx[i]);
        }
        for (int v = -R; v <= R; v++) {
            w->ev[2 * (v + R)] = (float)cos(f * v * w->sy[i]);
            w->ev[2 * (v + R) + 1] = (float)sin(f * v * w->sy[i]);
        }
        for (size_t k = 0; k < nb; k++) {
            const float *a = w->eu + 2 * (int)s->ku[k], *e = w->ev + 2 * ((int)s->kv[k] + R);
            const float cr = a[0] * e[0] - a[1] * e[1], ci = a[0] * e[1] + a[1] * e[0];
            const float xr = b->xr[k] * cr - b->xi[k] * ci, xi = b->xr[k] * ci + b->xi[k] * cr;
            yr[k] = b->wc[k] * xr;
            yi[k] = b->wc[k] * xi;
        }
    }
}

/* Scores S (n_shift × n_pose) = Y Pᵀ and nP = P2 · wC², over the first nb band pixels, into w. */
static void score_poses(search_ws *w, const float *Y, const float *wc2, size_t n_shift, const float *P, const float *P2,
                        size_t n_pose, size_t nb)
{
    const int B = (int)nb;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n_shift, (int)n_pose, 2 * B, 1.0f, Y, 2 * B, P, 2 * B,
                0.0f, w->S, (int)n_pose);
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n_pose, B, 1.0f, P2, B, wc2, 1, 0.0f, w->nP, 1);
}

static inline double ncc(const search_ws *w, size_t n_pose, size_t i_shift, size_t pose, double normX)
{
    return gar_ncc(w->S[i_shift * n_pose + pose], normX, w->nP[pose]);
}

/* A square grid of ns × ns origins about (cx, cy), step apart (pixels). */
static size_t origin_grid(search_ws *w, size_t ns, double cx, double cy, double step)
{
    const long h = (long)(ns / 2);
    size_t n = 0;
    for (long j = -h; j <= h; j++)
        for (long i = -h; i <= h; i++) {
            w->sx[n] = cx + (double)i * step;
            w->sy[n] = cy + (double)j * step;
            n++;
        }
    return n;
}

/* The peak of the parabola through m, s0 and p at −step, 0 and +step, added
 * to *x when the parabola has one (den < 0); else *x is left as it is. */
static void parabola_peak(double m, double s0, double p, double step, double *x)
{
    const double den = m - 2 * s0 + p;
    if (den < 0)
        *x += 0.5 * step * (m - p) / den;
}

/* Sub-step origin: a parabola through the best grid point and its neighbours
 * along each axis (the best point itself where it lies on the grid's edge). */
static void refine_origin(const search_ws *w, size_t ns, size_t n_pose, size_t pose, size_t best, double normX,
                          double step, double *ox, double *oy)
{
    const size_t i = best % ns, j = best / ns;
    *ox = w->sx[best];
    *oy = w->sy[best];
    double s0 = ncc(w, n_pose, best, pose, normX);
    if (i > 0 && i + 1 < ns)
        parabola_peak(ncc(w, n_pose, best - 1, pose, normX), s0, ncc(w, n_pose, best + 1, pose, normX), step, ox);
    if (j > 0 && j + 1 < ns)
        parabola_peak(ncc(w, n_pose, best - ns, pose, normX), s0, ncc(w, n_pose, best + ns, pose, normX), step, oy);
}

/* Best pose index and origin index over the score matrix. */
static double best_of(const search_ws *w, size_t n_shift, size_t n_pose, double normX, size_t *pose, size_t *shift)
{
    double best = -3.0;
    *pose = 0;
    *shift = 0;
    for (size_t c = 0; c < n_pose; c++)
        for (size_t i = 0; i < n_shift; i++) {
            double v = ncc(w, n_pose, i, c, normX);
            if (v > best) {
                best = v;
                *pose = c;
                *shift = i;
            }
        }
    return best;
}

/* Coarse stage of a global search on the CPU, from a particle's rows Y over
 * the coarse band (one per origin), its w·C² and Σ w |X|² there: every
 * coarse pose's best origin, and the best K poses into top, topv (the rest
 * of K, when there are fewer poses, −3 and 0). */
static int coarse_top_from_rows(const gar_search *s, search_ws *w, const float *Y, const float *wc2, double normXc,
                                int h, size_t n_shift, size_t *top, double *topv)
{
    const int K = coarse_keep(&s->cfg);
    int nk = 0;
    score_poses(w, Y, wc2, n_shift, s->cP[h], s->cP2[h], s->n_coarse, s->Bc);
    for (size_t c = 0; c < s->n_coarse; c++) {
        double v = -3.0;
        for (size_t i = 0; i < n_shift; i++) {
            double x = ncc(w, s->n_coarse, i, c, normXc);
            if (x > v)
                v = x;
        }
        gar_top_offer(topv, top, &nk, K, v, c);
    }
    for (int k = nk; k < K; k++) {
        topv[k] = -3.0;
        top[k] = 0;
    }
    return nk;
}

/* The origin grid of a particle's search: about its previous origin, the
 * search's step (a local search's is half); *step in pixels. */
static size_t particle_origins(const gar_search *s, search_ws *w, const gar_particle *meta, double *step)
{
    const double px = s->cfg.pixel_size_A;
    *step = (s->cfg.mode == GAR_SEARCH_GLOBAL ? 1.0 : 0.5) * s->cfg.shift_step_A / px;
    return origin_grid(w, shift_axis_count(&s->cfg), meta->origin_x_A / px, meta->origin_y_A / px, *step);
}

/* The fine stage over the whole band: the cubes about the nk coarse poses
 * of a global search, or about the previous pose for a local one; the best
 * pose and its origin (to sub-step precision) replace meta's. */
/* Sub-step pose: along each rotation axis of the best pose's cube, a
 * parabola through its score and its two neighbours' at the same origin (the
 * best pose itself where it lies on the cube's face), as refine_origin does
 * for the origin. Returns R(δ)·A0, δ the refined rotation vector about the
 * cube's centre A0. */
static void refine_pose(const gar_search *s, const search_ws *w, size_t n_pose, size_t bp, size_t bs, double normX,
                        const double A0[9], double out[9])
{
    const int hw = cube_half(&s->cfg), side = 2 * hw + 1;
    const size_t j = bp % s->n_cube, stride[3] = {(size_t)(side * side), (size_t)side, 1};
    const int at[3] = {(int)(j / stride[0]), (int)(j / stride[1]) % side, (int)j % side};
    const double step = s->cfg.angular_step_deg * GAR_PI / 180.0, s0 = ncc(w, n_pose, bs, bp, normX);
    double r[3], R[9];
    for (int a = 0; a < 3; a++) {
        r[a] = (double)(at[a] - hw) * step;
        if (at[a] > 0 && at[a] < side - 1)
            parabola_peak(ncc(w, n_pose, bs, bp - stride[a], normX), s0, ncc(w, n_pose, bs, bp + stride[a], normX),
                          step, &r[a]);
    }
    gar_rotation_from_vector(r, R);
    gar_mat3_mul(R, A0, out);
}

static void fine_search(gar_search *s, search_ws *w, const particle_band *b, int h, size_t n_shift, double shift_step,
                        const size_t *top, int nk, gar_particle *meta, double *score)
{
    const double px = s->cfg.pixel_size_A;
    double A[9], R[9], cx, cy;
    size_t n_pose = 0, bp, bs;
    if (s->cfg.mode == GAR_SEARCH_GLOBAL) {
        for (int k = 0; k < nk; k++)
            n_pose += pose_cube(s, s->coarse_mats + 9 * top[k], w->mats + 9 * n_pose);
    } else {
        gar_euler_to_matrix(meta->rot_deg, meta->tilt_deg, meta->psi_deg, A);
        n_pose = pose_cube(s, A, w->mats);
    }
    particle_rows(s, w, b, n_shift, s->B, w->Y);
    slices(s, s->cfg.ref[h], w->mats, n_pose, s->B, w->P, w->P2);
    score_poses(w, w->Y, b->wc2, n_shift, w->P, w->P2, n_pose, s->B);
    *score = best_of(w, n_shift, n_pose, b->normX, &bp, &bs);
    refine_origin(w, shift_axis_count(&s->cfg), n_pose, bp, bs, b->normX, shift_step, &cx, &cy);
    refine_pose(s, w, n_pose, bp, bs, b->normX,
                s->cfg.mode == GAR_SEARCH_GLOBAL ? s->coarse_mats + 9 * top[bp / s->n_cube] : A, R);
    gar_matrix_to_euler(R, &meta->rot_deg, &meta->tilt_deg, &meta->psi_deg);
    meta->origin_x_A = cx * px;
    meta->origin_y_A = cy * px;
}

/* A local search of one particle, in a thread's scratch. */
static gar_status search_local(gar_search *s, search_ws *w, const float *image, gar_particle *meta, double *score)
{
    gar_status st;
    particle_band b = thread_band(w);
    size_t n_shift;
    double shift_step;
    if ((st = prepare_particle(s, w, image, meta, &b)) != GAR_OK)
        return st;
    n_shift = particle_origins(s, w, meta, &shift_step);
    fine_search(s, w, &b, meta->half_set == 2, n_shift, shift_step, NULL, 0, meta, score);
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

static int thread_index(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static gar_status search_batch_local(gar_search *s, const float *images, gar_particle *meta, double *score,
                                     size_t count)
{
    gar_status st = GAR_OK;
    char msg[512] = "";
    const size_t npix = s->N * s->N;
#pragma omp parallel for num_threads(s->threads) schedule(dynamic, 1)
    for (size_t i = 0; i < count; i++)
        keep_error(search_local(s, &s->ws[thread_index()], images + i * npix, &meta[i], &score[i]), &st, msg,
                   sizeof msg);
    return st == GAR_OK ? GAR_OK : gar_error(st, "%s", msg);
}

static particle_band staged_band(const gar_search *s, size_t slot)
{
    float *base = s->st_band + slot * 4 * s->B;
    particle_band b = {base, base + s->B, base + 2 * s->B, base + 3 * s->B, s->st_norm[2 * slot],
                       s->st_norm[2 * slot + 1]};
    return b;
}

/* The batch's particle i as the calling thread sees it (staged_particle). */
typedef struct staged_view {
    search_ws *w;        /* the thread's scratch */
    particle_band b;     /* the particle's staged band */
    size_t slot;         /* its place in the staging */
    size_t n_shift;      /* its origin grid, in w (particle_origins) */
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
    p.n_shift = particle_origins(s, p.w, meta, &p.step);
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
            coarse_top_from_rows(s, &s->ws[thread_index()], s->st_Y + slot * ns * 2 * Bc, s->st_W + slot * Bc,
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
    coarse_top_from_rows(s, w, s->st_Y + slot * s->n_shift_max * 2 * s->Bc, s->st_W + slot * s->Bc,
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
static gar_status search_batch_global(gar_search *s, const float *images, gar_particle *meta, double *score,
                                      size_t count)
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
        gar_status e = prepare_particle(s, p.w, images + i * npix, &meta[i], &p.b);
        if (e == GAR_OK) {
            particle_rows(s, p.w, &p.b, p.n_shift, Bc, s->st_Y + p.slot * ns * 2 * Bc);
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
        fine_search(s, p.w, &p.b, meta[i].half_set == 2, p.n_shift, p.step, s->st_top + p.slot * K, nk, &meta[i],
                    &score[i]);
    }
    return GAR_OK;
}

int gar_search_gpus(const gar_search *s) { return s->gpu_off ? 0 : s->n_scorers; }

gar_status gar_search_batch(gar_search *s, const float *images, gar_particle *meta, double *score, size_t count)
{
    gar_status st = GAR_OK;
    const size_t npix = s->N * s->N;
    for (size_t i = 0; i < count; i++)
        if (meta[i].half_set != 1 && meta[i].half_set != 2)
            return gar_error(GAR_ERR_DATA, "particle with half set %d: expected 1 or 2", meta[i].half_set);
    if (s->cfg.mode == GAR_SEARCH_LOCAL)
        return search_batch_local(s, images, meta, score, count);
    for (size_t a = 0; a < count && st == GAR_OK; a += s->staged) {
        const size_t m = count - a < s->staged ? count - a : s->staged;
        st = search_batch_global(s, images + a * npix, meta + a, score + a, m);
    }
    return st;
}
