/* garner: the files every run writes beside its maps (see run_files.h). */
#include "run_files.h"

#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gar_log.h"
#include "gar_h5util.h"
#include "gar_run.h"

/* Copy a file byte for byte (the parameter file into the output). */
gar_status run_copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = NULL;
    char buf[65536];
    size_t n;
    gar_status st = GAR_OK;
    if (in == NULL)
        return gar_error(GAR_ERR_NOINPUT, "%s: cannot read", from);
    out = fopen(to, "wb");
    if (out == NULL) {
        fclose(in);
        return gar_error(GAR_ERR_OUTPUT, "%s: cannot create", to);
    }
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) {
            st = gar_error(GAR_ERR_IO, "%s: write failed", to);
            break;
        }
    fclose(in);
    if (fclose(out) != 0 && st == GAR_OK)
        st = gar_error(GAR_ERR_IO, "%s: write failed", to);
    return st;
}

gar_status run_write_effective_params(const gar_params *p, const char *path)
{
    gar_status st;
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return gar_error(GAR_ERR_OUTPUT, "%s: cannot create", path);
    st = gar_params_write(p, f);
    if (fclose(f) != 0 && st == GAR_OK)
        st = gar_error(GAR_ERR_IO, "%s: write failed", path);
    return st;
}

gar_status run_write_fsc_csv(const char *path, const double *fsc, const double *fsc_ref, size_t n,
                                size_t box, double pixel)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return gar_error(GAR_ERR_OUTPUT, "%s: cannot create", path);
    fprintf(f, "shell,resolution_A,fsc_half_maps%s\n", fsc_ref ? ",fsc_reference" : "");
    for (size_t s = 0; s < n; s++) {
        double res = s > 0 ? box * pixel / (double)s : INFINITY;
        if (s > 0)
            fprintf(f, "%zu,%.4f,%.6f", s, res, fsc[s]);
        else
            fprintf(f, "%zu,inf,%.6f", s, fsc[s]);
        if (fsc_ref)
            fprintf(f, ",%.6f", fsc_ref[s]);
        fprintf(f, "\n");
    }
    if (fclose(f) != 0)
        return gar_error(GAR_ERR_IO, "%s: write failed", path);
    return GAR_OK;
}

void run_json_number(FILE *f, double v, const char *fmt)
{
    if (isfinite(v))
        fprintf(f, fmt, v);
    else
        fputs("null", f);
}

void run_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

void run_json_fingerprint(FILE *f, const char *fp)
{
    char line[8192];
    int first = 1;
    if (fp == NULL)
        return;
    fprintf(f, "  \"fingerprint\": [");
    while (*fp) {
        const char *end = strchr(fp, '\n');
        size_t len = end ? (size_t)(end - fp) : strlen(fp);
        snprintf(line, sizeof line, "%.*s", (int)len, fp);
        fprintf(f, "%s\n    ", first ? "" : ",");
        run_json_string(f, line);
        first = 0;
        fp += len + (end != NULL);
    }
    fprintf(f, "\n  ],\n");
}

