/* Tests for run parameter files (src/gar_params*.c) and their documentation
 * (docs/PARAMETERS.md). Every file goes to the scratch folder from testutil.h. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gar_gpu.h"
#include "gar_params.h"
#include "gar_recon.h"
#include "gar_settings.h"
#include "testutil.h"

#define TAG "params"

/* ------------------------------------------------------------------ helpers */

/* The scratch folder as an absolute path without symbolic links, which is
 * how the parameter code reports a file's folder. */
static const char *scratch_abs(void)
{
    static char abs[PATH_MAX];
    ck_assert_ptr_nonnull(realpath(test_tmpdir(TAG), abs));
    return abs;
}

/* Write `text` to scratch/name, creating sub-folders; returns the path
 * (relative to the current folder, as a user would type it). */
static const char *write_text(const char *name, const char *text)
{
    static char path[4][PATH_MAX];
    static int slot;
    char *out = path[slot++ % 4];
    char *slash;
    FILE *f;
    snprintf(out, PATH_MAX, "%s", test_tmpfile(TAG, name));
    for (slash = strchr(out + strlen(test_tmpdir(TAG)) + 1, '/'); slash != NULL;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(out, 0755);
        *slash = '/';
    }
    f = fopen(out, "w");
    ck_assert_msg(f != NULL, "cannot create %s: %s", out, strerror(errno));
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    return out;
}

static void touch(const char *name) { write_text(name, "not really HDF5\n"); }

/* scratch_abs()/rel */
static const char *abs_path(const char *rel)
{
    static char buf[8][PATH_MAX];
    static int slot;
    char *out = buf[slot++ % 8];
    ck_assert_int_lt(snprintf(out, PATH_MAX, "%s/%s", scratch_abs(), rel), PATH_MAX);
    return out;
}

static void assert_msg_has(const char *fragment)
{
    ck_assert_msg(strstr(gar_errmsg(), fragment) != NULL, "message '%s' lacks '%s'", gar_errmsg(),
                  fragment);
}

/* Loading `text` fails with `want` and a message holding `fragment`. */
static void expect_load_error(const char *text, gar_status want, const char *fragment)
{
    gar_params *p = NULL;
    const char *path = write_text("bad.ini", text);
    gar_status st;
    gar_error_clear();
    st = gar_params_load(path, &p);
    ck_assert_msg(st == want, "status %d, expected %d (message '%s')", (int)st, (int)want,
                  gar_errmsg());
    ck_assert_ptr_null(p);
    assert_msg_has(fragment);
}

static gar_params *load_ok(const char *path)
{
    gar_params *p = NULL;
    gar_status st = gar_params_load(path, &p);
    ck_assert_msg(st == GAR_OK, "loading %s: %s", path, gar_errmsg());
    ck_assert_ptr_nonnull(p);
    return p;
}

static void make_stacks(void)
{
    /* created out of order, so that sorting is visible */
    touch("data/c.h5");
    touch("data/a.h5");
    touch("data/b.h5");
    touch("data/notes.txt");
    touch("extra/x.h5");
    touch("more/m 1.h5");
}

static const char good_ini[] =
    "; a garner run\n"
    "# both comment styles\n"
    "[input]\n"
    "stacks = data/*.h5   ; every stack\n"
    "    extra/x.h5\n"
    "; a comment between continuation lines\n"
    "\t./more/m\\ 1.h5\n"
    "nonfinite = SKIP ; choices ignore case\n"
    "\n"
    "[ output ]\n"
    "dir = out/run1\n"
    "overwrite = On\n";

/* ------------------------------------------------------------------ good files */

START_TEST(test_good_file)
{
    gar_params *p;
    const char *path, *s = NULL;
    const char *const *list = NULL;
    size_t n = 0;
    int b = 0;
    char origin[PATH_MAX + 16];
    make_stacks();
    path = write_text("good.ini", good_ini);
    p = load_ok(path);

    ck_assert_int_eq(gar_params_get_path_list(p, "input", "stacks", &list, &n), GAR_OK);
    ck_assert_uint_eq(n, 5);
    ck_assert_str_eq(list[0], abs_path("data/a.h5"));
    ck_assert_str_eq(list[1], abs_path("data/b.h5"));
    ck_assert_str_eq(list[2], abs_path("data/c.h5"));
    ck_assert_str_eq(list[3], abs_path("extra/x.h5"));
    ck_assert_str_eq(list[4], abs_path("more/m 1.h5"));

    ck_assert_int_eq(gar_params_get_string(p, "input", "nonfinite", &s), GAR_OK);
    ck_assert_str_eq(s, "skip");
    ck_assert_int_eq(gar_params_get_path(p, "output", "dir", &s), GAR_OK);
    ck_assert_str_eq(s, abs_path("out/run1"));
    ck_assert_int_eq(gar_params_get_bool(p, "output", "overwrite", &b), GAR_OK);
    ck_assert_int_eq(b, 1);

    ck_assert_int_eq(gar_params_is_set(p, "input", "stacks"), 1);
    ck_assert_int_eq(gar_params_is_set(p, "output", "overwrite"), 1);
    snprintf(origin, sizeof origin, "%s:4", path);
    ck_assert_str_eq(gar_params_origin(p, "input", "stacks"), origin);
    snprintf(origin, sizeof origin, "%s:11", path);
    ck_assert_str_eq(gar_params_origin(p, "output", "dir"), origin);
    ck_assert_str_eq(gar_params_path(p), path);
    gar_params_destroy(&p);
    ck_assert_ptr_null(p);
}
END_TEST

/* A list given entirely on continuation lines, CRLF line ends and a byte
 * order mark, as editors on other systems write them. */
