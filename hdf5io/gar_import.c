#include "gar_import.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gar_inputs.h"
#include "gar_log.h"
#include "gar_mrc.h"
#include "gar_resample.h"
#include "gar_stack.h"
#include "gar_stack_extra.h"
#include "gar_star.h"

#define IMPORT_BATCH 256
/* RELION's marker for an angle not known (autopicking writes rlnAnglePsi -999). */
#define RELION_UNKNOWN_ANGLE (-999.0)

/* Column indices of the particles block (-1: absent). */
typedef struct star_columns {
    int image, rot, tilt, psi, ox_A, oy_A, ox_px, oy_px;
    int dfu, dfv, dfang, phase, subset, optics;
    /* RELION 3.0 keeps the optics in every particle row. */
    int volt, cs, q, pix, det_px, mag;
    /* Refused when they say so: CTF-premultiplied images, 3D particles. */
    int premult, dim;
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
    c->volt = gar_star_column(t, "rlnVoltage");
    c->cs = gar_star_column(t, "rlnSphericalAberration");
    c->q = gar_star_column(t, "rlnAmplitudeContrast");
    c->pix = gar_star_column(t, "rlnImagePixelSize");
    c->det_px = gar_star_column(t, "rlnDetectorPixelSize");
    c->mag = gar_star_column(t, "rlnMagnification");
    c->premult = gar_star_column(t, "rlnCtfDataAreCtfPremultiplied");
    c->dim = gar_star_column(t, "rlnImageDimensionality");
}

/* What every row is read with, decided once from the file's blocks and
 * columns (plan_import). */
typedef struct import_plan {
    const gar_star *star;
    const gar_star_table *t;   /* the particles */
    star_columns c;
    unsigned columns;          /* GAR_COL_* */
    int relion30;              /* no data_optics: optics per particle row */
    gar_optics *optics;        /* pixel sizes already the common one */
    size_t n_optics;
    double *source_A;          /* per optics entry: its images' own pixel size */
    int32_t *row_group;        /* RELION 3.0: each row's optics group; else NULL */
    int verbose;               /* notes on stderr */
} import_plan;

