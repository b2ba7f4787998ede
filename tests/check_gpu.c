/* The GPU inserter against the CPU: maps agree to a relative L2 difference
 * of 1e-5 for 64², 128² and 256² particles (64² only, and fewer particles,
 * in emulation), C1 and D7, both symmetry modes,
 * with the FFT on the device or on the host, for every gather variant; two
 * entries of one device give the map of one; the tuning writes its choice to
 * the cache, and a run with tuning = cached takes the variant a cache entry
 * names for this device and run shape (and no other); an absurd batch gets the
 * out-of-memory message that says what would fit; the coarse stage of a
 * global pose search on the GPU finds the CPU's poses. Exits 77 (skipped) only
 * where there is no CUDA build, no driver or no device (gar_gpu_absent): a
 * driver that fails otherwise fails the suite.
 *
 * Built twice: tests/check_gpu against the real device (nvcc), and
 * tests/check_gpu_emu against the CPU emulation of gpu/emu/ (GAR_CUDA_EMU),
 * which every make check runs, with the same assertions at sizes that fit
 * CI, and a few more that need the emulation's counters and fault
 * injection (gpu/emu/gar_cuda_emu_control.h). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gar_geometry.h"
#include "gar_gpu.h"
#include "gar_kernels.h"
#include "gar_phantom.h"
#include "gar_recon.h"
#include "gar_refproj.h"
#include "gar_search.h"
#include "gar_symmetry.h"
#include "testsim.h"
#include "testutil.h"

#ifdef GAR_CUDA_EMU
#include "gar_cuda_emu_control.h"
#include <dirent.h>
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>
/* Particle counts: the real device's, or the emulation's (one CPU thread
 * runs every GPU thread of the emulation; CI has 2 cores). */
#define COUNT(gpu, emu) (emu)
#else
#define COUNT(gpu, emu) (gpu)
#endif

/* Particles of a phantom of the given symmetry, noise, CTF and shifts; the
 * phantom into *map_out unless it is NULL. */
static void make_particles_of(size_t box, const char *symmetry, size_t n, sim_set *s, gar_map **map_out)
{
    gar_symmetry *sym = NULL;
    gar_map *ph = NULL;
    gar_phantom_config pc;
    memset(&pc, 0, sizeof pc);
    pc.box = box;
    pc.pixel_size_A = 256.0 / (double)box;   /* the same object at every box */
    pc.seed = 7;
    ck_assert_int_eq(gar_symmetry_create(symmetry, &sym), GAR_OK);
    ck_assert_int_eq(gar_phantom_create(&pc, sym, &ph), GAR_OK);
    simulate(ph, n, 1.0, 1, 3.0, 11, s);
    if (map_out != NULL)
        *map_out = ph;
    else
        gar_map_destroy(&ph);
    gar_symmetry_destroy(&sym);
}

static void make_particles(size_t box, const char *symmetry, size_t n, sim_set *s)
{
    make_particles_of(box, symmetry, n, s, NULL);
}

typedef struct run_opts {
    const char *symmetry;
    int volume_mode;
    const int *devices;
    size_t n_devices;
    int fft_on_gpu, tuning, variant;
    const char *cache;
    size_t batch;
    int periodic;      /* image_model = periodic */
    int fixed_sums;    /* an MPI worker's fixed-point sums (gar_fixedsum.h) */
} run_opts;

static gar_status build(const sim_set *s, const run_opts *o, gar_recon **out)
{
    gar_symmetry *sym = NULL;
    gar_recon_config c;
    gar_status st;
    ck_assert_int_eq(gar_symmetry_create(o->symmetry, &sym), GAR_OK);
    c = test_recon_config(s, 1, 4, o->batch ? o->batch : 32);
    c.sym_ops = gar_symmetry_matrices(sym);
    c.n_ops = gar_symmetry_order(sym);
    c.sym_mode = o->volume_mode ? GAR_SYM_VOLUME : GAR_SYM_INSERT;
    c.gpu_devices = o->devices;
    c.n_gpu_devices = o->n_devices;
    c.gpu_fft = o->fft_on_gpu;
    c.gpu_tuning = o->tuning;
    c.gpu_tuning_cache = o->cache;
    c.gpu_variant = o->variant;
    c.image_model = o->periodic ? GAR_IMAGE_PERIODIC : GAR_IMAGE_BOXED;
    c.fixed_sums = o->fixed_sums;
    st = gar_recon_create(&c, out);
    gar_symmetry_destroy(&sym);
    return st;
}

/* The map; the gather variant of the first device (or "cpu") into variant
 * and its tuning report into report, each unless NULL. */
static gar_map *reconstruct_report(const sim_set *s, const run_opts *o, char *variant, size_t len, char *report,
                                   size_t report_len)
{
    gar_recon *r = NULL;
    gar_map *m = NULL;
    ck_assert_msg(build(s, o, &r) == GAR_OK, "%s", gar_errmsg());
    const size_t batch = o->batch ? o->batch : 32;
    for (size_t first = 0; first < s->n; first += batch) {
        size_t n = s->n - first < batch ? s->n - first : batch;
        ck_assert_msg(gar_recon_insert(r, s->images + first * s->box * s->box, s->meta + first, n) == GAR_OK, "%s",
                      gar_errmsg());
    }
    ck_assert_msg(gar_recon_finalize(r, 0, &m) == GAR_OK, "%s", gar_errmsg());
    if (variant != NULL)
        snprintf(variant, len, "%s", o->n_devices ? gar_recon_gpu_variant(r, 0, NULL, 0) : "cpu");
    if (report != NULL && o->n_devices)
        gar_recon_gpu_variant(r, 0, report, report_len);
    gar_recon_destroy(&r);
    return m;
}

