#!/bin/sh
# One run per output folder, and an overwrite that replaces the folder as a
# whole (docs/RELIABILITY.md, "Outputs"; issue 18, cases 11, 12 and 3): a
# second run into a folder being written is refused at once, naming the
# first; an overwrite whose swap fails leaves the old folder byte for byte;
# refine with overwrite = yes over a longer run keeps none of its iterations,
# and --continue goes on from the new run's.
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
d=$(scratch outdir)
host=$(hostname)

expect 0 "" -- "$GARNER" simulate --map "$GAR_EXAMPLES/tii-64.mrc" --count 200 --snr 1 --seed 7 --out "$d/s.h5"
printf '[input]\nstacks = s.h5\n[output]\ndir = run1\n[reconstruct]\nthreads = 1\nbatch = 16\n[mpi]\nshard_size = 16\n' > "$d/run.ini"

# Case 11: two reconstructs into one new folder. The first pauses 0.2 s after
# each of its 13 shards (GARNER_TEST_SHARD_DELAY); the second starts once the
# first has taken the lock.
GARNER_TEST_SHARD_DELAY=0.2 "$GARNER" reconstruct "$d/run.ini" > "$d/first.log" 2>&1 &
pid=$!
check "the first run holds run1.lock" -- wait_for "$d/run1.lock" "^$host $pid\$"
expect 73 "run1: another garner run (pid $pid on $host) is writing it" -- "$GARNER" reconstruct "$d/run.ini"
expect 73 "another garner run (pid $pid on $host)" -- "$GARNER" reconstruct "$d/run.ini" --set output.overwrite=yes
check "the refused runs left no folder of theirs" -- sh -c "test \$(ls '$d' | grep -c 'run1.partial-') -eq 1"
wait $pid
rc=$?
check "the first run succeeded (exit $rc)" -- test "$rc" -eq 0
check "its map is in run1" -- test -s "$d/run1/map.mrc"
check "nothing beside run1 is left (lock, partial)" -- sh -c "! ls '$d' | grep -Eq 'run1\\.(partial|old|lock)'"
check "run1 holds no owner file" -- test ! -e "$d/run1/.garner-owner"

# Case 12: overwrite = yes whose swap fails (GARNER_TEST_FAIL_SWAP: the new
# folder cannot be renamed into place): the old folder is put back whole.
cp -rp "$d/run1" "$d/run1-copy"
printf '[input]\nstacks = s.h5\n[output]\ndir = run1\noverwrite = yes\n[reconstruct]\nthreads = 1\nctf = no\n' > "$d/other.ini"
GARNER_TEST_FAIL_SWAP=1 expect 73 "run1 is unchanged" -- "$GARNER" reconstruct "$d/other.ini"
check "swap failed: run1 byte-identical to before" -- diff -r "$d/run1" "$d/run1-copy"
check "swap failed: nothing left beside run1" -- sh -c "! ls '$d' | grep -Eq 'run1\\.(partial|old|lock)'"
expect 0 "" -- "$GARNER" reconstruct "$d/other.ini"
check "overwritten: params.ini is the new run's" -- cmp -s "$d/other.ini" "$d/run1/params.ini"
check "overwritten: the map is new" -- sh -c "! cmp -s '$d/run1/map.mrc' '$d/run1-copy/map.mrc'"
check "overwritten: nothing left beside run1" -- sh -c "! ls '$d' | grep -Eq 'run1\\.(partial|old|lock)'"

# Case 3: refine with overwrite = yes over an earlier 3-iteration run.
expect 0 "" -- "$GARNER" phantom --symmetry C1 --box 32 --pixel-size 6 --seed 3 --out "$d/c1.mrc"
expect 0 "" -- "$GARNER" simulate --map "$d/c1.mrc" --count 200 --snr 1 --seed 4 --out "$d/c1.h5"
printf '[input]\nstacks = c1.h5\n[output]\ndir = ref\n[refine]\ninitial_map = c1.mrc\ninitial_resolution = 30\niterations = 3\n[reconstruct]\nthreads = 2\n' > "$d/ref.ini"
expect 0 "" -- "$GARNER" refine "$d/ref.ini"
check "the earlier run wrote iter_003" -- test -s "$d/ref/iter_003/poses.h5"
cp -rp "$d/ref" "$d/ref-copy"
# Stopped during its first iteration, the new run leaves the old one whole.
GARNER_TEST_SHARD_DELAY=0.2 "$GARNER" refine "$d/ref.ini" --set output.overwrite=yes \
    --set refine.iterations=1 > "$d/stopped.log" 2>&1 &
pid=$!
wait_for "$d/stopped.log" "iteration 1: global search" >/dev/null
kill -TERM $pid
wait $pid
rc=$?
check "stopped in iteration 1: exit 75 (got $rc)" -- test "$rc" -eq 75
check "stopped in iteration 1: the old run unchanged" -- diff -r "$d/ref" "$d/ref-copy"
check "stopped in iteration 1: nothing left beside ref" -- sh -c "! ls '$d' | grep -Eq 'ref\\.(partial|old|lock)'"
expect 0 "" -- "$GARNER" refine "$d/ref.ini" --set output.overwrite=yes --set refine.iterations=1
check "overwritten: iter_001 is the new run's" -- test -s "$d/ref/iter_001/poses.h5"
check "overwritten: no iter_002 or iter_003 of the old run" -- sh -c "test ! -e '$d/ref/iter_002' && test ! -e '$d/ref/iter_003'"
check "overwritten: summary says 1 iteration" -- grep -q '"iterations": 1,' "$d/ref/summary.json"
expect 0 "continuing from iteration 1 of" -- "$GARNER" refine "$d/ref.ini" --set refine.iterations=2 --continue
check "continued: iter_002 written, no iter_003" -- sh -c "test -s '$d/ref/iter_002/poses.h5' && test ! -e '$d/ref/iter_003'"
finish
