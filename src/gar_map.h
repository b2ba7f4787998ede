/* garner: a 3D map (or 2D image stack) in memory. The type and its calls
 * are public: <garner/map.h> (src/include/garner/map.h). */
#ifndef GAR_MAP_H
#define GAR_MAP_H

#include <garner/map.h>
#include "gar_status.h"

#endif
