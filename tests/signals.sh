#!/bin/sh
# One signal policy for every command (docs/RELIABILITY.md, "Signals"):
# SIGINT and SIGHUP stop a reconstruct as SIGTERM does (checkpoint, exit 75,
# --resume gives the uninterrupted map); SIGTERM and SIGHUP stop a simulate
# with its temporary removed, one line and exit 128 + the signal; a closed
# stderr pipe does not kill a run; a partial folder left by a process that
# died (kill -9) is removed by the next run into the same output.
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
d=$(scratch signals)
cmp="$GAR_BUILDDIR/tests/compare_maps"

# Wait until a file matching the glob exists (the run has begun writing).
wait_glob() {
    n=600
    while [ $n -gt 0 ]; do
        for f in $1; do [ -e "$f" ] && return 0; done
        sleep 0.1
        n=$((n - 1))
    done
    echo "timed out waiting for $1"
    return 1
}

expect 0 "" -- "$GARNER" simulate --map "$GAR_EXAMPLES/tii-64.mrc" --count 400 --snr 1 --seed 7 --out "$d/s.h5"
printf '[input]\nstacks = s.h5\n[output]\ndir = full\n[reconstruct]\nthreads = 1\nbatch = 16\n[mpi]\nshard_size = 16\n' > "$d/run.ini"
expect 0 "resolution" -- "$GARNER" reconstruct "$d/run.ini"

# reconstruct, SIGINT (Ctrl-C) and SIGHUP (a closed terminal): 25 shards,
# 0.1 s after each (GARNER_TEST_SHARD_DELAY), so the run lasts 2.5 s or
# more; the signal goes once the log shows the particles were read.
for sig in INT HUP; do
    # A shell starts background jobs with SIGINT ignored, which garner keeps
    # (as it keeps nohup's SIGHUP): give it the default, as a terminal would.
    GARNER_TEST_SHARD_DELAY=0.1 env --default-signal=INT,HUP "$GARNER" reconstruct "$d/run.ini" \
        --set output.dir="$d/$sig" > "$d/$sig.log" 2>&1 &
    pid=$!
    wait_for "$d/$sig.log" "400 particles, 64 px"
    sleep 0.3
    kill -$sig $pid
    wait $pid
    rc=$?
    check "reconstruct, SIG$sig: exit 75 (got $rc)" -- test "$rc" -eq 75
    check "reconstruct, SIG$sig: checkpoint written" -- test -s "$d/$sig.checkpoint.h5"
    check "reconstruct, SIG$sig: no output folder" -- test ! -e "$d/$sig"
    check "reconstruct, SIG$sig: no partial folder" -- sh -c "! ls -d '$d/$sig'.partial-* 2>/dev/null"
    check "reconstruct, SIG$sig: the log says how to go on" -- grep -q "run again with --resume" "$d/$sig.log"
done
expect 0 "resuming from" -- "$GARNER" reconstruct "$d/run.ini" --set output.dir="$d/INT" --resume
check "SIGINT, resume: same map as uninterrupted" -- "$cmp" "$d/full/map.mrc" "$d/INT/map.mrc" 1e-6
check "SIGINT, resume: checkpoint removed" -- test ! -e "$d/INT.checkpoint.h5"

# simulate, SIGTERM (Slurm's time limit, scancel) and SIGHUP: 100000
# particles would take minutes; the signal goes once the temporary exists.
for sig in TERM HUP; do
    "$GARNER" simulate --map "$GAR_EXAMPLES/tii-64.mrc" --count 100000 --out "$d/big-$sig.h5" > "$d/sim-$sig.log" 2>&1 &
    pid=$!
    wait_glob "$d/big-$sig.h5.tmp-*"
    kill -$sig $pid
    wait $pid
    rc=$?
    case $sig in TERM) want=143 ;; HUP) want=129 ;; esac
    check "simulate, SIG$sig: exit $want (got $rc)" -- test "$rc" -eq "$want"
    check "simulate, SIG$sig: no temporary left" -- sh -c "! ls '$d/big-$sig.h5'* 2>/dev/null"
    check "simulate, SIG$sig: one line says so" -- grep -qx "garner simulate: stopped by SIG$sig; nothing written" "$d/sim-$sig.log"
    check "simulate, SIG$sig: no error line" -- sh -c "! grep -q 'error' '$d/sim-$sig.log'"
done

# A closed stderr pipe: garner's log lines after the first fail with EPIPE
# and are dropped; the run goes on and writes its output.
{ "$GARNER" simulate --map "$GAR_EXAMPLES/tii-64.mrc" --count 100 --out "$d/piped.h5" 2>&1; echo $? > "$d/piped.rc"; } |
    head -1 > /dev/null
check "stderr closed (| head -1): exit 0 (got $(cat "$d/piped.rc"))" -- test "$(cat "$d/piped.rc")" -eq 0
check "stderr closed: output written" -- test -s "$d/piped.h5"

# kill -9 leaves its partial folder; the next run into the same output
# removes it when its process (on this host) has ended.
dead=$(sh -c 'echo $$')
mkdir "$d/out.partial-$dead"
printf '%s %s\n' "$(hostname)" "$dead" > "$d/out.partial-$dead/.garner-owner"
: > "$d/out.partial-$dead/half1.mrc"
mkdir "$d/out.partial-1"   # no owner file: named, not removed
expect 0 "out.partial-$dead, left by process $dead on this host, which has ended" -- "$GARNER" reconstruct "$d/run.ini" --set output.dir="$d/out"
check "stale partial folder removed" -- test ! -e "$d/out.partial-$dead"
check "partial folder of unknown owner kept" -- test -d "$d/out.partial-1"
check "the result has no owner file" -- test ! -e "$d/out/.garner-owner"
finish
