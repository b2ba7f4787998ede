/* Test helper: compare two MRC maps.
 *   compare_maps A.mrc B.mrc TOL   exit 0 if the relative L2 difference
 *                                  |A − B| / |A| is at most TOL (prints it);
 *   compare_maps A.mrc B.mrc same  exit 0 if they are bitwise identical;
 *   compare_maps A.mrc B.mrc corr MASK.mrc
 *                                  print the real-space correlation of A and
 *                                  B weighted by the mask (Pearson, about the
 *                                  weighted means), exit 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gar_mrc.h"
#include "testutil.h"

int main(int argc, char **argv)
{
    gar_map *a = NULL, *b = NULL, *m = NULL;
    double rel;
    size_t n;
    int rc = 1;
    if (argc != 4 && !(argc == 5 && strcmp(argv[3], "corr") == 0))
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
    if (strcmp(argv[3], "corr") == 0) {
        double sw = 0, sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, ma, mb;
        if (gar_mrc_read(argv[4], &m) != GAR_OK || gar_map_voxels(m) != n) {
            fprintf(stderr, "%s: cannot read, or not the maps' size\n", argv[4]);
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            double w = m->data[i];
            sw += w;
            sa += w * a->data[i];
            sb += w * b->data[i];
        }
        ma = sa / sw;
        mb = sb / sw;
        for (size_t i = 0; i < n; i++) {
            double w = m->data[i], da = a->data[i] - ma, db = b->data[i] - mb;
            saa += w * da * da;
            sbb += w * db * db;
            sab += w * da * db;
        }
        printf("%.6f\n", sab / sqrt(saa * sbb));
        rc = 0;
        goto done;
    }
    rel = test_rel_l2(a->data, b->data, n);
    printf("relative L2 difference %.3g (tolerance %s)\n", rel, argv[3]);
    rc = rel <= atof(argv[3]) ? 0 : 1;
done:
    /* Freed so that the sanitizer build's leak check passes. */
    gar_map_destroy(&a);
    gar_map_destroy(&b);
    gar_map_destroy(&m);
    return rc;
}