START_TEST(test_list_on_continuation_lines)
{
    gar_params *p;
    const char *const *list = NULL;
    size_t n = 0;
    const char *s = NULL;
    make_stacks();
    p = load_ok(write_text("sub/cont.ini", "\xEF\xBB\xBF[input]\r\n"
                                           "stacks =\r\n"
                                           "  ../extra/x.h5\r\n"
                                           "\r\n"
                                           "  ../data/b.h5 ../data/a.h5\r\n"
                                           "[output]\r\n"
                                           "dir = .\r\n"));
    ck_assert_int_eq(gar_params_get_path_list(p, "input", "stacks", &list, &n), GAR_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(list[0], abs_path("sub/../extra/x.h5"));
    ck_assert_str_eq(list[1], abs_path("sub/../data/b.h5"));   /* given order, not sorted */
    ck_assert_str_eq(list[2], abs_path("sub/../data/a.h5"));
    ck_assert_int_eq(gar_params_get_path(p, "output", "dir", &s), GAR_OK);
    ck_assert_str_eq(s, abs_path("sub"));
    gar_params_destroy(&p);
}
END_TEST

START_TEST(test_defaults)
{
    gar_params *p;
    const char *s = NULL;
    const char *const *list = NULL;
    size_t n = 0;
    int b = -1;
    touch("a.h5");
    p = load_ok(write_text("defaults.ini", "[input]\nstacks = a.h5\n"));
    ck_assert_int_eq(gar_params_get_string(p, "input", "nonfinite", &s), GAR_OK);
    ck_assert_str_eq(s, "error");
    ck_assert_int_eq(gar_params_get_bool(p, "output", "overwrite", &b), GAR_OK);
    ck_assert_int_eq(b, 0);
    ck_assert_int_eq(gar_params_is_set(p, "input", "nonfinite"), 0);
    ck_assert_int_eq(gar_params_is_set(p, "output", "overwrite"), 0);
    ck_assert_str_eq(gar_params_origin(p, "input", "nonfinite"), "default");
    ck_assert_int_eq(gar_params_get_path(p, "output", "dir", &s), GAR_ERR_USAGE);
    ck_assert_ptr_null(s);
    assert_msg_has("defaults.ini: [output] dir: required key missing");
    gar_params_destroy(&p);

    ck_assert_int_eq(gar_params_create_empty(NULL, &p), GAR_OK);
    ck_assert_str_eq(gar_params_path(p), "");
    ck_assert_int_eq(gar_params_get_path_list(p, "input", "stacks", &list, &n), GAR_ERR_USAGE);
    ck_assert_ptr_null(list);
    ck_assert_uint_eq(n, 0);
    assert_msg_has("[input] stacks: required key missing");
    ck_assert_int_eq(gar_params_get_string(p, "input", "nonfinite", &s), GAR_OK);
    ck_assert_str_eq(s, "error");
    gar_params_destroy(&p);
    gar_params_destroy(&p);   /* NULL-safe */
    gar_params_destroy(NULL);
}
END_TEST

START_TEST(test_getter_misuse)
{
    gar_params *p = NULL;
    long l = 0;
    const char *s = NULL;
    ck_assert_int_eq(gar_params_create_empty("/", &p), GAR_OK);
    ck_assert_int_eq(gar_params_get_int(p, "output", "dir", &l), GAR_ERR_INTERNAL);
    assert_msg_has("[output] dir: a path key read as integer");
    ck_assert_int_eq(gar_params_get_string(p, "output", "nope", &s), GAR_ERR_INTERNAL);
    assert_msg_has("[output] nope: not a key in the parameter schema");
    ck_assert_int_eq(gar_params_is_set(p, "output", "nope"), 0);
    gar_params_destroy(&p);
}
END_TEST

START_TEST(test_suggest_key)
{
    ck_assert_str_eq(gar_params_suggest_key("output", "dri"), "dir");
    ck_assert_str_eq(gar_params_suggest_key("input", "stack"), "stacks");
    ck_assert_str_eq(gar_params_suggest_key("input", "dir"), "dir");
    ck_assert_str_eq(gar_params_suggest_key("output", "OVERWRITE"), "overwrite");
    ck_assert_str_eq(gar_params_suggest_key(NULL, "nonfinit"), "nonfinite");
    /* two edits are close enough even for a short key */
    ck_assert_str_eq(gar_params_suggest_key("output", "dor1"), "dir");
    /* swapped neighbours count as one edit: "idr_" is two from "dir" */
    ck_assert_str_eq(gar_params_suggest_key("output", "idr_"), "dir");
    ck_assert_ptr_null(gar_params_suggest_key("output", "zzzzzz"));
    ck_assert_ptr_null(gar_params_suggest_key("output", "x"));
}
END_TEST

/* ------------------------------------------------------------------ load errors */

typedef struct bad_case {
    const char *text;
    gar_status status;
    const char *fragment;
} bad_case;

static const bad_case bad_cases[] = {
    {"[output]\ndri = x\n", GAR_ERR_USAGE,
     "bad.ini:2: [output] dri: unknown key (did you mean 'dir'?)"},
    {"[input]\nstack = a.h5\n", GAR_ERR_USAGE,
     "bad.ini:2: [input] stack: unknown key (did you mean 'stacks'?)"},
    {"[input]\nnonfinite = skip\n\n[ouptut]\ndir = x\n", GAR_ERR_USAGE,
     "bad.ini:5: [ouptut]: unknown section (did you mean '[output]'?)"},
    {"[foo]\nnonfinite = skip\n", GAR_ERR_USAGE,
     "bad.ini:2: [foo]: unknown section (did you mean '[input]', where 'nonfinite' belongs?)"},
    {"[foo]\nbar = 1\n", GAR_ERR_USAGE, "bad.ini:2: [foo]: unknown section (sections: [input], "},
    {"[output]\nzzzzzz = 1\n", GAR_ERR_USAGE,
     "bad.ini:2: [output] zzzzzz: unknown key (keys in [output]: dir, overwrite"},
    {"[input]\n; comment\ndir = x\n", GAR_ERR_USAGE,
     "bad.ini:3: [input] dir: unknown key (did you mean '[output] dir'?)"},
    {"[output]\ndir = a\noverwrite = no\n\n[output]\ndir = b\n", GAR_ERR_USAGE,
     "bad.ini:6: [output] dir: duplicate key (first set on line 2)"},
    {"[input]\nnonfinite = ignore\n", GAR_ERR_USAGE,
     "bad.ini:2: [input] nonfinite: expected one of error|skip, got 'ignore'"},
    {"[output]\n\noverwrite = maybe ; comment\n", GAR_ERR_USAGE,
     "bad.ini:3: [output] overwrite: expected yes or no (true/false, on/off, 1/0), got 'maybe'"},
    {"[output]\ndir =\n", GAR_ERR_USAGE, "bad.ini:2: [output] dir: empty value"},
    {"[output]\ndir = ; a comment is no value\n", GAR_ERR_USAGE,
     "bad.ini:2: [output] dir: empty value"},
    {"[input]\nstacks =\n\n[output]\ndir = x\n", GAR_ERR_USAGE,
     "bad.ini:2: [input] stacks: empty value"},
    {"; comment\ndir = x\n[output]\n", GAR_ERR_USAGE,
     "bad.ini:2: dir: key before any [section] header (put it under '[output]')"},
    {"[input]\nnonfinite = skip\njust some words\n", GAR_ERR_USAGE,
     "bad.ini:3: not a key = value line or [section] header"},
    {"[input\nnonfinite = skip\n", GAR_ERR_USAGE,
     "bad.ini:1: not a key = value line or [section] header"},
    /* the syntax error comes first, though inih reports it only at the end */
    {"[input]\noops\nnonfinite = bad\n", GAR_ERR_USAGE,
     "bad.ini:2: not a key = value line or [section] header"},
    {"[output]\ndir = x\n  overwrite = yes\n", GAR_ERR_USAGE,
     "bad.ini:3: [output] dir: indented line continues this key, which takes one value"},
    {"[input]\nstacks = a.h5\n  nonfinite = skip\n", GAR_ERR_USAGE,
     "bad.ini:3: [input] stacks: 'nonfinite = skip' is indented"},
    {"[input]\nstacks = a.h5\n[input]\nstacks = b.h5\n", GAR_ERR_USAGE,
     "bad.ini:4: [input] stacks: duplicate key (first set on line 2)"},
};

START_TEST(test_load_errors)
{
    const bad_case *c = &bad_cases[_i];
    expect_load_error(c->text, c->status, c->fragment);
}
END_TEST

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

START_TEST(test_line_length)
{
    gar_params *p;
    char text[1024];
    /* 199 characters is the most a line may hold, not counting a byte order
     * mark or the line end (here CRLF) */
    char *fill = repeat('x', 199 - strlen("; "));
    snprintf(text, sizeof text, "\xEF\xBB\xBF; %s\r\n[output]\r\ndir = out\r\n", fill);
    p = load_ok(write_text("long.ini", text));
    gar_params_destroy(&p);
    free(fill);

    fill = repeat('y', 200 - strlen("stacks = "));
    snprintf(text, sizeof text, "[input]\nnonfinite = skip\nstacks = %s\n", fill);
    free(fill);
    expect_load_error(text, GAR_ERR_USAGE,
                      "bad.ini:3: line longer than 199 characters; split the list over indented "
                      "continuation lines");
}
END_TEST

START_TEST(test_missing_file)
{
    gar_params *p = NULL;
    ck_assert_int_eq(gar_params_load(test_tmpfile(TAG, "nope.ini"), &p), GAR_ERR_NOINPUT);
    ck_assert_ptr_null(p);
    assert_msg_has("nope.ini: cannot open parameter file: No such file or directory");
    ck_assert_int_eq(gar_params_load(test_tmpdir(TAG), &p), GAR_ERR_USAGE);
    ck_assert_ptr_null(p);
    assert_msg_has("is a directory, expected a parameter file");
}
END_TEST

/* ------------------------------------------------------------------ path lists */

/* Globs are expanded only when the list is asked for: a file can be checked
 * before its data exist. */
START_TEST(test_glob_matches_nothing)
{
    gar_params *p;
    const char *const *list = NULL;
    size_t n = 7;
    p = load_ok(write_text("glob.ini", "[input]\nnonfinite = skip\nstacks = nothing/*.h5\n"));
    ck_assert_int_eq(gar_params_get_path_list(p, "input", "stacks", &list, &n), GAR_ERR_NOINPUT);
    ck_assert_ptr_null(list);
    ck_assert_uint_eq(n, 0);
    assert_msg_has("glob.ini:3: [input] stacks: 'nothing/*.h5' matches no file");
    gar_params_destroy(&p);
}
END_TEST

START_TEST(test_missing_plain_path)
{
    gar_params *p;
    const char *const *list = NULL;
    size_t n = 0;
    touch("a.h5");
    p = load_ok(write_text("plain.ini", "[input]\nstacks = a.h5\n    missing.h5\n"));
    ck_assert_int_eq(gar_params_get_path_list(p, "input", "stacks", &list, &n), GAR_ERR_NOINPUT);
    assert_msg_has("plain.ini:3: [input] stacks: 'missing.h5' does not exist");
    gar_params_destroy(&p);
}
END_TEST

START_TEST(test_directory_in_list)
{
    gar_params *p;
    const char *const *list = NULL;
    size_t n = 0;
    char want[PATH_MAX + 64];
    make_stacks();
    p = load_ok(write_text("dir.ini", "[input]\nstacks = data\n"));
    ck_assert_int_eq(gar_params_get_path_list(p, "input", "stacks", &list, &n), GAR_ERR_USAGE);
    snprintf(want, sizeof want, "dir.ini:2: [input] stacks: '%s' is a directory, expected an HDF5 "
             "stack file", abs_path("data"));
    assert_msg_has(want);
    gar_params_destroy(&p);
}
END_TEST

START_TEST(test_duplicate_in_list)
{
    gar_params *p;
    const char *const *list = NULL;
    size_t n = 0;
    make_stacks();
    p = load_ok(write_text("twice.ini", "[input]\nstacks = data/b.h5\n  data/*.h5\n"));
    ck_assert_int_eq(gar_params_get_path_list(p, "input", "stacks", &list, &n), GAR_ERR_USAGE);
    assert_msg_has("twice.ini:3: [input] stacks: '");
    assert_msg_has("data/b.h5' is listed twice (by 'data/b.h5' and 'data/*.h5')");
    gar_params_destroy(&p);
}
END_TEST

START_TEST(test_expansion_is_cached)
{
    gar_params *p;
    const char *const *first = NULL, *const *second = NULL;
    size_t n1 = 0, n2 = 0;
    /* a folder of its own: with CK_FORK=no the tests share the scratch folder */
    touch("cache/a.h5");
    touch("cache/b.h5");
    touch("cache/c.h5");
    p = load_ok(write_text("cache.ini", "[input]\nstacks = cache/*.h5\n"));
    ck_assert_int_eq(gar_params_get_path_list(p, "input", "stacks", &first, &n1), GAR_OK);
    touch("cache/d.h5");   /* a later match must not change a run's inputs */
    ck_assert_int_eq(gar_params_get_path_list(p, "input", "stacks", &second, &n2), GAR_OK);
    ck_assert_ptr_eq(first, second);
    ck_assert_uint_eq(n1, 3);
    ck_assert_uint_eq(n2, 3);
    gar_params_destroy(&p);
}
END_TEST

/* ------------------------------------------------------------------ --set */

START_TEST(test_set_overrides)
{
    gar_params *p;
    const char *s = NULL;
    const char *const *list = NULL;
    size_t n = 0;
    int b = -1;
    char cwd[PATH_MAX], want[2 * PATH_MAX], assignment[PATH_MAX + 32];
    make_stacks();
    p = load_ok(write_text("good.ini", good_ini));
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));

    ck_assert_int_eq(gar_params_set(p, "output.dir=other"), GAR_OK);
    ck_assert_int_eq(gar_params_get_path(p, "output", "dir", &s), GAR_OK);
    snprintf(want, sizeof want, "%s/other", cwd);   /* --set paths follow the current folder */
    ck_assert_str_eq(s, want);
    ck_assert_str_eq(gar_params_origin(p, "output", "dir"), "--set");
    ck_assert_int_eq(gar_params_is_set(p, "output", "dir"), 1);

    ck_assert_int_eq(gar_params_set(p, " output.overwrite = no "), GAR_OK);
    ck_assert_int_eq(gar_params_get_bool(p, "output", "overwrite", &b), GAR_OK);
    ck_assert_int_eq(b, 0);

    /* the list was expanded already; a --set must replace the expansion */
    ck_assert_int_eq(gar_params_get_path_list(p, "input", "stacks", &list, &n), GAR_OK);
    ck_assert_uint_eq(n, 5);
    snprintf(assignment, sizeof assignment, "input.stacks=%s/extra/*.h5", test_tmpdir(TAG));
    ck_assert_int_eq(gar_params_set(p, assignment), GAR_OK);
    ck_assert_int_eq(gar_params_get_path_list(p, "input", "stacks", &list, &n), GAR_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(list[0], abs_path("extra/x.h5"));

    /* twice on the command line: the last one wins */
    ck_assert_int_eq(gar_params_set(p, "input.nonfinite=error"), GAR_OK);
    ck_assert_int_eq(gar_params_set(p, "input.nonfinite=skip"), GAR_OK);
    ck_assert_int_eq(gar_params_get_string(p, "input", "nonfinite", &s), GAR_OK);
    ck_assert_str_eq(s, "skip");
    gar_params_destroy(&p);
}
END_TEST