static gar_map *reconstruct(const sim_set *s, const run_opts *o, char *variant, size_t len)
{
    return reconstruct_report(s, o, variant, len, NULL, 0);
}

static double rel_l2(const gar_map *a, const gar_map *b)
{
    return test_rel_l2(a->data, b->data, gar_map_voxels(a));
}

static const int dev0[] = {0}, dev00[] = {0, 0};

/* GPU (default variant and the FFT on the device, and the FFT on the host)
 * against the CPU for one box, symmetry, mode and image model (periodic:
 * the GPU's plane kernel keeps the box's grid as the CPU does). */
static void gpu_vs_cpu_model(size_t box, size_t n, const char *symmetry, int volume_mode, int periodic)
{
    sim_set s;
    run_opts cpu = {symmetry, volume_mode, NULL, 0, 1, GAR_TUNE_OFF, 0, NULL, 32, periodic};
    run_opts gpu = cpu, gpu_host_fft = cpu;
    make_particles(box, symmetry, n, &s);
    gpu.devices = dev0;
    gpu.n_devices = 1;
    gpu_host_fft = gpu;
    gpu_host_fft.fft_on_gpu = 0;
    gar_map *mc = reconstruct(&s, &cpu, NULL, 0), *mg = reconstruct(&s, &gpu, NULL, 0),
            *mh = reconstruct(&s, &gpu_host_fft, NULL, 0);
    double d = rel_l2(mc, mg), dh = rel_l2(mc, mh);
    fprintf(stderr, "measured: %zu² %s %s%s, %zu particles: GPU vs CPU relative L2 %.2e (FFT on the GPU), %.2e "
            "(FFT on the CPU)\n", box, symmetry, volume_mode ? "volume" : "insert", periodic ? " periodic" : "", n, d,
            dh);
    ck_assert_msg(d <= 1e-5, "%zu %s: GPU vs CPU %g", box, symmetry, d);
    ck_assert_msg(dh <= 1e-5, "%zu %s: GPU (host FFT) vs CPU %g", box, symmetry, dh);
    gar_map_destroy(&mc);
    gar_map_destroy(&mg);
    gar_map_destroy(&mh);
    sim_free(&s);
}

static void gpu_vs_cpu(size_t box, size_t n, const char *symmetry, int volume_mode)
{
    gpu_vs_cpu_model(box, n, symmetry, volume_mode, 0);
}

START_TEST(test_gpu_vs_cpu_64)
{
    gpu_vs_cpu(64, COUNT(200, 40), "C1", 0);
    gpu_vs_cpu(64, COUNT(100, 8), "D7", 0);
    gpu_vs_cpu(64, COUNT(100, 8), "D7", 1);
    gpu_vs_cpu_model(64, COUNT(200, 40), "C1", 0, 1);
}
END_TEST
#ifndef GAR_CUDA_EMU
START_TEST(test_gpu_vs_cpu_128) { gpu_vs_cpu(128, 100, "C1", 0); gpu_vs_cpu(128, 50, "D7", 0); gpu_vs_cpu(128, 50, "D7", 1); }
END_TEST
START_TEST(test_gpu_vs_cpu_256) { gpu_vs_cpu(256, 40, "C1", 0); gpu_vs_cpu(256, 20, "D7", 0); gpu_vs_cpu(256, 20, "D7", 1); }
END_TEST
#endif

/* Every variant the tuning may choose computes the CPU's map. */
START_TEST(test_every_variant)
{
    sim_set s;
    make_particles(64, "D7", COUNT(60, 6), &s);
    run_opts cpu = {"D7", 0, NULL, 0, 1, GAR_TUNE_OFF, 0, NULL, 16, 0};
    gar_map *mc = reconstruct(&s, &cpu, NULL, 0);
    for (int v = 0; v < gar_gpu_variant_count(); v++) {
        run_opts gpu = cpu;
        gpu.devices = dev0;
        gpu.n_devices = 1;
        gpu.variant = v + 1;
        gar_map *mg = reconstruct(&s, &gpu, NULL, 0);
        double d = rel_l2(mc, mg);
        fprintf(stderr, "measured: variant %-44s vs CPU relative L2 %.2e\n", gar_gpu_variant_name(v), d);
        ck_assert_msg(d <= 1e-5, "variant %s: %g", gar_gpu_variant_name(v), d);
        gar_map_destroy(&mg);
    }
    gar_map_destroy(&mc);
    sim_free(&s);
}
END_TEST

START_TEST(test_two_entries_of_one_device)
{
    sim_set s;
    make_particles(64, "C1", COUNT(160, 40), &s);
    run_opts one = {"C1", 0, dev0, 1, 1, GAR_TUNE_OFF, 0, NULL, 16, 0}, two = one;
    two.devices = dev00;
    two.n_devices = 2;
    gar_map *m1 = reconstruct(&s, &one, NULL, 0), *m2 = reconstruct(&s, &two, NULL, 0);
    double d = rel_l2(m1, m2);
    fprintf(stderr, "measured: devices 0,0 vs 0: relative L2 %.2e\n", d);
    /* The same sums, split over two accumulators and added on the host. */
    ck_assert_msg(d <= 1e-6, "two entries of one device differ from one by %g", d);
    gar_map_destroy(&m1);
    gar_map_destroy(&m2);
    sim_free(&s);
}
END_TEST

/* The fixed-point sums of an MPI worker with exact sums (gar_fixedsum.h):
 * the particles' sums of run `o` into a fixed-point reconstructor, with the
 * quanta fs, returned as doubles (2·nvox data then nvox weights of half
 * set 1) and as the integers themselves (*fixed, the same length). */
