/* The inserters behind gar_recon_insert, and the CPU's scalar insertion of
 * a slice. Each inserter takes whole batches (submit) and has added their
 * sums into the host volumes once it is collected: the GPU's do so
 * asynchronously (gpu/gar_gpu.h), the CPU's at once. */
#include <stdio.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "gar_log.h"
#include "gar_recon_slice.h"

/* The gathers of a queue, each voxel's data prefetched a few voxels ahead;
 * GATHER (a statement) gathers queue entry j into voxel x. */
#define GAR_QUEUE_GATHERS(GATHER)                                                                          \
    for (int j = 0; j < qu.n; j++) {                                                                       \
        const size_t x = qu.idx[j], xp = qu.idx[j + GAR_QUEUE_PREFETCH];                                   \
        __builtin_prefetch(&G[2 * xp], 1);                                                                 \
        __builtin_prefetch(&W[xp], 1);                                                                     \
        GATHER;                                                                                            \
    }

/* The scalar kernels' COLUMN (GAR_INSERT_SLICE_BODY): each voxel of the
 * column within kmax and the blob's reach of the slice, queued. */
#define GAR_SCALAR_COLUMN                                                                                  \
    for (k[c] = lo; k[c] <= hi; k[c] += c_step) {                                                          \
        float q[3];                                                                                        \
        if (rr + (double)k[c] * k[c] > kmax2 || !gar_slice_q(g.A, k[0], k[1], k[2], r->a2, q))             \
            continue;                                                                                      \
        qu.qx[qu.n] = q[0];                                                                                \
        qu.qy[qu.n] = q[1];                                                                                \
        qu.qz[qu.n] = q[2];                                                                                \
        qu.idx[qu.n++] = vox_index(r, k[0], k[1], k[2]);                                                   \
    }

/* The reference the AVX-512 kernel is held to (tests/check_recon), and the
 * kernel of CPUs without it. */
GAR_CPU_CLONES
void gar_recon_insert_slice_scalar(const gar_recon *r, const gar_plane *plane, const double Ad[9], int t, int T,
                                   float *GAR_RESTRICT G, float *GAR_RESTRICT W)
{
    GAR_INSERT_SLICE_BODY(
        GAR_SCALAR_COLUMN,
        GAR_QUEUE_GATHERS(gar_gather_voxel(plane, qu.qx[j], qu.qy[j], qu.qz[j], r->a2, r->blob, r->inv_step,
                                           &G[2 * x], &G[2 * x + 1], &W[x])))
}

/* The same voxels, each one's contribution quantised into fixed-point sums
 * (gar_fixedsum.h): the scalar twin of the AVX-512 kernel's fixed variant. */
GAR_CPU_CLONES
void gar_recon_insert_slice_scalar_fixed(const gar_recon *r, const gar_plane *plane, const double Ad[9], int t,
                                         int T, int64_t *GAR_RESTRICT G, int64_t *GAR_RESTRICT W)
{
    const float qd = r->inv_quantum[0], qw = r->inv_quantum[1];
    GAR_INSERT_SLICE_BODY(
        GAR_SCALAR_COLUMN,
        GAR_QUEUE_GATHERS(float sre = 0.0f; float sim = 0.0f; float sw = 0.0f;
                          gar_gather_voxel(plane, qu.qx[j], qu.qy[j], qu.qz[j], r->a2, r->blob, r->inv_step,
                                           &sre, &sim, &sw);
                          G[2 * x] += gar_fixed_quantise(sre, qd); G[2 * x + 1] += gar_fixed_quantise(sim, qd);
                          W[x] += gar_fixed_quantise(sw, qw)))
}

/* On the CPU, a few planes at a time (r->plane_slots): prepared with the
 * particles in parallel, then inserted with the voxels in parallel, every
 * thread visiting the particles in order (each voxel is written by one
 * thread, so the sums do not depend on the thread count). */
static gar_status cpu_submit(gar_recon *r, gar_recon_inserter *in, const float *images, size_t count)
{
    const int T = r->threads;
    const size_t n_ops = r->cfg.sym_mode == GAR_SYM_INSERT ? r->n_ops : 1;
    const gar_recon_kernels *kern = r->kernels;
    double t0 = gar_wall_seconds();
    for (size_t first = 0; first < count; first += r->plane_slots) {
        const size_t n = count - first < r->plane_slots ? count - first : r->plane_slots;
        gar_recon_prepare_planes(r, images, first, n);
        double t2 = gar_wall_seconds();
        r->seconds[0] += t2 - t0;
#pragma omp parallel num_threads(T)
        {
            int t = 0;
#ifdef _OPENMP
            t = omp_get_thread_num();
#endif
            for (size_t i = 0; i < n; i++) {
                const gar_particle_geom *pg = &r->geoms[first + i];
                const int h = pg->half;
                const float *base = r->planes + i * 3 * r->plane_pixels;
                gar_plane pl = {base, base + r->plane_pixels, base + 2 * r->plane_pixels, r->R};
                for (size_t s = 0; s < n_ops; s++) {
                    /* Pose A and operator R: the particle is also the slice at A·Rᵀ. */
                    double As[9];
                    gar_mat3_mul_bt(pg->A, r->ops + 9 * s, As);
                    if (r->cfg.fixed_sums)
                        kern->insert_slice_fixed(r, &pl, As, t, T, r->Gq[h], r->Wq[h]);
                    else
                        kern->insert_slice(r, &pl, As, t, T, r->G[h], r->W[h]);
                }
            }
        }
        t0 = gar_wall_seconds();
        r->seconds[1] += t0 - t2;
    }
    return GAR_OK;
}

