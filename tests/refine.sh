#!/bin/sh
# garner refine on simulated particles of phantoms (CTF, 3 Å shifts, SNR 1),
# starting from the true map low-passed to 20 Å and ignoring the stack's
# poses: the poses found against the truth, the map against the known-pose
# reconstruction, the outputs, --continue after a kill, under MPI the same
# maps and poses from a repeated run, and bad settings.
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
d=$(scratch refine)
cmp_poses="$GAR_BUILDDIR/tests/compare_poses"
json() { sed -n "s/.*\"$2\": \([0-9.]*\).*/\1/p" "$1" | head -n 1; }

# C1 (the issue's acceptance case at 1000 particles, to fit CI's time).
expect 0 "" -- "$GARNER" phantom --symmetry C1 --box 64 --pixel-size 3 --seed 3 --out "$d/c1.mrc"
expect 0 "" -- "$GARNER" simulate --map "$d/c1.mrc" --count 1000 --snr 1 --shift-sigma 3 --seed 4 --out "$d/c1.h5"
# solvent_fsc_below = 12 (the default is 0, off): this set's unmasked
# resolution ends near 10 Å, the value docs/PARAMETERS.md suggests, so 12
# keeps the masked FSC in play from the first iteration on every machine.
printf '[input]\nstacks = c1.h5\n[output]\ndir = c1\n[refine]\ninitial_map = c1.mrc\ninitial_resolution = 20\niterations = 8\nsolvent_fsc_below = 12\n[reconstruct]\nreference = c1.mrc\n' > "$d/c1.ini"
# With MPI where there is a launcher: rank 0 hands out shards, two workers
# search and insert them.
launch="" one=""
if [ -n "${MPIEXEC:-}" ] && command -v "$MPIEXEC" >/dev/null 2>&1; then
    launch="$MPIEXEC -n 3" one="--set reconstruct.threads=1"
fi
expect 0 "resolution" -- $launch "$GARNER" refine "$d/c1.ini" $one
for f in map.mrc half1.mrc half2.mrc fsc.csv fsc.png angdist.png slices.png poses.h5 summary.json params.ini params-effective.ini \
         iter_001/half1.mrc iter_001/poses.h5; do
    check "output $f" -- test -s "$d/c1/$f"
done
# Each iteration records its time in the search (the workers' mean), which
# bench-refine turns into particles per second: positive, within the
# iteration's time.
check "C1: every iteration's search time in summary.json, > 0 and <= the iteration's" -- \
    awk '/"search_seconds"/ { n++; match($0, /"seconds": [0-9.]+/); t = substr($0, RSTART + 11, RLENGTH - 11) + 0;
         match($0, /"search_seconds": [0-9.]+/); s = substr($0, RSTART + 18, RLENGTH - 18) + 0; if (!(s > 0 && s <= t)) bad++ }
         END { exit !(n >= 2 && !bad) }' "$d/c1/summary.json"
# The solvent-corrected FSC (issue 21): each iteration's log line gives the
# masked (corrected) resolution beside the unmasked one, summary.json records
# both, the iterations follow the masked one, and at the end it is finer
# than or equal to the unmasked one.
check "C1: the log gives both resolutions" -- grep -q "FSC 0.143: [0-9.]* Å unmasked, [0-9.]* Å masked (corrected)" "$d/c1/run.log"
unmasked=$(json "$d/c1/summary.json" resolution_A)
masked=$(json "$d/c1/summary.json" resolution_masked_A)
echo "C1: final resolution $unmasked Å unmasked, $masked Å masked (corrected)"
check "C1: masked resolution ($masked Å) recorded, finer than or equal to the unmasked ($unmasked Å)" -- \
    awk -v m="$masked" -v u="$unmasked" 'BEGIN { exit !(m > 0 && m <= u) }'
check "C1: every iteration's resolution_A is its masked one" -- \
    awk '/"resolution_unmasked_A"/ { n++; match($0, /"resolution_A": [0-9.]+/); r = substr($0, RSTART + 16, RLENGTH - 16);
         match($0, /"resolution_masked_A": [0-9.]+/); m = substr($0, RSTART + 23, RLENGTH - 23); if (RLENGTH < 0 || r != m) bad++ }
         END { exit !(n >= 2 && !bad) }' "$d/c1/summary.json"
# The median angular error is below half the final 1.875° step: the poses are
# refined between the grid's points (0.45° measured; 1.03° before that).
check "C1: >= 90 % within 5 degrees, median origin error <= 1 Å, median angle <= 0.8°" -- \
    "$cmp_poses" "$d/c1.h5" "$d/c1/poses.h5" C1 0.9 1.0 0.8