static double *fixed_sums_of(const sim_set *s, const run_opts *o, const gar_fixed_scale *fs, int64_t **fixed,
                             size_t *len)
{
    gar_recon *r = NULL;
    gar_recon_partial v;
    ck_assert_msg(o->fixed_sums && build(s, o, &r) == GAR_OK, "%s", gar_errmsg());
    ck_assert_int_eq(gar_recon_set_fixed_scale(r, fs), GAR_OK);
    for (size_t first = 0; first < s->n; first += o->batch) {
        size_t n = s->n - first < o->batch ? s->n - first : o->batch;
        ck_assert_msg(gar_recon_insert(r, s->images + first * s->box * s->box, s->meta + first, n) == GAR_OK, "%s",
                      gar_errmsg());
    }
    ck_assert_int_eq(gar_recon_partial_view(r, &v), GAR_OK);
    *len = 3 * v.nvox;
    double *x = malloc(*len * sizeof *x);
    *fixed = malloc(*len * sizeof **fixed);
    memcpy(*fixed, v.data_fixed[0], 2 * v.nvox * sizeof **fixed);
    memcpy(*fixed + 2 * v.nvox, v.weight_fixed[0], v.nvox * sizeof **fixed);
    for (size_t i = 0; i < *len; i++)
        x[i] = ldexp((double)(*fixed)[i], i < 2 * v.nvox ? fs->data_exp : fs->weight_exp);
    gar_recon_destroy(&r);
    return x;
}

/* The GPU's fixed-point sums (each device's float sums rounded at the
 * collect) against the CPU's (each contribution rounded), and the GPU's of
 * two runs: the same integers. */
START_TEST(test_fixed_sums_gpu_vs_cpu)
{
    sim_set s;
    gar_fixed_scale fs;
    double bound = 0;
    size_t len, len2;
    int64_t *qc, *qg, *qg2;
    make_particles(64, "C1", COUNT(120, 40), &s);
    for (size_t i = 0; i < s.n; i++)
        bound = fmax(bound, gar_fixed_image_bound(s.images + i * s.box * s.box, s.box));
    /* Blob radius 1.9: taps within a 4 × 4 square, at most 16 (gar_recon_blob_sum). */
    ck_assert_int_eq(gar_fixed_scale_make(bound, 1.0, s.n, 16.0, &fs), GAR_OK);
    run_opts cpu = {"C1", 0, NULL, 0, 1, GAR_TUNE_OFF, 0, NULL, 16, 0, 1}, gpu = cpu;
    gpu.devices = dev00;
    gpu.n_devices = 2;
    double *c = fixed_sums_of(&s, &cpu, &fs, &qc, &len), *g = fixed_sums_of(&s, &gpu, &fs, &qg, &len2);
    double ss = 0, sd = 0;
    ck_assert_uint_eq(len, len2);
    for (size_t i = 0; i < len; i++) {
        ss += c[i] * c[i];
        sd += (g[i] - c[i]) * (g[i] - c[i]);
    }
    fprintf(stderr, "measured: fixed-point sums, GPU (2 entries) vs CPU: relative L2 %.2e\n", sqrt(sd / ss));
    ck_assert_msg(ss > 0 && sqrt(sd / ss) <= 1e-5, "GPU vs CPU fixed-point sums: relative L2 %g", sqrt(sd / ss));
    free(g);
    g = fixed_sums_of(&s, &gpu, &fs, &qg2, &len2);
    ck_assert_msg(memcmp(qg, qg2, len * sizeof *qg) == 0, "two GPU runs give different fixed-point sums");
    free(c);
    free(g);
    free(qc);
    free(qg);
    free(qg2);
    sim_free(&s);
}
END_TEST

/* The tuning cache's lines are "model<TAB>key<TAB>variant<TAB>µs per slice"
 * (gpu/gar_gpu_tuning.cu). Finds the entry for `model` naming `variant` and
 * copies its key; 1 if there is one. */
static int cache_entry_key(const char *cache, const char *model, const char *variant, char *key, size_t len)
{
    char line[1024];
    int found = 0;
    FILE *f = fopen(cache, "r");
    ck_assert_msg(f != NULL, "the tuning wrote no cache %s", cache);
    while (fgets(line, sizeof line, f) != NULL) {
        char *k = strchr(line, '\t'), *v = k ? strchr(k + 1, '\t') : NULL, *end = v ? strchr(v + 1, '\t') : NULL;
        if (line[0] == '#' || end == NULL)
            continue;
        *k++ = *v++ = *end = '\0';
        if (strcmp(line, model) == 0 && strcmp(v, variant) == 0) {
            snprintf(key, len, "%s", k);
            found = 1;
        }
    }
    fclose(f);
    return found;
}

/* Was the variant timed by the tuning? Its report has a line per variant,
 * "  NAME<padding>  T ms  U µs/slice", or "not usable here" or "failed: ...". */
static int timed_in_report(const char *report, const char *name)
{
    const size_t n = strlen(name);
    for (const char *p = report; *p;) {
        const char *eol = strchr(p, '\n');
        if (strncmp(p, "  ", 2) == 0 && strncmp(p + 2, name, n) == 0 && strncmp(p + 2 + n, "  ", 2) == 0) {
            const char *ms = strstr(p, " ms ");
            return ms != NULL && (eol == NULL || ms < eol);
        }
        if (eol == NULL)
            break;
        p = eol + 1;
    }
    return 0;
}

/* The tuning writes its choice to the cache (a run with tuning = auto), and
 * tuning = cached reads it. So that the second half can fail, the cache is
 * then written by hand to name a variant that is neither the default (what
 * tuning = cached uses without an entry) nor the tuned one, and after it
 * entries that a lookup ignoring the model or the key, or taking a name this
 * build lacks, would take instead. */
