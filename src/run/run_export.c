/* garner export, the run: refined poses (or the stacks' own) with their
 * particles as a RELION 3.1 STAR file and/or a cryoSPARC .cs file, each with
 * an MRC stack beside it (the command line: src/cli/cmd_export.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <unistd.h>
#include "gar_atomic.h"
#include "gar_cs.h"
#include "gar_inputs.h"
#include "gar_log.h"
#include "gar_mrc.h"
#include "gar_poses.h"
#include "gar_run.h"
#include "gar_run_export.h"
#include "gar_stack.h"
#include "gar_stack_extra.h"

/* The labels export writes itself: a carried column of the same name (the
 * -999 psi of an autopick file) is left out. */
static int written_label(const char *label)
{
    static const char *const own[] = {
        "rlnOpticsGroup", "rlnOpticsGroupName", "rlnImagePixelSize", "rlnImageSize", "rlnImageDimensionality",
        "rlnVoltage", "rlnSphericalAberration", "rlnAmplitudeContrast", "rlnImageName", "rlnAngleRot",
        "rlnAngleTilt", "rlnAnglePsi", "rlnOriginXAngst", "rlnOriginYAngst", "rlnRandomSubset",
        "rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle", "rlnPhaseShift", "rlnOriginX", "rlnOriginY"};
    for (size_t i = 0; i < sizeof own / sizeof *own; i++)
        if (strcmp(label, own[i]) == 0)
            return 1;
    return 0;
}

/* The carried columns of every stack (gar_stack_extra.h), of the particles
 * or of the optics groups, used only when all stacks carry the same labels:
 * a column some rows lack cannot be written. Otherwise they are dropped with
 * a warning naming the stack. */
typedef struct carried_set {
    gar_stack_extra **x;   /* per stack; all NULL when dropped */
    size_t n;
} carried_set;

static void carried_close(carried_set *c)
{
    for (size_t i = 0; c->x != NULL && i < c->n; i++)
        gar_stack_extra_close(&c->x[i]);
    free(c->x);
    c->x = NULL;
}

static gar_status carried_open(gar_inputs *in, gar_extra_block block, carried_set *c)
{
    gar_status st;
    c->n = gar_inputs_n_stacks(in);
    if ((st = gar_calloc((void **)&c->x, c->n, sizeof *c->x, "carried columns")) != GAR_OK)
        return st;
    for (size_t k = 0; k < c->n; k++)
        if ((st = gar_stack_extra_open(gar_inputs_stack(in, k), block, &c->x[k])) != GAR_OK)
            return st;
    for (size_t k = 1; k < c->n; k++) {
        int same = gar_stack_extra_ncols(c->x[k]) == gar_stack_extra_ncols(c->x[0]);
        for (size_t j = 0; same && j < gar_stack_extra_ncols(c->x[0]); j++)
            same = strcmp(gar_stack_extra_label(c->x[k], j), gar_stack_extra_label(c->x[0], j)) == 0;
        if (!same) {
            gar_log_warn("%s and %s carry different source STAR columns of their %s: none are exported",
                         gar_stack_path(gar_inputs_stack(in, 0)), gar_stack_path(gar_inputs_stack(in, k)),
                         block == GAR_EXTRA_OPTICS ? "optics groups" : "particles");
            for (size_t i = 0; i < c->n; i++)
                gar_stack_extra_close(&c->x[i]);
            break;
        }
    }
    return GAR_OK;
}

#define CARRY_BATCH 4096

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

/* v as a STAR value, quoted as star_quote says; `what` names it in an error. */
static gar_status put_star_value(FILE *f, const char *v, const char *what)
{
    char q;
    gar_status st = star_quote(v, what, &q);
    if (st != GAR_OK)
        return st;
    if (q)
        fputc(q, f);
    fputs(v, f);
    if (q)
        fputc(q, f);
    return GAR_OK;
}

