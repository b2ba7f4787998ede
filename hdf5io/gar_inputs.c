#include "gar_inputs.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gar_log.h"

struct gar_inputs {
    size_t n;
    gar_stack **stacks;
    size_t *first;      /* global index of each stack's first particle; first[n] = total */
    size_t box;
    double pixel_size;
    unsigned columns;
    /* The run-wide optics table (gar_inputs.h says how it is numbered). */
    gar_optics *optics;
    size_t n_optics;
    size_t *src_stack, *src_index;   /* per run-wide entry: where it comes from */
    /* Per stack, per entry of its own optics table: the run-wide index. */
    size_t **run_index;
};

/* Whether two optics groups describe the same optics (all but the number):
 * exact equality, as two stacks imported from one source give; groups that
 * differ in the last digit are kept apart, which costs nothing but a row. */
static int same_optics(const gar_optics *a, const gar_optics *b)
{
    return strcmp(a->name, b->name) == 0 && a->pixel_size_A == b->pixel_size_A && a->voltage_kV == b->voltage_kV &&
           a->cs_mm == b->cs_mm && a->amplitude_contrast == b->amplitude_contrast && a->image_size == b->image_size;
}

/* The run-wide optics table over the stacks already opened (gar_inputs.h).
 * A later stack's group is compared with the same number in every earlier
 * stack (a bsearch each), so the cost is stacks² × log(groups), small for
 * the hundreds of stacks and thousands of groups of real data sets. */
static gar_status build_optics(gar_inputs *in, const char *const *paths)
{
    gar_status st;
    size_t total = 0;
    int32_t top = 0, next;
    for (size_t k = 0; k < in->n; k++) {
        size_t n;
        const gar_optics *o = gar_stack_optics(in->stacks[k], &n);
        total += n;   /* at most n_stacks × GAR_STACK_MAX_OPTICS: no overflow */
        for (size_t j = 0; j < n; j++)
            if (o[j].group > top)
                top = o[j].group;
    }
    if ((st = gar_calloc((void **)&in->optics, total, sizeof *in->optics, "run-wide optics table")) != GAR_OK ||
        (st = gar_calloc((void **)&in->src_stack, total, sizeof *in->src_stack, "run-wide optics table")) != GAR_OK ||
        (st = gar_calloc((void **)&in->src_index, total, sizeof *in->src_index, "run-wide optics table")) != GAR_OK ||
        (st = gar_calloc((void **)&in->run_index, in->n, sizeof *in->run_index, "run-wide optics table")) != GAR_OK)
        return st;
    next = top;
    for (size_t k = 0; k < in->n; k++) {
        size_t n;
        const gar_optics *o = gar_stack_optics(in->stacks[k], &n);
        if ((st = gar_calloc((void **)&in->run_index[k], n, sizeof *in->run_index[k], "run-wide optics table")) != GAR_OK)
            return st;
        for (size_t j = 0; j < n; j++) {
            size_t owner = SIZE_MAX, shared = SIZE_MAX;
            gar_optics *e;
            /* An earlier group of this number with the same optics is this
             * group; one that differs means this one needs a new number. */
            for (size_t i = 0; i < k && shared == SIZE_MAX; i++) {
                size_t ni;
                const gar_optics *oi = gar_stack_optics(in->stacks[i], &ni);
                const gar_optics *hit = gar_stack_optics_group(in->stacks[i], o[j].group);
                if (hit == NULL)
                    continue;
                if (owner == SIZE_MAX)
                    owner = i;
                if (same_optics(hit, &o[j]))
                    shared = in->run_index[i][(size_t)(hit - oi)];
            }
            if (shared != SIZE_MAX) {
                in->run_index[k][j] = shared;
                continue;
            }
            e = &in->optics[in->n_optics];
            *e = o[j];
            if (owner != SIZE_MAX) {
                if (next == INT32_MAX)
                    return gar_error(GAR_ERR_DATA, "%s: /optics/optics_group: group %d differs from %s's group %d, "
                                     "and no run-wide group number is left above %d", paths[k], (int)o[j].group,
                                     paths[owner], (int)o[j].group, (int)top);
                e->group = ++next;
                gar_log_info("stack %s: optics group %d is run-wide group %d (differs from %s's group %d)",
                             paths[k], (int)o[j].group, (int)e->group, paths[owner], (int)o[j].group);
            }
            in->src_stack[in->n_optics] = k;
            in->src_index[in->n_optics] = j;
            in->run_index[k][j] = in->n_optics++;
        }
    }
    return GAR_OK;
}