START_TEST(test_tuning_and_cache)
{
    sim_set s;
    char tuned[256], cached[256], model[256], key[512], report[4096], written[4096], reread[4096];
    const char *cache = test_tmpfile("gpu", "tuning.tsv");
    const char *want = NULL, *decoy = NULL;
    FILE *f;
    size_t n_written, n_reread;
    make_particles(64, "C1", COUNT(64, 16), &s);
    ck_assert_int_eq(gar_gpu_device_name(0, model, sizeof model), GAR_OK);
    unlink(cache);
    run_opts o = {"C1", 0, dev0, 1, 1, GAR_TUNE_AUTO, 0, cache, COUNT(32, 16), 0};
    gar_map *m1 = reconstruct_report(&s, &o, tuned, sizeof tuned, report, sizeof report);
    fprintf(stderr, "measured: tuning on %s:\n%s", model, report);
    ck_assert_msg(cache_entry_key(cache, model, tuned, key, sizeof key), "the cache %s holds no entry for %s on %s",
                  cache, tuned, model);
    ck_assert_msg(strstr(key, "box=64 pad=2") != NULL, "cache key \"%s\"", key);
    for (int v = 1; v < gar_gpu_variant_count(); v++) {
        const char *name = gar_gpu_variant_name(v);
        if (strcmp(name, tuned) == 0 || !timed_in_report(report, name))
            continue;
        if (want == NULL)
            want = name;
        else if (decoy == NULL)
            decoy = name;
    }
    ck_assert_msg(want != NULL && decoy != NULL, "fewer than two variants besides the default and %s ran:\n%s",
                  tuned, report);
    n_written = (size_t)snprintf(written, sizeof written,
                                 "# written by check_gpu\n"
                                 "%s\t%s\t%s\t1.000\n"
                                 "%s\t%s other\t%s\t0.500\n"
                                 "another GPU model\t%s\t%s\t0.500\n"
                                 "%s\t%s\tno such variant\t0.100\n",
                                 model, key, want, model, key, decoy, key, decoy, model, key);
    ck_assert_uint_lt(n_written, sizeof written);
    ck_assert_ptr_nonnull(f = fopen(cache, "w"));
    ck_assert_uint_eq(fwrite(written, 1, n_written, f), n_written);
    ck_assert_int_eq(fclose(f), 0);
    o.tuning = GAR_TUNE_CACHED;
    gar_map *m2 = reconstruct(&s, &o, cached, sizeof cached);
    fprintf(stderr, "measured: tuned %s; cache written by hand to name %s; tuning = cached took %s\n", tuned, want,
            cached);
    ck_assert_str_eq(cached, want);
    /* tuning = cached never times, so never writes the cache. */
    ck_assert_ptr_nonnull(f = fopen(cache, "r"));
    n_reread = fread(reread, 1, sizeof reread, f);
    fclose(f);
    ck_assert_msg(n_reread == n_written && memcmp(reread, written, n_written) == 0, "tuning = cached rewrote %s",
                  cache);
    run_opts cpu = {"C1", 0, NULL, 0, 1, GAR_TUNE_OFF, 0, NULL, COUNT(32, 16), 0};
    gar_map *mc = reconstruct(&s, &cpu, NULL, 0);
    ck_assert_msg(rel_l2(mc, m1) <= 1e-5, "the tuned run's map differs from the CPU's by %g", rel_l2(mc, m1));
    ck_assert_msg(rel_l2(mc, m2) <= 1e-5, "the cached variant's map differs from the CPU's by %g", rel_l2(mc, m2));
    gar_map_destroy(&m1);
    gar_map_destroy(&m2);
    gar_map_destroy(&mc);
    sim_free(&s);
}
END_TEST

/* A batch larger than the whole device (its reported total memory, so the
 * test holds on any card: 8 GiB emulated, 80 GiB H100, 139 GiB H200) is
 * refused by the check before any allocation, in garner's words: the
 * message names the batch it was given and a batch that fits (below it, and
 * within the device), and with tuning on, [gpu] tuning = off. In emulation
 * the device is also shrunk (GAR_CUDA_EMU_MEMORY) and the advised batch must
 * follow it: a check that ignored the device's size could not. */
static void out_of_device_memory(void)
{
    sim_set s = {0};
    gar_recon *r = NULL;
    gar_gpu_insert_config gc;
    size_t free_b = 0, total_b = 0, fixed = 0, per = 0, other = 0, fits = 0, given = 0;
    s.box = 128;
    s.optics.pixel_size_A = 2.0;
    s.optics.group = 1;
    ck_assert_msg(gar_gpu_device_memory(0, &free_b, &total_b) == GAR_OK, "%s", gar_errmsg());
    memset(&gc, 0, sizeof gc);
    gc.box = 128;
    gc.padded = 256;
    gc.plane_radius = 128;
    gc.fft_on_gpu = 1;
    gc.tuning = GAR_TUNE_AUTO;
    gc.n_ops = 1;
    /* The run's layout of the sums: padded 256 at Nyquist (kmax 128, |ky|, |kz| <= 127). */
    gar_sphere *sphere = NULL;
    ck_assert_int_eq(gar_sphere_create(128.0, 127, 128, &sphere), GAR_OK);
    gc.sphere = sphere;
    ck_assert_int_eq(gar_gpu_memory_need(&gc, &fixed, &per, &other), GAR_OK);
    gar_sphere_destroy(&sphere);
    const size_t batch = total_b / per + 1;   /* more than the whole device, even without the volumes */
    run_opts o = {"C1", 0, dev0, 1, 1, GAR_TUNE_AUTO, 0, NULL, batch, 0};
    gar_status st = build(&s, &o, &r);
    const char *msg = gar_errmsg(), *at = strstr(msg, "[reconstruct] batch = ");
    fprintf(stderr, "measured: batch %zu of 128² on a device of %.2f GiB (%zu bytes a particle): %s\n", batch,
            total_b / 1073741824.0, per, msg);
    ck_assert_int_eq(st, GAR_ERR_NOMEM);
    ck_assert_ptr_nonnull(strstr(msg, "of device memory"));
    ck_assert_msg(at != NULL && sscanf(at, "[reconstruct] batch = %zu would fit (it is %zu)", &fits, &given) == 2,
                  "no batch advised: %s", msg);
    ck_assert_uint_eq(given, batch);
    ck_assert_msg(fits >= 1 && fits < batch, "advised batch %zu for %zu: %s", fits, batch, msg);
    ck_assert_msg(fixed + fits * per <= total_b && fixed + (fits + 1) * per > free_b / 2,
                  "advised batch %zu: %zu bytes fixed + %zu a particle against %zu free of %zu", fits, fixed, per,
                  free_b, total_b);
    ck_assert_msg(strstr(msg, "[gpu] tuning = off") != NULL, "tuning on, and the advice does not name it: %s", msg);
    /* The check before any allocation answered, not a failed cudaMalloc or
     * cuFFT plan (whose messages name the call). */
    ck_assert_ptr_null(strstr(msg, "cudaMalloc"));
    ck_assert_ptr_null(strstr(msg, "cufftPlanMany"));
    gar_recon_destroy(&r);
}

