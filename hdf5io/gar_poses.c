#include "gar_poses.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "gar_h5util.h"

#define POSES_FORMAT "garner-poses"
#define POSES_VERSION 2   /* 2: scale, junk, the junk and scale state, the noise model */

/* The double columns, in gar_pose's order (version 1 files: the first 6). */
#define N_COLUMNS 9
#define N_COLUMNS_V1 6
static const char *const columns[N_COLUMNS] = {"rot_deg", "tilt_deg", "psi_deg", "origin_x_A", "origin_y_A", "score",
                                               "scale",   "evidence", "misfit"};

static double *column_of(gar_pose *p, int c)
{
    double *f[N_COLUMNS] = {&p->rot_deg, &p->tilt_deg, &p->psi_deg, &p->origin_x_A, &p->origin_y_A, &p->score,
                            &p->scale,   &p->evidence, &p->misfit};
    return f[c];
}

/* /noise: groups (int32) and sigma2 (float64, groups × shells, row-major). */
static int write_noise(hid_t f, const gar_noise *nm)
{
    const size_t G = gar_noise_groups(nm), S = gar_noise_shells(nm);
    int32_t groups[4096];
    double *all = malloc(G * S * sizeof *all);
    hid_t g = -1;
    int rc = -1;
    if (all == NULL || G > 4096)
        goto done;
    for (size_t i = 0; i < G; i++) {
        groups[i] = gar_noise_group_id(nm, i);
        memcpy(all + i * S, gar_noise_sigma2(nm, i), S * sizeof *all);
    }
    if ((g = H5Gcreate2(f, "noise", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        gar_h5_write_attr_u64(g, "shells", S) < 0 ||
        gar_h5_write_column(g, "optics_group", H5T_NATIVE_INT32, H5T_STD_I32LE, groups, G) < 0 ||
        gar_h5_write_column(g, "sigma2", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, all, G * S) < 0)
        goto done;
    rc = 0;
done:
    if (g >= 0)
        H5Gclose(g);
    free(all);
    return rc;
}

/* The file's noise model into nm (its groups and shells must match):
 * GAR_OK with *has 1, or *has 0 when the file holds none. */
static gar_status read_noise(hid_t f, const char *path, gar_noise *nm, int *has)
{
    const size_t G = gar_noise_groups(nm), S = gar_noise_shells(nm);
    uint64_t shells = 0;
    int32_t groups[4096];
    double *all = NULL;
    hid_t g;
    gar_status st = GAR_OK;
    *has = 0;
    if (H5Lexists(f, "noise", H5P_DEFAULT) <= 0)
        return GAR_OK;
    if ((g = H5Gopen2(f, "noise", H5P_DEFAULT)) < 0)
        return gar_error(GAR_ERR_DATA, "%s: /noise cannot be opened", path);
    if (G > 4096 || gar_h5_read_attr_u64(g, "shells", &shells) < 0 || shells != S ||
        gar_h5_read_column(g, "optics_group", H5T_NATIVE_INT32, groups, G) < 0) {
        st = gar_error(GAR_ERR_DATA, "%s: its noise model is not of %zu optics groups and %zu shells", path, G, S);
        goto done;
    }
    if ((st = gar_alloc((void **)&all, G * S, sizeof *all, "noise model")) != GAR_OK)
        goto done;
    if (gar_h5_read_column(g, "sigma2", H5T_NATIVE_DOUBLE, all, G * S) < 0) {
        st = gar_error(GAR_ERR_DATA, "%s: /noise/sigma2 is damaged", path);
        goto done;
    }
    for (size_t i = 0; i < G && st == GAR_OK; i++) {
        if (groups[i] != gar_noise_group_id(nm, i)) {
            st = gar_error(GAR_ERR_DATA, "%s: its noise model is for optics group %d, the stacks' is %d", path,
                           groups[i], gar_noise_group_id(nm, i));
            break;
        }
        st = gar_noise_set(nm, i, all + i * S);
    }
    if (st == GAR_OK)
        *has = 1;
done:
    free(all);
    H5Gclose(g);
    return st;
}

gar_status gar_poses_write(const char *path, const gar_pose *poses, size_t n, const gar_refine_state *st_in,
                           const gar_noise *noise, const char *fingerprint)
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
        gar_h5_write_attr_u64(g, "converged", st_in->converged) < 0 ||
        gar_h5_write_attr_f64(g, "scale_median", st_in->scale_median) < 0 ||
        gar_h5_write_attr_f64(g, "junk_threshold", st_in->junk_threshold) < 0 ||
        gar_h5_write_attr_f64(g, "misfit_threshold", st_in->misfit_threshold) < 0 ||
        gar_h5_write_attr_u64(g, "junk_count", st_in->junk_count) < 0)
        goto finish;
    if ((noise != NULL && write_noise(f, noise) < 0) ||
        (fingerprint != NULL && gar_h5_write_text(f, "fingerprint", fingerprint) < 0))
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
    for (size_t i = 0; i < n; i++)
        half[i] = poses[i].junk;
    if (gar_h5_write_column(g, "junk", H5T_NATIVE_INT32, H5T_STD_I32LE, half, n) < 0)
        goto finish;
    for (int c = 0; c < N_COLUMNS; c++) {
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

static gar_status open_poses(const char *path, hid_t *f, uint64_t *n, uint64_t *version)
{
    uint64_t v;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (access(path, R_OK) != 0)
        return gar_error(GAR_ERR_NOINPUT, "%s: no such poses file", path);
    if ((*f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        return gar_error(GAR_ERR_DATA, "%s: not an HDF5 file", path);
    if (!gar_h5_attr_string_is(*f, "format", POSES_FORMAT) || gar_h5_read_attr_u64(*f, "format_version", &v) < 0 ||
        v < 1 || v > POSES_VERSION || gar_h5_read_attr_u64(*f, "particles", n) < 0) {
        H5Fclose(*f);
        *f = -1;
        return gar_error(GAR_ERR_DATA, "%s: not a garner poses file of version 1 to %d", path, POSES_VERSION);
    }
    *version = v;
    return GAR_OK;
}

gar_status gar_poses_fingerprint(const char *path, char **out)
{
    hid_t f;
    uint64_t m, v;
    gar_status st = open_poses(path, &f, &m, &v);
    *out = NULL;
    if (st != GAR_OK)
        return st;
    if (gar_h5_read_text(f, "fingerprint", out) < 0)
        st = gar_error(GAR_ERR_DATA, "%s: the run's fingerprint is damaged", path);
    H5Fclose(f);
    return st;
}

gar_status gar_poses_count(const char *path, size_t *n)
{
    hid_t f;
    uint64_t m, v;
    gar_status st = open_poses(path, &f, &m, &v);
    if (st != GAR_OK)
        return st;
    H5Fclose(f);
    *n = (size_t)m;
    return GAR_OK;
}

gar_status gar_poses_read(const char *path, gar_pose *poses, size_t n, gar_refine_state *state, gar_noise *noise,
                          int *has_noise)
{
    hid_t f = -1, g = -1;
    uint64_t m, version;
    gar_status st;
    double *col = NULL;
    int32_t *half = NULL;
    if (has_noise != NULL)
        *has_noise = 0;
    if ((st = open_poses(path, &f, &m, &version)) != GAR_OK)
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
    state->junk_threshold = -INFINITY;
    state->misfit_threshold = INFINITY;
    if (version >= 2 && (gar_h5_read_attr_f64(g, "scale_median", &state->scale_median) < 0 ||
                         gar_h5_read_attr_f64(g, "junk_threshold", &state->junk_threshold) < 0 ||
                         gar_h5_read_attr_f64(g, "misfit_threshold", &state->misfit_threshold) < 0 ||
                         gar_h5_read_attr_u64(g, "junk_count", &state->junk_count) < 0))
        goto bad;
    H5Gclose(g);
    g = -1;
    if (version >= 2 && noise != NULL && (st = read_noise(f, path, noise, has_noise)) != GAR_OK)
        goto done;
    if ((g = H5Gopen2(f, "poses", H5P_DEFAULT)) < 0 ||
        gar_h5_read_column(g, "half_set", H5T_NATIVE_INT32, half, n) < 0)
        goto bad;
    for (size_t i = 0; i < n; i++) {
        poses[i].half_set = half[i];
        poses[i].scale = 1.0;
        poses[i].junk = 0;
    }
    if (version >= 2) {
        if (gar_h5_read_column(g, "junk", H5T_NATIVE_INT32, half, n) < 0)
            goto bad;
        for (size_t i = 0; i < n; i++)
            poses[i].junk = half[i];
    }
    for (int c = 0; c < (version >= 2 ? N_COLUMNS : N_COLUMNS_V1); c++) {
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