static const bad_case set_cases[] = {
    {"output.dri=x", GAR_ERR_USAGE, "--set output.dri: unknown key (did you mean 'output.dir'?)"},
    {"input.dir=x", GAR_ERR_USAGE, "--set input.dir: unknown key (did you mean 'output.dir'?)"},
    {"outptu.dir=x", GAR_ERR_USAGE,
     "--set outptu.dir: unknown section 'outptu' (did you mean 'output.dir'?)"},
    {"dir=x", GAR_ERR_USAGE,
     "--set 'dir=x': expected section.key=value (did you mean 'output.dir=x'?)"},
    {"output.dir", GAR_ERR_USAGE, "--set 'output.dir': expected section.key=value"},
    {"output.overwrite=perhaps", GAR_ERR_USAGE,
     "--set output.overwrite: expected yes or no (true/false, on/off, 1/0), got 'perhaps'"},
    {"input.nonfinite=ignore", GAR_ERR_USAGE,
     "--set input.nonfinite: expected one of error|skip, got 'ignore'"},
    {"output.dir=", GAR_ERR_USAGE, "--set output.dir: empty value"},
    {"output.dir=a ;b", GAR_ERR_USAGE, "--set output.dir: 'a ;b' holds a line break or a ';'"},
};

START_TEST(test_set_errors)
{
    const bad_case *c = &set_cases[_i];
    gar_params *p = NULL;
    const char *s = NULL;
    ck_assert_int_eq(gar_params_create_empty("/data", &p), GAR_OK);
    ck_assert_int_eq(gar_params_set(p, "output.dir=kept"), GAR_OK);
    gar_error_clear();
    ck_assert_int_eq(gar_params_set(p, c->text), c->status);
    assert_msg_has(c->fragment);
    /* a failed --set leaves the earlier value alone */
    ck_assert_int_eq(gar_params_get_path(p, "output", "dir", &s), GAR_OK);
    ck_assert_str_eq(strrchr(s, '/'), "/kept");
    gar_params_destroy(&p);
}
END_TEST

