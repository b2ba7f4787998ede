/* garner refine: the noise model, the contrast scales and the junk
 * (docs/ARCHITECTURE.md, "Noise model and pose score").
 *
 * Before the first iteration rank 0 estimates σ² from the background of a
 * sample of the particles (it needs no poses); after every pass the
 * residuals of all particles at their best poses replace it over the
 * search's band (gar_search, gar_noise_update). The residual sums are added
 * exactly (gar_exactsum), so the model, and so the next search, are the same
 * whatever order the shards were done in. Rank 0 then judges the pass's
 * particles: one is junk when the log of its contrast scale lies more than
 * [refine] junk_sigma robust standard deviations (1.4826 × the median
 * absolute deviation) below the median, or its misfit as far above the
 * median (docs/ARCHITECTURE.md, "Junk"); junk is left out of the next pass's
 * reconstruction. The contrast scales a pass inserts with are raw (measured
 * against its reference, whose amplitude is arbitrary); the median u of the
 * kept particles' raw scales then makes them relative (median 1) and scales
 * the pass's maps by u, so that the next reference has the amplitude of the
 * median particle and its raw scales have median about 1 (a fixed point:
 * dividing by the previous pass's median instead makes the amplitude
 * oscillate from pass to pass). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gar_exactsum.h"
#include "gar_image.h"
#include "gar_junk.h"
#include "gar_log.h"
#include "gar_mpi.h"
#include "gar_plot.h"
#include "gar_stack.h"
#include "gar_stats.h"
#include "refine_impl.h"

/* Blocks of consecutive particles the background estimate reads, and their size. */
#define NOISE_SAMPLE_BLOCKS 128
#define NOISE_SAMPLE_BLOCK 16

gar_status refine_noise_create(gar_refine *r)
{
    gar_status st;
    int32_t groups[4096];
    if (r->f->score != GAR_SCORE_WHITENED)
        return GAR_OK;
    if (r->n_optics > 4096)
        return gar_error(GAR_ERR_DATA, "%zu optics groups: at most 4096", r->n_optics);
    for (size_t i = 0; i < r->n_optics; i++)
        groups[i] = r->optics[i].group;
    if ((st = gar_noise_create(groups, r->n_optics, r->n_shells, &r->noise)) != GAR_OK ||
        (st = gar_exactsum_create(gar_noise_sum_count(r->noise), 1, &r->noise_acc)) != GAR_OK)
        return st;
    return gar_alloc((void **)&r->noise_rows, (size_t)r->set->reconstruct.batch,
                     2 * r->n_shells * sizeof(float), "noise sums");
}

/* The accumulator's values into sums (count floats): reduced over the ranks
 * onto rank 0 (collective) when `reduce`, else this process's own. */
static gar_status noise_totals(gar_refine *r, int reduce, float *sums, size_t count)
{
    gar_status st;
    int64_t *limbs = NULL;
    if (reduce)
        return gar_mpi_reduce_exact(r->noise_acc, 0, sums, count, 0, (size_t)64 << 20, 1);
    if ((st = gar_alloc((void **)&limbs, count, GAR_EXACT_LIMBS * sizeof *limbs, "noise sums")) == GAR_OK &&
        (st = gar_exactsum_pack(r->noise_acc, 0, NULL, count, limbs, 1)) == GAR_OK)
        gar_exactsum_unpack(limbs, count, sums, 1);
    free(limbs);
    return st;
}

/* Rank 0: the background sums of a block of particles of one stack. */
static gar_status background_block(gar_refine *r, size_t k, size_t first, size_t count, float *images,
                                   gar_particle *meta, gar_fft2 *fft, float *row)
{
    gar_status st;
    gar_stack *stack = gar_inputs_stack(r->in, k);
    const size_t N = r->box, npix = N * N, S = r->n_shells;
    if ((st = gar_stack_read_images(stack, first, count, images)) != GAR_OK ||
        (st = gar_inputs_read_meta(r->in, k, first, count, meta)) != GAR_OK)
        return st;
    for (size_t i = 0; i < count; i++) {
        const long g = gar_noise_index(r->noise, meta[i].optics_group);
        float *img = images + i * npix;
        if (g < 0 || !gar_image_is_finite(img, npix))
            continue;   /* the pass reports such particles */
        if (r->set->input.normalize)
            gar_image_normalise(img, N, gar_image_background_radius(N), NULL);
        memset(row, 0, 2 * S * sizeof *row);
        gar_noise_background_sums(fft, img, N, r->mask_px, S, row);
        if ((st = gar_exactsum_add(r->noise_acc, (size_t)g * 2 * S, row, 2 * S)) != GAR_OK)
            return gar_error_context(st, "%s: particle %zu", gar_stack_path(stack), first + i);
    }
    return GAR_OK;
}

/* Rank 0: the model from the background of NOISE_SAMPLE_BLOCKS blocks spread
 * evenly over the particles (all of them, for a small set). */
