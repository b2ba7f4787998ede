/* A particle's image to its plane on the CPU: background removed, padded,
 * transformed, shifted to the centre and multiplied by its CTF (the CPU twin
 * of the GPU's pad, FFT and plane kernels; the per-pixel maths is shared,
 * gar_kernels.h). The rows come from the kernels chosen at create. */
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "gar_recon_impl.h"

static const gar_optics *find_optics(const gar_recon *r, int32_t group)
{
    for (size_t i = 0; i < r->cfg.n_optics; i++)
        if (r->optics[i].group == group)
            return &r->optics[i];
    return NULL;
}

/* What the insertion needs of one particle: pose, shift in pixels, CTF,
 * half set (checked to be 1 or 2 by gar_recon_insert beforehand). */
gar_status gar_recon_particle_geom(const gar_recon *r, const gar_particle *meta, gar_particle_geom *g)
{
    const gar_optics *o = find_optics(r, meta->optics_group);
    memset(g, 0, sizeof *g);
    if (r->cfg.ctf) {
        if (o == NULL)
            return gar_error(GAR_ERR_DATA, "optics group %d is not in the stack's optics table",
                             meta->optics_group);
        g->ctf = gar_ctf_prepare(meta->defocus_u_A, meta->defocus_v_A, meta->defocus_angle_deg,
                                 o->voltage_kV, o->cs_mm, o->amplitude_contrast, meta->phase_shift_deg);
        g->use_ctf = 1;
    }
    gar_euler_to_matrix(meta->rot_deg, meta->tilt_deg, meta->psi_deg, g->A);
    g->ox = meta->origin_x_A / r->cfg.pixel_size_A;
    g->oy = meta->origin_y_A / r->cfg.pixel_size_A;
    g->half = meta->half_set - 1;
    g->scale = 1.0f;
    return GAR_OK;
}

/* Half the pixels: the plane of a real image is Hermitian, pixel −k the
 * conjugate of pixel k (the CTF is even, the shift phase's sines odd,
 * exactly so in floating point), so each is written twice. */
void gar_recon_plane_rows_scalar(const gar_recon *r, const float *c, const gar_particle_geom *g, const double *cu,
                                 const double *su, const double *cv, const double *sv, float *plane)
{
    const size_t M = r->M, pp = r->plane_pixels;
    const int R = r->R, side = 2 * R + 1, half = (int)(M / 2);
    float *pre = plane, *pim = plane + pp, *pc2 = plane + 2 * pp;
    const double Mpx = (double)M * r->cfg.pixel_size_A;
    double rlim = r->kmax + r->a + 1.0;
    for (int v = 0; v <= R; v++) {
        const size_t row = (size_t)(v + R) * side + R, mirror = (size_t)(R - v) * side + R;
        const int umax = gar_plane_row_umax(v, rlim, half);
        for (int u = v == 0 ? 0 : -umax; u <= umax; u++) {
            float px[3];
            gar_plane_pixel(c, (int)M, u, v, cu[u + R], su[u + R], cv[v + R], sv[v + R],
                            gar_plane_ctf_weight(g, u, v, Mpx), px);
            pre[row + u] = px[0];
            pim[row + u] = px[1];
            pc2[row + u] = px[2];
            pre[mirror - u] = px[0];
            pim[mirror - u] = -px[1];
            pc2[mirror - u] = px[2];
        }
    }
}

/* A periodic image's plane: only the samples on the box's own frequency
 * grid (gar_plane_on_lattice); the others, interpolated by the padding,
 * are zeroed, data and weight, whichever kernel made the rows. */
static void keep_lattice(const gar_recon *r, float *plane)
{
    const size_t pp = r->plane_pixels;
    const int R = r->R, side = 2 * R + 1;
    for (int v = -R; v <= R; v++)
        for (int u = -R; u <= R; u++)
            if (!gar_plane_on_lattice(u, v, r->lattice)) {
                const size_t at = (size_t)(v + R) * side + (size_t)(u + R);
                plane[at] = plane[pp + at] = plane[2 * pp + at] = 0.0f;
            }
}

static void prepare_plane_geom(gar_recon *r, int thread, const float *image, const gar_particle_geom *g,
                               float *plane)
{
    gar_fft2 *fft = r->fft[thread];
    float *real = gar_fft2_real(fft);
    const size_t N = r->N, M = r->M, off = M / 2 - N / 2;
    const int R = r->R;
    double bg;
    /* Separable shift phase: one cos/sin per row and per column, not per pixel. */
    double ph_u[2][2 * GAR_RECON_MAX_R + 1], ph_v[2][2 * GAR_RECON_MAX_R + 1];

    /* Normalise: remove the mean of the background outside the particle
     * circle, so zero padding adds no step at the box edge. */
    bg = gar_background_mean(image, N);
    for (size_t y = 0; y < N; y++)
        for (size_t x = 0; x < N; x++)
            real[(y + off) * M + x + off] = (float)(image[y * N + x] - bg);
    gar_fft2_forward(fft);

    for (int k = -R; k <= R; k++) {
        gar_shift_phase(k, g->ox, (double)M, &ph_u[0][k + R], &ph_u[1][k + R]);
        gar_shift_phase(k, g->oy, (double)M, &ph_v[0][k + R], &ph_v[1][k + R]);
    }
    r->kernels->plane_rows(r, gar_fft2_complex(fft), g, ph_u[0], ph_u[1], ph_v[0], ph_v[1], plane);
    if (r->lattice > 1)
        keep_lattice(r, plane);
}

gar_status gar_recon_prepare_plane(gar_recon *r, int thread, const float *image,
                                   const gar_particle *meta, float *plane)
{
    gar_particle_geom g;
    gar_status st = gar_recon_particle_geom(r, meta, &g);
    /* The pixels beyond kmax + a + 1 are never written (the slots of a
     * batch are zeroed once), so a caller's plane is zeroed here. */
    memset(plane, 0, 3 * r->plane_pixels * sizeof(float));
    if (st == GAR_OK)
        prepare_plane_geom(r, thread, image, &g, plane);
    return st;
}

/* The planes of particles [first, first + n) of a batch whose geometry is
 * made, into plane slots 0 .. n − 1 (one FFT plan per thread). */
void gar_recon_prepare_planes(gar_recon *r, const float *images, size_t first, size_t n)
{
    const size_t npix = r->N * r->N;
#pragma omp parallel for num_threads(r->threads) schedule(dynamic, 1)
    for (size_t i = 0; i < n; i++) {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        prepare_plane_geom(r, t, images + (first + i) * npix, &r->geoms[first + i], r->planes + i * 3 * r->plane_pixels);
    }
}
