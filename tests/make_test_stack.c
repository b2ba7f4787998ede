/* Test helper: write garner stacks that the bad-input tests need and that
 * garner itself would never write.
 *   make_test_stack empty OUT.h5   a valid stack holding no particles
 *   make_test_stack nan OUT.h5     4 particles of 64 px, particle 2 holding a NaN
 *                                  pixel (as another program might write it) */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gar_stack.h"

int main(int argc, char **argv)
{
    gar_optics o = {1, "og", 3.0, 300.0, 2.7, 0.1, 64};
    gar_stack_writer *w = NULL;
    static float images[4 * 64 * 64];
    gar_particle meta[4];
    int nan = argc == 3 && strcmp(argv[1], "nan") == 0;
    if (argc != 3 || (!nan && strcmp(argv[1], "empty") != 0)) {
        fprintf(stderr, "usage: make_test_stack empty|nan OUT.h5\n");
        return 64;
    }
    if (gar_stack_writer_create(argv[2], 64, &o, 1, GAR_COL_POSE | GAR_COL_CTF, "test", &w) != GAR_OK)
        goto fail;
    if (nan) {
        memset(meta, 0, sizeof meta);
        for (int i = 0; i < 4; i++) {
            meta[i].half_set = 1 + i % 2;
            meta[i].optics_group = 1;
            meta[i].tilt_deg = 30.0 * i;
            meta[i].defocus_u_A = meta[i].defocus_v_A = 15000.0;
        }
        for (int k = 0; k < 4 * 64 * 64; k++)
            images[k] = (float)(k % 7) - 3.0f;
        if (gar_stack_writer_append(w, images, meta, 4) != GAR_OK)
            goto fail;
    }
    if (gar_stack_writer_commit(&w) != GAR_OK)
        goto fail;
    if (nan) {
        /* Overwrite one pixel of particle 2 behind garner's back. */
        hsize_t start[3] = {2, 10, 10}, count[3] = {1, 1, 1};
        float v = NAN;
        hid_t f = H5Fopen(argv[2], H5F_ACC_RDWR, H5P_DEFAULT);
        hid_t d = H5Dopen2(f, "/particles/images", H5P_DEFAULT);
        hid_t fs = H5Dget_space(d), ms = H5Screate_simple(3, count, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
        herr_t e = H5Dwrite(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, &v);
        H5Sclose(ms);
        H5Sclose(fs);
        H5Dclose(d);
        H5Fclose(f);
        if (e < 0)
            return 1;
    }
    return 0;
fail:
    fprintf(stderr, "%s\n", gar_errmsg());
    gar_stack_writer_abort(&w);
    return 1;
}
