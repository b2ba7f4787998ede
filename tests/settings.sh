#!/bin/sh
# Discoverable settings and the values a user gets wrong (issue 22, points 3
# to 5): `garner params` templates load back as the defaults (the same map,
# bit for bit, as a file of only the required keys), examples/refine.ini
# runs, `garner info` describes a refinement's poses.h5, --threads,
# --resume/--continue, --quiet, `~/` in paths, and the oversubscription
# warnings. The refusals are in the bad-inputs catalogue.
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
d=$(scratch settings)
d=$(cd "$d" && pwd)
map="$GAR_EXAMPLES/tii-64.mrc"
effective() { grep -v '^; garner parameters from' "$1/params-effective.ini"; }

expect 0 "" -- "$GARNER" simulate --map "$map" --count 300 --snr 1 --shift-sigma 2 --seed 5 --out "$d/p.h5" --quiet
# --quiet: a successful run says nothing; without it, it reports.
check "--quiet: nothing on stderr" -- sh -c "! '$GARNER' simulate --map '$map' --count 8 --seed 1 --out '$d/q.h5' --quiet 2>&1 | grep -q ."
check "without --quiet: progress on stderr" -- sh -c "'$GARNER' simulate --map '$map' --count 8 --seed 1 --out '$d/q.h5' --overwrite 2>&1 | grep -q 'garner simulate'"

# garner params reconstruct, loaded back: the same map and effective
# parameters as a file holding only the required keys.
"$GARNER" params reconstruct > "$d/template.ini" || echo "FAIL: garner params reconstruct"
check "template: every reconstruct key, commented" -- sh -c "grep -q '^; symmetry = C1$' '$d/template.ini' && grep -q '^; threads = 0$' '$d/template.ini' && ! grep -q '^\[refine\]' '$d/template.ini'"
printf '[input]\nstacks = p.h5\n[output]\ndir = minimal\n' > "$d/minimal.ini"
expect 0 "resolution" -- "$GARNER" reconstruct "$d/minimal.ini" --threads 2
expect 0 "resolution" -- "$GARNER" reconstruct "$d/template.ini" --set input.stacks="$d/p.h5" --set output.dir="$d/from-template" --threads 2
check "template: the same map as the defaults" -- cmp "$d/minimal/map.mrc" "$d/from-template/map.mrc"
check "template: the same effective parameters" -- sh -c "effective() { grep -v '^; garner parameters from' \"\$1/params-effective.ini\"; }; [ \"\$(effective '$d/minimal' | sed 's/^dir = .*//')\" = \"\$(effective '$d/from-template' | sed 's/^dir = .*//')\" ]"
check "--threads 2 is reconstruct.threads = 2" -- grep -q '^threads = 2$' "$d/minimal/params-effective.ini"

# ~/ in a path value is $HOME, as a shell has it.
mkdir -p "$d/home"
old_home=$HOME
HOME="$d/home"
export HOME
expect 0 "" -- "$GARNER" reconstruct "$d/minimal.ini" --set output.dir='~/run1' --quiet
HOME=$old_home
check "dir = ~/run1 is \$HOME/run1" -- test -s "$d/home/run1/map.mrc"
check "no folder named ~ (--set paths resolve against the working folder)" -- test ! -e './~'

# --continue is reconstruct's --resume and --resume refine's --continue:
# with nothing to go on from, each says so (not "unknown option").
expect 66 "again.checkpoint.h5: no checkpoint to resume from" -- \
    "$GARNER" reconstruct "$d/minimal.ini" --set output.dir="$d/again" --continue
expect 66 "holds no finished iteration to continue from" -- \
    "$GARNER" refine "$GAR_EXAMPLES/refine.ini" --set input.stacks="$d/p.h5" --set output.dir="$d/again" --resume

# Threads over the cores: a warning, not a refusal.
expect 0 "threads beyond that compete" -- "$GARNER" reconstruct "$d/minimal.ini" --set output.dir="$d/many" \
    --threads $(($(nproc) + 1))

# examples/refine.ini, cheaply (one iteration, 300 particles), then the
# template refine: the same map as the example run with the same settings.
expect 0 "resolution" -- "$GARNER" refine "$GAR_EXAMPLES/refine.ini" --set input.stacks="$d/p.h5" \
    --set output.dir="$d/example-refine" --set refine.iterations=1 --threads 2
"$GARNER" params refine > "$d/refine-template.ini" || echo "FAIL: garner params refine"
expect 0 "resolution" -- "$GARNER" refine "$d/refine-template.ini" --set input.stacks="$d/p.h5" \
    --set output.dir="$d/template-refine" --set refine.initial_map="$map" --set reconstruct.reference="$map" \
    --set refine.iterations=1 --threads 2
check "refine template: the same map as examples/refine.ini" -- cmp "$d/example-refine/map.mrc" "$d/template-refine/map.mrc"

# garner info on the refinement's poses file.
"$GARNER" info "$d/example-refine/poses.h5" > "$d/info.txt" 2>&1
check "info poses.h5: a poses file of 300 particles at iteration 1" -- sh -c \
    "grep -q 'garner poses file' '$d/info.txt' && grep -q '^  particles  *300$' '$d/info.txt' && grep -q '^  iteration  *1 ' '$d/info.txt'"
expect 65 "a garner poses file (what refine writes), not a particle stack" -- \
    "$GARNER" reconstruct "$d/minimal.ini" --set input.stacks="$d/example-refine/poses.h5" --set output.dir="$d/x"

# --help lists the keys from the schema.
check "refine --help lists keys and defaults" -- sh -c "'$GARNER' refine --help | grep -q 'initial_resolution=30'"
finish
