/* cryoSPARC .cs particle files (see gar_cs.h; docs/FORMAT.md lists the
 * fields). The conventions follow pyem's csparc2star, the converter most
 * RELION users run (pyem/metadata/cryosparc2.py, pyem/cli/csparc2star.py):
 *   pose:   RELION angles = rot2euler(expmap(alignments3D/pose)), where
 *           expmap builds the transpose of the Rodrigues matrix
 *           (gar_cryosparc_pose_to_euler);
 *   shift:  rlnOriginX/Y (pixels) = alignments3D/shift scaled from the
 *           alignment's pixel size to the blob's, with no sign change;
 *           in Å: shift x alignments3D/psize_A;
 *   split:  rlnRandomSubset = split + 1; exp_group_id: rlnOpticsGroup = id + 1;
 *   angles: radians to degrees (df_angle_rad, phase_shift_rad). */
#include "gar_cs.h"

#include <math.h>
#include <stdio.h>
#include "gar_rng.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gar_geometry.h"
#include "gar_inputs.h"
#include "gar_log.h"
#include "gar_mrc.h"
#include "gar_npy.h"
#include "gar_stack.h"

#define CS_BATCH 256
#define CS_PATH 4096
#define R2D (180.0 / GAR_PI)

/* Column indices of the fields garner reads (-1: absent). */
typedef struct cs_columns {
    int uid, path, idx, shape, psize, sign;
    int kv, cs, ac, df1, df2, dfang, phase, group;
    int pose, shift, apsize, split;
} cs_columns;

/* A column's presence, and its elements per row when present. */
static gar_status find_column(const gar_npy *t, const char *name, size_t count, int required, int *out)
{
    int c = gar_npy_find(t, name);
    *out = c;
    if (c < 0)
        return required ? gar_error(GAR_ERR_DATA, "%s: missing field '%s'", gar_npy_path(t), name) : GAR_OK;
    const gar_npy_column *col = gar_npy_column_at(t, (size_t)c);
    if (col->count != count)
        return gar_error(GAR_ERR_DATA, "%s: field '%s' has %zu elements per row, expected %zu", gar_npy_path(t), name,
                         col->count, count);
    return GAR_OK;
}

static gar_status find_columns(const gar_npy *t, cs_columns *c)
{
    const char *file = gar_npy_path(t);
    gar_status st;
    if ((st = find_column(t, "uid", 1, 0, &c->uid)) != GAR_OK ||
        (st = find_column(t, "blob/path", 1, 1, &c->path)) != GAR_OK ||
        (st = find_column(t, "blob/idx", 1, 1, &c->idx)) != GAR_OK ||
        (st = find_column(t, "blob/shape", 2, 0, &c->shape)) != GAR_OK ||
        (st = find_column(t, "blob/psize_A", 1, 1, &c->psize)) != GAR_OK ||
        (st = find_column(t, "blob/sign", 1, 0, &c->sign)) != GAR_OK ||
        (st = find_column(t, "ctf/accel_kv", 1, 1, &c->kv)) != GAR_OK ||
        (st = find_column(t, "ctf/cs_mm", 1, 1, &c->cs)) != GAR_OK ||
        (st = find_column(t, "ctf/amp_contrast", 1, 1, &c->ac)) != GAR_OK ||
        (st = find_column(t, "ctf/df1_A", 1, 0, &c->df1)) != GAR_OK ||
        (st = find_column(t, "ctf/df2_A", 1, 0, &c->df2)) != GAR_OK ||
        (st = find_column(t, "ctf/df_angle_rad", 1, 0, &c->dfang)) != GAR_OK ||
        (st = find_column(t, "ctf/phase_shift_rad", 1, 0, &c->phase)) != GAR_OK ||
        (st = find_column(t, "ctf/exp_group_id", 1, 0, &c->group)) != GAR_OK ||
        (st = find_column(t, "alignments3D/pose", 3, 0, &c->pose)) != GAR_OK ||
        (st = find_column(t, "alignments3D/shift", 2, 0, &c->shift)) != GAR_OK ||
        (st = find_column(t, "alignments3D/psize_A", 1, 0, &c->apsize)) != GAR_OK ||
        (st = find_column(t, "alignments3D/split", 1, 0, &c->split)) != GAR_OK)
        return st;
    int n_ctf = (c->df1 >= 0) + (c->df2 >= 0) + (c->dfang >= 0);
    if (n_ctf != 0 && n_ctf != 3)
        return gar_error(GAR_ERR_DATA, "%s: has only some of 'ctf/df1_A', 'ctf/df2_A', 'ctf/df_angle_rad' (all "
                         "three or none)", file);
    if ((c->pose >= 0) != (c->shift >= 0))
        return gar_error(GAR_ERR_DATA, "%s: has '%s' without '%s' (a 3D alignment has both)", file,
                         c->pose >= 0 ? "alignments3D/pose" : "alignments3D/shift",
                         c->pose >= 0 ? "alignments3D/shift" : "alignments3D/pose");
    if (c->uid >= 0) {
        const gar_npy_column *u = gar_npy_column_at(t, (size_t)c->uid);
        if (u->kind != GAR_NPY_UINT || u->item != 8)
            return gar_error(GAR_ERR_DATA, "%s: field 'uid' has type '%s', expected '<u8'", file, u->type);
    }
    return GAR_OK;
}

