/* garner export, the run: refined poses (or the stacks' own) with their
 * particles as a RELION 3.1 STAR file and an MRC stack beside it (the
 * command line: src/cli/cmd_export.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "gar_atomic.h"
#include "gar_inputs.h"
#include "gar_log.h"
#include "gar_mrc.h"
#include "gar_poses.h"
#include "gar_run.h"
#include "gar_run_export.h"
#include "gar_stack.h"

static int star_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int star_prefix(const char *v, const char *word)
{
    return strncasecmp(v, word, strlen(word)) == 0;
}

/* How a STAR reader would misread v unquoted: empty, blanks inside, or a
 * first character or word that starts something else (a label, a comment, a
 * quoted or text field, a reserved word; STAR 2012 and CIF, as RELION, gemmi
 * and garner's own reader in hdf5io/gar_star.c take them). */
static int star_needs_quotes(const char *v)
{
    if (*v == '\0' || strchr("_#$'\";[]", *v) != NULL || star_prefix(v, "data_") || star_prefix(v, "save_") ||
        strcasecmp(v, "loop_") == 0 || strcasecmp(v, "global_") == 0 || strcasecmp(v, "stop_") == 0)
        return 1;
    for (const char *p = v; *p; p++)
        if (star_blank(*p))
            return 1;
    return 0;
}

/* A quote closes a STAR value only where whitespace or the end of the line
 * follows it, so v can be quoted with q unless q followed by a blank is in
 * it. */
static int star_quotable_with(const char *v, char q)
{
    for (const char *p = v; *p; p++)
        if (*p == q && star_blank(p[1]))
            return 0;
    return 1;
}

/* The quote v needs in a STAR file: 0 (none), '"' or '\''; GAR_ERR_DATA,
 * naming `what`, for a value no STAR line can hold (a line break, or both
 * quotes each followed by a blank). */
static gar_status star_quote(const char *v, const char *what, char *quote)
{
    *quote = 0;
    if (strpbrk(v, "\n") != NULL)
        return gar_error(GAR_ERR_DATA, "%s '%.80s': holds a line break, which no STAR value can", what, v);
    if (!star_needs_quotes(v))
        return GAR_OK;
    if (star_quotable_with(v, '"'))
        *quote = '"';
    else if (star_quotable_with(v, '\''))
        *quote = '\'';
    else
        return gar_error(GAR_ERR_DATA, "%s '%.80s': holds both a ' and a \" followed by a space, which no "
                         "quoted STAR value can", what, v);
    return GAR_OK;
}

