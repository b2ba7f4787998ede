#!/bin/sh
# cryoSPARC .cs files end to end: a simulated stack exported as a RELION STAR
# file and as a .cs file, each imported back and reconstructed, must give the
# same map. The two routes share the images and differ only in how the
# metadata are written and read (Euler angles vs rotation vectors, origins in
# Å vs shifts in pixels, degrees vs radians, rlnRandomSubset vs split), so a
# wrong sign or transpose in either direction moves the .cs map away from
# the STAR one. What is left is float32 rounding: a .cs stores poses, shifts
# and defocus as float32 (cryoSPARC's types), the STAR file with 6 decimals;
# with 1200 particles that is about 4e-7 of the map (5e-7 of a half map).
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
d=$(scratch cs)
expect 0 "" -- "$GARNER" simulate --map "$GAR_EXAMPLES/tii-64.mrc" --count 1200 --snr 1 --seed 3 \
    --shift-sigma 2 --threads 2 --out "$d/sim.h5"
expect 73 "nofolder does not exist" -- "$GARNER" export --stack "$d/sim.h5" --cs "$d/nofolder/p.cs"
mkdir -p "$d/star" "$d/cs"
expect 0 "" -- "$GARNER" export --stack "$d/sim.h5" --star "$d/star/p.star"
expect 0 "" -- "$GARNER" export --stack "$d/sim.h5" --cs "$d/cs/p.cs"
check "the .cs export wrote its own image stack" -- test -s "$d/cs/p.mrcs"
check "both image stacks are the same bytes" -- cmp -s "$d/star/p.mrcs" "$d/cs/p.mrcs"
expect 0 "" -- "$GARNER" import --star "$d/star/p.star" --out "$d/s.h5"
expect 0 "" -- "$GARNER" import --cs "$d/cs/p.cs" --out "$d/c.h5"
for k in s c; do
    printf '[input]\nstacks = %s.h5\n[output]\ndir = out-%s\n[reconstruct]\nctf = yes\n' "$k" "$k" > "$d/$k.ini"
    expect 0 "" -- "$GARNER" reconstruct "$d/$k.ini"
done
for m in map half1 half2; do
    check ".cs and STAR give the same $m (relative L2 < 1e-6)" -- \
        "$GAR_BUILDDIR/tests/compare_maps" "$d/out-s/$m.mrc" "$d/out-c/$m.mrc" 1e-6
done
# Poses, origins and half sets of the .cs import against the simulation's
# truth, directly.
check "the .cs import's poses are the true ones" -- \
    "$GAR_BUILDDIR/tests/compare_poses" "$d/sim.h5" "$d/c.h5" C1 1.0 0.001 0.001

# Both files from one export share one image stack when their stems agree.
expect 0 "" -- "$GARNER" export --stack "$d/sim.h5" --star "$d/both.star" --cs "$d/both.cs"
check "one stack for both" -- sh -c "test -s '$d/both.mrcs' && test -s '$d/both.cs' && test -s '$d/both.star'"

# The command line: one of --star or --cs; the project folder.
expect 64 "one of --star or --cs" -- "$GARNER" import --star "$d/star/p.star" --cs "$d/cs/p.cs" --out "$d/x.h5"
expect 66 "image file 'p.mrcs' not found in $d/" -- "$GARNER" import --star "$d/star/p.star" --project-dir "$d" --out "$d/x.h5"
expect 64 "ending in .cs" -- "$GARNER" export --stack "$d/sim.h5" --cs "$d/p.npy"
expect 66 "nothing.cs" -- "$GARNER" import --cs "$d/nothing.cs" --out "$d/x.h5"
expect 66 "in none of the folders tried: $d/empty (--project-dir)" -- \
    "$GARNER" import --cs "$d/cs/p.cs" --project-dir "$d/empty" --out "$d/x.h5"
check "a refused import leaves no stack" -- test ! -e "$d/x.h5"
finish
