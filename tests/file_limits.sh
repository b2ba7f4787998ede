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

# An address-space limit (case 19, `ulimit -v 300M`): before, cuFFT and
# cuBLAS were linked and mapped ~600 MiB before main, so every command died
# in the dynamic loader (exit 127, no garner line). They are now loaded
# when a GPU first needs them: commands run, and reconstruct either runs or
# is refused in one garner line before MPI starts (UCX would abort inside
# MPI_Init with a backtrace). OpenBLAS, loaded at start, reserves its
# buffers per thread; one thread keeps the test's margin the same on every
# machine.
# AddressSanitizer reserves terabytes of address space and cannot run under
# ulimit -v (vlimit in tests/testlib.sh says so): skipped there.
if [ "$(vlimit 1)" = unlimited ]; then
    echo "skipped: the ulimit -v cases (AddressSanitizer build)"
else
    vlimited() { # KIB command...: under ulimit -v KIB, its stdout and stderr to $d/v.log
        kib=$1
        shift
        (ulimit -v "$kib" && OPENBLAS_NUM_THREADS=1 exec "$@") > "$d/v.log" 2>&1
    }
    vlimited 307200 "$GARNER" --version
    rc=$?
    check "--version under ulimit -v 300M: exit 0 (got $rc)" -- test "$rc" -eq 0
    check "--version: names the CUDA runtime or says there is none" -- grep -q "CUDA:" "$d/v.log"
    vlimited 307200 "$GARNER" simulate --map "$map" --count 50 --seed 4 --out "$d/v.h5"
    rc=$?
    check "simulate under ulimit -v 300M: exit 0 (got $rc)" -- test "$rc" -eq 0
    printf '[input]\nstacks = v.h5\n[output]\ndir = vout\n[reconstruct]\nthreads = 1\n' > "$d/v.ini"
    for kib in 307200 153600; do
        vlimited $kib "$GARNER" reconstruct "$d/v.ini"
        rc=$?
        if [ "$rc" -eq 0 ]; then
            check "reconstruct under ulimit -v $kib KiB ran: a map" -- test -s "$d/vout/map.mrc"
            rm -rf "$d/vout"
        else
            check "reconstruct under ulimit -v $kib KiB: exit below 128 (got $rc)" -- test "$rc" -lt 128
            check "reconstruct under ulimit -v $kib KiB: a garner error, no UCX abort" -- \
                sh -c "grep -q '^garner reconstruct: error: .*ulimit -v' '$d/v.log' && ! grep -q 'UCX\\|backtrace' '$d/v.log'"
            check "reconstruct under ulimit -v $kib KiB: no output" -- sh -c "! ls '$d' | grep -q '^vout'"
        fi
    done
    # 150 MiB leaves MPI too little on any machine: the refusal, not a run.
    check "reconstruct under ulimit -v 150M was refused before MPI" -- grep -q "MPI's start needs" "$d/v.log"
fi
finish
