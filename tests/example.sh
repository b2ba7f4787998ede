#!/bin/sh
# The README's example job runs and ends with the map's path and resolution.
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
d=$(scratch example)
log=$(OUT="$d" GARNER="$GARNER" GARNER_DATA="$GAR_SRCDIR/examples" sh "$GAR_SRCDIR/examples/run-example.sh" 2>&1)
rc=$?
printf '%s\n' "$log" | tail -n 4
check "example job exits 0" -- test "$rc" -eq 0
check "example job ends with the map's path and resolution" -- \
    sh -c "printf '%s\n' \"\$1\" | tail -n 1 | grep -q 'map: .*reconstruction/map.mrc, resolution [0-9.]* Å'" _ "$log"
check "map written" -- test -s "$d/reconstruction/map.mrc"
check "FSC against the true map is 0.5 or better out to 7 Å" -- \
    awk -F': ' '/"resolution_reference_A"/ { sub(",", "", $2); exit !($2 + 0 <= 7.0) }' "$d/reconstruction/summary.json"
finish
