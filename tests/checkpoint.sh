#!/bin/sh
# Checkpoint and resume: a run stopped by SIGUSR1 exits 75 leaving a
# checkpoint (and no output folder); --resume finishes it with the map of an
# uninterrupted run; periodic checkpoints change nothing; a half-written
# checkpoint (left under its temporary name) is never loaded.
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
d=$(scratch checkpoint)
cmp="$GAR_BUILDDIR/tests/compare_maps"
expect 0 "" -- "$GARNER" simulate --map "$GAR_EXAMPLES/tii-64.mrc" --count 1200 --snr 1 --seed 5 --out "$d/s.h5"
printf '[input]\nstacks = s.h5\n[output]\ndir = full\n[reconstruct]\nthreads = 1\nbatch = 16\n[mpi]\nshard_size = 32\n' > "$d/run.ini"
expect 0 "resolution" -- "$GARNER" reconstruct "$d/run.ini"
check "summary.json: the fingerprint" -- grep -q '"\[reconstruct\] ctf = yes"' "$d/full/summary.json"
expect 0 "" -- "$GARNER" simulate --map "$GAR_EXAMPLES/tii-64.mrc" --count 1200 --snr 1 --seed 6 --out "$d/r.h5"

# One process, stopped by a signal part way. GARNER_TEST_SHARD_DELAY pauses
# 0.1 s after each of the 38 shards, so the run lasts at least 3.8 s however
# fast the machine; the signal goes once the run has started.
export GARNER_TEST_SHARD_DELAY=0.1
"$GARNER" reconstruct "$d/run.ini" --set output.dir="$d/one" > "$d/one.log" 2>&1 &
pid=$!
wait_for "$d/one.log" "1200 particles, 64 px"
sleep 0.5
kill -USR1 $pid
wait $pid
rc=$?
check "signal: exit 75" -- test "$rc" -eq 75
check "signal: checkpoint written" -- test -s "$d/one.checkpoint.h5"
check "signal: no output folder" -- test ! -e "$d/one"
check "signal: the log says how to go on" -- grep -q "run again with --resume" "$d/one.log"
: > "$d/one.checkpoint.h5.tmp-999"   # a checkpoint interrupted while being written
unset GARNER_TEST_SHARD_DELAY
# The checkpoint's fingerprint (issue 18, case 2): a resume with another
# setting that shapes the map, or another stack of the same size, is
# refused naming it, and leaves the checkpoint for the right resume.
expect 65 "[reconstruct] ctf = no here, yes in the checkpoint" -- "$GARNER" reconstruct "$d/run.ini" \
    --set output.dir="$d/one" --set reconstruct.ctf=no --resume
expect 65 "[reconstruct] max_resolution = 8 here, 0 in the checkpoint" -- "$GARNER" reconstruct "$d/run.ini" \
    --set output.dir="$d/one" --set reconstruct.max_resolution=8 --resume
check "another stack: the same size" -- test "$(wc -c < "$d/s.h5")" -eq "$(wc -c < "$d/r.h5")"
expect 65 "/r.h5: stack 1 = " -- "$GARNER" reconstruct "$d/run.ini" \
    --set output.dir="$d/one" --set input.stacks="$d/r.h5" --resume
cp "$d/r.h5" "$d/s-copy.h5" && cp "$d/s-copy.h5" "$d/s.h5.new" && mv "$d/s.h5" "$d/s.h5.orig" && mv "$d/s.h5.new" "$d/s.h5"
expect 65 "/s.h5: stack 1 " -- "$GARNER" reconstruct "$d/run.ini" \
    --set output.dir="$d/one" --resume
mv "$d/s.h5.orig" "$d/s.h5"
check "refused resumes: the checkpoint kept" -- test -s "$d/one.checkpoint.h5"
# [postprocess] does not shape a reconstruction (refine post-processes its
# final maps anew when continued): a change there is not a mismatch.
expect 0 "resuming from" -- "$GARNER" reconstruct "$d/run.ini" --set output.dir="$d/one" \
    --set postprocess.bfactor=50 --resume
check "resume: same map as uninterrupted (1 process: bitwise)" -- "$cmp" "$d/full/map.mrc" "$d/one/map.mrc" same
check "resume: 1200 particles" -- grep -q '"particles_used": 1200' "$d/one/summary.json"
check "resume: the checkpoint is removed" -- test ! -e "$d/one.checkpoint.h5"
expect 66 "no checkpoint to resume from" -- "$GARNER" reconstruct "$d/run.ini" --set output.dir="$d/none" --resume

# A stack copied over during the run (issue 18, case 8): the end-of-run
# check finds it changed, the run fails naming it, and publishes nothing.
cp "$d/s.h5" "$d/c.h5"
GARNER_TEST_SHARD_DELAY=0.1 "$GARNER" reconstruct "$d/run.ini" --set output.dir="$d/replaced" \
    --set input.stacks="$d/c.h5" > "$d/replaced.log" 2>&1 &
pid=$!
wait_for "$d/replaced.log" "1200 particles, 64 px"
sleep 0.5
cp "$d/r.h5" "$d/c.h5"
wait $pid
rc=$?
check "replaced stack: the run fails (got $rc)" -- test "$rc" -ne 0
# Either the end-of-run check finds the new file, or a read of the
# replaced file fails its checksums first: both refuse naming it.
check "replaced stack: named" -- grep -Eq "a stack changed during the run: stack .*/c.h5: stack 1 |/c.h5: /particles/[a-z_]*: .*checksum mismatch" "$d/replaced.log"
check "replaced stack: no output folder" -- test ! -e "$d/replaced"

