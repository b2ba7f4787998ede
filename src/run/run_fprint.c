/* garner: a run's fingerprint (see run_fprint.h). */
#include "run_fprint.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "config.h"
#include "gar_stack.h"

/* Keys that do not shape the result, left out of every fingerprint: where
 * the outputs go and when checkpoints are taken, how fast and on what the
 * work runs, the reference only compared with at the end, how the sums
 * travel between ranks ([mpi] shard_size shapes the checkpoint, whose shard
 * count and size are checked on their own: gar_checkpoint.h), and the
 * post-processing of refine's final half maps, which a continued run makes
 * anew ([postprocess] mask stays: refine's solvent-corrected FSC uses it).
 * [input] stacks is there as the stack lines. A stored fingerprint that
 * holds one of these (written before it was left out) is compared without
 * it. */
static const char *const never[] = {"input stacks",        "output dir",       "output overwrite",
                                    "output checkpoint_minutes", "reconstruct threads", "reconstruct batch",
                                    "reconstruct reference", "gpu *",          "mpi *",
                                    "postprocess run",     "postprocess bfactor", "postprocess reference",
                                    NULL};
/* Refine's schedule, which --continue may change between iterations: each
 * iteration reconstructs from scratch, so no map mixes two values, and
 * these are the keys its memory check tells the user to change before
 * continuing (refine_refs.c). */
static const char *const refine_schedule[] = {"refine iterations", "refine angular_step", "refine local_search_below",
                                              "reconstruct pad", NULL};

static int listed(const char *const *list, const char *section, const char *key)
{
    char name[128];
    for (; *list != NULL; list++) {
        snprintf(name, sizeof name, "%s *", section);
        if (strcmp(*list, name) == 0)
            return 1;
        snprintf(name, sizeof name, "%s %s", section, key);
        if (strcmp(*list, name) == 0)
            return 1;
    }
    return 0;
}

/* A growing text. */
typedef struct text {
    char *s;
    size_t len, cap;
} text;

static gar_status add(text *t, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return gar_error(GAR_ERR_INTERNAL, "run fingerprint: cannot format a line");
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = 2 * (t->len + (size_t)n + 1) + 256;
        char *s = realloc(t->s, cap);
        if (s == NULL)
            return gar_error(GAR_ERR_NOMEM, "run fingerprint: out of memory");
        t->s = s;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
    return GAR_OK;
}

/* FNV-1a, 64 bits: a file-level digest that needs no library, fast enough
 * for a million particles' metadata (about 80 MB of hashing). Not a
 * cryptographic hash: it tells another or changed stack from the same one. */
#define FNV_START 0xcbf29ce484222325ULL
static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)   /* least significant byte first: the same on any host */
        h = (h ^ (v & 0xff)) * 0x100000001b3ULL;
    return h;
}

static uint64_t fnv_f64(uint64_t h, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    return fnv_u64(h, v);
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return fnv_u64(h, 0);   /* terminator: "ab","c" differs from "a","bc" */
}

/* The digest of a stack's metadata: box, count, the optics table and every
 * particle's columns, read from a handle of its own (an open stack holds
 * some columns in memory, which would hide a file replaced on disk). */
static gar_status stack_digest(const char *path, uint64_t *out)
{
    enum { CHUNK = 4096 };
    gar_status st;
    gar_stack *s = NULL;
    gar_particle *m = NULL;
    const gar_optics *o;
    size_t n_optics = 0;
    uint64_t h = FNV_START;
    if ((st = gar_stack_open(path, &s)) != GAR_OK ||
        (st = gar_alloc((void **)&m, CHUNK, sizeof *m, "metadata")) != GAR_OK)
        goto done;
    h = fnv_u64(fnv_u64(h, gar_stack_box(s)), gar_stack_count(s));
    o = gar_stack_optics(s, &n_optics);
    for (size_t i = 0; i < n_optics; i++) {
        h = fnv_u64(fnv_str(h, o[i].name), (uint64_t)(uint32_t)o[i].group);
        h = fnv_f64(fnv_f64(fnv_f64(fnv_f64(h, o[i].pixel_size_A), o[i].voltage_kV), o[i].cs_mm),
                    o[i].amplitude_contrast);
        h = fnv_u64(h, (uint64_t)(uint32_t)o[i].image_size);
    }
    for (size_t first = 0; first < gar_stack_count(s); first += CHUNK) {
        size_t cnt = gar_stack_count(s) - first < CHUNK ? gar_stack_count(s) - first : CHUNK;
        if ((st = gar_stack_read_meta(s, first, cnt, m)) != GAR_OK)
            goto done;
        for (size_t i = 0; i < cnt; i++) {
            const gar_particle *q = &m[i];
            const double d[9] = {q->rot_deg,     q->tilt_deg,    q->psi_deg,
                                 q->origin_x_A,  q->origin_y_A,  q->defocus_u_A,
                                 q->defocus_v_A, q->defocus_angle_deg, q->phase_shift_deg};
            for (int k = 0; k < 9; k++)
                h = fnv_f64(h, d[k]);
            h = fnv_u64(fnv_u64(h, (uint64_t)(uint32_t)q->half_set), (uint64_t)(uint32_t)q->optics_group);
        }
    }
    *out = h;
done:
    free(m);
    gar_stack_close(&s);
    return st;
}

