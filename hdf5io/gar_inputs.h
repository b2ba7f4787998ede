/* garner: the list of particle stacks a run reads ([input] stacks), opened
 * together and checked for consistency: every stack has the same box and
 * pixel size (a run cannot mix them), and the particles of all stacks form
 * one global index 0..total-1 in list order. */
#ifndef GAR_INPUTS_H
#define GAR_INPUTS_H

#include <stddef.h>
#include "gar_particle.h"
#include "gar_stack.h"
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_inputs gar_inputs;

/* Open every path (metadata only). Errors name the stack and, for a mismatch,
 * the first stack it disagrees with. A list whose stacks hold no particle at
 * all is GAR_ERR_DATA. */
gar_status gar_inputs_open(const char *const *paths, size_t n_paths, gar_inputs **out);
void gar_inputs_close(gar_inputs **in);   /* NULL-safe */
/* Both half sets hold particles, over all stacks: a gold-standard run
 * (reconstruct, refine) needs both, and learnt it only after inserting every
 * particle. GAR_ERR_DATA naming the stacks and the empty half. Reads
 * nothing (the half sets are in memory). */
gar_status gar_inputs_check_halves(const gar_inputs *in);
size_t gar_inputs_count(const gar_inputs *in);       /* particles in all stacks */
size_t gar_inputs_box(const gar_inputs *in);
double gar_inputs_pixel_size(const gar_inputs *in);
size_t gar_inputs_n_stacks(const gar_inputs *in);
gar_stack *gar_inputs_stack(gar_inputs *in, size_t i);
/* Column groups present in every stack (intersection of GAR_COL_* masks). */
unsigned gar_inputs_columns(const gar_inputs *in);

/* Which stack holds global particle `index`, and its index there. */
gar_status gar_inputs_locate(const gar_inputs *in, size_t index, size_t *stack, size_t *local);

/* Whether every pixel of an image is finite. */
int gar_image_is_finite(const float *image, size_t npix);

#ifdef __cplusplus
}
#endif
#endif
