#!/bin/sh
# Example job: simulate particles from the shipped map, import the RELION
# test stack, and describe both. Run from the top of a built tree (or set
# GARNER to an installed garner and GARNER_DATA to its share/garner folder).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
GARNER=${GARNER:-$top/garner}
map=${GARNER_DATA:-$top/examples}/tii-64.mrc
out=${OUT:-$PWD/example-output}
mkdir -p "$out"

"$GARNER" simulate --map "$map" --count 1000 --snr 0.5 --defocus 1.0:2.5 --shift-sigma 3 \
    --seed 7 --out "$out/tii-64-sim.h5" --overwrite
"$GARNER" info "$out/tii-64-sim.h5"
if [ -f "$top/tests/data/relion-sim/particles.star" ]; then
    "$GARNER" import --star "$top/tests/data/relion-sim/particles.star" \
        --out "$out/relion-sim.h5" --overwrite
    "$GARNER" info "$out/relion-sim.h5"
fi
echo "example: output in $out"
