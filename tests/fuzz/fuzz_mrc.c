/* Fuzz target: the MRC header validator (gar_mrc_validate_header) and, for
 * headers it accepts, the reading of the data that follows (gar_mrc_read on
 * the same bytes as a file, through a memfd).
 *
 * The input is a whole MRC file. The header is validated against the real
 * size and against claimed sizes up to 2^64 - 1, so the overflow checks are
 * exercised without files of that size. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "gar_map.h"
#include "gar_mrc.h"

static void check_accepted(const gar_mrc_header *h, uint64_t file_size)
{
    /* What an accepted header promises the reader. */
    if (h->nx == 0 || h->ny == 0 || h->nz == 0 || h->bytes_per_voxel == 0)
        gar_fuzz_fail("mrc", "accepted a header with a zero dimension");
    if (h->data_offset < GAR_MRC_HEADER_BYTES || h->data_offset > file_size ||
        h->data_bytes > file_size - h->data_offset)
        gar_fuzz_fail("mrc", "accepted a header whose data lie beyond the file");
    if (!(h->pixel_size >= 0))
        gar_fuzz_fail("mrc", "accepted a negative or NaN pixel size");
}

/* The bytes as a file (a memfd) read by gar_mrc_read: conversion of every
 * mode and byte order, against the header the validator accepted. */
static void read_as_file(const uint8_t *data, size_t size, const gar_mrc_header *h)
{
    char path[64];
    gar_map *map = NULL;
    gar_mrc *mrc = NULL;
    int fd = memfd_create("fuzz-mrc", MFD_CLOEXEC);
    if (fd < 0)
        return;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return;
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (gar_mrc_read(path, &map) == GAR_OK) {
        if (map->nx != h->nx || map->ny != h->ny || map->nz != h->nz)
            gar_fuzz_fail("mrc", "gar_mrc_read disagrees with the validated header");
        gar_map_destroy(&map);
    }
    if (gar_mrc_open(path, &mrc) == GAR_OK) {
        float one[64];
        size_t nz = gar_mrc_nz(mrc);
        if (gar_mrc_nx(mrc) * gar_mrc_ny(mrc) <= 64)
            gar_mrc_read_sections(mrc, nz - 1, 1, one);
        /* Out of range: must be refused, not read. */
        if (gar_mrc_read_sections(mrc, nz, 1, one) == GAR_OK)
            gar_fuzz_fail("mrc", "read a section beyond nz");
        gar_mrc_close(&mrc);
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t claimed[] = {(uint64_t)1 << 32, (uint64_t)1 << 40, UINT64_MAX - 1023,
                                       UINT64_MAX};
    gar_mrc_header h;
    for (size_t i = 0; i < sizeof claimed / sizeof claimed[0]; i++)
        if (gar_mrc_validate_header(data, size, claimed[i], "fuzz.mrc", &h) == GAR_OK)
            check_accepted(&h, claimed[i]);
    gar_status st = gar_mrc_validate_header(data, size, size, "fuzz.mrc", &h);
    gar_fuzz_note("mrc", st);
    if (st == GAR_OK) {
        check_accepted(&h, size);
        read_as_file(data, size, &h);
    }
    return 0;
}
