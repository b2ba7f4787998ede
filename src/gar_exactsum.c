#include "gar_exactsum.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Values are 128-bit two's complement integers kept as two uint64 words
 * (low, high) rather than as __int128, so the module is plain C11 and the
 * carry and overflow rules are written out where they are used. */
struct gar_exactsum {
    size_t n;
    int threads;
    uint64_t *v; /* 2·n words: value i is v[2i] + 2^64·v[2i+1] */
};

#define LIMB_BITS 43
#define LIMB_MASK ((UINT64_C(1) << LIMB_BITS) - 1)
/* |x| <= 2^62: the bit pattern of the float 2^62 (exponent 62 + 127, no mantissa). */
#define MAX_BITS UINT32_C(0x5e800000)
/* Below this many values a loop runs on one thread: starting a team costs more. */
#define PARALLEL_MIN 65536

size_t gar_exactsum_bytes(size_t n) { return n <= SIZE_MAX / GAR_EXACT_BYTES ? n * GAR_EXACT_BYTES : 0; }

gar_status gar_exactsum_create(size_t n, int threads, gar_exactsum **out)
{
    gar_status st;
    gar_exactsum *a = NULL;
    *out = NULL;
    if (threads < 1)
        return gar_error(GAR_ERR_INTERNAL, "exact sum: %d threads", threads);
    if ((st = gar_calloc((void **)&a, 1, sizeof *a, "exact sum")) != GAR_OK)
        return st;
    if ((st = gar_calloc((void **)&a->v, n ? n : 1, GAR_EXACT_BYTES, "exact sum accumulator")) != GAR_OK) {
        free(a);
        return st;
    }
    a->n = n;
    a->threads = threads;
    *out = a;
    return GAR_OK;
}

void gar_exactsum_destroy(gar_exactsum **a)
{
    if (a == NULL || *a == NULL)
        return;
    free((*a)->v);
    free(*a);
    *a = NULL;
}

size_t gar_exactsum_count(const gar_exactsum *a) { return a->n; }

void gar_exactsum_clear(gar_exactsum *a) { memset(a->v, 0, a->n * GAR_EXACT_BYTES); }

/* x·2^64 into (*lo, *hi), rounded to the nearest integer, ties to even.
 * 0 for NaN, infinity or |x| > 2^62. */
