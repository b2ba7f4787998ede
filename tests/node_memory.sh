#!/bin/sh
# Issue 20: the memory preflight is node-aware. Ranks on one node share its
# memory (and Slurm's per-node --mem cgroup); before, each of three ranks
# compared its own need with the whole node's memory, all started, and the
# kernel's OOM killer ended the job. The node's memory is set with the test
# hook GARNER_TEST_NODE_MEMORY (src/gar_sysinfo.h), so that one rank's need
# fits and three ranks' do not: the run must be refused before any output,
# in one line that names the node's need and how many ranks fit.
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
d=$(scratch node-memory)
command -v mpiexec.mpich > /dev/null || { echo "SKIP: mpiexec.mpich not installed"; exit 77; }
expect 0 "" -- "$GARNER" simulate --map "$GAR_EXAMPLES/tii-64.mrc" --count 200 --seed 6 --out "$d/s.h5"
printf '[input]\nstacks = s.h5\n[output]\ndir = out\n[reconstruct]\nthreads = 1\n' > "$d/r.ini"
printf '[input]\nstacks = s.h5\n[output]\ndir = ref\n[refine]\ninitial_map = %s\ninitial_resolution = 30\niterations = 1\n[reconstruct]\nthreads = 1\n' \
    "$(cd "$GAR_EXAMPLES" && pwd)/tii-64.mrc" > "$d/ref.ini"

# Box 64, pad 2: a rank with exact sums needs up to about 35 MiB (rank 0,
# which makes the maps; a worker's fixed-point sums about 31), the node
# about 97 MiB for three; 60 MiB holds one rank, not three.
GARNER_TEST_NODE_MEMORY=60M mpiexec.mpich -n 3 "$GARNER" reconstruct "$d/r.ini" > "$d/three.log" 2>&1
rc=$?
check "reconstruct, 3 ranks on a node of 60 MiB: exit 71 (got $rc)" -- test "$rc" -eq 71
check "reconstruct: the node's need and the fit named" -- \
    grep -q "error: the 3 ranks on this node need [0-9.]* MiB together (up to [0-9.]* MiB each: box 64, padded 128, .*exact sums.*) but the node has 60.0 MiB (GARNER_TEST_NODE_MEMORY); 1 rank of this size fits: start fewer ranks per node" "$d/three.log"
check "reconstruct: said once" -- test "$(grep -c 'ranks on this node need' "$d/three.log")" -eq 1
# The refusal names the fallback, pad = 1, and where its cost in FSC is
# measured (docs/PERFORMANCE.md, "Memory at scale").
check "reconstruct: the fallback named" -- \
    grep -q 'or set \[reconstruct\] pad = 1 (the fallback: volumes an eighth of pad 2.s; its FSC cost in docs/PERFORMANCE.md, "Memory at scale")' "$d/three.log"
check "reconstruct: the resolution limit named as the other fallback" -- \
    grep -q 'a coarser \[reconstruct\] max_resolution (the volumes shrink with its cube)' "$d/three.log"
check "reconstruct: no output folder" -- sh -c "! ls '$d' | grep -q '^out'"

# A node smaller than the largest rank (rank 0, about 35 MiB): that rank's
# own need is refused, in its words (refine below checks the node's "not
# one rank fits").
GARNER_TEST_NODE_MEMORY=33M mpiexec.mpich -n 3 "$GARNER" reconstruct "$d/r.ini" > "$d/none.log" 2>&1
rc=$?
check "3 ranks on 33 MiB: exit 71 (got $rc)" -- test "$rc" -eq 71
check "3 ranks on 33 MiB: the rank's need refused, said so" -- \
    grep -q "error: this reconstruction needs [0-9.]* MiB (box 64, padded 128, batch 128, .*exact sums.*) but only 33.0 MiB is available (GARNER_TEST_NODE_MEMORY); set \[reconstruct\] pad = 1" "$d/none.log"

