/* A program using garner as a library: a gold-standard refinement driven
 * through <garner/refine.h>, as `garner refine` drives it.
 *
 *   refine PARAMS.ini [section.key=value ...]
 *
 * The parameter file is the one `garner refine` reads (docs/PARAMETERS.md);
 * each further argument overrides a key. The refinement runs in this one
 * process (rank 0 of 1); MPI must be initialised around it, so build with
 * MPICH's include folder as well:
 *
 *   cc refine.c $(pkg-config --cflags --libs --static garner) -I/usr/include/x86_64-linux-gnu/mpich
 *
 * (or with mpicc). The outputs are `garner refine`'s, but for params.ini:
 * this program hands the refinement a parameter set, not a file to copy.
 * `make installcheck` builds and runs it. */
#include <mpi.h>
#include <stdio.h>

#include <garner/params.h>
#include <garner/refine.h>
#include <garner/status.h>

int main(int argc, char **argv)
{
    gar_params *p = NULL;
    gar_refine *r = NULL;
    gar_status st;
    if (argc < 2) {
        fprintf(stderr, "usage: %s PARAMS.ini [section.key=value ...]\n", argv[0]);
        return 64;
    }
    MPI_Init(&argc, &argv);
    st = gar_params_load(argv[1], &p);
    for (int i = 2; i < argc && st == GAR_OK; i++)
        st = gar_params_set(p, argv[i]);
    if (st == GAR_OK)
        st = gar_refine_create(p, NULL, 0, 0, 1, &r);
    while (st == GAR_OK && !gar_refine_converged(r))
        st = gar_refine_iterate(r);
    if (st == GAR_OK)
        st = gar_refine_finish(r);
    if (st != GAR_OK)
        fprintf(stderr, "refine: %s\n", gar_errmsg());
    gar_refine_destroy(&r);
    gar_params_destroy(&p);
    MPI_Finalize();
    return st == GAR_OK ? 0 : gar_status_exit_code(st);
}
