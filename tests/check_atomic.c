/* Tests for write-to-a-temporary-then-rename (src/gar_atomic.c): what is left
 * under which name after commit, abort and a failed commit. Every file goes
 * to the scratch folder from testutil.h. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gar_atomic.h"
#include "testutil.h"

/* Write `text` to path; 0 on success. */
static int put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* The first line of path into buf ("" when unreadable). */
static const char *get(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    buf[0] = '\0';
    if (f != NULL) {
        if (fgets(buf, (int)size, f) == NULL)
            buf[0] = '\0';
        fclose(f);
    }
    return buf;
}

START_TEST(test_commit)
{
    const char *dir = test_tmpdir("atomic-commit");
    const char *path = test_tmpfile("atomic-commit", "out.txt");
    char want[3 * PATH_MAX], buf[64];
    gar_atomic a;
    ck_assert_int_eq(gar_atomic_begin(&a, path, 0), GAR_OK);
    snprintf(want, sizeof want, "%s.tmp-%ld", path, (long)getpid());
    ck_assert_str_eq(a.tmp, want);
    ck_assert_str_eq(a.path, path);
    /* begin creates nothing */
    ck_assert(!test_file_exists(a.tmp));
    ck_assert_int_eq(put(a.tmp, "new\n"), 0);
    ck_assert(!test_file_exists(path));
    ck_assert_int_eq(gar_atomic_commit(&a), GAR_OK);
    ck_assert_str_eq(get(path, buf, sizeof buf), "new\n");
    ck_assert_int_eq(test_count_prefix(dir, "out.txt.tmp-"), 0);
    /* abort after commit leaves the result alone */
    gar_atomic_abort(&a);
    ck_assert_str_eq(get(path, buf, sizeof buf), "new\n");
    /* a second commit is a mistake of the caller's */
    ck_assert_int_eq(gar_atomic_commit(&a), GAR_ERR_INTERNAL);
    ck_assert_str_eq(get(path, buf, sizeof buf), "new\n");
}
END_TEST

START_TEST(test_commit_replaces)
{
    const char *dir = test_tmpdir("atomic-replace");
    const char *path = test_tmpfile("atomic-replace", "out.txt");
    char buf[64];
    gar_atomic a;
    ck_assert_int_eq(put(path, "old\n"), 0);
    ck_assert_int_eq(gar_atomic_begin(&a, path, 0), GAR_OK);
    ck_assert_int_eq(put(a.tmp, "new\n"), 0);
    /* until the commit a reader sees the old file */
    ck_assert_str_eq(get(path, buf, sizeof buf), "old\n");
    ck_assert_int_eq(gar_atomic_commit(&a), GAR_OK);
    ck_assert_str_eq(get(path, buf, sizeof buf), "new\n");
    ck_assert_int_eq(test_count_prefix(dir, "out.txt.tmp-"), 0);
}
END_TEST

START_TEST(test_abort)
{
    const char *dir = test_tmpdir("atomic-abort");
    const char *path = test_tmpfile("atomic-abort", "out.txt");
    char buf[64];
    gar_atomic a, never = {0};
    ck_assert_int_eq(gar_atomic_begin(&a, path, 0), GAR_OK);
    ck_assert_int_eq(put(a.tmp, "partial\n"), 0);
    gar_atomic_abort(&a);
    ck_assert(!test_file_exists(a.tmp));
    ck_assert(!test_file_exists(path));
    ck_assert_int_eq(test_count_prefix(dir, "out.txt"), 0);
    gar_atomic_abort(&a); /* twice */
    gar_atomic_abort(&never);
    /* an existing file is kept when the new one is abandoned */
    ck_assert_int_eq(put(path, "old\n"), 0);
    ck_assert_int_eq(gar_atomic_begin(&a, path, 0), GAR_OK);
    ck_assert_int_eq(put(a.tmp, "partial\n"), 0);
    gar_atomic_abort(&a);
    ck_assert_str_eq(get(path, buf, sizeof buf), "old\n");
    ck_assert_int_eq(test_count_prefix(dir, "out.txt.tmp-"), 0);
    /* a temporary folder (empty) goes too */
    ck_assert_int_eq(gar_atomic_begin(&a, path, 0), GAR_OK);
    ck_assert_int_eq(mkdir(a.tmp, 0755), 0);
    gar_atomic_abort(&a);
    ck_assert(!test_file_exists(a.tmp));
}
END_TEST

