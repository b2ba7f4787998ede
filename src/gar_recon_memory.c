/* What a reconstructor holds, and how its volumes are allocated: the
 * estimate garner prints before a run (and checks against the node's
 * memory) must follow create's allocations, so both read the sizes here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "gar_recon_impl.h"

size_t gar_recon_padded_size(size_t box, int pad) { return gar_fft_good_size((size_t)pad * box); }

double gar_recon_resolution_kmax(const gar_recon_config *cfg, size_t M)
{
    double nyquist = 0.5 * (double)M;
    double k;
    if (cfg->max_resolution_A <= 0)
        return nyquist;
    k = (double)M * cfg->pixel_size_A / cfg->max_resolution_A;
    return k > nyquist ? nyquist : k;
}

/* Planes held at once: a whole batch for GPUs that take planes from the
 * host, none for GPUs that make them; on the CPU a few per thread, since
 * every thread inserts every plane and a plane of a 128² particle at pad 2
 * takes 0.8 MB (fresh memory is slow to touch on some machines). */
size_t gar_recon_plane_slots(const gar_recon_config *cfg, size_t n_gpu)
{
    size_t slots = 2 * (size_t)cfg->threads < 16 ? 16 : 2 * (size_t)cfg->threads;
    if (n_gpu > 0)
        return cfg->gpu_fft ? 0 : cfg->batch;
    return slots < cfg->batch ? slots : cfg->batch;
}

void gar_recon_bounds(const gar_recon_config *cfg, size_t M, double *kmax, int *K, int *KX)
{
    *kmax = gar_recon_resolution_kmax(cfg, M);
    /* ky, kz = ±M/2 alias one index in the FFT's layout, so those stop at
     * M/2 − 1 (losing only the axis points of the Nyquist shell); kx = M/2
     * has its own index. */
    *K = (int)floor(*kmax);
    if (*K > (int)M / 2 - 1)
        *K = (int)M / 2 - 1;
    *KX = (int)floor(*kmax);
}

size_t gar_recon_config_voxels(const gar_recon_config *cfg)
{
    size_t M = gar_recon_padded_size(cfg->box, cfg->pad);
    double kmax;
    int K, KX;
    gar_recon_bounds(cfg, M, &kmax, &K, &KX);
    return gar_sphere_voxels(kmax, K, KX);
}

/* finalize: the complex map after its first inverse pass (the N kept z
 * planes of M × H), the real N³ map before correction and the map
 * returned, the cropped inverse FFT's buffers per thread and, when the
 * volume is symmetrised, the symmetrised sums (stored sphere). A run makes
 * three maps (half 1, half 2, both) and keeps the first two while it makes
 * the third, so four N³ maps are held at the peak: measured at box 256, the
 * estimate with two was 5.7 % under the peak RSS, by the 128 MiB of the two
 * half maps (issue 20). */
size_t gar_recon_finalize_memory_bytes(const gar_recon_config *cfg)
{
    size_t M = gar_recon_padded_size(cfg->box, cfg->pad), H = M / 2 + 1;
    size_t nvox = gar_recon_config_voxels(cfg);
    const size_t N = cfg->box;
    size_t finish = N * M * H * 2 * sizeof(float) + 4 * N * N * N * sizeof(float) +
                    (size_t)cfg->threads * ((N * H > 8 * M ? N * H : 8 * M) * 2 + N * (M + 2) + 64) * sizeof(float);
    if (cfg->sym_mode == GAR_SYM_VOLUME && cfg->n_ops > 1)
        finish += nvox * 3 * sizeof(float);
    return finish;
}

size_t gar_recon_insert_memory_bytes(const gar_recon_config *cfg)
{
    size_t M = gar_recon_padded_size(cfg->box, cfg->pad), H = M / 2 + 1;
    size_t nvox = gar_recon_config_voxels(cfg);
    double kmax;
    int K, KX;
    gar_recon_bounds(cfg, M, &kmax, &K, &KX);
    size_t R = (size_t)ceil(kmax + cfg->blob_radius) + 1, side = 2 * R + 1;
    /* Both half sets' sums (floats, or int64 fixed point), and the sphere's row table. */
    size_t volumes = 2 * nvox * 3 * (cfg->fixed_sums ? sizeof(int64_t) : sizeof(float)) + gar_sphere_table_bytes(K);
    /* Planes on the host unless GPUs make them from the images. */
    size_t planes = gar_recon_plane_slots(cfg, cfg->n_gpu_devices) * side * side * 3 * sizeof(float);
    size_t ffts = (size_t)cfg->threads * (M * M + M * H * 2) * sizeof(float);
    return volumes + planes + ffts;
}

size_t gar_recon_memory_bytes(const gar_recon_config *cfg)
{
    return gar_recon_insert_memory_bytes(cfg) + gar_recon_finalize_memory_bytes(cfg);
}

/* Zeroes a volume on the run's threads. Touching memory a process has not
 * used yet costs far more than writing it (the kernel clears each page, and
 * on virtual machines the host may have to back it first: about 3 ms per
 * MiB on the development VMs), and that cost divides among threads. */
void gar_recon_volume_zero(void *p, size_t bytes, int threads)
{
    const size_t chunk = (size_t)2 << 20, n = (bytes + chunk - 1) / chunk;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t c = 0; c < n; c++)
        memset((char *)p + c * chunk, 0, c + 1 < n ? chunk : bytes - c * chunk);
}

/* Zeroed, 2 MiB-aligned memory for a volume, with transparent huge pages
 * requested: each particle's slice touches voxels scattered over the whole
 * volume, and with 4 KiB pages nearly every update would also miss the TLB. */
gar_status gar_recon_volume_alloc(void **out, size_t bytes, int threads, const char *what)
{
    const size_t huge = (size_t)2 << 20;
    size_t rounded = (bytes + huge - 1) / huge * huge;
    *out = NULL;
    if (posix_memalign(out, huge, rounded) != 0) {
        *out = NULL;
        return gar_error(GAR_ERR_NOMEM, "%s: cannot allocate %.1f MiB", what, bytes / 1048576.0);
    }
#ifdef MADV_HUGEPAGE
    madvise(*out, rounded, MADV_HUGEPAGE);
#endif
    gar_recon_volume_zero(*out, rounded, threads);
    return GAR_OK;
}
