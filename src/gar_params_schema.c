/* garner: the schema of run parameter files, the one place keys are
 * declared (gar_params.h has the contract, docs/PARAMETERS.md the user's
 * side, gar_params_impl.h how the module's files divide the work). */
#include "gar_params_impl.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ schema */

/* Bounds for INT/DOUBLE keys that have none on one side. */
#define NO_MIN (-HUGE_VAL)
#define NO_MAX HUGE_VAL

/* The one place keys are declared. To add a key, add a row (keep the rows of a
 * section together) and document it in docs/PARAMETERS.md under
 * "## [section]" as "### `key`"; check_params fails until both agree.
 * INT and DOUBLE rows must give .min and .max (NO_MIN/NO_MAX for none), ENUM
 * rows .choices; .default_value NULL means the key has no default and the
 * commands that need it fail with "required key missing". */
const gar_param_spec gar_params_table[] = {
    {.section = "input",
     .key = "stacks",
     .type = GAR_PARAM_PATH_LIST,
     .default_value = NULL,
     .doc = "HDF5 particle stacks: paths or globs, whitespace-separated, continued on "
            "indented lines",
     .field = GAR_FIELD(input.stacks),
     .count_field = GAR_FIELD(input.n_stacks)},
    {.section = "input",
     .key = "nonfinite",
     .type = GAR_PARAM_ENUM,
     .default_value = "error",
     .choices = "error|skip",
     .doc = "what to do with a particle whose image holds NaN or Inf",
     .field = GAR_FIELD(input.nonfinite)},
    {.section = "input",
     .key = "normalize",
     .type = GAR_PARAM_BOOL,
     .default_value = "yes",
     .doc = "as each image is read, fit a plane to its background (outside the inscribed circle) and subtract it, "
            "and scale it to background σ 1, as RELION's extraction does; no for noise-free images",
     .field = GAR_FIELD(input.normalize)},
    {.section = "output",
     .key = "dir",
     .type = GAR_PARAM_PATH,
     .default_value = NULL,
     .doc = "output folder",
     .field = GAR_FIELD(output.dir)},
    {.section = "output",
     .key = "overwrite",
     .type = GAR_PARAM_BOOL,
     .default_value = "no",
     .doc = "allow writing into an existing non-empty output folder",
     .field = GAR_FIELD(output.overwrite)},
    {.section = "output",
     .key = "checkpoint_minutes",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "0",
     .min = 0,
     .max = 100000,
     .doc = "minutes between checkpoints of a reconstruction; 0: only on SIGTERM or SIGUSR1",
     .field = GAR_FIELD(output.checkpoint_minutes)},
    {.section = "reconstruct",
     .key = "symmetry",
     .type = GAR_PARAM_STRING,
     .default_value = "C1",
     .doc = "point group: C<n>, D<n>, T, O or I (RELION's conventions; I = I2)",
     .field = GAR_FIELD(reconstruct.symmetry)},
    {.section = "reconstruct",
     .key = "symmetry_mode",
     .type = GAR_PARAM_ENUM,
     .default_value = "volume",
     .choices = "insert|volume",
     .doc = "insert each particle once per operator, or symmetrise the summed volume once",
     .field = GAR_FIELD(reconstruct.symmetry_mode)},
    {.section = "reconstruct",
     .key = "ctf",
     .type = GAR_PARAM_BOOL,
     .default_value = "yes",
     .doc = "correct for each particle's CTF (needs the stack's defocus columns)",
     .field = GAR_FIELD(reconstruct.ctf)},
    {.section = "reconstruct",
     .key = "pad",
     .type = GAR_PARAM_INT,
     .default_value = "2",
     .min = 1,
     .max = 4,
     .doc = "padding factor of the Fourier volume",
     .field = GAR_FIELD(reconstruct.pad)},
    {.section = "reconstruct",
     .key = "blob_radius",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "1.9",
     .min = 0.5,
     .max = 4,
     .doc = "Kaiser-Bessel blob radius in padded Fourier voxels",
     .field = GAR_FIELD(reconstruct.blob_radius)},
    {.section = "reconstruct",
     .key = "blob_alpha",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "15",
     .min = 0,
     .max = 40,
     .doc = "Kaiser-Bessel blob taper parameter",
     .field = GAR_FIELD(reconstruct.blob_alpha)},
    {.section = "reconstruct",
     .key = "blob_order",
     .type = GAR_PARAM_INT,
     .default_value = "0",
     .min = 0,
     .max = 2,
     .doc = "Kaiser-Bessel blob order m",
     .field = GAR_FIELD(reconstruct.blob_order)},
    {.section = "reconstruct",
     .key = "max_resolution",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "0",
     .min = 0,
     .max = 1000,
     .doc = "resolution limit in Å; 0 means Nyquist (twice the pixel size)",
     .field = GAR_FIELD(reconstruct.max_resolution)},
    {.section = "reconstruct",
     .key = "threads",
     .type = GAR_PARAM_INT,
     .default_value = "0",
     .min = 0,
     .max = 4096,
     .doc = "CPU threads; 0 means all cores this process may use",
     .field = GAR_FIELD(reconstruct.threads)},
    {.section = "reconstruct",
     .key = "batch",
     .type = GAR_PARAM_INT,
     .default_value = "128",
     .min = 1,
     .max = 65536,
     .doc = "particles read and inserted per batch",
     .field = GAR_FIELD(reconstruct.batch)},
    {.section = "reconstruct",
     .key = "outer_mask",
     .type = GAR_PARAM_BOOL,
     .default_value = "yes",
     .doc = "soft-mask the map outside the sphere inscribed in the box",
     .field = GAR_FIELD(reconstruct.outer_mask)},
    {.section = "reconstruct",
     .key = "image_model",
     .type = GAR_PARAM_ENUM,
     .default_value = "boxed",
     .choices = "boxed|periodic",
     .doc = "boxed: images cut from micrographs; periodic: CTF applied on the box's own grid (simulations)",
     .field = GAR_FIELD(reconstruct.image_model)},
    {.section = "reconstruct",
     .key = "reference",
     .type = GAR_PARAM_PATH,
     .default_value = NULL,
     .doc = "optional map (MRC) to compute an FSC against, e.g. the truth of a simulation",
     .field = GAR_FIELD(reconstruct.reference)},
    {.section = "refine",
     .key = "initial_map",
     .type = GAR_PARAM_PATH,
     .default_value = NULL,
     .doc = "the starting map (MRC), on the particles' pixel size and box",
     .field = GAR_FIELD(refine.initial_map)},
    {.section = "refine",
     .key = "initial_resolution",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "30",
     .min = 1,
     .max = 10000,
     .doc = "Å; the initial map is low-pass filtered to this before the first search",
     .field = GAR_FIELD(refine.initial_resolution)},
    {.section = "refine",
     .key = "symmetry",
     .type = GAR_PARAM_STRING,
     .default_value = "C1",
     .doc = "point group of the search and the reconstructions: C<n>, D<n>, T, O or I",
     .field = GAR_FIELD(refine.symmetry)},
    {.section = "refine",
     .key = "angular_step",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "7.5",
     .min = 0.1,
     .max = 30,
     .doc = "angular sampling of the first (global) search, degrees; halved when the resolution stalls",
     .field = GAR_FIELD(refine.angular_step)},
    {.section = "refine",
     .key = "shift_range",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "0",
     .min = 0,
     .max = 10000,
     .doc = "Å; a global search looks for origins within this of the previous one; 0: 5 pixels",
     .field = GAR_FIELD(refine.shift_range)},
    {.section = "refine",
     .key = "shift_step",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "0",
     .min = 0,
     .max = 1000,
     .doc = "Å; origin sampling of a global search (local searches use half); 0: 1 pixel",
     .field = GAR_FIELD(refine.shift_step)},
    {.section = "refine",
     .key = "iterations",
     .type = GAR_PARAM_INT,
     .default_value = "25",
     .min = 1,
     .max = 1000,
     .doc = "largest number of search-and-reconstruct iterations",
     .field = GAR_FIELD(refine.iterations)},
    {.section = "refine",
     .key = "local_search_below",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "5",
     .min = 0,
     .max = 180,
     .doc = "degrees; from this angular step down, search only around each particle's previous pose",
     .field = GAR_FIELD(refine.local_search_below)},
    {.section = "refine",
     .key = "join_below",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "40",
     .min = 0,
     .max = 10000,
     .doc = "Å; while the resolution is worse than this, both half sets search the average of the half maps",
     .field = GAR_FIELD(refine.join_below)},
    {.section = "refine",
     .key = "mask_diameter",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "0",
     .min = 0,
     .max = 100000,
     .doc = "Å; soft circular mask on the particles and spherical mask on the references; 0: the particle's extent in "
            "the initial map (at most 90 % of the box)",
     .field = GAR_FIELD(refine.mask_diameter)},
    {.section = "refine",
     .key = "score",
     .type = GAR_PARAM_ENUM,
     .default_value = "whitened",
     .choices = "whitened|ncc",
     .doc = "pose score: whitened (each frequency weighted by 1/σ² of the noise model estimated from the "
            "particles: a likelihood with the best contrast scale) or ncc (every frequency alike)",
     .field = GAR_FIELD(refine.score)},
    {.section = "refine",
     .key = "contrast_scale",
     .type = GAR_PARAM_BOOL,
     .default_value = "yes",
     .doc = "estimate each particle's contrast scale after the search and weight its insertion by it",
     .field = GAR_FIELD(refine.contrast_scale)},
    {.section = "refine",
     .key = "junk_sigma",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "3",
     .min = 0,
     .max = 100,
     .doc = "a particle whose log contrast scale lies more than this many robust standard deviations below the "
            "median, or whose misfit lies as far above it, is junk: left out of the next iteration's "
            "reconstruction; 0: keep every particle",
     .field = GAR_FIELD(refine.junk_sigma)},
    {.section = "refine",
     .key = "alternatives",
     .type = GAR_PARAM_INT,
     .default_value = "8",
     .min = 0,
     .max = 8,
     .doc = "with score = whitened, insert each particle also at up to this many other poses whose likelihood is at "
            "least 1 % of the best's, each weighted by its posterior share (the idea of RELION's and cryoSPARC's marginalisation "
            "over poses); 0: the best pose only",
     .field = GAR_FIELD(refine.alternatives)},
    {.section = "refine",
     .key = "solvent_fsc_below",
     .type = GAR_PARAM_DOUBLE,
     .default_value = "0",
     .min = 0,
     .max = 10000,
     .doc = "Å; once an iteration's unmasked half-map resolution is this or finer, its resolution (next band, "
            "schedule) is the solvent-masked FSC's, corrected by phase randomisation (Chen et al. 2013; mask: "
            "[postprocess] mask or made from the map); 0 (the default): the unmasked FSC throughout",
     .field = GAR_FIELD(refine.solvent_fsc_below)},
    {.section = "postprocess",
     .key = "run",
     .type = GAR_PARAM_BOOL,
     .default_value = "yes",
     .doc = "refine: post-process the final half maps into <dir>/postprocess (solvent mask, corrected FSC, "
            "B-factor, sharpened map, local resolution: garner postprocess)",
     .field = GAR_FIELD(postprocess.run)},
    {.section = "postprocess",
     .key = "mask",
     .type = GAR_PARAM_PATH,
     .default_value = NULL,
     .doc = "solvent mask (MRC, values 0 to 1, the map's box); none: made from the map",
     .field = GAR_FIELD(postprocess.mask)},
    {.section = "postprocess",
     .key = "bfactor",
     .type = GAR_PARAM_STRING,
     .default_value = "auto",
     .doc = "B-factor to sharpen with, Å² (> 0 sharpens); auto: the Guinier fit's (less the reference's)",
     .field = GAR_FIELD(postprocess.bfactor)},
    {.section = "postprocess",
     .key = "reference",
     .type = GAR_PARAM_PATH,
     .default_value = NULL,
     .doc = "model map of the structure (MRC, the map's box and pixel size): with bfactor = auto, sharpen by the "
            "fitted B less the model's own, so the map keeps the model's fall-off; none: the fitted B",
     .field = GAR_FIELD(postprocess.reference)},
    {.section = "gpu",
     .key = "devices",
     .type = GAR_PARAM_STRING,
     .default_value = "auto",
     .doc = "auto (every GPU this rank may use, shared among the node's worker ranks), none (CPU), or "
            "device numbers such as 0,1; a device listed twice gets two inserters (emulated: the CPU emulation "
            "of CUDA, in tests/garner_emu only)",
     .field = GAR_FIELD(gpu.devices)},
    {.section = "gpu",
     .key = "fft_on_gpu",
     .type = GAR_PARAM_BOOL,
     .default_value = "yes",
     .doc = "pad, transform, shift and CTF-weight the particles on the GPU (no: on the CPU, and copy the planes)",
     .field = GAR_FIELD(gpu.fft_on_gpu)},
    {.section = "gpu",
     .key = "tuning",
     .type = GAR_PARAM_ENUM,
     .default_value = "auto",
     .choices = "auto|off|cached",
     .doc = "auto: use the cached gather variant or time them all on the first batch; off: the default "
            "variant; cached: the cached one if any, never time",
     .field = GAR_FIELD(gpu.tuning)},
    {.section = "gpu",
     .key = "tuning_cache",
     .type = GAR_PARAM_STRING,
     .default_value = "auto",
     .doc = "file of tuned variants keyed by GPU model and run shape; auto: "
            "$XDG_CACHE_HOME/garner/gpu-tuning.tsv or ~/.cache/garner/gpu-tuning.tsv; none: no cache",
     .field = GAR_FIELD(gpu.tuning_cache)},
    {.section = "mpi",
     .key = "shard_size",
     .type = GAR_PARAM_INT,
     .default_value = "0",
     .min = 0,
     .max = 100000000,
     .doc = "particles per shard handed to a worker; 0: reconstruct cuts 128 shards whatever the rank count (a "
            "checkpoint resumes on any), refine about 8 per worker",
     .field = GAR_FIELD(mpi.shard_size)},
    {.section = "mpi",
     .key = "reduce_chunk_mb",
     .type = GAR_PARAM_INT,
     .default_value = "64",
     .min = 1,
     .max = 16384,
     .doc = "largest message of the reduction of partial volumes, in MiB",
     .field = GAR_FIELD(mpi.reduce_chunk_mb)},
    {.section = "mpi",
     .key = "reproducible",
     .type = GAR_PARAM_BOOL,
     .default_value = "yes",
     .doc = "exact sums of the partial volumes: a repeated run gives the same map bit for bit (workers: 64-bit sums)",
     .field = GAR_FIELD(mpi.reproducible)},
    {.section = NULL},
};

