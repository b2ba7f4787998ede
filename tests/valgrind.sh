#!/bin/sh
# valgrind memcheck on the single-node integration run of tests/reconstruct.sh:
# import RELION's 400 simulated particles, reconstruct them (map, half maps,
# FSC against the true map, plots); simulate and describe a small stack; and
# three runs that fail
# part way (a NaN defocus found during insertion, a corrupt image, an output
# folder that exists), whose cleanup paths must free everything too.
#
# Every run must end with no memcheck error and nothing definitely or
# indirectly lost; tests/valgrind.supp names the only suppressions (memory
# fontconfig and MPICH's hwloc keep until exit). "Possibly lost" blocks are
# reported but allowed: they are the stacks of OpenMP's worker threads.
#
# Not part of `make check` (about 3 minutes on two cores); .ci/run runs it on
# the normal (not sanitized) build:
#   GARNER=./garner GAR_SRCDIR=. GAR_BUILDDIR=. GAR_TEST_DATA=tests/data sh tests/valgrind.sh
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
# Parameter files resolve relative paths against their own folder: make the
# test data's path absolute before writing it into one.
GAR_TEST_DATA=$(cd "$GAR_TEST_DATA" && pwd)
GAR_EXAMPLES=$(cd "$GAR_EXAMPLES" && pwd)
GAR_SRCDIR=${GAR_SRCDIR:-.}
GAR_BUILDDIR=${GAR_BUILDDIR:-.}
if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind not found (Debian: apt-get install valgrind)"
    exit 77
fi
d=$(scratch valgrind)
vg() { # LOG-NAME EXPECTED-EXIT garner-arguments...: garner under memcheck
    log=$1 code=$2
    shift 2
    checks=$((checks + 1))
    valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=30 \
        --suppressions="$GAR_SRCDIR/tests/valgrind.supp" --log-file="$d/$log.vg" \
        "$GARNER" "$@" >"$d/$log.out" 2>&1
    rc=$?
    summary=$(grep -E 'ERROR SUMMARY' "$d/$log.vg" | sed 's/^==[0-9]*== //')
    lost=$(grep -E 'definitely lost:|indirectly lost:' "$d/$log.vg" | sed 's/^==[0-9]*== *//' | tr '\n' ' ')
    if [ "$rc" -ne "$code" ]; then
        echo "FAIL: $log: exit $rc, expected $code (memcheck: $summary $lost)"
        tail -n 30 "$d/$log.vg"
        tail -n 5 "$d/$log.out"
        failures=$((failures + 1))
    else
        echo "ok: $log: exit $rc; $summary; ${lost:-no leaks at all}"
    fi
}
map="$GAR_EXAMPLES/tii-64.mrc"
vg import 0 import --star "$GAR_TEST_DATA/relion-sim/particles.star" --out "$d/relion.h5"
vg simulate 0 simulate --map "$map" --count 40 --snr 1 --seed 5 --out "$d/sim.h5"
vg info 0 info "$d/sim.h5" "$map"
cat > "$d/run.ini" <<INI
[input]
stacks = relion.h5
[output]
dir = out
[reconstruct]
reference = $map
threads = 2
INI
vg reconstruct 0 reconstruct "$d/run.ini"
check "reconstruct wrote the map and plots" -- sh -c "test -s '$d/out/map.mrc' && test -s '$d/out/fsc.png'"
"$GAR_BUILDDIR/tests/make_test_stack" nandefocus "$d/nandefocus.h5"
"$GAR_BUILDDIR/tests/make_test_stack" corrupt "$d/corrupt.h5"
vg fail-nan-defocus 65 reconstruct "$d/run.ini" --set input.stacks="$d/nandefocus.h5" --set output.dir="$d/out-nan"
vg fail-corrupt 65 reconstruct "$d/run.ini" --set input.stacks="$d/corrupt.h5" --set output.dir="$d/out-corrupt"
vg fail-output-exists 64 reconstruct "$d/run.ini"
check "failed runs left no output folder" -- sh -c "! ls '$d' | grep -q 'out-\\|partial'"
finish
