/* garner: which particles are junk, from two per-particle signs measured at
 * the best pose (docs/ARCHITECTURE.md "Junk"): the contrast scale a (low for
 * empty ice or a particle lost in noise) and the misfit M, the residual's
 * standardised χ² (high for signal the reference does not explain: another
 * protein, an aggregate). Each is put in units of the set's own robust
 * spread, so the rule needs no threshold tuned to a data set:
 *     u = max(0, (median ln a − ln a) / σ_ln a),
 *     m = max(0, (M − median M) / σ_M),
 * and a particle is junk when u² + m² > z². */
#ifndef GAR_JUNK_H
#define GAR_JUNK_H

#include <stddef.h>
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_junk_rule {
    double z;                                   /* <= 0: nothing is junk */
    double log_scale_median, log_scale_sigma;   /* of ln a (a clipped at 1e-6) */
    double misfit_median, misfit_sigma;
} gar_junk_rule;

/* The rule for the particles' scales and misfits, [0 .. n) each, at z
 * standard deviations. */
gar_status gar_junk_rule_fit(const double *scale, const double *misfit, size_t n, double z, gar_junk_rule *rule);

/* Whether a particle of this scale and misfit is junk under the rule. */
int gar_junk_is(const gar_junk_rule *rule, double scale, double misfit);

/* The scale below which a particle is junk whatever its misfit (0 when
 * nothing is junk), and the misfit above which it is junk whatever its
 * scale (+inf when nothing is): where the rule's boundary meets the axes. */
double gar_junk_scale_threshold(const gar_junk_rule *rule);
double gar_junk_misfit_threshold(const gar_junk_rule *rule);

#ifdef __cplusplus
}
#endif
#endif
