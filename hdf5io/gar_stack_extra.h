/* garner: the STAR columns a stack carries for export (docs/FORMAT.md,
 * "/particles/star_extra and /optics/star_extra").
 *
 * garner import keeps every column of the source STAR file that it does not
 * read (micrograph names, coordinates, CTF B-factor and scale, class
 * numbers, beam tilt, ...) so that garner export can write them back: RELION's
 * CTF refinement, Bayesian polishing and re-extraction need them. They are
 * text, as in the STAR file, in two optional 2-D datasets of variable-length
 * UTF-8 strings, one row per particle (or optics group), one column per
 * label, the labels in the dataset's attribute `labels`. Readers that do not
 * know them ignore them. */
#ifndef GAR_STACK_EXTRA_H
#define GAR_STACK_EXTRA_H

#include <stddef.h>
#include "gar_stack.h"
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where: the particles (rows = the stack's particles) or the optics table
 * (rows = its groups, in the table's order). */
typedef enum { GAR_EXTRA_PARTICLES = 0, GAR_EXTRA_OPTICS = 1 } gar_extra_block;

/* Writes the k labels' text for every row of `block` into the stack being
 * written, before gar_stack_writer_commit; `cell(ctx, row, col)` gives the
 * text (non-NULL) of row `row` (0-based, in stack order) and label `col`.
 * Once per block; rows must be the particles appended so far (or the optics
 * groups). */
gar_status gar_stack_writer_put_extra(gar_stack_writer *w, gar_extra_block block, const char *const *labels,
                                      size_t k, size_t rows,
                                      const char *(*cell)(void *ctx, size_t row, size_t col), void *ctx);

/* The carried columns of an open stack; *out is NULL (and GAR_OK) when the
 * stack has none for `block`. */
typedef struct gar_stack_extra gar_stack_extra;
gar_status gar_stack_extra_open(gar_stack *s, gar_extra_block block, gar_stack_extra **out);
size_t gar_stack_extra_ncols(const gar_stack_extra *x);
const char *gar_stack_extra_label(const gar_stack_extra *x, size_t col);
/* Rows [first, first+count): count*k strings, row-major, each malloc'd; free
 * them with gar_stack_extra_free_cells. */
gar_status gar_stack_extra_read(gar_stack_extra *x, size_t first, size_t count, char **cells);
void gar_stack_extra_free_cells(char **cells, size_t n);
void gar_stack_extra_close(gar_stack_extra **x);  /* NULL-safe */

#ifdef __cplusplus
}
#endif
#endif
