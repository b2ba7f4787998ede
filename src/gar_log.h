/* garner: messages and progress on stderr, written for Slurm batch logs.
 *
 * Every line starts with "garner: " (or the command's tag). Progress reports
 * are whole lines with count, rate and ETA at a fixed interval; on a terminal
 * the line is redrawn in place with '\r', otherwise (a batch log) a new line is
 * printed at most every `interval` seconds so the log stays readable. Under
 * MPI only rank 0 reports (gar_log_set_quiet on the others). */
#ifndef GAR_LOG_H
#define GAR_LOG_H

#include <stddef.h>
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gar_log_level { GAR_LOG_ERROR, GAR_LOG_WARN, GAR_LOG_INFO, GAR_LOG_DEBUG } gar_log_level;

/* Process-wide settings, made once at start-up before any thread starts. */
void gar_log_set_level(gar_log_level level);
void gar_log_set_quiet(int quiet);
void gar_log_set_tag(const char *tag);   /* e.g. "garner simulate" */

void gar_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void gar_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void gar_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Errors are printed even when quiet. */
void gar_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The run's log in its output folder: every line this process has printed
 * (from its start, kept in memory up to 1 MiB) is written to `path`
 * (appended, so a continued run adds to it), and every later line too,
 * until gar_log_tee_close. A second open while one is open does nothing.
 * GAR_ERR_OUTPUT if the file cannot be opened. */
gar_status gar_log_tee_open(const char *path);
void gar_log_tee_close(void);

/* Monotonic wall clock in seconds. */
double gar_wall_seconds(void);
/* Peak resident set size of this process in bytes (0 if unknown). */
size_t gar_peak_rss_bytes(void);

typedef struct gar_progress gar_progress;
/* Start reporting `what` (e.g. "particles") out of `total`; interval in seconds
 * between batch-log lines (<= 0: 10 s). Returns NULL only when out of memory,
 * and every function accepts NULL, so progress never fails a run. */
gar_progress *gar_progress_create(const char *label, const char *what, size_t total,
                                  double interval);
/* Set the count done so far; prints if the interval has passed. Thread-safe
 * only from one thread (the caller's loop). */
void gar_progress_update(gar_progress *p, size_t done);
/* Print the final line (count, elapsed, mean rate) and free. NULL-safe. */
void gar_progress_finish(gar_progress **p);
/* Free without a final line (on an error path). NULL-safe. */
void gar_progress_destroy(gar_progress **p);
/* Format seconds as H:MM:SS into buf. */
void gar_format_duration(double seconds, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