/* The sums are in the host volumes already. */
static gar_status cpu_collect(gar_recon *r, gar_recon_inserter *in) { return GAR_OK; }

static void cpu_destroy(gar_recon_inserter *in) {}

static const gar_recon_inserter_ops cpu_ops = {cpu_submit, cpu_collect, cpu_destroy};

/* The host prepares the planes unless the GPU makes them from the images;
 * the device then inserts while the next batch is read. */
static gar_status gpu_submit(gar_recon *r, gar_recon_inserter *in, const float *images, size_t count)
{
    gar_status st;
    const int planes_on_host = !r->cfg.gpu_fft;
    double t0 = gar_wall_seconds();
    if (planes_on_host)
        gar_recon_prepare_planes(r, images, 0, count);
    double t1 = gar_wall_seconds();
    r->seconds[0] += t1 - t0;
    if ((st = gar_gpu_inserter_submit(in->gpu, planes_on_host ? r->planes : images, r->geoms, count)) != GAR_OK)
        return st;
    r->seconds[1] += gar_wall_seconds() - t1;
    return GAR_OK;
}

static gar_status gpu_collect(gar_recon *r, gar_recon_inserter *in)
{
    gar_gpu_sums sums = {{r->G[0], r->G[1]}, {r->W[0], r->W[1]}, {r->Gq[0], r->Gq[1]}, {r->Wq[0], r->Wq[1]},
                         r->fixed.data_exp, r->fixed.weight_exp, r->threads};
    return gar_gpu_inserter_collect(in->gpu, &sums);
}

static void gpu_destroy(gar_recon_inserter *in) { gar_gpu_inserter_destroy(&in->gpu); }

static const gar_recon_inserter_ops gpu_ops = {gpu_submit, gpu_collect, gpu_destroy};

/* One inserter per entry of cfg.gpu_devices, each doing the insertion this
 * reconstructor would do on the CPU (same sizes, blob table and operators). */
static gar_status create_gpus(gar_recon *r)
{
    gar_status st;
    const gar_recon_config *cfg = &r->cfg;
    static const double identity[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    const int insert_ops = cfg->sym_mode == GAR_SYM_INSERT;
    char key[256];
    gar_gpu_insert_config g;
    /* Not the resolution limit: refine changes it every iteration, and the
     * ranking of the variants hardly moves with it. */
    snprintf(key, sizeof key, "box=%zu pad=%d padded=%zu symmetry=%s ops=%zu blob=%.3g/%.3g/%d", r->N, cfg->pad,
             r->M, insert_ops ? "insert" : "volume", insert_ops ? r->n_ops : (size_t)1, cfg->blob_radius,
             cfg->blob_alpha, cfg->blob_order);
    memset(&g, 0, sizeof g);
    g.box = (int)r->N;
    g.padded = (int)r->M;
    g.plane_radius = r->R;
    g.lattice = r->lattice;
    g.kbound = r->kbound;
    g.kxbound = r->kxbound;
    g.sphere = r->sphere;
    g.kmax = r->kmax;
    g.blob_radius = cfg->blob_radius;
    g.blob_alpha = cfg->blob_alpha;
    g.blob_order = cfg->blob_order;
    g.blob_table = r->blob;
    g.inv_step = r->inv_step;
    g.pixel_size_A = cfg->pixel_size_A;
    g.ops = insert_ops ? r->ops : identity;
    g.n_ops = insert_ops ? r->n_ops : 1;
    g.batch = cfg->batch;
    g.fft_on_gpu = cfg->gpu_fft;
    g.tuning = (gar_gpu_tuning)cfg->gpu_tuning;
    g.tuning_cache = cfg->gpu_tuning_cache;
    g.tuning_key = key;
    g.variant = cfg->gpu_variant;
    if ((st = gar_calloc((void **)&r->inserters, cfg->n_gpu_devices, sizeof *r->inserters, "GPU inserters")) !=
        GAR_OK)
        return st;
    for (size_t d = 0; d < cfg->n_gpu_devices; d++) {
        g.device = cfg->gpu_devices[d];
        r->inserters[d].ops = &gpu_ops;
        if ((st = gar_gpu_inserter_create(&g, &r->inserters[d].gpu)) != GAR_OK)
            return st;
        r->n_inserters = r->n_gpu = d + 1;
    }
    return GAR_OK;
}

gar_status gar_recon_inserters_create(gar_recon *r)
{
    gar_status st;
    if (r->cfg.n_gpu_devices > 0)
        return create_gpus(r);
    if ((st = gar_calloc((void **)&r->inserters, 1, sizeof *r->inserters, "CPU inserter")) != GAR_OK)
        return st;
    r->inserters[0].ops = &cpu_ops;
    r->n_inserters = 1;
    return GAR_OK;
}