/* ------------------------------------------------------------------ writing */

/* Every schema key has the same value (and given-ness) in a and b. */
static void assert_values(const gar_params *a, const gar_params *b, int compare_set)
{
    for (const gar_param_spec *s = gar_params_schema(); s->section != NULL; s++) {
        const char *sa = NULL, *sb = NULL;
        const char *const *la = NULL, *const *lb = NULL;
        size_t na = 0, nb = 0;
        long ia = 0, ib = 0;
        double da = 0, db = 0;
        int ba = 0, bb = 0;
        gar_status sta, stb;
        ck_assert_msg(!compare_set || gar_params_is_set(a, s->section, s->key) ==
                                          gar_params_is_set(b, s->section, s->key),
                      "[%s] %s: given in one and not the other", s->section, s->key);
        switch (s->type) {
        case GAR_PARAM_STRING:
        case GAR_PARAM_ENUM:
            sta = gar_params_get_string(a, s->section, s->key, &sa);
            stb = gar_params_get_string(b, s->section, s->key, &sb);
            ck_assert_int_eq(sta, stb);
            if (sta == GAR_OK)
                ck_assert_str_eq(sa, sb);
            break;
        case GAR_PARAM_PATH:
            sta = gar_params_get_path(a, s->section, s->key, &sa);
            stb = gar_params_get_path(b, s->section, s->key, &sb);
            ck_assert_int_eq(sta, stb);
            if (sta == GAR_OK)
                ck_assert_str_eq(sa, sb);
            break;
        case GAR_PARAM_PATH_LIST:
            sta = gar_params_get_path_list(a, s->section, s->key, &la, &na);
            stb = gar_params_get_path_list(b, s->section, s->key, &lb, &nb);
            ck_assert_int_eq(sta, stb);
            ck_assert_uint_eq(na, nb);
            for (size_t i = 0; i < na; i++)
                ck_assert_str_eq(la[i], lb[i]);
            break;
        case GAR_PARAM_INT:
            ck_assert_int_eq(gar_params_get_int(a, s->section, s->key, &ia),
                             gar_params_get_int(b, s->section, s->key, &ib));
            ck_assert_int_eq(ia, ib);
            break;
        case GAR_PARAM_DOUBLE:
            ck_assert_int_eq(gar_params_get_double(a, s->section, s->key, &da),
                             gar_params_get_double(b, s->section, s->key, &db));
            ck_assert_double_eq(da, db);
            break;
        case GAR_PARAM_BOOL:
            ck_assert_int_eq(gar_params_get_bool(a, s->section, s->key, &ba),
                             gar_params_get_bool(b, s->section, s->key, &bb));
            ck_assert_int_eq(ba, bb);
            break;
        }
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 65536);
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_lt(fread(buf, 1, 65535, f), 65535);
    fclose(f);
    return buf;
}