const gar_param_spec *gar_params_schema(void) { return gar_params_table; }

size_t gar_params_count(void)
{
    size_t n = 0;
    while (gar_params_table[n].section != NULL)
        n++;
    return n;
}

const char *gar_params_type_name(gar_param_type t)
{
    switch (t) {
    case GAR_PARAM_STRING: return "string";
    case GAR_PARAM_PATH: return "path";
    case GAR_PARAM_PATH_LIST: return "path list";
    case GAR_PARAM_INT: return "integer";
    case GAR_PARAM_DOUBLE: return "number";
    case GAR_PARAM_BOOL: return "yes/no";
    case GAR_PARAM_ENUM: return "choice";
    }
    return "unknown type";
}

int gar_params_section_known(const char *section)
{
    for (const gar_param_spec *s = gar_params_table; s->section != NULL; s++)
        if (strcmp(s->section, section) == 0)
            return 1;
    return 0;
}

/* The row of a key in any section, when exactly that key exists somewhere. */
const gar_param_spec *gar_params_find_key(const char *key)
{
    for (const gar_param_spec *s = gar_params_table; s->section != NULL; s++)
        if (strcmp(s->key, key) == 0)
            return s;
    return NULL;
}

const gar_param_spec *gar_params_find(const char *section, const char *key, size_t *index)
{
    for (size_t i = 0; gar_params_table[i].section != NULL; i++) {
        const gar_param_spec *s = &gar_params_table[i];
        if (strcmp(s->section, section) == 0 && strcmp(s->key, key) == 0) {
            if (index != NULL)
                *index = i;
            return s;
        }
    }
    return NULL;
}

