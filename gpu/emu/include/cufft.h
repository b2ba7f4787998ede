/* garner: <cufft.h> for the CPU emulation of CUDA (test infrastructure; see
 * gpu/emu/gar_cuda_emu.h, which provides all three CUDA headers gpu/ uses). */
#include "../gar_cuda_emu.h"
