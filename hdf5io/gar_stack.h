/* garner: the HDF5 particle stack (docs/FORMAT.md is the specification).
 *
 * The format, the writer and the reader are public: <garner/stack.h>
 * (src/include/garner/stack.h), where the layout is described. This header
 * adds the limits a reader enforces and the reader on a file image in memory
 * (the fuzz targets and tests). */
#ifndef GAR_STACK_H
#define GAR_STACK_H

#include <stddef.h>
#include <stdint.h>
#include <garner/stack.h>
#include "gar_status.h"
#include "gar_particle.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GAR_STACK_MAX_BOX 65536   /* a larger box is refused as corrupt (as for MRC) */
#define GAR_STACK_MAX_OPTICS 1000000 /* optics groups; more is refused as corrupt */

/* The rules of gar_stack_open for an HDF5 file image in memory (`len` bytes;
 * copied, so buf may be freed at once); `name` stands for the file in
 * messages. Reads go to the copy. gar_stack_open and this share every check. */
gar_status gar_stack_open_image(const void *buf, size_t len, const char *name, gar_stack **out);

#ifdef __cplusplus
}
#endif
#endif
