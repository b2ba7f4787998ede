/* garner: the library's version (<garner/version.h>). */
#include "config.h"

#include <garner/version.h>

/* The headers a program was compiled with say GAR_VERSION; this says which
 * library it linked. configure writes both from AC_INIT's version. */
const char *gar_version(void) { return PACKAGE_VERSION; }