/* One number of a row, finite. */
static gar_status cell(const gar_npy *t, int col, size_t row, size_t elem, double *out)
{
    gar_status st = gar_npy_get_double(t, col, row, elem, out);
    if (st != GAR_OK)
        return st;
    if (!isfinite(*out))
        return gar_error(GAR_ERR_DATA, "%s: row %zu: field '%s' is %g, expected a finite value", gar_npy_path(t),
                         row, gar_npy_column_at(t, (size_t)col)->name, *out);
    return GAR_OK;
}

/* The optics group of row r: ctf/exp_group_id + 1 (0 when absent). */
static gar_status row_group(const gar_npy *t, const cs_columns *c, size_t r, int32_t *group)
{
    uint64_t id = 0;
    gar_status st;
    if (c->group >= 0 && (st = gar_npy_get_u64(t, c->group, r, 0, &id)) != GAR_OK)
        return st;
    if (id >= INT32_MAX)
        return gar_error(GAR_ERR_DATA, "%s: row %zu: field 'ctf/exp_group_id' is %llu, expected less than %d",
                         gar_npy_path(t), r, (unsigned long long)id, INT32_MAX);
    *group = (int32_t)id + 1;
    return GAR_OK;
}

/* Two values of one optics quantity agree (the file stores float32). */
static int same(double a, double b)
{
    return fabs(a - b) <= 1e-6 * fmax(fabs(a), fabs(b)) + 1e-12;
}

/* The optics table: one group per exposure group, its voltage, Cs and
 * amplitude contrast the same for every particle of the group, and one pixel
 * size for the whole file (garner reconstructs onto one grid). */
