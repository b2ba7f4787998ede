/* garner: one signal policy for every command (docs/RELIABILITY.md, "Signals").
 *
 * SIGINT, SIGTERM, SIGHUP and SIGUSR1 (Slurm's --signal) ask a run to
 * stop. What "stop" means is the command's policy:
 *
 *   GAR_SIGNALS_CHECKPOINT (reconstruct, refine): the handler only records
 *     the signal; the run stops at its next safe point, keeps what --resume
 *     or --continue needs and exits 75 (requeue).
 *   GAR_SIGNALS_CLEANUP (every other command): nothing is kept. A command
 *     that polls (gar_signals_polled: import, simulate) stops at its next
 *     check (gar_signal_check, called by the stack writer for each batch
 *     and by gar_atomic_commit) and cleans up through its normal error path;
 *     in any other command, or at a second signal, the handler itself
 *     removes every temporary in flight (gar_atomic_remove_all, unlink(2)
 *     only), writes one line and _exits. Both exit 128 + the signal's
 *     number (SIGHUP 129, SIGINT 130, SIGTERM 143), as a shell reports a
 *     process the signal killed.
 *
 * SIGPIPE is ignored: a closed stdout or stderr (`| head -1`) makes the
 * write fail with EPIPE, which logging ignores, instead of killing the run.
 *
 * The handlers must be installed after MPI_Init: UCX (MPICH's transport)
 * installs its own when its library loads and again as MPI starts, SIGHUP
 * among them (UCX_DEBUG_SIGNO, which turns on UCX's debug output). */
#ifndef GAR_SIGNAL_H
#define GAR_SIGNAL_H

#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gar_signal_policy {
    GAR_SIGNALS_CLEANUP = 0,
    GAR_SIGNALS_CHECKPOINT = 1,
} gar_signal_policy;

/* Install the handlers for `policy`, ignore SIGPIPE and unblock the stop
 * signals (a blocked mask is inherited across exec: a launcher that blocks
 * them would otherwise make stopping silently never happen). `tag` starts
 * the line the handler writes ("garner import"); copied. May be called again
 * to change the policy (the parallel commands do, once MPI has started); a
 * signal already received is kept. Not thread-safe: call before threads
 * start. */
void gar_signals_install(const char *tag, gar_signal_policy policy);
/* The command checks gar_signal_check often enough (every batch) that the
 * first signal is left to it; a second one still stops at once. */
void gar_signals_polled(int polled);
/* The first stop signal received, 0 if none. Async-signal-safe. */
int gar_signal_received(void);
/* Under GAR_SIGNALS_CLEANUP, once a stop signal has arrived:
 * GAR_ERR_STOPPED with the message "stopped by SIGTERM; nothing written".
 * Otherwise (no signal, or the checkpoint policy, where the run chooses its
 * own safe point) GAR_OK. */
gar_status gar_signal_check(void);
/* "SIGTERM", "SIGINT", ... ("signal N" for others; static storage). */
const char *gar_signal_name(int sig);

#ifdef __cplusplus
}
#endif
#endif
