#!/bin/sh
# A reference map that a run takes but cannot measure against, end to end
# (issue 18, case 9): summary.json must never give an absurd resolution. A
# map of zeros has an FSC of 0 in every shell, as a NaN reference had (it was
# reported as 1.9e11 Å); now resolution_reference_A is null, with a note. The
# same map has no pixel size in its header (cella 0): it is taken to be on the
# particles' grid, with a warning naming the key (PARAMETERS.md, reference).
# The refusals of bad reference maps are in the catalogue (tests/bad-inputs).
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
d=$(scratch reference-map)
map="$GAR_EXAMPLES/tii-64.mrc"
expect 0 "" -- "$GARNER" simulate --map "$map" --count 8 --seed 1 --out "$d/sim.h5"
# tii-64.mrc's 1024-byte header (no extended header) over 64³ zero floats,
# cella x, y, z (words 10-12) set to 0: no pixel size.
{ head -c 1024 "$map" && head -c 1048576 /dev/zero; } > "$d/zeros.mrc"
for w in 10 11 12; do poke_u32 "$d/zeros.mrc" $((4 * w)) 00000000; done
cat > "$d/run.ini" <<INI
[input]
stacks = sim.h5
[output]
dir = out
[reconstruct]
reference = zeros.mrc
INI
expect 0 "[reconstruct] reference: $(cd "$d" && pwd)/zeros.mrc gives no pixel size (0 in its MRC header): taken to be the particles' 3 Å" \
    -- "$GARNER" reconstruct "$d/run.ini"
s="$d/out/summary.json"
check "summary: resolution_reference_A is null" -- grep -q '^  "resolution_reference_A": null,$' "$s"
check "summary: a note says why" -- \
    grep -q '^  "resolution_reference_note": "FSC below 0.5 from the first shell: no resolution within the box' "$s"
check "summary: every resolution in Å within the box (at most 64 x 3 = 192 Å)" -- \
    awk -F': ' '/"resolution[a-z_]*_A": [0-9]/ { sub(",", "", $2); if ($2 + 0 > 192) bad = 1 } END { exit bad }' "$s"
check "summary: still valid JSON" -- python3 -c "import json, sys; json.load(open(sys.argv[1]))" "$s"
finish
