#!/bin/sh
# The garner command: help, version, exit codes, and bad inputs that must give
# one clear line, a non-zero exit and no output file.
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
d=$(scratch cli)
map="$GAR_EXAMPLES/tii-64.mrc"

check "--version names MPI, CUDA, HDF5 and FFTW" -- \
    sh -c "'$GARNER' --version | grep -q MPICH && '$GARNER' --version | grep -q 'CUDA:' && '$GARNER' --version | grep -q 'HDF5:' && '$GARNER' --version | grep -q fftw"
for c in import simulate info; do
    check "garner $c --help" -- sh -c "'$GARNER' $c --help | grep -q usage"
done
expect 0 "" -- "$GARNER" --help
expect 64 "unknown command 'frobnicate'" -- "$GARNER" frobnicate
expect 64 "required" -- "$GARNER" simulate --map "$map"
# The progress line (issue 22, point 8): tagged once ("garner simulate: 30
# particles in", not "garner simulate: simulate:"); on a terminal each redraw
# and the final line first erase the line (\r ESC [K), so a shorter line
# never leaves the end of a longer one behind.
expect 0 "garner simulate: 30 particles in " -- "$GARNER" simulate --map "$map" --count 30 --out "$d/progress.h5"
if command -v script > /dev/null; then
    script -qc "'$GARNER' simulate --map '$map' --count 3000 --seed 3 --out '$d/progress-tty.h5'" /dev/null > "$d/tty.out" 2>&1
    check "progress on a terminal: redraws erase the line" -- sh -c "grep -c \"\$(printf '\\r\\033\\[K')garner simulate: [0-9]*/3000 particles\" '$d/tty.out' | grep -qv '^0\$'"
    check "progress on a terminal: the final line erases the last redraw" -- \
        sh -c "grep -q \"\$(printf '\\r\\033\\[K')garner simulate: 3000 particles in\" '$d/tty.out'"
fi
expect 64 "--count: expected a non-negative integer, got 'many'" -- "$GARNER" simulate --map "$map" --count many --out "$d/x.h5"
expect 64 "--defocus: expected MIN:MAX" -- "$GARNER" simulate --map "$map" --count 2 --defocus 2 --out "$d/x.h5"
expect 64 "unknown or incomplete option '--bogus'" -- "$GARNER" import --bogus
expect 66 "no-such.star" -- "$GARNER" import --star "$d/no-such.star" --out "$d/x.h5"
check "no output after a failed import" -- test ! -e "$d/x.h5"

# A map whose header gives a negative pixel size (cella x = -192 Å).
cp "$map" "$d/negative.mrc"
poke_u32 "$d/negative.mrc" 40 c3400000
expect 65 "negative" -- "$GARNER" simulate --map "$d/negative.mrc" --count 2 --out "$d/neg.h5"
check "no output after a negative pixel size" -- test ! -e "$d/neg.h5"

# A header claiming 10^9 sections on a 1 MiB file: refused before any
# allocation (the address space is capped at 1 GiB to prove it, except under
# AddressSanitizer: see vlimit in testlib.sh).
cp "$map" "$d/huge.mrc"
poke_u32 "$d/huge.mrc" 8 3b9aca00
expect 65 "huge.mrc" -- sh -c "ulimit -v $(vlimit 1048576); exec '$GARNER' info '$d/huge.mrc'"
expect 65 "huge.mrc" -- sh -c "ulimit -v $(vlimit 1048576); exec '$GARNER' simulate --map '$d/huge.mrc' --count 2 --out '$d/huge.h5'"
check "no output from the huge header" -- test ! -e "$d/huge.h5"

