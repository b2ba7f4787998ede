#include "gar_mpi.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { TAG_REQUEST = 1001, TAG_FAIL = 1002, TAG_SHARD = 1003 };

void gar_mpi_describe(char *buf, size_t len)
{
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int n = 0, major = 0, minor = 0;
    MPI_Get_library_version(version, &n);
    MPI_Get_version(&major, &minor);
    version[strcspn(version, "\n")] = '\0';
    snprintf(buf, len, "%s (MPI %d.%d)", version, major, minor);
}

gar_status gar_mpi_start(int *argc, char ***argv, int *rank, int *size)
{
    int init = 0, provided = 0;
    MPI_Initialized(&init);
    /* argc and argv may be NULL (MPI-2). */
    if (!init && MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return gar_error(GAR_ERR_INTERNAL, "MPI_Init_thread failed");
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return GAR_OK;
}

gar_status gar_mpi_gather_lines(const char *line, char **all)
{
    char mine[GAR_MPI_LINE];
    int rank, size;
    gar_status st = GAR_OK;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    *all = NULL;
    snprintf(mine, sizeof mine, "%s", line);
    if (rank == 0)
        st = gar_alloc((void **)all, (size_t)size, GAR_MPI_LINE, "gathered lines");
    /* Without a buffer on rank 0 there is no gather; every rank must know. */
    if (gar_mpi_bcast_int(st == GAR_OK, 0))
        MPI_Gather(mine, GAR_MPI_LINE, MPI_CHAR, *all, GAR_MPI_LINE, MPI_CHAR, 0, MPI_COMM_WORLD);
    return st;
}

void gar_mpi_rank_map(char *buf, size_t len)
{
    char mine[GAR_MPI_LINE], host[MPI_MAX_PROCESSOR_NAME], *all = NULL;
    int rank, size, n = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Get_processor_name(host, &n);
    snprintf(mine, sizeof mine, "%ld@%.200s", (long)getpid(), host);
    buf[0] = '\0';
    if (gar_mpi_gather_lines(mine, &all) == GAR_OK && all != NULL) {
        size_t used = 0;
        for (int r = 0; r < size && used + 1 < len; r++) {
            int w = snprintf(buf + used, len - used, "%s%d: %s", r ? ", " : "", r, all + (size_t)r * GAR_MPI_LINE);
            if (w < 0)
                break;
            used += (size_t)w;
        }
    }
    free(all);
}

/* The ranks of this rank's node (MPI_COMM_TYPE_SHARED), keyed by world rank
 * so that node-local ranks follow the world ranks' order; *node stays
 * MPI_COMM_NULL outside MPI or in a run of one rank. */
static gar_status node_comm(MPI_Comm *node, int *rank)
{
    int init = 0, fin = 0, size = 1;
    *node = MPI_COMM_NULL;
    *rank = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (!init || fin)
        return GAR_OK;
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size == 1)
        return GAR_OK;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, *rank, MPI_INFO_NULL, node) != MPI_SUCCESS) {
        *node = MPI_COMM_NULL;
        return gar_error(GAR_ERR_INTERNAL, "rank %d: MPI_Comm_split_type (shared memory) failed", *rank);
    }
    return GAR_OK;
}

gar_status gar_mpi_node_place(gar_mpi_place *place)
{
    int rank = 0, leader = 0;
    MPI_Comm node = MPI_COMM_NULL;
    gar_status st = node_comm(&node, &rank);
    place->local_rank = place->worker = 0;
    place->local_size = place->workers = 1;
    if (st != GAR_OK || node == MPI_COMM_NULL)
        return st;
    MPI_Comm_rank(node, &place->local_rank);
    MPI_Comm_size(node, &place->local_size);
    /* Does this node hold the master? Its local rank 0 says which world rank it is. */
    leader = rank;
    MPI_Bcast(&leader, 1, MPI_INT, 0, node);
    MPI_Comm_free(&node);
    place->worker = leader == 0 ? place->local_rank - 1 : place->local_rank;
    place->workers = leader == 0 ? place->local_size - 1 : place->local_size;
    if (rank == 0)
        place->worker = place->workers = 0;   /* the master */
    return GAR_OK;
}

