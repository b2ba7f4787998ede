#!/bin/sh
# garner submit: the batch script it writes from the template (dry run).
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
d=$(scratch submit)
printf '[input]\nstacks = s.h5\n[output]\ndir = out\n' > "$d/run.ini"
export GARNER_TEMPLATE="$GAR_SRCDIR/scripts/garner.sbatch.in"
"$GARNER" submit "$d/run.ini" --nodes 4 --gpus-per-node 8 --cpus-per-task 32 --partition gpu --time 12:00:00 --dry-run > "$d/gpu.sbatch"
check "dry run exits 0" -- test -s "$d/gpu.sbatch"
check "starts with a shebang" -- sh -c "head -n 1 '$d/gpu.sbatch' | grep -q '^#!/bin/bash'"
check "nodes, GPUs, cores, partition, time" -- sh -c "grep -q -- '--nodes=4' '$d/gpu.sbatch' && grep -q -- '--gpus-per-node=8' '$d/gpu.sbatch' && grep -q -- '--cpus-per-task=32' '$d/gpu.sbatch' && grep -q -- '--partition=gpu' '$d/gpu.sbatch' && grep -q -- '--time=12:00:00' '$d/gpu.sbatch'"
check "signal two minutes before the limit, requeue, resume" -- sh -c "grep -q -- '--signal=B:USR1@120' '$d/gpu.sbatch' && grep -q -- '--requeue' '$d/gpu.sbatch' && grep -q 'scontrol requeue' '$d/gpu.sbatch' && grep -q -- '--resume' '$d/gpu.sbatch'"
check "srun --mpi=pmi2 --kill-on-bad-exit=1 with the parameter file" -- grep -q "srun --mpi=pmi2 --kill-on-bad-exit=1 .*garner reconstruct $(cd "$d" && pwd)/run.ini" "$d/gpu.sbatch"
check "no @FIELD@ left" -- sh -c "! grep -q '@[A-Z_]*@' '$d/gpu.sbatch'"
check "bash accepts it" -- bash -n "$d/gpu.sbatch"
check "several GPU nodes: one rank per GPU, so the master's node drives its GPUs" -- grep -q -- '--ntasks-per-node=8' "$d/gpu.sbatch"
"$GARNER" submit "$d/run.ini" --nodes 1 --gpus-per-node 8 --dry-run > "$d/gpu1.sbatch"
check "one GPU node: one rank drives them all" -- grep -q -- '--ntasks-per-node=1' "$d/gpu1.sbatch"
"$GARNER" submit "$d/run.ini" --dry-run > "$d/cpu.sbatch"
check "no empty #SBATCH lines without GPUs, cores or partition" -- sh -c "! grep -qE '^#SBATCH --[a-z-]+=\$' '$d/cpu.sbatch' && ! grep -q 'gpus-per-node\|partition\|cpus-per-task' '$d/cpu.sbatch'"
"$GARNER" submit "$d/run.ini" --command refine --dry-run > "$d/refine.sbatch"
check "--command refine: runs garner refine and continues after a requeue" -- sh -c \
    "grep -q 'garner refine $(cd "$d" && pwd)/run.ini' '$d/refine.sbatch' && grep -q 'resume=\"--continue\"' '$d/refine.sbatch' && ! grep -q -- '--resume' '$d/refine.sbatch'"
check "--command refine: bash accepts it" -- bash -n "$d/refine.sbatch"
expect 64 "--command 'frobnicate': expected reconstruct or refine" -- "$GARNER" submit "$d/run.ini" --command frobnicate --dry-run
expect 66 "nothing.ini" -- "$GARNER" submit "$d/nothing.ini" --dry-run
finish
