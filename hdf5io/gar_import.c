#include "gar_import.h"

#include <math.h>
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
        o->group = (int32_t)group;
        o->image_size = (int32_t)size;
        snprintf(o->name, sizeof o->name, "%s",
                 cname >= 0 ? gar_star_cell(t, r, cname) : "opticsGroup");
    }
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
    t = gar_star_block(star, "particles");
    if (t == NULL) {
        st = gar_error(GAR_ERR_DATA, "%s: no data_particles block", star_path);
        goto done;
    }
    if ((st = read_optics(star, &optics, &n_optics)) != GAR_OK)
        goto done;
    find_columns(t, &c);
    rows = gar_star_rows(t);
    if (c.image < 0) {
        st = gar_error(GAR_ERR_DATA, "%s: data_particles: missing column _rlnImageName", star_path);
        goto done;
    }
    if (rows == 0) {
        st = gar_error(GAR_ERR_DATA, "%s: data_particles has no rows", star_path);
        goto done;
    }
    if ((c.rot >= 0) + (c.tilt >= 0) + (c.psi >= 0) == 3)
        columns |= GAR_COL_POSE;
    else if (c.rot >= 0 || c.tilt >= 0 || c.psi >= 0) {
        st = gar_error(GAR_ERR_DATA, "%s: data_particles has only some of _rlnAngleRot, "
                       "_rlnAngleTilt, _rlnAnglePsi", star_path);
        goto done;
    }
    if ((c.ox_A >= 0) != (c.oy_A >= 0) || (c.ox_px >= 0) != (c.oy_px >= 0)) {
        st = gar_error(GAR_ERR_DATA, "%s: data_particles has an X origin column without its Y "
                       "partner (or the reverse)", star_path);
        goto done;
    }
    if (c.ox_A >= 0 || c.ox_px >= 0)
        columns |= GAR_COL_ORIGIN;
    if (c.dfu >= 0)
        columns |= GAR_COL_CTF;
    if (c.phase >= 0)
        columns |= GAR_COL_PHASE_SHIFT;
    report->rows = rows;
    report->half_sets_assigned = c.subset < 0;

    /* The box comes from the first image file; every image must match it and
     * the optics table. */
    {
        size_t index;
        if ((st = gar_star_image_name(star, gar_star_cell(t, 0, c.image), &index, &img_path)) != GAR_OK)
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
        if ((st = gar_star_image_name(star, gar_star_cell(t, r, c.image), &index, &img_path)) != GAR_OK) {
            gar_error_context(st, "%s:%ld", star_path, gar_star_row_line(t, r));
            goto done;
        }
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
