#!/bin/sh
# garner reconstruct under mpiexec: the same map from P = 1, 2, 3 and 4 ranks
# (relative L2 below 1e-6), and a validation error reported once, by rank 0.
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
[ -n "${MPIEXEC:-}" ] && command -v "$MPIEXEC" >/dev/null 2>&1 || { echo "no mpiexec: skipped"; exit 77; }
d=$(scratch mpi-reconstruct)
cmp="$GAR_BUILDDIR/tests/compare_maps"
expect 0 "" -- "$GARNER" import --star "$GAR_TEST_DATA/relion-sim/particles.star" --out "$d/relion.h5"
printf '[input]\nstacks = relion.h5\n[output]\ndir = out1\n[reconstruct]\nthreads = 1\nbatch = 32\n[mpi]\nshard_size = 40\nreduce_chunk_mb = 1\n' > "$d/run.ini"
expect 0 "resolution" -- "$GARNER" reconstruct "$d/run.ini"
for P in 2 3 4; do
    expect 0 "resolution" -- "$MPIEXEC" -n $P "$GARNER" reconstruct "$d/run.ini" --set output.dir="$d/out$P"
    check "P = $P: map agrees with P = 1" -- "$cmp" "$d/out1/map.mrc" "$d/out$P/map.mrc" 1e-6
    check "P = $P: half map 1 agrees with P = 1" -- "$cmp" "$d/out1/half1.mrc" "$d/out$P/half1.mrc" 1e-6
    check "P = $P: 400 particles counted" -- grep -q '"particles_used": 400' "$d/out$P/summary.json"
done
# A bad key is found by every rank; the message is printed once.
printf '[input]\nstacks = relion.h5\n[output]\ndir = outbad\n[reconstruct]\nsymmetry = X5\n' > "$d/bad.ini"
out=$("$MPIEXEC" -n 3 "$GARNER" reconstruct "$d/bad.ini" 2>&1)
rc=$?
check "bad input under 3 ranks: non-zero exit" -- test "$rc" -ne 0
check "bad input under 3 ranks: one line" -- test "$(printf '%s\n' "$out" | grep -c "unknown symmetry 'X5'")" -eq 1
check "bad input under 3 ranks: no output folder" -- sh -c "! ls '$d' | grep -q outbad"
finish