static gar_status write_star(FILE *f, gar_inputs *in, const gar_pose *poses, const char *mrcs_name, int ctf)
{
    gar_status st = GAR_OK;
    size_t n_optics, base = 0;
    const gar_optics *optics = gar_stack_optics(gar_inputs_stack(in, 0), &n_optics);
    gar_particle m;
    char what[160], image[4160], name_q, image_q;

    /* Image names are NNNNNN@mrcs_name: they start with a digit, so what the
     * first needs every row needs. */
    snprintf(image, sizeof image, "%06d@%s", 1, mrcs_name);
    if ((st = star_quote(image, "--star: image name", &image_q)) != GAR_OK)
        return st;
    fprintf(f, "\n# version 30001\n\ndata_optics\n\nloop_\n_rlnOpticsGroup #1\n_rlnOpticsGroupName #2\n"
               "_rlnImagePixelSize #3\n_rlnImageSize #4\n_rlnImageDimensionality #5\n_rlnVoltage #6\n"
               "_rlnSphericalAberration #7\n_rlnAmplitudeContrast #8\n");
    /* Names are written as they are, quoted where STAR needs it, so that an
     * import of the export gives them back (an empty one too: ""). */
    for (size_t i = 0; i < n_optics; i++) {
        snprintf(what, sizeof what, "%s: optics group %d: name", gar_stack_path(gar_inputs_stack(in, 0)),
                 optics[i].group);
        if ((st = star_quote(optics[i].name, what, &name_q)) != GAR_OK)
            return st;
        fprintf(f, "%d %.*s%s%.*s %.6f %zu 2 %.6f %.6f %.6f\n", optics[i].group, name_q != 0, &name_q,
                optics[i].name, name_q != 0, &name_q, optics[i].pixel_size_A, gar_inputs_box(in),
                optics[i].voltage_kV, optics[i].cs_mm, optics[i].amplitude_contrast);
    }
    fprintf(f, "\n\n# version 30001\n\ndata_particles\n\nloop_\n_rlnImageName #1\n_rlnAngleRot #2\n"
               "_rlnAngleTilt #3\n_rlnAnglePsi #4\n_rlnOriginXAngst #5\n_rlnOriginYAngst #6\n"
               "_rlnOpticsGroup #7\n_rlnRandomSubset #8\n");
    if (ctf)
        fprintf(f, "_rlnDefocusU #9\n_rlnDefocusV #10\n_rlnDefocusAngle #11\n_rlnPhaseShift #12\n");
    for (size_t k = 0; k < gar_inputs_n_stacks(in); k++) {
        gar_stack *stack = gar_inputs_stack(in, k);
        for (size_t i = 0; i < gar_stack_count(stack); i++) {
            const gar_pose *q = &poses[base + i];
            if ((st = gar_stack_read_meta(stack, i, 1, &m)) != GAR_OK)
                return st;
            if (gar_stack_optics_group(gar_inputs_stack(in, 0), m.optics_group) == NULL)
                return gar_error(GAR_ERR_DATA, "%s: particle %zu: optics group %d is not in %s's optics table",
                                 gar_stack_path(stack), i, m.optics_group, gar_stack_path(gar_inputs_stack(in, 0)));
            fprintf(f, "%.*s%06zu@%s%.*s %.6f %.6f %.6f %.6f %.6f %d %d", image_q != 0, &image_q, base + i + 1,
                    mrcs_name, image_q != 0, &image_q, q->rot_deg, q->tilt_deg, q->psi_deg, q->origin_x_A,
                    q->origin_y_A, m.optics_group, q->half_set);
            if (ctf)
                fprintf(f, " %.6f %.6f %.6f %.6f", m.defocus_u_A, m.defocus_v_A, m.defocus_angle_deg,
                        m.phase_shift_deg);
            fputc('\n', f);
        }
        base += gar_stack_count(stack);
    }
    return st;
}

/* The poses the stacks carry (a simulation's true ones, or an import's). */
static gar_status stack_poses(gar_inputs *in, gar_pose *poses)
{
    gar_status st;
    size_t base = 0;
    gar_particle m;
    for (size_t k = 0; k < gar_inputs_n_stacks(in); k++) {
        gar_stack *stack = gar_inputs_stack(in, k);
        for (size_t i = 0; i < gar_stack_count(stack); i++) {
            gar_pose *q = &poses[base + i];
            if ((st = gar_stack_read_meta(stack, i, 1, &m)) != GAR_OK)
                return st;
            q->rot_deg = m.rot_deg;
            q->tilt_deg = m.tilt_deg;
            q->psi_deg = m.psi_deg;
            q->origin_x_A = m.origin_x_A;
            q->origin_y_A = m.origin_y_A;
            q->half_set = m.half_set;
        }
        base += gar_stack_count(stack);
    }
    return GAR_OK;
}