# The memory check before allocating: a reconstruction needing more than
# `ulimit -v` leaves (16 GiB for particles of 256² at pad 4) is refused with
# the limit named, and no output folder (not under AddressSanitizer: see
# vlimit in testlib.sh).
if [ "$(vlimit 2097152)" != unlimited ]; then
    expect 0 "" -- "$GARNER" phantom --symmetry C1 --box 256 --pixel-size 1 --out "$d/mem.mrc"
    expect 0 "" -- "$GARNER" simulate --map "$d/mem.mrc" --count 2 --seed 3 --out "$d/mem.h5"
    printf '[input]\nstacks = mem.h5\n[output]\ndir = mem-out\n[reconstruct]\npad = 4\n' > "$d/mem.ini"
    expect 71 "but only" -- sh -c "ulimit -v 2097152; exec '$GARNER' reconstruct '$d/mem.ini'"
    expect 71 "(ulimit -v, less the address space in use)" -- sh -c "ulimit -v 2097152; exec '$GARNER' reconstruct '$d/mem.ini'"
    check "no output folder after the memory refusal" -- test ! -e "$d/mem-out"
    # Thread stacks count against the same limit (issue 18, case 16; the
    # refusal of 256 threads is the limit-threads-stacks case of
    # tests/bad-inputs): a usual thread count still runs under it.
    expect 0 "" -- "$GARNER" simulate --map "$GAR_EXAMPLES/tii-64.mrc" --count 40 --seed 3 --out "$d/thr.h5"
    printf '[input]\nstacks = thr.h5\n[output]\ndir = thr-out\n[reconstruct]\nthreads = 8\n' > "$d/thr.ini"
    expect 0 "resolution" -- sh -c "ulimit -v 2097152; ulimit -s 8192; exec '$GARNER' reconstruct '$d/thr.ini'"
fi

# simulate, then info, then refusing to overwrite.
expect 0 "" -- "$GARNER" simulate --map "$map" --count 10 --snr 1 --seed 3 --out "$d/s.h5"
check "info reports 10 particles and no NaN" -- \
    sh -c "'$GARNER' info '$d/s.h5' | grep -q 'particles            10' && '$GARNER' info '$d/s.h5' | grep -q 'non-finite pixels    0'"
expect 64 "file exists (add --overwrite" -- "$GARNER" simulate --map "$map" --count 10 --out "$d/s.h5"
expect 0 "" -- "$GARNER" simulate --map "$map" --count 4 --out "$d/s.h5" --overwrite
check "--overwrite replaced the stack" -- sh -c "'$GARNER' info '$d/s.h5' | grep -q 'particles            4'"
expect 64 "is a directory" -- "$GARNER" simulate --map "$map" --count 4 --out "$d"
check "no temporary files left behind" -- sh -c "! ls '$d' | grep -q tmp"

# --truth: the map the particles are projections of (in solvent: nothing
# beyond the inscribed sphere), beside the stack; refused like --out.
expect 0 "the true map" -- "$GARNER" simulate --map "$map" --count 2 --seed 3 --out "$d/t.h5" --truth "$d/t.mrc"
check "--truth: a 64^3 map" -- sh -c "'$GARNER' info '$d/t.mrc' | grep -q 'size *64 x 64 x 64'"
expect 64 "--truth $d/t.mrc: file exists" -- "$GARNER" simulate --map "$map" --count 2 --out "$d/t2.h5" --truth "$d/t.mrc"
check "--truth refused: no stack written" -- test ! -e "$d/t2.h5"

# export without --poses: the stack's own (here the simulation's true) poses;
# imported back, the same poses, origins, defocus and half sets.
expect 0 "with the stacks' own poses" -- "$GARNER" export --stack "$d/s.h5" --star "$d/own.star"
check "export, own poses: one STAR row per particle" -- test "$(grep -c '@own.mrcs ' "$d/own.star")" -eq 4
expect 0 "" -- "$GARNER" import --star "$d/own.star" --out "$d/own.h5"
# (the STAR file holds six decimals: the figures compared to five digits)
own_meta() {
    "$GARNER" info "$1" | grep -E '^  (half sets|rot_deg|tilt_deg|psi_deg|origin_|defocus_|pixels)' |
        awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/) $i = sprintf("%.5g", $i); print }'
}
check "export, own poses, import: the same poses, CTF, half sets and pixels" -- \
    test "$(own_meta "$d/s.h5")" = "$(own_meta "$d/own.h5")"