# Periodic checkpoints (every 0.6 s, in a run made to last 3.8 s or more)
# leave the map unchanged.
expect 0 "checkpoint written" -- env GARNER_TEST_SHARD_DELAY=0.1 "$GARNER" reconstruct "$d/run.ini" --set output.dir="$d/periodic" --set output.checkpoint_minutes=0.01
check "periodic: same map (bitwise)" -- "$cmp" "$d/full/map.mrc" "$d/periodic/map.mrc" same

# Three ranks, each sent the signal, as Slurm's --signal does (slurmstepd
# signals every task), and not mpiexec: MPICH's mpiexec forwards a signal it
# receives to the ranks, but in CI it then twice exited 0 although rank 0 had
# logged the checkpoint and exit 75. Its code skips, when it sums the exit
# codes, a proxy whose codes it has not received; the forwarding under load
# seems to leave one so (not reproduced in 16 tries without load).
if [ -n "${MPIEXEC:-}" ] && command -v "$MPIEXEC" >/dev/null 2>&1; then
    # Two workers, 38 shards, 0.2 s after each: at least 3.8 s of run.
    GARNER_TEST_SHARD_DELAY=0.2 "$MPIEXEC" -n 3 "$GARNER" reconstruct "$d/run.ini" --set output.dir="$d/three" \
        > "$d/three.log" 2>&1 &
    pid=$!
    wait_for "$d/three.log" "shards of up to 32 particles for 2 workers"
    sleep 0.5
    # The garner processes of this run only (mpiexec's command line holds the
    # same words).
    for p in $(pgrep -f "garner reconstruct $d/run.ini --set output.dir=$d/three"); do
        [ "$(ps -o comm= -p "$p")" = garner ] && kill -USR1 "$p"
    done
    wait $pid
    rc=$?
    check "3 ranks, signal: exit 75 (got $rc)" -- test "$rc" -eq 75
    check "3 ranks, signal: checkpoint written" -- test -s "$d/three.checkpoint.h5"
    expect 0 "resuming from" -- "$MPIEXEC" -n 3 "$GARNER" reconstruct "$d/run.ini" --set output.dir="$d/three" --resume
    check "3 ranks, resume: map within 1e-6 of uninterrupted" -- "$cmp" "$d/full/map.mrc" "$d/three/map.mrc" 1e-6
    check "3 ranks, resume: 1200 particles" -- grep -q '"particles_used": 1200' "$d/three/summary.json"

    # Resume on another rank count (issue 18, case 20): with the default
    # shard size, which used to follow the rank count (19 particles a shard
    # on one process, 16 on three here), a checkpoint of one process was
    # refused on three ranks and the other way round. Maps of different rank
    # counts agree within 1e-6, not bit for bit (PARAMETERS.md, reproducible).
    printf '[input]\nstacks = s.h5\n[output]\ndir = full0\n[reconstruct]\nthreads = 1\nbatch = 16\n' > "$d/run0.ini"
    expect 0 "resolution" -- "$GARNER" reconstruct "$d/run0.ini"
    GARNER_TEST_SHARD_DELAY=0.05 "$GARNER" reconstruct "$d/run0.ini" --set output.dir="$d/one3" > "$d/one3.log" 2>&1 &
    pid=$!
    wait_for "$d/one3.log" "1200 particles, 64 px"
    sleep 0.5
    kill -USR1 $pid
    wait $pid
    rc=$?
    check "1 -> 3: stopped with exit 75 (got $rc)" -- test "$rc" -eq 75
    expect 0 "resuming from" -- "$MPIEXEC" -n 3 "$GARNER" reconstruct "$d/run0.ini" --set output.dir="$d/one3" --resume
    check "1 -> 3: map within 1e-6 of uninterrupted" -- "$cmp" "$d/full0/map.mrc" "$d/one3/map.mrc" 1e-6
    check "1 -> 3: 1200 particles" -- grep -q '"particles_used": 1200' "$d/one3/summary.json"

    GARNER_TEST_SHARD_DELAY=0.1 "$MPIEXEC" -n 3 "$GARNER" reconstruct "$d/run0.ini" --set output.dir="$d/three1" \
        > "$d/three1.log" 2>&1 &
    pid=$!
    wait_for "$d/three1.log" "for 2 workers"
    sleep 0.5
    for p in $(pgrep -f "garner reconstruct $d/run0.ini --set output.dir=$d/three1"); do
        [ "$(ps -o comm= -p "$p")" = garner ] && kill -USR1 "$p"
    done
    wait $pid
    rc=$?
    check "3 -> 1: stopped with exit 75 (got $rc)" -- test "$rc" -eq 75
    # A shard size the user sets is the user's: one that differs from the
    # checkpoint's is refused, naming the key, and the checkpoint stays.
    expect 65 "[mpi] shard_size: 20 in this run, 16 in the checkpoint" -- \
        "$GARNER" reconstruct "$d/run0.ini" --set output.dir="$d/three1" --set mpi.shard_size=20 --resume
    check "3 -> 1: the refused resume kept the checkpoint" -- test -s "$d/three1.checkpoint.h5"
    expect 0 "resuming from" -- "$GARNER" reconstruct "$d/run0.ini" --set output.dir="$d/three1" --resume
    check "3 -> 1: map within 1e-6 of uninterrupted" -- "$cmp" "$d/full0/map.mrc" "$d/three1/map.mrc" 1e-6
    check "3 -> 1: 1200 particles" -- grep -q '"particles_used": 1200' "$d/three1/summary.json"
fi
finish
