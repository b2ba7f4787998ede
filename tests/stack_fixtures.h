/* The fixtures of the HDF5 stack tests (tests/check_stack.c: round trips
 * and the writer; tests/check_stack_files.c: bad files): good stacks with
 * known pixels and metadata, and HDF5 surgery that breaks one rule of a
 * good file at a time. Each test program defines stack_tag, the name of
 * its scratch folder (the two run at once under make -j). */
#ifndef GAR_TEST_STACK_FIXTURES_H
#define GAR_TEST_STACK_FIXTURES_H

#include "gar_stack.h"

#include <check.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define TAG stack_tag
#define BOX 8
#define PIX (BOX * BOX)

#define ck_assert_msg_has(fragment)                                                              \
    ck_assert_msg(strstr(gar_errmsg(), (fragment)) != NULL, "message \"%s\" lacks \"%s\"",      \
                  gar_errmsg(), (fragment))

extern const char *const stack_tag;
/* The counts of the three appends of the good stack (12 particles). */
extern const size_t twelve[3];

void make_optics(gar_optics o[2], int32_t box);
float pixel_value(size_t particle, size_t k);
void make_images(float *buf, size_t first, size_t count, size_t box);
gar_particle particle_meta(size_t i);
void make_meta(gar_particle *p, size_t first, size_t count);
void write_stack(const char *path, unsigned columns, const size_t *counts, size_t nappends);
const char *good_stack(const char *name);
void expect_open_error(const char *path, gar_status st, const char *fragment);
void teardown(void);
/* Runs a stack test program's suite with HDF5's own error printing off, then
 * closes the library; the automake exit code. */
int stack_run_suite(Suite *s);
hid_t h5_open_rw(const char *path);
void h5_delete(const char *path, const char *name);
void h5_replace(const char *path, const char *name, hid_t type, int rank,
                const hsize_t *dims);
void h5_write_int(const char *path, const char *name, hsize_t index, int32_t value);
void h5_write_double(const char *path, const char *name, hsize_t index, double value);
void h5_set_extent(const char *path, const char *name, hsize_t len);
void h5_root_int_attr(hid_t f, const char *name, hid_t type, long long value);
void h5_vlen_str_attr(hid_t loc, const char *name, const char *value);
void copy_file(const char *from, const char *to, double fraction);
void check_meta_equal(const gar_particle *got, size_t index, unsigned columns);
void check_images_equal(const float *got, size_t first, size_t count);

#endif
