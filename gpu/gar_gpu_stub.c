/* Built when configure finds no CUDA: every entry point says so. */
#include <stdio.h>

#include "gar_gpu.h"

int gar_gpu_built(void) { return 0; }

gar_status gar_gpu_device_count(int *count)
{
    *count = 0;
    return gar_error(GAR_ERR_NOT_BUILT, "this garner was built without CUDA (configure --with-cuda)");
}

void gar_gpu_describe(char *buf, size_t len) { snprintf(buf, len, "built without CUDA"); }