/* Every schema key with its effective value, typed. */
void run_json_parameters(FILE *f, const gar_params *p)
{
    const gar_param_spec *spec = gar_params_schema();
    const char *section = NULL;
    int first_section = 1, first_key = 1;
    fprintf(f, "  \"parameters\": {");
    for (; spec->section != NULL; spec++) {
        if (section == NULL || strcmp(section, spec->section) != 0) {
            fprintf(f, "%s\n    ", first_section ? "" : "\n    },\n    ");
            run_json_string(f, spec->section);
            fprintf(f, ": {");
            section = spec->section;
            first_section = 0;
            first_key = 1;
        }
        fprintf(f, "%s\n      ", first_key ? "" : ",");
        first_key = 0;
        run_json_string(f, spec->key);
        fprintf(f, ": ");
        if (spec->default_value == NULL && !gar_params_is_set(p, spec->section, spec->key)) {
            fprintf(f, "null");
            continue;
        }
        switch (spec->type) {
        case GAR_PARAM_INT: {
            long v = 0;
            gar_params_get_int(p, spec->section, spec->key, &v);
            fprintf(f, "%ld", v);
            break;
        }
        case GAR_PARAM_DOUBLE: {
            double v = 0;
            gar_params_get_double(p, spec->section, spec->key, &v);
            fprintf(f, "%.10g", v);
            break;
        }
        case GAR_PARAM_BOOL: {
            int v = 0;
            gar_params_get_bool(p, spec->section, spec->key, &v);
            fprintf(f, "%s", v ? "true" : "false");
            break;
        }
        case GAR_PARAM_PATH: {
            const char *v = "";
            gar_params_get_path(p, spec->section, spec->key, &v);
            run_json_string(f, v);
            break;
        }
        case GAR_PARAM_PATH_LIST: {
            const char *const *v = NULL;
            size_t n = 0;
            gar_params_get_path_list(p, spec->section, spec->key, &v, &n);
            fprintf(f, "[");
            for (size_t i = 0; i < n; i++) {
                if (i)
                    fprintf(f, ", ");
                run_json_string(f, v[i]);
            }
            fprintf(f, "]");
            break;
        }
        default: {
            const char *v = "";
            gar_params_get_string(p, spec->section, spec->key, &v);
            run_json_string(f, v);
        }
        }
    }
    fprintf(f, "\n    }\n  }\n");
}

/* A value's origin for messages: "run.ini:7: [reconstruct] symmetry". */
void run_where(const gar_params *p, const char *section, const char *key, char *buf, size_t len)
{
    snprintf(buf, len, "%s: [%s] %s", gar_params_origin(p, section, key), section, key);
}


int gar_run_exit(int rc)
{
    if (gar_h5_unclosed_files()) {
        fflush(NULL);
        _exit(rc != 0 ? rc : 74);
    }
    return rc;
}

