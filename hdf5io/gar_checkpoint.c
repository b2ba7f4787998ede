#include "gar_checkpoint.h"

#include <errno.h>

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "gar_h5util.h"

#define CKPT_FORMAT "garner-checkpoint"
#define CKPT_VERSION 3   /* 2: the run fingerprint; 3: the sums in the stored sphere's layout */

/* A checkpoint of format 2 or later but older than this garner's: its sums
 * are in another layout (version 3 holds the stored sphere's). */
static gar_status older_layout(const char *path, uint64_t version)
{
    return gar_error(GAR_ERR_DATA, "%s: written by an older garner, whose sums are in another layout (checkpoint "
                     "version %llu; this garner writes %d): remove it and run again without --resume", path,
                     (unsigned long long)version, CKPT_VERSION);
}

static const char *shape_names[5] = {"box", "padded", "shard_size", "n_shards", "particles"};

gar_status gar_checkpoint_fingerprint(const char *path, char **out)
{
    hid_t f = -1;
    gar_status st = GAR_OK;
    uint64_t v = 0;
    char *fp = NULL;
    *out = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (access(path, R_OK) != 0)
        return gar_error(GAR_ERR_NOINPUT, "%s: no checkpoint to resume from", path);
    if ((f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        st = gar_error(GAR_ERR_DATA, "%s: not a readable checkpoint", path);
        goto done;
    }
    if (gar_h5_read_attr_u64(f, "format_version", &v) < 0 || v > CKPT_VERSION) {
        st = gar_error(GAR_ERR_DATA, "%s: not a garner checkpoint of version %d", path, CKPT_VERSION);
        goto done;
    }
    if (v < 2) {
        st = gar_error(GAR_ERR_DATA, "%s: written by an older garner, without the run's fingerprint, so it cannot be "
                       "checked against this run's settings and stacks; remove it and run again without --resume",
                       path);
        goto done;
    }
    /* Said here, before its fingerprint is compared: that comparison would
     * name a key this garner added as the difference. */
    if (v < CKPT_VERSION) {
        st = older_layout(path, v);
        goto done;
    }
    if (gar_h5_read_text(f, "fingerprint", &fp) != 0) {
        st = gar_error(GAR_ERR_DATA, "%s: the checkpoint's fingerprint is missing or damaged", path);
        goto done;
    }
    *out = fp;
    fp = NULL;
done:
    free(fp);
    if (f >= 0)
        H5Fclose(f);
    return st;
}

gar_status gar_checkpoint_save(const char *path, const gar_checkpoint *c)
{
    char why[256] = "no detail";
    int err = 0;
    gar_atomic a;
    hid_t f;
    int failed = 0, rc;
    const uint64_t shape[5] = {c->box, c->padded, c->shard_size, c->n_shards, c->particles};
    const uint64_t state[3] = {c->count[0], c->count[1], c->skipped};
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if ((f = gar_h5_create_temp(&a, path)) < 0)
        return gar_error(GAR_ERR_OUTPUT, "%s: cannot create the checkpoint", a.tmp);
    errno = 0;
    failed = gar_h5_write_attr_string(f, "format", CKPT_FORMAT) < 0 ||
             gar_h5_write_attr_u64(f, "format_version", CKPT_VERSION) < 0 ||
             gar_h5_write_text(f, "fingerprint", c->fingerprint) < 0;
    for (int i = 0; i < 5 && !failed; i++)
        failed = gar_h5_write_attr_u64(f, shape_names[i], shape[i]) < 0;
    failed = failed ||
             gar_h5_write_column(f, "state", H5T_NATIVE_UINT64, H5T_STD_U64LE, state, 3) < 0 ||
             gar_h5_write_column(f, "done", H5T_NATIVE_UCHAR, H5T_STD_U8LE, c->done, c->n_shards ? c->n_shards : 1) < 0 ||
             gar_h5_write_column(f, "data1", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, c->G[0], 2 * c->nvox) < 0 ||
             gar_h5_write_column(f, "weight1", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, c->W[0], c->nvox) < 0 ||
             gar_h5_write_column(f, "data2", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, c->G[1], 2 * c->nvox) < 0 ||
             gar_h5_write_column(f, "weight2", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, c->W[1], c->nvox) < 0;
    /* The reason (No space left on device, File too large) is on HDF5's
     * error stack until the next call: take it from the write that failed,
     * or from the close that could not flush (issue 18, case 15). */
    if (failed) {
        err = errno;
        gar_h5_reason(why, sizeof why);
    }
    if ((rc = gar_h5_finish_temp(f, &a, failed)) == -2)
        return gar_error(GAR_ERR_OUTPUT, "cannot rename %s to %s", a.tmp, path);
    if (rc == -1) {
        err = errno;
        gar_h5_reason(why, sizeof why);
    }
    /* A flush at close leaves HDF5's stack empty; the system call's errno
     * (EFBIG, ENOSPC) is still the cause. */
    if (strcmp(why, "no detail") == 0 && err != 0)
        snprintf(why, sizeof why, "%s", strerror(err));
    if (rc != 0)
        return gar_error(GAR_ERR_IO, "%s: writing the checkpoint failed (%s); the run's work since the "
                         "last checkpoint is lost", a.tmp, why);
    return GAR_OK;
}

gar_status gar_checkpoint_load(const char *path, gar_checkpoint *c)
{
    hid_t f = -1, root = -1;
    gar_status st = GAR_OK;
    uint64_t want[5] = {c->box, c->padded, c->shard_size, c->n_shards, c->particles}, v = 0, state[3];
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (access(path, R_OK) != 0)
        return gar_error(GAR_ERR_NOINPUT, "%s: no checkpoint to resume from", path);
    if ((f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0 || (root = H5Gopen2(f, "/", H5P_DEFAULT)) < 0) {
        st = gar_error(GAR_ERR_DATA, "%s: not a readable checkpoint", path);
        goto done;
    }
    if (gar_h5_read_attr_u64(root, "format_version", &v) < 0 || v != CKPT_VERSION) {
        st = v >= 2 && v < CKPT_VERSION ? older_layout(path, v)
                                        : gar_error(GAR_ERR_DATA, "%s: not a garner checkpoint of version %d", path,
                                                    CKPT_VERSION);
        goto done;
    }
    for (int i = 0; i < 5; i++) {
        if (gar_h5_read_attr_u64(root, shape_names[i], &v) < 0 || v != want[i]) {
            /* Only a shard size set by the user can differ (a default one
             * is the checkpoint's): name the key that sets it. */
            if (i == 2)
                st = gar_error(GAR_ERR_DATA, "%s: [mpi] shard_size: %llu in this run, %llu in the checkpoint: "
                               "resume with shard_size = %llu (or 0, which takes the checkpoint's)", path,
                               (unsigned long long)want[i], (unsigned long long)v, (unsigned long long)v);
            else
                st = gar_error(GAR_ERR_DATA, "%s: %s %llu in the checkpoint, %llu in this run: resume with the "
                               "inputs and settings that wrote it", path, shape_names[i], (unsigned long long)v,
                               (unsigned long long)want[i]);
            goto done;
        }
    }
    if (gar_h5_read_column(f, "state", H5T_NATIVE_UINT64, state, 3) < 0 ||
        gar_h5_read_column(f, "done", H5T_NATIVE_UCHAR, c->done, c->n_shards ? c->n_shards : 1) < 0 ||
        gar_h5_read_column(f, "data1", H5T_NATIVE_FLOAT, c->G[0], 2 * c->nvox) < 0 ||
        gar_h5_read_column(f, "weight1", H5T_NATIVE_FLOAT, c->W[0], c->nvox) < 0 ||
        gar_h5_read_column(f, "data2", H5T_NATIVE_FLOAT, c->G[1], 2 * c->nvox) < 0 ||
        gar_h5_read_column(f, "weight2", H5T_NATIVE_FLOAT, c->W[1], c->nvox) < 0) {
        st = gar_error(GAR_ERR_DATA, "%s: checkpoint is incomplete or of another size", path);
        goto done;
    }
    c->count[0] = state[0];
    c->count[1] = state[1];
    c->skipped = state[2];
done:
    if (root >= 0)
        H5Gclose(root);
    if (f >= 0)
        H5Fclose(f);
    return st;
}

uint64_t gar_checkpoint_shard_size(const char *path)
{
    hid_t f = -1, root = -1;
    uint64_t v = 0;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (access(path, R_OK) != 0)
        return 0;
    if ((f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) >= 0 && (root = H5Gopen2(f, "/", H5P_DEFAULT)) >= 0 &&
        gar_h5_read_attr_u64(root, "shard_size", &v) < 0)
        v = 0;
    if (root >= 0)
        H5Gclose(root);
    if (f >= 0)
        H5Fclose(f);
    return v;
}