START_TEST(test_out_of_device_memory)
{
    out_of_device_memory();
#ifdef GAR_CUDA_EMU
    setenv("GAR_CUDA_EMU_MEMORY", "1G", 1);
    out_of_device_memory();
    unsetenv("GAR_CUDA_EMU_MEMORY");
#endif
}
END_TEST

/* A global search of `n` particles with their poses and origins cleared,
 * the coarse stage on the given devices (none: the CPU). */
static gar_particle *search_all(const sim_set *s, const gar_refproj *ref, const int *devices, size_t n_devices,
                                int *gpus_used)
{
    gar_search_config c = test_search_config(s, ref, GAR_SEARCH_GLOBAL, 7.5);
    gar_search *search = NULL;
    gar_particle *found = malloc(sizeof *found * s->n);
    gar_search_result *score = malloc(sizeof *score * s->n);
    c.gpu_devices = devices;
    c.n_gpu_devices = n_devices;
    c.batch = 16;
    memcpy(found, s->meta, sizeof *found * s->n);
    for (size_t i = 0; i < s->n; i++)
        found[i].origin_x_A = found[i].origin_y_A = found[i].rot_deg = found[i].tilt_deg = found[i].psi_deg = 0;
    ck_assert_msg(gar_search_create(&c, &search) == GAR_OK, "%s", gar_errmsg());
    for (size_t first = 0; first < s->n; first += 40) {   /* batches larger than the staging */
        size_t m = s->n - first < 40 ? s->n - first : 40;
        ck_assert_msg(gar_search_batch(search, s->images + first * s->box * s->box, found + first, score + first, NULL, m) ==
                          GAR_OK, "%s", gar_errmsg());
    }
    *gpus_used = gar_search_gpus(search);
    gar_search_destroy(&search);
    free(score);
    return found;
}

/* The coarse stage of a global search on one GPU, and on two entries of it,
 * against the CPU (noisy particles of a C1 phantom, 64 px, 7.5 degrees):
 * the first batch's check passes (the search stays on the GPU), and since
 * the fine stage is the CPU's either way, poses differ only where the GPU's
 * float sums reorder near-equal coarse scores: at least 95 % of the poses
 * and origins identical, and the rest within 10 degrees of the CPU's. */
START_TEST(test_search_gpu_vs_cpu)
{
    sim_set s;
    gar_map *m = NULL;
    gar_refproj *ref = NULL;
    int used = -1;
    make_particles_of(64, "C1", 100, &s, &m);
    ck_assert_int_eq(gar_refproj_create(m, 0.45 * 64, NULL, 0, &ref), GAR_OK);
    gar_particle *cpu = search_all(&s, ref, NULL, 0, &used);
    ck_assert_int_eq(used, 0);
    for (int two = 0; two <= 1; two++) {
        gar_particle *gpu = search_all(&s, ref, two ? dev00 : dev0, two ? 2 : 1, &used);
        size_t same = 0;
        double worst = 0;
        ck_assert_msg(used == 1 + two, "GPU search fell back to the CPU (%d devices used)", used);
        for (size_t i = 0; i < s.n; i++) {
            double A[9], B[9], a;
            gar_euler_to_matrix(cpu[i].rot_deg, cpu[i].tilt_deg, cpu[i].psi_deg, A);
            gar_euler_to_matrix(gpu[i].rot_deg, gpu[i].tilt_deg, gpu[i].psi_deg, B);
            a = gar_rotation_angle_between(A, B);
            /* The same pose, to the last bits of a product's rounding
             * (cuBLAS and OpenBLAS sum in different orders): 1e-3 degrees. */
            same += a <= 1e-3 && fabs(cpu[i].origin_x_A - gpu[i].origin_x_A) <= 1e-6 &&
                    fabs(cpu[i].origin_y_A - gpu[i].origin_y_A) <= 1e-6;
            if (a > worst)
                worst = a;
        }
        fprintf(stderr, "measured: GPU search (%d entries) vs CPU: %zu of %zu poses identical, worst %.2f degrees\n",
                1 + two, same, s.n, worst);
        ck_assert_msg(same >= 95 * s.n / 100, "%zu of %zu poses identical", same, s.n);
        ck_assert_msg(worst <= 10.0, "worst pose difference %.2f degrees", worst);
        free(gpu);
    }
    free(cpu);
    gar_refproj_destroy(&ref);
    gar_map_destroy(&m);
    sim_free(&s);
}
END_TEST

