#include "gar_inputs.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gar_inputs {
    size_t n;
    gar_stack **stacks;
    size_t *first;      /* global index of each stack's first particle; first[n] = total */
    size_t box;
    double pixel_size;
    unsigned columns;
};

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
                           "has %g Å; one run needs one pixel size",
                           paths[i], gar_stack_pixel_size(s), paths[0], in->pixel_size);
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
    free(in);
    *pin = NULL;
}

size_t gar_inputs_count(const gar_inputs *in) { return in->first[in->n]; }
size_t gar_inputs_box(const gar_inputs *in) { return in->box; }
double gar_inputs_pixel_size(const gar_inputs *in) { return in->pixel_size; }
size_t gar_inputs_n_stacks(const gar_inputs *in) { return in->n; }
gar_stack *gar_inputs_stack(gar_inputs *in, size_t i) { return i < in->n ? in->stacks[i] : NULL; }
unsigned gar_inputs_columns(const gar_inputs *in) { return in->columns; }

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
