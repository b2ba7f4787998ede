/* garner: the signal policy (see gar_signal.h). */
#include "gar_signal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "gar_atomic.h"

static volatile sig_atomic_t stop_sig = 0;
static volatile sig_atomic_t policy = GAR_SIGNALS_CLEANUP;
static volatile sig_atomic_t polled = 0;
/* The handler may not call snprintf: it writes the tag, copied here at
 * install, and constant pieces. */
static char tag[64] = "garner";
/* Bits 1 (SIGINT) and 2 (SIGHUP): ignored when the first install ran. */
static int inherited_ignored = 0, inherited_known = 0;

const char *gar_signal_name(int sig)
{
    switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    case SIGUSR1: return "SIGUSR1";
    }
    return "a signal";
}

/* Write all of s, or give up (EPIPE: stderr is gone). Async-signal-safe. */
static void write_all(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Only async-signal-safe calls below (signal-safety(7)): the flag, and for
 * a command that is not polling, unlink/rmdir, write and _exit. The message
 * is "TAG: stopped by " + the name + the rest, assembled from static text. */
static void on_stop(int sig)
{
    const int second = stop_sig != 0;
    const char *name, *rest;
    if (!second)
        stop_sig = sig;
    if (policy == GAR_SIGNALS_CHECKPOINT || (polled && !second))
        return;
    gar_atomic_remove_all();
    name = gar_signal_name(sig);
    rest = gar_atomic_committed() == 0 ? "; nothing written\n" : "; unfinished outputs removed\n";
    write_all(tag, strlen(tag));
    write_all(": stopped by ", 13);
    write_all(name, strlen(name));
    write_all(rest, strlen(rest));
    _exit(128 + sig);
}

void gar_signals_install(const char *t, gar_signal_policy p)
{
    struct sigaction sa;
    sigset_t set;
    const int stops[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1};
    snprintf(tag, sizeof tag, "%s", t != NULL ? t : "garner");
    policy = p;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    /* Restart interrupted reads and writes: the flag is all a polled
     * command needs, and an EINTR would turn a stop into an I/O error. */
    sa.sa_flags = SA_RESTART;
    /* Block the other stop signals while one is handled, so that two at
     * once (Slurm's USR1 then TERM, or a terminal's HUP then INT) cannot
     * interleave their lines. */
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++)
        sigaddset(&sa.sa_mask, stops[i]);
    sigemptyset(&set);
    /* SIGUSR1 (Slurm's --signal, "time is nearly up") too: its default
     * action would kill an import in a batch job with its temporary left. */
    for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
        /* SIGINT and SIGHUP ignored when garner started stay ignored: a
         * shell ignores SIGINT for its background jobs, nohup SIGHUP. Only
         * the first call can tell (later ones find our own handler). */
        if (!inherited_known) {
            struct sigaction old;
            if ((stops[i] == SIGINT || stops[i] == SIGHUP) && sigaction(stops[i], NULL, &old) == 0 &&
                old.sa_handler == SIG_IGN)
                inherited_ignored |= stops[i] == SIGINT ? 1 : 2;
        }
        if ((stops[i] == SIGINT && (inherited_ignored & 1)) || (stops[i] == SIGHUP && (inherited_ignored & 2))) {
            struct sigaction ign;
            memset(&ign, 0, sizeof ign);
            ign.sa_handler = SIG_IGN;
            sigemptyset(&ign.sa_mask);
            sigaction(stops[i], &ign, NULL);
            continue;
        }
        sigaction(stops[i], &sa, NULL);
        sigaddset(&set, stops[i]);
    }
    inherited_known = 1;
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    /* A closed pipe makes write() fail with EPIPE instead of killing; a
     * file-size limit (ulimit -f) makes it fail with EFBIG instead of
     * SIGXFSZ killing the process with its temporaries left (issue 18, case
     * 18): the write's error path then names the file and removes them. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
    sigaction(SIGXFSZ, &sa, NULL);
}

void gar_signals_polled(int p) { polled = p != 0; }

int gar_signal_received(void) { return stop_sig; }

gar_status gar_signal_check(void)
{
    const int sig = stop_sig;
    if (sig == 0 || policy == GAR_SIGNALS_CHECKPOINT)
        return GAR_OK;
    return gar_error(GAR_ERR_STOPPED, "stopped by %s; %s", gar_signal_name(sig),
                     gar_atomic_committed() == 0 ? "nothing written" : "unfinished outputs removed");
}