static gar_status plan_optics(const gar_npy *t, const cs_columns *c, gar_optics **out, size_t *n_out)
{
    const char *file = gar_npy_path(t);
    gar_optics *o = NULL;
    size_t n = 0, cap = 0, last = 0;
    gar_status st = GAR_OK;
    *out = NULL;
    *n_out = 0;
    for (size_t r = 0; r < gar_npy_rows(t); r++) {
        gar_optics v;
        int32_t group;
        size_t k;
        memset(&v, 0, sizeof v);
        if ((st = row_group(t, c, r, &group)) != GAR_OK || (st = cell(t, c->psize, r, 0, &v.pixel_size_A)) != GAR_OK ||
            (st = cell(t, c->kv, r, 0, &v.voltage_kV)) != GAR_OK || (st = cell(t, c->cs, r, 0, &v.cs_mm)) != GAR_OK ||
            (st = cell(t, c->ac, r, 0, &v.amplitude_contrast)) != GAR_OK)
            goto fail;
        if (!(v.pixel_size_A > 0) || !(v.voltage_kV > 0) || !(v.amplitude_contrast >= 0 && v.amplitude_contrast < 1)) {
            st = gar_error(GAR_ERR_DATA, "%s: row %zu: %s", file, r,
                           !(v.pixel_size_A > 0) ? "field 'blob/psize_A' must be > 0 (Å)"
                           : !(v.voltage_kV > 0) ? "field 'ctf/accel_kv' must be > 0 (kV)"
                                                 : "field 'ctf/amp_contrast' must be in [0, 1)");
            goto fail;
        }
        if (n > 0 && !same(v.pixel_size_A, o[0].pixel_size_A)) {
            st = gar_error(GAR_ERR_DATA, "%s: row %zu: field 'blob/psize_A' is %g Å, row 0's %g Å; garner needs one "
                           "pixel size per stack", file, r, v.pixel_size_A, o[0].pixel_size_A);
            goto fail;
        }
        k = (n > 0 && o[last].group == group) ? last : n;
        for (size_t j = 0; k == n && j < n; j++)
            if (o[j].group == group)
                k = j;
        if (k < n) {
            const char *which = !same(v.voltage_kV, o[k].voltage_kV) ? "ctf/accel_kv"
                              : !same(v.cs_mm, o[k].cs_mm) ? "ctf/cs_mm"
                              : !same(v.amplitude_contrast, o[k].amplitude_contrast) ? "ctf/amp_contrast" : NULL;
            if (which != NULL) {
                st = gar_error(GAR_ERR_DATA, "%s: row %zu: field '%s' differs from the earlier particles of exposure "
                               "group %d; garner keeps one value per optics group", file, r, which, group - 1);
                goto fail;
            }
            last = k;
            continue;
        }
        if (n == GAR_STACK_MAX_OPTICS) {
            st = gar_error(GAR_ERR_DATA, "%s: more than %d exposure groups", file, GAR_STACK_MAX_OPTICS);
            goto fail;
        }
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 8;
            gar_optics *no = realloc(o, ncap * sizeof *no);
            if (no == NULL) {
                st = gar_error(GAR_ERR_NOMEM, "%s: out of memory for the optics groups", file);
                goto fail;
            }
            o = no;
            cap = ncap;
        }
        v.group = group;
        snprintf(v.name, sizeof v.name, "exp_group_%d", group - 1);
        o[n] = v;
        last = n++;
    }
    *out = o;
    *n_out = n;
    return GAR_OK;
fail:
    free(o);
    return st;
}

/* Row r into garner's metadata (pose and origin in RELION's convention). */
static gar_status read_row(const gar_npy *t, const cs_columns *c, size_t r, int split_usable, gar_particle *p)
{
    const char *file = gar_npy_path(t);
    gar_status st;
    double v[3], s[2], apsize, x;
    memset(p, 0, sizeof *p);
    if ((st = row_group(t, c, r, &p->optics_group)) != GAR_OK)
        return st;
    if (c->pose >= 0) {
        for (size_t k = 0; k < 3; k++)
            if ((st = cell(t, c->pose, r, k, &v[k])) != GAR_OK)
                return st;
        for (size_t k = 0; k < 2; k++)
            if ((st = cell(t, c->shift, r, k, &s[k])) != GAR_OK)
                return st;
        if ((st = cell(t, c->apsize >= 0 ? c->apsize : c->psize, r, 0, &apsize)) != GAR_OK)
            return st;
        if (!(apsize > 0))
            return gar_error(GAR_ERR_DATA, "%s: row %zu: field 'alignments3D/psize_A' must be > 0 (Å)", file, r);
        gar_cryosparc_pose_to_euler(v, &p->rot_deg, &p->tilt_deg, &p->psi_deg);
        p->origin_x_A = s[0] * apsize;
        p->origin_y_A = s[1] * apsize;
    }
    if (c->df1 >= 0) {
        if ((st = cell(t, c->df1, r, 0, &p->defocus_u_A)) != GAR_OK ||
            (st = cell(t, c->df2, r, 0, &p->defocus_v_A)) != GAR_OK ||
            (st = cell(t, c->dfang, r, 0, &x)) != GAR_OK)
            return st;
        p->defocus_angle_deg = x * R2D;
        if (!(p->defocus_u_A > 0 && p->defocus_v_A > 0))
            return gar_error(GAR_ERR_DATA, "%s: row %zu: fields 'ctf/df1_A', 'ctf/df2_A' are %g, %g Å: expected "
                             "positive (underfocus) values", file, r, p->defocus_u_A, p->defocus_v_A);
    }
    if (c->phase >= 0) {
        if ((st = cell(t, c->phase, r, 0, &x)) != GAR_OK)
            return st;
        p->phase_shift_deg = x * R2D;
    }
    if (split_usable) {
        if ((st = cell(t, c->split, r, 0, &x)) != GAR_OK)
            return st;
        if (x != 0 && x != 1)
            return gar_error(GAR_ERR_DATA, "%s: row %zu: field 'alignments3D/split' is %g, expected 0 or 1", file, r,
                             x);
        p->half_set = (int32_t)x + 1;
    } else {
        p->half_set = (int32_t)(1 + r % 2);
    }
    return GAR_OK;
}

