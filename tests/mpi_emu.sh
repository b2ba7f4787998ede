#!/bin/sh
# The GPU path of garner reconstruct on the emulated device (tests/garner_emu,
# gpu/emu/): one rank ([gpu] devices = 0) and three ranks ([gpu] devices =
# emulated: two workers, each its emulated GPU) give the CPU's map to a
# relative L2 of 1e-5, and the log says the GPU inserted. garner itself
# refuses devices = emulated in one line.
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
[ -n "${MPIEXEC:-}" ] && command -v "$MPIEXEC" >/dev/null 2>&1 || { echo "no mpiexec: skipped"; exit 77; }
emu="$GAR_BUILDDIR/tests/garner_emu"
cmp="$GAR_BUILDDIR/tests/compare_maps"
d=$(scratch mpi-emu)
expect 0 "" -- "$GARNER" import --star "$GAR_TEST_DATA/relion-sim/particles.star" --out "$d/relion.h5"
printf '[input]\nstacks = relion.h5\n[output]\ndir = cpu\n[reconstruct]\nthreads = 1\nbatch = 32\n[gpu]\ndevices = none\n[mpi]\nshard_size = 100\n' \
    > "$d/run.ini"
# The CPU reference with the scalar gather: the blob table the GPU uses too.
GARNER_SCALAR_GATHER=1
export GARNER_SCALAR_GATHER
expect 0 "resolution" -- "$GARNER" reconstruct "$d/run.ini" --set output.dir="$d/cpu_scalar"
check "1 rank, emulated GPU: exit 0" -- sh -c "'$emu' reconstruct '$d/run.ini' --set output.dir='$d/gpu1' \
    --set gpu.devices=0 --set gpu.tuning=off > '$d/gpu1.log' 2>&1"
check "1 rank: the emulated GPU inserted" -- grep -q "garner CUDA emulation" "$d/gpu1.log"
check "1 rank: the CPU's map to 1e-5" -- "$cmp" "$d/cpu_scalar/map.mrc" "$d/gpu1/map.mrc" 1e-5
check "3 ranks, emulated GPUs: exit 0" -- sh -c "'$MPIEXEC' -n 3 '$emu' reconstruct '$d/run.ini' \
    --set output.dir='$d/gpu3' --set gpu.devices=emulated --set gpu.tuning=off > '$d/gpu3.log' 2>&1"
check "3 ranks: the CPU's map to 1e-5" -- "$cmp" "$d/cpu_scalar/map.mrc" "$d/gpu3/map.mrc" 1e-5
check "3 ranks: 400 particles counted" -- grep -q '"particles_used": 400' "$d/gpu3/summary.json"
check "3 ranks: both workers inserted on their emulated GPU" -- grep -q '"gpu_inserters": 2' "$d/gpu3/summary.json"
check "3 ranks: the summary records devices = emulated" -- grep -q '"devices": "emulated"' "$d/gpu3/summary.json"
# garner (not the emulation build): a usage error (64) on one line naming the key.
expect 64 "[gpu] devices" -- "$GARNER" reconstruct "$d/run.ini" --set output.dir="$d/refused" --set gpu.devices=emulated
check "garner: devices = emulated refused in one line" -- sh -c "'$GARNER' reconstruct '$d/run.ini' \
    --set output.dir='$d/refused' --set gpu.devices=emulated 2>&1 >/dev/null | wc -l | grep -qx 1"
check "garner: nothing written for a refused run" -- test ! -e "$d/refused"
finish
