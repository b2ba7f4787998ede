#include "gar_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static gar_log_level log_level = GAR_LOG_INFO;
static int log_quiet = 0;
static char log_tag[64] = "garner";

void gar_log_set_level(gar_log_level level) { log_level = level; }
void gar_log_set_quiet(int quiet) { log_quiet = quiet; }
void gar_log_set_tag(const char *tag) { snprintf(log_tag, sizeof log_tag, "%s", tag); }

static void vlog(gar_log_level level, const char *kind, const char *fmt, va_list ap)
{
    char line[2048];
    if (level != GAR_LOG_ERROR && (log_quiet || level > log_level))
        return;
    vsnprintf(line, sizeof line, fmt, ap);
    /* One write per line keeps lines from several ranks or threads whole. */
    fprintf(stderr, "%s: %s%s\n", log_tag, kind, line);
}

#define DEFINE_LOG(name, level, kind)                                                         \
    void name(const char *fmt, ...)                                                           \
    {                                                                                         \
        va_list ap;                                                                           \
        va_start(ap, fmt);                                                                    \
        vlog(level, kind, fmt, ap);                                                           \
        va_end(ap);                                                                           \
    }
DEFINE_LOG(gar_log_info, GAR_LOG_INFO, "")
DEFINE_LOG(gar_log_warn, GAR_LOG_WARN, "warning: ")
DEFINE_LOG(gar_log_debug, GAR_LOG_DEBUG, "debug: ")
DEFINE_LOG(gar_log_error, GAR_LOG_ERROR, "error: ")

double gar_wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

size_t gar_peak_rss_bytes(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (size_t)ru.ru_maxrss * 1024u;
}

void gar_format_duration(double seconds, char *buf, size_t len)
{
    long s = seconds < 0 ? 0 : (long)(seconds + 0.5);
    snprintf(buf, len, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
}

struct gar_progress {
    char label[64];
    char what[32];
    size_t total;
    size_t done;
    double interval;
    double start;
    double last_print;
    int tty;
};

gar_progress *gar_progress_create(const char *label, const char *what, size_t total,
                                  double interval)
{
    gar_progress *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    snprintf(p->label, sizeof p->label, "%s", label);
    snprintf(p->what, sizeof p->what, "%s", what);
    p->total = total;
    p->tty = isatty(STDERR_FILENO);
    /* A terminal can take frequent redraws; a batch log wants few lines. */
    p->interval = interval > 0 ? interval : 10.0;
    if (p->tty)
        p->interval = 0.5;
    p->start = gar_wall_seconds();
    p->last_print = p->start;
    return p;
}

static void progress_print(gar_progress *p, double now, int final)
{
    double elapsed = now - p->start;
    double rate = elapsed > 0 ? p->done / elapsed : 0.0;
    char el[32], eta[32];
    /* Progress is information: --quiet (level WARN) hides it too. */
    if (log_quiet || log_level < GAR_LOG_INFO)
        return;
    gar_format_duration(elapsed, el, sizeof el);
    if (final) {
        fprintf(stderr, "%s%s: %s: %zu %s in %s (%.1f %s/s)\n", p->tty ? "\r" : "", log_tag,
                p->label, p->done, p->what, el, rate, p->what);
        return;
    }
    if (rate > 0 && p->total > p->done)
        gar_format_duration((p->total - p->done) / rate, eta, sizeof eta);
    else
        snprintf(eta, sizeof eta, "?");
    fprintf(stderr, "%s%s: %s: %zu/%zu %s (%.1f%%), %.1f %s/s, elapsed %s, ETA %s%s",
            p->tty ? "\r" : "", log_tag, p->label, p->done, p->total, p->what,
            p->total ? 100.0 * p->done / p->total : 100.0, rate, p->what, el, eta,
            p->tty ? "" : "\n");
    fflush(stderr);
}

void gar_progress_update(gar_progress *p, size_t done)
{
    double now;
    if (p == NULL)
        return;
    p->done = done;
    now = gar_wall_seconds();
    if (now - p->last_print >= p->interval) {
        p->last_print = now;
        progress_print(p, now, 0);
    }
}

void gar_progress_finish(gar_progress **pp)
{
    if (pp == NULL || *pp == NULL)
        return;
    progress_print(*pp, gar_wall_seconds(), 1);
    free(*pp);
    *pp = NULL;
}

void gar_progress_destroy(gar_progress **pp)
{
    if (pp == NULL || *pp == NULL)
        return;
    free(*pp);
    *pp = NULL;
}
