/* garner: the pose search's scoring of one particle (see gar_search.h):
 * its band, its rows at every origin, the scores of a set of poses as one
 * matrix product, the coarse stage on the CPU, and the fine stage with its
 * sub-step fits of origin and pose. */
#include <cblas.h>
#include <math.h>
#include <string.h>
#include "gar_fft.h"
#include "gar_geometry.h"
#include "gar_kernels.h"
#include "gar_search_impl.h"

/* Slices of `ref` at n poses over the first nb band pixels, into rows of P
 * (2 nb: re then im) and P2 (|P|², nb). */
void gar_search_slices(const gar_search *s, const gar_refproj *ref, const double *mats, size_t n, size_t nb,
                       float *P, float *P2)
{
    for (size_t c = 0; c < n; c++) {
        float *re = P + c * 2 * nb, *im = re + nb, *p2 = P2 + c * nb;
        gar_refproj_slice(ref, mats + 9 * c, s->ku, s->kv, nb, re, im);
        for (size_t k = 0; k < nb; k++)
            p2[k] = re[k] * re[k] + im[k] * im[k];
    }
}

static const gar_optics *find_optics(const gar_search *s, int32_t group)
{
    for (size_t i = 0; i < s->cfg.n_optics; i++)
        if (s->cfg.optics[i].group == group)
            return &s->cfg.optics[i];
    return NULL;
}

/* The particle's band X (background-levelled, soft-masked, centred), w·C,
 * w·C², and Σ w |X|² over the band and the coarse band, into b. */
gar_status gar_search_prepare_particle(const gar_search *s, search_ws *w, const float *image,
                                       const gar_particle *meta, particle_band *b)
{
    const size_t N = s->N, H = N / 2 + 1;
    float *real = gar_fft2_real(w->fft);
    const float *c;
    const double rm = s->cfg.mask_radius_px > 0 ? s->cfg.mask_radius_px : N / 2.0 - 3.0, px = s->cfg.pixel_size_A;
    double bg = 0.0, nx = 0.0;
    size_t nbg = 0;
    gar_ctf ctf;
    const float *inv_noise = NULL;   /* 1/σ² of the particle's optics group (NULL: white) */
    if (s->cfg.ctf) {
        const gar_optics *o = find_optics(s, meta->optics_group);
        if (o == NULL)
            return gar_error(GAR_ERR_DATA, "optics group %d is not in the stack's optics table", meta->optics_group);
        ctf = gar_ctf_prepare(meta->defocus_u_A, meta->defocus_v_A, meta->defocus_angle_deg, o->voltage_kV,
                              o->cs_mm, o->amplitude_contrast, meta->phase_shift_deg);
    }
    if (s->inv_noise != NULL) {
        const long g = gar_noise_index(s->cfg.noise, meta->optics_group);
        if (g < 0)
            return gar_error(GAR_ERR_INTERNAL, "the noise model has no row for optics group %d", meta->optics_group);
        inv_noise = s->inv_noise + (size_t)g * s->B;
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
            float m = gar_particle_mask((float)sqrt(dx * dx + dy * dy), (float)rm);
            real[((y + N / 2) % N) * N + (x + N / 2) % N] = (float)((image[y * N + x] - bg) * m);
        }
    gar_fft2_forward(w->fft);
    c = gar_fft2_complex(w->fft);
    for (size_t k = 0; k < s->B; k++) {
        const int u = (int)s->ku[k], v = (int)s->kv[k];
        const float *z = c + 2 * ((size_t)((v + (int)N) % (int)N) * H + (size_t)u);
        float C = 1.0f;
        const float wk = inv_noise != NULL ? s->w[k] * inv_noise[k] : s->w[k];
        if (s->cfg.ctf)
            C = gar_ctf_eval(&ctf, (float)(u / (N * px)), (float)(v / (N * px)));
        b->xr[k] = z[0];
        b->xi[k] = z[1];
        b->wc[k] = wk * C;
        b->wc2[k] = wk * C * C;
        b->ctf[k] = C;
        nx += (double)wk * ((double)z[0] * z[0] + (double)z[1] * z[1]);
        if (k + 1 == s->Bc)
            b->normXc = nx;
    }
    b->normX = nx;
    return GAR_OK;
}

/* The origin (ox, oy) pixels' phase e^{−2πi k·o/N} is separable,
 * e^{−2πi u ox/N} e^{−2πi v oy/N}: its tables into w (3R + 2 sines, not one
 * per band pixel). */
static void origin_phase_tables(const gar_search *s, search_ws *w, double ox, double oy)
{
    const double f = -2.0 * GAR_PI / (double)s->N;
    const int R = s->R;
    for (int u = 0; u <= R; u++) {
        w->eu[2 * u] = (float)cos(f * u * ox);
        w->eu[2 * u + 1] = (float)sin(f * u * ox);
    }
    for (int v = -R; v <= R; v++) {
        w->ev[2 * (v + R)] = (float)cos(f * v * oy);
        w->ev[2 * (v + R) + 1] = (float)sin(f * v * oy);
    }
}

