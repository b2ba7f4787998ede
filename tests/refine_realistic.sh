#!/bin/sh
# garner refine on particles made to look like real micrographs (issue 16 at
# CI size): 800 particles of 1TII at 64 px and 3 Å/px, SNR 0.25, a B-factor
# envelope of 80 Å², ice-and-carbon noise (7 times the power at low
# frequency), ramps of 1 σ, contrast scatter 0.2, 10 % junk (half another
# protein, half empty ice), shifts of 3 Å, CTF; from the true map low-passed
# to 30 Å, no poses. Measured on this set: 92 % of the real particles within
# 5 degrees, 96 % of the junk flagged and 0.3 % of the real particles, with
# the mask diameter found in the initial map (79 %, 93 % and 0.4 % with the
# mask at 90 % of the box; with Wiener-filtered references and the combined
# junk rule; 82 % of the junk
# with the either-or rule; 64 %, 87 % and 0.4 % with references weighted
# by sqrt(2 FSC/(1 + FSC)), 49 % and 81 % with those and the best pose only),
# where garner 0.1's search (score = ncc, no normalisation, no scales, no
# junk) finds 10 % within 5 degrees.
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
d=$(scratch realistic)
cmp_poses="$GAR_BUILDDIR/tests/compare_poses"
map="$GAR_EXAMPLES/tii-64.mrc"
expect 0 "" -- "$GARNER" phantom --symmetry C1 --box 64 --pixel-size 3 --seed 77 --out "$d/junk.mrc"
expect 0 "" -- "$GARNER" simulate --map "$map" --count 800 --snr 0.25 --bfactor 80 --noise-spectrum ice --ramp 1 \
    --contrast-sigma 0.2 --junk-fraction 0.1 --junk-map "$d/junk.mrc" --shift-sigma 3 --seed 5 --out "$d/p.h5"
printf '[input]\nstacks = p.h5\n[output]\ndir = r\n[refine]\ninitial_map = %s\ninitial_resolution = 30\n' "$map" > "$d/r.ini"
expect 0 "junk" -- "$GARNER" refine "$d/r.ini"
check "noise_spectrum.csv written, one column per optics group" -- \
    awk -F, 'NR == 1 { ok = ($3 == "sigma2_optics_group_1") } END { exit !(ok && NR == 34) }' "$d/r/noise_spectrum.csv"
# The coloured noise is seen: σ² at the low shells well above the high ones.
check "noise model: low-frequency excess (shells 2-4 over 20-30 at least 3 times)" -- \
    awk -F, 'NR >= 4 && NR <= 6 { lo += $3; nl++ } NR >= 22 && NR <= 32 { hi += $3; nh++ } END { exit !(lo / nl > 3 * hi / nh) }' \
    "$d/r/noise_spectrum.csv"
check "noise_spectrum.png written" -- test -s "$d/r/noise_spectrum.png"
check "summary.json: junk counted" -- grep -q '"junk_particles": [1-9]' "$d/r/summary.json"
# Thresholds below the measured 92 % and 96 % (79 % and 93 % with the mask
# at 90 % of the box; 49 % and 81 % with the best pose only and older
# references) by a margin for another machine's rounding; garner 0.1's
# search gives 10 % here.
check "realistic: >= 80 % of the real particles within 5 degrees, >= 85 % of the junk flagged" -- \
    env GARNER_MIN_JUNK_FLAGGED=0.85 "$cmp_poses" "$d/p.h5" "$d/r/poses.h5" C1 0.8 1.5
finish