static gar_status write_star(FILE *f, gar_inputs *in, const gar_pose *poses, const char *mrcs_name, int ctf)
{
    gar_status st = GAR_OK;
    char what[512], image[4160], image_q;
    size_t n_optics, base = 0, ncol, kx = 0, okx = 0;
    /* The run-wide table: the union of the stacks' optics groups, each
     * particle's metadata read with its run-wide number (gar_inputs.h). */
    const gar_optics *optics = gar_inputs_optics(in, &n_optics);
    carried_set ox = {NULL, 0}, px = {NULL, 0};
    char **ocells = NULL, **cells = NULL;
    gar_particle m;

    /* Image names are NNNNNN@mrcs_name: they start with a digit, so what the
     * first needs every row needs. */
    snprintf(image, sizeof image, "%06d@%s", 1, mrcs_name);
    if ((st = star_quote(image, "--star: image name", &image_q)) != GAR_OK)
        return st;
    if ((st = carried_open(in, GAR_EXTRA_OPTICS, &ox)) != GAR_OK ||
        (st = carried_open(in, GAR_EXTRA_PARTICLES, &px)) != GAR_OK)
        goto done;
    fprintf(f, "\n# version 30001\n\ndata_optics\n\nloop_\n_rlnOpticsGroup #1\n_rlnOpticsGroupName #2\n"
               "_rlnImagePixelSize #3\n_rlnImageSize #4\n_rlnImageDimensionality #5\n_rlnVoltage #6\n"
               "_rlnSphericalAberration #7\n_rlnAmplitudeContrast #8\n");
    ncol = 8;
    okx = gar_stack_extra_ncols(ox.x[0]);
    for (size_t j = 0; j < okx; j++)
        if (!written_label(gar_stack_extra_label(ox.x[0], j)))
            fprintf(f, "_%s #%zu\n", gar_stack_extra_label(ox.x[0], j), ++ncol);
    if (okx > 0 && (st = gar_calloc((void **)&ocells, okx, sizeof *ocells, "optics columns")) != GAR_OK)
        goto done;
    for (size_t i = 0; i < n_optics; i++) {
        /* Each run-wide group as its first stack has it, carried columns
         * included; the numbers are the run-wide ones the particles name. */
        size_t sk, sj;
        gar_stack *src;
        gar_inputs_optics_source(in, i, &sk, &sj);
        src = gar_inputs_stack(in, sk);
        if (okx > 0 && (st = gar_stack_extra_read(ox.x[sk], sj, 1, ocells)) != GAR_OK)
            goto done;
        /* Names are written as they are, quoted where STAR needs it, so
         * that an import of the export gives them back (an empty one too). */
        snprintf(what, sizeof what, "%s: optics group %d: name", gar_stack_path(src), optics[i].group);
        fprintf(f, "%d ", optics[i].group);
        if ((st = put_star_value(f, optics[i].name, what)) != GAR_OK)
            goto done;
        if (star_needs_quotes(optics[i].name))
            gar_log_warn("%s: written quoted, as STAR needs; RELION 3.1 does not read quoted values (it "
                         "splits the name at the blank): rename the group for RELION 3.1", what);
        fprintf(f, " %.6f %zu 2 %.6f %.6f %.6f", optics[i].pixel_size_A, gar_inputs_box(in),
                optics[i].voltage_kV, optics[i].cs_mm, optics[i].amplitude_contrast);
        for (size_t j = 0; j < okx; j++)
            if (!written_label(gar_stack_extra_label(ox.x[0], j))) {
                snprintf(what, sizeof what, "%s: optics group %d: %s", gar_stack_path(src), optics[i].group,
                         gar_stack_extra_label(ox.x[0], j));
                fputc(' ', f);
                if ((st = put_star_value(f, ocells[j], what)) != GAR_OK)
                    goto done;
            }
        if (okx > 0)
            gar_stack_extra_free_cells(ocells, okx);
        fputc('\n', f);
    }
    fprintf(f, "\n\n# version 30001\n\ndata_particles\n\nloop_\n_rlnImageName #1\n_rlnAngleRot #2\n"
               "_rlnAngleTilt #3\n_rlnAnglePsi #4\n_rlnOriginXAngst #5\n_rlnOriginYAngst #6\n"
               "_rlnOpticsGroup #7\n_rlnRandomSubset #8\n");
    ncol = 8;
    if (ctf) {
        fprintf(f, "_rlnDefocusU #9\n_rlnDefocusV #10\n_rlnDefocusAngle #11\n_rlnPhaseShift #12\n");
        ncol = 12;
    }
    kx = gar_stack_extra_ncols(px.x[0]);
    for (size_t j = 0; j < kx; j++)
        if (!written_label(gar_stack_extra_label(px.x[0], j)))
            fprintf(f, "_%s #%zu\n", gar_stack_extra_label(px.x[0], j), ++ncol);
    if (kx > 0 && (st = gar_calloc((void **)&cells, (size_t)CARRY_BATCH * kx, sizeof *cells, "carried columns")) != GAR_OK)
        goto done;
    for (size_t k = 0; k < gar_inputs_n_stacks(in); k++) {
        gar_stack *stack = gar_inputs_stack(in, k);
        for (size_t i0 = 0; i0 < gar_stack_count(stack); i0 += CARRY_BATCH) {
            size_t cnt = gar_stack_count(stack) - i0 < CARRY_BATCH ? gar_stack_count(stack) - i0 : CARRY_BATCH;
            if (kx > 0 && (st = gar_stack_extra_read(px.x[k], i0, cnt, cells)) != GAR_OK)
                goto done;
            for (size_t i = i0; i < i0 + cnt; i++) {
                const gar_pose *q = &poses[base + i];
                if ((st = gar_inputs_read_meta(in, k, i, 1, &m)) != GAR_OK)
                    goto done;
                fprintf(f, "%.*s%06zu@%s%.*s %.6f %.6f %.6f %.6f %.6f %d %d", image_q != 0, &image_q,
                        base + i + 1, mrcs_name, image_q != 0, &image_q, q->rot_deg, q->tilt_deg, q->psi_deg,
                        q->origin_x_A, q->origin_y_A, m.optics_group, q->half_set);
                if (ctf)
                    fprintf(f, " %.6f %.6f %.6f %.6f", m.defocus_u_A, m.defocus_v_A, m.defocus_angle_deg,
                            m.phase_shift_deg);
                for (size_t j = 0; j < kx; j++)
                    if (!written_label(gar_stack_extra_label(px.x[0], j))) {
                        snprintf(what, sizeof what, "%s: particle %zu: %s", gar_stack_path(stack), i,
                                 gar_stack_extra_label(px.x[0], j));
                        fputc(' ', f);
                        if ((st = put_star_value(f, cells[(i - i0) * kx + j], what)) != GAR_OK)
                            goto done;
                    }
                fputc('\n', f);
            }
            gar_stack_extra_free_cells(cells, cnt * kx);
        }
        base += gar_stack_count(stack);
    }
done:
    if (cells != NULL)
        gar_stack_extra_free_cells(cells, (size_t)CARRY_BATCH * kx);
    free(cells);
    if (ocells != NULL)
        gar_stack_extra_free_cells(ocells, okx);
    free(ocells);
    carried_close(&ox);
    carried_close(&px);
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
            if ((st = gar_inputs_read_meta(in, k, i, 1, &m)) != GAR_OK)
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

/* Every particle's metadata with the pose, origin and half set of `poses`:
 * what the .cs file is written from. */
static gar_status particles_with_poses(gar_inputs *in, const gar_pose *poses, gar_particle *out)
{
    gar_status st;
    size_t base = 0;
    for (size_t k = 0; k < gar_inputs_n_stacks(in); k++) {
        gar_stack *stack = gar_inputs_stack(in, k);
        for (size_t i = 0; i < gar_stack_count(stack); i++) {
            gar_particle *m = &out[base + i];
            const gar_pose *q = &poses[base + i];
            if ((st = gar_inputs_read_meta(in, k, i, 1, m)) != GAR_OK)
                return st;
            m->rot_deg = q->rot_deg;
            m->tilt_deg = q->tilt_deg;
            m->psi_deg = q->psi_deg;
            m->origin_x_A = q->origin_x_A;
            m->origin_y_A = q->origin_y_A;
            m->half_set = q->half_set;
        }
        base += gar_stack_count(stack);
    }
    return GAR_OK;
}

/* "DIR/NAME.ext" -> "DIR/NAME.mrcs"; the option's value must end in `ext`. */
static gar_status mrcs_beside(const char *opt, const char *path, const char *ext, char *out, size_t cap)
{
    size_t len = strlen(path), el = strlen(ext);
    if (len <= el || strcmp(path + len - el, ext) != 0)
        return gar_error(GAR_ERR_USAGE, "%s %s: expected a file name ending in %s", opt, path, ext);
    if ((size_t)snprintf(out, cap, "%.*s.mrcs", (int)(len - el), path) >= cap)
        return gar_error(GAR_ERR_USAGE, "%s %s: name too long", opt, path);
    return GAR_OK;
}

/* The images of every stack, in order, into an MRC stack (left uncommitted:
 * the caller commits it with the metadata that names it). */
static gar_status write_images(gar_inputs *in, const char *mrcs, float *images, size_t batch, gar_mrc_writer **w)
{
    gar_status st;
    size_t box = gar_inputs_box(in);
    if ((st = gar_mrc_writer_create(mrcs, box, box, gar_inputs_count(in), gar_inputs_pixel_size(in), GAR_MRC_STACK,
                                     w)) != GAR_OK)
        return st;
    for (size_t k = 0; k < gar_inputs_n_stacks(in); k++) {
        gar_stack *stack = gar_inputs_stack(in, k);
        for (size_t first = 0; first < gar_stack_count(stack); first += batch) {
            size_t cnt = gar_stack_count(stack) - first < batch ? gar_stack_count(stack) - first : batch;
            if ((st = gar_stack_read_images(stack, first, cnt, images)) != GAR_OK ||
                (st = gar_mrc_writer_append(*w, images, cnt)) != GAR_OK)
                return st;
        }
    }
    return GAR_OK;
}

static const char *base_name(const char *path)
{
    return strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
}

gar_status gar_run_export(const gar_export_request *req)
{
    const char *const *stacks = req->stacks, *poses_path = req->poses, *star_path = req->star;
    const char *cs_path = req->cs;
    const size_t n_stacks = req->n_stacks;
    const int overwrite = req->overwrite;
    gar_status st;
    gar_inputs *in = NULL;
    gar_pose *poses = NULL;
    gar_particle *parts = NULL;
    gar_refine_state state = {0};
    gar_mrc_writer *w = NULL, *wc = NULL;
    float *images = NULL;
    FILE *f = NULL;
    gar_atomic star = {0}, cs = {0};
    char mrcs[4096] = "", cs_mrcs[4096] = "";
    int shared = 0; /* the STAR file and the .cs name one MRC stack */
    size_t n, box, batch = 256;
    if (star_path == NULL && cs_path == NULL)
        return gar_error(GAR_ERR_USAGE, "export: --star or --cs is required");
    if (star_path != NULL &&
        ((st = mrcs_beside("--star", star_path, ".star", mrcs, sizeof mrcs)) != GAR_OK ||
         (st = gar_run_check_output_file("--star", star_path, overwrite)) != GAR_OK ||
         (st = gar_run_check_output_file("--star", mrcs, overwrite)) != GAR_OK))
        return st;
    if (cs_path != NULL) {
        if ((st = mrcs_beside("--cs", cs_path, ".cs", cs_mrcs, sizeof cs_mrcs)) != GAR_OK ||
            (st = gar_run_check_output_file("--cs", cs_path, overwrite)) != GAR_OK)
            return st;
        shared = star_path != NULL && strcmp(mrcs, cs_mrcs) == 0;
        if (!shared && (st = gar_run_check_output_file("--cs", cs_mrcs, overwrite)) != GAR_OK)
            return st;
    }
    if ((st = gar_inputs_open(stacks, n_stacks, &in)) != GAR_OK)
        return st;
    n = gar_inputs_count(in);
    box = gar_inputs_box(in);
    if ((st = gar_calloc((void **)&poses, n ? n : 1, sizeof *poses, "poses")) != GAR_OK ||
        (st = poses_path ? gar_poses_read(poses_path, poses, n, &state, NULL, NULL) : stack_poses(in, poses)) != GAR_OK ||
        (st = gar_alloc((void **)&images, batch, box * box * sizeof(float), "images")) != GAR_OK)
        goto done;
    /* The images, stack by stack, batch by batch; once when both files
     * name the same MRC stack. */
    if (star_path != NULL && (st = write_images(in, mrcs, images, batch, &w)) != GAR_OK)
        goto done;
    if (cs_path != NULL && !shared && (st = write_images(in, cs_mrcs, images, batch, &wc)) != GAR_OK)
        goto done;
    if (star_path != NULL) {
        /* The STAR file refers to the stack by its name, beside it. */
        if ((st = gar_atomic_begin(&star, star_path, 0)) != GAR_OK)
            goto done;
        if ((f = fopen(star.tmp, "w")) == NULL) {
            st = gar_error(GAR_ERR_OUTPUT, "%s: cannot create: %s", star.tmp, strerror(errno));
            goto done;
        }
        if ((st = write_star(f, in, poses, base_name(mrcs), (gar_inputs_columns(in) & GAR_COL_CTF) != 0)) != GAR_OK)
            goto done;
        if (fclose(f) != 0) {
            f = NULL;
            st = gar_error(GAR_ERR_IO, "%s: write failed", star.tmp);
            goto done;
        }
        f = NULL;
    }
    if (cs_path != NULL) {
        /* blob/path is the stack's name alone: relative to the .cs file's
         * folder, which garner import --cs searches (docs/FORMAT.md says
         * where to put both for cryoSPARC). */
        size_t n_optics;
        const gar_optics *optics = gar_inputs_optics(in, &n_optics);
        uint64_t seed = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
        if ((st = gar_alloc((void **)&parts, n ? n : 1, sizeof *parts, "export particles")) != GAR_OK ||
            (st = particles_with_poses(in, poses, parts)) != GAR_OK ||
            (st = gar_atomic_begin(&cs, cs_path, 0)) != GAR_OK ||
            (st = gar_cs_write(cs.tmp, base_name(cs_mrcs), box, optics, n_optics, parts, n,
                               (gar_inputs_columns(in) & GAR_COL_CTF) != 0, seed)) != GAR_OK)
            goto done;
    }
    if ((w != NULL && (st = gar_mrc_writer_commit(&w)) != GAR_OK) ||
        (wc != NULL && (st = gar_mrc_writer_commit(&wc)) != GAR_OK))
        goto done;
    if (star_path != NULL && gar_atomic_commit(&star) != GAR_OK) {
        st = gar_error(GAR_ERR_OUTPUT, "cannot rename %s to %s: %s", star.tmp, star_path, strerror(errno));
        unlink(mrcs);
        goto done;
    }
    if (cs_path != NULL && gar_atomic_commit(&cs) != GAR_OK) {
        st = gar_error(GAR_ERR_OUTPUT, "cannot rename %s to %s: %s", cs.tmp, cs_path, strerror(errno));
        unlink(cs_mrcs);
        goto done;
    }
    for (int k = 0; k < 2; k++) {
        const char *meta = k == 0 ? star_path : cs_path, *stack = k == 0 ? mrcs : cs_mrcs;
        if (meta == NULL)
            continue;
        if (poses_path)
            gar_log_info("wrote %s and %s: %zu particles from iteration %llu of a refinement (%.2f Å)", meta, stack,
                         n, (unsigned long long)state.iteration, state.resolution_A);
        else
            gar_log_info("wrote %s and %s: %zu particles with the stacks' own poses", meta, stack, n);
    }
done:
    if (f != NULL)
        fclose(f);
    if (st != GAR_OK) {
        gar_atomic_abort(&star);
        gar_atomic_abort(&cs);
    }
    gar_mrc_writer_abort(&w);
    gar_mrc_writer_abort(&wc);
    free(parts);
    free(images);
    free(poses);
    gar_inputs_close(&in);
    return st;
}
