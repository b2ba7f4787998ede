#include "gar_poses.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "gar_h5util.h"

#define POSES_FORMAT "garner-poses"
#define POSES_VERSION 1

/* The double columns, in gar_pose's order. */
static const char *const columns[6] = {"rot_deg", "tilt_deg", "psi_deg", "origin_x_A", "origin_y_A", "score"};

static double *column_of(gar_pose *p, int c)
{
    double *f[6] = {&p->rot_deg, &p->tilt_deg, &p->psi_deg, &p->origin_x_A, &p->origin_y_A, &p->score};
    return f[c];
}

gar_status gar_poses_write(const char *path, const gar_pose *poses, size_t n, const gar_refine_state *st_in)
{
    gar_atomic a;
    hid_t f = -1, g = -1;
    gar_status st = GAR_OK;
    double *col = NULL;
    int32_t *half = NULL;
    int64_t *index = NULL;
    int failed = 1, rc;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if ((st = gar_alloc((void **)&col, n ? n : 1, sizeof *col, "poses")) != GAR_OK ||
        (st = gar_alloc((void **)&half, n ? n : 1, sizeof *half, "poses")) != GAR_OK ||
        (st = gar_alloc((void **)&index, n ? n : 1, sizeof *index, "poses")) != GAR_OK)
        goto done;
    if ((f = gar_h5_create_temp(&a, path)) < 0) {
        st = gar_error(GAR_ERR_OUTPUT, "%s: cannot create", a.tmp);
        goto done;
    }
    if (gar_h5_write_attr_string(f, "format", POSES_FORMAT) < 0 ||
        gar_h5_write_attr_u64(f, "format_version", POSES_VERSION) < 0 ||
        gar_h5_write_attr_u64(f, "particles", n) < 0 ||
        (g = H5Gcreate2(f, "refine", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        gar_h5_write_attr_u64(g, "iteration", st_in->iteration) < 0 ||
        gar_h5_write_attr_f64(g, "angular_step_deg", st_in->angular_step_deg) < 0 ||
        gar_h5_write_attr_f64(g, "resolution_A", st_in->resolution_A) < 0 ||
        gar_h5_write_attr_f64(g, "best_resolution_A", st_in->best_resolution_A) < 0 ||
        gar_h5_write_attr_u64(g, "stalls", st_in->stalls) < 0 ||
        gar_h5_write_attr_f64(g, "changed_fraction", st_in->changed_fraction) < 0 ||
        gar_h5_write_attr_u64(g, "local", st_in->local) < 0 ||
        gar_h5_write_attr_u64(g, "converged", st_in->converged) < 0)
        goto finish;
    H5Gclose(g);
    if ((g = H5Gcreate2(f, "poses", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        goto finish;
    for (size_t i = 0; i < n; i++) {
        index[i] = (int64_t)i;
        half[i] = poses[i].half_set;
    }
    if (gar_h5_write_column(g, "index", H5T_NATIVE_INT64, H5T_STD_I64LE, index, n) < 0 ||
        gar_h5_write_column(g, "half_set", H5T_NATIVE_INT32, H5T_STD_I32LE, half, n) < 0)
        goto finish;
    for (int c = 0; c < 6; c++) {
        for (size_t i = 0; i < n; i++)
            col[i] = *column_of((gar_pose *)&poses[i], c);
        if (gar_h5_write_column(g, columns[c], H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, col, n) < 0)
            goto finish;
    }
    failed = 0;
finish:
    if (g >= 0)
        H5Gclose(g);
    if ((rc = gar_h5_finish_temp(f, &a, failed)) == -2)
        st = gar_error(GAR_ERR_OUTPUT, "cannot rename %s to %s", a.tmp, path);
    else if (rc != 0)
        st = gar_error(GAR_ERR_IO, "%s: writing the poses failed", a.tmp);
done:
    free(col);
    free(half);
    free(index);
    return st;
}

static gar_status open_poses(const char *path, hid_t *f, uint64_t *n)
{
    uint64_t v;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (access(path, R_OK) != 0)
        return gar_error(GAR_ERR_NOINPUT, "%s: no such poses file", path);
    if ((*f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        return gar_error(GAR_ERR_DATA, "%s: not an HDF5 file", path);
    if (!gar_h5_attr_string_is(*f, "format", POSES_FORMAT) || gar_h5_read_attr_u64(*f, "format_version", &v) < 0 ||
        v != POSES_VERSION || gar_h5_read_attr_u64(*f, "particles", n) < 0) {
        H5Fclose(*f);
        *f = -1;
        return gar_error(GAR_ERR_DATA, "%s: not a garner poses file of version %d", path, POSES_VERSION);
    }
    return GAR_OK;
}

gar_status gar_poses_count(const char *path, size_t *n)
{
    hid_t f;
    uint64_t m;
    gar_status st = open_poses(path, &f, &m);
    if (st != GAR_OK)
        return st;
    H5Fclose(f);
    *n = (size_t)m;
    return GAR_OK;
}

gar_status gar_poses_read(const char *path, gar_pose *poses, size_t n, gar_refine_state *state)
{
    hid_t f = -1, g = -1;
    uint64_t m;
    gar_status st;
    double *col = NULL;
    int32_t *half = NULL;
    if ((st = open_poses(path, &f, &m)) != GAR_OK)
        return st;
    if (m != n) {
        st = gar_error(GAR_ERR_DATA, "%s: %llu poses for %zu particles", path, (unsigned long long)m, n);
        goto done;
    }
    if ((st = gar_alloc((void **)&col, n ? n : 1, sizeof *col, "poses")) != GAR_OK ||
        (st = gar_alloc((void **)&half, n ? n : 1, sizeof *half, "poses")) != GAR_OK)
        goto done;
    memset(state, 0, sizeof *state);
    if ((g = H5Gopen2(f, "refine", H5P_DEFAULT)) < 0 || gar_h5_read_attr_u64(g, "iteration", &state->iteration) < 0 ||
        gar_h5_read_attr_f64(g, "angular_step_deg", &state->angular_step_deg) < 0 ||
        gar_h5_read_attr_f64(g, "resolution_A", &state->resolution_A) < 0 ||
        gar_h5_read_attr_f64(g, "best_resolution_A", &state->best_resolution_A) < 0 ||
        gar_h5_read_attr_u64(g, "stalls", &state->stalls) < 0 ||
        gar_h5_read_attr_f64(g, "changed_fraction", &state->changed_fraction) < 0 ||
        gar_h5_read_attr_u64(g, "local", &state->local) < 0 ||
        gar_h5_read_attr_u64(g, "converged", &state->converged) < 0)
        goto bad;
    H5Gclose(g);
    if ((g = H5Gopen2(f, "poses", H5P_DEFAULT)) < 0 ||
        gar_h5_read_column(g, "half_set", H5T_NATIVE_INT32, half, n) < 0)
        goto bad;
    for (size_t i = 0; i < n; i++)
        poses[i].half_set = half[i];
    for (int c = 0; c < 6; c++) {
        if (gar_h5_read_column(g, columns[c], H5T_NATIVE_DOUBLE, col, n) < 0)
            goto bad;
        for (size_t i = 0; i < n; i++)
            *column_of(&poses[i], c) = col[i];
    }
    goto done;
bad:
    st = gar_error(GAR_ERR_DATA, "%s: poses file is incomplete or damaged", path);
done:
    if (g >= 0)
        H5Gclose(g);
    if (f >= 0)
        H5Fclose(f);
    free(col);
    free(half);
    return st;
}
