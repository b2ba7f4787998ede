/* garner: STAR files (RELION 3.1).
 *
 * The reader and the tables are public: <garner/star.h>
 * (src/include/garner/star.h), where the syntax accepted is described. This
 * header adds the parser on text in memory (the fuzz targets and tests). */
#ifndef GAR_STAR_H
#define GAR_STAR_H

#include <stddef.h>
#include <garner/star.h>
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The parser of gar_star_read on text in memory (`len` bytes, NUL bytes
 * refused as in a file); `name` stands for the file in messages and image
 * names resolve against its folder. gar_star_read reads the file and parses
 * it with this. */
gar_status gar_star_parse_buffer(const char *text, size_t len, const char *name, gar_star **out);

#ifdef __cplusplus
}
#endif
#endif
