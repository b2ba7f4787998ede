/* garner: the pose search's sampling (see gar_search.h): directions over
 * an asymmetric unit, rotations from rotation vectors, the band of
 * frequencies compared, the coarse grid of a global search, the cubes of
 * rotations refined about a pose, and the sizes and memory all of these
 * take. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gar_geometry.h"
#include "gar_kernels.h"
#include "gar_search_impl.h"

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

/* Pixels of the band 1 <= |k| <= radius of the half plane (gar_search_build_band lists them). */
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
gar_status gar_search_build_band(gar_search *s)
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
    if ((st = gar_alloc((void **)&s->shell, n, sizeof *s->shell, "search band")) != GAR_OK)
        return st;
    for (size_t k = 0; k < n; k++)
        s->shell[k] = (unsigned short)lround(sqrt((double)s->ku[k] * s->ku[k] + (double)s->kv[k] * s->kv[k]));
    if (s->cfg.noise != NULL) {
        /* 1/(N² σ²) per band pixel and optics group: the whitening weights
         * (σ² is in a pixel's variance, the transform unnormalised: N² σ²
         * is a band pixel's noise power, so the evidence is in units of the
         * noise). */
        const gar_noise *nm = s->cfg.noise;
        const double n2 = (double)s->N * (double)s->N;
        const size_t G = gar_noise_groups(nm), S = gar_noise_shells(nm);
        if (S < (size_t)r + 2)
            return gar_error(GAR_ERR_INTERNAL, "noise model of %zu shells for a band of %d", S, r);
        if ((st = gar_alloc((void **)&s->inv_noise, G * n, sizeof(float), "search band")) != GAR_OK)
            return st;
        for (size_t g = 0; g < G; g++) {
            const double *s2 = gar_noise_sigma2(nm, g);
            for (size_t k = 0; k < n; k++)
                s->inv_noise[g * n + k] = (float)(1.0 / (n2 * s2[s->shell[k]]));
        }
    }
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

/* In-plane angles of the coarse grid (at twice the step). */
static size_t coarse_in_plane(const gar_search_config *cfg) { return (size_t)ceil(360.0 / (2.0 * cfg->angular_step_deg)); }

gar_status gar_search_build_coarse(gar_search *s)
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
            gar_search_slices(s, ref, s->coarse_mats + 9 * c, 1, s->Bc, P + c * 2 * s->Bc, P2 + c * s->Bc);
    }
done:
    free(dirs);
    return st;
}

/* Rotations per refinement cube: (2h + 1)³ (gar_search_make_cube). */
static size_t cube_count(const gar_search_config *cfg)
{
    const size_t side = 2 * (size_t)cube_half(cfg) + 1;
    return side * side * side;
}

/* The rotations R(δ) for δ on the cube {−h..h}³ × step (radians): the same
 * for every particle, so made once per search. */
gar_status gar_search_make_cube(gar_search *s, int h, double step)
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
size_t gar_search_pose_cube(const gar_search *s, const double A[9], double *out)
{
    for (size_t n = 0; n < s->n_cube; n++)
        gar_mat3_mul(s->cube + 9 * n, A, out + 9 * n);
    return s->n_cube;
}

/* Host bytes staged a particle by a global search. */
static double staged_bytes(size_t B, size_t Bc, size_t n_shift, int K)
{
    return (double)GAR_SEARCH_BAND_FLOATS * B * sizeof(float) + 3.0 * sizeof(double) + (double)n_shift * 2 * Bc * sizeof(float) +
           (double)Bc * sizeof(float) + (double)K * (sizeof(double) + sizeof(size_t)) + sizeof(size_t);
}

/* The coarse grid's band is a prefix of the band (ordered by |k|). */
size_t gar_search_coarse_band_pixels(const gar_search_config *cfg)
{
    return band_count(cfg->mode == GAR_SEARCH_GLOBAL ? coarse_radius(cfg) : cfg->band_radius);
}

void gar_search_sizes_of(const gar_search_config *cfg, size_t n_coarse, search_sizes *z)
{
    const size_t ns = shift_axis_count(cfg), top_k = (size_t)coarse_keep(cfg);
    z->B = band_count(cfg->band_radius);
    z->Bc = gar_search_coarse_band_pixels(cfg);
    z->n_coarse = n_coarse;
    z->n_cube = cube_count(cfg);
    z->n_local = cfg->mode == GAR_SEARCH_GLOBAL ? z->n_cube * top_k : z->n_cube;
    z->n_shift = ns * ns;
    z->rows = n_coarse > z->n_local ? n_coarse : z->n_local;
}

gar_status gar_search_check_config(const gar_search_config *cfg)
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
    if ((st = gar_search_check_config(cfg)) != GAR_OK)
        return st;
    if (cfg->mode == GAR_SEARCH_GLOBAL) {
        double *dirs = NULL;
        size_t n_dirs = 0;
        if ((st = gar_search_directions(cfg->sym, 2.0 * cfg->angular_step_deg, &dirs, &n_dirs)) != GAR_OK)
            return st;
        free(dirs);
        n_coarse = n_dirs * coarse_in_plane(cfg);
    }
    gar_search_sizes_of(cfg, n_coarse, &z);
    /* In doubles: a mistaken configuration may ask for more than size_t counts. */
    shared = 3.0 * z.B * f + z.B * 2.0 + (cfg->noise ? (double)gar_noise_groups(cfg->noise) * z.B * f : 0.0) +
             (double)z.n_coarse * 9 * d + (two_references ? 2.0 : 1.0) * z.n_coarse * 3.0 * z.Bc * f +
             (double)z.n_cube * 9 * d;
    per_thread = (double)GAR_SEARCH_BAND_FLOATS * z.B * f + (double)z.n_shift * 2 * z.B * f + (double)z.n_local * 3 * z.B * f +
                 (double)z.n_shift * z.rows * f + (double)z.rows * f + (double)z.n_local * 9 * d +
                 (double)z.n_shift * 2 * d + (3 * R + 2) * 2 * f + N * N * f + N * (N / 2 + 1) * 2 * f;
    *bytes = shared + (cfg->threads > 0 ? cfg->threads : 1) * per_thread;
    if (cfg->mode == GAR_SEARCH_GLOBAL)
        *bytes += (double)staged_count(cfg) *
                  staged_bytes(z.B, z.Bc, z.n_shift, coarse_keep(cfg));
    return GAR_OK;
}
