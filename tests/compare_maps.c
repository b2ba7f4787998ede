/* Test helper: compare two MRC maps.
 *   compare_maps A.mrc B.mrc TOL   exit 0 if the relative L2 difference
 *                                  |A − B| / |A| is at most TOL (prints it);
 *   compare_maps A.mrc B.mrc same  exit 0 if they are bitwise identical. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gar_mrc.h"
#include "testutil.h"

int main(int argc, char **argv)
{
    gar_map *a = NULL, *b = NULL;
    double rel;
    size_t n;
    int rc = 1;
    if (argc != 4)
        return 64;
    if (gar_mrc_read(argv[1], &a) != GAR_OK || gar_mrc_read(argv[2], &b) != GAR_OK) {
        fprintf(stderr, "%s\n", gar_errmsg());
        goto done;
    }
    n = gar_map_voxels(a);
    if (n != gar_map_voxels(b))
        goto done;
    if (strcmp(argv[3], "same") == 0) {
        int same = memcmp(a->data, b->data, n * sizeof(float)) == 0;
        printf("%s and %s are %sbitwise identical\n", argv[1], argv[2], same ? "" : "not ");
        rc = same ? 0 : 1;
        goto done;
    }
    rel = test_rel_l2(a->data, b->data, n);
    printf("relative L2 difference %.3g (tolerance %s)\n", rel, argv[3]);
    rc = rel <= atof(argv[3]) ? 0 : 1;
done:
    /* Freed so that the sanitizer build's leak check passes. */
    gar_map_destroy(&a);
    gar_map_destroy(&b);
    return rc;
}
