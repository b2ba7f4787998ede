/* garner: gpu/gar_gpu_tuning.cu compiled as C++ for the CUDA emulation (gar_cuda_emu.h). */
#include "../gar_gpu_tuning.cu"
