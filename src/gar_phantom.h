/* garner: pseudo-atomic phantoms with exact point-group symmetry, for tests
 * and for users checking a setup. Gaussian "atoms" are placed at random
 * positions in the asymmetric unit's neighbourhood and copied by every group
 * operator, so the continuous density is exactly symmetric; each voxel is the
 * analytic sum of the Gaussians at its centre. */
#ifndef GAR_PHANTOM_H
#define GAR_PHANTOM_H

#include <stddef.h>
#include <stdint.h>
#include "gar_map.h"
#include "gar_status.h"
#include "gar_symmetry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_phantom_config {
    size_t box;            /* even, >= 16 */
    double pixel_size_A;   /* > 0 */
    uint64_t seed;
    size_t atoms;          /* atoms in the asymmetric unit before copying (0: automatic) */
    double atom_sigma_A;   /* Gaussian width (0: 1.5 pixels, at least 1.5 Å) */
} gar_phantom_config;

/* A phantom of the given symmetry, its atoms (to 4σ) within 0.45 box of the centre,
 * normalised to zero mean and unit standard deviation over the box. */
gar_status gar_phantom_create(const gar_phantom_config *cfg, const gar_symmetry *sym, gar_map **out);

#ifdef __cplusplus
}
#endif
#endif
