/* garner: what the tests see of the CUDA emulation (gpu/emu/gar_cuda_emu.h)
 * beyond the CUDA API: counters, and faults to inject. C and C++. */
#ifndef GAR_CUDA_EMU_CONTROL_H
#define GAR_CUDA_EMU_CONTROL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Images transformed by cufftExecR2C since the process started. */
long gar_cuda_emu_fft_images(void);
/* Kernel launches called since the process started (refused ones too). */
long gar_cuda_emu_launches(void);
/* The n-th kernel launch from now (1: the next) fails as a kernel that
 * touched an illegal address does on a GPU: cudaErrorIllegalAddress, sticky
 * (every later call of the device's context returns it). 0 cancels. */
void gar_cuda_emu_fail_launch(long n);
/* A point in gpu/gar_gpu_tuning.cu's locked sections, where a test widens
 * a race window. With GAR_CUDA_EMU_PROBE_DIR set (else nothing happens):
 * "tuning-begin" creates DIR/tuning-in-progress, appending a line to
 * DIR/overlaps if another process's or thread's is there, then pauses;
 * "tuning-end" removes it; "cache-read" (the old cache read, the new one
 * not yet in place) pauses. The pause is GAR_CUDA_EMU_PROBE_MS (200 ms). */
void gar_cuda_emu_probe(const char *point);
/* Clear a sticky error (a fresh context, as a new process would have). */
void gar_cuda_emu_reset(void);

#ifdef __cplusplus
}
#endif
#endif
