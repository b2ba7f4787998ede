/* A program using garner as a library: reconstruct a map from a garner HDF5
 * particle stack whose particles carry poses, and write it as MRC.
 *
 *   reconstruct STACK.h5 MAP.mrc [THREADS]
 *
 * It includes only the installed public headers and builds against an
 * installed prefix with
 *
 *   cc reconstruct.c $(pkg-config --cflags --libs --static garner)
 *
 * (PKG_CONFIG_PATH=PREFIX/lib/pkgconfig when PREFIX is not a system one).
 * The settings are those of `garner reconstruct` by default (the
 * [reconstruct] keys of docs/PARAMETERS.md named below), so the map is the
 * one `garner reconstruct` writes as map.mrc with its CPU insertion
 * ([gpu] devices = none), bit for bit: insertion on the CPU gives the same
 * bits for any thread count and batch split. `make installcheck` checks it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <garner/image.h>
#include <garner/mrc.h>
#include <garner/recon.h>
#include <garner/stack.h>
#include <garner/status.h>
#include <garner/version.h>

enum { BATCH = 128 };   /* [reconstruct] batch */

static int image_is_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    gar_status st = GAR_OK;
    gar_stack *stack = NULL;
    gar_recon *rec = NULL;
    gar_map *map = NULL;
    float *images = NULL;
    gar_particle *meta = NULL;
    gar_recon_config cfg;
    size_t n, box, n_optics;
    long threads = argc > 3 ? atol(argv[3]) : sysconf(_SC_NPROCESSORS_ONLN);

    if (argc < 3 || argc > 4 || threads < 1) {
        fprintf(stderr, "usage: %s STACK.h5 MAP.mrc [THREADS]\n", argv[0]);
        return 64;
    }
    if (strcmp(gar_version(), GAR_VERSION) != 0)
        fprintf(stderr, "%s: warning: headers of garner %s, library %s\n", argv[0], GAR_VERSION, gar_version());

    if ((st = gar_stack_open(argv[1], &stack)) != GAR_OK)
        goto done;
    n = gar_stack_count(stack);
    box = gar_stack_box(stack);
    if (!(gar_stack_columns(stack) & GAR_COL_POSE) || !(gar_stack_columns(stack) & GAR_COL_CTF)) {
        fprintf(stderr, "%s: %s: the particles need poses and defocus columns\n", argv[0], argv[1]);
        st = GAR_ERR_DATA;
        goto done;
    }

    /* garner reconstruct's defaults, key by key. Fields not set (GPUs) are 0. */
    memset(&cfg, 0, sizeof cfg);
    cfg.box = box;
    cfg.pixel_size_A = gar_stack_pixel_size(stack);
    cfg.pad = 2;                   /* pad = 2 */
    cfg.max_resolution_A = 0;      /* max_resolution = 0: Nyquist */
    cfg.blob_radius = 1.9;         /* blob_radius = 1.9 */
    cfg.blob_alpha = 15;           /* blob_alpha = 15 */
    cfg.blob_order = 0;            /* blob_order = 0 */
    cfg.ctf = 1;                   /* ctf = yes */
    cfg.optics = gar_stack_optics(stack, &n_optics);
    cfg.n_optics = n_optics;
    cfg.sym_ops = NULL;            /* symmetry = C1 */
    cfg.n_ops = 0;
    cfg.sym_mode = GAR_SYM_VOLUME; /* symmetry_mode = volume */
    cfg.threads = (int)threads;    /* threads = 0: the cores (the map does not depend on it) */
    cfg.batch = BATCH;
    cfg.outer_mask = 1;            /* outer_mask = yes */
    /* [gpu] devices = none: n_gpu_devices = 0, the CPU inserts. */

    printf("garner %s: %zu particles of %zu px at %g Å/px, %ld threads, %.0f MiB\n", gar_version(), n, box,
           cfg.pixel_size_A, threads, gar_recon_memory_bytes(&cfg) / 1048576.0);
    images = malloc((size_t)BATCH * box * box * sizeof *images);
    meta = malloc((size_t)BATCH * sizeof *meta);
    if (images == NULL || meta == NULL) {
        fprintf(stderr, "%s: out of memory for a batch of %d images\n", argv[0], BATCH);
        st = GAR_ERR_NOMEM;
        goto done;
    }
    if ((st = gar_recon_create(&cfg, &rec)) != GAR_OK)
        goto done;
    for (size_t first = 0; first < n; first += BATCH) {
        size_t count = n - first < BATCH ? n - first : BATCH;
        if ((st = gar_stack_read_images(stack, first, count, images)) != GAR_OK ||
            (st = gar_stack_read_meta(stack, first, count, meta)) != GAR_OK)
            goto done;
        /* [input] nonfinite = error */
        for (size_t i = 0; i < count; i++)
            if (!image_is_finite(images + i * box * box, box * box)) {
                fprintf(stderr, "%s: %s: particle %zu: image holds NaN or Inf\n", argv[0], argv[1], first + i);
                st = GAR_ERR_DATA;
                goto done;
            }
        /* [input] normalize = yes: background plane removed, background σ 1 */
        for (size_t i = 0; i < count; i++)
            gar_image_normalise(images + i * box * box, box, gar_image_background_radius(box), NULL);
        if ((st = gar_recon_insert(rec, images, meta, count)) != GAR_OK)
            goto done;
    }
    if ((st = gar_recon_finalize(rec, 0, &map)) != GAR_OK || (st = gar_mrc_write(argv[2], map, GAR_MRC_VOLUME)) != GAR_OK)
        goto done;
    printf("%zu + %zu particles: %s\n", gar_recon_count(rec, 1), gar_recon_count(rec, 2), argv[2]);

done:
    if (st != GAR_OK && gar_errmsg()[0] != '\0')
        fprintf(stderr, "%s: %s\n", argv[0], gar_errmsg());
    gar_map_destroy(&map);
    gar_recon_destroy(&rec);
    gar_stack_close(&stack);
    free(images);
    free(meta);
    return gar_status_exit_code(st);
}
