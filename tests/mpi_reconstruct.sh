#!/bin/sh
# garner reconstruct under mpiexec: the same map from P = 1, 2, 3 and 4 ranks
# (relative L2 below 1e-6); at P = 3 and 4 a repeated run makes the same maps
# bit for bit however the shards were split between the workers; every rank's
# node-local rank in the log; a validation error reported once, by rank 0.
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
[ -n "${MPIEXEC:-}" ] && command -v "$MPIEXEC" >/dev/null 2>&1 || { echo "no mpiexec: skipped"; exit 77; }
d=$(scratch mpi-reconstruct)
cmp="$GAR_BUILDDIR/tests/compare_maps"
expect 0 "" -- "$GARNER" import --star "$GAR_TEST_DATA/relion-sim/particles.star" --out "$d/relion.h5"
printf '[input]\nstacks = relion.h5\n[output]\ndir = out1\n[reconstruct]\nthreads = 1\nbatch = 32\n[mpi]\nshard_size = 40\nreduce_chunk_mb = 1\n' > "$d/run.ini"
expect 0 "resolution" -- "$GARNER" reconstruct "$d/run.ini"
for P in 2 3 4; do
    "$MPIEXEC" -n $P "$GARNER" reconstruct "$d/run.ini" --set output.dir="$d/out$P" > "$d/out$P.log" 2>&1
    check "P = $P: exit 0" -- test $? -eq 0
    check "P = $P: map agrees with P = 1" -- "$cmp" "$d/out1/map.mrc" "$d/out$P/map.mrc" 1e-6
    check "P = $P: half map 1 agrees with P = 1" -- "$cmp" "$d/out1/half1.mrc" "$d/out$P/half1.mrc" 1e-6
    check "P = $P: 400 particles counted" -- grep -q '"particles_used": 400' "$d/out$P/summary.json"
done
check "P = 4: the log names each rank's node-local rank and GPUs" -- \
    grep -qE "rank 3 on .+: node-local rank 3 of 4, CUDA_VISIBLE_DEVICES=unset" "$d/out4.log"

# Repeatability. Rank 0 hands each shard to whichever worker asks first, so
# the split of the shards between the workers, and with float sums the last
# bits of the map, change from run to run. At P = 3 and 4 the run above is
# repeated with the work split differently on purpose: mpiexec's per-rank
# -env makes worker 1 pause 1 s after each of its shards
# (GARNER_TEST_SHARD_DELAY), so it takes one or two and the other workers the
# rest. With [mpi] reproducible = yes, the default, the maps must not differ
# in a single bit. (Float sums fail this: run it with garner before exact sums.)
slowed() { # P OUT [--set ...]: P ranks, worker 1 slowed, into $d/OUT (log $d/OUT.log)
    P=$1 out=$2
    shift 2
    set -- reconstruct "$d/run.ini" --set output.dir="$d/$out" "$@"
    "$MPIEXEC" -n 1 "$GARNER" "$@" : -n 1 -env GARNER_TEST_SHARD_DELAY 1 "$GARNER" "$@" \
        : -n $((P - 2)) "$GARNER" "$@" > "$d/$out.log" 2>&1
}
spread() { sed -n 's/.*shards per worker (ranks 1 to [0-9]*): //p' "$d/$1.log"; }
for P in 3 4; do
    check "P = $P, worker 1 slowed: exit 0" -- slowed $P slow$P
    echo "P = $P: shards per worker $(spread out$P) in the first run, $(spread slow$P) in the second"
    check "P = $P: the two runs split the shards differently" -- test "$(spread out$P)" != "$(spread slow$P)"
    for f in map half1 half2; do
        check "P = $P, repeated: $f.mrc bitwise identical (cmp)" -- cmp "$d/out$P/$f.mrc" "$d/slow$P/$f.mrc"
    done
done
# Every particle's contribution is rounded to the same quanta whatever the
# rank count (src/gar_fixedsum.h): 1, 2 and 3 workers give the same bits.
for f in map half1 half2; do
    check "P = 2, 3 and 4: $f.mrc bitwise identical (cmp)" -- sh -c "cmp '$d/out2/$f.mrc' '$d/out3/$f.mrc' && cmp '$d/out3/$f.mrc' '$d/out4/$f.mrc'"
