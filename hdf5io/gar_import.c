#include "gar_import.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gar_inputs.h"
#include "gar_log.h"
#include "gar_mrc.h"
#include "gar_stack.h"
#include "gar_star.h"

#define IMPORT_BATCH 256

/* Column indices of the particles block (-1: absent). */
typedef struct star_columns {
    int image, rot, tilt, psi, ox_A, oy_A, ox_px, oy_px;
    int dfu, dfv, dfang, phase, subset, optics;
} star_columns;

static void find_columns(const gar_star_table *t, star_columns *c)
{
    c->image = gar_star_column(t, "rlnImageName");
    c->rot = gar_star_column(t, "rlnAngleRot");
    c->tilt = gar_star_column(t, "rlnAngleTilt");
    c->psi = gar_star_column(t, "rlnAnglePsi");
    c->ox_A = gar_star_column(t, "rlnOriginXAngst");
    c->oy_A = gar_star_column(t, "rlnOriginYAngst");
    c->ox_px = gar_star_column(t, "rlnOriginX");
    c->oy_px = gar_star_column(t, "rlnOriginY");
    c->dfu = gar_star_column(t, "rlnDefocusU");
    c->dfv = gar_star_column(t, "rlnDefocusV");
    c->dfang = gar_star_column(t, "rlnDefocusAngle");
    c->phase = gar_star_column(t, "rlnPhaseShift");
    c->subset = gar_star_column(t, "rlnRandomSubset");
    c->optics = gar_star_column(t, "rlnOpticsGroup");
}

typedef struct group_row {
    int32_t group;
    size_t row;
} group_row;

