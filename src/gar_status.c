#include "gar_status.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gar_signal.h"

#define GAR_ERRMSG_MAX 1024

static _Thread_local char errmsg[GAR_ERRMSG_MAX];

int gar_status_exit_code(gar_status st)
{
    switch (st) {
    case GAR_OK: return 0;
    case GAR_ERR_USAGE: return 64;
    case GAR_ERR_DATA: return 65;
    case GAR_ERR_NOINPUT: return 66;
    case GAR_ERR_NOT_BUILT: return 69;
    case GAR_ERR_NO_DEVICE: return 69;
    case GAR_ERR_INTERNAL: return 70;
    case GAR_ERR_NOMEM: return 71;
    case GAR_ERR_OUTPUT: return 73;
    case GAR_ERR_IO: return 74;
    case GAR_ERR_CHECKPOINT: return 75;
    /* As a shell reports a process the signal killed (SIGTERM: 143). */
    case GAR_ERR_STOPPED: return 128 + (gar_signal_received() > 0 ? gar_signal_received() : SIGTERM);
    }
    return 70;
}

const char *gar_status_name(gar_status st)
{
    switch (st) {
    case GAR_OK: return "success";
    case GAR_ERR_USAGE: return "usage error";
    case GAR_ERR_DATA: return "bad input data";
    case GAR_ERR_NOINPUT: return "missing input";
    case GAR_ERR_NOT_BUILT: return "feature not built";
    case GAR_ERR_NO_DEVICE: return "no usable GPU";
    case GAR_ERR_INTERNAL: return "internal error";
    case GAR_ERR_NOMEM: return "out of memory";
    case GAR_ERR_OUTPUT: return "cannot create output";
    case GAR_ERR_IO: return "I/O error";
    case GAR_ERR_CHECKPOINT: return "checkpointed";
    case GAR_ERR_STOPPED: return "stopped by a signal";
    }
    return "unknown status";
}

gar_status gar_error(gar_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, sizeof errmsg, fmt, ap);
    va_end(ap);
    return st;
}

gar_status gar_error_context(gar_status st, const char *fmt, ...)
{
    char prefix[GAR_ERRMSG_MAX];
    char old[GAR_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, errmsg, sizeof old);
    /* Truncating an over-long message is fine: it is for people to read. */
    size_t n = strlen(prefix);
    if (n > sizeof errmsg - 1)
        n = sizeof errmsg - 1;
    memcpy(errmsg, prefix, n);
    errmsg[n] = '\0';
    if (old[0] != '\0' && n + 2 < sizeof errmsg) {
        size_t m = strlen(old);
        if (m > sizeof errmsg - n - 3)
            m = sizeof errmsg - n - 3;
        memcpy(errmsg + n, ": ", 2);
        memcpy(errmsg + n + 2, old, m);
        errmsg[n + 2 + m] = '\0';
    }
    return st;
}

const char *gar_errmsg(void) { return errmsg; }

void gar_error_clear(void) { errmsg[0] = '\0'; }

int gar_size_mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

int gar_size_mul3(size_t a, size_t b, size_t c, size_t *out)
{
    size_t ab;
    return gar_size_mul(a, b, &ab) && gar_size_mul(ab, c, out);
}

static gar_status alloc_impl(void **out, size_t count, size_t elem_size, const char *what, int zero)
{
    size_t bytes;
    *out = NULL;
    if (!gar_size_mul(count, elem_size, &bytes))
        return gar_error(GAR_ERR_NOMEM, "%s: size %zu x %zu bytes overflows", what, count, elem_size);
    if (bytes == 0)
        bytes = 1;
    *out = zero ? calloc(1, bytes) : malloc(bytes);
    if (*out == NULL)
        return gar_error(GAR_ERR_NOMEM, "%s: cannot allocate %.1f MiB", what, bytes / 1048576.0);
    return GAR_OK;
}

gar_status gar_alloc(void **out, size_t count, size_t elem_size, const char *what)
{
    return alloc_impl(out, count, elem_size, what, 0);
}

gar_status gar_calloc(void **out, size_t count, size_t elem_size, const char *what)
{
    return alloc_impl(out, count, elem_size, what, 1);
}