/* Whether alignments3D/split divides the particles: pyem (and garner) drop a
 * split that puts every particle in one half. */
static gar_status split_usable(const gar_npy *t, const cs_columns *c, int *usable)
{
    double first = 0, x;
    gar_status st;
    *usable = 0;
    if (c->split < 0)
        return GAR_OK;
    for (size_t r = 0; r < gar_npy_rows(t); r++) {
        if ((st = cell(t, c->split, r, 0, &x)) != GAR_OK)
            return st;
        if (r == 0)
            first = x;
        else if (x != first)
            *usable = 1;
    }
    return GAR_OK;
}

/* blob/path of row r, without cryoSPARC's leading '>' (which some versions
 * put before paths inside the project). */
static gar_status row_path(const gar_npy *t, const cs_columns *c, size_t r, char *buf, size_t cap)
{
    gar_status st = gar_npy_get_string(t, c->path, r, buf, cap);
    if (st != GAR_OK)
        return st;
    if (buf[0] == '>')
        memmove(buf, buf + 1, strlen(buf));
    if (buf[0] == '\0')
        return gar_error(GAR_ERR_DATA, "%s: row %zu: field 'blob/path' is empty", gar_npy_path(t), r);
    return GAR_OK;
}

/* The folders a relative blob/path is looked up in, in order. */
typedef struct cs_bases {
    char dir[3][CS_PATH];
    const char *why[3];
    int n;
} cs_bases;

static void plan_bases(const char *cs_path, const char *project_dir, cs_bases *b)
{
    char folder[CS_PATH - 8];
    const char *slash = strrchr(cs_path, '/');
    b->n = 0;
    if (project_dir != NULL) {
        snprintf(b->dir[0], CS_PATH, "%s", project_dir);
        b->why[0] = "--project-dir";
        b->n = 1;
        return;
    }
    if (slash == NULL)
        snprintf(folder, sizeof folder, ".");
    else if (slash == cs_path)
        snprintf(folder, sizeof folder, "/");
    else
        snprintf(folder, sizeof folder, "%.*s", (int)(slash - cs_path), cs_path);
    /* A .cs written by a job lives in PROJECT/Jnn/: its parent is the project. */
    snprintf(b->dir[0], CS_PATH, "%s/..", folder);
    b->why[0] = "the .cs file's folder's parent";
    snprintf(b->dir[1], CS_PATH, "%s", folder);
    b->why[1] = "the .cs file's folder";
    snprintf(b->dir[2], CS_PATH, ".");
    b->why[2] = "the working directory";
    b->n = 3;
}