static int cmp_group_row(const void *a, const void *b)
{
    const group_row *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

/* A group number given twice would make the particles' optics ambiguous.
 * Sorted, so that a table of many groups costs n log n. */
static gar_status check_unique_groups(const gar_star *star, const gar_star_table *t,
                                      const gar_optics *optics, size_t n)
{
    group_row *ix = NULL;
    gar_status st;
    if (n < 2)
        return GAR_OK;
    if ((st = gar_alloc((void **)&ix, n, sizeof *ix, "optics group index")) != GAR_OK)
        return st;
    for (size_t i = 0; i < n; i++) {
        ix[i].group = optics[i].group;
        ix[i].row = i;
    }
    qsort(ix, n, sizeof *ix, cmp_group_row);
    for (size_t i = 1; i < n; i++)
        if (ix[i].group == ix[i - 1].group) {
            st = gar_error(GAR_ERR_DATA, "%s:%ld: rlnOpticsGroup %d appears twice in data_optics "
                           "(first at line %ld)", gar_star_path(star), gar_star_row_line(t, ix[i].row),
                           (int)ix[i].group, gar_star_row_line(t, ix[i - 1].row));
            break;
        }
    free(ix);
    return st;
}

static gar_status read_optics(const gar_star *star, gar_optics **out, size_t *n_out)
{
    const gar_star_table *t = gar_star_block(star, "optics");
    gar_optics *optics = NULL;
    gar_status st = GAR_OK;
    size_t n;
    int cg, cname, cpix, cvolt, ccs, cq, csize;
    *out = NULL;
    *n_out = 0;
    if (t == NULL)
        return gar_error(GAR_ERR_DATA,
                         "%s: no data_optics block (RELION 3.1 STAR expected; convert older "
                         "files with relion_convert_star)",
                         gar_star_path(star));
    n = gar_star_rows(t);
    if (n == 0)
        return gar_error(GAR_ERR_DATA, "%s: data_optics has no rows", gar_star_path(star));
    cg = gar_star_column(t, "rlnOpticsGroup");
    cname = gar_star_column(t, "rlnOpticsGroupName");
    cpix = gar_star_column(t, "rlnImagePixelSize");
    cvolt = gar_star_column(t, "rlnVoltage");
    ccs = gar_star_column(t, "rlnSphericalAberration");
    cq = gar_star_column(t, "rlnAmplitudeContrast");
    csize = gar_star_column(t, "rlnImageSize");
    {
        const char *missing = cg < 0 ? "rlnOpticsGroup" : cpix < 0 ? "rlnImagePixelSize"
                            : cvolt < 0 ? "rlnVoltage" : ccs < 0 ? "rlnSphericalAberration"
                            : cq < 0 ? "rlnAmplitudeContrast" : NULL;
        if (missing != NULL)
            return gar_error(GAR_ERR_DATA, "%s: data_optics: missing column _%s",
                             gar_star_path(star), missing);
    }
    st = gar_calloc((void **)&optics, n, sizeof *optics, "optics table");
    if (st != GAR_OK)
        return st;
    for (size_t r = 0; r < n; r++) {
        long group = 0, size = 0;
        gar_optics *o = &optics[r];
        if ((st = gar_star_cell_int(star, t, r, cg, &group)) != GAR_OK ||
            (st = gar_star_cell_double(star, t, r, cpix, &o->pixel_size_A)) != GAR_OK ||
            (st = gar_star_cell_double(star, t, r, cvolt, &o->voltage_kV)) != GAR_OK ||
            (st = gar_star_cell_double(star, t, r, ccs, &o->cs_mm)) != GAR_OK ||
            (st = gar_star_cell_double(star, t, r, cq, &o->amplitude_contrast)) != GAR_OK)
            goto fail;
        if (csize >= 0 && (st = gar_star_cell_int(star, t, r, csize, &size)) != GAR_OK)
            goto fail;
        if (group < 1 || group > INT32_MAX) {
            st = gar_error(GAR_ERR_DATA, "%s:%ld: rlnOpticsGroup %ld: expected a positive number",
                           gar_star_path(star), gar_star_row_line(t, r), group);
            goto fail;
        }
        if (!(o->pixel_size_A > 0)) {
            st = gar_error(GAR_ERR_DATA, "%s:%ld: rlnImagePixelSize %g: expected a positive size in Å",
                           gar_star_path(star), gar_star_row_line(t, r), o->pixel_size_A);
            goto fail;
        }
        /* The stack's rules (docs/FORMAT.md), checked here so that the
         * message names the STAR line rather than the stack being written. */
        if (fabs(o->pixel_size_A - optics[0].pixel_size_A) > 1e-6 * optics[0].pixel_size_A) {
            st = gar_error(GAR_ERR_DATA, "%s:%ld: rlnImagePixelSize %g Å differs from the first "
                           "optics group's %g Å; garner needs one pixel size per stack",
                           gar_star_path(star), gar_star_row_line(t, r), o->pixel_size_A,
                           optics[0].pixel_size_A);
            goto fail;
        }
        if (!(o->voltage_kV > 0)) {
            st = gar_error(GAR_ERR_DATA, "%s:%ld: rlnVoltage %g: expected a positive voltage in kV",
                           gar_star_path(star), gar_star_row_line(t, r), o->voltage_kV);
            goto fail;
        }
        if (!(o->amplitude_contrast >= 0 && o->amplitude_contrast < 1)) {
            st = gar_error(GAR_ERR_DATA, "%s:%ld: rlnAmplitudeContrast %g: expected 0 <= value < 1",
                           gar_star_path(star), gar_star_row_line(t, r), o->amplitude_contrast);
            goto fail;
        }
        if (csize >= 0 && (size < 1 || size > INT32_MAX)) {
            st = gar_error(GAR_ERR_DATA, "%s:%ld: rlnImageSize %ld: expected a positive size in pixels",
                           gar_star_path(star), gar_star_row_line(t, r), size);
            goto fail;
        }
        o->group = (int32_t)group;
        o->image_size = (int32_t)size;
        snprintf(o->name, sizeof o->name, "%s",
                 cname >= 0 ? gar_star_cell(t, r, cname) : "opticsGroup");
    }
    if ((st = check_unique_groups(star, t, optics, n)) != GAR_OK)
        goto fail;
    *out = optics;
    *n_out = n;
    return GAR_OK;
fail:
    free(optics);
    return st;
}

static const gar_optics *optics_find(const gar_optics *o, size_t n, long group)
{
    for (size_t i = 0; i < n; i++)
        if (o[i].group == group)
            return &o[i];
    return NULL;
}

/* One particle row into metadata. */
static gar_status read_row(const gar_star *star, const gar_star_table *t, const star_columns *c,
                           size_t r, const gar_optics *optics, size_t n_optics, gar_particle *p)
{
    gar_status st;
    long subset = 0, group = 1;
    memset(p, 0, sizeof *p);
#define CELL(col, dst)                                                                       \
    if ((col) >= 0 && (st = gar_star_cell_double(star, t, r, (col), (dst))) != GAR_OK)      \
        return st;
    CELL(c->rot, &p->rot_deg)
    CELL(c->tilt, &p->tilt_deg)
    CELL(c->psi, &p->psi_deg)
    CELL(c->dfu, &p->defocus_u_A)
    CELL(c->dfang, &p->defocus_angle_deg)
    CELL(c->phase, &p->phase_shift_deg)
    if (c->dfv >= 0) {
        CELL(c->dfv, &p->defocus_v_A)
    } else {
        p->defocus_v_A = p->defocus_u_A;
    }
    if (c->optics >= 0 && (st = gar_star_cell_int(star, t, r, c->optics, &group)) != GAR_OK)
        return st;
    const gar_optics *o = optics_find(optics, n_optics, group);
    if (o == NULL)
        return gar_error(GAR_ERR_DATA, "%s:%ld: rlnOpticsGroup %ld is not in data_optics",
                         gar_star_path(star), gar_star_row_line(t, r), group);
    p->optics_group = (int32_t)group;
    if (c->ox_A >= 0) {
        CELL(c->ox_A, &p->origin_x_A)
        CELL(c->oy_A, &p->origin_y_A)
    } else if (c->ox_px >= 0) {
        CELL(c->ox_px, &p->origin_x_A)
        CELL(c->oy_px, &p->origin_y_A)
        p->origin_x_A *= o->pixel_size_A;
        p->origin_y_A *= o->pixel_size_A;
    }
#undef CELL
    if (c->subset >= 0) {
        if ((st = gar_star_cell_int(star, t, r, c->subset, &subset)) != GAR_OK)
            return st;
        if (subset != 1 && subset != 2)
            return gar_error(GAR_ERR_DATA, "%s:%ld: rlnRandomSubset %ld: expected 1 or 2",
                             gar_star_path(star), gar_star_row_line(t, r), subset);
        p->half_set = (int32_t)subset;
    } else {
        p->half_set = (int32_t)(1 + r % 2);
    }
    if (c->dfu >= 0 && !(p->defocus_u_A > 0 && p->defocus_v_A > 0))
        return gar_error(GAR_ERR_DATA, "%s:%ld: defocus %g/%g Å: expected positive (underfocus) values",
                         gar_star_path(star), gar_star_row_line(t, r), p->defocus_u_A, p->defocus_v_A);
    return GAR_OK;
}

/* The particles block, the optics table and the column set of a STAR file,
 * checked: what every row is then read with. */
static gar_status plan_import(const gar_star *star, const gar_star_table **t_out, star_columns *c,
                              unsigned *columns_out, gar_optics **optics, size_t *n_optics)
{
    const char *star_path = gar_star_path(star);
    const gar_star_table *t = gar_star_block(star, "particles");
    unsigned columns = 0;
    gar_status st;

    *t_out = NULL;
    *columns_out = 0;
    *optics = NULL;
    *n_optics = 0;
    if (t == NULL)
        return gar_error(GAR_ERR_DATA, "%s: no data_particles block", star_path);
    if ((st = read_optics(star, optics, n_optics)) != GAR_OK)
        return st;
    find_columns(t, c);
    if (c->image < 0) {
        st = gar_error(GAR_ERR_DATA, "%s: data_particles: missing column _rlnImageName", star_path);
        goto fail;
    }
    if (gar_star_rows(t) == 0) {
        st = gar_error(GAR_ERR_DATA, "%s: data_particles has no rows", star_path);
        goto fail;
    }
    if ((c->rot >= 0) + (c->tilt >= 0) + (c->psi >= 0) == 3)
        columns |= GAR_COL_POSE;
    else if (c->rot >= 0 || c->tilt >= 0 || c->psi >= 0) {
        st = gar_error(GAR_ERR_DATA, "%s: data_particles has only some of _rlnAngleRot, "
                       "_rlnAngleTilt, _rlnAnglePsi", star_path);
        goto fail;
    }
    if ((c->ox_A >= 0) != (c->oy_A >= 0) || (c->ox_px >= 0) != (c->oy_px >= 0)) {
        st = gar_error(GAR_ERR_DATA, "%s: data_particles has an X origin column without its Y "
                       "partner (or the reverse)", star_path);
        goto fail;
    }
    if (c->ox_A >= 0 || c->ox_px >= 0)
        columns |= GAR_COL_ORIGIN;
    if (c->dfu >= 0)
        columns |= GAR_COL_CTF;
    if (c->phase >= 0)
        columns |= GAR_COL_PHASE_SHIFT;
    *t_out = t;
    *columns_out = columns;
    return GAR_OK;
fail:
    free(*optics);
    *optics = NULL;
    *n_optics = 0;
    return st;
}

/* Row r's image name as index and path; a refusal names the STAR file and
 * the row's line once ("p.star:31: image name '0@a.mrcs': ..."). */
static gar_status row_image(const gar_star *star, const gar_star_table *t, size_t r, int col,
                            size_t *index, char **path)
{
    const char *star_path = gar_star_path(star);
    gar_status st = gar_star_image_name(star, gar_star_cell(t, r, col), index, path);
    if (st != GAR_OK) {
        const char *msg = gar_errmsg();
        size_t n = strlen(star_path);
        char rest[1024];
        if (strncmp(msg, star_path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
            msg += n + 2;
        snprintf(rest, sizeof rest, "%s", msg);
        st = gar_error(st, "%s:%ld: %s", star_path, gar_star_row_line(t, r), rest);
    }
    return st;
}

/* Every row's values and image name, before any image is read: a bad row
 * near the end of a large file is found at once rather than after an hour of
 * copying images. */
static gar_status check_rows(const gar_star *star, const gar_star_table *t, const star_columns *c,
                             const gar_optics *optics, size_t n_optics)
{
    gar_status st = GAR_OK;
    char *img_path = NULL;
    for (size_t r = 0; r < gar_star_rows(t); r++) {
        gar_particle p;
        size_t index;
        if ((st = read_row(star, t, c, r, optics, n_optics, &p)) != GAR_OK)
            break;
        if ((st = row_image(star, t, r, c->image, &index, &img_path)) != GAR_OK)
            break;
        free(img_path);
        img_path = NULL;
    }
    return st;
}

gar_status gar_import_check_star(const gar_star *star, size_t *rows)
{
    const gar_star_table *t = NULL;
    star_columns c;
    unsigned columns = 0;
    gar_optics *optics = NULL;
    size_t n_optics = 0;
    gar_status st;

    if (rows != NULL)
        *rows = 0;
    if (star == NULL)
        return gar_error(GAR_ERR_INTERNAL, "gar_import_check_star: no STAR file");
    if ((st = plan_import(star, &t, &c, &columns, &optics, &n_optics)) == GAR_OK)
        st = check_rows(star, t, &c, optics, n_optics);
    if (st == GAR_OK && rows != NULL)
        *rows = gar_star_rows(t);
    free(optics);
    return st;
}

gar_status gar_import_star(const char *star_path, const char *out_path,
                           const gar_import_options *opt, gar_import_report *report)
{
    gar_status st = GAR_OK;
    gar_star *star = NULL;
    gar_optics *optics = NULL;
    size_t n_optics = 0, rows, box = 0, npix, nbatch = 0;
    const gar_star_table *t;
    star_columns c;
    unsigned columns = 0;
    gar_stack_writer *w = NULL;
    gar_mrc *mrc = NULL;
    char *mrc_path = NULL, *img_path = NULL;
    float *images = NULL;
    gar_particle *meta = NULL;
    gar_progress *progress = NULL;

    memset(report, 0, sizeof *report);
    if ((st = gar_star_read(star_path, &star)) != GAR_OK)
        goto done;
    if ((st = plan_import(star, &t, &c, &columns, &optics, &n_optics)) != GAR_OK ||
        (st = check_rows(star, t, &c, optics, n_optics)) != GAR_OK)
        goto done;
    rows = gar_star_rows(t);
    report->rows = rows;
    report->half_sets_assigned = c.subset < 0;

    /* The box comes from the first image file; every image must match it and
     * the optics table. */
    {
        size_t index;
        if ((st = row_image(star, t, 0, c.image, &index, &img_path)) != GAR_OK)
            goto done;
        if ((st = gar_mrc_open(img_path, &mrc)) != GAR_OK) {
            gar_error_context(st, "%s:%ld", star_path, gar_star_row_line(t, 0));
            goto done;
        }
        mrc_path = img_path;
        img_path = NULL;
        box = gar_mrc_nx(mrc);
        if (gar_mrc_ny(mrc) != box || box % 2 != 0) {
            st = gar_error(GAR_ERR_DATA, "%s: images are %zu x %zu: expected square images of even size",
                           mrc_path, gar_mrc_nx(mrc), gar_mrc_ny(mrc));
            goto done;
        }
    }
    for (size_t i = 0; i < n_optics; i++) {
        if (optics[i].image_size == 0)
            optics[i].image_size = (int32_t)box;
        if ((size_t)optics[i].image_size != box) {
            st = gar_error(GAR_ERR_DATA, "%s: optics group %d has rlnImageSize %d but %s holds %zu x %zu images",
                           star_path, optics[i].group, optics[i].image_size, mrc_path, box, box);
            goto done;
        }
    }
    npix = box * box;
    report->box = box;
    report->pixel_size_A = optics[0].pixel_size_A;
    if ((st = gar_alloc((void **)&images, IMPORT_BATCH, npix * sizeof(float), "import batch")) != GAR_OK ||
        (st = gar_alloc((void **)&meta, IMPORT_BATCH, sizeof *meta, "import metadata")) != GAR_OK)
        goto done;
    if ((st = gar_stack_writer_create(out_path, box, optics, n_optics, columns,
                                      opt->provenance ? opt->provenance : "garner import", &w)) != GAR_OK)
        goto done;
    if (opt->progress)
        progress = gar_progress_create("import", "particles", rows, 10.0);

    for (size_t r = 0; r < rows; r++) {
        size_t index;
        float *img = images + nbatch * npix;
        if ((st = read_row(star, t, &c, r, optics, n_optics, &meta[nbatch])) != GAR_OK)
            goto done;
        if ((st = row_image(star, t, r, c.image, &index, &img_path)) != GAR_OK)
            goto done;
        if (strcmp(img_path, mrc_path) != 0) {
            gar_mrc_close(&mrc);
            free(mrc_path);
            mrc_path = img_path;
            img_path = NULL;
            if ((st = gar_mrc_open(mrc_path, &mrc)) != GAR_OK) {
                gar_error_context(st, "%s:%ld", star_path, gar_star_row_line(t, r));
                goto done;
            }
            if (gar_mrc_nx(mrc) != box || gar_mrc_ny(mrc) != box) {
                st = gar_error(GAR_ERR_DATA, "%s: images are %zu x %zu, expected %zu x %zu like the "
                               "earlier files of %s", mrc_path, gar_mrc_nx(mrc), gar_mrc_ny(mrc),
                               box, box, star_path);
                goto done;
            }
        } else {
            free(img_path);
            img_path = NULL;
        }
        if (index >= gar_mrc_nz(mrc)) {
            st = gar_error(GAR_ERR_DATA, "%s:%ld: image %zu requested but %s holds %zu images",
                           star_path, gar_star_row_line(t, r), index + 1, mrc_path, gar_mrc_nz(mrc));
            goto done;
        }
        if ((st = gar_mrc_read_sections(mrc, index, 1, img)) != GAR_OK)
            goto done;
        if (!gar_image_is_finite(img, npix)) {
            if (!opt->skip_nonfinite) {
                st = gar_error(GAR_ERR_DATA, "%s: image %zu (%s:%ld) contains NaN or Inf pixels "
                               "(use --nonfinite skip to drop such particles)",
                               mrc_path, index + 1, star_path, gar_star_row_line(t, r));
                goto done;
            }
            report->skipped_nonfinite++;
            continue;
        }
        if (++nbatch == IMPORT_BATCH) {
            if ((st = gar_stack_writer_append(w, images, meta, nbatch)) != GAR_OK)
                goto done;
            report->written += nbatch;
            nbatch = 0;
        }
        gar_progress_update(progress, r + 1);
    }
    if (nbatch > 0) {
        if ((st = gar_stack_writer_append(w, images, meta, nbatch)) != GAR_OK)
            goto done;
        report->written += nbatch;
    }
    if (report->written == 0) {
        st = gar_error(GAR_ERR_DATA, "%s: no particle left to write (all %zu had non-finite pixels)",
                       star_path, rows);
        goto done;
    }
    st = gar_stack_writer_commit(&w);
done:
    if (progress != NULL && st == GAR_OK)
        gar_progress_finish(&progress);
    gar_progress_destroy(&progress);
    gar_stack_writer_abort(&w);
    gar_mrc_close(&mrc);
    free(mrc_path);
    free(img_path);
    free(images);
    free(meta);
    free(optics);
    gar_star_destroy(&star);
    return st;
}
