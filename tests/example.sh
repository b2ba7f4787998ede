#!/bin/sh
# The README's example job runs and ends by saying where its output is.
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
d=$(scratch example)
out=$(OUT="$d" GARNER="$GARNER" GARNER_DATA="$GAR_SRCDIR/examples" sh "$GAR_SRCDIR/examples/simulate-import.sh" 2>&1)
rc=$?
check "example job exits 0" -- test "$rc" -eq 0
check "example job names its output folder" -- sh -c "printf '%s\n' \"\$1\" | tail -n 1 | grep -q 'output in $d'" _ "$out"
check "simulated stack written" -- test -s "$d/tii-64-sim.h5"
check "imported stack written" -- test -s "$d/relion-sim.h5"
finish