static gar_status resolve_path(const gar_npy *t, size_t r, const char *rel, const cs_bases *b, char *out)
{
    char tried[3 * (CS_PATH + 64)] = "";
    if (rel[0] == '/') {
        snprintf(out, CS_PATH, "%s", rel);
        if (access(out, R_OK) == 0)
            return GAR_OK;
        return gar_error(GAR_ERR_NOINPUT, "%s: row %zu: field 'blob/path' '%s' cannot be read", gar_npy_path(t), r,
                         rel);
    }
    for (int i = 0; i < b->n; i++) {
        size_t used = strlen(tried);
        if ((size_t)snprintf(out, CS_PATH, "%s/%s", b->dir[i], rel) >= CS_PATH)
            return gar_error(GAR_ERR_DATA, "%s: row %zu: field 'blob/path' too long", gar_npy_path(t), r);
        if (access(out, R_OK) == 0)
            return GAR_OK;
        snprintf(tried + used, sizeof tried - used, "%s%s (%s)", i ? ", " : "", b->dir[i], b->why[i]);
    }
    return gar_error(GAR_ERR_NOINPUT, "%s: row %zu: field 'blob/path' '%s' is in none of the folders tried: %s; "
                     "name the cryoSPARC project folder with --project-dir", gar_npy_path(t), r, rel, tried);
}

/* Every row's values and every image file, before any image is read. */
static gar_status check_rows(const gar_npy *t, const cs_columns *c, int usable, const cs_bases *b)
{
    char rel[CS_PATH], prev[CS_PATH] = "", full[CS_PATH];
    gar_status st;
    for (size_t r = 0; r < gar_npy_rows(t); r++) {
        gar_particle p;
        double sign;
        uint64_t idx;
        if ((st = read_row(t, c, r, usable, &p)) != GAR_OK || (st = row_path(t, c, r, rel, sizeof rel)) != GAR_OK ||
            (st = gar_npy_get_u64(t, c->idx, r, 0, &idx)) != GAR_OK)
            return st;
        if (c->sign >= 0) {
            if ((st = cell(t, c->sign, r, 0, &sign)) != GAR_OK)
                return st;
            if (sign != 1.0 && sign != -1.0)
                return gar_error(GAR_ERR_DATA, "%s: row %zu: field 'blob/sign' is %g, expected 1 or -1",
                                 gar_npy_path(t), r, sign);
        }
        if (strcmp(rel, prev) != 0) {
            if ((st = resolve_path(t, r, rel, b, full)) != GAR_OK)
                return st;
            snprintf(prev, sizeof prev, "%s", rel);
        }
    }
    return GAR_OK;
}