expect 64 "--stack and --star or --cs are required" -- "$GARNER" export --stack "$d/s.h5"
# Empty tables, as RELION leaves them (a loop_ with labels and no rows, one
# with no labels, a block with nothing), before, between and after the two
# blocks the import reads: the same particles.
{ printf 'data_model_empty\n\nloop_\n_rlnReferenceImage #1\n\n'
  sed '/^data_particles/i data_nolabels\n\nloop_\n\ndata_nothing\n' "$d/own.star"
  printf '\ndata_at_end\n\nloop_\n_rlnA #1\n_rlnB #2\n'; } > "$d/empties.star"
expect 0 "" -- "$GARNER" import --star "$d/empties.star" --out "$d/empties.h5"
check "import with empty tables around: the same particles" -- \
    test "$(own_meta "$d/own.h5")" = "$(own_meta "$d/empties.h5")"

# Optics group names STAR must quote (blanks, a leading quote, '_', '#',
# data_, loop_, empty) or need not (a quote inside): imported from a STAR
# file with the name quoted, exported, imported again: the same name. An
# unquoted name with a blank would make a row of the wrong length.
optics_name_is() { # STACK NAME: group 1 of the stack is called NAME
    "$GARNER" info "$1" | grep -qF -- "optics group 1       $2: "
}
for name in 'my group' '_under' '#hash' 'data_x' 'DATA_y' 'loop_' "it's" "'q" '' "a' b" 'b" c' 'tab	x'; do
    awk -v name="$name" 'BEGIN { q = index(name, "\047 ") ? "\"" : "\047" }
        $1 == "1" && $2 == "opticsGroup1" { $2 = q name q } { print }' "$d/own.star" > "$d/named.star"
    rm -f "$d/named.h5" "$d/named-out.star" "$d/named-out.mrcs" "$d/named-back.h5"
    "$GARNER" import --star "$d/named.star" --out "$d/named.h5" 2>/dev/null &&
        "$GARNER" export --stack "$d/named.h5" --star "$d/named-out.star" 2>/dev/null
    expect 0 "" -- "$GARNER" import --star "$d/named-out.star" --out "$d/named-back.h5"
    check "export, import: optics group name [$name] kept" -- optics_name_is "$d/named-back.h5" "$name"
    # garner's reader takes '_x' or 'data_x' for a label or block only as a
    # line's first field; other readers anywhere: quoted all the same.
    case $name in
    "it's") check "export: [$name] needs no quotes" -- grep -qF "1 $name 3.000000 " "$d/named-out.star" ;;
    *"' "*) check "export: [$name] in double quotes" -- grep -qF "1 \"$name\" 3.000000 " "$d/named-out.star" ;;
    *'" '*) check "export: [$name] in single quotes" -- grep -qF "1 '$name' 3.000000 " "$d/named-out.star" ;;
    *) check "export: [$name] in double quotes" -- grep -qF "1 \"$name\" 3.000000 " "$d/named-out.star" ;;
    esac
done

# fsc and pixel sizes: maps of 1.00 and 1.10 Å are refused naming both (a
# resolution on either scale would be wrong for the other); --angpix
# overrides both headers and says so; within 0.5 % they count as one; a
# header with no pixel size (cella 0) gives the resolution in pixels, with a
# warning naming the map, never in Å on an assumed scale.
expect 0 "" -- "$GARNER" phantom --symmetry C1 --box 16 --pixel-size 1.00 --out "$d/px100.mrc"
expect 0 "" -- "$GARNER" phantom --symmetry C1 --box 16 --pixel-size 1.10 --seed 2 --out "$d/px110.mrc"
expect 0 "" -- "$GARNER" phantom --symmetry C1 --box 16 --pixel-size 1.004 --seed 2 --out "$d/px1004.mrc"
expect 65 "$d/px100.mrc has 1 Å pixels and $d/px110.mrc 1.1 Å" -- "$GARNER" fsc "$d/px100.mrc" "$d/px110.mrc"
check "fsc refused: no resolution printed" -- test -z "$("$GARNER" fsc "$d/px100.mrc" "$d/px110.mrc" 2>/dev/null)"
expect 0 "--angpix: 1.05 Å pixels used for both maps" -- "$GARNER" fsc --angpix 1.05 "$d/px100.mrc" "$d/px110.mrc"
check "fsc --angpix 1.05: shell 1 at 16.8 Å" -- \
    sh -c "'$GARNER' fsc --angpix 1.05 '$d/px100.mrc' '$d/px110.mrc' 2>/dev/null | grep -q '^1,16.8000,'"