/* Catch schema mistakes (made by whoever adds a key) on first use rather than
 * as odd behaviour later. */
/* The bytes a value of type t takes in gar_settings. */
static size_t field_size(gar_param_type t)
{
    switch (t) {
    case GAR_PARAM_INT: return sizeof(long);
    case GAR_PARAM_DOUBLE: return sizeof(double);
    case GAR_PARAM_BOOL:
    case GAR_PARAM_ENUM: return sizeof(int);
    case GAR_PARAM_PATH_LIST: return sizeof(const char *const *);
    default: return sizeof(const char *);
    }
}

gar_status gar_params_check_schema(void)
{
    for (size_t i = 0; gar_params_table[i].section != NULL; i++) {
        const gar_param_spec *s = &gar_params_table[i];
        if (s->key == NULL || s->key[0] == '\0' || s->section[0] == '\0' || s->doc == NULL)
            return gar_error(GAR_ERR_INTERNAL, "schema row %zu: empty section, key or doc", i);
        if ((s->type == GAR_PARAM_INT || s->type == GAR_PARAM_DOUBLE) && !(s->min < s->max))
            return gar_error(GAR_ERR_INTERNAL, "schema: [%s] %s: bounds [%g, %g] are empty",
                             s->section, s->key, s->min, s->max);
        if (s->type == GAR_PARAM_ENUM && (s->choices == NULL || s->choices[0] == '\0'))
            return gar_error(GAR_ERR_INTERNAL, "schema: [%s] %s: enum without choices",
                             s->section, s->key);
        if (s->field + field_size(s->type) > sizeof(gar_settings) ||
            (s->type == GAR_PARAM_PATH_LIST && s->count_field + sizeof(size_t) > sizeof(gar_settings)))
            return gar_error(GAR_ERR_INTERNAL, "schema: [%s] %s: its field lies outside gar_settings",
                             s->section, s->key);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(gar_params_table[j].section, s->section) == 0 &&
                strcmp(gar_params_table[j].key, s->key) == 0)
                return gar_error(GAR_ERR_INTERNAL, "schema: [%s] %s is declared twice",
                                 s->section, s->key);
            /* Two rows filling one field: a row without its own GAR_FIELD. */
            if (gar_params_table[j].field == s->field)
                return gar_error(GAR_ERR_INTERNAL, "schema: [%s] %s fills the field of [%s] %s",
                                 s->section, s->key, gar_params_table[j].section, gar_params_table[j].key);
        }
    }
    return GAR_OK;
}
