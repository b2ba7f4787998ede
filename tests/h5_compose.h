/* Test helper: stacks made of other stacks with HDF5's own means, as users
 * make them with h5py (issue 18, cases 7 and 21): virtual datasets (VDS) and
 * external links. Plain HDF5 C API, no garner code, so the files are what
 * another program would write. Used by tests/make_test_stack.c (the
 * bad-inputs catalogue) and tests/check_stack_files.c. Each returns 0, or -1
 * with a line on stderr. */
#ifndef GAR_TEST_H5_COMPOSE_H
#define GAR_TEST_H5_COMPOSE_H

#include <stddef.h>

/* Write `out`: the root attributes and /optics of parts[0]; each dataset of
 * /particles (all of them, or only the one named `only`, the others copied
 * from parts[0]) a virtual dataset concatenating that dataset of every part
 * in order, the source files named names[k] in the mapping (a relative name
 * resolves against the folder of `out`). With `only`, give one part. */
int compose_vds(const char *out, const char *const *parts, const char *const *names, size_t nparts,
                const char *only);

/* Write `out` as a copy of `target` (root attributes, /particles, /optics)
 * in which each /particles dataset named in links[] ("/particles/images")
 * is an external link to the same path in the file `target_name` (as
 * stored; relative: to the folder of `out`) instead. */
int compose_elink(const char *out, const char *target, const char *target_name,
                  const char *const *links, size_t nlinks);

#endif