expect 64 "--angpix: expected a pixel size in Å > 0, got '0'" -- "$GARNER" fsc --angpix 0 "$d/px100.mrc" "$d/px110.mrc"
check "fsc within 0.5 %: accepted, on the mean pixel size (1.002 Å)" -- \
    sh -c "'$GARNER' fsc '$d/px100.mrc' '$d/px1004.mrc' | grep -q '^1,16.0320,'"
cp "$d/px100.mrc" "$d/px0.mrc"
poke_u32 "$d/px0.mrc" 40 00000000
expect 0 "$d/px0.mrc gives no pixel size (0 in its MRC header): resolution printed in pixels" -- \
    "$GARNER" fsc "$d/px0.mrc" "$d/px110.mrc"
check "fsc, no pixel size: resolution in px, not in Å" -- \
    sh -c "out=\$('$GARNER' fsc '$d/px0.mrc' '$d/px110.mrc' 2>/dev/null) && printf '%s\n' \"\$out\" | head -n 1 | grep -qx 'shell,resolution_px,fsc' && printf '%s\n' \"\$out\" | grep -q '^# resolution at FSC 0.143: [0-9.]* px\\( (.*)\\)\\{0,1\\}\$'"

# MRC2014 stack or volume: export writes its particles as an image stack
# (ispg 0, mz 1) even when there are as many as the box is wide (a cube, which
# the writer once took for a volume); a map is still a volume (ispg 1, mz = nz).
mrc_word() { # FILE WORD: the header word (little-endian int32)
    od -An -tu4 -j $((4 * $2)) -N4 "$1" | tr -d ' '
}
expect 0 "" -- "$GARNER" simulate --map "$d/px100.mrc" --count 16 --seed 5 --out "$d/cube.h5"
expect 0 "with the stacks' own poses" -- "$GARNER" export --stack "$d/cube.h5" --star "$d/cube.star"
check "export of 16 particles of 16 x 16: a stack (nz 16, mz 1, ispg 0)" -- \
    test "$(mrc_word "$d/cube.mrcs" 2) $(mrc_word "$d/cube.mrcs" 9) $(mrc_word "$d/cube.mrcs" 22)" = "16 1 0"
check "phantom's 16^3 map: a volume (mz 16, ispg 1)" -- \
    test "$(mrc_word "$d/px100.mrc" 9) $(mrc_word "$d/px100.mrc" 22)" = "16 1"

# [gpu]: a bad device list is one line naming the key; where no GPU can be
# used, auto falls back to the CPU (and says so), an explicit device is an
# error (69), and garner tune has nothing to tune (69). No output is left.
printf '[input]\nstacks = s.h5\n[output]\ndir = gpu-out\n[reconstruct]\nctf = no\n' > "$d/gpu.ini"
expect 64 "[gpu] devices: '0,x': expected auto, none, or device numbers" -- \
    "$GARNER" reconstruct "$d/gpu.ini" --set gpu.devices=0,x
if ! "$GARNER" --version | grep -q "CUDA runtime" || "$GARNER" --version | grep -q "no driver"; then
    expect 69 "[gpu] devices: GPU 0 asked for, but" -- "$GARNER" reconstruct "$d/gpu.ini" --set gpu.devices=0
    check "no output folder after the GPU error" -- test ! -e "$d/gpu-out"
    expect 69 "nothing to tune: [gpu] devices = auto found no GPU" -- "$GARNER" tune "$d/gpu.ini"
    expect 0 "insertion on the CPU: [gpu] devices = auto found no GPU" -- "$GARNER" reconstruct "$d/gpu.ini"
fi

finish
