/* garner: the files every run writes beside its maps: the parameter file's
 * copy, fsc.csv, the parts of summary.json that all commands share; where a
 * setting came from, for messages; the command line a file records. (The
 * check of an output file's path is public: gar_run.h.) */
#ifndef GAR_RUN_FILES_H
#define GAR_RUN_FILES_H

#include <stddef.h>
#include <stdio.h>
#include "gar_fsc.h"
#include "gar_map.h"
#include "gar_params.h"
#include "gar_status.h"

/* Copy a file byte for byte (the parameter file into the output). */
gar_status run_copy_file(const char *from, const char *to);
/* The parameters with every key's effective value (defaults and --set
 * included): what a run used, as a parameter file that reproduces it. */
gar_status run_write_effective_params(const gar_params *p, const char *path);
/* shell, resolution_A, fsc_half_maps[, fsc_reference] */
gar_status run_write_fsc_csv(const char *path, const double *fsc, const double *fsc_ref, size_t n, size_t box,
                             double pixel);
void run_json_string(FILE *f, const char *s);
/* v in printf format fmt, or null where it is not finite (JSON has no NaN). */
void run_json_number(FILE *f, double v, const char *fmt);
/* "parameters": every schema key with its effective value, typed. */
void run_json_parameters(FILE *f, const gar_params *p);
/* "fingerprint": the run's fingerprint (run_fprint.h), one string a line,
 * followed by a comma; nothing when fp is NULL. */
void run_json_fingerprint(FILE *f, const char *fp);
/* A map given by [section] key (a reference, an initial map) is fit to use
 * with particles of box x box images of pixel_A Å: box³ voxels, every voxel
 * finite (a NaN voxel makes every FSC shell against it 0), and its pixel
 * size, where its header gives one, within GAR_MAP_PIXEL_TOLERANCE (0.5 %)
 * of the particles'. A header without one (0) is taken to be on the
 * particles' grid, with a warning in the log. GAR_ERR_DATA naming the key
 * and the file. */
gar_status run_check_map_values(const gar_params *p, const char *section, const char *key, const char *path,
                                const gar_map *map, size_t box, double pixel_A);
/* An FSC's resolution at a threshold as gar_fsc_find_resolution found it,
 * in words for the log: "FSC 0.5 at 7.25 Å", or what happened where the
 * FSC does not cross the threshold. Returns buf. */
const char *run_resolution_words(double value, gar_fsc_crossing c, double threshold, char *buf, size_t len);
/* The same in summary.json: "KEY": the resolution in Å; where the FSC does
 * not cross the threshold also "NOTE_KEY": the words above, and KEY is null
 * when the FSC is below it from the first shell (FORMAT.md, summary.json). */
void run_json_resolution(FILE *f, const char *key, const char *note_key, double value, gar_fsc_crossing c,
                         double threshold);
/* The pixel size two maps (files name_a, name_b) are measured in, into
 * *out: angpix where given (> 0; logged as replacing the headers'); else the
 * headers' mean when both give one and they agree within
 * GAR_MAP_PIXEL_TOLERANCE; 0 (with a warning) when a header gives none. A
 * resolution on one map's scale is wrong for the other when they differ,
 * and an FSC between maps of different sampling compares different
 * frequencies shell by shell, so disagreeing headers are GAR_ERR_DATA
 * naming both files and sizes rather than one of them believed. */
gar_status run_maps_pixel(const char *name_a, const gar_map *a, const char *name_b, const gar_map *b, double angpix,
                          double *out);
/* A value's origin for messages: "run.ini:7: [reconstruct] symmetry". */
void run_where(const gar_params *p, const char *section, const char *key, char *buf, size_t len);
/* The command line as one string, "garner ARGV[0] ARGV[1] ...", which an
 * output file records as its provenance. NULL when out of memory; caller
 * frees. */
char *run_provenance(int argc, char *const *argv);

#endif
