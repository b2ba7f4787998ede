/* garner: gpu/gar_cuda_libs.cu compiled as C++ for the CUDA emulation (gar_cuda_emu.h). */
#include "../gar_cuda_libs.cu"
