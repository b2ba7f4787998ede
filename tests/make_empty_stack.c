/* Test helper: write a valid garner stack holding no particles (for the
 * bad-input tests of the commands). Usage: make_empty_stack OUT.h5 */
#include <stdio.h>

#include "gar_stack.h"

int main(int argc, char **argv)
{
    gar_optics o = {1, "og", 3.0, 300.0, 2.7, 0.1, 64};
    gar_stack_writer *w = NULL;
    if (argc != 2)
        return 64;
    if (gar_stack_writer_create(argv[1], 64, &o, 1, GAR_COL_POSE | GAR_COL_CTF, "test", &w) != GAR_OK ||
        gar_stack_writer_commit(&w) != GAR_OK) {
        fprintf(stderr, "%s\n", gar_errmsg());
        return 1;
    }
    return 0;
}
