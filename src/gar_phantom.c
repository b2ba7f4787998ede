#include "gar_phantom.h"

#include <math.h>
#include <stdlib.h>

#include "gar_kernels.h"
#include "gar_rng.h"

/* Atoms lie in a shell between these fractions of the box around the centre:
 * away from the centre so the copies of an atom are distinct, and inside
 * 0.3 box, pulled in where need be so that with their 4σ tails the density
 * stays inside PH_R_DENSITY: every rotation of the map then fits in the box. */
#define PH_R_MIN 0.05
#define PH_R_MAX 0.30
#define PH_R_DENSITY 0.45
/* Gaussians are cut off at this many σ (exp(-8) ≈ 3e-4 of the peak). The
 * cut-off is a sphere, not a cube, so the truncated density is still exactly
 * symmetric. */
#define PH_CUTOFF_SIGMAS 4.0
/* The automatic atom count aims at about this many atoms in the whole map,
 * with at least PH_MIN_ATOMS in the asymmetric unit. */
#define PH_TARGET_ATOMS 600
#define PH_MIN_ATOMS 8
/* More atoms than this is a mistake, not a phantom. */
#define PH_MAX_TOTAL_ATOMS 10000000

typedef struct ph_atom {
    double x, y, z;   /* pixels from the centre voxel */
    double w;
} ph_atom;

/* A point uniform in the shell r0 <= r <= r1 (uniform in volume). */
static void random_in_shell(gar_rng *rng, double r0, double r1, double p[3])
{
    double u = gar_rng_uniform(rng);
    double r = cbrt(r0 * r0 * r0 + u * (r1 * r1 * r1 - r0 * r0 * r0));
    double cz = 2.0 * gar_rng_uniform(rng) - 1.0;
    double a = 2.0 * GAR_PI * gar_rng_uniform(rng);
    double sz = sqrt(1.0 - cz * cz);
    p[0] = r * sz * cos(a);
    p[1] = r * sz * sin(a);
    p[2] = r * cz;
}

/* Add every atom's Gaussian to section z. Each voxel sums the atoms in list
 * order whatever the thread count, so the map depends only on the seed. */
static void render_section(const ph_atom *atoms, size_t natoms, size_t box, double sigma, size_t z,
                           float *section)
{
    const double c = (double)(box / 2);
    const double rc = PH_CUTOFF_SIGMAS * sigma, rc2 = rc * rc;
    const double inv2s2 = 1.0 / (2.0 * sigma * sigma);
    const double dz = (double)z - c;
    for (size_t a = 0; a < natoms; a++) {
        const ph_atom *at = &atoms[a];
        double ez = dz - at->z, ez2 = ez * ez;
        double rxy;
        long y0, y1, x0, x1;
        if (ez2 > rc2)
            continue;
        /* One voxel of slack each way: the distance test alone decides, so
         * an atom and its copy treat mirrored voxels alike even at the edge. */
        rxy = sqrt(rc2 - ez2);
        y0 = (long)floor(c + at->y - rxy);
        y1 = (long)ceil(c + at->y + rxy);
        x0 = (long)floor(c + at->x - rxy);
        x1 = (long)ceil(c + at->x + rxy);
        if (y0 < 0)
            y0 = 0;
        if (x0 < 0)
            x0 = 0;
        if (y1 > (long)box - 1)
            y1 = (long)box - 1;
        if (x1 > (long)box - 1)
            x1 = (long)box - 1;
        for (long y = y0; y <= y1; y++) {
            double ey = (double)y - c - at->y;
            double d2y = ey * ey + ez2;
            float *row = section + (size_t)y * box;
            for (long x = x0; x <= x1; x++) {
                double ex = (double)x - c - at->x;
                double d2 = ex * ex + d2y;
                if (d2 <= rc2)
                    row[x] += (float)(at->w * exp(-d2 * inv2s2));
            }
        }
    }
}