# The known-pose reconstruction of the same particles.
printf '[input]\nstacks = c1.h5\n[output]\ndir = known\n[reconstruct]\nreference = c1.mrc\n' > "$d/known.ini"
expect 0 "resolution" -- "$GARNER" reconstruct "$d/known.ini"
refined=$(json "$d/c1/summary.json" resolution_reference_A)
known=$(json "$d/known/summary.json" resolution_reference_A)
echo "FSC 0.5 against the truth: refined $refined Å, known poses $known Å"
check "C1: FSC 0.5 against truth within 10 % of the known-pose map's" -- \
    awk -v a="$refined" -v b="$known" 'BEGIN { exit !(a > 0 && a <= 1.1 * b) }'

# D7: the search covers one asymmetric unit; errors modulo the group.
expect 0 "" -- "$GARNER" phantom --symmetry D7 --box 64 --pixel-size 3 --seed 5 --out "$d/d7.mrc"
expect 0 "" -- "$GARNER" simulate --map "$d/d7.mrc" --count 600 --snr 1 --shift-sigma 3 --seed 6 --out "$d/d7.h5"
# No contrast scales, no junk and the best poses only: the refinement's map
# is then the plain reconstruction of its poses, which the export test below
# compares.
printf '[input]\nstacks = d7.h5\n[output]\ndir = d7\n[refine]\ninitial_map = d7.mrc\ninitial_resolution = 20\nsymmetry = D7\niterations = 8\ncontrast_scale = no\njunk_sigma = 0\nalternatives = 0\nsolvent_fsc_below = 0\n[reconstruct]\nreference = d7.mrc\n' > "$d/d7.ini"
expect 0 "resolution" -- "$GARNER" refine "$d/d7.ini"
# solvent_fsc_below = 0: the unmasked FSC throughout, as before issue 21: no
# masked figure anywhere, each iteration's resolution its unmasked one.
check "D7, solvent_fsc_below = 0: no masked resolution in the log" -- sh -c "! grep -q 'masked (corrected)' '$d/d7/run.log'"
check "D7, solvent_fsc_below = 0: summary.json's masked resolutions null, each iteration's the unmasked one" -- \
    awk '/"resolution_masked_A": null/ { top++ } /"resolution_unmasked_A"/ { n++; match($0, /"resolution_A": [0-9.]+/);
         r = substr($0, RSTART + 16, RLENGTH - 16); match($0, /"resolution_unmasked_A": [0-9.]+/);
         u = substr($0, RSTART + 25, RLENGTH - 25); if (r != u || $0 !~ /"resolution_masked_A": null/) bad++ }
         END { exit !(n >= 2 && top >= 1 && !bad) }' "$d/d7/summary.json"
check "D7: >= 90 % within 5 degrees modulo D7, median origin error <= 1 Å, median angle <= 0.8°" -- \
    "$cmp_poses" "$d/d7.h5" "$d/d7/poses.h5" D7 0.9 1.0 0.8
printf '[input]\nstacks = d7.h5\n[output]\ndir = d7known\n[reconstruct]\nsymmetry = D7\nreference = d7.mrc\n' > "$d/d7known.ini"
expect 0 "resolution" -- "$GARNER" reconstruct "$d/d7known.ini"
refined=$(json "$d/d7/summary.json" resolution_reference_A)
known=$(json "$d/d7known/summary.json" resolution_reference_A)
echo "D7, FSC 0.5 against the truth: refined $refined Å, known poses $known Å"
check "D7: FSC 0.5 against truth within 10 % of the known-pose map's" -- \
    awk -v a="$refined" -v b="$known" 'BEGIN { exit !(a > 0 && a <= 1.1 * b) }'

