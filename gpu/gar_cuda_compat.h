/* garner: the three constructs of the .cu files that are not C++ (private to
 * gpu/), behind macros so that the same source compiles under nvcc and, for
 * the tests, as C++ against the CPU emulation of gpu/emu/ (GAR_CUDA_EMU; see
 * gpu/emu/gar_cuda_emu.h, which defines them there):
 *
 *   GAR_LAUNCH(kernel, grid, block, smem, stream, args...)
 *       kernel<<<grid, block, smem, stream>>>(args...); a template kernel's
 *       name goes in parentheses: GAR_LAUNCH((k<1, 2>), ...)
 *   GAR_SHARED(type, name, dims)     __shared__ type name dims;  (dims: [N])
 *   GAR_SHARED_DYNAMIC(type, name)   extern __shared__ type name[];
 *
 * Every launch and every shared-memory declaration in gpu/ goes through
 * them. */
#ifndef GAR_CUDA_COMPAT_H
#define GAR_CUDA_COMPAT_H

#include <cuda_runtime.h>

#ifndef GAR_CUDA_EMU
#define GAR_LAUNCH(kernel, grid, block, smem, stream, ...) kernel<<<grid, block, smem, stream>>>(__VA_ARGS__)
#define GAR_SHARED(type, name, dims) __shared__ type name dims
#define GAR_SHARED_DYNAMIC(type, name) extern __shared__ type name[]
#endif

#endif
