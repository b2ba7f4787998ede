/* garner: the MPI layer (master/worker sharding and the reduction come here).
 * The only part of garner compiled with MPICH's flags; src/ never includes mpi.h. */
#ifndef GAR_MPI_H
#define GAR_MPI_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The MPI library's own version line (first line of MPI_Get_library_version),
 * callable before MPI_Init. */
void gar_mpi_describe(char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