# export: a RELION 3.1 STAR file and MRC stack; imported back and
# reconstructed with known poses, the refinement's own map.
expect 0 "wrote" -- "$GARNER" export --stack "$d/d7.h5" --poses "$d/d7/poses.h5" --star "$d/d7exp.star"
check "export: one STAR row per particle" -- test "$(grep -c '@d7exp.mrcs ' "$d/d7exp.star")" -eq 600
check "export: RELION's labels" -- grep -q "_rlnOriginXAngst" "$d/d7exp.star"
expect 64 "exists" -- "$GARNER" export --stack "$d/d7.h5" --poses "$d/d7/poses.h5" --star "$d/d7exp.star"
expect 65 "poses for 1000 particles" -- "$GARNER" export --stack "$d/c1.h5" --poses "$d/d7/poses.h5" --star "$d/bad.star"
check "export: nothing left by the failed export" -- test ! -e "$d/bad.star" -a ! -e "$d/bad.mrcs"
expect 0 "" -- "$GARNER" import --star "$d/d7exp.star" --out "$d/d7exp.h5"
printf '[input]\nstacks = d7exp.h5\n[output]\ndir = d7exp\n[reconstruct]\nsymmetry = D7\n' > "$d/d7exp.ini"
expect 0 "resolution" -- "$GARNER" reconstruct "$d/d7exp.ini"
check "export, import, reconstruct: the refinement's map (1e-4)" -- \
    "$GAR_BUILDDIR/tests/compare_maps" "$d/d7/map.mrc" "$d/d7exp/map.mrc" 1e-4