/* Write `p` to a file in another folder (so a relative path could not
 * resolve the same) and load it back. */
static void assert_same_values(const gar_params *a, const gar_params *b)
{
    assert_values(a, b, 1);
}

static gar_params *round_trip(const gar_params *p, char **text)
{
    const char *path = write_text("elsewhere/written.ini", "");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(gar_params_write(p, f), GAR_OK);
    ck_assert_int_eq(fclose(f), 0);
    *text = slurp(path);
    return load_ok(path);
}

START_TEST(test_write_round_trip)
{
    gar_params *p, *q;
    char *text = NULL;
    make_stacks();
    p = load_ok(write_text("good.ini", good_ini));
    ck_assert_int_eq(gar_params_set(p, "output.dir=from-set"), GAR_OK);
    q = round_trip(p, &text);
    assert_same_values(p, q);
    ck_assert_msg(strstr(text, "[input]\nstacks = ") != NULL, "written:\n%s", text);
    ck_assert_msg(strstr(text, "overwrite = yes\n") != NULL, "written:\n%s", text);
    gar_params_destroy(&q);
    gar_params_destroy(&p);
    free(text);

    /* defaults stay defaults: written as comments, not as given values */
    touch("a.h5");
    p = load_ok(write_text("partial.ini", "[input]\nstacks = a.h5\n"));
    q = round_trip(p, &text);
    assert_same_values(p, q);
    ck_assert_msg(strstr(text, "; nonfinite = error ; (default)\n") != NULL, "written:\n%s", text);
    ck_assert_msg(strstr(text, "; overwrite = no ; (default)\n") != NULL, "written:\n%s", text);
    ck_assert_msg(strstr(text, "; dir = ; (not set; no default)\n") != NULL, "written:\n%s", text);
    ck_assert_int_eq(gar_params_is_set(q, "input", "nonfinite"), 0);
    gar_params_destroy(&q);
    gar_params_destroy(&p);
    free(text);
}
END_TEST

/* garner params: the template loads as the defaults; with every
 * "; key = default" line uncommented it loads to the same values, every
 * default given (so each key with a default is in it, with the right
 * default); keys without a default are named too. */