gar_status gar_mpi_node_sum(double mine, double *sum, double *largest, int *ranks)
{
    int rank = 0;
    double total = 0, most = 0;
    MPI_Comm node = MPI_COMM_NULL;
    gar_status st = node_comm(&node, &rank);
    *sum = *largest = mine;
    *ranks = 1;
    if (st != GAR_OK || node == MPI_COMM_NULL)
        return st;
    MPI_Allreduce(&mine, &total, 1, MPI_DOUBLE, MPI_SUM, node);
    MPI_Allreduce(&mine, &most, 1, MPI_DOUBLE, MPI_MAX, node);
    MPI_Comm_size(node, ranks);
    MPI_Comm_free(&node);
    *sum = total;
    *largest = most;
    return GAR_OK;
}

int gar_mpi_bcast_int(int value, int root)
{
    MPI_Bcast(&value, 1, MPI_INT, root, MPI_COMM_WORLD);
    return value;
}

gar_status gar_mpi_bcast_bytes(void *buf, size_t n, int root)
{
    const size_t chunk = (size_t)1 << 30;
    for (size_t off = 0; off < n; off += chunk) {
        int m = (int)(n - off < chunk ? n - off : chunk);
        if (MPI_Bcast((char *)buf + off, m, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS)
            return gar_error(GAR_ERR_INTERNAL, "MPI_Bcast of %d bytes at offset %zu failed", m, off);
    }
    return GAR_OK;
}

gar_status gar_mpi_agree_report(gar_status local, int size)
{
    int first;
    gar_status all;
    if (size == 1)
        return local;
    all = gar_mpi_agree(local, &first);
    if (all != GAR_OK && first > 0)
        gar_mpi_forward_error(first, 0);
    return all;
}

void gar_mpi_stop(void)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin)
        MPI_Finalize();
}

/* Elements per reduction call: chunk_bytes worth (at least one), at most
 * max_elements (MPI counts are int) and at most count (at least one). */
static size_t chunk_elements(size_t chunk_bytes, size_t element_bytes, size_t max_elements, size_t count)
{
    size_t chunk = chunk_bytes / element_bytes;
    if (chunk > max_elements)
        chunk = max_elements;
    if (chunk > count)
        chunk = count;
    return chunk ? chunk : 1;
}

gar_status gar_mpi_reduce_sum(const double *in, double *out, size_t count, int root, size_t chunk_bytes)
{
    int rank;
    size_t chunk = chunk_elements(chunk_bytes, sizeof(double), INT_MAX, count);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    for (size_t off = 0; off < count; off += chunk) {
        int n = (int)(count - off < chunk ? count - off : chunk);
        const void *send = in + off;
        void *recv = rank == root ? (void *)(out + off) : NULL;
        if (rank == root && in == out)
            send = MPI_IN_PLACE;
        if (MPI_Reduce(send, recv, n, MPI_DOUBLE, MPI_SUM, root, MPI_COMM_WORLD) != MPI_SUCCESS)
            return gar_error(GAR_ERR_INTERNAL, "MPI_Reduce of %d doubles at offset %zu failed", n, off);
    }
    return GAR_OK;
}

gar_status gar_mpi_reduce_float_sum(float *data, size_t count, int root, size_t chunk_bytes)
{
    int rank;
    size_t chunk = chunk_elements(chunk_bytes, sizeof(double), INT_MAX, count);
    double *buf = NULL;
    gar_status st;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if ((st = gar_alloc((void **)&buf, chunk, sizeof(double), "reduction buffer")) != GAR_OK)
        return st;
    for (size_t off = 0; off < count && st == GAR_OK; off += chunk) {
        size_t n = count - off < chunk ? count - off : chunk;
        for (size_t i = 0; i < n; i++)
            buf[i] = data[off + i];
        if (MPI_Reduce(rank == root ? MPI_IN_PLACE : buf, rank == root ? buf : NULL, (int)n, MPI_DOUBLE,
                       MPI_SUM, root, MPI_COMM_WORLD) != MPI_SUCCESS)
            st = gar_error(GAR_ERR_INTERNAL, "MPI_Reduce of %zu values at offset %zu failed", n, off);
        else if (rank == root)
            for (size_t i = 0; i < n; i++)
                data[off + i] = (float)buf[i];
    }
    free(buf);
    return st;
}

