/* Shared by every fuzz target (see fuzz.h). */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>

#include "gar_status.h"

void gar_fuzz_fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz invariant broken: %s: %s\n", what, detail ? detail : "");
    abort();
}

void gar_fuzz_note(const char *target, int status)
{
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("GAR_FUZZ_VERBOSE") != NULL;
    if (verbose)
        fprintf(stderr, "%s: %s%s%s\n", target, status == 0 ? "accepted" : "refused",
                status == 0 ? "" : ": ", status == 0 ? "" : gar_errmsg());
}