START_TEST(test_template_round_trip)
{
    static const char *const sections[] = {"input", "output", "reconstruct", "refine", "postprocess", "gpu", "mpi",
                                           NULL};
    gar_params *defaults, *as_is, *uncommented;
    char *text = NULL, *edited, *out;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(gar_params_write_template(f, "; intro\n", sections), GAR_OK);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(gar_params_create_empty(scratch_abs(), &defaults), GAR_OK);
    ck_assert_int_eq(gar_params_load_buffer(text, len, "template.ini", scratch_abs(), &as_is), GAR_OK);
    assert_same_values(defaults, as_is);
    /* "; key = value" -> "key = value"; "; key = ; no default" stays. */
    edited = malloc(len + 1);
    ck_assert_ptr_nonnull(edited);
    out = edited;
    for (const char *line = text; *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) + 1 : strlen(line);
        size_t key = strspn(line + 2, "abcdefghijklmnopqrstuvwxyz_");
        if (strncmp(line, "; ", 2) == 0 && key > 0 && strncmp(line + 2 + key, " = ", 3) == 0 &&
            strncmp(line + 2 + key + 3, "; no default", 12) != 0) {
            memcpy(out, line + 2, n - 2);
            out += n - 2;
        } else {
            memcpy(out, line, n);
            out += n;
        }
        line += n;
    }
    *out = '\0';
    ck_assert_int_eq(gar_params_load_buffer(edited, strlen(edited), "uncommented.ini", scratch_abs(), &uncommented),
                     GAR_OK);
    assert_values(defaults, uncommented, 0);
    for (const gar_param_spec *s = gar_params_schema(); s->section != NULL; s++) {
        char line[256];
        ck_assert_msg(gar_params_is_set(uncommented, s->section, s->key) == (s->default_value != NULL),
                      "[%s] %s: its default is not in the template", s->section, s->key);
        snprintf(line, sizeof line, "\n; %s = ; no default\n", s->key);
        ck_assert_msg(s->default_value != NULL || strstr(text, line) != NULL, "[%s] %s: not in the template",
                      s->section, s->key);
    }
    /* Only the sections asked for. */
    {
        static const char *const recon[] = {"input", "output", NULL};
        char *small = NULL;
        size_t small_len = 0;
        FILE *g = open_memstream(&small, &small_len);
        ck_assert_int_eq(gar_params_write_template(g, NULL, recon), GAR_OK);
        fclose(g);
        ck_assert_msg(strstr(small, "[refine]") == NULL && strstr(small, "[output]") != NULL, "%s", small);
        free(small);
    }
    gar_params_destroy(&uncommented);
    gar_params_destroy(&as_is);
    gar_params_destroy(&defaults);
    free(edited);
    free(text);
}
END_TEST

/* The did-you-mean of a misspelt command uses the keys' edit distance. */
START_TEST(test_suggest_word)
{
    static const char *const names[] = {"import", "simulate", "reconstruct", "refine", "params"};
    ck_assert_str_eq(gar_params_suggest_word("refin", names, 5), "refine");
    ck_assert_str_eq(gar_params_suggest_word("recontsruct", names, 5), "reconstruct");
    ck_assert_str_eq(gar_params_suggest_word("Simulate", names, 5), "simulate");
    ck_assert_ptr_null(gar_params_suggest_word("frobnicate", names, 5));
}
END_TEST

/* ------------------------------------------------------------------ schema and docs */

/* One representation per parameter: gar_params_settings fills each member
 * of gar_settings with the value its key's getter returns (a schema row
 * naming another key's field, or a field of the wrong width, fails here),
 * enums as the index of their choice. */