gar_status gar_mpi_reduce_exact(const gar_exactsum *acc, size_t offset, float *x, size_t count, int root,
                                size_t chunk_bytes, int threads)
{
    int rank, size;
    const size_t value_bytes = GAR_EXACT_LIMBS * sizeof(int64_t);
    size_t chunk = chunk_elements(chunk_bytes, value_bytes, INT_MAX / GAR_EXACT_LIMBS, count);
    int64_t *limbs = NULL;
    gar_status st;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if ((size_t)size > GAR_EXACT_MAX_TERMS)
        return gar_error(GAR_ERR_USAGE, "exact sums over %d ranks: at most %zu (set [mpi] reproducible = no)",
                         size, GAR_EXACT_MAX_TERMS);
    if (rank == root && x == NULL)
        st = gar_error(GAR_ERR_INTERNAL, "gar_mpi_reduce_exact: no output array on the root");
    else
        st = gar_alloc((void **)&limbs, chunk, value_bytes, "reduction buffer");
    st = gar_mpi_agree_report(st, size);
    for (size_t off = 0; st == GAR_OK && off < count; off += chunk) {
        size_t n = count - off < chunk ? count - off : chunk;
        /* Every rank's chunk must pack before any rank enters the reduction:
         * a rank that failed alone would leave the root waiting for it. */
        st = gar_exactsum_pack(acc, offset + off, x != NULL ? x + off : NULL, n, limbs, threads);
        if ((st = gar_mpi_agree_report(st, size)) != GAR_OK)
            break;
        if (MPI_Reduce(rank == root ? MPI_IN_PLACE : limbs, rank == root ? limbs : NULL, (int)(GAR_EXACT_LIMBS * n),
                       MPI_INT64_T, MPI_SUM, root, MPI_COMM_WORLD) != MPI_SUCCESS)
            st = gar_error(GAR_ERR_INTERNAL, "MPI_Reduce of %zu exact values at offset %zu failed", n, off);
        else if (rank == root)
            gar_exactsum_unpack(limbs, n, x + off, threads);
    }
    free(limbs);
    return st;
}

gar_status gar_mpi_reduce_fixed(const int64_t *mine, float *x, size_t count, int e, int root, size_t chunk_bytes,
                                int threads)
{
    int rank, size;
    size_t chunk = chunk_elements(chunk_bytes, sizeof(int64_t), INT_MAX, count);
    int64_t *buf = NULL;
    gar_status st = GAR_OK;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rank == root && x == NULL)
        st = gar_error(GAR_ERR_INTERNAL, "gar_mpi_reduce_fixed: no output array on the root");
    else if (rank != root && mine == NULL && count > 0)
        st = gar_error(GAR_ERR_INTERNAL, "gar_mpi_reduce_fixed: no sums on rank %d", rank);
    else if (rank == root)
        st = gar_alloc((void **)&buf, chunk, sizeof *buf, "reduction buffer");
    st = gar_mpi_agree_report(st, size);
    for (size_t off = 0; st == GAR_OK && off < count; off += chunk) {
        size_t n = count - off < chunk ? count - off : chunk;
        /* Root's floats must convert before any rank enters the reduction:
         * a root that failed alone would leave the others waiting. */
        if (rank == root) {
            memset(buf, 0, n * sizeof *buf);
            st = gar_fixed_add_floats(buf, x + off, n, e, threads);
        }
        if ((st = gar_mpi_agree_report(st, size)) != GAR_OK)
            break;
        if (MPI_Reduce(rank == root ? MPI_IN_PLACE : mine + off, rank == root ? buf : NULL, (int)n, MPI_INT64_T,
                       MPI_SUM, root, MPI_COMM_WORLD) != MPI_SUCCESS)
            st = gar_error(GAR_ERR_INTERNAL, "MPI_Reduce of %zu fixed-point values at offset %zu failed", n, off);
        else if (rank == root)
            gar_fixed_to_floats(buf, n, e, x + off, threads);
    }
    free(buf);
    return st;
}