gar_status gar_inputs_open(const char *const *paths, size_t n_paths, gar_inputs **out)
{
    gar_status st = GAR_OK;
    gar_inputs *in = NULL;
    *out = NULL;
    if (n_paths == 0)
        return gar_error(GAR_ERR_USAGE, "no particle stack given");
    if ((st = gar_calloc((void **)&in, 1, sizeof *in, "input list")) != GAR_OK)
        return st;
    if ((st = gar_calloc((void **)&in->stacks, n_paths, sizeof *in->stacks, "input list")) != GAR_OK ||
        (st = gar_calloc((void **)&in->first, n_paths + 1, sizeof *in->first, "input list")) != GAR_OK)
        goto fail;
    in->n = n_paths;
    in->columns = ~0u;
    for (size_t i = 0; i < n_paths; i++) {
        gar_stack *s;
        if ((st = gar_stack_open(paths[i], &in->stacks[i])) != GAR_OK)
            goto fail;
        s = in->stacks[i];
        if (gar_stack_layout_advice(s)[0] != '\0')
            gar_log_warn("%s: %s", paths[i], gar_stack_layout_advice(s));
        if (i == 0) {
            in->box = gar_stack_box(s);
            in->pixel_size = gar_stack_pixel_size(s);
        } else if (gar_stack_box(s) != in->box) {
            st = gar_error(GAR_ERR_DATA, "%s: images are %zu x %zu, but %s (first in the input "
                           "list) has %zu x %zu; one run needs one image size",
                           paths[i], gar_stack_box(s), gar_stack_box(s), paths[0], in->box, in->box);
            goto fail;
        } else if (fabs(gar_stack_pixel_size(s) - in->pixel_size) > 1e-4 * in->pixel_size) {
            st = gar_error(GAR_ERR_DATA, "%s: pixel size %g Å, but %s (first in the input list) "
                           "has %g Å; one run needs one pixel size: rescale one set's particles to the "
                           "other's (relion_image_handler --rescale_angpix %g, or re-extract) and import again",
                           paths[i], gar_stack_pixel_size(s), paths[0], in->pixel_size, in->pixel_size);
            goto fail;
        }
        in->columns &= gar_stack_columns(s);
        if (gar_stack_count(s) > SIZE_MAX - in->first[i]) {
            st = gar_error(GAR_ERR_DATA, "%s: %zu particles overflow the count of the input list",
                           paths[i], gar_stack_count(s));
            goto fail;
        }
        in->first[i + 1] = in->first[i] + gar_stack_count(s);
    }
    if (in->first[n_paths] == 0) {
        st = gar_error(GAR_ERR_DATA, "%s%s: no particles in the input stack%s", paths[0],
                       n_paths > 1 ? " and the others listed" : "", n_paths > 1 ? "s" : "");
        goto fail;
    }
    if ((st = build_optics(in, paths)) != GAR_OK)
        goto fail;
    *out = in;
    return GAR_OK;
fail:
    gar_inputs_close(&in);
    return st;
}

gar_status gar_inputs_check_halves(const gar_inputs *in)
{
    size_t count[2] = {0, 0};
    char names[512] = "";
    int empty;
    for (size_t i = 0; i < in->n; i++)
        for (int h = 0; h < 2; h++)
            count[h] += gar_stack_half_count(in->stacks[i], h + 1);
    if (count[0] > 0 && count[1] > 0)
        return GAR_OK;
    empty = count[0] == 0 ? 1 : 2;
    /* The stacks by name: the first three, then how many more. */
    for (size_t i = 0; i < in->n && i < 3; i++) {
        size_t len = strlen(names);
        snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", gar_stack_path(in->stacks[i]));
    }
    if (in->n > 3) {
        size_t len = strlen(names);
        snprintf(names + len, sizeof names - len, " and %zu more stacks", in->n - 3);
    }
    return gar_error(GAR_ERR_DATA, "%s: /particles/half_set: half set %d is empty (all %zu particles are in half "
                     "set %d); a gold-standard run needs particles in both (1 and 2, e.g. alternately)",
                     names, empty, count[0] + count[1], 3 - empty);
}

