#!/bin/sh
# The example job: simulate 1000 particles of the shipped map (an AB5 toxin,
# 64 px at 3 Å/px) with CTF, shifts and noise at SNR 0.5, then reconstruct
# them with their known poses. Ends with the map's path and resolution.
# Run from anywhere; GARNER may name an installed garner, GARNER_DATA the
# folder holding tii-64.mrc and reconstruct.ini, OUT the output folder.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${GARNER:-}" ]; then
    # A built tree has garner beside examples/; an install has it on PATH.
    if [ -f "$here/../garner" ] && [ -x "$here/../garner" ]; then GARNER=$here/../garner; else GARNER=$(command -v garner || echo garner); fi
fi
data=${GARNER_DATA:-$here}
out=${OUT:-$PWD/example-output}
mkdir -p "$out"

"$GARNER" simulate --map "$data/tii-64.mrc" --count 1000 --snr 0.5 --defocus 1.0:2.5 \
    --shift-sigma 3 --seed 7 --out "$out/tii-64-sim.h5" --overwrite
"$GARNER" reconstruct "$data/reconstruct.ini" \
    --set input.stacks="$out/tii-64-sim.h5" \
    --set output.dir="$out/reconstruction" \
    --set reconstruct.reference="$data/tii-64.mrc"