/* The tuning times only the variants with one summation order (unless a
 * run opts in): its pick depends on timing, per rank and device, and the
 * float-atomic variants add a voxel's terms in arrival order, so a pick of
 * one would make the map differ between ranks and runs. */
START_TEST(test_tuning_skips_atomic_variants)
{
    sim_set s;
    char tuned[256], report[4096];
    int atomic = 0;
    make_particles(64, "C1", COUNT(32, 16), &s);
    run_opts o = {"C1", 0, dev0, 1, 1, GAR_TUNE_FORCE, 0, NULL, COUNT(32, 16), 0};
    gar_map *m = reconstruct_report(&s, &o, tuned, sizeof tuned, report, sizeof report);
    fprintf(stderr, "measured: tuning without the atomic opt-in chose %s\n", tuned);
    for (int v = 0; v < gar_gpu_variant_count(); v++) {
        const char *name = gar_gpu_variant_name(v);
        if (strstr(name, "atomic") == NULL)
            continue;
        atomic++;
        ck_assert_msg(!timed_in_report(report, name), "the tuning timed the atomic variant %s:\n%s", name, report);
    }
    ck_assert_int_gt(atomic, 0);
    ck_assert_ptr_null(strstr(tuned, "atomic"));
    gar_map_destroy(&m);
    sim_free(&s);
}
END_TEST

#ifdef GAR_CUDA_EMU
/* A driver that is there but fails (older than the runtime) must fail the
 * GPU tests, not skip them; no driver, or no device, skips. */
START_TEST(test_emu_stale_driver_is_not_absent)
{
    int count = -1;
    setenv("GAR_CUDA_EMU_FAULT", "stale-driver", 1);
    ck_assert_int_ne(gar_gpu_device_count(&count), GAR_OK);
    ck_assert_int_eq(gar_gpu_absent(), 0);
    setenv("GAR_CUDA_EMU_FAULT", "no-driver", 1);
    ck_assert_int_eq(gar_gpu_absent(), 1);
    unsetenv("GAR_CUDA_EMU_FAULT");
    setenv("GAR_CUDA_EMU_DEVICES", "0", 1);
    ck_assert_int_eq(gar_gpu_absent(), 1);
    unsetenv("GAR_CUDA_EMU_DEVICES");
    ck_assert_int_eq(gar_gpu_absent(), 0);
    ck_assert_int_eq(gar_gpu_device_count(&count), GAR_OK);
}
END_TEST

/* A kernel that faults during the tuning (an illegal address: a sticky
 * error, the context is dead) ends the run with that error at once, rather
 * than being taken for an unusable variant while the tuning goes on with
 * the dead context. */
START_TEST(test_emu_tuning_stops_at_sticky_error)
{
    sim_set s;
    gar_recon *r = NULL;
    gar_map *m = NULL;
    gar_status st = GAR_OK;
    make_particles(64, "C1", 8, &s);
    run_opts o = {"C1", 0, dev0, 1, 0, GAR_TUNE_FORCE, 0, NULL, 8, 0};
    ck_assert_msg(build(&s, &o, &r) == GAR_OK, "%s", gar_errmsg());
    const long before = gar_cuda_emu_launches();
    gar_cuda_emu_fail_launch(1);   /* the tuning's first launch */
    st = gar_recon_insert(r, s.images, s.meta, s.n);
    if (st == GAR_OK)
        st = gar_recon_finalize(r, 0, &m);
    const long launches = gar_cuda_emu_launches() - before;
    fprintf(stderr, "measured: fault in the tuning's first launch: %ld launches tried; %s\n", launches,
            gar_errmsg());
    ck_assert_int_ne(st, GAR_OK);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "illegal memory access"));
    ck_assert_msg(launches == 1, "the tuning went on after the fault: %ld launches", launches);
    gar_map_destroy(&m);
    gar_recon_destroy(&r);
    gar_cuda_emu_reset();
    sim_free(&s);
}
END_TEST

/* A batch of more particles than a grid's y dimension may hold (issue 19,
 * defect 3: make_planes launched batch = 65536 as one grid of 65536 rows,
 * one past the limit): the emulated device's limit lowered to 40 rows (above
 * the gather kernels' own y extents at 64², which depend on the box, not
 * the batch), a batch of 48 must still give the CPU's map, its planes made
 * in launches of 40 and 8. */
START_TEST(test_emu_batch_beyond_the_grid_limit)
{
    sim_set s;
    make_particles(64, "C1", 50, &s);
    run_opts gpu = {"C1", 0, dev0, 1, 1, GAR_TUNE_OFF, 0, NULL, 48, 0}, cpu = gpu;
    cpu.devices = NULL;
    cpu.n_devices = 0;
    setenv("GAR_CUDA_EMU_MAX_GRID_Y", "40", 1);
    gar_map *mg = reconstruct(&s, &gpu, NULL, 0);
    unsetenv("GAR_CUDA_EMU_MAX_GRID_Y");
    gar_map *mc = reconstruct(&s, &cpu, NULL, 0);
    fprintf(stderr, "measured: batches of 48 under a grid limit of 40 rows: GPU vs CPU %.2e\n", rel_l2(mc, mg));
    ck_assert_msg(rel_l2(mc, mg) <= 1e-5, "GPU vs CPU %g", rel_l2(mc, mg));
    gar_map_destroy(&mg);
    gar_map_destroy(&mc);
    sim_free(&s);
}
END_TEST

/* Two inserters on one device, tuning on (issue 19, defect 12): the first's
 * tuning scratch volume (S) is on the device from its creation, so the
 * second's memory check sees it, and the refusal names [gpu] tuning = off.
 * Before, the scratch was allocated lazily at the first batch's tuning: the
 * second's check saw S more free than there would be, passed, and a
 * cudaMalloc failed in the middle of the run. The emulated device is sized
 * between the two: one inserter's estimate (E), plus what one inserter
 * without tuning holds once made (H, measured), plus S/2: the second then
 * finds E - S/2 free with the first's scratch held, E + S/2 without. */
