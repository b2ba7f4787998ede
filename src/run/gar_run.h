/* garner: the run layer, as the command line sees it.
 *
 * The command line (src/cli) parses argv and prints; this layer
 * orchestrates: MPI start-up, the parameter file, the shards, the files.
 * It is the only layer that uses mpi/ and hdf5io/ together. The core (src/
 * maths, gpu/, mpi/, hdf5io/) knows nothing of it. */
#ifndef GAR_RUN_H
#define GAR_RUN_H

#include <stddef.h>
#include "gar_params.h"
#include "gar_status.h"

/* The commands that run under MPI (one process, or mpiexec/srun). */
typedef enum gar_run_command {
    GAR_RUN_RECONSTRUCT,   /* particles with known poses into maps */
    GAR_RUN_REFINE,        /* gold-standard refinement */
    GAR_RUN_TUNE           /* time the GPU gather variants */
} gar_run_command;

typedef struct gar_run_request {
    gar_run_command command;
    const char *params_path;       /* the parameter file */
    const char *const *sets;       /* "section.key=value" overrides, in order */
    size_t n_sets;
    int resume;                    /* reconstruct --resume, refine --continue */
} gar_run_request;

/* Start MPI (when not started), log the ranks and where they run, refuse
 * `srun --mpi=none`, load the parameter file with its overrides, run the
 * command, stop MPI. Every rank returns the same status; *report is set on
 * the rank that should report a failure (rank 0), cleared on the others.
 * GAR_ERR_CHECKPOINT: stopped by a signal with its work kept (exit 75);
 * gar_errmsg() says how to go on. */
gar_status gar_run_parallel(const gar_run_request *req, int *report);

/* The libraries this build uses, for --version: one line each, "  MPI:  ",
 * "  CUDA: ", "  HDF5: ", "  FFTW: " and the library's own description,
 * each ending in a newline (about 1 KiB at most; cut to fit `len`). */
void gar_run_describe_libraries(char *buf, size_t len);

/* The commands, once MPI is up and the parameters loaded (gar_run_parallel
 * calls them; tests and programs may too). params_path may be NULL (no copy
 * of the parameter file is written then). */
gar_status gar_run_reconstruct(gar_params *p, const char *params_path, int resume, int rank, int size);
gar_status gar_run_refine(gar_params *p, const char *params_path, int resume, int rank, int size);
gar_status gar_run_tune(gar_params *p, int rank, int size);

/* An output file may be created at `path` (named by option `opt` in the
 * messages): its folder exists and is writable, it is not a directory, and
 * it does not exist unless `overwrite`. Usage errors (64) for the name,
 * output errors (73) for the folder. */
/* The process's exit status rc, returned; where HDF5 could not close a file
 * (disk full, ulimit -f: the command has reported it), the process ends
 * here with _exit(rc), since HDF5's exit handler would crash on that file. */
int gar_run_exit(int rc);

gar_status gar_run_check_output_file(const char *opt, const char *path, int overwrite);

#endif
