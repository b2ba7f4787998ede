#!/bin/sh
# The MPI layer's tests at 1 and 3 ranks (mpiexec -n 3 on the 2 cores here).
# Exit 77 (skip) where no MPICH launcher was found by configure.
[ -n "${MPIEXEC:-}" ] && command -v "$MPIEXEC" >/dev/null 2>&1 || { echo "no mpiexec: skipped"; exit 77; }
prog="$GAR_BUILDDIR/tests/mpi_sched_reduce"
"$MPIEXEC" -n 1 "$prog" || exit 1
"$MPIEXEC" -n 3 "$prog"