START_TEST(test_emu_sibling_tuning_scratch_counted)
{
    sim_set s;
    gar_recon *r = NULL;
    gar_gpu_insert_config gc;
    size_t fixed = 0, per = 0, other = 0, free_b = 0, total_b = 0;
    char mem[64];
    make_particles(64, "C1", 8, &s);
    memset(&gc, 0, sizeof gc);
    gc.box = 64;
    gc.padded = 128;
    gc.plane_radius = 64;
    gc.fft_on_gpu = 1;
    gc.tuning = GAR_TUNE_AUTO;
    gc.n_ops = 1;
    gc.batch = 16;
    /* The device's volumes hold the reconstructor's stored sphere: padded
     * 128 at Nyquist, kmax 64, |ky|, |kz| <= 63. */
    gar_sphere *sphere = NULL;
    ck_assert_int_eq(gar_sphere_create(64.0, 63, 64, &sphere), GAR_OK);
    gc.sphere = sphere;
    ck_assert_int_eq(gar_gpu_memory_need(&gc, &fixed, &per, &other), GAR_OK);
    const size_t estimate = fixed + 16 * per, scratch = sphere->count * 3 * sizeof(float);
    gar_sphere_destroy(&sphere);
    run_opts untuned = {"C1", 0, dev0, 1, 1, GAR_TUNE_OFF, 0, NULL, 16, 0}, two = untuned;
    two.devices = dev00;
    two.n_devices = 2;
    two.tuning = GAR_TUNE_AUTO;
    ck_assert_msg(build(&s, &untuned, &r) == GAR_OK, "%s", gar_errmsg());
    ck_assert_msg(gar_gpu_device_memory(0, &free_b, &total_b) == GAR_OK, "%s", gar_errmsg());
    const size_t held = total_b - free_b;
    gar_recon_destroy(&r);
    snprintf(mem, sizeof mem, "%zu", estimate + held + scratch / 2);
    setenv("GAR_CUDA_EMU_MEMORY", mem, 1);
    gar_status st = build(&s, &two, &r);
    fprintf(stderr, "measured: one untuned inserter holds %zu bytes (scratch %zu, estimate %zu); two tuning inserters on %s "
            "bytes: %s\n", held, scratch, estimate, mem, gar_errmsg());
    ck_assert_int_eq(st, GAR_ERR_NOMEM);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "tuning = off"));
    ck_assert_ptr_null(strstr(gar_errmsg(), "cudaMalloc"));
    gar_recon_destroy(&r);
    unsetenv("GAR_CUDA_EMU_MEMORY");
    sim_free(&s);
}
END_TEST

/* A short last batch transforms only its own particles, not the stale
 * slots of the batch after them (time, and uninitialised reads). */
START_TEST(test_emu_short_batch_transforms_its_particles)
{
    sim_set s;
    make_particles(64, "C1", 20, &s);
    run_opts gpu = {"C1", 0, dev0, 1, 1, GAR_TUNE_OFF, 0, NULL, 16, 0}, cpu = gpu;
    cpu.devices = NULL;
    cpu.n_devices = 0;
    const long before = gar_cuda_emu_fft_images();
    gar_map *mg = reconstruct(&s, &gpu, NULL, 0);
    const long images = gar_cuda_emu_fft_images() - before;
    gar_map *mc = reconstruct(&s, &cpu, NULL, 0);
    fprintf(stderr, "measured: 20 particles in batches of 16: %ld images transformed; GPU vs CPU %.2e\n", images,
            rel_l2(mc, mg));
    ck_assert_int_eq(images, 20);
    ck_assert_msg(rel_l2(mc, mg) <= 1e-5, "GPU vs CPU %g", rel_l2(mc, mg));
    gar_map_destroy(&mg);
    gar_map_destroy(&mc);
    sim_free(&s);
}
END_TEST

/* One tuning run (C1, in insertion or volume mode: two cache keys of the
 * same work) in a child process, started when the pipe `go` reaches end of
 * file (the parent closes its write end; the child closes its own copy).
 * Exit 0 when it inserted and finalized. No ck_assert: not Check's process. */
static pid_t tune_in_child(const int go[2], int device, int volume_mode, const char *cache)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid > 0)
        return pid;
    static int dev[1];
    char c;
    sim_set s;
    gar_recon *r = NULL;
    gar_map *m = NULL;
    dev[0] = device;
    make_particles(32, "C1", 8, &s);
    run_opts o = {"C1", volume_mode, dev, 1, 1, GAR_TUNE_AUTO, 0, cache, 8, 0};
    close(go[1]);
    while (read(go[0], &c, 1) > 0) {
    }
    int ok = build(&s, &o, &r) == GAR_OK && gar_recon_insert(r, s.images, s.meta, s.n) == GAR_OK &&
             gar_recon_finalize(r, 0, &m) == GAR_OK;
    if (!ok)
        fprintf(stderr, "child on GPU %d: %s\n", device, gar_errmsg());
    _exit(ok ? 0 : 1);
}

/* Two processes tuning at once, released together: on devices d0 and d1.
 * Fails unless both exit 0, the cache holds both keys' entries, and no
 * temporary is left beside it. */
