/* garner: what the HDF5 particle stack's writer and reader share: the
 * columns docs/FORMAT.md lists, and the optics rules (see gar_stack_impl.h). */
#include "gar_stack_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Optics groups of one stack must share a pixel size to this relative
 * tolerance: values come from STAR files printed with limited precision. */
#define PIXEL_SIZE_RTOL 1e-6

const coldef gar_stack_particle_cols[NCOLS] = {
    {"rot_deg", GAR_COL_POSE, KIND_FLOAT, "deg", "rlnAngleRot", offsetof(gar_particle, rot_deg)},
    {"tilt_deg", GAR_COL_POSE, KIND_FLOAT, "deg", "rlnAngleTilt", offsetof(gar_particle, tilt_deg)},
    {"psi_deg", GAR_COL_POSE, KIND_FLOAT, "deg", "rlnAnglePsi", offsetof(gar_particle, psi_deg)},
    {"origin_x_A", GAR_COL_ORIGIN, KIND_FLOAT, "A", "rlnOriginXAngst",
     offsetof(gar_particle, origin_x_A)},
    {"origin_y_A", GAR_COL_ORIGIN, KIND_FLOAT, "A", "rlnOriginYAngst",
     offsetof(gar_particle, origin_y_A)},
    {"defocus_u_A", GAR_COL_CTF, KIND_FLOAT, "A", "rlnDefocusU", offsetof(gar_particle, defocus_u_A)},
    {"defocus_v_A", GAR_COL_CTF, KIND_FLOAT, "A", "rlnDefocusV", offsetof(gar_particle, defocus_v_A)},
    {"defocus_angle_deg", GAR_COL_CTF, KIND_FLOAT, "deg", "rlnDefocusAngle",
     offsetof(gar_particle, defocus_angle_deg)},
    {"phase_shift_deg", GAR_COL_PHASE_SHIFT, KIND_FLOAT, "deg", "rlnPhaseShift",
     offsetof(gar_particle, phase_shift_deg)},
    {"half_set", 0, KIND_INT, "1", "rlnRandomSubset", offsetof(gar_particle, half_set)},
    {"optics_group", 0, KIND_INT, "1", "rlnOpticsGroup", offsetof(gar_particle, optics_group)},
};

/* Written by garner simulate with a realism option; no STAR label. */
const coldef gar_stack_sim_cols[NSIM] = {
    {"sim_junk", 0, KIND_INT, "1", "", 0},
    {"sim_scale", 0, KIND_FLOAT, "1", "", 0},
};

const coldef gar_stack_optics_cols[NOPT] = {
    {"optics_group", 0, KIND_INT, "1", "rlnOpticsGroup", offsetof(gar_optics, group)},
    {"name", 0, KIND_STRING, "", "rlnOpticsGroupName", offsetof(gar_optics, name)},
    {"pixel_size_A", 0, KIND_FLOAT, "A", "rlnImagePixelSize", offsetof(gar_optics, pixel_size_A)},
    {"voltage_kV", 0, KIND_FLOAT, "kV", "rlnVoltage", offsetof(gar_optics, voltage_kV)},
    {"cs_mm", 0, KIND_FLOAT, "mm", "rlnSphericalAberration", offsetof(gar_optics, cs_mm)},
    {"amplitude_contrast", 0, KIND_FLOAT, "1", "rlnAmplitudeContrast",
     offsetof(gar_optics, amplitude_contrast)},
    {"image_size", 0, KIND_INT, "px", "rlnImageSize", offsetof(gar_optics, image_size)},
};

static int cmp_group_ix(const void *a, const void *b)
{
    int32_t x = ((const group_ix *)a)->group, y = ((const group_ix *)b)->group;
    return (x > y) - (x < y);
}

const gar_optics *gar_stack_find_group(const gar_optics *optics, const group_ix *ix, size_t n,
                                       int32_t group)
{
    group_ix key = {group, 0};
    const group_ix *hit = bsearch(&key, ix, n, sizeof *ix, cmp_group_ix);
    return hit ? &optics[hit->index] : NULL;
}

/* The optics rules shared by writer and reader, so garner never writes a stack
 * it would refuse to read. Builds the sorted group index. */
