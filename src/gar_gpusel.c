#include "gar_gpusel.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gar_gpu.h"

gar_status gar_gpu_parse_devices(const char *spec, int *is_auto, int *devices, size_t *n)
{
    const char *p = spec;
    *is_auto = 0;
    *n = 0;
    if (strcmp(spec, "auto") == 0) {
        *is_auto = 1;
        return GAR_OK;
    }
    if (strcmp(spec, "none") == 0)
        return GAR_OK;
    for (;;) {
        char *end;
        long v;
        while (isspace((unsigned char)*p))
            p++;
        if (!isdigit((unsigned char)*p))
            break;
        v = strtol(p, &end, 10);
        if (v > 1023 || *n == GAR_GPU_MAX_DEVICES)
            break;
        devices[(*n)++] = (int)v;
        p = end;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            return GAR_OK;
        if (*p != ',')
            break;
        p++;
    }
    *n = 0;
    return gar_error(GAR_ERR_USAGE, "'%s': expected auto, none, or device numbers separated by commas (at most "
                     "%d, each below 1024), e.g. 0,1", spec, GAR_GPU_MAX_DEVICES);
}

void gar_gpu_bind(int visible, int worker, int workers, int *devices, size_t *n)
{
    *n = 0;
    if (visible <= 0 || workers <= 0 || worker < 0 || worker >= workers)
        return;
    if (workers <= visible) {
        for (int d = worker; d < visible && *n < GAR_GPU_MAX_DEVICES; d += workers)
            devices[(*n)++] = d;
    } else {
        devices[(*n)++] = worker % visible;
    }
}

gar_status gar_gpu_choose(const char *spec, int worker, int workers, int *devices, size_t *n, char *why,
                          size_t why_len)
{
    gar_status st;
    int is_auto, count = 0;
    const char *cvd = getenv("CUDA_VISIBLE_DEVICES");
    const int emulated = strcmp(spec, "emulated") == 0;
    /* The emulated devices, bound as auto binds real ones, but required:
     * whoever asks for them is testing the GPU path and must not get the
     * CPU's instead. */
    if (emulated && !gar_gpu_emulated())
        return gar_error(GAR_ERR_USAGE, "'emulated': this garner drives real GPUs (or none); the CUDA emulation "
                         "is test infrastructure, built by make check as tests/garner_emu: use auto, none or "
                         "device numbers");
    if ((st = gar_gpu_parse_devices(emulated ? "auto" : spec, &is_auto, devices, n)) != GAR_OK)
        return st;
    if (workers == 0) {
        *n = 0;
        snprintf(why, why_len, "the master rank drives no GPU");
        return GAR_OK;
    }
    if (!is_auto && *n == 0) {
        snprintf(why, why_len, "[gpu] devices = none");
        return GAR_OK;
    }
    st = gar_gpu_device_count(&count);
    if (emulated && st != GAR_OK)
        return st;
    if (is_auto) {
        if (st != GAR_OK) {
            *n = 0;
            snprintf(why, why_len, "[gpu] devices = auto found no GPU (%s)", gar_errmsg());
            gar_error_clear();
            return GAR_OK;
        }
        gar_gpu_bind(count, worker, workers, devices, n);
        snprintf(why, why_len, "[gpu] devices = %s: node-local worker %d of %d, %d visible device%s "
                 "(CUDA_VISIBLE_DEVICES=%s)", spec, worker, workers, count, count == 1 ? "" : "s",
                 cvd ? cvd : "unset");
        return GAR_OK;
    }
    if (st != GAR_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", gar_errmsg());
        return gar_error(st, "GPU %s asked for, but %s", spec, msg);
    }
    for (size_t i = 0; i < *n; i++)
        if (devices[i] >= count)
            return gar_error(GAR_ERR_USAGE, "GPU %d asked for, but this rank sees %d device%s "
                             "(CUDA_VISIBLE_DEVICES=%s)", devices[i], count, count == 1 ? "" : "s",
                             cvd ? cvd : "unset");
    snprintf(why, why_len, "[gpu] devices = %s", spec);
    return GAR_OK;
}

void gar_gpu_default_cache(char *buf, size_t len)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg != NULL && xdg[0] == '/')
        snprintf(buf, len, "%s/garner/gpu-tuning.tsv", xdg);
    else if (home != NULL && home[0] != '\0')
        snprintf(buf, len, "%s/.cache/garner/gpu-tuning.tsv", home);
    else
        snprintf(buf, len, "%s", "");
}
