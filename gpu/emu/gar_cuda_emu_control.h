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
/* Clear a sticky error (a fresh context, as a new process would have). */
void gar_cuda_emu_reset(void);

#ifdef __cplusplus
}
#endif
#endif
