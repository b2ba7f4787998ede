/* garner: "did you mean ...?" for unknown keys and sections of run
 * parameters (see gar_params_impl.h). */
#include "gar_params_impl.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ suggestions */

#define EDIT_MAX 64

/* Edit distance (Levenshtein, with a swap of two neighbours counting as one
 * edit, since that is the commonest typo), ignoring case. SIZE_MAX for
 * strings too long to be keys. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t rows[3][EDIT_MAX + 1];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    if (la > EDIT_MAX || lb > EDIT_MAX)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t *t;
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            size_t cost = ca != cb;
            size_t best = prev[j - 1] + cost;
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

static size_t suggest_limit(const char *typed)
{
    size_t third = strlen(typed) / 3;
    return third > 2 ? third : 2;
}

const char *gar_params_suggest_word(const char *typed, const char *const *choices, size_t n)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX, limit;
    if (typed == NULL || choices == NULL)
        return NULL;
    limit = suggest_limit(typed);
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(typed, choices[i]);
        if (d < best_d) {
            best_d = d;
            best = choices[i];
        }
    }
    return best_d <= limit ? best : NULL;
}

/* The schema row whose key is closest to `key`, looking in every section and
 * preferring `section` on a tie; NULL if nothing is close. */
static const gar_param_spec *suggest_spec(const char *section, const char *key)
{
    const gar_param_spec *best = NULL;
    size_t best_d = SIZE_MAX;
    int best_same = 0;
    size_t limit = suggest_limit(key);
    for (const gar_param_spec *s = gar_params_table; s->section != NULL; s++) {
        size_t d = edit_distance(key, s->key);
        int same = section != NULL && strcmp(s->section, section) == 0;
        if (d > limit || (same && strcmp(s->key, key) == 0))
            continue;
        if (d < best_d || (d == best_d && same && !best_same)) {
            best = s;
            best_d = d;
            best_same = same;
        }
    }
    return best;
}

const char *gar_params_suggest_key(const char *section, const char *key)
{
    const gar_param_spec *s = key != NULL ? suggest_spec(section, key) : NULL;
    return s != NULL ? s->key : NULL;
}

static const char *suggest_section(const char *section)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    size_t limit = suggest_limit(section);
    for (const gar_param_spec *s = gar_params_table; s->section != NULL; s++) {
        size_t d = edit_distance(section, s->section);
        if (d <= limit && d < best_d) {
            best = s->section;
            best_d = d;
        }
    }
    return best;
}

/* " (did you mean '[output] dir'?)" in the style of the location, or "". */
void gar_params_key_hint(char *buf, size_t size, const loc *at, const char *section,
                         const char *key)
{
    const gar_param_spec *s = suggest_spec(section, key);
    buf[0] = '\0';
    if (s == NULL)
        return;
    if (at->kind == LOC_SET)
        snprintf(buf, size, " (did you mean '%s.%s'?)", s->section, s->key);
    else if (strcmp(s->section, section) == 0)
        snprintf(buf, size, " (did you mean '%s'?)", s->key);
    else
        snprintf(buf, size, " (did you mean '[%s] %s'?)", s->section, s->key);
}

/* Append "[input], [output]" (every section once) or "dir, overwrite" (the
 * keys of `section`) to buf. */
void gar_params_list_names(char *buf, size_t size, const char *section)
{
    size_t used = strlen(buf);
    const char *sep = "";
    for (size_t i = 0; gar_params_table[i].section != NULL && used < size; i++) {
        int seen = 0;
        int n;
        if (section != NULL && strcmp(gar_params_table[i].section, section) != 0)
            continue;
        for (size_t j = 0; section == NULL && j < i; j++)
            seen |= strcmp(gar_params_table[j].section, gar_params_table[i].section) == 0;
        if (seen)
            continue;
        if (section != NULL)
            n = snprintf(buf + used, size - used, "%s%s", sep, gar_params_table[i].key);
        else
            n = snprintf(buf + used, size - used, "%s[%s]", sep, gar_params_table[i].section);
        if (n < 0)
            return;
        used += (size_t)n;
        sep = ", ";
    }
}

void gar_params_section_hint(char *buf, size_t size, const loc *at, const char *section,
                             const char *key)
{
    const char *s = suggest_section(section);
    const gar_param_spec *home = gar_params_find_key(key);
    if (s != NULL && at->kind == LOC_SET)
        snprintf(buf, size, " (did you mean '%s.%s'?)", s, key);
    else if (s != NULL)
        snprintf(buf, size, " (did you mean '[%s]'?)", s);
    else if (home != NULL && at->kind == LOC_SET)
        snprintf(buf, size, " (did you mean '%s.%s'?)", home->section, home->key);
    else if (home != NULL)
        snprintf(buf, size, " (did you mean '[%s]', where '%s' belongs?)", home->section, key);
    else {
        snprintf(buf, size, " (sections: ");
        gar_params_list_names(buf, size - 1, NULL);
        strcat(buf, ")");
    }
}