if command -v relion_reconstruct >/dev/null 2>&1; then
    # RELION reads the export: its map of the exported particles agrees with
    # garner's, mean FSC above 0.99 over the shells where the half maps' FSC
    # is above 0.5 (beyond, noise dominates and the two algorithms weight it
    # differently; the lowest shells hold a few dozen voxels each).
    (cd "$d" && relion_reconstruct --i d7exp.star --o relion-d7.mrc --ctf --sym D7 > relion-d7.log 2>&1)
    "$GARNER" fsc --threshold 0.5 --mask-outer "$d/relion-d7.mrc" "$d/d7/map.mrc" > "$d/relion-d7.fsc" 2>&1
    last=$(awk -F, 'NR > 1 && $3 >= 0.5 {s = $1} NR > 1 && $3 < 0.5 {exit} END {print s}' "$d/d7/fsc.csv")
    stats=$(awk -F, -v last="$last" '$1 ~ /^[0-9]+$/ && $1 >= 1 && $1 <= last {n++; t += $3; if (m == "" || $3 < m) m = $3}
        END {printf "%.4f %.4f", t / n, m}' "$d/relion-d7.fsc")
    echo "RELION's map of the export against garner's over shells 1-$last: mean and lowest FSC $stats"
    check "RELION reads the export: mean FSC > 0.99 with garner's map where the half maps agree" -- \
        awk -v w="${stats%% *}" 'BEGIN { exit !(w > 0.99) }'
else
    echo "relion_reconstruct not installed: the RELION check of the export is skipped"
fi

# --continue: a run killed after its second iteration, continued (and stopped
# by a signal, and continued again), ends with the poses of the uninterrupted
# D7 run above, bit for bit.
"$GARNER" refine "$d/d7.ini" --set output.dir="$d/d7cont" > "$d/d7cont.log" 2>&1 &
pid=$!
# Two iterations take seconds, but minutes under the sanitizers on a loaded
# machine: the wait ends as soon as the line is there.
wait_for "$d/d7cont.log" "iteration 2: resolution" 900
kill -9 $pid
wait $pid
check "the killed run left iterations 1 and 2" -- test -s "$d/d7cont/iter_002/poses.h5"
check "and no final map" -- test ! -e "$d/d7cont/map.mrc"
# The continued run is stopped by SIGUSR1 (as Slurm's --signal does before the
# time limit) during its first iteration: exit 75, the finished iterations
# kept; continued again, it finishes.
GARNER_TEST_SHARD_DELAY=0.2 "$GARNER" refine "$d/d7.ini" --set output.dir="$d/d7cont" --continue \
    > "$d/d7sig.log" 2>&1 &
pid=$!
wait_for "$d/d7sig.log" "iteration 3: " 900
kill -USR1 $pid
wait $pid
rc=$?
check "SIGUSR1: exit 75" -- test $rc -eq 75
check "SIGUSR1: says how to go on" -- grep -q "stopped by a signal during iteration 3: .* run again with --continue" \
    "$d/d7sig.log"
check "SIGUSR1: iteration 2 kept, no final map" -- test -s "$d/d7cont/iter_002/poses.h5" -a ! -e "$d/d7cont/map.mrc"
expect 0 "continuing from iteration" -- "$GARNER" refine "$d/d7.ini" --set output.dir="$d/d7cont" --continue
check "continued: the same final poses as the uninterrupted run" -- \
    "$cmp_poses" "$d/d7/poses.h5" "$d/d7cont/poses.h5" same
check "continued: the same map" -- "$GAR_BUILDDIR/tests/compare_maps" "$d/d7/map.mrc" "$d/d7cont/map.mrc" same
# The poses file's fingerprint (issue 18, case 4): --continue with another
# symmetry, or another stack, is refused naming it, before anything is read.
expect 65 "--continue: [refine] symmetry = C1 here, D7 in" -- "$GARNER" refine "$d/d7.ini" \
    --set output.dir="$d/d7cont" --set refine.symmetry=C1 --continue
check "summary.json: the fingerprint" -- grep -q '"\[refine\] symmetry = D7"' "$d/d7cont/summary.json"

# Under MPI, as for reconstruct: a repeat whose workers split the shards
# differently (worker 1 pauses 0.5 s after each of its shards, through
# mpiexec's per-rank -env and GARNER_TEST_SHARD_DELAY) gives the same maps
# and poses bit for bit ([mpi] reproducible = yes, the default).
if [ -n "$launch" ]; then
    expect 0 "" -- "$GARNER" simulate --map "$d/c1.mrc" --count 300 --snr 1 --shift-sigma 3 --seed 7 --out "$d/rep.h5"
    printf '[input]\nstacks = rep.h5\n[output]\ndir = rep1\n[refine]\ninitial_map = c1.mrc\ninitial_resolution = 20\niterations = 2\n[reconstruct]\nthreads = 1\n[mpi]\nshard_size = 20\n' > "$d/rep.ini"
    "$MPIEXEC" -n 3 "$GARNER" refine "$d/rep.ini" > "$d/rep1.log" 2>&1
    check "refine, P = 3: exit 0" -- test $? -eq 0
    set -- refine "$d/rep.ini" --set output.dir="$d/rep2"
    "$MPIEXEC" -n 1 "$GARNER" "$@" : -n 1 -env GARNER_TEST_SHARD_DELAY 0.5 "$GARNER" "$@" : -n 1 "$GARNER" "$@" \
        > "$d/rep2.log" 2>&1
    check "refine, P = 3, worker 1 slowed: exit 0" -- test $? -eq 0
    s1=$(sed -n 's/.*shards per worker (ranks 1 to 2): //p' "$d/rep1.log" | tr '\n' ' ')
    s2=$(sed -n 's/.*shards per worker (ranks 1 to 2): //p' "$d/rep2.log" | tr '\n' ' ')
    echo "refine, P = 3: shards per worker in each pass: ${s1}in the first run, ${s2}in the second"
    check "refine: the two runs split the shards differently" -- test "$s1" != "$s2"
    for f in map.mrc half1.mrc half2.mrc iter_001/half1.mrc iter_002/half2.mrc; do
        check "refine, repeated: $f bitwise identical (cmp)" -- cmp "$d/rep1/$f" "$d/rep2/$f"
    done
    check "refine, repeated: the same poses" -- "$cmp_poses" "$d/rep1/poses.h5" "$d/rep2/poses.h5" same
    # One worker sums in fixed point too (src/gar_fixedsum.h): P = 2 gives
    # P = 3's bits.
    "$MPIEXEC" -n 2 "$GARNER" refine "$d/rep.ini" --set output.dir="$d/rep-p2" > "$d/rep-p2.log" 2>&1
    check "refine, P = 2: exit 0" -- test $? -eq 0
    for f in map.mrc half1.mrc half2.mrc; do
        check "refine, P = 2 and P = 3: $f bitwise identical (cmp)" -- cmp "$d/rep1/$f" "$d/rep-p2/$f"
    done
    check "refine, P = 2 and P = 3: the same poses" -- "$cmp_poses" "$d/rep1/poses.h5" "$d/rep-p2/poses.h5" same
fi

# Bad settings: one line naming the key, no output.
expect 66 "no finished iteration to continue from" -- "$GARNER" refine "$d/c1.ini" --set output.dir="$d/none" --continue
expect 0 "" -- "$GARNER" phantom --symmetry C1 --box 48 --pixel-size 3 --out "$d/small.mrc"
expect 65 "[refine] initial_map" -- "$GARNER" refine "$d/c1.ini" --set refine.initial_map="$d/small.mrc" --set output.dir="$d/bad1"
expect 64 "[reconstruct] symmetry" -- "$GARNER" refine "$d/c1.ini" --set reconstruct.symmetry=C2 --set output.dir="$d/bad2"
expect 64 "[refine] initial_resolution" -- "$GARNER" refine "$d/c1.ini" --set refine.initial_resolution=6 --set output.dir="$d/bad3"
check "no output folders from bad settings" -- test ! -e "$d/bad1" -a ! -e "$d/bad2" -a ! -e "$d/bad3" -a ! -e "$d/none"
finish
