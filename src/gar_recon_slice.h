/* garner: the voxels of one slice, as the CPU's two insertion kernels
 * (gar_recon_insert.c, gar_recon_avx512.c) find and queue them. Private to
 * the reconstructor. */
#ifndef GAR_RECON_SLICE_H
#define GAR_RECON_SLICE_H

#include <string.h>

#include "gar_recon_impl.h"

/* First value >= lo that is ≡ t (mod T), for signed lo. */
static inline int first_owned(int lo, int t, int T)
{
    int m = ((lo % T) + T) % T;
    int d = (t - m + T) % T;
    return lo + d;
}

/* The voxels of one slice are found column by column, but gathered from a
 * queue: a column holds only 3 to 7 voxels, and with the gather inside the
 * column loop nearly every column's end was a mispredicted branch that left
 * the next voxels' long dependency chains (window loads, blob polynomial,
 * horizontal sums) to start one after another. Queued, the gathers run in a
 * loop of fixed trip count that the CPU overlaps. The gathers prefetch each
 * voxel's data a fixed distance ahead within the queue, so the first few of
 * each flush go without: a long queue makes those few (512: 7 % faster than
 * 128, 1024 no better). It is flushed once it holds more than
 * GAR_VOXEL_QUEUE − 8 voxels, after a whole column (at most 2a√3 + 1 = 14
 * voxels at the largest blob radius, 4), and has slack entries beyond that
 * which the gathers may read ahead (zeroed at first: a position at the
 * plane's centre and voxel 0, harmless to read; later, earlier voxels'). */
#ifndef GAR_VOXEL_QUEUE
#define GAR_VOXEL_QUEUE 512
#endif
#define GAR_QUEUE_SLACK (16 + GAR_GATHER_PREFETCH)
#define GAR_QUEUE_PREFETCH 8
typedef struct voxel_queue {
    float qx[GAR_VOXEL_QUEUE + 8 + GAR_QUEUE_SLACK], qy[GAR_VOXEL_QUEUE + 8 + GAR_QUEUE_SLACK];
    float qz[GAR_VOXEL_QUEUE + 8 + GAR_QUEUE_SLACK];
    size_t idx[GAR_VOXEL_QUEUE + 8 + GAR_QUEUE_SLACK];
    int n;
} voxel_queue;

/* The traversal of an insert_slice kernel (gar_recon_kernels): for each
 * column (k[o], k[i]) within reach, COLUMN (a statement) queues its voxels
 * k[c] = lo, lo + c_step, ... <= hi whose squared radius rr + k[c]² is
 * within kmax2 and whose position q = A·K lies within the blob radius of
 * the slice; FLUSH (a statement) runs the queue's gathers, in queue order,
 * when the queue is nearly full and at the end. Iterate the coordinate
 * plane most parallel to the slice, and along each column only the few
 * voxels with |n·K| < a, n the slice's normal. Axis c is the column axis;
 * (o, i) are the plane's outer and inner axes, with z outer when it lies in
 * the plane so that each thread's kz residues can be stepped directly. Only
 * kx >= 0 is stored. */
#define GAR_INSERT_SLICE_BODY(COLUMN, FLUSH)                                                               \
    gar_slice_geom g;                                                                                      \
    voxel_queue qu;                                                                                        \
    const double kmax2 = r->kmax * r->kmax, a = r->a;                                                      \
    const int lo_b[3] = {0, -r->kbound, -r->kbound}, hi_b[3] = {r->kxbound, r->kbound, r->kbound};         \
    gar_slice_geom_make(Ad, 0, 0, &g);                                                                     \
    const int o = g.o, i = g.i, c = g.c, c_step = c == 2 ? T : 1;                                          \
    const int o_first = o == 2 ? first_owned(lo_b[o], t, T) : lo_b[o], o_step = o == 2 ? T : 1;            \
    int k[3];                                                                                              \
    memset(&qu, 0, sizeof qu);                                                                             \
    for (k[o] = o_first; k[o] <= hi_b[o]; k[o] += o_step)                                                  \
        for (k[i] = lo_b[i]; k[i] <= hi_b[i]; k[i]++) {                                                    \
            double rr;                                                                                     \
            int lo, hi;                                                                                    \
            if (!gar_slice_column(&g, k[o], k[i], a, kmax2, lo_b, hi_b, &rr, &lo, &hi))                    \
                continue;                                                                                  \
            if (c == 2)                                                                                    \
                lo = first_owned(lo, t, T);                                                                \
            COLUMN;                                                                                        \
            if (qu.n > GAR_VOXEL_QUEUE - 8) {                                                              \
                FLUSH;                                                                                     \
                qu.n = 0;                                                                                  \
            }                                                                                              \
        }                                                                                                  \
    FLUSH;

#endif
