#include "gar_mpi.h"

#include <mpi.h>
#include <stdio.h>
#include <string.h>

void gar_mpi_describe(char *buf, size_t len)
{
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int n = 0, major = 0, minor = 0;
    MPI_Get_library_version(version, &n);
    MPI_Get_version(&major, &minor);
    version[strcspn(version, "\n")] = '\0';
    snprintf(buf, len, "%s (MPI %d.%d)", version, major, minor);
}
