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
/* A terminal's progress line is redrawn in place, without a newline: a log
 * line printed meanwhile first erases it (carriage return, then ANSI "erase
 * to end of line"), or the two would run together. */
static int progress_line_open = 0;
#define TTY_ERASE_LINE "\r\033[K"

void gar_log_set_level(gar_log_level level) { log_level = level; }
void gar_log_set_quiet(int quiet) { log_quiet = quiet; }
void gar_log_set_tag(const char *tag) { snprintf(log_tag, sizeof log_tag, "%s", tag); }

/* The run's log file in its output folder (run.log, as RELION keeps
 * run.out): every line printed to stderr from the process's start is kept
 * in memory (up to LOG_KEEP_MAX bytes) until gar_log_tee_open names the
 * file, which then receives them and every later line. */
#define LOG_KEEP_MAX ((size_t)1 << 20)
static char *log_kept = NULL;
static size_t log_kept_len = 0, log_kept_cap = 0;
static int log_kept_full = 0;
static FILE *log_tee = NULL;

static void log_record(const char *text)
{
    const size_t n = strlen(text);
    if (log_tee != NULL) {
        fputs(text, log_tee);
        fflush(log_tee);
        return;
    }
    if (log_kept_full)
        return;
    if (log_kept_len + n + 1 > LOG_KEEP_MAX) {
        log_kept_full = 1;
        return;
    }
    if (log_kept_len + n + 1 > log_kept_cap) {
        size_t cap = log_kept_cap ? 2 * log_kept_cap : 8192;
        char *grown;
        while (cap < log_kept_len + n + 1)
            cap *= 2;
        if ((grown = realloc(log_kept, cap)) == NULL) {
            log_kept_full = 1; /* the file misses lines; stderr has them all */
            return;
        }
        log_kept = grown;
        log_kept_cap = cap;
    }
    memcpy(log_kept + log_kept_len, text, n + 1);
    log_kept_len += n;
}

gar_status gar_log_tee_open(const char *path)
{
    FILE *f;
    if (log_tee != NULL)
        return GAR_OK;
    if ((f = fopen(path, "a")) == NULL)
        return gar_error(GAR_ERR_OUTPUT, "%s: cannot create the run's log", path);
    if (log_kept_len > 0)
        fwrite(log_kept, 1, log_kept_len, f);
    if (log_kept_full)
        fputs("(earlier lines left out: more than 1 MiB before the output folder existed)\n", f);
    fflush(f);
    free(log_kept);
    log_kept = NULL;
    log_kept_len = log_kept_cap = 0;
    log_kept_full = 1; /* nothing more to keep: lines go to the file */
    log_tee = f;
    return GAR_OK;
}

void gar_log_tee_close(void)
{
    if (log_tee != NULL)
        fclose(log_tee);
    log_tee = NULL;
}

static void vlog(gar_log_level level, const char *kind, const char *fmt, va_list ap)
{
    char line[2048], full[2200];
    if (level != GAR_LOG_ERROR && (log_quiet || level > log_level))
        return;
    vsnprintf(line, sizeof line, fmt, ap);
    snprintf(full, sizeof full, "%s: %s%s\n", log_tag, kind, line);
    /* One write per line keeps lines from several ranks or threads whole. */
    fprintf(stderr, "%s%s", progress_line_open ? TTY_ERASE_LINE : "", full);
    progress_line_open = 0;
    log_record(full);
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
    double last_recorded;   /* a progress line written to the run's log file */
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
    p->last_print = p->last_recorded = p->start;
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
    /* An empty label: the tag alone names it ("garner simulate: ..."). */
    const char *sep = p->label[0] != '\0' ? ": " : "";
    if (final) {
        char full[512];
        snprintf(full, sizeof full, "%s: %s%s%zu %s in %s (%.1f %s/s)\n", log_tag, p->label, sep, p->done, p->what,
                 el, rate, p->what);
        fprintf(stderr, "%s%s", p->tty ? TTY_ERASE_LINE : "", full);
        progress_line_open = 0;
        log_record(full);
        return;
    }
    if (rate > 0 && p->total > p->done)
        gar_format_duration((p->total - p->done) / rate, eta, sizeof eta);
    else
        snprintf(eta, sizeof eta, "?");
    char full[512];
    snprintf(full, sizeof full, "%s: %s%s%zu/%zu %s (%.1f%%), %.1f %s/s, elapsed %s, ETA %s", log_tag, p->label, sep,
             p->done, p->total, p->what, p->total ? 100.0 * p->done / p->total : 100.0, rate, p->what, el, eta);
    fprintf(stderr, "%s%s%s", p->tty ? TTY_ERASE_LINE : "", full, p->tty ? "" : "\n");
    progress_line_open = p->tty;
    fflush(stderr);
    /* The file takes progress lines as a batch log would: a terminal's
     * redraws, every half second, at most every 10 s. */
    if (!p->tty || now - p->last_recorded >= 10.0) {
        p->last_recorded = now;
        strncat(full, "\n", sizeof full - strlen(full) - 1);
        log_record(full);
    }
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
