/* garner info, the run (see gar_run_info.h). */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gar_decompress.h"
#include "gar_mrc.h"
#include "gar_poses.h"
#include "gar_run_info.h"
#include "gar_stack.h"

#define INFO_BATCH 256

typedef struct running {
    double min, max, sum, sumsq;
    size_t n, nonfinite;
} running;

static void running_init(running *r)
{
    r->min = INFINITY;
    r->max = -INFINITY;
    r->sum = r->sumsq = 0.0;
    r->n = r->nonfinite = 0;
}

static void running_add(running *r, double v)
{
    if (!isfinite(v)) {
        r->nonfinite++;
        return;
    }
    if (v < r->min)
        r->min = v;
    if (v > r->max)
        r->max = v;
    r->sum += v;
    r->sumsq += v * v;
    r->n++;
}

static void running_print(const char *name, const running *r)
{
    double mean = r->n ? r->sum / r->n : 0.0;
    double var = r->n ? r->sumsq / r->n - mean * mean : 0.0;
    printf("  %-20s min %-12.6g max %-12.6g mean %-12.6g sd %-12.6g", name, r->n ? r->min : 0.0,
           r->n ? r->max : 0.0, mean, sqrt(var > 0 ? var : 0));
    if (r->nonfinite)
        printf(" non-finite %zu", r->nonfinite);
    printf("\n");
}

static gar_status info_stack(const char *path)
{
    gar_status st;
    gar_stack *s = NULL;
    float *img = NULL;
    gar_particle *meta = NULL;
    int32_t *junk = NULL;
    double *scale = NULL;
    size_t n, box, n_optics, half[3] = {0, 0, 0}, kinds[3] = {0, 0, 0}, bad_images = 0, batch;
    int truth;
    const gar_optics *optics;
    unsigned cols;
    running pix, rot, tilt, psi, ox, oy, dfu, dfv, dfa, ph, sc;

    if ((st = gar_stack_open(path, &s)) != GAR_OK)
        return st;
    n = gar_stack_count(s);
    box = gar_stack_box(s);
    cols = gar_stack_columns(s);
    optics = gar_stack_optics(s, &n_optics);
    printf("%s: garner particle stack, format version %d\n", path, GAR_STACK_FORMAT_VERSION);
    printf("  particles            %zu\n  box                  %zu x %zu\n  pixel size           %.6g Å\n",
           n, box, box, gar_stack_pixel_size(s));
    for (size_t i = 0; i < n_optics; i++)
        printf("  optics group %-7d %s: %.6g Å/px, %.6g kV, Cs %.6g mm, Q %.4g\n", optics[i].group,
               optics[i].name, optics[i].pixel_size_A, optics[i].voltage_kV, optics[i].cs_mm,
               optics[i].amplitude_contrast);
    truth = gar_stack_has_sim_truth(s);
    printf("  columns              half_set optics_group%s%s%s%s%s\n",
           cols & GAR_COL_POSE ? " rot_deg tilt_deg psi_deg" : "",
           cols & GAR_COL_ORIGIN ? " origin_x_A origin_y_A" : "",
           cols & GAR_COL_CTF ? " defocus_u_A defocus_v_A defocus_angle_deg" : "",
           cols & GAR_COL_PHASE_SHIFT ? " phase_shift_deg" : "", truth ? " sim_junk sim_scale" : "");
    running_init(&pix);
    running *all[] = {&rot, &tilt, &psi, &ox, &oy, &dfu, &dfv, &dfa, &ph, &sc};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        running_init(all[k]);
    /* No larger than the stack: a stack of a few large images needs no room
     * for INFO_BATCH of them. */
    batch = n < INFO_BATCH ? (n > 0 ? n : 1) : INFO_BATCH;
    if ((st = gar_alloc((void **)&img, batch, box * box * sizeof(float), "image batch")) != GAR_OK ||
        (st = gar_alloc((void **)&meta, batch, sizeof *meta, "metadata batch")) != GAR_OK ||
        (truth && ((st = gar_alloc((void **)&junk, batch, sizeof *junk, "truth batch")) != GAR_OK ||
                   (st = gar_alloc((void **)&scale, batch, sizeof *scale, "truth batch")) != GAR_OK)))
        goto done;
    for (size_t first = 0; first < n; first += batch) {
        size_t cnt = n - first < batch ? n - first : batch;
        if ((st = gar_stack_read_images(s, first, cnt, img)) != GAR_OK ||
            (st = gar_stack_read_meta(s, first, cnt, meta)) != GAR_OK ||
            (truth && (st = gar_stack_read_sim_truth(s, first, cnt, junk, scale)) != GAR_OK))
            goto done;
        for (size_t k = 0; k < cnt; k++) {
            const gar_particle *p = &meta[k];
            size_t before = pix.nonfinite;
            for (size_t q = 0; q < box * box; q++)
                running_add(&pix, img[k * box * box + q]);
            if (pix.nonfinite != before)
                bad_images++;
            half[p->half_set == 1 ? 1 : 2]++;
            running_add(&rot, p->rot_deg);
            running_add(&tilt, p->tilt_deg);
            running_add(&psi, p->psi_deg);
            running_add(&ox, p->origin_x_A);
            running_add(&oy, p->origin_y_A);
            running_add(&dfu, p->defocus_u_A);
            running_add(&dfv, p->defocus_v_A);
            running_add(&dfa, p->defocus_angle_deg);
            running_add(&ph, p->phase_shift_deg);
            if (truth) {
                kinds[junk[k]]++;   /* 0, 1 or 2: checked by the read */
                if (junk[k] != GAR_STACK_SIM_ICE)
                    running_add(&sc, scale[k]);
            }
        }
    }
    printf("  half sets            1: %zu, 2: %zu\n", half[1], half[2]);
    if (cols & GAR_COL_POSE) {
        running_print("rot_deg", &rot);
        running_print("tilt_deg", &tilt);
        running_print("psi_deg", &psi);
    }
    if (cols & GAR_COL_ORIGIN) {
        running_print("origin_x_A", &ox);
        running_print("origin_y_A", &oy);
    }
    if (cols & GAR_COL_CTF) {
        running_print("defocus_u_A", &dfu);
        running_print("defocus_v_A", &dfv);
        running_print("defocus_angle_deg", &dfa);
    }
    if (cols & GAR_COL_PHASE_SHIFT)
        running_print("phase_shift_deg", &ph);
    if (truth) {
        printf("  simulation truth     %zu particles, %zu junk: another protein, %zu junk: empty ice\n",
               kinds[0], kinds[1], kinds[2]);
        running_print("sim_scale (not ice)", &sc);
    }
    running_print("pixels", &pix);
    printf("  non-finite pixels    %zu (in %zu images)\n", pix.nonfinite, bad_images);
done:
    free(img);
    free(meta);
    free(junk);
    free(scale);
    gar_stack_close(&s);
    return st;
}

