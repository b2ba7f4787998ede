/* garner: exact, order-independent sums of float arrays.
 *
 * Why: float addition is not associative. Under MPI a worker sums whichever
 * shards rank 0 hands it, in an order that changes from run to run, so float
 * sums differ in their last bits between two runs with the same inputs.
 * Integer addition is associative: held as integers, the same set of terms
 * gives the same total in any order and grouping. refine's noise sums use
 * this module (small arrays, any scale); the partial volumes, far larger,
 * use 8-byte fixed point with a sized quantum (gar_fixedsum.h).
 *
 * Representation. A value x is held as the integer X = x·2^F, F = 64
 * (GAR_EXACT_FRAC_BITS), in 128-bit two's complement: |x| < 2^63. A float is
 * converted exactly when its last significant bit is at least 2^-64, that is
 * for every |x| >= 2^-41 (4.5e-13); smaller floats, subnormals included, are
 * rounded to the nearest multiple of 2^-64 (5.4e-20; ties to even), so each
 * term is off by at most 2^-65. Floats above 2^62 (4.6e18), NaN and infinity
 * are refused, and so is a running sum that would pass 2^63.
 *
 * Accumulator: 16 bytes per value (GAR_EXACT_BYTES), sums with a carry.
 *
 * Transfer form ("limbs", for MPI_Reduce with MPI_INT64_T and MPI_SUM): each
 * X is cut into GAR_EXACT_LIMBS = 3 signed 64-bit integers
 *     X = l2·2^86 + l1·2^43 + l0,   l0, l1 in [0, 2^43),  l2 in [-2^41, 2^41),
 * so the limb-wise sum of up to GAR_EXACT_MAX_TERMS = 2^20 such triples fits
 * in int64 with no carry between limbs (20 bits of headroom). 24 bytes per
 * value cross the network, three times the 8 of a double.
 *
 * Not thread-safe on one handle. The loops inside run on OpenMP threads;
 * each value is computed by one thread, so no result depends on their number. */
#ifndef GAR_EXACTSUM_H
#define GAR_EXACTSUM_H

#include <stddef.h>
#include <stdint.h>
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GAR_EXACT_FRAC_BITS 64
#define GAR_EXACT_BYTES 16
#define GAR_EXACT_LIMBS 3
#define GAR_EXACT_MAX_TERMS ((size_t)1 << 20)

typedef struct gar_exactsum gar_exactsum;

/* An accumulator of n values, all zero; gar_exactsum_add uses `threads`
 * (>= 1) OpenMP threads. */
gar_status gar_exactsum_create(size_t n, int threads, gar_exactsum **out);
/* NULL-safe; sets *a to NULL. */
void gar_exactsum_destroy(gar_exactsum **a);
/* Bytes an accumulator of n values holds (0 on overflow of size_t). */
size_t gar_exactsum_bytes(size_t n);
size_t gar_exactsum_count(const gar_exactsum *a);
/* Every value back to zero. */
void gar_exactsum_clear(gar_exactsum *a);

/* Values [offset, offset + count) += x[0 .. count). GAR_ERR_DATA, naming the
 * first bad index, for a NaN, an infinity, a float beyond 2^62 or a sum
 * beyond 2^63; the accumulator's contents are then undefined. */
gar_status gar_exactsum_add(gar_exactsum *a, size_t offset, const float *x, size_t count);

/* Limbs (GAR_EXACT_LIMBS per value, into limbs[0 .. 3·count)) of
 * a[offset + i] + x[i]: a NULL takes only x, x NULL only a, both NULL zeros.
 * Errors as for gar_exactsum_add. Uses `threads` (>= 1) OpenMP threads. */
gar_status gar_exactsum_pack(const gar_exactsum *a, size_t offset, const float *x, size_t count,
                             int64_t *limbs, int threads);

/* x[i] = the value of limbs 3i .. 3i+2, each the sum of at most
 * GAR_EXACT_MAX_TERMS packed limbs, rounded to the nearest float (ties to
 * even). Cannot fail: such a total is below 2^83, well within float range. */
void gar_exactsum_unpack(const int64_t *limbs, size_t count, float *x, int threads);

#ifdef __cplusplus
}
#endif
#endif
