/* garner: the partial volumes of a parallel run (see gar_partials.h). */
#include "gar_partials.h"

#include <stdlib.h>
#include <string.h>
#include "gar_exactsum.h"
#include "gar_mpi.h"

struct gar_partials {
    gar_exactsum *acc;    /* a worker's, with exact sums; NULL otherwise */
    int exact, rank, threads;
    size_t nvox;
    size_t chunk;         /* bytes per reduction call */
};

int gar_partials_exact(int reproducible, int size) { return reproducible && size >= 3; }

/* The values an accumulator holds for volumes of nvox voxels: for each half
 * set the data (complex) at 3·nvox·(h−1), the weights 2·nvox further. */
static size_t exact_values(size_t nvox) { return 6 * nvox; }

size_t gar_partials_memory_bytes(size_t nvox, int exact, size_t chunk_bytes, int rank, int reduces)
{
    size_t values = exact_values(nvox), buffer = values * GAR_EXACT_LIMBS * sizeof(int64_t);
    if (!exact && !reduces)
        return 0;
    if (!exact) {
        /* gar_mpi_reduce_float_sum's buffer: the largest volume (a half
         * set's data, 2·nvox values) in doubles, at most chunk_bytes
         * (measured: a float worker's peak was 17 % above an estimate
         * without it at box 256). */
        buffer = 2 * nvox * sizeof(double);
        return buffer < chunk_bytes ? buffer : chunk_bytes;
    }
    if (buffer > chunk_bytes)
        buffer = chunk_bytes;
    return buffer + (rank != 0 ? gar_exactsum_bytes(values) : 0);
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
    if (exact && rank != 0 && (st = gar_exactsum_create(exact_values(nvox), threads, &p->acc)) != GAR_OK) {
        free(p);
        return gar_error_context(st, "[mpi] reproducible = yes (set it to no for float sums, in less memory)");
    }
    *out = p;
    return GAR_OK;
}

void gar_partials_destroy(gar_partials **p)
{
    if (p == NULL || *p == NULL)
        return;
    gar_exactsum_destroy(&(*p)->acc);
    free(*p);
    *p = NULL;
}

/* Half set h's data (complex) or weights in the view: the floats, their
 * count, and their place in the accumulator. */
static float *volume(const gar_recon_partial *v, int h, int weights, size_t *count, size_t *offset)
{
    *count = weights ? v->nvox : 2 * v->nvox;
    *offset = 3 * v->nvox * (size_t)(h - 1) + (weights ? 2 * v->nvox : 0);
    return weights ? v->weight[h - 1] : v->data[h - 1];
}

static const char *const volume_name[2] = {"data", "weights"};

/* Zero n floats on the run's threads (the volumes are large: hundreds of MB
 * at box 256). */
static void zero_floats(float *x, size_t n, int threads)
{
    const size_t block = (size_t)1 << 20;
    const long blocks = (long)((n + block - 1) / block);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long b = 0; b < blocks; b++) {
        size_t first = (size_t)b * block, len = n - first < block ? n - first : block;
        memset(x + first, 0, len * sizeof *x);
    }
}

gar_status gar_partials_fold(gar_partials *p, const gar_recon_partial *view)
{
    gar_status st;
    size_t count, offset;
    if (p->acc == NULL)
        return GAR_OK;
    if (view->nvox != p->nvox)
        return gar_error(GAR_ERR_INTERNAL, "gar_partials_fold: %zu voxels, made for %zu", view->nvox, p->nvox);
    for (int h = 1; h <= 2; h++)
        for (int w = 0; w <= 1; w++) {
            float *x = volume(view, h, w, &count, &offset);
            if ((st = gar_exactsum_add(p->acc, offset, x, count)) != GAR_OK)
                return gar_error_context(st, "half set %d %s (with [mpi] reproducible = no the sums are floats)",
                                         h, volume_name[w]);
            zero_floats(x, count, p->threads);
        }
    return GAR_OK;
}

gar_status gar_partials_reduce(gar_partials *p, gar_recon_partial *view, double *extra, size_t n_extra)
{
    gar_status st = GAR_OK;
    double sums[8];
    size_t count, offset;
    if (n_extra > 6)
        return gar_error(GAR_ERR_INTERNAL, "gar_partials_reduce: %zu extra sums", n_extra);
    if (view->nvox != p->nvox)
        return gar_error(GAR_ERR_INTERNAL, "gar_partials_reduce: %zu voxels, made for %zu", view->nvox, p->nvox);
    for (int h = 1; h <= 2; h++)
        for (int w = 0; w <= 1; w++) {
            float *x = volume(view, h, w, &count, &offset);
            if (p->exact)
                st = gar_mpi_reduce_exact(p->acc, offset, x, count, 0, p->chunk, p->threads);
            else
                st = gar_mpi_reduce_float_sum(x, count, 0, p->chunk);
            if (st != GAR_OK)
                return gar_error_context(st, "half set %d %s", h, volume_name[w]);
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

void gar_partials_clear(gar_partials *p)
{
    if (p->acc != NULL)
        gar_exactsum_clear(p->acc);
}
