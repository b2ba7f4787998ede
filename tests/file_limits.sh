#!/bin/sh
# A full disk or a file-size limit (issue 18, cases 13, 15, 18), made with
# `ulimit -f`: every command says which file could not be written and why
# (the system's words), exits below 128, and leaves no temporary; before,
# SIGXFSZ killed the process with its .tmp file left, or HDF5's exit handler
# crashed (139) after the error, or MPI_Init died before any line, and a
# failed checkpoint gave no reason.
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
d=$(scratch file_limits)
map="$GAR_EXAMPLES/tii-64.mrc"

# ulimit -f counts 512-byte blocks in dash, 1024-byte ones in bash: the
# limits below hold under either.
limited() { # KIB command...: the command under ulimit -f KIB, its stderr to $d/err
    kib=$1
    shift
    (ulimit -f "$kib" && exec "$@") 2> "$d/err"
}

limited 200 "$GARNER" simulate --map "$map" --count 400 --out "$d/sim.h5"
rc=$?
check "simulate over the limit: exit 74 (got $rc)" -- test "$rc" -eq 74
check "simulate: the file and the reason named" -- grep -q "sim.h5: /particles/images: writing particles .*File too large" "$d/err"
check "simulate: one line" -- test "$(wc -l < "$d/err")" -le 2
check "simulate: no stack, no temporary" -- sh -c "! ls '$d' | grep -q '^sim.h5'"

limited 200 "$GARNER" import --star "$GAR_TEST_DATA/relion-sim/particles.star" --out "$d/imp.h5"
rc=$?
check "import over the limit: exit 74 (got $rc)" -- test "$rc" -eq 74
check "import: the reason named" -- grep -q "imp.h5: .*File too large" "$d/err"
check "import: no stack, no temporary" -- sh -c "! ls '$d' | grep -q '^imp.h5'"

# MPI itself needs files of tens of MiB: refused before it starts, one line.
expect 0 "" -- "$GARNER" simulate --map "$map" --count 200 --seed 2 --out "$d/s.h5"
printf '[input]\nstacks = s.h5\n[output]\ndir = out\n[reconstruct]\nthreads = 1\n' > "$d/r.ini"
limited 200 "$GARNER" reconstruct "$d/r.ini"
rc=$?
check "reconstruct under ulimit -f 200: exit 73 (got $rc)" -- test "$rc" -eq 73
check "reconstruct: one line naming the limit" -- grep -q "error: ulimit -f is [0-9]* KiB: MPI" "$d/err"
check "reconstruct: no output" -- sh -c "! ls '$d' | grep -q '^out'"

# A checkpoint larger than the limit (box 128, padded 256: about 200 MB of
# sums; the limit, 140000 blocks, is 68 or 137 MiB): the reason is given,
# nothing half-written is left.
expect 0 "" -- "$GARNER" phantom --symmetry C1 --box 128 --pixel-size 2 --out "$d/p128.mrc"
expect 0 "" -- "$GARNER" simulate --map "$d/p128.mrc" --count 300 --seed 3 --out "$d/b.h5"
printf '[input]\nstacks = b.h5\n[output]\ndir = big\n[reconstruct]\nthreads = 1\nbatch = 8\n[mpi]\nshard_size = 8\n' > "$d/b.ini"
(ulimit -f 140000 && GARNER_TEST_SHARD_DELAY=0.2 exec "$GARNER" reconstruct "$d/b.ini") > "$d/big.log" 2>&1 &
pid=$!
wait_for "$d/big.log" "300 particles, 128 px"
sleep 0.5
kill -USR1 $pid
wait $pid
rc=$?
check "checkpoint over the limit: exit 74 (got $rc)" -- test "$rc" -eq 74
check "checkpoint: the reason named" -- grep -q "writing the checkpoint failed (File too large)" "$d/big.log"
check "checkpoint: no checkpoint or temporary left" -- sh -c "! ls '$d' | grep -q 'checkpoint'"
check "checkpoint: no output folder" -- sh -c "! ls '$d' | grep -q '^big\$\|^big.partial'"
finish
