/* garner fuzz targets: the libFuzzer entry point every target defines.
 * scripts/fuzz builds each target with clang -fsanitize=fuzzer,address,undefined;
 * `make check` builds the same files with replay.c as main and runs them on
 * their seed corpus (tests/fuzz/corpus/<target>/), so the corpus, and every
 * crash found and fixed (kept there as a regression case), is checked on
 * every build, with any compiler. */
#ifndef GAR_FUZZ_H
#define GAR_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant: print it and abort, so that libFuzzer and the replay
 * both report a crash with the input that caused it. */
void gar_fuzz_fail(const char *what, const char *detail) __attribute__((noreturn));

/* With GAR_FUZZ_VERBOSE set in the environment, print what the parser said
 * about the input (to check that a seed reaches what it was written for). */
void gar_fuzz_note(const char *target, int status);

#endif