# One process on a node of 10 MiB: refused, naming the fallback; no folder.
GARNER_TEST_NODE_MEMORY=10M "$GARNER" reconstruct "$d/r.ini" > "$d/small.log" 2>&1
rc=$?
check "one process, 10 MiB: exit 71 (got $rc)" -- test "$rc" -eq 71
check "one process, 10 MiB: the need and the fallback named" -- \
    grep -q 'error: this reconstruction needs [0-9.]* MiB (box 64, padded 128, batch 128) but only 10.0 MiB is available (GARNER_TEST_NODE_MEMORY); set \[reconstruct\] pad = 1 (the fallback' "$d/small.log"
check "one process, 10 MiB: no output folder" -- sh -c "! ls '$d' | grep -q '^out'"

# The same node, one process: it fits, and runs.
expect 0 "" -- sh -c "GARNER_TEST_NODE_MEMORY=60M \"$GARNER\" reconstruct \"$d/r.ini\" > \"$d/one.log\" 2>&1"
check "one process on the same node: a map" -- test -s "$d/out/map.mrc"
# The run's log is kept in its folder (run.log, as RELION keeps run.out;
# issue 22, point 8): the lines from before the folder existed too.
check "run.log: the whole log, from the first line to the map line" -- \
    sh -c "grep -q 'particles, 64 px at 3 Å/px' '$d/out/run.log' && grep -q 'map: .*/out/map.mrc, resolution' '$d/out/run.log' && test \"\$(grep -c . '$d/out/run.log')\" -eq \"\$(grep -c '^garner reconstruct: ' '$d/one.log')\""
# On a node without an NVIDIA driver the log says so, not the CUDA runtime's
# "driver version is insufficient" (issue 22, point 8).
if "$GARNER" --version | grep -q "CUDA: CUDA runtime" && ! ldconfig -p 2>/dev/null | grep -q "libcuda.so.1"; then
    check "no driver: said in garner's words" -- grep -q "found no GPU (no usable GPU: no NVIDIA driver on this node (libcuda.so.1 not found))" "$d/one.log"
fi
rm -rf "$d/out"

# Three ranks without exact sums (about 88 MiB together) fit in 100 MiB: the log gives the node's total.
expect 0 "" -- sh -c "GARNER_TEST_NODE_MEMORY=100M mpiexec.mpich -n 3 \"$GARNER\" reconstruct \"$d/r.ini\" --set mpi.reproducible=no > \"$d/float.log\" 2>&1"
check "3 ranks, reproducible = no: a map" -- test -s "$d/out/map.mrc"
check "3 ranks: the log names the node's total" -- grep -q "MiB for the 3 ranks of rank 0's node)" "$d/float.log"

# refine checks the node at each iteration's start, iteration 1 before its folder.
GARNER_TEST_NODE_MEMORY=150M mpiexec.mpich -n 3 "$GARNER" refine "$d/ref.ini" > "$d/refine.log" 2>&1
rc=$?
check "refine, 3 ranks on a node of 150 MiB: exit 71 (got $rc)" -- test "$rc" -eq 71
check "refine: the node's need and the fit named" -- \
    grep -q "error: iteration 1: the 3 ranks on this node need [0-9.]* MiB together .* but the node has 150.0 MiB (GARNER_TEST_NODE_MEMORY); 1 rank of this size fits" "$d/refine.log"
check "refine: no output folder" -- sh -c "! ls '$d' | grep -q '^ref\$\|^ref.partial'"
# A node smaller than one rank's need (about 77 MiB): not "1 rank fits"
# (it said "1 ranks of this size fit" when the count was 0).
GARNER_TEST_NODE_MEMORY=70M mpiexec.mpich -n 3 "$GARNER" refine "$d/ref.ini" > "$d/refine-small.log" 2>&1
rc=$?
check "refine, 3 ranks on a node of 70 MiB: exit 71 (got $rc)" -- test "$rc" -eq 71
check "refine: a rank larger than the node: 'not one rank of this size fits'" -- \
    grep -q "but the node has 70.0 MiB (GARNER_TEST_NODE_MEMORY); not one rank of this size fits: raise \[refine\] angular_step" "$d/refine-small.log"
finish