static gar_status background_estimate(gar_refine *r)
{
    gar_status st = GAR_OK;
    const size_t N = r->box, count = gar_noise_sum_count(r->noise);
    const size_t blocks = (r->n + NOISE_SAMPLE_BLOCK - 1) / NOISE_SAMPLE_BLOCK < NOISE_SAMPLE_BLOCKS
                              ? (r->n + NOISE_SAMPLE_BLOCK - 1) / NOISE_SAMPLE_BLOCK
                              : NOISE_SAMPLE_BLOCKS;
    float *images = NULL, *row = NULL, *sums = NULL;
    gar_particle *meta = NULL;
    gar_fft2 *fft = NULL;
    size_t seen = 0;
    gar_exactsum_clear(r->noise_acc);
    if ((st = gar_alloc((void **)&images, NOISE_SAMPLE_BLOCK, N * N * sizeof(float), "noise sample")) != GAR_OK ||
        (st = gar_alloc((void **)&meta, NOISE_SAMPLE_BLOCK, sizeof *meta, "noise sample")) != GAR_OK ||
        (st = gar_alloc((void **)&row, 2 * r->n_shells, sizeof *row, "noise sample")) != GAR_OK ||
        (st = gar_alloc((void **)&sums, count, sizeof *sums, "noise sums")) != GAR_OK ||
        (st = gar_fft2_create(N, &fft)) != GAR_OK)
        goto done;
    for (size_t b = 0; b < blocks && st == GAR_OK; b++) {
        /* Global index of the block's first particle, then its stack. */
        size_t at = blocks > 1 ? (size_t)((double)b * (double)(r->n - NOISE_SAMPLE_BLOCK) / (double)(blocks - 1)) : 0;
        size_t k = 0;
        if (at + NOISE_SAMPLE_BLOCK > r->n)
            at = r->n > NOISE_SAMPLE_BLOCK ? r->n - NOISE_SAMPLE_BLOCK : 0;
        while (k + 1 < gar_inputs_n_stacks(r->in) && r->stack_base[k + 1] <= at)
            k++;
        gar_stack *stack = gar_inputs_stack(r->in, k);
        const size_t first = at - r->stack_base[k], left = gar_stack_count(stack) - first;
        const size_t cnt = left < NOISE_SAMPLE_BLOCK ? left : NOISE_SAMPLE_BLOCK;
        st = background_block(r, k, first, cnt, images, meta, fft, row);
        seen += cnt;
    }
    if (st != GAR_OK)
        goto done;
    if ((st = noise_totals(r, 0, sums, count)) != GAR_OK)
        goto done;
    if ((st = gar_noise_update(r->noise, sums, r->n_shells)) == GAR_OK)
        gar_log_info("noise model: from the background (outside a %.0f Å circle) of %zu particles", 2 * r->mask_px * r->px,
                     seen);
done:
    gar_fft2_destroy(&fft);
    free(images);
    free(meta);
    free(row);
    free(sums);
    return st;
}

gar_status refine_noise_start(gar_refine *r)
{
    gar_status st = GAR_OK;
    if (r->noise == NULL)
        return GAR_OK;
    if (r->rank == 0)
        st = background_estimate(r);
    return gar_mpi_agree_report(st, r->size);
}

gar_status refine_noise_add(gar_refine *r, const gar_particle *meta, size_t count)
{
    gar_status st;
    const size_t S = r->n_shells;
    for (size_t i = 0; i < count; i++) {
        const long g = gar_noise_index(r->noise, meta[i].optics_group);
        if (g < 0)
            return gar_error(GAR_ERR_INTERNAL, "no noise model row for optics group %d", meta[i].optics_group);
        if ((st = gar_exactsum_add(r->noise_acc, (size_t)g * 2 * S, r->noise_rows + i * 2 * S, 2 * S)) != GAR_OK)
            return gar_error_context(st, "noise sums");
    }
    return GAR_OK;
}

gar_status refine_noise_update(gar_refine *r, double band)
{
    gar_status st;
    const size_t count = gar_noise_sum_count(r->noise);
    float *sums = NULL;
    /* Shells wholly inside the band: s + 1/2 <= band. */
    const size_t n_update = (size_t)floor(band - 0.5) + 1;
    /* Zeroed: the reduction adds each rank's sums to it. */
    if ((st = gar_calloc((void **)&sums, count, sizeof *sums, "noise sums")) != GAR_OK)
        return st;
    st = noise_totals(r, r->size > 1, sums, count);
    if (st == GAR_OK && r->rank == 0)
        st = gar_noise_update(r->noise, sums, n_update);
    gar_exactsum_clear(r->noise_acc);
    free(sums);
    return st;
}

