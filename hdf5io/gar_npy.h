/* garner: NumPy .npy files holding a 1-D structured array (a table of named
 * columns), the container of cryoSPARC's .cs files.
 *
 * Strict on what it reads: format versions 1.0, 2.0 and 3.0, a header dict
 * with exactly 'descr' (a list of (name, type[, shape]) tuples),
 * 'fortran_order': False and 'shape': (n,), little-endian or byte-order-free
 * types, and exactly n records after the header. Columns may be of any
 * plain type (their bytes are kept, so a table with columns garner does not
 * use still reads), but only integers ('u'/'i' of 1-8 bytes, '|b1'), floats
 * ('<f4', '<f8') and strings ('|S<n>'; '<U<n>' of ASCII text) convert to
 * numbers or text. An object column ('|O') is refused: numpy.save then
 * writes a Python pickle, not records. Big-endian types ('>f4') are
 * refused. Every refusal names the file and the column or header key.
 *
 * The whole table is held in memory (rows x record bytes). */
#ifndef GAR_NPY_H
#define GAR_NPY_H

#include <stddef.h>
#include <stdint.h>
#include "gar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a column holds, as far as garner converts it. */
typedef enum gar_npy_kind {
    GAR_NPY_UINT,    /* 'u', 1/2/4/8 bytes, and 'b1' (bool) */
    GAR_NPY_INT,     /* 'i', 1/2/4/8 bytes */
    GAR_NPY_FLOAT,   /* 'f', 4 or 8 bytes */
    GAR_NPY_BYTES,   /* 'S<n>': n bytes, NUL-padded */
    GAR_NPY_UNICODE, /* 'U<n>': n UTF-32 code units (read as ASCII) */
    GAR_NPY_OTHER    /* anything else plain ('V', 'c', 'f2', 'M', ...): bytes kept, not converted */
} gar_npy_kind;

#define GAR_NPY_NAME 256 /* longest column name + 1 */

typedef struct gar_npy_column {
    char name[GAR_NPY_NAME];
    char type[16];   /* as in the header, e.g. "<f4", "|S31" */
    gar_npy_kind kind;
    size_t item;     /* bytes of one element */
    size_t count;    /* elements per row: the product of the shape (1 without one) */
    size_t shape[4]; /* the sub-array shape; ndim entries */
    int ndim;        /* 0: a scalar per row */
    size_t offset;   /* byte offset within a record */
} gar_npy_column;

/* A table column to create: name, type ("<u8", "<u4", "<i4", "<f4", "<f8",
 * "|S<n>") and elements per row (1: a scalar; k > 1: shape (k,)). */
typedef struct gar_npy_spec {
    const char *name;
    const char *type;
    size_t count;
} gar_npy_spec;

typedef struct gar_npy gar_npy;

/* Read a whole .npy file. GAR_ERR_NOINPUT when it cannot be opened,
 * GAR_ERR_DATA for anything not a 1-D structured array by the rules above. */
gar_status gar_npy_read(const char *path, gar_npy **out);
/* The same rules on `len` bytes in memory (copied); `name` stands for the
 * file in messages. */
gar_status gar_npy_read_buffer(const void *buf, size_t len, const char *name, gar_npy **out);

/* A new table of `rows` zeroed records (every string empty). */
gar_status gar_npy_create(const gar_npy_spec *specs, size_t n_specs, size_t rows, gar_npy **out);
/* Write the table to `path` (created or replaced; the caller chooses a
 * temporary name when it wants atomicity). Version 1.0, or 2.0 when the
 * header exceeds 64 KiB, as numpy.save writes them. */
gar_status gar_npy_write(const gar_npy *t, const char *path);
void gar_npy_destroy(gar_npy **t); /* NULL-safe */

const char *gar_npy_path(const gar_npy *t);
size_t gar_npy_rows(const gar_npy *t);
size_t gar_npy_n_columns(const gar_npy *t);
const gar_npy_column *gar_npy_column_at(const gar_npy *t, size_t i);
/* The column named `name`, or -1. */
int gar_npy_find(const gar_npy *t, const char *name);

/* Element `elem` of `row` in column `col` as a number: integer and float
 * columns (GAR_ERR_DATA naming the file and column for a string or other
 * column). Integers above 2^53 lose digits in the double; use _get_u64. */
gar_status gar_npy_get_double(const gar_npy *t, int col, size_t row, size_t elem, double *out);
gar_status gar_npy_get_u64(const gar_npy *t, int col, size_t row, size_t elem, uint64_t *out);
/* A string column's value for `row`, NUL-terminated into buf (cap bytes);
 * GAR_ERR_DATA when it does not fit, is not a string column, or (U) holds
 * non-ASCII text. */
gar_status gar_npy_get_string(const gar_npy *t, int col, size_t row, char *buf, size_t cap);

/* Setters for a created table: the value converted to the column's type
 * (integers must be whole and in range; strings must fit the width). */
gar_status gar_npy_set_double(gar_npy *t, int col, size_t row, size_t elem, double v);
gar_status gar_npy_set_u64(gar_npy *t, int col, size_t row, size_t elem, uint64_t v);
gar_status gar_npy_set_string(gar_npy *t, int col, size_t row, const char *s);

#ifdef __cplusplus
}
#endif
#endif
