#!/bin/sh
# Issue 18, case 21: a run over more stacks than the process may open files.
# 1100 small stacks under `ulimit -n 1024` once failed at the 1007th (every
# stack held its file open); the stacks now share a budget of descriptors
# (hdf5io/gar_stack_read.c, "the open-file pool") and the run succeeds.
# Each stack is a small file of its own whose particle datasets are external
# links into one shared stack of 4 particles (tests/make_test_stack elink):
# one descriptor per stack, as for any stack, at 24 KB a copy (s-0000.h5 to
# s-1099.h5).
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
d=$(scratch many-stacks)
n=1100
"$GAR_BUILDDIR/tests/make_test_stack" elink "$d/s.h5" $n || exit 99
# pad 1: the run is about opening files, not about the map's quality.
cat > "$d/run.ini" <<INI
[input]
stacks = s-[0-9][0-9][0-9][0-9].h5
[output]
dir = out
[reconstruct]
pad = 1
INI
# A hard limit below 1024 cannot be raised to it: nothing to test then.
(ulimit -n 1024) 2>/dev/null || { echo "SKIP: ulimit -n 1024 refused"; exit 77; }
expect 0 "" -- sh -c "ulimit -n 1024 && exec \"$GARNER\" reconstruct \"$d/run.ini\""
check "map written" -- test -s "$d/out/map.mrc"
check "summary names $((4 * n)) particles" -- grep -q "\"particles_used\": $((4 * n))" "$d/out/summary.json"
finish