gar_status gar_import_cs(const char *cs_path, const char *out_path, const gar_cs_import_options *opt,
                         gar_cs_import_report *report)
{
    gar_status st = GAR_OK;
    gar_npy *t = NULL;
    gar_optics *optics = NULL;
    size_t n_optics = 0, rows, box = 0, npix = 0, nbatch = 0;
    cs_columns c;
    cs_bases bases;
    unsigned columns = 0;
    int usable = 0;
    gar_stack_writer *w = NULL;
    gar_mrc *mrc = NULL;
    char rel[CS_PATH], cur[CS_PATH] = "", full[CS_PATH];
    float *images = NULL;
    gar_particle *meta = NULL;
    gar_progress *progress = NULL;

    memset(report, 0, sizeof *report);
    if ((st = gar_npy_read(cs_path, &t)) != GAR_OK || (st = find_columns(t, &c)) != GAR_OK)
        goto done;
    rows = gar_npy_rows(t);
    if (rows == 0) {
        st = gar_error(GAR_ERR_DATA, "%s: no particles (0 rows)", cs_path);
        goto done;
    }
    plan_bases(cs_path, opt->project_dir, &bases);
    if ((st = plan_optics(t, &c, &optics, &n_optics)) != GAR_OK || (st = split_usable(t, &c, &usable)) != GAR_OK ||
        (st = check_rows(t, &c, usable, &bases)) != GAR_OK)
        goto done;
    if (c.pose >= 0)
        columns |= GAR_COL_POSE | GAR_COL_ORIGIN;
    if (c.df1 >= 0)
        columns |= GAR_COL_CTF;
    if (c.phase >= 0)
        columns |= GAR_COL_PHASE_SHIFT;
    report->rows = rows;
    report->has_poses = c.pose >= 0;
    report->half_sets_assigned = !usable;
    report->optics_groups = n_optics;
    report->pixel_size_A = optics[0].pixel_size_A;

    if ((st = gar_alloc((void **)&meta, CS_BATCH, sizeof *meta, "import metadata")) != GAR_OK)
        goto done;
    if (opt->progress)
        progress = gar_progress_create("import", "particles", rows, 10.0);
    for (size_t r = 0; r < rows; r++) {
        uint64_t idx;
        double sign = 1.0;
        float *img;
        if ((st = row_path(t, &c, r, rel, sizeof rel)) != GAR_OK ||
            (st = gar_npy_get_u64(t, c.idx, r, 0, &idx)) != GAR_OK)
            goto done;
        if (c.sign >= 0 && (st = cell(t, c.sign, r, 0, &sign)) != GAR_OK)
            goto done;
        if (strcmp(rel, cur) != 0) {
            gar_mrc_close(&mrc);
            if ((st = resolve_path(t, r, rel, &bases, full)) != GAR_OK)
                goto done;
            if ((st = gar_mrc_open(full, &mrc)) != GAR_OK) {
                gar_error_context(st, "%s: row %zu", cs_path, r);
                goto done;
            }
            snprintf(cur, sizeof cur, "%s", rel);
            if (box == 0) {
                /* The box comes from the first image file; the others and
                 * blob/shape must match it. */
                box = gar_mrc_nx(mrc);
                if (gar_mrc_ny(mrc) != box || box % 2 != 0 || box < GAR_STACK_MIN_BOX) {
                    st = gar_error(GAR_ERR_DATA, "%s: images are %zu x %zu: expected square images of even size >= %d",
                                   full, gar_mrc_nx(mrc), gar_mrc_ny(mrc), GAR_STACK_MIN_BOX);
                    goto done;
                }
                npix = box * box;
                report->box = box;
                for (size_t i = 0; i < n_optics; i++)
                    optics[i].image_size = (int32_t)box;
                if ((st = gar_alloc((void **)&images, CS_BATCH, npix * sizeof(float), "import batch")) != GAR_OK ||
                    (st = gar_stack_writer_create(out_path, box, optics, n_optics, columns,
                                                  opt->provenance ? opt->provenance : "garner import --cs", &w)) != GAR_OK)
                    goto done;
            } else if (gar_mrc_nx(mrc) != box || gar_mrc_ny(mrc) != box) {
                st = gar_error(GAR_ERR_DATA, "%s: images are %zu x %zu, expected %zu x %zu like the earlier files of %s",
                               full, gar_mrc_nx(mrc), gar_mrc_ny(mrc), box, box, cs_path);
                goto done;
            }
        }
        if (c.shape >= 0) {
            double sy, sx;
            if ((st = cell(t, c.shape, r, 0, &sy)) != GAR_OK || (st = cell(t, c.shape, r, 1, &sx)) != GAR_OK)
                goto done;
            if (sy != (double)box || sx != (double)box) {
                st = gar_error(GAR_ERR_DATA, "%s: row %zu: field 'blob/shape' is (%g, %g), but %s holds %zu x %zu images",
                               cs_path, r, sy, sx, full, box, box);
                goto done;
            }
        }
        if (idx >= gar_mrc_nz(mrc)) {
            st = gar_error(GAR_ERR_DATA, "%s: row %zu: field 'blob/idx' is %llu, but %s holds %zu images (0 to %zu)",
                           cs_path, r, (unsigned long long)idx, full, gar_mrc_nz(mrc), gar_mrc_nz(mrc) - 1);
            goto done;
        }
        img = images + nbatch * npix;
        if ((st = read_row(t, &c, r, usable, &meta[nbatch])) != GAR_OK ||
            (st = gar_mrc_read_sections(mrc, (size_t)idx, 1, img)) != GAR_OK)
            goto done;
        if (!gar_image_is_finite(img, npix)) {
            if (!opt->skip_nonfinite) {
                st = gar_error(GAR_ERR_DATA, "%s: image %llu (%s row %zu) contains NaN or Inf pixels (use --nonfinite "
                               "skip to drop such particles)", full, (unsigned long long)idx, cs_path, r);
                goto done;
            }
            report->skipped_nonfinite++;
            continue;
        }
        /* blob/sign is the factor cryoSPARC multiplies the stored pixels by
         * before it compares them with projections; garner's (RELION's)
         * model takes the pixels as they are, so the factor is applied here. */
        if (sign < 0) {
            for (size_t k = 0; k < npix; k++)
                img[k] = -img[k];
            report->inverted++;
        }
        if (++nbatch == CS_BATCH) {
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
        st = gar_error(GAR_ERR_DATA, "%s: no particle left to write (all %zu had non-finite pixels)", cs_path, rows);
        goto done;
    }
    st = gar_stack_writer_commit(&w);
done:
    if (progress != NULL && st == GAR_OK)
        gar_progress_finish(&progress);
    gar_progress_destroy(&progress);
    gar_stack_writer_abort(&w);
    gar_mrc_close(&mrc);
    free(images);
    free(meta);
    free(optics);
    gar_npy_destroy(&t);
    return st;
}

/* ---- export ---- */

static const gar_optics *find_optics(const gar_optics *o, size_t n, int32_t group)
{
    for (size_t i = 0; i < n; i++)
        if (o[i].group == group)
            return &o[i];
    return NULL;
}

/* The columns written: the names and types cryoSPARC's own particle
 * outputs use (blob, ctf and alignments3D slots), so cryosparc-tools and
 * pyem read them; the fields garner has no value for get cryoSPARC's
 * neutral values (scale 1, class posterior 1, zeros). */
enum {
    W_UID, W_PATH, W_IDX, W_SHAPE, W_PSIZE, W_SIGN, W_SIG,
    W_TYPE, W_GROUP, W_KV, W_CS, W_AC,
    W_SPLIT, W_SHIFT, W_POSE, W_APSIZE, W_ERROR, W_ERRMIN, W_RESID, W_SLICE, W_IMAGE, W_CC, W_ALPHA, W_ALPHAMIN,
    W_WEIGHT, W_POSEESS, W_SHIFTESS, W_POST, W_CLASS, W_CLASSESS,
    W_DF1, W_DF2, W_DFANG, W_PHASE, W_SCALE, W_SCALEC, W_CSHIFT, W_TILT, W_TREFOIL, W_TETRA, W_ANISO, W_BFAC,
    W_COUNT
};

gar_status gar_cs_write(const char *path, const char *blob_path, size_t box, const gar_optics *optics,
                        size_t n_optics, const gar_particle *particles, size_t n, int ctf, uint64_t uid_seed)
{
    char path_type[32];
    gar_npy_spec specs[W_COUNT] = {
        {"uid", "<u8", 1}, {"blob/path", path_type, 1}, {"blob/idx", "<u4", 1}, {"blob/shape", "<u4", 2},
        {"blob/psize_A", "<f4", 1}, {"blob/sign", "<f4", 1}, {"blob/import_sig", "<u8", 1},
        {"ctf/type", "|S8", 1}, {"ctf/exp_group_id", "<u4", 1}, {"ctf/accel_kv", "<f4", 1}, {"ctf/cs_mm", "<f4", 1},
        {"ctf/amp_contrast", "<f4", 1},
        {"alignments3D/split", "<u4", 1}, {"alignments3D/shift", "<f4", 2}, {"alignments3D/pose", "<f4", 3},
        {"alignments3D/psize_A", "<f4", 1}, {"alignments3D/error", "<f4", 1}, {"alignments3D/error_min", "<f4", 1},
        {"alignments3D/resid_pow", "<f4", 1}, {"alignments3D/slice_pow", "<f4", 1},
        {"alignments3D/image_pow", "<f4", 1}, {"alignments3D/cross_cor", "<f4", 1}, {"alignments3D/alpha", "<f4", 1},
        {"alignments3D/alpha_min", "<f4", 1}, {"alignments3D/weight", "<f4", 1}, {"alignments3D/pose_ess", "<f4", 1},
        {"alignments3D/shift_ess", "<f4", 1}, {"alignments3D/class_posterior", "<f4", 1},
        {"alignments3D/class", "<u4", 1}, {"alignments3D/class_ess", "<f4", 1},
        {"ctf/df1_A", "<f4", 1}, {"ctf/df2_A", "<f4", 1}, {"ctf/df_angle_rad", "<f4", 1},
        {"ctf/phase_shift_rad", "<f4", 1}, {"ctf/scale", "<f4", 1}, {"ctf/scale_const", "<f4", 1},
        {"ctf/shift_A", "<f4", 2}, {"ctf/tilt_A", "<f4", 2}, {"ctf/trefoil_A", "<f4", 2}, {"ctf/tetra_A", "<f4", 4},
        {"ctf/anisomag", "<f4", 4}, {"ctf/bfactor", "<f4", 1},
    };
    gar_npy *t = NULL;
    gar_status st = GAR_OK;
    size_t len = strlen(blob_path);
    if (len == 0 || len > 4096)
        return gar_error(GAR_ERR_INTERNAL, "gar_cs_write: blob path of %zu bytes", len);
    snprintf(path_type, sizeof path_type, "|S%zu", len);
    if (box > UINT32_MAX || n > UINT32_MAX)
        return gar_error(GAR_ERR_DATA, "%s: %zu particles of box %zu do not fit cryoSPARC's 32-bit fields", path, n,
                         box);
    if ((st = gar_npy_create(specs, ctf ? W_COUNT : W_DF1, n, &t)) != GAR_OK)
        return st;
#define SET(col, elem, v)                                                                  \
    if ((st = gar_npy_set_double(t, (col), i, (elem), (v))) != GAR_OK)                     \
        goto done;
    for (size_t i = 0; i < n; i++) {
        const gar_particle *p = &particles[i];
        const gar_optics *o = find_optics(optics, n_optics, p->optics_group);
        double v[3];
        if (o == NULL) {
            st = gar_error(GAR_ERR_DATA, "%s: particle %zu: optics group %d is not in the optics table", path, i,
                           p->optics_group);
            goto done;
        }
        if ((st = gar_npy_set_u64(t, W_UID, i, 0, gar_mix64(uid_seed + i))) != GAR_OK ||
            (st = gar_npy_set_string(t, W_PATH, i, blob_path)) != GAR_OK ||
            (st = gar_npy_set_string(t, W_TYPE, i, "imported")) != GAR_OK)
            goto done;
        SET(W_IDX, 0, (double)i)
        SET(W_SHAPE, 0, (double)box)
        SET(W_SHAPE, 1, (double)box)
        SET(W_PSIZE, 0, o->pixel_size_A)
        /* garner's pixels are in RELION's contrast, which cryoSPARC's model
         * takes with sign +1 (docs/FORMAT.md). */
        SET(W_SIGN, 0, 1.0)
        SET(W_GROUP, 0, (double)(p->optics_group - 1))
        SET(W_KV, 0, o->voltage_kV)
        SET(W_CS, 0, o->cs_mm)
        SET(W_AC, 0, o->amplitude_contrast)
        SET(W_SPLIT, 0, p->half_set == 2 ? 1.0 : 0.0)
        SET(W_SHIFT, 0, p->origin_x_A / o->pixel_size_A)
        SET(W_SHIFT, 1, p->origin_y_A / o->pixel_size_A)
        gar_euler_to_cryosparc_pose(p->rot_deg, p->tilt_deg, p->psi_deg, v);
        for (size_t k = 0; k < 3; k++)
            SET(W_POSE, k, v[k])
        SET(W_APSIZE, 0, o->pixel_size_A)
        SET(W_ALPHA, 0, 1.0)
        SET(W_ALPHAMIN, 0, 1.0)
        SET(W_WEIGHT, 0, 1.0)
        SET(W_POST, 0, 1.0)
        SET(W_CLASSESS, 0, 1.0)
        if (ctf) {
            SET(W_DF1, 0, p->defocus_u_A)
            SET(W_DF2, 0, p->defocus_v_A)
            SET(W_DFANG, 0, p->defocus_angle_deg / R2D)
            SET(W_PHASE, 0, p->phase_shift_deg / R2D)
            SET(W_SCALE, 0, 1.0)
        }
    }
#undef SET
    st = gar_npy_write(t, path);
done:
    gar_npy_destroy(&t);
    return st;
}
