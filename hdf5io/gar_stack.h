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
#define GAR_STACK_MIN_BOX 4       /* the reconstructor's smallest (gar_recon_create) */
#define GAR_STACK_MAX_OPTICS 1000000 /* optics groups; more is refused as corrupt */

/* The rules of gar_stack_open for an HDF5 file image in memory (`len` bytes;
 * copied, so buf may be freed at once); `name` stands for the file in
 * messages. Reads go to the copy. gar_stack_open and this share every check. */
gar_status gar_stack_open_image(const void *buf, size_t len, const char *name, gar_stack **out);

/* The stacks opened from files share a budget of file descriptors: past it,
 * the least recently used release their HDF5 ids and reopen on their next
 * read (gar_stack_read.c, "the open-file pool"). The budget is half the
 * soft RLIMIT_NOFILE, at most 256; this sets it (0: back to that default),
 * for tests. Not thread-safe, like the reads. */
void gar_stack_set_open_limit(size_t files);

/* Why the images' HDF5 chunking makes reads slow (chunks much smaller than
 * an image, or compressed chunks of many images larger than the chunk
 * cache), with the h5repack command that fixes it; "" for a good layout.
 * Such a stack reads correctly: this is advice for a warning. */
const char *gar_stack_layout_advice(const gar_stack *s);

/* ---- the ground truth of a simulated stack ----
 * Two optional columns garner simulate writes when a realism option is on
 * (docs/FORMAT.md, docs/SIMULATE.md), both or neither:
 *   /particles/sim_junk    int32: 0 a particle of the map, 1 junk: another
 *                          protein, 2 junk: empty ice
 *   /particles/sim_scale   float64: the contrast scale applied (1 without
 *                          scatter, 0 for empty ice)
 * Readers that do not know them ignore them. */
enum { GAR_STACK_SIM_PARTICLE = 0, GAR_STACK_SIM_PROTEIN = 1, GAR_STACK_SIM_ICE = 2 };

/* Add the two columns to a new stack, before its first append; from then on
 * every append goes through gar_stack_writer_append_sim. */
gar_status gar_stack_writer_add_sim_truth(gar_stack_writer *w);
/* gar_stack_writer_append with the ground truth of the `count` particles
 * (junk in {0, 1, 2}, scale finite and >= 0; both arrays required). */
gar_status gar_stack_writer_append_sim(gar_stack_writer *w, const float *images, const gar_particle *meta,
                                       const int32_t *junk, const double *scale, size_t count);

/* How many particles are in half set `half` (1 or 2): the half_set column
 * is held in memory from gar_stack_open, so this reads nothing. */
size_t gar_stack_half_count(const gar_stack *s, int half);

/* 1 when the stack has the ground-truth columns, else 0. */
int gar_stack_has_sim_truth(const gar_stack *s);
/* The ground truth of particles [first, first+count): junk and scale
 * (either may be NULL: not read). GAR_ERR_NOINPUT, and nothing read, when
 * the stack has no such columns (not simulated with a realism option);
 * GAR_ERR_DATA for a value out of range or a checksum failure. */
gar_status gar_stack_read_sim_truth(gar_stack *s, size_t first, size_t count, int32_t *junk, double *scale);

#ifdef __cplusplus
}
#endif
#endif
