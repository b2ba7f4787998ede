/* Built when configure finds no CUDA: every entry point says so. */
#include <stdio.h>

#include "gar_gpu.h"

#define NOT_BUILT "this garner was built without CUDA (configure --with-cuda)"

int gar_gpu_built(void) { return 0; }

int gar_gpu_emulated(void) { return 0; }

gar_status gar_gpu_device_count(int *count)
{
    *count = 0;
    return gar_error(GAR_ERR_NOT_BUILT, NOT_BUILT);
}

int gar_gpu_absent(void) { return 1; }

gar_status gar_gpu_device_memory(int device, size_t *free_b, size_t *total_b)
{
    (void)device;
    *free_b = *total_b = 0;
    return gar_error(GAR_ERR_NOT_BUILT, "built without CUDA");
}

void gar_gpu_describe(char *buf, size_t len) { snprintf(buf, len, "built without CUDA"); }

gar_status gar_gpu_device_name(int device, char *buf, size_t len)
{
    snprintf(buf, len, "GPU %d", device);
    return gar_error(GAR_ERR_NOT_BUILT, NOT_BUILT);
}

gar_status gar_gpu_memory_need(const gar_gpu_insert_config *cfg, size_t *fixed, size_t *per_particle,
                               size_t *per_particle_other)
{
    (void)cfg;
    *fixed = *per_particle = *per_particle_other = 0;
    return gar_error(GAR_ERR_NOT_BUILT, NOT_BUILT);
}

gar_status gar_gpu_inserter_create(const gar_gpu_insert_config *cfg, gar_gpu_inserter **out)
{
    (void)cfg;
    *out = NULL;
    return gar_error(GAR_ERR_NOT_BUILT, NOT_BUILT);
}

void gar_gpu_inserter_destroy(gar_gpu_inserter **g)
{
    if (g != NULL)
        *g = NULL;
}

gar_status gar_gpu_inserter_submit(gar_gpu_inserter *g, const float *data, const gar_particle_geom *geoms,
                                   size_t count)
{
    (void)g, (void)data, (void)geoms, (void)count;
    return gar_error(GAR_ERR_NOT_BUILT, NOT_BUILT);
}

gar_status gar_gpu_inserter_collect(gar_gpu_inserter *g, const gar_gpu_sums *host)
{
    (void)g, (void)host;
    return gar_error(GAR_ERR_NOT_BUILT, NOT_BUILT);
}

const char *gar_gpu_inserter_variant(const gar_gpu_inserter *g)
{
    (void)g;
    return "none";
}

void gar_gpu_inserter_tuning_report(const gar_gpu_inserter *g, char *report, size_t len)
{
    (void)g;
    snprintf(report, len, "%s", "");
}

int gar_gpu_variant_count(void) { return 0; }

const char *gar_gpu_variant_name(int i)
{
    (void)i;
    return NULL;
}

size_t gar_gpu_scorer_memory(const gar_gpu_scorer_config *cfg)
{
    (void)cfg;
    return 0;
}

gar_status gar_gpu_scorer_create(const gar_gpu_scorer_config *cfg, gar_gpu_scorer **out)
{
    (void)cfg;
    *out = NULL;
    return gar_error(GAR_ERR_NOT_BUILT, NOT_BUILT);
}

void gar_gpu_scorer_destroy(gar_gpu_scorer **g)
{
    if (g != NULL)
        *g = NULL;
}

gar_status gar_gpu_scorer_top(gar_gpu_scorer *g, int h, const float *Y, const float *wc2, const double *normX,
                              size_t n, size_t *top, double *topv)
{
    (void)g, (void)h, (void)Y, (void)wc2, (void)normX, (void)n, (void)top, (void)topv;
    return gar_error(GAR_ERR_NOT_BUILT, NOT_BUILT);
}
