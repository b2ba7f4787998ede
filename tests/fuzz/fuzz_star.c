/* Fuzz target: the STAR parser (gar_star_parse_buffer), every accessor on
 * what it accepts, and the RELION 3.1 checks the import applies to a parsed
 * file before it reads any image (gar_import_check_star: data_particles,
 * data_optics, columns, every row's numbers, optics group and image name).
 *
 * The input is the text of a STAR file. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gar_import.h"
#include "gar_star.h"

static void walk_table(const gar_star *s, const gar_star_table *t)
{
    size_t rows = gar_star_rows(t);
    int ncols = gar_star_ncols(t);
    if (gar_star_block_name(t) == NULL)
        gar_fuzz_fail("star", "a block without a name");
    for (int c = 0; c < ncols; c++) {
        const char *label = gar_star_label(t, c);
        if (label == NULL)
            gar_fuzz_fail("star", "a column without a label");
        /* Labels are unique within a block (a repeat is refused). A label
         * written "__x" is stored as "_x", which gar_star_column, forgiving
         * a leading '_', looks up as "x": only other labels are checked. */
        if (label[0] != '_' && gar_star_column(t, label) != c)
            gar_fuzz_fail("star", label);
    }
    if (gar_star_label(t, ncols) != NULL || gar_star_label(t, -1) != NULL ||
        gar_star_cell(t, rows, 0) != NULL || gar_star_cell(t, 0, ncols) != NULL ||
        gar_star_row_line(t, rows) != -1)
        gar_fuzz_fail("star", "an accessor answered outside the table");
    for (size_t r = 0; r < rows; r++) {
        if (gar_star_row_line(t, r) < 1)
            gar_fuzz_fail("star", "a row without a line number");
        for (int c = 0; c < ncols; c++) {
            const char *cell = gar_star_cell(t, r, c);
            double d;
            long l;
            size_t index;
            char *path = NULL;
            if (cell == NULL)
                gar_fuzz_fail("star", "a missing cell inside the table");
            (void)strlen(cell);
            gar_star_cell_double(s, t, r, c, &d);
            gar_star_cell_int(s, t, r, c, &l);
            if (gar_star_image_name(s, cell, &index, &path) == GAR_OK) {
                if (path == NULL)
                    gar_fuzz_fail("star", "an image name without a path");
                free(path);
            } else if (path != NULL) {
                gar_fuzz_fail("star", "a refused image name left a path");
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gar_star *s = NULL;
    size_t rows = 0;
    gar_status st = gar_star_parse_buffer((const char *)data, size, "fuzz/particles.star", &s);
    gar_fuzz_note("star", st);
    if (st != GAR_OK) {
        if (s != NULL)
            gar_fuzz_fail("star", "a refused file left a handle");
        return 0;
    }
    if (gar_star_nblocks(s) == 0)
        gar_fuzz_fail("star", "accepted a file without blocks");
    for (size_t i = 0; i < gar_star_nblocks(s); i++) {
        const gar_star_table *t = gar_star_block_at(s, i);
        if (gar_star_block(s, gar_star_block_name(t)) != t)
            gar_fuzz_fail("star", "block names are not unique");
        walk_table(s, t);
    }
    st = gar_import_check_star(s, &rows);
    gar_fuzz_note("star import", st);
    if (st == GAR_OK && rows != gar_star_rows(gar_star_block(s, "particles")))
        gar_fuzz_fail("star", "the import's row count disagrees with the table");
    gar_star_destroy(&s);
    return 0;
}
