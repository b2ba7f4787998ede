/* garner: per-particle and per-optics-group metadata, shared by the formats
 * (hdf5io/) and the maths (src/). The types are public: <garner/particle.h>
 * (src/include/garner/particle.h). */
#ifndef GAR_PARTICLE_H
#define GAR_PARTICLE_H

#include <garner/particle.h>

#endif
