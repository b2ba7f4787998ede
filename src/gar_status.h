/* garner: one status enum for the whole project, and the error message that
 * goes with a failure.
 *
 * The enum, gar_status_exit_code, gar_status_name, gar_errmsg and
 * gar_error_clear are public (<garner/status.h>, src/include/garner/status.h);
 * this header adds what the library uses to raise errors.
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
#include <garner/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Record a failure: formats the message, stores it for this thread, returns st
 * so callers can write `return gar_error(GAR_ERR_DATA, "...", ...);`. */
gar_status gar_error(gar_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prefix the current message with more context ("stack.h5: " + message). */
gar_status gar_error_context(gar_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

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
