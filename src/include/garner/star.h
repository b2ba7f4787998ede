/* garner public API: STAR files (RELION 3.1).
 *
 * A STAR file is a list of data blocks ("data_optics", "data_particles", ...);
 * each holds either a loop (labels then rows) or label/value pairs (read as a
 * one-row table). Empty tables are valid, as RELION writes them: a loop with
 * labels and no rows is a table of 0 rows; a loop_ with no labels, or a block
 * with nothing in it, is one of 0 columns and 0 rows (callers that need rows
 * check gar_star_rows). Comments (#) and blank lines are ignored, except that a
 * blank line after a loop's rows ends it; fields are separated by whitespace;
 * a field may be quoted with ' or " (the quotes are removed; a quote closes
 * only where whitespace or the end of the line follows it).
 * Errors (GAR_ERR_DATA) name the file, line and what was expected: a row with
 * too few or too many fields, a row before a loop's labels or after the blank
 * line that ended its rows, a label outside a block or repeated, a second
 * table in one block, a repeated block, no block at all.
 * A missing file is GAR_ERR_NOINPUT. Labels are stored without the leading '_'.
 * Tables and strings returned are owned by the gar_star and valid until it is
 * destroyed. */
#ifndef GARNER_STAR_H
#define GARNER_STAR_H

#include <stddef.h>
#include <garner/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gar_star gar_star;
typedef struct gar_star_table gar_star_table;

/* Read and parse a whole file; the caller owns *out (gar_star_destroy). */
gar_status gar_star_read(const char *path, gar_star **out);
void gar_star_destroy(gar_star **star);  /* NULL-safe; sets *star to NULL */
const char *gar_star_path(const gar_star *star);

/* The block named `name` without the "data_" prefix ("optics", "particles";
 * "" for a bare "data_"); NULL if absent. */
const gar_star_table *gar_star_block(const gar_star *star, const char *name);
/* Every block in file order: i in [0, gar_star_nblocks). */
size_t gar_star_nblocks(const gar_star *star);
const gar_star_table *gar_star_block_at(const gar_star *star, size_t i);
const char *gar_star_block_name(const gar_star_table *t);  /* without "data_" */
size_t gar_star_rows(const gar_star_table *t);
int gar_star_ncols(const gar_star_table *t);
const char *gar_star_label(const gar_star_table *t, int col);
/* Column index of a label such as "rlnAngleRot" (no '_'); -1 if absent. */
int gar_star_column(const gar_star_table *t, const char *label);
/* The text of a cell; the table owns it. */
const char *gar_star_cell(const gar_star_table *t, size_t row, int col);
/* A cell as a finite number; GAR_ERR_DATA naming file, line, label and the text
 * when it is not one (e.g. "particles.star:42: rlnAngleRot: expected a number, got 'abc'"). */
gar_status gar_star_cell_double(const gar_star *star, const gar_star_table *t, size_t row, int col,
                                double *out);
gar_status gar_star_cell_int(const gar_star *star, const gar_star_table *t, size_t row, int col,
                             long *out);
/* The line number of a row, for messages. */
long gar_star_row_line(const gar_star_table *t, size_t row);

/* Split a RELION image name "000012@stacks/a.mrcs" into a 0-based index (11)
 * and a path resolved against the STAR file's folder when relative. A name with
 * no '@' is a single image (index 0). The caller frees *path. */
gar_status gar_star_image_name(const gar_star *star, const char *name, size_t *index, char **path);

#ifdef __cplusplus
}
#endif
#endif
