/* Test helper: copy a garner stack with its optics groups renumbered, through
 * the public stack reader and writer (so the copy is a stack garner itself
 * could write). tests/optics.sh uses it for a second stack whose group
 * numbers the first stack lacks.
 *   renumber_optics IN.h5 OUT.h5 ADD   every group g (in /optics and in each
 *                                      particle's optics_group) becomes g + ADD
 * Images, metadata and the other optics values are copied as they are. */
#include <stdio.h>
#include <stdlib.h>

#include "gar_stack.h"

int main(int argc, char **argv)
{
    gar_stack *in = NULL;
    gar_stack_writer *w = NULL;
    gar_optics *optics = NULL;
    gar_particle *meta = NULL;
    float *images = NULL;
    size_t n, box, n_optics;
    long add;
    gar_status st;
    int rc = 1;
    if (argc != 4) {
        fprintf(stderr, "usage: renumber_optics IN.h5 OUT.h5 ADD\n");
        return 64;
    }
    add = strtol(argv[3], NULL, 10);
    if ((st = gar_stack_open(argv[1], &in)) != GAR_OK)
        goto done;
    n = gar_stack_count(in);
    box = gar_stack_box(in);
    {
        const gar_optics *o = gar_stack_optics(in, &n_optics);
        if ((st = gar_alloc((void **)&optics, n_optics, sizeof *optics, "optics")) != GAR_OK)
            goto done;
        for (size_t i = 0; i < n_optics; i++) {
            optics[i] = o[i];
            optics[i].group = (int32_t)(o[i].group + add);
        }
    }
    if ((st = gar_alloc((void **)&images, n ? n : 1, box * box * sizeof *images, "images")) != GAR_OK ||
        (st = gar_alloc((void **)&meta, n ? n : 1, sizeof *meta, "metadata")) != GAR_OK ||
        (st = gar_stack_read_images(in, 0, n, images)) != GAR_OK ||
        (st = gar_stack_read_meta(in, 0, n, meta)) != GAR_OK)
        goto done;
    for (size_t i = 0; i < n; i++)
        meta[i].optics_group = (int32_t)(meta[i].optics_group + add);
    if ((st = gar_stack_writer_create(argv[2], box, optics, n_optics, gar_stack_columns(in), "renumber_optics",
                                      &w)) != GAR_OK ||
        (st = gar_stack_writer_append(w, images, meta, n)) != GAR_OK ||
        (st = gar_stack_writer_commit(&w)) != GAR_OK)
        goto done;
    rc = 0;
done:
    if (rc != 0)
        fprintf(stderr, "renumber_optics: %s\n", gar_errmsg());
    gar_stack_writer_abort(&w);
    gar_stack_close(&in);
    free(optics);
    free(meta);
    free(images);
    return rc;
}
