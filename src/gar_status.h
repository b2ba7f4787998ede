/* garner: one status enum for the whole project, and the error message that
 * goes with a failure.
 *
 * Every function that can fail returns a gar_status. At the point of failure it
 * calls gar_error() with the full context (file, dataset, key, particle index and
 * what was expected); callers higher up may add context with gar_error_context().
 * The message lives in thread-local storage, like errno, so worker threads can
 * fail independently. The command prints gar_errmsg() as one line and exits with
 * gar_status_exit_code(), which follows sysexits.h. */
#ifndef GAR_STATUS_H
#define GAR_STATUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gar_status {
    GAR_OK = 0,
    GAR_ERR_USAGE,       /* bad command line or parameter value      -> 64 */
    GAR_ERR_DATA,        /* input file is malformed or inconsistent  -> 65 */
    GAR_ERR_NOINPUT,     /* input file missing or unreadable          -> 66 */
    GAR_ERR_NOT_BUILT,   /* feature not compiled in (e.g. CUDA)      -> 69 */
    GAR_ERR_INTERNAL,    /* a bug or an unexpected library failure    -> 70 */
    GAR_ERR_NOMEM,       /* allocation failed or would not fit        -> 71 */
    GAR_ERR_OUTPUT,      /* cannot create an output file              -> 73 */
    GAR_ERR_IO,          /* read or write failed part way             -> 74 */
    GAR_ERR_CHECKPOINT,  /* checkpoint written, requeue me            -> 75 */
    GAR_ERR_NO_DEVICE    /* no usable GPU                             -> 69 */
} gar_status;

/* The process exit code for a status (sysexits.h numbering). */
int gar_status_exit_code(gar_status st);
/* A short constant name for a status ("bad input data", ...). */
const char *gar_status_name(gar_status st);

/* Record a failure: formats the message, stores it for this thread, returns st
 * so callers can write `return gar_error(GAR_ERR_DATA, "...", ...);`. */
gar_status gar_error(gar_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prefix the current message with more context ("stack.h5: " + message). */
gar_status gar_error_context(gar_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The current thread's last message ("" if none). Valid until the next call
 * of gar_error* on this thread. */
const char *gar_errmsg(void);
void gar_error_clear(void);

/* Checked size arithmetic: sizes read from headers go through these so a
 * corrupt header cannot overflow an allocation size. Return 0 on overflow. */
int gar_size_mul(size_t a, size_t b, size_t *out);
int gar_size_mul3(size_t a, size_t b, size_t c, size_t *out);

/* malloc/calloc with an overflow-checked count; on failure set a message naming
 * `what` and the size, and return GAR_ERR_NOMEM. *out is NULL on failure. */
gar_status gar_alloc(void **out, size_t count, size_t elem_size, const char *what);
gar_status gar_calloc(void **out, size_t count, size_t elem_size, const char *what);

#ifdef __cplusplus
}
#endif
#endif
