#include "gar_rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t gar_mix64(uint64_t x)
{
    uint64_t state = x;
    return splitmix64(&state);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void gar_rng_init(gar_rng *rng, uint64_t seed, uint64_t stream)
{
    /* Mix seed and stream through splitmix so nearby (seed, stream) pairs give
     * unrelated states. */
    uint64_t x = seed ^ (0x632be59bd9b4e019ULL * (stream + 1));
    x = splitmix64(&x);
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
    rng->have_spare = 0;
    rng->spare = 0.0;
}

uint64_t gar_rng_next(gar_rng *rng)
{
    uint64_t *s = rng->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double gar_rng_uniform(gar_rng *rng) { return (gar_rng_next(rng) >> 11) * 0x1.0p-53; }

double gar_rng_normal(gar_rng *rng)
{
    double u, v, s;
    if (rng->have_spare) {
        rng->have_spare = 0;
        return rng->spare;
    }
    do {
        u = 2.0 * gar_rng_uniform(rng) - 1.0;
        v = 2.0 * gar_rng_uniform(rng) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    s = sqrt(-2.0 * log(s) / s);
    rng->spare = v * s;
    rng->have_spare = 1;
    return u * s;
}