static int to_fixed(float x, uint64_t *lo, uint64_t *hi)
{
    uint32_t bits, mag, e;
    uint64_t m, l, h;
    int s;
    memcpy(&bits, &x, sizeof bits);
    mag = bits & UINT32_C(0x7fffffff);
    if (mag > MAX_BITS)
        return 0;
    e = mag >> 23;
    m = mag & UINT32_C(0x7fffff);
    if (e != 0)
        m |= UINT32_C(0x800000);
    /* x = m·2^(e−150) (subnormals: e taken as 1), so x·2^64 = m·2^s. */
    s = (e != 0 ? (int)e : 1) - 150 + GAR_EXACT_FRAC_BITS;
    if (s >= 64) {
        l = 0;
        h = m << (s - 64);   /* s <= 103: m·2^s < 2^127 */
    } else if (s > 0) {
        l = m << s;
        h = m >> (64 - s);
    } else if (s == 0) {
        l = m;
        h = 0;
    } else if (-s >= 25) {
        l = h = 0;           /* m < 2^24: less than half of 2^-64 */
    } else {
        int r = -s;
        uint64_t q = m >> r, rem = m & ((UINT64_C(1) << r) - 1), half = UINT64_C(1) << (r - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++;
        l = q;
        h = 0;
    }
    if (bits >> 31) {        /* two's complement negation */
        l = ~l + 1;
        h = ~h + (l == 0);
    }
    *lo = l;
    *hi = h;
    return 1;
}

/* (*lo, *hi) += (bl, bh); 0 (and no change) if the signed sum leaves 128 bits. */
static int add128(uint64_t *lo, uint64_t *hi, uint64_t bl, uint64_t bh)
{
    uint64_t l = *lo + bl, h = *hi + bh + (l < bl);
    /* Signed overflow: both operands of one sign and the sum of the other
     * (the overflow flag of an add with carry). */
    if ((~(*hi ^ bh) & (*hi ^ h)) >> 63)
        return 0;
    *lo = l;
    *hi = h;
    return 1;
}

/* floor(h / 2^s) for h read as a signed 64-bit integer (no implementation-
 * defined conversion or shift of a negative value). */
static int64_t floor_shift(uint64_t h, int s)
{
    if (h >> 63)
        return -(int64_t)(~h >> s) - 1;
    return (int64_t)(h >> s);
}

/* The error for the first failing index `bad`: x[bad] itself out of range,
 * or else the sum it was added to (`what`). */
static gar_status report(size_t bad, size_t offset, const float *x, const char *what)
{
    uint64_t lo, hi;
    if (x != NULL && !to_fixed(x[bad], &lo, &hi))
        return gar_error(GAR_ERR_DATA, "exact sum: value %g at %zu is %s (the fixed-point range is |x| <= "
                         "2^62 = 4.6e18)", (double)x[bad], offset + bad, isfinite(x[bad]) ? "too large" : "not finite");
    return gar_error(GAR_ERR_DATA, "exact sum: the %s at %zu passes 2^63 = 9.2e18", what, offset + bad);
}

gar_status gar_exactsum_add(gar_exactsum *a, size_t offset, const float *x, size_t count)
{
    size_t bad = count;
    uint64_t *v = a->v + 2 * offset;
    if (offset > a->n || count > a->n - offset)
        return gar_error(GAR_ERR_INTERNAL, "exact sum: values %zu..%zu of %zu", offset, offset + count, a->n);
#pragma omp parallel for num_threads(a->threads) if (count >= PARALLEL_MIN) schedule(static) reduction(min : bad)
    for (size_t i = 0; i < count; i++) {
        uint64_t lo, hi;
        if (x[i] == 0.0f)
            continue;        /* most of a shard's volume: nothing to add */
        if (!to_fixed(x[i], &lo, &hi) || !add128(&v[2 * i], &v[2 * i + 1], lo, hi))
            bad = i < bad ? i : bad;
    }
    return bad < count ? report(bad, offset, x, "running sum") : GAR_OK;
}

gar_status gar_exactsum_pack(const gar_exactsum *a, size_t offset, const float *x, size_t count,
                             int64_t *limbs, int threads)
{
    size_t bad = count;
    const uint64_t *v = a != NULL ? a->v + 2 * offset : NULL;
    if (a != NULL && (offset > a->n || count > a->n - offset))
        return gar_error(GAR_ERR_INTERNAL, "exact sum: values %zu..%zu of %zu", offset, offset + count, a->n);
#pragma omp parallel for num_threads(threads) if (count >= PARALLEL_MIN) schedule(static) reduction(min : bad)
    for (size_t i = 0; i < count; i++) {
        uint64_t lo = v != NULL ? v[2 * i] : 0, hi = v != NULL ? v[2 * i + 1] : 0, xl, xh;
        if (x != NULL && (!to_fixed(x[i], &xl, &xh) || !add128(&lo, &hi, xl, xh))) {
            bad = i < bad ? i : bad;
            continue;
        }
        limbs[3 * i] = (int64_t)(lo & LIMB_MASK);
        limbs[3 * i + 1] = (int64_t)(((lo >> LIMB_BITS) | (hi << (64 - LIMB_BITS))) & LIMB_MASK);
        limbs[3 * i + 2] = floor_shift(hi, 2 * LIMB_BITS - 64);
    }
    return bad < count ? report(bad, offset, x, "sum with the accumulator") : GAR_OK;
}

/* w >> pos, the low 64 bits, for a 192-bit w (pos < 192). */
static uint64_t bits_from(const uint64_t w[3], int pos)
{
    int k = pos / 64, b = pos % 64;
    uint64_t r = w[k] >> b;
    if (b != 0 && k < 2)
        r |= w[k + 1] << (64 - b);
    return r;
}

/* Whether any bit of w below pos is set. */
static int any_below(const uint64_t w[3], int pos)
{
    for (int k = 0; k < 3 && pos > 0; k++, pos -= 64) {
        uint64_t mask = pos >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << pos) - 1;
        if (w[k] & mask)
            return 1;
    }
    return 0;
}