static gar_status info_mrc(const char *path)
{
    gar_status st;
    gar_mrc *m = NULL;
    float *sec = NULL;
    running pix;
    size_t nx, ny, nz;
    if ((st = gar_mrc_open(path, &m)) != GAR_OK)
        return st;
    nx = gar_mrc_nx(m);
    ny = gar_mrc_ny(m);
    nz = gar_mrc_nz(m);
    printf("%s: MRC, mode %d\n  size                 %zu x %zu x %zu\n  pixel size           %.6g Å\n",
           path, gar_mrc_mode(m), nx, ny, nz, gar_mrc_pixel_size(m));
    running_init(&pix);
    if ((st = gar_alloc((void **)&sec, nx * ny, sizeof(float), "MRC section")) != GAR_OK)
        goto done;
    for (size_t z = 0; z < nz; z++) {
        if ((st = gar_mrc_read_sections(m, z, 1, sec)) != GAR_OK)
            goto done;
        for (size_t q = 0; q < nx * ny; q++)
            running_add(&pix, sec[q]);
    }
    running_print("voxels", &pix);
    printf("  non-finite voxels    %zu\n", pix.nonfinite);
done:
    free(sec);
    gar_mrc_close(&m);
    return st;
}

/* A refinement's poses file (iter_NNN/poses.h5 or the final poses.h5):
 * where the refinement stood, and the columns' ranges. */
static gar_status info_poses(const char *path, size_t n)
{
    gar_status st;
    gar_pose *poses = NULL;
    gar_refine_state state;
    size_t half[3] = {0, 0, 0}, junk = 0;
    running rot, tilt, psi, ox, oy, score, scale, evidence, misfit;
    running *all[] = {&rot, &tilt, &psi, &ox, &oy, &score, &scale, &evidence, &misfit};

    if ((st = gar_alloc((void **)&poses, n ? n : 1, sizeof *poses, "poses")) != GAR_OK ||
        (st = gar_poses_read(path, poses, n, &state, NULL, NULL)) != GAR_OK)
        goto done;
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        running_init(all[k]);
    for (size_t i = 0; i < n; i++) {
        const gar_pose *p = &poses[i];
        half[p->half_set == 1 ? 1 : 2]++;
        junk += p->junk != 0;
        running_add(&rot, p->rot_deg);
        running_add(&tilt, p->tilt_deg);
        running_add(&psi, p->psi_deg);
        running_add(&ox, p->origin_x_A);
        running_add(&oy, p->origin_y_A);
        running_add(&score, p->score);
        running_add(&scale, p->scale);
        running_add(&evidence, p->evidence);
        running_add(&misfit, p->misfit);
    }
    printf("%s: garner poses file (written by garner refine; its particles are in the run's stacks)\n", path);
    printf("  particles            %zu\n  iteration            %llu%s\n", n,
           (unsigned long long)state.iteration, state.converged ? " (converged)" : " (not converged)");
    printf("  resolution           %.4g Å (best %.4g Å)\n  next angular step    %.4g°%s\n",
           state.resolution_A, state.best_resolution_A, state.angular_step_deg,
           state.local ? " (local search)" : " (global search)");
    printf("  half sets            1: %zu, 2: %zu\n  junk                 %zu\n", half[1], half[2], junk);
    running_print("rot_deg", &rot);
    running_print("tilt_deg", &tilt);
    running_print("psi_deg", &psi);
    running_print("origin_x_A", &ox);
    running_print("origin_y_A", &oy);
    running_print("score", &score);
    running_print("scale", &scale);
    running_print("evidence", &evidence);
    running_print("misfit", &misfit);
done:
    free(poses);
    return st;
}

gar_status gar_run_info(const gar_info_request *req)
{
    size_t n;
    /* By content, never by name: an HDF5 file is a poses file or a stack
     * (whose reader explains any other HDF5 file); STAR, .cs and the other
     * kinds garner names are refused with what to do; the rest (MRC,
     * compressed MRC, what cannot be told) goes to the MRC reader. */
    gar_file_kind kind = gar_file_sniff_path(req->path);
    switch (kind) {
    case GAR_FILE_HDF5:
        if (gar_poses_count(req->path, &n) == GAR_OK)
            return info_poses(req->path, n);
        gar_error_clear();
        return info_stack(req->path);
    case GAR_FILE_UNKNOWN:
    case GAR_FILE_MRC:
    case GAR_FILE_GZIP:
    case GAR_FILE_BZIP2:
        return info_mrc(req->path);
    default:
        return gar_file_refuse(req->path, kind, GAR_WANT_DESCRIBE);
    }
}