gar_status gar_run_export(const gar_export_request *req)
{
    const char *const *stacks = req->stacks, *poses_path = req->poses, *star_path = req->star;
    const size_t n_stacks = req->n_stacks;
    const int overwrite = req->overwrite;
    gar_status st;
    gar_inputs *in = NULL;
    gar_pose *poses = NULL;
    gar_refine_state state = {0};
    gar_mrc_writer *w = NULL;
    float *images = NULL;
    FILE *f = NULL;
    gar_atomic star = {0};
    char mrcs[4096];
    const char *base;
    size_t len = strlen(star_path), n, box, batch = 256;
    if (len < 6 || strcmp(star_path + len - 5, ".star") != 0)
        return gar_error(GAR_ERR_USAGE, "--star %s: expected a file name ending in .star", star_path);
    snprintf(mrcs, sizeof mrcs, "%.*s.mrcs", (int)(len - 5), star_path);
    if ((st = gar_run_check_output_file("--star", star_path, overwrite)) != GAR_OK ||
        (st = gar_run_check_output_file("--star", mrcs, overwrite)) != GAR_OK)
        return st;
    if ((st = gar_inputs_open(stacks, n_stacks, &in)) != GAR_OK)
        return st;
    n = gar_inputs_count(in);
    box = gar_inputs_box(in);
    if ((st = gar_calloc((void **)&poses, n ? n : 1, sizeof *poses, "poses")) != GAR_OK ||
        (st = poses_path ? gar_poses_read(poses_path, poses, n, &state, NULL, NULL) : stack_poses(in, poses)) != GAR_OK ||
        (st = gar_alloc((void **)&images, batch, box * box * sizeof(float), "images")) != GAR_OK)
        goto done;
    /* The images, stack by stack, batch by batch. */
    if ((st = gar_mrc_writer_create(mrcs, box, box, n, gar_inputs_pixel_size(in), GAR_MRC_STACK, &w)) != GAR_OK)
        goto done;
    for (size_t k = 0; k < gar_inputs_n_stacks(in); k++) {
        gar_stack *stack = gar_inputs_stack(in, k);
        for (size_t first = 0; first < gar_stack_count(stack); first += batch) {
            size_t cnt = gar_stack_count(stack) - first < batch ? gar_stack_count(stack) - first : batch;
            if ((st = gar_stack_read_images(stack, first, cnt, images)) != GAR_OK ||
                (st = gar_mrc_writer_append(w, images, cnt)) != GAR_OK)
                goto done;
        }
    }
    /* The STAR file refers to the stack by its name, beside it. */
    base = strrchr(mrcs, '/') ? strrchr(mrcs, '/') + 1 : mrcs;
    if ((st = gar_atomic_begin(&star, star_path, 0)) != GAR_OK)
        goto done;
    if ((f = fopen(star.tmp, "w")) == NULL) {
        st = gar_error(GAR_ERR_OUTPUT, "%s: cannot create: %s", star.tmp, strerror(errno));
        goto done;
    }
    if ((st = write_star(f, in, poses, base, (gar_inputs_columns(in) & GAR_COL_CTF) != 0)) != GAR_OK)
        goto done;
    if (fclose(f) != 0) {
        f = NULL;
        st = gar_error(GAR_ERR_IO, "%s: write failed", star.tmp);
        goto done;
    }
    f = NULL;
    if ((st = gar_mrc_writer_commit(&w)) != GAR_OK)
        goto done;
    if (gar_atomic_commit(&star) != GAR_OK) {
        st = gar_error(GAR_ERR_OUTPUT, "cannot rename %s to %s: %s", star.tmp, star_path, strerror(errno));
        unlink(mrcs);
        goto done;
    }
    if (poses_path)
        gar_log_info("wrote %s and %s: %zu particles from iteration %llu of a refinement (%.2f Å)", star_path, mrcs,
                     n, (unsigned long long)state.iteration, state.resolution_A);
    else
        gar_log_info("wrote %s and %s: %zu particles with the stacks' own poses", star_path, mrcs, n);
done:
    if (f != NULL)
        fclose(f);
    if (st != GAR_OK)
        gar_atomic_abort(&star);
    gar_mrc_writer_abort(&w);
    free(images);
    free(poses);
    gar_inputs_close(&in);
    return st;
}