static void plan_free(import_plan *p)
{
    free(p->optics);
    free(p->source_A);
    free(p->row_group);
    p->optics = NULL;
    p->source_A = NULL;
    p->row_group = NULL;
    p->n_optics = 0;
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

/* A column of the optics table (or, for RELION 3.0, of a particle row) that
 * garner refuses to misread: images multiplied by their CTF (the CTF would be
 * applied twice) and 3D particles (subtomograms; each would become its first
 * z-slice). */
static gar_status check_refused_columns(const gar_star *star, const gar_star_table *t, size_t r,
                                        int premult, int dim)
{
    gar_status st;
    long v;
    if (premult >= 0) {
        if ((st = gar_star_cell_int(star, t, r, premult, &v)) != GAR_OK)
            return st;
        if (v != 0)
            return gar_error(GAR_ERR_DATA, "%s:%ld: rlnCtfDataAreCtfPremultiplied %ld: the images are "
                             "multiplied by their CTF, which garner would apply a second time; "
                             "re-extract them without CTF premultiplication",
                             gar_star_path(star), gar_star_row_line(t, r), v);
    }
    if (dim >= 0) {
        if ((st = gar_star_cell_int(star, t, r, dim, &v)) != GAR_OK)
            return st;
        if (v == 3)
            return gar_error(GAR_ERR_DATA, "%s:%ld: rlnImageDimensionality 3: 3D particles "
                             "(subtomograms) are not supported; garner reconstructs from 2D images",
                             gar_star_path(star), gar_star_row_line(t, r));
        if (v != 2)
            return gar_error(GAR_ERR_DATA, "%s:%ld: rlnImageDimensionality %ld: expected 2",
                             gar_star_path(star), gar_star_row_line(t, r), v);
    }
    return GAR_OK;
}

/* The checks of one optics entry, on the STAR line `line`. */
static gar_status check_optics_values(const gar_star *star, long line, const gar_optics *o)
{
    if (!(o->pixel_size_A > 0))
        return gar_error(GAR_ERR_DATA, "%s:%ld: pixel size %g: expected a positive size in Å",
                         gar_star_path(star), line, o->pixel_size_A);
    if (!(o->voltage_kV > 0))
        return gar_error(GAR_ERR_DATA, "%s:%ld: rlnVoltage %g: expected a positive voltage in kV",
                         gar_star_path(star), line, o->voltage_kV);
    if (!(o->amplitude_contrast >= 0 && o->amplitude_contrast < 1))
        return gar_error(GAR_ERR_DATA, "%s:%ld: rlnAmplitudeContrast %g: expected 0 <= value < 1",
                         gar_star_path(star), line, o->amplitude_contrast);
    return GAR_OK;
}

static void note_no_amplitude_contrast(const import_plan *p)
{
    if (p->verbose)
        gar_log_info("note: %s has no rlnAmplitudeContrast; using 0, as RELION does "
                     "(cryo-EM data usually have 0.07-0.1)", gar_star_path(p->star));
}

/* RELION 3.1 and later: the data_optics block. */
static gar_status read_optics_block(import_plan *p, const gar_star_table *t)
{
    const gar_star *star = p->star;
    gar_optics *optics = NULL;
    gar_status st = GAR_OK;
    size_t n;
    int cg, cname, cpix, cvolt, ccs, cq, csize, cpremult, cdim;

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
    cpremult = gar_star_column(t, "rlnCtfDataAreCtfPremultiplied");
    cdim = gar_star_column(t, "rlnImageDimensionality");
    {
        const char *missing = cg < 0 ? "rlnOpticsGroup" : cpix < 0 ? "rlnImagePixelSize"
                            : cvolt < 0 ? "rlnVoltage" : ccs < 0 ? "rlnSphericalAberration" : NULL;
        if (missing != NULL)
            return gar_error(GAR_ERR_DATA, "%s: data_optics: missing column _%s",
                             gar_star_path(star), missing);
    }
    if (cq < 0)
        note_no_amplitude_contrast(p);
    st = gar_calloc((void **)&optics, n, sizeof *optics, "optics table");
    if (st != GAR_OK)
        return st;
    for (size_t r = 0; r < n; r++) {
        long group = 0, size = 0;
        gar_optics *o = &optics[r];
        if ((st = check_refused_columns(star, t, r, cpremult, cdim)) != GAR_OK)
            goto fail;
        if ((st = gar_star_cell_int(star, t, r, cg, &group)) != GAR_OK ||
            (st = gar_star_cell_double(star, t, r, cpix, &o->pixel_size_A)) != GAR_OK ||
            (st = gar_star_cell_double(star, t, r, cvolt, &o->voltage_kV)) != GAR_OK ||
            (st = gar_star_cell_double(star, t, r, ccs, &o->cs_mm)) != GAR_OK)
            goto fail;
        if (cq >= 0 && (st = gar_star_cell_double(star, t, r, cq, &o->amplitude_contrast)) != GAR_OK)
            goto fail;
        if (csize >= 0 && (st = gar_star_cell_int(star, t, r, csize, &size)) != GAR_OK)
            goto fail;
        if (group < 1 || group > INT32_MAX) {
            st = gar_error(GAR_ERR_DATA, "%s:%ld: rlnOpticsGroup %ld: expected a positive number",
                           gar_star_path(star), gar_star_row_line(t, r), group);
            goto fail;
        }
        if ((st = check_optics_values(star, gar_star_row_line(t, r), o)) != GAR_OK)
            goto fail;
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
    p->optics = optics;
    p->n_optics = n;
    return GAR_OK;
fail:
    free(optics);
    return st;
}

/* One RELION 3.0 particle row's optics: voltage, Cs, amplitude contrast and
 * the pixel size (rlnImagePixelSize, or rlnDetectorPixelSize in µm times 10⁴
 * over rlnMagnification, as RELION 3.0 computes it). */
static gar_status read_row_optics30(const import_plan *p, size_t r, gar_optics *o)
{
    const gar_star *star = p->star;
    const gar_star_table *t = p->t;
    const star_columns *c = &p->c;
    gar_status st;
    memset(o, 0, sizeof *o);
    if ((st = gar_star_cell_double(star, t, r, c->volt, &o->voltage_kV)) != GAR_OK ||
        (st = gar_star_cell_double(star, t, r, c->cs, &o->cs_mm)) != GAR_OK)
        return st;
    if (c->q >= 0 && (st = gar_star_cell_double(star, t, r, c->q, &o->amplitude_contrast)) != GAR_OK)
        return st;
    if (c->pix >= 0) {
        if ((st = gar_star_cell_double(star, t, r, c->pix, &o->pixel_size_A)) != GAR_OK)
            return st;
    } else {
        double det_um, mag;
        if ((st = gar_star_cell_double(star, t, r, c->det_px, &det_um)) != GAR_OK ||
            (st = gar_star_cell_double(star, t, r, c->mag, &mag)) != GAR_OK)
            return st;
        if (!(det_um > 0) || !(mag > 0))
            return gar_error(GAR_ERR_DATA, "%s:%ld: rlnDetectorPixelSize %g µm, rlnMagnification %g: "
                             "expected positive values", gar_star_path(star), gar_star_row_line(t, r),
                             det_um, mag);
        o->pixel_size_A = det_um * 1e4 / mag;
    }
    if ((st = check_refused_columns(star, t, r, c->premult, c->dim)) != GAR_OK)
        return st;
    return check_optics_values(star, gar_star_row_line(t, r), o);
}

static int same_optics(const gar_optics *a, const gar_optics *b)
{
    return a->pixel_size_A == b->pixel_size_A && a->voltage_kV == b->voltage_kV &&
           a->cs_mm == b->cs_mm && a->amplitude_contrast == b->amplitude_contrast;
}

/* RELION 3.0 (no data_optics): the optics table is made of the distinct
 * (voltage, Cs, amplitude contrast, pixel size) of the rows, numbered in the
 * order they first appear, as relion_convert_star groups them. */
static gar_status derive_optics30(import_plan *p)
{
    const gar_star *star = p->star;
    const star_columns *c = &p->c;
    size_t rows = gar_star_rows(p->t), n = 0, cap = 0, last = 0;
    gar_optics *optics = NULL;
    gar_status st;

    {
        const char *missing = c->volt < 0 ? "rlnVoltage" : c->cs < 0 ? "rlnSphericalAberration"
                            : c->pix < 0 && c->det_px < 0 ? "rlnDetectorPixelSize"
                            : c->pix < 0 && c->mag < 0 ? "rlnMagnification" : NULL;
        if (missing != NULL)
            return gar_error(GAR_ERR_DATA, "%s: no data_optics block, and the particles (RELION 3.0 "
                             "style) have no _%s column: expected the optics either in data_optics "
                             "or in every particle row", gar_star_path(star), missing);
    }
    if (c->q < 0)
        note_no_amplitude_contrast(p);
    if ((st = gar_alloc((void **)&p->row_group, rows, sizeof *p->row_group, "optics group per row")) != GAR_OK)
        return st;
    for (size_t r = 0; r < rows; r++) {
        gar_optics o;
        size_t g;
        if ((st = read_row_optics30(p, r, &o)) != GAR_OK)
            goto fail;
        /* Rows come in runs of one group: try the previous row's first. */
        if (n > 0 && same_optics(&o, &optics[last]))
            g = last;
        else {
            for (g = 0; g < n && !same_optics(&o, &optics[g]); g++)
                ;
            if (g == n) {
                if (n == GAR_STACK_MAX_OPTICS) {
                    st = gar_error(GAR_ERR_DATA, "%s: more than %d distinct optics in the particle rows",
                                   gar_star_path(star), GAR_STACK_MAX_OPTICS);
                    goto fail;
                }
                if (n == cap) {
                    size_t ncap = cap ? 2 * cap : 8;
                    gar_optics *q = realloc(optics, ncap * sizeof *q);
                    if (q == NULL) {
                        st = gar_error(GAR_ERR_NOMEM, "optics table: out of memory");
                        goto fail;
                    }
                    optics = q;
                    cap = ncap;
                }
                optics[n] = o;
                optics[n].group = (int32_t)(n + 1);
                snprintf(optics[n].name, sizeof optics[n].name, "opticsGroup%zu", n + 1);
                n++;
            }
        }
        last = g;
        p->row_group[r] = optics[g].group;
    }
    p->optics = optics;
    p->n_optics = n;
    if (p->verbose)
        gar_log_info("note: %s is a RELION 3.0 file (no data_optics): %zu optics group%s made from "
                     "the particles' voltage, Cs, amplitude contrast and pixel size",
                     gar_star_path(star), n, n == 1 ? "" : "s");
    return GAR_OK;
fail:
    free(optics);
    free(p->row_group);
    p->row_group = NULL;
    return st;
}

/* Optics groups recorded at slightly different pixel sizes (merged datasets)
 * are brought to the first group's: their images are resampled at import
 * (gar_resample.h). Beyond GAR_IMPORT_PIXEL_TOLERANCE the difference is a
 * different magnification, not calibration scatter, and is refused. */
static gar_status unify_pixel_sizes(import_plan *p)
{
    const double p0 = p->optics[0].pixel_size_A;
    gar_status st;
    if ((st = gar_alloc((void **)&p->source_A, p->n_optics, sizeof *p->source_A, "pixel sizes")) != GAR_OK)
        return st;
    for (size_t i = 0; i < p->n_optics; i++) {
        gar_optics *o = &p->optics[i];
        const double rel = fabs(o->pixel_size_A - p0) / p0;
        p->source_A[i] = o->pixel_size_A;
        if (rel <= 1e-6)
            continue;
        if (rel > GAR_IMPORT_PIXEL_TOLERANCE)
            return gar_error(GAR_ERR_DATA, "%s: optics group %d (%s) has %g Å pixels and group %d "
                             "(%s) %g Å: %.2g %% apart, more than the %g %% garner rescales; "
                             "import them as separate stacks or rescale them in RELION first",
                             gar_star_path(p->star), (int)o->group, o->name, o->pixel_size_A,
                             (int)p->optics[0].group, p->optics[0].name, p0, 100.0 * rel,
                             100.0 * GAR_IMPORT_PIXEL_TOLERANCE);
        if (p->verbose)
            gar_log_info("note: optics group %d (%s): images at %.5g Å/px are resampled to %.5g Å/px, "
                         "the first group's", (int)o->group, o->name, o->pixel_size_A, p0);
        o->pixel_size_A = p0;
    }
    return GAR_OK;
}

static const gar_optics *optics_find(const gar_optics *o, size_t n, long group, size_t *index)
{
    for (size_t i = 0; i < n; i++)
        if (o[i].group == group) {
            *index = i;
            return &o[i];
        }
    return NULL;
}

/* One particle row into metadata; *gi gets the index of its optics entry. */
static gar_status read_row(const import_plan *pl, size_t r, gar_particle *p, size_t *gi)
{
    const gar_star *star = pl->star;
    const gar_star_table *t = pl->t;
    const star_columns *c = &pl->c;
    gar_status st;
    long subset = 0, group = 1;
    memset(p, 0, sizeof *p);
#define CELL(col, dst)                                                                       \
    if ((col) >= 0 && (st = gar_star_cell_double(star, t, r, (col), (dst))) != GAR_OK)      \
        return st;
    if (pl->columns & GAR_COL_POSE) {
        CELL(c->rot, &p->rot_deg)
        CELL(c->tilt, &p->tilt_deg)
        CELL(c->psi, &p->psi_deg)
    }
    CELL(c->dfu, &p->defocus_u_A)
    CELL(c->dfang, &p->defocus_angle_deg)
    CELL(c->phase, &p->phase_shift_deg)
    if (c->dfv >= 0) {
        CELL(c->dfv, &p->defocus_v_A)
    } else {
        p->defocus_v_A = p->defocus_u_A;
    }
    if (pl->row_group != NULL)
        group = pl->row_group[r];
    else if (c->optics >= 0 && (st = gar_star_cell_int(star, t, r, c->optics, &group)) != GAR_OK)
        return st;
    if (optics_find(pl->optics, pl->n_optics, group, gi) == NULL)
        return gar_error(GAR_ERR_DATA, "%s:%ld: rlnOpticsGroup %ld is not in data_optics",
                         gar_star_path(star), gar_star_row_line(t, r), group);
    p->optics_group = (int32_t)group;
    if (c->ox_A >= 0) {
        CELL(c->ox_A, &p->origin_x_A)
        CELL(c->oy_A, &p->origin_y_A)
    } else if (c->ox_px >= 0) {
        /* Pixels of the images as recorded (RELION 3.0 and older). */
        CELL(c->ox_px, &p->origin_x_A)
        CELL(c->oy_px, &p->origin_y_A)
        p->origin_x_A *= pl->source_A[*gi];
        p->origin_y_A *= pl->source_A[*gi];
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

/* Poses are imported when the three angles are there and known. An Extract
 * or autopick file has rlnAnglePsi alone, or -999 ("unknown") in every row:
 * such a file imports without poses (garner refine needs none). */
static gar_status plan_poses(import_plan *p)
{
    const gar_star *star = p->star;
    const gar_star_table *t = p->t;
    star_columns *c = &p->c;
    const int present = (c->rot >= 0) + (c->tilt >= 0) + (c->psi >= 0);
    size_t unknown = 0, first_unknown = 0, first_known = 0, rows = gar_star_rows(t);
    int any_known = 0;
    if (present == 0)
        return GAR_OK;
    if (present < 3) {
        if (p->verbose)
            gar_log_info("note: %s has only %s%s%sof the three angles: imported without poses",
                         gar_star_path(star), c->rot >= 0 ? "rlnAngleRot " : "",
                         c->tilt >= 0 ? "rlnAngleTilt " : "", c->psi >= 0 ? "rlnAnglePsi " : "");
        return GAR_OK;
    }
    for (size_t r = 0; r < rows; r++) {
        double v[3];
        int k, u = 0;
        const int col[3] = {c->rot, c->tilt, c->psi};
        for (k = 0; k < 3; k++) {
            gar_status st = gar_star_cell_double(star, t, r, col[k], &v[k]);
            if (st != GAR_OK)
                return st;
            u |= v[k] == RELION_UNKNOWN_ANGLE;
        }
        if (u && unknown++ == 0)
            first_unknown = r;
        if (!u && !any_known) {
            any_known = 1;
            first_known = r;
        }
    }
    if (unknown == rows) {
        if (p->verbose)
            gar_log_info("note: %s: every particle's angles are unknown (-999): imported without poses",
                         gar_star_path(star));
        return GAR_OK;
    }
    if (unknown > 0)
        return gar_error(GAR_ERR_DATA, "%s:%ld: angle -999 (unknown) while line %ld has known angles: "
                         "expected all particles with poses or none", gar_star_path(star),
                         gar_star_row_line(t, first_unknown), gar_star_row_line(t, first_known));
    p->columns |= GAR_COL_POSE;
    return GAR_OK;
}

/* The particles block, the optics table and the column set of a STAR file,
 * checked: what every row is then read with. */
static gar_status plan_import(const gar_star *star, int verbose, import_plan *p)
{
    const char *star_path = gar_star_path(star);
    const gar_star_table *optics_block = gar_star_block(star, "optics");
    star_columns *c = &p->c;
    gar_status st;

    memset(p, 0, sizeof *p);
    p->star = star;
    p->verbose = verbose;
    p->t = gar_star_block(star, "particles");
    if (p->t == NULL && optics_block == NULL) {
        /* RELION 3.0 wrote its particles as data_ or data_images. */
        p->t = gar_star_block(star, "images");
        if (p->t == NULL)
            p->t = gar_star_block(star, "");
    }
    if (p->t == NULL)
        return gar_error(GAR_ERR_DATA, "%s: no data_particles block (nor a RELION 3.0 data_ or "
                         "data_images block)", star_path);
    p->relion30 = optics_block == NULL;
    find_columns(p->t, c);
    if (c->image < 0)
        return gar_error(GAR_ERR_DATA, "%s: data_%s: missing column _rlnImageName", star_path,
                         gar_star_block_name(p->t));
    if (gar_star_rows(p->t) == 0)
        return gar_error(GAR_ERR_DATA, "%s: data_%s has no rows", star_path, gar_star_block_name(p->t));
    st = p->relion30 ? derive_optics30(p) : read_optics_block(p, optics_block);
    if (st != GAR_OK)
        goto fail;
    if (!p->relion30) {
        /* Per-particle copies of these in a 3.1 file would override nothing
         * in garner: still refuse what cannot be imported. */
        for (size_t r = 0; (c->premult >= 0 || c->dim >= 0) && r < gar_star_rows(p->t); r++)
            if ((st = check_refused_columns(star, p->t, r, c->premult, c->dim)) != GAR_OK)
                goto fail;
    }
    if ((st = unify_pixel_sizes(p)) != GAR_OK)
        goto fail;
    if ((st = plan_poses(p)) != GAR_OK)
        goto fail;
    if ((c->ox_A >= 0) != (c->oy_A >= 0) || (c->ox_px >= 0) != (c->oy_px >= 0)) {
        st = gar_error(GAR_ERR_DATA, "%s: data_particles has an X origin column without its Y "
                       "partner (or the reverse)", star_path);
        goto fail;
    }
    if (c->ox_A >= 0 || c->ox_px >= 0)
        p->columns |= GAR_COL_ORIGIN;
    if (c->dfu >= 0)
        p->columns |= GAR_COL_CTF;
    if (c->phase >= 0)
        p->columns |= GAR_COL_PHASE_SHIFT;
    return GAR_OK;
fail:
    plan_free(p);
    return st;
}

/* Row r's image name as index and the file part as written (relative to the
 * project folder, or absolute); a refusal names the STAR file and the row's
 * line once ("p.star:31: image name '0@a.mrcs': ..."). */
static gar_status row_image(const gar_star *star, const gar_star_table *t, size_t r, int col,
                            size_t *index, const char **file)
{
    const char *star_path = gar_star_path(star);
    const char *name = gar_star_cell(t, r, col);
    char *ignored = NULL;
    gar_status st = gar_star_image_name(star, name, index, &ignored);
    free(ignored);
    if (st != GAR_OK) {
        const char *msg = gar_errmsg();
        size_t n = strlen(star_path);
        char rest[1024];
        if (strncmp(msg, star_path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
            msg += n + 2;
        snprintf(rest, sizeof rest, "%s", msg);
        return gar_error(st, "%s:%ld: %s", star_path, gar_star_row_line(t, r), rest);
    }
    {
        const char *at = strchr(name, '@');
        *file = at != NULL ? at + 1 : name;
    }
    return GAR_OK;
}

/* Every row's values and image name, before any image is read: a bad row
 * near the end of a large file is found at once rather than after an hour of
 * copying images. */
static gar_status check_rows(const import_plan *p)
{
    gar_status st = GAR_OK;
    for (size_t r = 0; r < gar_star_rows(p->t); r++) {
        gar_particle part;
        size_t index, gi;
        const char *file;
        if ((st = read_row(p, r, &part, &gi)) != GAR_OK)
            break;
        if ((st = row_image(p->star, p->t, r, p->c.image, &index, &file)) != GAR_OK)
            break;
    }
    return st;
}

/* ------------------------------------------------------------ image files */

/* Where relative image names are looked for. RELION writes them relative to
 * its project folder (where it runs), while the STAR file sits in a job
 * folder (Refine3D/job010/run_data.star): so the working folder first, then
 * the STAR file's folder and each folder above it. --project-dir replaces
 * the search with that one folder. */
typedef struct image_resolver {
    char **bases;       /* each "" (the working folder) or ending in '/' */
    size_t n;
    char *prev_file;    /* the previous name resolved, and where it was */
    char *prev_path;
} image_resolver;

static void resolver_free(image_resolver *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->bases[i]);
    free(r->bases);
    free(r->prev_file);
    free(r->prev_path);
    memset(r, 0, sizeof *r);
}

static gar_status resolver_add(image_resolver *r, const char *dir, size_t len)
{
    char *b;
    char **q;
    int slash = len > 0 && dir[len - 1] != '/';
    for (size_t i = 0; i < r->n; i++)
        if (strlen(r->bases[i]) == len + (size_t)slash && strncmp(r->bases[i], dir, len) == 0)
            return GAR_OK;
    if ((b = malloc(len + 2)) == NULL || (q = realloc(r->bases, (r->n + 1) * sizeof *q)) == NULL) {
        free(b);
        return gar_error(GAR_ERR_NOMEM, "image folders: out of memory");
    }
    memcpy(b, dir, len);
    if (slash)
        b[len++] = '/';
    b[len] = '\0';
    r->bases = q;
    r->bases[r->n++] = b;
    return GAR_OK;
}

static gar_status resolver_init(image_resolver *r, const char *star_path, const char *project_dir)
{
    gar_status st;
    char *dir = NULL, *real = NULL;
    const char *slash;
    memset(r, 0, sizeof *r);
    if (project_dir != NULL)
        return resolver_add(r, project_dir, strlen(project_dir));
    if ((st = resolver_add(r, "", 0)) != GAR_OK)
        return st;
    slash = strrchr(star_path, '/');
    if (slash == NULL)
        return GAR_OK; /* the STAR file is in the working folder */
    if ((dir = strndup(star_path, (size_t)(slash - star_path) + 1)) == NULL)
        return gar_error(GAR_ERR_NOMEM, "image folders: out of memory");
    /* The folders above, by the real path: a lexical walk up "../x/" would
     * go wrong. */
    real = realpath(dir, NULL);
    st = resolver_add(r, dir, strlen(dir));
    if (st == GAR_OK && real != NULL) {
        size_t len = strlen(real);
        for (;;) {
            while (len > 1 && real[len - 1] != '/')
                len--;
            if (len <= 1)
                break;
            if ((st = resolver_add(r, real, len)) != GAR_OK)
                break;
            len--; /* past the '/' */
        }
        if (st == GAR_OK)
            st = resolver_add(r, "/", 1);
    }
    free(dir);
    free(real);
    return st;
}

static int is_regular_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && !S_ISDIR(sb.st_mode);
}

/* The path of image file `file` named on line `line`. */
static gar_status resolve_image(image_resolver *r, const gar_star *star, long line, const char *file,
                                const char **out)
{
    char *path = NULL;
    if (r->prev_file != NULL && strcmp(file, r->prev_file) == 0) {
        *out = r->prev_path;
        return GAR_OK;
    }
    free(r->prev_file);
    free(r->prev_path);
    r->prev_file = r->prev_path = NULL;
    if (file[0] == '/') {
        path = strdup(file);
    } else {
        for (size_t i = 0; i < r->n && path == NULL; i++) {
            size_t bl = strlen(r->bases[i]), fl = strlen(file);
            char *cand = malloc(bl + fl + 1);
            if (cand == NULL)
                return gar_error(GAR_ERR_NOMEM, "image path: out of memory");
            memcpy(cand, r->bases[i], bl);
            memcpy(cand + bl, file, fl + 1);
            if (is_regular_file(cand))
                path = cand;
            else
                free(cand);
        }
        if (path == NULL) {
            char tried[2048];
            size_t used = 0;
            tried[0] = '\0';
            for (size_t i = 0; i < r->n && used < sizeof tried; i++) {
                int k = snprintf(tried + used, sizeof tried - used, "%s%s", i ? ", " : "",
                                 r->bases[i][0] ? r->bases[i] : "the working folder");
                if (k < 0)
                    break;
                used += (size_t)k;
            }
            return gar_error(GAR_ERR_NOINPUT, "%s:%ld: image file '%s' not found in %s (RELION names "
                             "images relative to its project folder: run garner there or give "
                             "--project-dir)", gar_star_path(star), line, file, tried);
        }
    }
    if (path == NULL || (r->prev_file = strdup(file)) == NULL) {
        free(path);
        return gar_error(GAR_ERR_NOMEM, "image path: out of memory");
    }
    r->prev_path = path;
    *out = path;
    return GAR_OK;
}

/* ------------------------------------------------------------ carried columns */

/* The columns of a block that garner does not read, in file order: they go
 * into the stack as text (gar_stack_extra.h) and back out with garner
 * export. */
typedef struct carried {
    const gar_star_table *t;
    int *cols;              /* column indices in t */
    const char **labels;
    size_t k;
    const size_t *rows;     /* stack row -> STAR row; NULL: the same */
} carried;

static void carried_free(carried *c)
{
    free(c->cols);
    free(c->labels);
    memset(c, 0, sizeof *c);
}

static const char *carried_cell(void *ctx, size_t row, size_t col)
{
    const carried *c = ctx;
    return gar_star_cell(c->t, c->rows ? c->rows[row] : row, c->cols[col]);
}

/* Every column of t except the `n_used` labels in `used`. */
static gar_status carried_init(carried *c, const gar_star_table *t, const char *const *used, size_t n_used)
{
    gar_status st;
    const int ncols = gar_star_ncols(t);
    memset(c, 0, sizeof *c);
    c->t = t;
    if (ncols == 0)
        return GAR_OK;
    if ((st = gar_alloc((void **)&c->cols, (size_t)ncols, sizeof *c->cols, "carried columns")) != GAR_OK ||
        (st = gar_alloc((void **)&c->labels, (size_t)ncols, sizeof *c->labels, "carried columns")) != GAR_OK) {
        carried_free(c);
        return st;
    }
    for (int col = 0; col < ncols; col++) {
        const char *label = gar_star_label(t, col);
        size_t u;
        for (u = 0; u < n_used && strcmp(used[u], label) != 0; u++)
            ;
        if (u < n_used)
            continue;
        c->cols[c->k] = col;
        c->labels[c->k++] = label;
    }
    return GAR_OK;
}

/* The labels of the particles block garner reads (the rest is carried). */
static size_t used_particle_labels(const import_plan *p, const char **used)
{
    size_t n = 0;
    static const char *const always[] = {"rlnImageName", "rlnOriginXAngst", "rlnOriginYAngst", "rlnOriginX",
                                         "rlnOriginY", "rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle",
                                         "rlnPhaseShift", "rlnRandomSubset", "rlnOpticsGroup",
                                         "rlnCtfDataAreCtfPremultiplied", "rlnImageDimensionality"};
    static const char *const pose[] = {"rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi"};
    static const char *const optics30[] = {"rlnVoltage", "rlnSphericalAberration", "rlnAmplitudeContrast",
                                           "rlnImagePixelSize", "rlnDetectorPixelSize", "rlnMagnification"};
    for (size_t i = 0; i < sizeof always / sizeof *always; i++)
        used[n++] = always[i];
    /* Angles garner did not import (psi only, -999) are carried: export
     * writes its own angles, and then skips them. */
    for (size_t i = 0; (p->columns & GAR_COL_POSE) && i < 3; i++)
        used[n++] = pose[i];
    for (size_t i = 0; p->relion30 && i < sizeof optics30 / sizeof *optics30; i++)
        used[n++] = optics30[i];
    return n;
}

static const char *const used_optics_labels[] = {
    "rlnOpticsGroup", "rlnOpticsGroupName", "rlnImagePixelSize", "rlnVoltage", "rlnSphericalAberration",
    "rlnAmplitudeContrast", "rlnImageSize", "rlnImageDimensionality", "rlnCtfDataAreCtfPremultiplied"};

/* Columns with a physical effect that garner's reconstruction does not
 * apply yet: said once, so that nobody believes they were. A column whose
 * every value is neutral (beam tilt 0, CTF scale 1, B-factor 0, as Extract
 * writes them) changes nothing and is not named. */
static int unapplied_value_matters(const char *label, const char *text)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end != '\0')
        return 1; /* Zernike lists, MTF file names: not a plain number */
    return strcmp(label, "rlnCtfScalefactor") == 0 || strncmp(label, "rlnMagMat", 9) == 0
               ? (strcmp(label, "rlnMagMat01") == 0 || strcmp(label, "rlnMagMat10") == 0 ? v != 0 : v != 1)
               : v != 0;
}

static void note_unapplied(const carried *const *blocks, size_t nb, const char *star_path)
{
    static const char *const physics[] = {"rlnBeamTiltX", "rlnBeamTiltY", "rlnOddZernike", "rlnEvenZernike",
                                          "rlnMagMat00", "rlnMagMat01", "rlnMagMat10", "rlnMagMat11",
                                          "rlnCtfBfactor", "rlnCtfScalefactor", "rlnMtfFileName"};
    char list[512];
    size_t used = 0;
    list[0] = '\0';
    for (size_t b = 0; b < nb; b++)
        for (size_t i = 0; i < blocks[b]->k; i++)
            for (size_t j = 0; j < sizeof physics / sizeof *physics; j++) {
                const carried *c = blocks[b];
                int matters = 0;
                if (strcmp(c->labels[i], physics[j]) != 0)
                    continue;
                for (size_t r = 0; r < gar_star_rows(c->t) && !matters; r++)
                    matters = unapplied_value_matters(physics[j], gar_star_cell(c->t, r, c->cols[i]));
                if (matters && used < sizeof list) {
                    int n = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", physics[j]);
                    if (n > 0)
                        used += (size_t)n;
                }
            }
    if (used > 0)
        gar_log_warn("%s: %s kept in the stack for garner export, but not applied by garner's "
                     "reconstruction", star_path, list);
}

/* ------------------------------------------------------------ the import */

gar_status gar_import_check_star(const gar_star *star, size_t *rows)
{
    import_plan p;
    gar_status st;

    if (rows != NULL)
        *rows = 0;
    if (star == NULL)
        return gar_error(GAR_ERR_INTERNAL, "gar_import_check_star: no STAR file");
    if ((st = plan_import(star, 0, &p)) != GAR_OK)
        return st;
    st = check_rows(&p);
    if (st == GAR_OK && rows != NULL)
        *rows = gar_star_rows(p.t);
    plan_free(&p);
    return st;
}

/* Opens `path` for the images of line `line`; *box is set from the first
 * file and every later file must match it. */
static gar_status open_image_file(const char *path, const char *star_path, long line, size_t *box,
                                  gar_mrc **mrc)
{
    gar_status st = gar_mrc_open(path, mrc);
    if (st != GAR_OK) {
        gar_error_context(st, "%s:%ld", star_path, line);
        return st;
    }
    if (*box == 0) {
        if (gar_mrc_ny(*mrc) != gar_mrc_nx(*mrc) || gar_mrc_nx(*mrc) % 2 != 0)
            return gar_error(GAR_ERR_DATA, "%s: images are %zu x %zu: expected square images of even size",
                             path, gar_mrc_nx(*mrc), gar_mrc_ny(*mrc));
        *box = gar_mrc_nx(*mrc);
    } else if (gar_mrc_nx(*mrc) != *box || gar_mrc_ny(*mrc) != *box) {
        return gar_error(GAR_ERR_DATA, "%s: images are %zu x %zu, expected %zu x %zu like the "
                         "earlier files of %s", path, gar_mrc_nx(*mrc), gar_mrc_ny(*mrc), *box, *box,
                         star_path);
    }
    return GAR_OK;
}

gar_status gar_import_star(const char *star_path, const char *out_path,
                           const gar_import_options *opt, gar_import_report *report)
{
    gar_status st = GAR_OK;
    gar_star *star = NULL;
    import_plan plan;
    image_resolver res;
    size_t rows, box = 0, npix, nbatch = 0;
    gar_stack_writer *w = NULL;
    gar_mrc *mrc = NULL;
    char *mrc_path = NULL;
    float *images = NULL, *scratch = NULL;
    gar_particle *meta = NULL;
    gar_progress *progress = NULL;
    gar_resampler **resamplers = NULL;
    carried extra_p, extra_o;
    size_t *kept = NULL;
    const char *used[32];

    memset(&extra_p, 0, sizeof extra_p);
    memset(&extra_o, 0, sizeof extra_o);
    memset(report, 0, sizeof *report);
    memset(&plan, 0, sizeof plan);
    memset(&res, 0, sizeof res);
    if ((st = gar_star_read(star_path, &star)) != GAR_OK)
        goto done;
    if ((st = plan_import(star, opt->progress, &plan)) != GAR_OK || (st = check_rows(&plan)) != GAR_OK)
        goto done;
    if ((st = resolver_init(&res, star_path, opt->project_dir)) != GAR_OK)
        goto done;
    rows = gar_star_rows(plan.t);
    report->rows = rows;
    if ((st = carried_init(&extra_p, plan.t, used, used_particle_labels(&plan, used))) != GAR_OK ||
        (!plan.relion30 &&
         (st = carried_init(&extra_o, gar_star_block(star, "optics"), used_optics_labels,
                            sizeof used_optics_labels / sizeof *used_optics_labels)) != GAR_OK) ||
        (st = gar_alloc((void **)&kept, rows, sizeof *kept, "row map")) != GAR_OK)
        goto done;
    if (opt->progress) {
        const carried *blocks[2] = {&extra_p, &extra_o};
        note_unapplied(blocks, 2, star_path);
    }
    report->carried_columns = extra_p.k + extra_o.k;
    report->half_sets_assigned = plan.c.subset < 0;
    report->relion30 = plan.relion30;
    report->columns = plan.columns;

    /* The box comes from the first image file; every image must match it and
     * the optics table. */
    {
        size_t index;
        const char *file, *path;
        if ((st = row_image(star, plan.t, 0, plan.c.image, &index, &file)) != GAR_OK ||
            (st = resolve_image(&res, star, gar_star_row_line(plan.t, 0), file, &path)) != GAR_OK)
            goto done;
        if ((mrc_path = strdup(path)) == NULL) {
            st = gar_error(GAR_ERR_NOMEM, "image path: out of memory");
            goto done;
        }
        if ((st = open_image_file(mrc_path, star_path, gar_star_row_line(plan.t, 0), &box, &mrc)) != GAR_OK)
            goto done;
    }
    for (size_t i = 0; i < plan.n_optics; i++) {
        if (plan.optics[i].image_size == 0)
            plan.optics[i].image_size = (int32_t)box;
        if ((size_t)plan.optics[i].image_size != box) {
            st = gar_error(GAR_ERR_DATA, "%s: optics group %d has rlnImageSize %d but %s holds %zu x %zu images",
                           star_path, plan.optics[i].group, plan.optics[i].image_size, mrc_path, box, box);
            goto done;
        }
    }
    npix = box * box;
    report->box = box;
    report->pixel_size_A = plan.optics[0].pixel_size_A;
    if ((st = gar_alloc((void **)&images, IMPORT_BATCH, npix * sizeof(float), "import batch")) != GAR_OK ||
        (st = gar_alloc((void **)&scratch, npix, sizeof(float), "resampling input")) != GAR_OK ||
        (st = gar_calloc((void **)&resamplers, plan.n_optics, sizeof *resamplers, "resamplers")) != GAR_OK ||
        (st = gar_alloc((void **)&meta, IMPORT_BATCH, sizeof *meta, "import metadata")) != GAR_OK)
        goto done;
    if ((st = gar_stack_writer_create(out_path, box, plan.optics, plan.n_optics, plan.columns,
                                      opt->provenance ? opt->provenance : "garner import", &w)) != GAR_OK)
        goto done;
    if (opt->progress)
        progress = gar_progress_create("import", "particles", rows, 10.0);

    for (size_t r = 0; r < rows; r++) {
        size_t index, gi;
        const char *file, *path;
        const long line = gar_star_row_line(plan.t, r);
        float *img = images + nbatch * npix;
        if ((st = read_row(&plan, r, &meta[nbatch], &gi)) != GAR_OK)
            goto done;
        if ((st = row_image(star, plan.t, r, plan.c.image, &index, &file)) != GAR_OK ||
            (st = resolve_image(&res, star, line, file, &path)) != GAR_OK)
            goto done;
        if (strcmp(path, mrc_path) != 0) {
            gar_mrc_close(&mrc);
            free(mrc_path);
            if ((mrc_path = strdup(path)) == NULL) {
                st = gar_error(GAR_ERR_NOMEM, "image path: out of memory");
                goto done;
            }
            if ((st = open_image_file(mrc_path, star_path, line, &box, &mrc)) != GAR_OK)
                goto done;
        }
        if (strchr(gar_star_cell(plan.t, r, plan.c.image), '@') == NULL && gar_mrc_nz(mrc) > 1) {
            /* RELION reads a name without '@' as the whole file: a volume. */
            st = gar_error(GAR_ERR_DATA, "%s:%ld: image name '%s' names the whole of %s, %zu sections "
                           "(a 3D particle or a stack without an image number): expected N@file",
                           star_path, line, file, mrc_path, gar_mrc_nz(mrc));
            goto done;
        }
        if (index >= gar_mrc_nz(mrc)) {
            st = gar_error(GAR_ERR_DATA, "%s:%ld: image %zu requested but %s holds %zu images",
                           star_path, line, index + 1, mrc_path, gar_mrc_nz(mrc));
            goto done;
        }
        if ((st = gar_mrc_read_sections(mrc, index, 1, img)) != GAR_OK)
            goto done;
        if (!gar_image_is_finite(img, npix)) {
            if (!opt->skip_nonfinite) {
                st = gar_error(GAR_ERR_DATA, "%s: image %zu (%s:%ld) contains NaN or Inf pixels "
                               "(use --nonfinite skip to drop such particles)",
                               mrc_path, index + 1, star_path, line);
                goto done;
            }
            report->skipped_nonfinite++;
            continue;
        }
        if (plan.source_A[gi] != plan.optics[gi].pixel_size_A) {
            if (resamplers[gi] == NULL &&
                (st = gar_resampler_create(box, plan.source_A[gi], plan.optics[gi].pixel_size_A,
                                           &resamplers[gi])) != GAR_OK)
                goto done;
            memcpy(scratch, img, npix * sizeof(float));
            gar_resampler_apply(resamplers[gi], scratch, img);
            report->resampled++;
        }
        kept[report->written + nbatch] = r;
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
    extra_p.rows = kept;
    if ((st = gar_stack_writer_put_extra(w, GAR_EXTRA_PARTICLES, extra_p.labels, extra_p.k, report->written,
                                         carried_cell, &extra_p)) != GAR_OK ||
        (st = gar_stack_writer_put_extra(w, GAR_EXTRA_OPTICS, extra_o.labels, extra_o.k, plan.n_optics,
                                         carried_cell, &extra_o)) != GAR_OK)
        goto done;
    st = gar_stack_writer_commit(&w);
done:
    carried_free(&extra_p);
    carried_free(&extra_o);
    free(kept);
    if (progress != NULL && st == GAR_OK)
        gar_progress_finish(&progress);
    gar_progress_destroy(&progress);
    gar_stack_writer_abort(&w);
    gar_mrc_close(&mrc);
    for (size_t i = 0; resamplers != NULL && i < plan.n_optics; i++)
        gar_resampler_destroy(&resamplers[i]);
    free(resamplers);
    free(mrc_path);
    free(images);
    free(scratch);
    free(meta);
    plan_free(&plan);
    resolver_free(&res);
    gar_star_destroy(&star);
    return st;
}