/* X_o = X e^{−2πi k·o/N} at band pixel k, from the tables of origin_phase_tables. */
static inline void shifted_pixel(const gar_search *s, const search_ws *w, const particle_band *b, size_t k,
                                 float *xr, float *xi)
{
    const float *a = w->eu + 2 * (int)s->ku[k], *e = w->ev + 2 * ((int)s->kv[k] + s->R);
    const float cr = a[0] * e[0] - a[1] * e[1], ci = a[0] * e[1] + a[1] * e[0];
    *xr = b->xr[k] * cr - b->xi[k] * ci;
    *xi = b->xr[k] * ci + b->xi[k] * cr;
}

/* Rows of Y over the first nb band pixels (2 nb each: re then im): w C X_o
 * for the n origins (sx, sy) (pixels). */
void gar_search_particle_rows(const gar_search *s, search_ws *w, const particle_band *b, size_t n, size_t nb, float *Y)
{
    for (size_t i = 0; i < n; i++) {
        float *yr = Y + i * 2 * nb, *yi = yr + nb;
        origin_phase_tables(s, w, w->sx[i], w->sy[i]);
        for (size_t k = 0; k < nb; k++) {
            float xr, xi;
            shifted_pixel(s, w, b, k, &xr, &xi);
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
int gar_search_coarse_top(const gar_search *s, search_ws *w, const float *Y, const float *wc2, double normXc, int h,
                          size_t n_shift, size_t *top, double *topv)
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
size_t gar_search_particle_origins(const gar_search *s, search_ws *w, const gar_particle *meta, double *step)
{
    const double px = s->cfg.pixel_size_A;
    *step = (s->cfg.mode == GAR_SEARCH_GLOBAL ? 1.0 : 0.5) * s->cfg.shift_step_A / px;
    return origin_grid(w, shift_axis_count(&s->cfg), meta->origin_x_A / px, meta->origin_y_A / px, *step);
}

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

/* The residual r = X_o − a C P of the best pose (slice row bp of w->P) at
 * origin (ox, oy) pixels: as noise sums per shell, Σ h |r|²/N², Σ h (h the
 * Hermitian weight, not the noise's 1/σ²), into noise (2 × (N/2 + 1)) unless
 * NULL; returned, its misfit (Σ h |r|²/(N² σ²) − Σ h) / sqrt(Σ h²), inv_noise
 * the particle's 1/(N² σ²) (NULL: 1/N², uncalibrated). */
static double residual_sums(const gar_search *s, search_ws *w, const particle_band *b, size_t bp, double a,
                            double ox, double oy, const float *inv_noise, float *noise)
{
    double chi2 = 0.0, sh = 0.0, sh2 = 0.0;
    const size_t S = s->N / 2 + 1;
    const double inv_n2 = 1.0 / ((double)s->N * (double)s->N);
    const float *pr = w->P + bp * 2 * s->B, *pi = pr + s->B;
    if (noise != NULL)
        memset(noise, 0, 2 * S * sizeof *noise);
    origin_phase_tables(s, w, ox, oy);
    for (size_t k = 0; k < s->B; k++) {
        float xr, xi;
        shifted_pixel(s, w, b, k, &xr, &xi);
        const double rr = xr - a * b->ctf[k] * pr[k], ri = xi - a * b->ctf[k] * pi[k];
        const double r2 = rr * rr + ri * ri;
        chi2 += s->w[k] * r2 * (inv_noise != NULL ? inv_noise[k] : inv_n2);
        sh += s->w[k];
        sh2 += (double)s->w[k] * s->w[k];
        if (noise != NULL) {
            noise[2 * s->shell[k]] += (float)(s->w[k] * r2 * inv_n2);
            noise[2 * s->shell[k] + 1] += s->w[k];
        }
    }
    return sh2 > 0 ? (chi2 - sh) / sqrt(sh2) : 0.0;
}

/* The poses about as likely as the best (bp at origin bs): each pose's
 * evidence E at its best origin, weight exp((E² − E_best²)/2) (the
 * likelihood ratio at each one's best scale), the largest
 * cfg.alternatives of those at least 1 % of the best's, normalised. */
static void significant_poses(const gar_search *s, const search_ws *w, size_t n_shift, size_t n_pose, size_t bp,
                              size_t bs, gar_search_result *res)
{
    const double px = s->cfg.pixel_size_A;
    const int K = s->cfg.alternatives < GAR_SEARCH_MAX_ALT ? s->cfg.alternatives : GAR_SEARCH_MAX_ALT;
    double lw[GAR_SEARCH_MAX_ALT], sum = 1.0, e0;
    size_t pose[GAR_SEARCH_MAX_ALT], shift[GAR_SEARCH_MAX_ALT];
    int n = 0;
    res->best_weight = 1.0;
    res->n_alt = 0;
    if (K <= 0 || !(w->nP[bp] > 0))
        return;
    e0 = (double)w->S[bs * n_pose + bp] / sqrt((double)w->nP[bp]);
    for (size_t c = 0; c < n_pose; c++) {
        double e = -1e300;
        size_t bi = 0;
        if (c == bp || !(w->nP[c] > 0))
            continue;
        for (size_t i = 0; i < n_shift; i++)
            if ((double)w->S[i * n_pose + c] > e) {
                e = (double)w->S[i * n_pose + c];
                bi = i;
            }
        e /= sqrt((double)w->nP[c]);
        const double l = 0.5 * (e * e - e0 * e0);
        if (e <= 0 || l < log(0.01))
            continue;
        /* Insert into the K largest, kept in decreasing order. */
        int at = n < K ? n++ : K;
        if (at == K && !(l > lw[K - 1]))
            continue;
        if (at == K)
            at = K - 1;
        while (at > 0 && lw[at - 1] < l) {
            lw[at] = lw[at - 1];
            pose[at] = pose[at - 1];
            shift[at] = shift[at - 1];
            at--;
        }
        lw[at] = l;
        pose[at] = c;
        shift[at] = bi;
    }
    for (int k = 0; k < n; k++)
        sum += exp(lw[k]);
    res->best_weight = 1.0 / sum;
    for (int k = 0; k < n; k++) {
        gar_search_alt *a = &res->alt[k];
        gar_matrix_to_euler(w->mats + 9 * pose[k], &a->rot_deg, &a->tilt_deg, &a->psi_deg);
        a->origin_x_A = w->sx[shift[k]] * px;
        a->origin_y_A = w->sy[shift[k]] * px;
        a->weight = exp(lw[k]) / sum;
    }
    res->n_alt = n;
}

/* The fine stage over the whole band: the cubes about the nk coarse poses
 * of a global search, or about the previous pose for a local one; the best
 * pose and its origin (to sub-step precision) replace meta's; res gets its
 * score and contrast scale, noise (unless NULL) its residual's sums. */
void gar_search_fine(gar_search *s, search_ws *w, const particle_band *b, int h, size_t n_shift, double shift_step,
                     const size_t *top, int nk, gar_particle *meta, gar_search_result *res, float *noise)
{
    const double px = s->cfg.pixel_size_A;
    double A[9], R[9], cx, cy;
    size_t n_pose = 0, bp, bs;
    if (s->cfg.mode == GAR_SEARCH_GLOBAL) {
        for (int k = 0; k < nk; k++)
            n_pose += gar_search_pose_cube(s, s->coarse_mats + 9 * top[k], w->mats + 9 * n_pose);
    } else {
        gar_euler_to_matrix(meta->rot_deg, meta->tilt_deg, meta->psi_deg, A);
        n_pose = gar_search_pose_cube(s, A, w->mats);
    }
    gar_search_particle_rows(s, w, b, n_shift, s->B, w->Y);
    gar_search_slices(s, s->cfg.ref[h], w->mats, n_pose, s->B, w->P, w->P2);
    score_poses(w, w->Y, b->wc2, n_shift, w->P, w->P2, n_pose, s->B);
    res->score = best_of(w, n_shift, n_pose, b->normX, &bp, &bs);
    res->scale = w->nP[bp] > 0 ? (double)w->S[bs * n_pose + bp] / (double)w->nP[bp] : 0.0;
    res->evidence = w->nP[bp] > 0 ? (double)w->S[bs * n_pose + bp] / sqrt((double)w->nP[bp]) : 0.0;
    {
        const long g = s->inv_noise != NULL ? gar_noise_index(s->cfg.noise, meta->optics_group) : -1;
        res->misfit = residual_sums(s, w, b, bp, res->scale, w->sx[bs], w->sy[bs],
                                    g >= 0 ? s->inv_noise + (size_t)g * s->B : NULL, noise);
    }
    significant_poses(s, w, n_shift, n_pose, bp, bs, res);
    refine_origin(w, shift_axis_count(&s->cfg), n_pose, bp, bs, b->normX, shift_step, &cx, &cy);
    refine_pose(s, w, n_pose, bp, bs, b->normX,
                s->cfg.mode == GAR_SEARCH_GLOBAL ? s->coarse_mats + 9 * top[bp / s->n_cube] : A, R);
    gar_matrix_to_euler(R, &meta->rot_deg, &meta->tilt_deg, &meta->psi_deg);
    meta->origin_x_A = cx * px;
    meta->origin_y_A = cy * px;
}