gar_status gar_run_check_output_file(const char *opt, const char *path, int overwrite)
{
    struct stat sb;
    char dir[PATH_MAX];
    if (path == NULL || path[0] == '\0')
        return gar_error(GAR_ERR_USAGE, "%s: an output file name is required", opt);
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return gar_error(GAR_ERR_USAGE, "%s %s: is a directory, expected a file name", opt, path);
        if (!overwrite)
            return gar_error(GAR_ERR_USAGE, "%s %s: file exists (add --overwrite to replace it)", opt, path);
    }
    snprintf(dir, sizeof dir, "%s", path);
    char *d = dirname(dir);
    if (stat(d, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return gar_error(GAR_ERR_OUTPUT, "%s %s: folder %s does not exist", opt, path, d);
    if (access(d, W_OK) != 0)
        return gar_error(GAR_ERR_OUTPUT, "%s %s: folder %s is not writable", opt, path, d);
    return GAR_OK;
}

const char *run_resolution_words(double value, gar_fsc_crossing c, double threshold, char *buf, size_t len)
{
    if (c == GAR_FSC_BELOW_AT_FIRST)
        snprintf(buf, len, "FSC below %g from the first shell: no resolution within the box (coarser than %.4g Å)",
                 threshold, value);
    else if (c == GAR_FSC_NEVER_BELOW)
        snprintf(buf, len, "FSC at or above %g up to Nyquist (%.4g Å): the resolution is Nyquist or finer", threshold,
                 value);
    else
        snprintf(buf, len, "FSC %g at %.2f Å", threshold, value);
    return buf;
}

void run_json_resolution(FILE *f, const char *key, const char *note_key, double value, gar_fsc_crossing c,
                         double threshold)
{
    char words[160];
    /* Below at the first shell there is no number to give: a bound in a
     * field that scripts read as a resolution would be taken for one. */
    if (c == GAR_FSC_BELOW_AT_FIRST)
        fprintf(f, "  \"%s\": null,\n", key);
    else
        fprintf(f, "  \"%s\": %.4f,\n", key, value);
    if (c != GAR_FSC_CROSSES) {
        fprintf(f, "  \"%s\": ", note_key);
        run_json_string(f, run_resolution_words(value, c, threshold, words, sizeof words));
        fprintf(f, ",\n");
    }
}

char *run_provenance(int argc, char *const *argv)
{
    size_t len = 16;
    char *s;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    s = malloc(len);
    if (s == NULL)
        return NULL;
    strcpy(s, "garner");
    for (int i = 0; i < argc; i++) {
        strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

gar_status run_check_map_values(const gar_params *p, const char *section, const char *key, const char *path,
                                const gar_map *map, size_t box, double pixel_A)
{
    const size_t n = gar_map_voxels(map);
    size_t bad;
    char loc[512];
    run_where(p, section, key, loc, sizeof loc);
    if (map->nx != box || map->ny != box || map->nz != box)
        return gar_error(GAR_ERR_DATA, "%s: %s is %zu x %zu x %zu, the particles are %zu x %zu", loc, path, map->nx,
                         map->ny, map->nz, box, box);
    if ((bad = gar_map_nonfinite_voxels(map)) > 0)
        return gar_error(GAR_ERR_DATA, "%s: %s: %zu of %zu voxels are NaN or infinite; the map must be finite", loc,
                         path, bad, n);
    /* A map of another scale would be compared shell by shell with the
     * particles' as if the scales agreed: a wrong resolution, no error. */
    if (map->pixel_size > 0 && !gar_map_pixel_sizes_agree(map->pixel_size, pixel_A))
        return gar_error(GAR_ERR_DATA, "%s: %s has %.4g Å pixels, the particles %.4g Å (%.2g %% apart, more than "
                         "%g %%): resample the map to the particles' pixel size and box (relion_image_handler "
                         "--i %s --rescale_angpix %.6g --new_box %zu --o map_%.6gA.mrc), or, if only its header is "
                         "wrong, correct that (relion_image_handler --i %s --force_header_angpix %.6g --o "
                         "map_fixed.mrc)", loc, path, map->pixel_size, pixel_A,
                         100 * fabs(map->pixel_size - pixel_A) / fmax(map->pixel_size, pixel_A),
                         100 * GAR_MAP_PIXEL_TOLERANCE, path, pixel_A, box, pixel_A, path, pixel_A);
    /* No pixel size (0 in the header: written by a program that does not
     * record one, or a map made on the particles' grid) on a map of the
     * particles' box: it is on their grid, as RELION takes such a map;
     * said in the log, where a wrong assumption can be seen. */
    if (map->pixel_size == 0)
        gar_log_warn("%s: %s gives no pixel size (0 in its MRC header): taken to be the particles' %g Å", loc, path,
                     pixel_A);
    return GAR_OK;
}

gar_status run_maps_pixel(const char *name_a, const gar_map *a, const char *name_b, const gar_map *b, double angpix,
                          double *out)
{
    double pa = a->pixel_size, pb = b->pixel_size, big = pa > pb ? pa : pb;

    *out = 0;
    if (angpix != 0) {
        if (!isfinite(angpix) || angpix < 0)
            return gar_error(GAR_ERR_USAGE, "--angpix %g: expected a pixel size in Å > 0", angpix);
        gar_log_info("--angpix: %g Å pixels used for both maps, not their headers' (%s: %g Å, %s: %g Å)", angpix,
                     name_a, pa, name_b, pb);
        *out = angpix;
        return GAR_OK;
    }
    if (pa == 0 || pb == 0) {
        gar_log_warn("%s gives no pixel size (0 in its MRC header): resolution printed in pixels "
                     "(resolution_px; Nyquist is 2 px), not in Å; give --angpix A for Å",
                     pa == 0 && pb == 0 ? "neither map" : pa == 0 ? name_a : name_b);
        return GAR_OK;
    }
    if (!gar_map_pixel_sizes_agree(pa, pb))
        return gar_error(GAR_ERR_DATA, "%s has %g Å pixels and %s %g Å (%.2g %% apart, more than %g %%): "
                         "expected one pixel size; resample one map, or give --angpix A if a header is wrong",
                         name_a, pa, name_b, pb, 100 * fabs(pa - pb) / big, 100 * GAR_MAP_PIXEL_TOLERANCE);
    *out = 0.5 * (pa + pb);
    return GAR_OK;
}
