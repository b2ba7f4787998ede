/* garner: GPU entry points, callable from C. No CUDA types cross this header:
 * src/ never includes CUDA headers. Built from gar_gpu_cuda.cu by nvcc when
 * configure finds CUDA, otherwise from gar_gpu_stub.c, whose functions return
 * GAR_ERR_NOT_BUILT ("built without CUDA"). */
#ifndef GAR_GPU_H
#define GAR_GPU_H

#include <stddef.h>
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if this build has the CUDA backend. */
int gar_gpu_built(void);
/* Number of usable devices. No driver or no device: GAR_ERR_NO_DEVICE with a
 * message; built without CUDA: GAR_ERR_NOT_BUILT. */
gar_status gar_gpu_device_count(int *count);
/* One line describing the CUDA runtime and driver this build uses
 * ("CUDA runtime 13.0, driver 12.8, archs 80,90" or "built without CUDA"). */
void gar_gpu_describe(char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
