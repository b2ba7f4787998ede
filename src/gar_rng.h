/* garner: a small, fast, reproducible random generator (xoshiro256**, seeded
 * by splitmix64). Each particle gets its own stream from (seed, index), so a
 * simulation gives the same stack whatever the thread count. */
#ifndef GAR_RNG_H
#define GAR_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_rng {
    uint64_t s[4];
    int have_spare;
    double spare;
} gar_rng;

/* The stream for (seed, stream): independent streams for different indices. */
void gar_rng_init(gar_rng *rng, uint64_t seed, uint64_t stream);
uint64_t gar_rng_next(gar_rng *rng);
/* SplitMix64's output for one input: a bijection of 64-bit words with good
 * mixing (hashes of (seed, index), unique ids). */
uint64_t gar_mix64(uint64_t x);
/* Uniform in [0, 1). */
double gar_rng_uniform(gar_rng *rng);
/* Standard normal (Marsaglia polar method). */
double gar_rng_normal(gar_rng *rng);

#ifdef __cplusplus
}
#endif
#endif