static void tune_two_processes(const char *dir, int d0, int d1)
{
    char cache[4096], line[1024];
    int go[2], status, keys = 0;
    snprintf(cache, sizeof cache, "%s/tuning.tsv", dir);
    ck_assert_int_eq(pipe(go), 0);
    pid_t a = tune_in_child(go, d0, 0, cache), b = tune_in_child(go, d1, 1, cache);
    close(go[0]);
    close(go[1]);   /* both start */
    ck_assert_int_eq(waitpid(a, &status, 0), a);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the first process failed (%d)", status);
    ck_assert_int_eq(waitpid(b, &status, 0), b);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the second process failed (%d)", status);
    FILE *f = fopen(cache, "r");
    ck_assert_msg(f != NULL, "no cache %s", cache);
    while (fgets(line, sizeof line, f) != NULL) {
        ck_assert_msg(line[0] == '#' || strchr(line, '\n') != NULL, "a torn line in %s: %s", cache, line);
        keys |= strstr(line, "symmetry=insert") ? 1 : strstr(line, "symmetry=volume") ? 2 : 0;
    }
    fclose(f);
    fprintf(stderr, "measured: two processes tuning on GPUs %d and %d: cache entries for %s%s\n", d0, d1,
            keys & 1 ? "insert " : "", keys & 2 ? "volume" : "");
    ck_assert_msg(keys == 3, "GPUs %d and %d: the cache lost an entry (found %s%s)", d0, d1,
                  keys & 1 ? "insert" : "", keys & 2 ? "volume" : "");
    DIR *dd = opendir(dir);
    struct dirent *e;
    ck_assert_ptr_nonnull(dd);
    while ((e = readdir(dd)) != NULL)
        ck_assert_msg(strstr(e->d_name, ".tmp-") == NULL, "a temporary left behind: %s/%s", dir, e->d_name);
    closedir(dd);
}

/* Two processes on one device (ranks sharing a GPU; issue 19, defect 10)
 * tune one at a time and both entries reach the cache; on two devices they
 * tune at once and still both entries reach it. The emulation widens the
 * windows (gar_cuda_emu_probe): each tuning pauses with a marker file in
 * place, so an overlap on one device is recorded; each rewrite of the cache
 * pauses between reading the old file and putting the new one in place, so
 * without the cache's flock the second rewrite drops the first's entry.
 * Fails without the per-device tuning flock (an overlap) or without the
 * cache's flock (an entry lost). */
START_TEST(test_emu_two_processes_tune_one_device)
{
    char one[4096], two[4096], overlaps[4096 + 16];
    snprintf(one, sizeof one, "%s", test_tmpfile("gpu", "one-device"));
    snprintf(two, sizeof two, "%s", test_tmpfile("gpu", "two-devices"));
    ck_assert(mkdir(one, 0755) == 0 || errno == EEXIST);
    ck_assert(mkdir(two, 0755) == 0 || errno == EEXIST);
    setenv("GAR_CUDA_EMU_PROBE_MS", "400", 1);
    setenv("GAR_CUDA_EMU_PROBE_DIR", one, 1);
    tune_two_processes(one, 0, 0);
    snprintf(overlaps, sizeof overlaps, "%s/overlaps", one);
    ck_assert_msg(!test_file_exists(overlaps), "two processes tuned on GPU 0 at once (%s)", overlaps);
    setenv("GAR_CUDA_EMU_DEVICES", "2", 1);
    setenv("GAR_CUDA_EMU_PROBE_DIR", two, 1);
    tune_two_processes(two, 0, 1);
    unsetenv("GAR_CUDA_EMU_DEVICES");
    unsetenv("GAR_CUDA_EMU_PROBE_DIR");
    unsetenv("GAR_CUDA_EMU_PROBE_MS");
}
END_TEST
#endif

int main(void)
{
    int count = 0;
    /* The CPU reference gathers with the blob table, as the GPU does: where
     * the CPU has AVX-512 its vector gather takes a polynomial fit of the
     * blob instead (about 1e-6 from the table, docs/PERFORMANCE.md), which at
     * 256² put the maps 5.2e-5 apart against 5.8e-6 with the table. */
    setenv("GARNER_SCALAR_GATHER", "1", 1);
    if (gar_gpu_device_count(&count) != GAR_OK) {
        if (gar_gpu_absent()) {
            printf("skipped: %s\n", gar_errmsg());
            return 77;
        }
        /* A driver that is there but fails (older than the runtime, say). */
        printf("FAIL: the GPU cannot be used: %s\n", gar_errmsg());
        return 1;
    }
    if (getenv("GAR_CHECK_GPU_SMALL") != NULL) {
        /* The small cases only, for compute-sanitizer (scripts/gpu-check),
         * under which a kernel runs tens of times slower. */
        TCase *small = TEST_CASE("small", 1200, test_gpu_vs_cpu_64, test_two_entries_of_one_device);
        return test_run_suite(test_suite("gpu", small, NULL));
    }
    const TTest *const tests[] = {
        test_gpu_vs_cpu_64, test_every_variant, test_two_entries_of_one_device, test_fixed_sums_gpu_vs_cpu,
        test_tuning_and_cache,
        test_out_of_device_memory, test_search_gpu_vs_cpu, test_tuning_skips_atomic_variants,
#ifdef GAR_CUDA_EMU
        /* What only the emulation can show; the large boxes are the real
         * device's (an emulated 128² takes minutes). */
        test_emu_stale_driver_is_not_absent, test_emu_tuning_stops_at_sticky_error,
        test_emu_short_batch_transforms_its_particles, test_emu_batch_beyond_the_grid_limit,
        test_emu_sibling_tuning_scratch_counted, test_emu_two_processes_tune_one_device,
#else
        test_gpu_vs_cpu_128, test_gpu_vs_cpu_256,
#endif
    };
    /* GAR_CHECK_GPU_ONLY=test_name runs that test alone (while working on
     * one; a mutation run of scripts/emu-mutations). */
    const char *only = getenv("GAR_CHECK_GPU_ONLY");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 1200);
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (only == NULL || strcmp(only, tests[i]->name) == 0)
            tcase_add_test(tc, tests[i]);
    return test_run_suite(test_suite("gpu", tc, NULL));
}
