/* A main() for the fuzz targets without libFuzzer: runs LLVMFuzzerTestOneInput
 * on every file named on the command line (folders: every file in them), or,
 * with no arguments, on the target's seed corpus
 * $GAR_SRCDIR/tests/fuzz/corpus/<FUZZ_TARGET>/, which is how `make check`
 * runs it. Every input must return; an invariant broken or a sanitizer report
 * ends the program with the input's name on stderr. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#ifndef FUZZ_TARGET
#error "define FUZZ_TARGET as the target's name"
#endif

static int run_file(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    for (;;) {
        if (len == cap) {
            unsigned char *b = realloc(buf, cap ? 2 * cap : 65536);
            if (b == NULL) {
                fprintf(stderr, "replay: out of memory reading %s\n", path);
                free(buf);
                fclose(f);
                return 1;
            }
            buf = b;
            cap = cap ? 2 * cap : 65536;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0)
            break;
    }
    fclose(f);
    fprintf(stderr, "replay: %s\n", path);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    (*count)++;
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, size_t *count)
{
    struct stat sb;
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int bad = 0;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "replay: %s does not exist\n", path);
        return 1;
    }
    if (!S_ISDIR(sb.st_mode))
        return run_file(path, count);
    if ((d = opendir(path)) == NULL) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return 1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **nn = realloc(names, (cap ? 2 * cap : 64) * sizeof *names);
            if (nn == NULL)
                break;
            names = nn;
            cap = cap ? 2 * cap : 64;
        }
        names[n] = malloc(strlen(path) + strlen(e->d_name) + 2);
        if (names[n] == NULL)
            break;
        sprintf(names[n], "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, compare_names);
    for (size_t i = 0; i < n; i++) {
        bad |= run_file(names[i], count);
        free(names[i]);
    }
    free(names);
    return bad;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int bad = 0;
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            bad |= run_path(argv[i], &count);
    } else {
        const char *src = getenv("GAR_SRCDIR");
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", src ? src : ".", FUZZ_TARGET);
        bad = run_path(dir, &count);
    }
    printf("%s: %zu inputs replayed%s\n", FUZZ_TARGET, count, bad ? ", some unreadable" : "");
    return bad || count == 0;
}