static gar_status add_stacks(text *t, const gar_params *p)
{
    gar_status st;
    const char *const *paths = NULL;
    size_t n = 0;
    if ((st = gar_params_get_path_list(p, "input", "stacks", &paths, &n)) != GAR_OK)
        return st;
    for (size_t i = 0; i < n; i++) {
        struct stat sb;
        uint64_t digest = 0;
        if (stat(paths[i], &sb) != 0)
            return gar_error(GAR_ERR_NOINPUT, "%s: the stack is gone", paths[i]);
        if ((st = stack_digest(paths[i], &digest)) != GAR_OK)
            return st;
        /* The stack's number keys its lines so that a changed path is
         * reported as a change, not as one stack missing and one new. */
        if ((st = add(t, "stack %zu = %s\n", i + 1, paths[i])) != GAR_OK ||
            (st = add(t, "stack %zu bytes = %lld\n", i + 1, (long long)sb.st_size)) != GAR_OK ||
            (st = add(t, "stack %zu modified = %lld.%09ld\n", i + 1, (long long)sb.st_mtim.tv_sec,
                      (long)sb.st_mtim.tv_nsec)) != GAR_OK ||
            (st = add(t, "stack %zu metadata = fnv1a64:%016llx\n", i + 1, (unsigned long long)digest)) != GAR_OK)
            return st;
    }
    return add(t, "stacks = %zu\n", n);
}

/* "[section] key = value", the value typed and canonical (numbers to 17
 * digits, yes/no, "none" for an unset optional key). */
static gar_status add_setting(text *t, const gar_params *p, const gar_param_spec *spec)
{
    const char *s = NULL;
    if (spec->default_value == NULL && !gar_params_is_set(p, spec->section, spec->key))
        return add(t, "[%s] %s = none\n", spec->section, spec->key);
    switch (spec->type) {
    case GAR_PARAM_INT: {
        long v = 0;
        gar_params_get_int(p, spec->section, spec->key, &v);
        return add(t, "[%s] %s = %ld\n", spec->section, spec->key, v);
    }
    case GAR_PARAM_DOUBLE: {
        double v = 0;
        gar_params_get_double(p, spec->section, spec->key, &v);
        return add(t, "[%s] %s = %.17g\n", spec->section, spec->key, v);
    }
    case GAR_PARAM_BOOL: {
        int v = 0;
        gar_params_get_bool(p, spec->section, spec->key, &v);
        return add(t, "[%s] %s = %s\n", spec->section, spec->key, v ? "yes" : "no");
    }
    case GAR_PARAM_PATH:
        gar_params_get_path(p, spec->section, spec->key, &s);
        break;
    default:
        gar_params_get_string(p, spec->section, spec->key, &s);
    }
    return add(t, "[%s] %s = %s\n", spec->section, spec->key, s != NULL ? s : "none");
}