gar_status refine_judge(gar_refine *r)
{
    gar_status st;
    gar_junk_rule rule;
    double *scale = NULL, *misfit = NULL, unit;
    size_t n = 0, junk = 0;
    if (r->n == 0)
        return GAR_OK;
    if ((st = gar_alloc((void **)&scale, r->n, sizeof *scale, "scales")) != GAR_OK ||
        (st = gar_alloc((void **)&misfit, r->n, sizeof *misfit, "misfits")) != GAR_OK)
        goto done;
    for (size_t i = 0; i < r->n; i++) {
        scale[i] = r->poses[i].scale;
        misfit[i] = r->poses[i].misfit;
    }
    /* Junk by its low contrast and high misfit together (gar_junk.h). */
    if ((st = gar_junk_rule_fit(scale, misfit, r->n, r->f->junk_sigma, &rule)) != GAR_OK)
        goto done;
    for (size_t i = 0; i < r->n; i++) {
        gar_pose *q = &r->poses[i];
        q->junk = gar_junk_is(&rule, q->scale, q->misfit);
        junk += (size_t)q->junk;
        if (!q->junk)
            scale[n++] = q->scale;
    }
    /* The scales' unit: the median kept particle's. */
    unit = gar_quantile(scale, n, 0.5);
    if (!(unit > 0) || !isfinite(unit))
        unit = 1.0;
    for (size_t i = 0; i < r->n; i++)
        r->poses[i].scale /= unit;
    r->state.junk_threshold = rule.z > 0 ? gar_junk_scale_threshold(&rule) / unit : -INFINITY;
    r->state.misfit_threshold = gar_junk_misfit_threshold(&rule);
    r->state.scale_median = unit;
    r->map_gain = r->raw_scales ? unit : 1.0;
    r->state.junk_count = junk;
done:
    free(scale);
    free(misfit);
    return st;
}

double refine_insert_scale_cap(const gar_refine *r, int searched)
{
    /* Raw scales are clipped at 10 times the last pass's median. */
    return 10.0 * (searched && r->state.scale_median > 0 ? r->state.scale_median : 1.0);
}

float refine_insert_scale(gar_refine *r, const gar_pose *q, int searched)
{
    const double cap = refine_insert_scale_cap(r, searched);
    if (q->junk)
        return 0.0f;
    /* The first pass's reference is the initial map: its scales mean little. */
    if (!r->f->contrast_scale || (searched && r->state.iteration == 0))
        return 1.0f;
    r->raw_scales = searched;
    return q->scale > 0 ? (float)fmin(q->scale, cap) : 0.0f;
}

gar_status refine_noise_write_csv(const gar_refine *r, const char *path)
{
    FILE *f;
    const size_t G = gar_noise_groups(r->noise), S = gar_noise_shells(r->noise);
    if ((f = fopen(path, "w")) == NULL)
        return gar_error(GAR_ERR_OUTPUT, "%s: cannot create", path);
    fprintf(f, "shell,resolution_A");
    for (size_t g = 0; g < G; g++)
        fprintf(f, ",sigma2_optics_group_%d", gar_noise_group_id(r->noise, g));
    fprintf(f, "\n");
    for (size_t s = 0; s < S; s++) {
        if (s > 0)
            fprintf(f, "%zu,%.4f", s, r->box * r->px / (double)s);
        else
            fprintf(f, "0,inf");
        for (size_t g = 0; g < G; g++)
            fprintf(f, ",%.6g", gar_noise_sigma2(r->noise, g)[s]);
        fprintf(f, "\n");
    }
    if (fclose(f) != 0)
        return gar_error(GAR_ERR_IO, "%s: write failed", path);
    return GAR_OK;
}

gar_status refine_noise_share(gar_refine *r)
{
    gar_status st = GAR_OK;
    double *row = NULL;
    if (r->noise == NULL || r->size == 1)
        return GAR_OK;
    if ((st = gar_alloc((void **)&row, r->n_shells, sizeof *row, "noise model")) != GAR_OK)
        return st;
    for (size_t g = 0; g < gar_noise_groups(r->noise) && st == GAR_OK; g++) {
        memcpy(row, gar_noise_sigma2(r->noise, g), r->n_shells * sizeof *row);
        if ((st = gar_mpi_bcast_bytes(row, r->n_shells * sizeof *row, 0)) == GAR_OK)
            st = gar_noise_set(r->noise, g, row);
    }
    free(row);
    return st;
}

void refine_noise_destroy(gar_refine *r)
{
    gar_noise_destroy(&r->noise);
    gar_exactsum_destroy(&r->noise_acc);
    free(r->noise_rows);
    r->noise_rows = NULL;
}

void refine_apply_gain(const gar_refine *r, gar_map *m)
{
    if (r->map_gain == 1.0 || m == NULL)
        return;
    const float g = (float)r->map_gain;
    for (size_t k = 0; k < gar_map_voxels(m); k++)
        m->data[k] *= g;
}

gar_status refine_noise_write_png(const gar_refine *r, const char *path)
{
    gar_status st;
    const size_t G = gar_noise_groups(r->noise), S = gar_noise_shells(r->noise);
    double *all = NULL;
    if ((st = gar_alloc((void **)&all, G * S, sizeof *all, "noise picture")) != GAR_OK)
        return st;
    for (size_t g = 0; g < G; g++)
        memcpy(all + g * S, gar_noise_sigma2(r->noise, g), S * sizeof *all);
    st = gar_plot_noise(path, all, G, S, r->box, r->px, "garner refine: noise spectrum");
    free(all);
    return st;
}