gar_status gar_mpi_gather_rows(const void *rows, size_t n_rows, size_t row_bytes, int root, void **all,
                               size_t *n_all)
{
    int rank, size, mine, ok = 1;
    int *counts = NULL, *displs = NULL;
    MPI_Datatype row;
    gar_status st = GAR_OK;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    *all = NULL;
    *n_all = 0;
    mine = n_rows <= INT_MAX ? (int)n_rows : -1;
    if (rank == root && ((st = gar_alloc((void **)&counts, (size_t)size, sizeof *counts, "row counts")) != GAR_OK ||
                         (st = gar_alloc((void **)&displs, (size_t)size, sizeof *displs, "row offsets")) != GAR_OK))
        ok = 0;
    /* Every rank learns whether root can take the rows: none waits alone. */
    if (!gar_mpi_bcast_int(ok, root))
        goto done;
    MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, root, MPI_COMM_WORLD);
    if (rank == root) {
        size_t total = 0;
        for (int r = 0; r < size && ok; r++) {
            if (counts[r] < 0 || total + (size_t)counts[r] > INT_MAX) {
                st = gar_error(GAR_ERR_INTERNAL, "gar_mpi_gather_rows: more than %d rows", INT_MAX);
                ok = 0;
                break;
            }
            displs[r] = (int)total;
            total += (size_t)counts[r];
        }
        if (ok && total > 0 && (st = gar_alloc(all, total, row_bytes, "gathered rows")) != GAR_OK)
            ok = 0;
        *n_all = ok ? total : 0;
    }
    if (!gar_mpi_bcast_int(ok, root))
        goto done;
    MPI_Type_contiguous((int)row_bytes, MPI_BYTE, &row);
    MPI_Type_commit(&row);
    MPI_Gatherv(rows, mine, row, *all, counts, displs, row, root, MPI_COMM_WORLD);
    MPI_Type_free(&row);
done:
    if (!ok && rank == root) {
        free(*all);
        *all = NULL;
        *n_all = 0;
    }
    free(counts);
    free(displs);
    if (!ok && st == GAR_OK)
        st = gar_error(GAR_ERR_INTERNAL, "gar_mpi_gather_rows: rank %d could not take the rows", root);
    return st;
}

gar_status gar_mpi_agree(gar_status local, int *first)
{
    int rank, size, mine, lowest, code = (int)local;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    /* The lowest failing rank wins; its status is then broadcast from it. */
    mine = local != GAR_OK ? rank : size;
    MPI_Allreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    *first = lowest == size ? -1 : lowest;
    if (lowest == size)
        return GAR_OK;
    MPI_Bcast(&code, 1, MPI_INT, lowest, MPI_COMM_WORLD);
    return (gar_status)code;
}

