#!/bin/sh
# The README's tutorial, exactly as written: every ```sh block between the
# markers "<!-- tutorial: begin" and "<!-- tutorial: end -->" runs, in order,
# in one shell, in a folder laid out as garner's source folder (garner,
# examples/, tests/data/relion-project/). A block after the marker "needs
# relion_reconstruct" runs only where RELION is installed. Then the results
# are checked: the refined poses against the particles' true poses, the map
# against the map they were made from, the export, RELION's map of it, and
# that the parameter file the README shows is the one shipped.
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
src=${GAR_SRCDIR:-.}
d=$(scratch tutorial)
json() { sed -n "s/.*\"$2\": \([0-9.]*\).*/\1/p" "$1" | head -n 1; }

# The commands, from README.md.
awk '
    /^<!-- tutorial: begin/ { on = 1; next }
    /^<!-- tutorial: end -->/ { on = 0 }
    !on { next }
    /^<!-- tutorial: the next block needs relion_reconstruct/ { relion = 1; next }
    /^```sh$/ { inblock = 1; if (relion) print "if command -v relion_reconstruct >/dev/null 2>&1; then"; next }
    inblock && /^```$/ { inblock = 0; if (relion) print "fi"; relion = 0; next }
    inblock { print }
' "$src/README.md" > "$d/commands.sh"
echo "--- the README's tutorial commands:"
cat "$d/commands.sh"
check "README: the tutorial has its commands (import, simulate, refine, export, relion_reconstruct)" -- \
    sh -c 'for c in "garner import" "garner simulate" "garner refine" "garner export" "relion_reconstruct"; do grep -q "$c" "$1" || exit 1; done' _ "$d/commands.sh"

# The README shows examples/refine-tutorial.ini: the same text.
awk '/^<!-- tutorial: the ini block below is examples\/refine-tutorial.ini/ { want = 1; next }
     want && /^```ini$/ { on = 1; next }
     on && /^```$/ { exit }
     on { print }' "$src/README.md" > "$d/readme.ini"
check "README: the parameter file shown is examples/refine-tutorial.ini" -- cmp "$d/readme.ini" "$src/examples/refine-tutorial.ini"

# garner's folder as the tutorial sees it: garner built here, the examples
# and the RELION project from the source folder.
top=$(cd "$d" && pwd)
ln -s "$(cd "$(dirname "$GARNER")" && pwd)/$(basename "$GARNER")" "$d/garner"
ln -s "$(cd "$src/examples" && pwd)" "$d/examples"
mkdir -p "$d/tests/data"
ln -s "$(cd "$src/tests/data/relion-project" && pwd)" "$d/tests/data/relion-project"

start=$(date +%s)
(cd "$top" && sh -e "$top/commands.sh") > "$d/tutorial.log" 2>&1
rc=$?
echo "--- the tutorial's output (last 12 lines), $(($(date +%s) - start)) s:"
tail -n 12 "$d/tutorial.log"
check "tutorial: every command succeeds" -- test "$rc" -eq 0
t=$top/tutorial
check "tutorial: the import says 24 particles" -- grep -q "wrote 24 particles (64 x 64, 3 Å/px)" "$d/tutorial.log"
for f in relion.h5 simulated.h5 refine.ini refined/map.mrc refined/half1.mrc refined/poses.h5 refined/summary.json refined.star refined.mrcs; do
    check "tutorial: $f written" -- test -s "$t/$f"
done
check "tutorial: the refinement converged" -- grep -q '"converged": true' "$t/refined/summary.json"

# The poses found against the true ones: the stacks' own poses (RELION's
# relion_project poses for the 24, the simulation's for the 300), exported
# without --poses and imported back as one stack in the run's order.
expect 0 "" -- "$GARNER" export --stack "$t/relion.h5" --stack "$t/simulated.h5" --star "$d/truth.star"
expect 0 "" -- "$GARNER" import --star "$d/truth.star" --out "$d/truth.h5"
# Measured: 80.2 % within 5°, median 2.72°, origin 0.26 Å (324 particles
# at SNR 0.3-0.5 of 64²: few and noisy); a refinement that lost its way
# has a few % within 5° and a median of tens of degrees.
check "tutorial: >= 70 % of the 324 particles within 5°, median origin error <= 1 Å, median angle <= 4°" -- \
    "$GAR_BUILDDIR/tests/compare_poses" "$d/truth.h5" "$t/refined/poses.h5" C1 0.7 1.0 4.0

# The map against the map the particles were made from: 6.13 Å measured
# (Nyquist 6 Å); 7.5 Å leaves room for another seed's noise, not for a
# refinement that lost its way (the 30 Å start scores about 30 Å).
"$GARNER" fsc "$t/refined/map.mrc" "$src/examples/tii-64.mrc" --threshold 0.5 --mask-outer > "$d/fsc.txt"
res=$(sed -n 's/^# resolution at FSC 0.5: \([0-9.]*\) Å.*/\1/p' "$d/fsc.txt")
echo "refined map against tii-64.mrc: FSC 0.5 at $res Å"
check "tutorial: FSC 0.5 against the true map at 7.5 Å or better" -- awk -v r="$res" 'BEGIN { exit !(r > 0 && r <= 7.5) }'

check "tutorial: the exported STAR has one row per particle" -- test "$(grep -c '@refined.mrcs ' "$t/refined.star")" -eq 324
check "tutorial: the exported STAR has RELION 3.1 labels" -- grep -q "_rlnOriginXAngst" "$t/refined.star"

if command -v relion_reconstruct >/dev/null 2>&1; then
    check "tutorial: RELION's map of the export written" -- test -s "$t/relion-map.mrc"
    mean=$(sed -n 's/^# mean FSC over shells [0-9-]*: \([0-9.]*\).*/\1/p' "$d/tutorial.log" | tail -n 1)
    echo "RELION's map against garner's: mean FSC $mean (0.945 measured)"
    check "tutorial: RELION's map of the export agrees with garner's (mean FSC >= 0.9)" -- \
        awk -v m="$mean" 'BEGIN { exit !(m >= 0.9) }'
else
    echo "relion_reconstruct not installed: the tutorial's RELION step is skipped"
fi
finish
