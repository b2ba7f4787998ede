/* garner: the list of particle stacks a run reads ([input] stacks), opened
 * together and checked for consistency: every stack has the same box and
 * pixel size (a run cannot mix them), and the particles of all stacks form
 * one global index 0..total-1 in list order.
 *
 * Optics groups are numbered per stack (two stacks may both have a group 1
 * of different voltage, Cs or amplitude contrast), so the list builds one
 * run-wide optics table, the union over the stacks, and maps each stack's
 * group g to a run-wide group (docs/FORMAT.md, "Several stacks in one run"):
 *   - the first stack's groups keep their numbers;
 *   - a later stack's group g keeps g when no earlier stack has a group g,
 *     or shares it when the earlier group g is the same (name, pixel size,
 *     voltage, Cs, amplitude contrast, image size, all exactly equal);
 *   - otherwise it gets a new number above every group number of every
 *     stack in the list (logged: "optics group 1 is run-wide group 3").
 * Metadata read through gar_inputs_read_meta carries the run-wide number, so
 * the reconstruction, the pose search, the noise model and the export all
 * see each particle with its own stack's optics without knowing of stacks. */
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

/* The run-wide optics table (owned by the list, valid until it is closed):
 * what gar_recon_config.optics and the noise model take. */
const gar_optics *gar_inputs_optics(const gar_inputs *in, size_t *n_optics);
/* Where run-wide entry i (< n_optics) comes from: the first stack that has
 * it, and its index in that stack's own optics table (gar_stack_optics). */
void gar_inputs_optics_source(const gar_inputs *in, size_t i, size_t *stack, size_t *index);
/* Stack `stack`'s optics group `group` as a run-wide group number, and its
 * entry (either output may be NULL). GAR_ERR_DATA, naming the stack, when
 * the stack has no such group. */
gar_status gar_inputs_group(const gar_inputs *in, size_t stack, int32_t group, int32_t *run_group,
                            const gar_optics **optics);
/* gar_stack_read_meta of stack `stack` (particles [first, first+count) of
 * that stack), with every optics_group rewritten to its run-wide number.
 * The run layer reads metadata only this way. */
gar_status gar_inputs_read_meta(gar_inputs *in, size_t stack, size_t first, size_t count, gar_particle *out);

/* Which stack holds global particle `index`, and its index there. */
gar_status gar_inputs_locate(const gar_inputs *in, size_t index, size_t *stack, size_t *local);

/* Whether every pixel of an image is finite. */
int gar_image_is_finite(const float *image, size_t npix);

#ifdef __cplusplus
}
#endif
#endif