void gar_mpi_forward_error(int from, int root)
{
    int rank;
    char buf[1024];
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (from == root)
        return;
    if (rank == from) {
        snprintf(buf, sizeof buf, "%s", gar_errmsg());
        MPI_Send(buf, (int)strlen(buf) + 1, MPI_CHAR, root, TAG_FAIL + 10, MPI_COMM_WORLD);
    } else if (rank == root) {
        MPI_Recv(buf, (int)sizeof buf, MPI_CHAR, from, TAG_FAIL + 10, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        buf[sizeof buf - 1] = '\0';
        gar_error(GAR_ERR_INTERNAL, "rank %d: %s", from, buf);
    }
}

struct gar_sched {
    size_t n_shards;
    size_t next;          /* master, or the single rank: next shard to consider */
    size_t handed;        /* shards handed out (progress) */
    unsigned char *done;  /* n_shards flags */
    long *current;        /* master: each rank's shard in progress, -1 if none */
    size_t *taken;        /* master: shards handed to each rank */
    int rank, size;
    int active;           /* master: workers not yet told there is no more work */
};

gar_status gar_sched_create(size_t n_shards, gar_sched **out)
{
    gar_sched *s = NULL;
    gar_status st = gar_calloc((void **)&s, 1, sizeof *s, "shard scheduler");
    *out = NULL;
    if (st != GAR_OK)
        return st;
    if (n_shards > (size_t)LONG_MAX) {
        free(s);
        return gar_error(GAR_ERR_USAGE, "%zu shards: too many", n_shards);
    }
    s->n_shards = n_shards;
    MPI_Comm_rank(MPI_COMM_WORLD, &s->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &s->size);
    s->active = s->size - 1;
    if ((st = gar_calloc((void **)&s->done, n_shards ? n_shards : 1, 1, "shard flags")) != GAR_OK ||
        (st = gar_alloc((void **)&s->current, (size_t)s->size, sizeof(long), "shard table")) != GAR_OK ||
        (st = gar_calloc((void **)&s->taken, (size_t)s->size, sizeof(size_t), "shard counts")) != GAR_OK) {
        gar_sched_destroy(&s);
        return st;
    }
    for (int r = 0; r < s->size; r++)
        s->current[r] = -1;
    *out = s;
    return GAR_OK;
}

void gar_sched_destroy(gar_sched **s)
{
    if (s == NULL || *s == NULL)
        return;
    free((*s)->done);
    free((*s)->current);
    free((*s)->taken);
    free(*s);
    *s = NULL;
}

void gar_sched_mark_done(gar_sched *s, size_t shard)
{
    if (shard < s->n_shards)
        s->done[shard] = 1;
}

const unsigned char *gar_sched_done(const gar_sched *s) { return s->done; }

size_t gar_sched_taken(const gar_sched *s, int rank) { return rank >= 0 && rank < s->size ? s->taken[rank] : 0; }

/* The next shard not yet done, or -1. */
static long take_shard(gar_sched *s)
{
    while (s->next < s->n_shards && s->done[s->next])
        s->next++;
    if (s->next >= s->n_shards)
        return -1;
    s->handed++;
    return (long)s->next++;
}

static void sleep_seconds(double seconds)
{
    struct timespec ts;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

/* Whether any rank still has a shard in progress. */
static int any_in_progress(const gar_sched *s)
{
    for (int r = 1; r < s->size; r++)
        if (s->current[r] >= 0)
            return 1;
    return 0;
}

gar_status gar_sched_serve(gar_sched *s, double poll_seconds,
                           void (*progress)(size_t handed_out, void *arg),
                           int (*want_checkpoint)(void *arg), void *arg)
{
    gar_status failure = GAR_OK;
    char failure_msg[1024] = "";
    int parked = 0;
    /* Workers whose request is held: no shard is free, but others still work.
     * They are answered when all work is finished (-1) or at a checkpoint (-2),
     * so every worker takes part in every checkpoint. */
    int *waiting = NULL;
    if (s->rank != 0)
        return gar_error(GAR_ERR_INTERNAL, "gar_sched_serve called on rank %d", s->rank);
    if (gar_calloc((void **)&waiting, (size_t)s->size, sizeof *waiting, "request table") != GAR_OK)
        return GAR_ERR_NOMEM;
    while (s->active > 0) {
        int flag = 0, wanted = failure == GAR_OK && want_checkpoint != NULL && want_checkpoint(arg);
        MPI_Status status;
        long none_left = s->next >= s->n_shards;
        while (s->next < s->n_shards && s->done[s->next])
            s->next++;
        none_left = s->next >= s->n_shards;
        for (int w = 1; w < s->size; w++) {
            long reply;
            if (!waiting[w])
                continue;
            if (wanted)
                reply = -2;
            else if (failure != GAR_OK || (none_left && !any_in_progress(s)))
                reply = -1;
            else
                continue;
            MPI_Send(&reply, 1, MPI_LONG, w, TAG_SHARD, MPI_COMM_WORLD);
            waiting[w] = 0;
            if (reply == -1)
                s->active--;
            else
                parked++;
        }
        if (failure == GAR_OK && parked > 0 && parked == s->active) {
            free(waiting);
            return GAR_ERR_CHECKPOINT;
        }
        if (s->active == 0)
            break;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &status);
        if (!flag) {
            sleep_seconds(poll_seconds);
            continue;
        }
        if (status.MPI_TAG == TAG_REQUEST) {
            int dummy, w = status.MPI_SOURCE;
            long reply;
            MPI_Recv(&dummy, 1, MPI_INT, w, TAG_REQUEST, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            /* Asking again means the last shard is finished. */
            if (s->current[w] >= 0)
                s->done[s->current[w]] = 1;
            s->current[w] = -1;
            if (failure != GAR_OK || wanted) {
                waiting[w] = 1;   /* answered at the top of the loop */
                continue;
            }
            reply = take_shard(s);
            if (reply < 0) {
                waiting[w] = 1;
                continue;
            }
            MPI_Send(&reply, 1, MPI_LONG, w, TAG_SHARD, MPI_COMM_WORLD);
            s->current[w] = reply;
            s->taken[w]++;
            if (progress != NULL)
                progress(s->handed, arg);
        } else if (status.MPI_TAG == TAG_FAIL) {
            char buf[1024 + sizeof(int)];
            int n = 0, code;
            MPI_Get_count(&status, MPI_CHAR, &n);
            if (n < (int)sizeof(int) || n > (int)sizeof buf)
                n = (int)sizeof buf;
            MPI_Recv(buf, n, MPI_CHAR, status.MPI_SOURCE, TAG_FAIL, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            memcpy(&code, buf, sizeof code);
            if (failure == GAR_OK) {
                failure = (gar_status)code;
                snprintf(failure_msg, sizeof failure_msg, "rank %d: %.*s", status.MPI_SOURCE,
                         n - (int)sizeof(int), buf + sizeof(int));
            }
            s->current[status.MPI_SOURCE] = -1;
            s->active--;   /* a failed worker asks for no more work */
        } else {
            /* Not ours: leave it for whoever expects it, but do not spin on it. */
            sleep_seconds(poll_seconds);
        }
    }
    free(waiting);
    if (failure != GAR_OK)
        return gar_error(failure, "%s", failure_msg);
    return GAR_OK;
}

gar_status gar_sched_next(gar_sched *s, long *shard)
{
    int dummy = 0;
    if (s->size == 1) {
        /* A single rank is its own master: the last shard is finished. */
        if (s->current[0] >= 0)
            s->done[s->current[0]] = 1;
        *shard = take_shard(s);
        s->current[0] = *shard;
        return GAR_OK;
    }
    if (s->rank == 0)
        return gar_error(GAR_ERR_INTERNAL, "the master serves shards; it does not take them");
    if (MPI_Send(&dummy, 1, MPI_INT, 0, TAG_REQUEST, MPI_COMM_WORLD) != MPI_SUCCESS ||
        MPI_Recv(shard, 1, MPI_LONG, 0, TAG_SHARD, MPI_COMM_WORLD, MPI_STATUS_IGNORE) != MPI_SUCCESS)
        return gar_error(GAR_ERR_INTERNAL, "rank %d: shard request to rank 0 failed", s->rank);
    return GAR_OK;
}

void gar_sched_fail(gar_sched *s, gar_status st)
{
    char buf[1024 + sizeof(int)];
    int code = (int)st;
    size_t len = strlen(gar_errmsg());
    if (s->size == 1 || s->rank == 0)
        return;
    if (len > 1023)
        len = 1023;
    memcpy(buf, &code, sizeof code);
    memcpy(buf + sizeof code, gar_errmsg(), len);
    MPI_Send(buf, (int)(sizeof code + len), MPI_CHAR, 0, TAG_FAIL, MPI_COMM_WORLD);
}
