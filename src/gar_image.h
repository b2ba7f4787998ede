/* garner: image preparation. The whole interface is public:
 * <garner/image.h> (src/include/garner/image.h), so that a program using
 * the library prepares images as garner reconstruct and refine do
 * ([input] normalize). */
#ifndef GAR_IMAGE_H
#define GAR_IMAGE_H

#include <garner/image.h>

#endif