/* The float nearest to (l2·2^86 + l1·2^43 + l0)·2^-64 (ties to even), for
 * limb sums of at most 2^20 packs: l0, l1 >= 0 (sums of values in [0, 2^43)),
 * |l2| < 2^61. */
static float limbs_to_float(const int64_t *l)
{
    uint64_t t0 = (uint64_t)l[0], t1 = (uint64_t)l[1], a, b0, b1, w[3];
    int64_t t2 = l[2];
    int neg, top;
    float f;
    /* Carries: t0, t1 into [0, 2^43), the rest into the signed top limb. */
    t1 += t0 >> LIMB_BITS;
    t0 &= LIMB_MASK;
    t2 += (int64_t)(t1 >> LIMB_BITS);
    t1 &= LIMB_MASK;
    /* The magnitude, a·2^86 + b1·2^43 + b0 with b0, b1 in [0, 2^43). */
    neg = t2 < 0;
    if (!neg) {
        a = (uint64_t)t2, b1 = t1, b0 = t0;
    } else if (t0 == 0 && t1 == 0) {
        a = (uint64_t)(-(t2 + 1)) + 1, b1 = 0, b0 = 0;
    } else {
        /* −(t2·2^86 + r) = (−t2 − 1)·2^86 + (2^86 − r) for 0 < r < 2^86 */
        a = (uint64_t)(-(t2 + 1));
        b0 = (UINT64_C(1) << LIMB_BITS) - t0;
        b1 = (UINT64_C(1) << LIMB_BITS) - t1 - (t0 != 0);
        b0 &= LIMB_MASK;
    }
    w[0] = b0 | (b1 << LIMB_BITS);
    w[1] = (b1 >> (64 - LIMB_BITS)) | (a << (2 * LIMB_BITS - 64));
    w[2] = a >> (128 - 2 * LIMB_BITS);
    if (w[2] != 0)
        top = 128 + 63 - __builtin_clzll(w[2]);
    else if (w[1] != 0)
        top = 64 + 63 - __builtin_clzll(w[1]);
    else if (w[0] != 0)
        top = 63 - __builtin_clzll(w[0]);
    else
        return 0.0f;
    if (top < 24) {
        f = ldexpf((float)w[0], -GAR_EXACT_FRAC_BITS);   /* fewer than 24 bits: exact */
    } else {
        /* The 24 bits from the top, then round to nearest, ties to even. The
         * result, q·2^(shift−64) with q <= 2^24, is a normal float (at least
         * 2^-41, below 2^86), so ldexpf is exact. */
        int shift = top - 23;
        uint64_t q = bits_from(w, shift) & UINT64_C(0xffffff);
        if ((bits_from(w, shift - 1) & 1) && ((q & 1) || any_below(w, shift - 1)))
            q++;
        f = ldexpf((float)q, shift - GAR_EXACT_FRAC_BITS);
    }
    return neg ? -f : f;
}

void gar_exactsum_unpack(const int64_t *limbs, size_t count, float *x, int threads)
{
#pragma omp parallel for num_threads(threads) if (count >= PARALLEL_MIN) schedule(static)
    for (size_t i = 0; i < count; i++)
        x[i] = limbs_to_float(limbs + 3 * i);
}
