#!/bin/sh
# A worker killed with SIGKILL mid-run ends the whole job, non-zero, within
# 60 s, with a message naming the rank (no hang until a time limit).
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
[ -n "${MPIEXEC:-}" ] && command -v "$MPIEXEC" >/dev/null 2>&1 || { echo "no mpiexec: skipped"; exit 77; }
d=$(scratch mpi-kill)
# Enough work to be killed in the middle of: 1500 particles, one thread each.
expect 0 "" -- "$GARNER" simulate --map "$GAR_EXAMPLES/tii-64.mrc" --count 1500 --snr 1 --out "$d/s.h5"
printf '[input]\nstacks = s.h5\n[output]\ndir = out\n[reconstruct]\nthreads = 1\nbatch = 16\n[mpi]\nshard_size = 16\n' > "$d/run.ini"
# 94 shards, 0.1 s pause after each (GARNER_TEST_SHARD_DELAY): the run lasts
# at least 4.7 s on two workers, whatever the machine's speed.
GARNER_TEST_SHARD_DELAY=0.1 "$MPIEXEC" -n 3 "$GARNER" reconstruct "$d/run.ini" > "$d/log" 2>&1 &
job=$!
# Wait for the workers to be inserting, then kill rank 2 (the last garner started).
wait_for "$d/log" "shards of up to 16 particles for 2 workers"
sleep 1
victim=$(pgrep -n -f "garner reconstruct $d/run.ini")
check "found a worker to kill" -- test -n "$victim"
kill -9 "$victim"
start=$(date +%s)
# The job must end by itself; give it 60 s, then stop it and fail.
waited=0
while kill -0 "$job" 2>/dev/null && [ $waited -lt 60 ]; do sleep 1; waited=$((waited + 1)); done
if kill -0 "$job" 2>/dev/null; then
    pkill -9 -f "garner reconstruct $d/run.ini"
    kill -9 "$job" 2>/dev/null
fi
wait "$job"
rc=$?
elapsed=$(( $(date +%s) - start ))
echo "job ended ${elapsed} s after the kill with exit $rc"
sed -n '1,12p' "$d/log" | grep -iE "rank|killed|signal" | head -3
check "job ended within 60 s of the kill" -- test "$waited" -lt 60
check "job exit is non-zero" -- test "$rc" -ne 0
# mpiexec reports the dead process by PID; garner's rank map at start names its rank.
check "the launcher reports the killed process" -- grep -qiE "PID $victim .*|killed|signal 9" "$d/log"
check "garner's rank map names the killed PID's rank" -- grep -qE "ranks \(pid@host\):.* [0-9]+: $victim@" "$d/log"
check "no output folder" -- test ! -e "$d/out"
finish
