/* garner public API: what is known about each particle (pose, shift, CTF,
 * half set) and each optics group, in RELION 3.1's units. The stacks
 * (<garner/stack.h>) read and write them; the reconstruction
 * (<garner/recon.h>) takes them. */
#ifndef GARNER_PARTICLE_H
#define GARNER_PARTICLE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Optional column groups. */
enum {
    GAR_COL_POSE = 1u << 0,        /* rot_deg, tilt_deg, psi_deg */
    GAR_COL_ORIGIN = 1u << 1,      /* origin_x_A, origin_y_A */
    GAR_COL_CTF = 1u << 2,         /* defocus_u_A, defocus_v_A, defocus_angle_deg */
    GAR_COL_PHASE_SHIFT = 1u << 3  /* phase_shift_deg */
};

typedef struct gar_optics {
    int32_t group;             /* RELION rlnOpticsGroup, >= 1 */
    char name[64];             /* rlnOpticsGroupName */
    double pixel_size_A;       /* rlnImagePixelSize */
    double voltage_kV;         /* rlnVoltage */
    double cs_mm;              /* rlnSphericalAberration */
    double amplitude_contrast; /* rlnAmplitudeContrast */
    int32_t image_size;        /* rlnImageSize */
} gar_optics;

/* One particle's metadata. Fields of absent column groups are 0. */
typedef struct gar_particle {
    double rot_deg, tilt_deg, psi_deg;
    double origin_x_A, origin_y_A;
    double defocus_u_A, defocus_v_A, defocus_angle_deg;
    double phase_shift_deg;
    int32_t half_set;          /* 1 or 2 */
    int32_t optics_group;      /* refers to gar_optics.group */
} gar_particle;

#ifdef __cplusplus
}
#endif
#endif