START_TEST(test_settings_fields)
{
    gar_params *p;
    gar_settings set;
    const gar_param_spec *spec = gar_params_schema();
    size_t rows = 0;
    make_stacks();
    p = load_ok(write_text("good.ini", good_ini));
    /* Every key away from its default where it has one to differ from. */
    ck_assert_int_eq(gar_params_set(p, "reconstruct.reference=ref.mrc"), GAR_OK);
    ck_assert_int_eq(gar_params_set(p, "refine.initial_map=init.mrc"), GAR_OK);
    ck_assert_int_eq(gar_params_set(p, "reconstruct.symmetry_mode=insert"), GAR_OK);
    ck_assert_int_eq(gar_params_set(p, "gpu.tuning=cached"), GAR_OK);
    ck_assert_int_eq(gar_params_set(p, "reconstruct.pad=3"), GAR_OK);
    ck_assert_int_eq(gar_params_set(p, "refine.join_below=33.5"), GAR_OK);
    ck_assert_int_eq(gar_params_settings(p, &set), GAR_OK);
    for (; spec->section != NULL; spec++)
        rows++;
    ck_assert_uint_ge(rows, 30);
    /* The struct by its members' names, each key set to a value no other key
     * of its type has: a row that names another key's field fails here. */
    {
        static const char *const distinct[] = {
            "output.checkpoint_minutes=1.5", "reconstruct.blob_radius=2.1", "reconstruct.blob_alpha=11",
            "reconstruct.max_resolution=7.25", "refine.initial_resolution=25", "refine.angular_step=6.5",
            "refine.shift_range=4.5", "refine.shift_step=1.25", "refine.local_search_below=4.25",
            "refine.join_below=33.5", "refine.mask_diameter=150", "reconstruct.pad=3", "reconstruct.blob_order=1",
            "reconstruct.threads=5", "reconstruct.batch=17", "refine.iterations=9", "mpi.shard_size=21",
            "mpi.reduce_chunk_mb=13", "output.overwrite=yes", "reconstruct.ctf=no", "reconstruct.outer_mask=yes",
            "gpu.fft_on_gpu=no", "mpi.reproducible=yes", "reconstruct.symmetry=D7", "refine.symmetry=C3",
            "gpu.devices=none", "gpu.tuning_cache=none"};
        for (size_t i = 0; i < sizeof distinct / sizeof distinct[0]; i++)
            ck_assert_int_eq(gar_params_set(p, distinct[i]), GAR_OK);
        ck_assert_int_eq(gar_params_settings(p, &set), GAR_OK);
    }
#define MEMBER_IS(section, key, type, getter)                                                               \
    do {                                                                                                    \
        type want_;                                                                                         \
        ck_assert_int_eq(getter(p, #section, #key, &want_), GAR_OK);                                        \
        ck_assert_msg(set.section.key == want_, "[%s] %s: the member is not the key's value", #section, #key); \
    } while (0)
#define STRING_IS(section, key, getter)                                                                     \
    do {                                                                                                    \
        const char *want_ = NULL;                                                                           \
        ck_assert_int_eq(getter(p, #section, #key, &want_), GAR_OK);                                        \
        ck_assert_msg(set.section.key != NULL && strcmp(set.section.key, want_) == 0,                       \
                      "[%s] %s: the member is not the key's value", #section, #key);                        \
    } while (0)
    MEMBER_IS(output, checkpoint_minutes, double, gar_params_get_double);
    MEMBER_IS(reconstruct, blob_radius, double, gar_params_get_double);
    MEMBER_IS(reconstruct, blob_alpha, double, gar_params_get_double);
    MEMBER_IS(reconstruct, max_resolution, double, gar_params_get_double);
    MEMBER_IS(refine, initial_resolution, double, gar_params_get_double);
    MEMBER_IS(refine, angular_step, double, gar_params_get_double);
    MEMBER_IS(refine, shift_range, double, gar_params_get_double);
    MEMBER_IS(refine, shift_step, double, gar_params_get_double);
    MEMBER_IS(refine, local_search_below, double, gar_params_get_double);
    MEMBER_IS(refine, join_below, double, gar_params_get_double);
    MEMBER_IS(refine, mask_diameter, double, gar_params_get_double);
    MEMBER_IS(reconstruct, pad, long, gar_params_get_int);
    MEMBER_IS(reconstruct, blob_order, long, gar_params_get_int);
    MEMBER_IS(reconstruct, threads, long, gar_params_get_int);
    MEMBER_IS(reconstruct, batch, long, gar_params_get_int);
    MEMBER_IS(refine, iterations, long, gar_params_get_int);
    MEMBER_IS(mpi, shard_size, long, gar_params_get_int);
    MEMBER_IS(mpi, reduce_chunk_mb, long, gar_params_get_int);
    MEMBER_IS(output, overwrite, int, gar_params_get_bool);
    MEMBER_IS(reconstruct, ctf, int, gar_params_get_bool);
    MEMBER_IS(reconstruct, outer_mask, int, gar_params_get_bool);
    MEMBER_IS(gpu, fft_on_gpu, int, gar_params_get_bool);
    MEMBER_IS(mpi, reproducible, int, gar_params_get_bool);
    STRING_IS(reconstruct, symmetry, gar_params_get_string);
    STRING_IS(refine, symmetry, gar_params_get_string);
    STRING_IS(gpu, devices, gar_params_get_string);
    STRING_IS(gpu, tuning_cache, gar_params_get_string);
    STRING_IS(output, dir, gar_params_get_path);
    STRING_IS(reconstruct, reference, gar_params_get_path);
    STRING_IS(refine, initial_map, gar_params_get_path);
#undef MEMBER_IS
#undef STRING_IS
    ck_assert_uint_eq(set.input.n_stacks, 5);
    /* The enums' choices are written in the order of the C enums. */
    ck_assert_int_eq(set.input.nonfinite, GAR_NONFINITE_SKIP);
    ck_assert_int_eq(set.reconstruct.symmetry_mode, GAR_SYM_INSERT);
    ck_assert_int_eq(set.gpu.tuning, GAR_TUNE_CACHED);
    ck_assert_int_eq(gar_params_set(p, "reconstruct.symmetry_mode=volume"), GAR_OK);
    ck_assert_int_eq(gar_params_set(p, "gpu.tuning=off"), GAR_OK);
    ck_assert_int_eq(gar_params_set(p, "input.nonfinite=error"), GAR_OK);
    ck_assert_int_eq(gar_params_settings(p, &set), GAR_OK);
    ck_assert_int_eq(set.reconstruct.symmetry_mode, GAR_SYM_VOLUME);
    ck_assert_int_eq(set.gpu.tuning, GAR_TUNE_OFF);
    ck_assert_int_eq(set.input.nonfinite, GAR_NONFINITE_ERROR);
    ck_assert_int_eq(set.refine.score, GAR_SCORE_WHITENED);
    ck_assert_int_eq(gar_params_set(p, "refine.score=ncc"), GAR_OK);
    ck_assert_int_eq(gar_params_settings(p, &set), GAR_OK);
    ck_assert_int_eq(set.refine.score, GAR_SCORE_NCC);
    ck_assert_int_eq(gar_params_set(p, "gpu.tuning=auto"), GAR_OK);
    ck_assert_int_eq(gar_params_settings(p, &set), GAR_OK);
    ck_assert_int_eq(set.gpu.tuning, GAR_TUNE_AUTO);
    gar_params_destroy(&p);
}
END_TEST

/* A required key without a value: 0 or NULL in the settings, and
 * gar_params_require names it. */
START_TEST(test_settings_required)
{
    gar_params *p = NULL;
    gar_settings set;
    ck_assert_int_eq(gar_params_create_empty(NULL, &p), GAR_OK);
    ck_assert_int_eq(gar_params_settings(p, &set), GAR_OK);
    ck_assert_ptr_null(set.input.stacks);
    ck_assert_ptr_null(set.output.dir);
    ck_assert_ptr_null(set.reconstruct.reference);
    ck_assert_int_eq(set.reconstruct.pad, 2);
    ck_assert_int_eq(gar_params_require(p, "input", "stacks"), GAR_ERR_USAGE);
    ck_assert_msg(strstr(gar_errmsg(), "[input] stacks: required key missing") != NULL, "%s", gar_errmsg());
    ck_assert_int_eq(gar_params_require(p, "reconstruct", "pad"), GAR_OK);
    gar_params_destroy(&p);
}
END_TEST

START_TEST(test_schema)
{
    const gar_param_spec *s = gar_params_schema();
    size_t n = 0;
    for (; s->section != NULL; s++, n++) {
        ck_assert_msg(s->doc != NULL && s->doc[0] != '\0', "[%s] %s: no doc", s->section, s->key);
        ck_assert_msg(s->type != GAR_PARAM_ENUM || s->choices != NULL, "[%s] %s: no choices",
                      s->section, s->key);
    }
    ck_assert_uint_ge(n, 4);
}
END_TEST

/* docs/PARAMETERS.md documents each key as "### `key`" under "## [section]",
 * with a "- **Default:**" line that names the schema default; keys and doc
 * must agree both ways. */
START_TEST(test_docs_cover_schema)
{
    const char *srcdir = getenv("GAR_SRCDIR");
    char path[PATH_MAX], line[1024], section[128] = "", key[128] = "";
    const gar_param_spec *schema = gar_params_schema();
    int found[256] = {0};
    int in_fence = 0, default_seen = 1;
    size_t n = 0;
    long lineno = 0;
    FILE *f;
    for (const gar_param_spec *s = schema; s->section != NULL; s++)
        n++;
    ck_assert_uint_le(n, 256);
    snprintf(path, sizeof path, "%s/docs/PARAMETERS.md", srcdir != NULL ? srcdir : ".");
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f) != NULL) {
        size_t idx = n;
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "```", 3) == 0)
            in_fence = !in_fence;
        if (in_fence)
            continue;
        if (strncmp(line, "## ", 3) == 0) {
            ck_assert_msg(default_seen, "%s: `%s` has no '- **Default:**' line", path, key);
            section[0] = '\0';
            if (sscanf(line, "## [%127[^]]]", section) != 1)
                section[0] = '\0';
            continue;
        }
        if (strncmp(line, "### `", 5) == 0) {
            ck_assert_msg(default_seen, "%s: `%s` has no '- **Default:**' line", path, key);
            ck_assert_msg(sscanf(line, "### `%127[^`]`", key) == 1, "%s:%ld: bad key heading",
                          path, lineno);
            ck_assert_msg(section[0] != '\0', "%s:%ld: `%s` is not under a '## [section]' heading",
                          path, lineno, key);
            for (size_t i = 0; i < n; i++)
                if (strcmp(schema[i].section, section) == 0 && strcmp(schema[i].key, key) == 0)
                    idx = i;
            ck_assert_msg(idx < n, "%s:%ld: [%s] `%s` is documented but not in the schema", path,
                          lineno, section, key);
            ck_assert_msg(!found[idx], "%s:%ld: [%s] `%s` is documented twice", path, lineno,
                          section, key);
            found[idx] = 1;
            default_seen = 0;
            continue;
        }
        if (key[0] != '\0' && strncmp(line, "- **Default:**", 14) == 0 && !default_seen) {
            const gar_param_spec *s = NULL;
            char want[256];
            for (size_t i = 0; i < n; i++)
                if (strcmp(schema[i].section, section) == 0 && strcmp(schema[i].key, key) == 0)
                    s = &schema[i];
            ck_assert_ptr_nonnull(s);
            if (s->default_value != NULL)
                snprintf(want, sizeof want, "`%s`", s->default_value);
            else
                snprintf(want, sizeof want, "none");
            ck_assert_msg(strstr(line + 14, want) != NULL,
                          "%s:%ld: [%s] `%s`: default line does not say %s", path, lineno,
                          section, key, want);
            default_seen = 1;
        }
    }
    fclose(f);
    ck_assert_msg(default_seen, "%s: `%s` has no '- **Default:**' line", path, key);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(found[i], "%s: [%s] `%s` is in the schema but not documented", path,
                      schema[i].section, schema[i].key);
}
END_TEST

/* ------------------------------------------------------------------ main */

static Suite *params_suite(void)
{
    TCase *load = TEST_CASE("load", 0,
                            test_good_file,
                            test_list_on_continuation_lines,
                            test_defaults,
                            test_getter_misuse,
                            test_suggest_key);
    tcase_add_loop_test(load, test_load_errors, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(load, test_line_length);
    tcase_add_test(load, test_missing_file);

    TCase *paths = TEST_CASE("paths", 0,
                             test_glob_matches_nothing,
                             test_missing_plain_path,
                             test_directory_in_list,
                             test_duplicate_in_list,
                             test_expansion_is_cached);

    TCase *set = TEST_CASE("set", 0, test_set_overrides);
    tcase_add_loop_test(set, test_set_errors, 0, (int)(sizeof set_cases / sizeof set_cases[0]));

    TCase *docs = TEST_CASE("docs", 0,
                            test_schema,
                            test_settings_fields,
                            test_settings_required,
                            test_docs_cover_schema);
    return test_suite("params", load, paths, set, TEST_CASE("write", 0, test_write_round_trip, test_template_round_trip, test_suggest_word), docs,
                      NULL);
}

int main(void)
{
    return test_run_suite(params_suite());
}
