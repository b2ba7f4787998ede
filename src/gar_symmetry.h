/* garner: point-group symmetry (C_n, D_n, T, O, I), with the group
 * definitions and axis conventions of RELION's --sym (I means I2), so maps
 * and poses move between the two programs unchanged.
 *
 * The operators R are rotation matrices (row-major 3x3) with V(R x) = V(x) for
 * a symmetric map; operator 0 is the identity. The group is generated from its
 * generators and closed under multiplication, so the list is exactly the group. */
#ifndef GAR_SYMMETRY_H
#define GAR_SYMMETRY_H

#include <stddef.h>
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_symmetry gar_symmetry;

/* Parse a name: C<n>, D<n> (n >= 1; lower case accepted), T, O, I (= I2), I2.
 * Anything else is GAR_ERR_USAGE: "unknown symmetry 'X5' (expected C<n>, D<n>,
 * T, O or I)". */
gar_status gar_symmetry_create(const char *name, gar_symmetry **out);
void gar_symmetry_destroy(gar_symmetry **s);   /* NULL-safe */
const char *gar_symmetry_name(const gar_symmetry *s);   /* canonical: "D7", "I" */
size_t gar_symmetry_order(const gar_symmetry *s);
/* Operator i (0 <= i < order), row-major 3x3; operator 0 is the identity. */
const double *gar_symmetry_matrix(const gar_symmetry *s, size_t i);
/* Every operator, order × 9 doubles one after another (the reconstructor's
 * sym_ops). */
const double *gar_symmetry_matrices(const gar_symmetry *s);

/* Angle in degrees between two particle orientations modulo the group. Pose
 * A and pose A·Rᵀ give the same projection of a symmetric map, so this is the
 * smallest rotation angle between A·Rᵀ and B over all operators R (the pose
 * error of a symmetric particle). */
double gar_symmetry_angle_between(const gar_symmetry *s, const double A[9], const double B[9]);

#ifdef __cplusplus
}
#endif
#endif