gar_status gar_stack_check_optics(const char *path, const gar_optics *o, size_t n, size_t box,
                                  group_ix **out)
{
    group_ix *ix = NULL;
    gar_status st;
    *out = NULL;
    if (n == 0)
        return gar_error(GAR_ERR_DATA, "%s: /optics: no optics groups, expected at least one", path);
    for (size_t i = 0; i < n; i++) {
        const gar_optics *g = &o[i];
        if (g->group < 1)
            return gar_error(GAR_ERR_DATA, "%s: /optics/optics_group: entry %zu is %d, expected >= 1",
                             path, i, (int)g->group);
        if (memchr(g->name, '\0', sizeof g->name) == NULL)
            return gar_error(GAR_ERR_DATA,
                             "%s: /optics/name: group %d: name is not NUL-terminated within %d bytes",
                             path, (int)g->group, NAME_LEN);
        if (!isfinite(g->pixel_size_A) || g->pixel_size_A <= 0)
            return gar_error(GAR_ERR_DATA,
                             "%s: /optics/pixel_size_A: group %d has %g, expected a finite value > 0",
                             path, (int)g->group, g->pixel_size_A);
        if (fabs(g->pixel_size_A - o[0].pixel_size_A) > PIXEL_SIZE_RTOL * o[0].pixel_size_A)
            return gar_error(GAR_ERR_DATA,
                             "%s: /optics/pixel_size_A: group %d has %g A but group %d has %g A; "
                             "garner needs one pixel size per stack",
                             path, (int)g->group, g->pixel_size_A, (int)o[0].group,
                             o[0].pixel_size_A);
        if (!isfinite(g->voltage_kV) || g->voltage_kV <= 0)
            return gar_error(GAR_ERR_DATA,
                             "%s: /optics/voltage_kV: group %d has %g, expected a finite value > 0",
                             path, (int)g->group, g->voltage_kV);
        if (!isfinite(g->cs_mm))
            return gar_error(GAR_ERR_DATA,
                             "%s: /optics/cs_mm: group %d has %g, expected a finite value", path,
                             (int)g->group, g->cs_mm);
        if (!isfinite(g->amplitude_contrast) || g->amplitude_contrast < 0 ||
            g->amplitude_contrast >= 1)
            return gar_error(GAR_ERR_DATA,
                             "%s: /optics/amplitude_contrast: group %d has %g, expected 0 <= value < 1",
                             path, (int)g->group, g->amplitude_contrast);
        if (g->image_size < 0 || (size_t)g->image_size != box)
            return gar_error(GAR_ERR_DATA,
                             "%s: /optics/image_size: group %d has %d, expected %zu (the image box)",
                             path, (int)g->group, (int)g->image_size, box);
    }
    st = gar_alloc((void **)&ix, n, sizeof *ix, "optics group index");
    if (st != GAR_OK)
        return st;
    for (size_t i = 0; i < n; i++) {
        ix[i].group = o[i].group;
        ix[i].index = i;
    }
    qsort(ix, n, sizeof *ix, cmp_group_ix);
    for (size_t i = 1; i < n; i++)
        if (ix[i].group == ix[i - 1].group) {
            st = gar_error(GAR_ERR_DATA, "%s: /optics/optics_group: group %d appears twice", path,
                           (int)ix[i].group);
            free(ix);
            return st;
        }
    *out = ix;
    return GAR_OK;
}

gar_status gar_stack_check_value(const char *path, const coldef *d, size_t idx, double v, double box_A)
{
    const int defocus = d->offset == offsetof(gar_particle, defocus_u_A) ||
                        d->offset == offsetof(gar_particle, defocus_v_A);
    if (!isfinite(v))
        return gar_error(GAR_ERR_DATA, "%s: /particles/%s: particle %zu has %g, expected a finite value", path,
                         d->name, idx, v);
    if (d->group == GAR_COL_CTF && defocus && !(v > 0 && v < GAR_STACK_MAX_DEFOCUS_A))
        return gar_error(GAR_ERR_DATA,
                         "%s: /particles/%s: particle %zu has %g Å, expected a defocus in (0, %g) Å "
                         "(underfocus positive, RELION's convention)",
                         path, d->name, idx, v, GAR_STACK_MAX_DEFOCUS_A);
    if (d->group == GAR_COL_ORIGIN && !(fabs(v) <= 0.5 * box_A))
        return gar_error(GAR_ERR_DATA,
                         "%s: /particles/%s: particle %zu has %g Å, expected at most half the image "
                         "(%g Å) from its centre",
                         path, d->name, idx, v, 0.5 * box_A);
    return GAR_OK;
}
