/* garner public API: the status every call returns, and the message that
 * goes with a failure.
 *
 * Every garner function that can fail returns a gar_status: GAR_OK, or the
 * kind of failure. The failing call stores a one-line message with its full
 * context (file, dataset, key, particle index, what was expected) in
 * thread-local storage, like errno, so threads fail independently; read it
 * with gar_errmsg() on the thread that made the call. */
#ifndef GARNER_STATUS_H
#define GARNER_STATUS_H

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
    GAR_ERR_NO_DEVICE,   /* no usable GPU                             -> 69 */
    GAR_ERR_STOPPED      /* stopped by a signal, nothing kept  -> 128 + its number */
} gar_status;

/* The process exit code for a status (sysexits.h numbering, as above). */
int gar_status_exit_code(gar_status st);
/* A short constant name for a status ("bad input data", ...). */
const char *gar_status_name(gar_status st);

/* The calling thread's last failure message ("" if none). The buffer is the
 * library's (do not free it); the next failure on this thread, or
 * gar_error_clear(), overwrites it. */
const char *gar_errmsg(void);
/* Forget the calling thread's message. */
void gar_error_clear(void);

#ifdef __cplusplus
}
#endif
#endif