void gar_inputs_close(gar_inputs **pin)
{
    gar_inputs *in;
    if (pin == NULL || *pin == NULL)
        return;
    in = *pin;
    if (in->stacks != NULL)
        for (size_t i = 0; i < in->n; i++)
            gar_stack_close(&in->stacks[i]);
    free(in->stacks);
    free(in->first);
    if (in->run_index != NULL)
        for (size_t i = 0; i < in->n; i++)
            free(in->run_index[i]);
    free(in->run_index);
    free(in->optics);
    free(in->src_stack);
    free(in->src_index);
    free(in);
    *pin = NULL;
}

size_t gar_inputs_count(const gar_inputs *in) { return in->first[in->n]; }
size_t gar_inputs_box(const gar_inputs *in) { return in->box; }
double gar_inputs_pixel_size(const gar_inputs *in) { return in->pixel_size; }
size_t gar_inputs_n_stacks(const gar_inputs *in) { return in->n; }
gar_stack *gar_inputs_stack(gar_inputs *in, size_t i) { return i < in->n ? in->stacks[i] : NULL; }
unsigned gar_inputs_columns(const gar_inputs *in) { return in->columns; }

const gar_optics *gar_inputs_optics(const gar_inputs *in, size_t *n_optics)
{
    if (n_optics)
        *n_optics = in->n_optics;
    return in->optics;
}

void gar_inputs_optics_source(const gar_inputs *in, size_t i, size_t *stack, size_t *index)
{
    *stack = in->src_stack[i];
    *index = in->src_index[i];
}

gar_status gar_inputs_group(const gar_inputs *in, size_t stack, int32_t group, int32_t *run_group,
                            const gar_optics **optics)
{
    const gar_optics *base, *hit;
    if (stack >= in->n)
        return gar_error(GAR_ERR_INTERNAL, "stack %zu is beyond the %zu in the input list", stack, in->n);
    base = gar_stack_optics(in->stacks[stack], NULL);
    if ((hit = gar_stack_optics_group(in->stacks[stack], group)) == NULL)
        return gar_error(GAR_ERR_DATA, "%s: optics group %d is not in its /optics table",
                         gar_stack_path(in->stacks[stack]), (int)group);
    if (run_group)
        *run_group = in->optics[in->run_index[stack][(size_t)(hit - base)]].group;
    if (optics)
        *optics = &in->optics[in->run_index[stack][(size_t)(hit - base)]];
    return GAR_OK;
}

gar_status gar_inputs_read_meta(gar_inputs *in, size_t stack, size_t first, size_t count, gar_particle *out)
{
    gar_status st;
    if (stack >= in->n)
        return gar_error(GAR_ERR_INTERNAL, "stack %zu is beyond the %zu in the input list", stack, in->n);
    if ((st = gar_stack_read_meta(in->stacks[stack], first, count, out)) != GAR_OK)
        return st;
    for (size_t i = 0; i < count; i++)
        if ((st = gar_inputs_group(in, stack, out[i].optics_group, &out[i].optics_group, NULL)) != GAR_OK)
            return gar_error_context(st, "particle %zu", first + i);
    return GAR_OK;
}

gar_status gar_inputs_locate(const gar_inputs *in, size_t index, size_t *stack, size_t *local)
{
    size_t lo = 0, hi = in->n;
    if (index >= in->first[in->n])
        return gar_error(GAR_ERR_INTERNAL, "particle %zu is beyond the %zu in the input list",
                         index, in->first[in->n]);
    /* Binary search for the last stack whose first index is <= index. */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (in->first[mid] <= index)
            lo = mid;
        else
            hi = mid;
    }
    while (lo + 1 < in->n && in->first[lo + 1] <= index)
        lo++;
    *stack = lo;
    *local = index - in->first[lo];
    return GAR_OK;
}

int gar_image_is_finite(const float *image, size_t npix)
{
    for (size_t k = 0; k < npix; k++)
        if (!isfinite(image[k]))
            return 0;
    return 1;
}