gar_status gar_phantom_create(const gar_phantom_config *cfg, const gar_symmetry *sym, gar_map **out)
{
    gar_status st = GAR_OK;
    gar_map *map = NULL;
    ph_atom *atoms = NULL;
    size_t order, nasym, natoms, nvox, box;
    double sigma, r0, r1, sum = 0.0, sum2 = 0.0, mean, sd;
    gar_rng rng;

    if (out == NULL || cfg == NULL || sym == NULL)
        return gar_error(GAR_ERR_INTERNAL, "gar_phantom_create: NULL argument");
    *out = NULL;
    box = cfg->box;
    if (box < 16 || box % 2 != 0)
        return gar_error(GAR_ERR_USAGE, "phantom box %zu: expected an even size of at least 16", box);
    if (!(cfg->pixel_size_A > 0) || !isfinite(cfg->pixel_size_A))
        return gar_error(GAR_ERR_USAGE, "phantom pixel size %g: expected a positive number of Å",
                         cfg->pixel_size_A);
    if (!(cfg->atom_sigma_A >= 0) || !isfinite(cfg->atom_sigma_A))
        return gar_error(GAR_ERR_USAGE, "phantom atom width %g: expected a positive σ in Å (or 0: automatic)",
                         cfg->atom_sigma_A);
    sigma = cfg->atom_sigma_A > 0 ? cfg->atom_sigma_A / cfg->pixel_size_A
                                  : fmax(1.5, 1.5 / cfg->pixel_size_A);
    /* Narrower than a tenth of a pixel the atoms fall between voxels and the
     * map is mostly empty; too wide, no room is left to place them. */
    if (sigma < 0.1 || PH_CUTOFF_SIGMAS * sigma > (PH_R_DENSITY - PH_R_MIN) * (double)box)
        return gar_error(GAR_ERR_USAGE, "phantom atom width %.4g px: expected 0.1 to %.4g pixels for a box "
                         "of %zu", sigma, (PH_R_DENSITY - PH_R_MIN) * (double)box / PH_CUTOFF_SIGMAS, box);

    order = gar_symmetry_order(sym);
    nasym = cfg->atoms;
    if (nasym == 0) {
        nasym = PH_TARGET_ATOMS / order;
        if (nasym < PH_MIN_ATOMS)
            nasym = PH_MIN_ATOMS;
    }
    if (!gar_size_mul(nasym, order, &natoms) || natoms > PH_MAX_TOTAL_ATOMS)
        return gar_error(GAR_ERR_USAGE, "phantom of %zu atoms × %zu operators: expected at most %d atoms "
                         "in all", nasym, order, PH_MAX_TOTAL_ATOMS);

    if ((st = gar_alloc((void **)&atoms, natoms, sizeof *atoms, "phantom atoms")) != GAR_OK ||
        (st = gar_map_create(box, box, box, cfg->pixel_size_A, &map)) != GAR_OK)
        goto done;

    /* The asymmetric-unit atoms first, then each one's copies R·p, so the
     * random draws (and thus the atoms) do not depend on the operator order. */
    gar_rng_init(&rng, cfg->seed, 0);
    r0 = PH_R_MIN * (double)box;
    r1 = fmin(PH_R_MAX * (double)box, PH_R_DENSITY * (double)box - PH_CUTOFF_SIGMAS * sigma);
    for (size_t i = 0; i < nasym; i++) {
        double p[3], q[3];
        double w;
        random_in_shell(&rng, r0, r1, p);
        w = 0.5 + gar_rng_uniform(&rng);
        for (size_t k = 0; k < order; k++) {
            ph_atom *at = &atoms[i * order + k];
            gar_mat3_apply(gar_symmetry_matrix(sym, k), p, q);
            at->x = q[0];
            at->y = q[1];
            at->z = q[2];
            at->w = w;
        }
    }

    nvox = gar_map_voxels(map);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1)
#endif
    for (size_t z = 0; z < box; z++)
        render_section(atoms, natoms, box, sigma, z, map->data + z * box * box);

    /* Two passes: the map is mostly empty background, and the one-pass
     * formula would lose digits to cancellation. */
    for (size_t v = 0; v < nvox; v++)
        sum += map->data[v];
    mean = sum / (double)nvox;
    for (size_t v = 0; v < nvox; v++) {
        double d = map->data[v] - mean;
        sum2 += d * d;
    }
    sd = sqrt(sum2 / (double)nvox);
    if (!(sd > 0)) {
        st = gar_error(GAR_ERR_INTERNAL, "phantom of %zu atoms in a %zu box is empty", natoms, box);
        goto done;
    }
    for (size_t v = 0; v < nvox; v++)
        map->data[v] = (float)((map->data[v] - mean) / sd);
    *out = map;
    map = NULL;
done:
    free(atoms);
    gar_map_destroy(&map);
    return st;
}