gar_status run_fprint_build(const gar_params *p, run_fprint_kind kind, char **out)
{
    gar_status st;
    text t = {NULL, 0, 0};
    *out = NULL;
    /* Another version may compute the same settings differently. */
    if ((st = add(&t, "garner version = %s\n", PACKAGE_VERSION)) != GAR_OK)
        goto done;
    for (const gar_param_spec *spec = gar_params_schema(); spec->section != NULL; spec++) {
        if (listed(never, spec->section, spec->key) ||
            (kind == RUN_FPRINT_RECONSTRUCT && strcmp(spec->section, "refine") == 0) ||
            (kind == RUN_FPRINT_REFINE && listed(refine_schedule, spec->section, spec->key)))
            continue;
        if ((st = add_setting(&t, p, spec)) != GAR_OK)
            goto done;
    }
    if ((st = add_stacks(&t, p)) != GAR_OK)
        goto done;
    *out = t.s;
    t.s = NULL;
done:
    free(t.s);
    return st;
}

gar_status run_fprint_stacks(const gar_params *p, char **out)
{
    text t = {NULL, 0, 0};
    gar_status st = add_stacks(&t, p);
    *out = st == GAR_OK ? t.s : NULL;
    if (st != GAR_OK)
        free(t.s);
    return st;
}

/* The value of `key` (its length klen) in lines, and its length; NULL if absent. */
static const char *find(const char *lines, const char *key, size_t klen, size_t *vlen)
{
    for (const char *line = lines; *line; ) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > klen + 3 && strncmp(line, key, klen) == 0 && strncmp(line + klen, " = ", 3) == 0) {
            *vlen = len - klen - 3;
            return line + klen + 3;
        }
        line += len + (end != NULL);
    }
    return NULL;
}

/* The mismatch of one key, named: a stack line also names the stack's
 * path here, which is what the user has to look at. */
static gar_status mismatch(const char *here, const char *key, size_t klen, const char *a, size_t alen,
                           const char *b, size_t blen, const char *what, const char *where,
                           const char *advice)
{
    unsigned long k;
    char stack_key[32];
    size_t plen = 0;
    const char *path;
    if (sscanf(key, "stack %lu", &k) == 1) {
        snprintf(stack_key, sizeof stack_key, "stack %lu", k);
        path = find(here, stack_key, strlen(stack_key), &plen);
        if (path == NULL)   /* fewer stacks here: name the stored one */
            path = b, plen = blen;
        return gar_error(GAR_ERR_DATA, "%s: stack %.*s: %.*s = %.*s here, %.*s in %s%s", what, (int)plen, path,
                         (int)klen, key, (int)alen, a ? a : "(none)", (int)blen, b ? b : "(none)", where, advice);
    }
    return gar_error(GAR_ERR_DATA, "%s: %.*s = %.*s here, %.*s in %s%s", what, (int)klen, key, (int)alen,
                     a ? a : "(none)", (int)blen, b ? b : "(none)", where, advice);
}

/* Whether a fingerprint line's key ("[section] key") is one left out. */
static int left_out(const char *line, size_t klen)
{
    char section[64], key[128], name[200];
    if (klen >= sizeof name)
        return 0;
    memcpy(name, line, klen);
    name[klen] = '\0';
    return sscanf(name, "[%63[^]]] %127s", section, key) == 2 && listed(never, section, key);
}

/* Each line of `a` against `b` (swap: report a's values as b's). */
static gar_status compare_one_way(const char *a, const char *b, int swap, const char *here, const char *what,
                                  const char *where, const char *advice)
{
    for (const char *line = a; *line; ) {
        const char *end = strchr(line, '\n'), *eq, *v;
        size_t len = end ? (size_t)(end - line) : strlen(line), klen, alen, blen = 0;
        eq = strstr(line, " = ");
        if (eq != NULL && eq < line + len && !left_out(line, (size_t)(eq - line))) {
            klen = (size_t)(eq - line);
            alen = len - klen - 3;
            v = find(b, line, klen, &blen);
            if (v == NULL || blen != alen || memcmp(v, eq + 3, alen) != 0)
                return swap ? mismatch(here, line, klen, v, v ? blen : 6, eq + 3, alen, what, where, advice)
                            : mismatch(here, line, klen, eq + 3, alen, v, v ? blen : 6, what, where, advice);
        }
        line += len + (end != NULL);
    }
    return GAR_OK;
}

gar_status run_fprint_compare(const char *here, const char *stored, int subset, const char *what,
                              const char *where, const char *advice)
{
    gar_status st = compare_one_way(here, stored, 0, here, what, where, advice);
    if (st == GAR_OK && !subset)
        st = compare_one_way(stored, here, 1, here, what, where, advice);
    return st;
}
