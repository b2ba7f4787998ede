/* Tests for write-to-a-temporary-then-rename (src/gar_atomic.c): what is left
 * under which name after commit, abort and a failed commit. Every file goes
 * to the scratch folder from testutil.h. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gar_atomic.h"
#include "gar_signal.h"
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

/* A child that begins two outputs (and commits the first if `commit_one`),
 * sends itself SIGTERM under the cleanup policy and is not polling: the
 * handler removes the temporary in flight, writes one line to stderr (a
 * file here) and exits 143. Returns the child's wait status. */
static int signalled_child(const char *name, int commit_one, char *line, size_t size)
{
    const char *one = test_tmpfile(name, "one.mrc"), *two = test_tmpfile(name, "two.h5");
    const char *err = test_tmpfile(name, "stderr");
    int status = 0;
    pid_t pid;
    fflush(NULL);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        gar_atomic a, b;
        int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 2) < 0)
            _exit(1);
        gar_signals_install("garner test", GAR_SIGNALS_CLEANUP);
        if (gar_atomic_begin(&a, one, 0) != GAR_OK || put(a.tmp, "one\n") != 0 ||
            (commit_one && gar_atomic_commit(&a) != GAR_OK) || gar_atomic_begin(&b, two, 0) != GAR_OK ||
            put(b.tmp, "two\n") != 0)
            _exit(2);
        raise(SIGTERM);
        _exit(3); /* the handler should not return */
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    get(err, line, size);
    return status;
}

START_TEST(test_signal_removes_in_flight)
{
    const char *dir = test_tmpdir("atomic-signal");
    char line[256];
    int status = signalled_child("atomic-signal", 0, line, sizeof line);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 128 + SIGTERM);
    ck_assert_str_eq(line, "garner test: stopped by SIGTERM; nothing written\n");
    ck_assert_int_eq(test_count_prefix(dir, "one.mrc"), 0);
    ck_assert_int_eq(test_count_prefix(dir, "two.h5"), 0);
}
END_TEST

START_TEST(test_signal_keeps_committed)
{
    const char *dir = test_tmpdir("atomic-signal-kept");
    char line[256];
    int status = signalled_child("atomic-signal-kept", 1, line, sizeof line);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 128 + SIGTERM);
    ck_assert_str_eq(line, "garner test: stopped by SIGTERM; unfinished outputs removed\n");
    ck_assert(test_file_exists(test_tmpfile("atomic-signal-kept", "one.mrc")));
    ck_assert_int_eq(test_count_prefix(dir, "one.mrc.tmp-"), 0);
    ck_assert_int_eq(test_count_prefix(dir, "two.h5"), 0);
}
END_TEST

/* A polling command: the first signal only sets the flag; the next check
 * fails with GAR_ERR_STOPPED and a commit removes its temporary instead of
 * putting it in place. In a child, since the policy is process-wide. */
START_TEST(test_signal_polled)
{
    const char *dir = test_tmpdir("atomic-polled");
    const char *path = test_tmpfile("atomic-polled", "out.h5");
    int status = 0;
    pid_t pid;
    fflush(NULL);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        gar_atomic a;
        /* Under nohup (or a CI runner that ignores SIGHUP) the policy keeps
         * an inherited SIG_IGN, as it should; this test is about a SIGHUP
         * that arrives. */
        signal(SIGHUP, SIG_DFL);
        gar_signals_install("garner test", GAR_SIGNALS_CLEANUP);
        gar_signals_polled(1);
        if (gar_atomic_begin(&a, path, 0) != GAR_OK || put(a.tmp, "x\n") != 0 || gar_signal_check() != GAR_OK)
            _exit(10);
        raise(SIGHUP);
        if (gar_signal_received() != SIGHUP || gar_signal_check() != GAR_ERR_STOPPED ||
            strcmp(gar_errmsg(), "stopped by SIGHUP; nothing written") != 0)
            _exit(11);
        if (gar_atomic_commit(&a) != GAR_ERR_STOPPED || access(a.tmp, F_OK) == 0 || access(path, F_OK) == 0)
            _exit(12);
        _exit(gar_status_exit_code(GAR_ERR_STOPPED));
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 128 + SIGHUP);
    ck_assert_int_eq(test_count_prefix(dir, "out.h5"), 0);
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
                          test_too_long,
                          test_signal_removes_in_flight,
                          test_signal_keeps_committed,
                          test_signal_polled);
    return test_run_suite(test_suite("atomic", tc, NULL));
}