done
check "P = 3: the quanta logged" -- grep -q "exact sums in fixed point: quanta 2^-*[0-9]* (data), 2^-*[0-9]* (weights), sized from [0-9]* sampled particles" "$d/out3.log"
# reproducible = no: float sums, no promise of identical bits (the two runs
# are only compared for the log), the map still within 1e-6 of P = 1.
check "P = 3, reproducible = no: exit 0" -- sh -c "'$MPIEXEC' -n 3 '$GARNER' reconstruct '$d/run.ini' \
    --set output.dir='$d/float3' --set mpi.reproducible=no > '$d/float3.log' 2>&1"
check "P = 3, reproducible = no, worker 1 slowed: exit 0" -- slowed 3 floatslow3 --set mpi.reproducible=no
check "P = 3, reproducible = no: map agrees with P = 1" -- "$cmp" "$d/out1/map.mrc" "$d/float3/map.mrc" 1e-6
echo "P = 3, reproducible = no: shards per worker $(spread float3), then $(spread floatslow3);" \
    "map.mrc: $(cmp "$d/float3/map.mrc" "$d/floatslow3/map.mrc" 2>&1 || true)"

# A bad key is found by every rank; the message is printed once.
printf '[input]\nstacks = relion.h5\n[output]\ndir = outbad\n[reconstruct]\nsymmetry = X5\n' > "$d/bad.ini"
out=$("$MPIEXEC" -n 3 "$GARNER" reconstruct "$d/bad.ini" 2>&1)
rc=$?
check "bad input under 3 ranks: non-zero exit" -- test "$rc" -ne 0
check "bad input under 3 ranks: one line" -- test "$(printf '%s\n' "$out" | grep -c "unknown symmetry 'X5'")" -eq 1
check "bad input under 3 ranks: no output folder" -- sh -c "! ls '$d' | grep -q outbad"

# Exact sums are sized from a sample of the particles (the first 8 of up to
# 32 stacks spread over the inputs): with 33 stacks every other one is
# sampled, so the second, 10^5 times as bright as the rest (raw counts
# among normalised images, read with [input] normalize = no: normalised,
# every image has background σ 1), is not. Its particles are refused before
# they are inserted, naming the file and [mpi] reproducible = no; no output.
stacks=""
for k in $(seq 0 32); do
    if [ "$k" -eq 1 ]; then kind=bright; else kind=good; fi
    "$GAR_BUILDDIR/tests/make_test_stack" $kind "$d/s$k.h5" || exit 99
    stacks="$stacks\n    s$k.h5"
done
printf "[input]\nnormalize = no\nstacks =$stacks\n[output]\ndir = outbright\n[reconstruct]\nthreads = 1\n" > "$d/bright.ini"
out=$("$MPIEXEC" -n 3 "$GARNER" reconstruct "$d/bright.ini" 2>&1)
rc=$?
printf '%s\n' "$out" | grep error
check "a stack beyond the exact sums' headroom: exit 65 (got $rc)" -- test "$rc" -eq 65
check "the refusal names the stack, the particles, the headroom and the way out" -- sh -c \
    "printf '%s\n' \"\$1\" | grep -q 's1.h5: particles 0-3: the batch.s particle 0 (from 0): its image is [0-9.e+]* times as strong as the brightest of the particles sampled to size the exact sums, beyond their headroom of 1024 .*set \[mpi\] reproducible = no'" sh "$out"
check "said once" -- test "$(printf '%s\n' "$out" | grep -c 'headroom of 1024')" -eq 1
check "no output folder" -- sh -c "! ls '$d' | grep -q outbright"
check "with reproducible = no the same stacks run" -- sh -c "'$MPIEXEC' -n 3 '$GARNER' reconstruct '$d/bright.ini' \
    --set output.dir='$d/outbright-float' --set mpi.reproducible=no > '$d/bright-float.log' 2>&1"
finish
