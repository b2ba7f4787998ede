/* garner phantom, the run: a pseudo-atomic test map with exact point-group
 * symmetry (the command line: src/cli/cmd_phantom.c). */
#ifndef GAR_RUN_PHANTOM_H
#define GAR_RUN_PHANTOM_H

#include <stddef.h>
#include <stdint.h>
#include "gar_status.h"

typedef struct gar_phantom_request {
    const char *symmetry;      /* point group: C<n>, D<n>, T, O or I */
    size_t box;                /* even, >= 16 */
    double pixel_size_A;       /* > 0 */
    uint64_t seed;             /* the map depends only on it */
    size_t atoms;              /* in the asymmetric unit before copying; 0: about 600 in all */
    const char *out;           /* the MRC map to write (atomically) */
    int overwrite;             /* replace an existing `out` */
} gar_phantom_request;

/* Check the symmetry and `out`, make the phantom and write it, logging what
 * it makes. The caller owns the request. */
gar_status gar_run_phantom(const gar_phantom_request *req);

#endif
