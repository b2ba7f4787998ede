/* garner: the partial volumes of a parallel run (see gar_partials.h). */
#include "gar_partials.h"

#include <stdlib.h>
#include <string.h>
#include "gar_mpi.h"

struct gar_partials {
    int exact, rank, threads;
    size_t nvox;
    size_t chunk;            /* bytes per reduction call */
    gar_fixed_scale fixed;   /* with exact sums: the quanta */
    int fixed_set;
};

int gar_partials_exact(int reproducible, int size) { return reproducible && size >= 2; }

size_t gar_partials_memory_bytes(size_t nvox, int exact, size_t chunk_bytes, int rank, int reduces)
{
    size_t buffer;
    if (exact) {
        /* Rank 0's int64 for the largest volume (a half set's data). */
        buffer = rank == 0 ? 2 * nvox * sizeof(int64_t) : 0;
        return buffer < chunk_bytes ? buffer : chunk_bytes;
    }
    if (!reduces)
        return 0;
    /* gar_mpi_reduce_float_sum's buffer: the largest volume (a half set's
     * data, 2·nvox values) in doubles, at most chunk_bytes (measured: a
     * float worker's peak was 17 % above an estimate without it at box 256). */
    buffer = 2 * nvox * sizeof(double);
    return buffer < chunk_bytes ? buffer : chunk_bytes;
}

gar_status gar_partials_create(size_t nvox, int exact, size_t chunk_bytes, int threads, int rank,
                               gar_partials **out)
{
    gar_status st;
    gar_partials *p = NULL;
    *out = NULL;
    if ((st = gar_calloc((void **)&p, 1, sizeof *p, "partial volumes")) != GAR_OK)
        return st;
    p->exact = exact;
    p->rank = rank;
    p->threads = threads;
    p->nvox = nvox;
    p->chunk = chunk_bytes;
    *out = p;
    return GAR_OK;
}

void gar_partials_destroy(gar_partials **p)
{
    if (p == NULL || *p == NULL)
        return;
    free(*p);
    *p = NULL;
}

void gar_partials_set_fixed_scale(gar_partials *p, const gar_fixed_scale *fs)
{
    p->fixed = *fs;
    p->fixed_set = 1;
}

static const char *const volume_name[2] = {"data", "weights"};

gar_status gar_partials_reduce(gar_partials *p, gar_recon_partial *view, double *extra, size_t n_extra)
{
    gar_status st = GAR_OK;
    double sums[8];
    if (n_extra > 6)
        return gar_error(GAR_ERR_INTERNAL, "gar_partials_reduce: %zu extra sums", n_extra);
    if (view->nvox != p->nvox)
        return gar_error(GAR_ERR_INTERNAL, "gar_partials_reduce: %zu voxels, made for %zu", view->nvox, p->nvox);
    if (p->exact && (!p->fixed_set || (p->rank != 0) != (view->fixed != NULL)))
        return gar_error(GAR_ERR_INTERNAL, "gar_partials_reduce: exact sums without quanta or fixed-point volumes");
    for (int h = 0; h < 2; h++)
        for (int w = 0; w <= 1; w++) {
            const size_t count = w ? view->nvox : 2 * view->nvox;
            float *x = w ? view->weight[h] : view->data[h];
            if (p->exact)
                st = gar_mpi_reduce_fixed(w ? view->weight_fixed[h] : view->data_fixed[h], x, count,
                                          w ? p->fixed.weight_exp : p->fixed.data_exp, 0, p->chunk, p->threads);
            else
                st = gar_mpi_reduce_float_sum(x, count, 0, p->chunk);
            if (st != GAR_OK)
                return gar_error_context(st, "half set %d %s", h + 1, volume_name[w]);
        }
    sums[0] = (double)view->count[0];
    sums[1] = (double)view->count[1];
    if (n_extra > 0)
        memcpy(sums + 2, extra, n_extra * sizeof *extra);
    if ((st = gar_mpi_reduce_sum(sums, sums, 2 + n_extra, 0, sizeof sums)) != GAR_OK)
        return st;
    if (p->rank == 0) {
        view->count[0] = (size_t)sums[0];
        view->count[1] = (size_t)sums[1];
        if (n_extra > 0)
            memcpy(extra, sums + 2, n_extra * sizeof *extra);
    }
    return GAR_OK;
}
