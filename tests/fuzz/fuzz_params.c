/* Fuzz target: the parameter-file reader and its validation
 * (gar_params_load_buffer, gar_params_set, the typed getters) and the
 * round trip through gar_params_write: what garner writes as the parameters
 * of a run must load back to the same parameters.
 *
 * The input is the text of a parameter file, optionally followed by a NUL
 * byte and --set assignments, one a line. Path lists are not expanded (that
 * would make the fuzzer glob the file system); their parsing is covered. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gar_params.h"

#define BASE "/nonexistent/garner-fuzz"

static void read_all(const gar_params *p)
{
    for (const gar_param_spec *k = gar_params_schema(); k->section != NULL; k++) {
        const char *str;
        long l;
        double d;
        int b;
        gar_status st = GAR_OK;
        switch (k->type) {
        case GAR_PARAM_STRING:
        case GAR_PARAM_ENUM: st = gar_params_get_string(p, k->section, k->key, &str); break;
        case GAR_PARAM_PATH:
            st = gar_params_get_path(p, k->section, k->key, &str);
            if (st == GAR_OK && str[0] != '/')
                gar_fuzz_fail("params", "a path value is not absolute");
            break;
        case GAR_PARAM_INT:
            st = gar_params_get_int(p, k->section, k->key, &l);
            if (st == GAR_OK && (l < k->min || l > k->max))
                gar_fuzz_fail("params", "an integer outside its bounds");
            break;
        case GAR_PARAM_DOUBLE:
            st = gar_params_get_double(p, k->section, k->key, &d);
            if (st == GAR_OK && !(d >= k->min && d <= k->max))
                gar_fuzz_fail("params", "a number outside its bounds");
            break;
        case GAR_PARAM_BOOL: st = gar_params_get_bool(p, k->section, k->key, &b); break;
        case GAR_PARAM_PATH_LIST: break;
        }
        if (st == GAR_ERR_INTERNAL)
            gar_fuzz_fail("params", gar_errmsg());
        (void)gar_params_origin(p, k->section, k->key);
        (void)gar_params_is_set(p, k->section, k->key);
    }
}

/* The parameters as gar_params_write writes them; NULL when it refuses
 * (a line would be too long) or memory runs out. */
static char *written(const gar_params *p, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    gar_status st;
    if (f == NULL)
        return NULL;
    st = gar_params_write(p, f);
    fclose(f);
    if (st != GAR_OK) {
        free(text);
        return NULL;
    }
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    size_t text_len = nul != NULL ? (size_t)(nul - text) : size;
    gar_params *p = NULL, *again = NULL;
    char *out1 = NULL, *out2 = NULL;
    size_t len1 = 0, len2 = 0;

    gar_status st = gar_params_load_buffer(text, text_len, "fuzz.ini", BASE, &p);
    gar_fuzz_note("params", st);
    if (st != GAR_OK) {
        if (p != NULL)
            gar_fuzz_fail("params", "a refused file left a handle");
        return 0;
    }
    /* --set lines after the NUL, each on its own. */
    if (nul != NULL) {
        const char *s = nul + 1, *end = text + size;
        while (s < end) {
            const char *nl = memchr(s, '\n', (size_t)(end - s));
            size_t n = nl != NULL ? (size_t)(nl - s) : (size_t)(end - s);
            char *line = strndup(s, n);
            if (line == NULL)
                break;
            if (strlen(line) == n)
                gar_fuzz_note("params --set", gar_params_set(p, line));
            free(line);
            s += n + 1;
        }
    }
    read_all(p);
    out1 = written(p, &len1);
    if (out1 != NULL) {
        if (gar_params_load_buffer(out1, len1, "fuzz.ini", BASE, &again) != GAR_OK) {
            fprintf(stderr, "written parameters:\n%s\n", out1);
            gar_fuzz_fail("params: the written parameters do not load back", gar_errmsg());
        }
        out2 = written(again, &len2);
        if (out2 == NULL || len1 != len2 || memcmp(out1, out2, len1) != 0) {
            fprintf(stderr, "first:\n%s\nsecond:\n%s\n", out1, out2 ? out2 : "(refused)");
            gar_fuzz_fail("params", "the written parameters load back different");
        }
    }
    free(out1);
    free(out2);
    gar_params_destroy(&again);
    gar_params_destroy(&p);
    return 0;
}