START_TEST(test_commit_missing_folder)
{
    const char *missing = test_tmpfile("atomic-missing", "no-such-folder");
    const char *path = test_tmpfile("atomic-missing", "no-such-folder/out.txt");
    gar_atomic a;
    gar_status st;
    ck_assert_int_eq(gar_atomic_begin(&a, path, 0), GAR_OK);
    errno = 0;
    st = gar_atomic_commit(&a);
    ck_assert_int_eq(st, GAR_ERR_OUTPUT);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_msg(strncmp(gar_errmsg(), path, strlen(path)) == 0, "message '%s' does not start with %s",
                  gar_errmsg(), path);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "No such file or directory"));
    ck_assert(!test_file_exists(missing));
    /* nothing to abort any more */
    ck_assert_int_eq(gar_atomic_commit(&a), GAR_ERR_INTERNAL);
}
END_TEST

START_TEST(test_commit_fails_removes_temporary)
{
    /* A folder with something in it cannot be replaced by a file: the rename
     * fails after the temporary was written, which must then go. */
    const char *dir = test_tmpdir("atomic-fail");
    const char *path = test_tmpfile("atomic-fail", "taken");
    const char *inside = test_tmpfile("atomic-fail", "taken/x");
    gar_atomic a;
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_eq(put(inside, "keep\n"), 0);
    ck_assert_int_eq(gar_atomic_begin(&a, path, 0), GAR_OK);
    ck_assert_int_eq(put(a.tmp, "new\n"), 0);
    ck_assert_int_eq(gar_atomic_commit(&a), GAR_ERR_OUTPUT);
    ck_assert_msg(strncmp(gar_errmsg(), path, strlen(path)) == 0, "message '%s' does not start with %s",
                  gar_errmsg(), path);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), a.tmp));
    ck_assert(!test_file_exists(a.tmp));
    ck_assert_int_eq(test_count_prefix(dir, "taken.tmp-"), 0);
    ck_assert(test_file_exists(inside));
}
END_TEST

START_TEST(test_hidden)
{
    const char *dir = test_tmpdir("atomic-hidden");
    const char *path = test_tmpfile("atomic-hidden", "map.mrc");
    char want[3 * PATH_MAX];
    gar_atomic a;
    ck_assert_int_eq(gar_atomic_begin(&a, path, 1), GAR_OK);
    snprintf(want, sizeof want, "%s/.map.mrc.tmp-%ld", dir, (long)getpid());
    ck_assert_str_eq(a.tmp, want);
    ck_assert_int_eq(put(a.tmp, "x\n"), 0);
    /* a listing of visible names shows no half-written result */
    ck_assert_int_eq(test_count_prefix(dir, "map.mrc"), 0);
    ck_assert_int_eq(gar_atomic_commit(&a), GAR_OK);
    ck_assert(test_file_exists(path));
    ck_assert_int_eq(test_count_prefix(dir, ".map.mrc"), 0);
    /* a name without a folder is hidden in the current one */
    ck_assert_int_eq(gar_atomic_begin(&a, "plain.txt", 1), GAR_OK);
    snprintf(want, sizeof want, ".plain.txt.tmp-%ld", (long)getpid());
    ck_assert_str_eq(a.tmp, want);
    gar_atomic_abort(&a);
}
END_TEST

START_TEST(test_too_long)
{
    static char path[GAR_ATOMIC_PATH + 16];
    gar_atomic a;
    memset(path, 'a', sizeof path - 1);
    path[sizeof path - 1] = '\0';
    ck_assert_int_eq(gar_atomic_begin(&a, path, 0), GAR_ERR_OUTPUT);
    ck_assert_ptr_nonnull(strstr(gar_errmsg(), "path too long"));
    gar_atomic_abort(&a); /* after a failed begin: nothing to do */
    /* the longest name that fits; the temporary's name has room for the suffix */
    path[GAR_ATOMIC_PATH - 1] = '\0';
    ck_assert_int_eq(gar_atomic_begin(&a, path, 0), GAR_OK);
    gar_atomic_abort(&a);
}
END_TEST

int main(void)
{
    TCase *tc = TEST_CASE("core", 0,
                          test_commit,
                          test_commit_replaces,
                          test_abort,
                          test_commit_missing_folder,
                          test_commit_fails_removes_temporary,
                          test_hidden,
                          test_too_long);
    return test_run_suite(test_suite("atomic", tc, NULL));
}
