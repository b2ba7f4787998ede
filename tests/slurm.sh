#!/bin/bash
# A real Slurm on localhost: munged on a private socket, slurmctld and slurmd
# from a minimal slurm.conf written here (no systemd or cgroups needed), the
# example job submitted with `garner submit` (sbatch, srun --mpi=pmi2, 2
# ranks, one GPU), the map and the GPU binding's inputs checked, everything
# stopped. The node declares two fake GPUs in gres.conf (File=/dev/tty0 and
# /dev/tty1: Slurm only counts the files), so Slurm sets CUDA_VISIBLE_DEVICES
# as it would on a GPU node, with no hardware. Exit 77 (skip) where Slurm or
# munge is not installed or the daemons cannot start.
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
# About six minutes (one requeue is held by Slurm for two): run where asked
# (.ci/run asks once), skipped in other passes of the suite.
[ "${GAR_SLURM_TEST:-0}" = 1 ] || { echo "set GAR_SLURM_TEST=1 to run the Slurm test: skipped"; exit 77; }
for p in slurmctld slurmd munged sbatch squeue scontrol sinfo; do
    command -v $p >/dev/null 2>&1 || { echo "$p not installed: skipped"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "the test daemons run as root here: skipped"; exit 77; }
d=$(cd "$(scratch slurm)" && pwd)
host=$(hostname -s)
pids=""
stop_all() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    sleep 1
    for p in $pids; do kill -9 "$p" 2>/dev/null; done
}
trap stop_all EXIT
mkdir -p "$d/munge" "$d/state" "$d/spool"
dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 status=none
chmod 0400 "$d/munge/munge.key"
chmod 0700 "$d/munge"
munged --foreground --force --socket="$d/munge/munge.socket" --key-file="$d/munge/munge.key" \
    --pid-file="$d/munge/munged.pid" --log-file="$d/munge/munged.log" --seed-file="$d/munge/seed" \
    > "$d/munge/munged.out" 2>&1 &
pids="$pids $!"
port=$((17000 + $$ % 2000))
cat > "$d/slurm.conf" <<CONF
ClusterName=garnertest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$d/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$d/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=pmi2
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge=600
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) Gres=gpu:2 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
cat > "$d/gres.conf" <<CONF
AutoDetect=off
NodeName=$host Name=gpu File=/dev/tty0
NodeName=$host Name=gpu File=/dev/tty1
CONF
export SLURM_CONF="$d/slurm.conf"
sleep 1
slurmctld -D -c -f "$SLURM_CONF" > "$d/slurmctld.out" 2>&1 &
pids="$pids $!"
slurmd -D -f "$SLURM_CONF" > "$d/slurmd.out" 2>&1 &
pids="$pids $!"
up=0
for i in $(seq 1 30); do
    state=$(sinfo -h -o %t 2>/dev/null | head -n 1)
    case "$state" in idle*|mix*|alloc*) up=1; break ;; esac
    sleep 1
done
if [ $up -eq 0 ]; then
    echo "Slurm did not come up (node state '$state'): skipped"
    tail -n 5 "$d/slurmctld.log" "$d/slurmd.log" 2>/dev/null
    exit 77
fi
echo "slurm is up: node $host $state"

expect 0 "" -- "$GARNER" simulate --map "$GAR_EXAMPLES/tii-64.mrc" --count 600 --snr 1 --seed 9 --out "$d/s.h5"
printf '[input]\nstacks = s.h5\n[output]\ndir = out\n[reconstruct]\nthreads = 1\n[mpi]\nshard_size = 50\n' > "$d/run.ini"
export GARNER_TEMPLATE="$GAR_SRCDIR/scripts/garner.sbatch.in"
sub=$("$GARNER" submit "$d/run.ini" --nodes 1 --ranks-per-node 2 --gpus-per-node 1 --time 5 --job-name garner-test 2>&1)
echo "$sub"
job=$(printf '%s\n' "$sub" | sed -n 's/^Submitted batch job \([0-9]*\).*/\1/p')
check "sbatch accepted the job" -- test -n "$job"
for i in $(seq 1 180); do
    [ -n "$job" ] || break
    [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
    sleep 1
done
scontrol show job "$job" 2>/dev/null | grep -oE "JobState=[A-Z]+|ExitCode=[0-9:]+" | tr '\n' ' '
echo
check "job completed" -- sh -c "scontrol show job '$job' | grep -q 'JobState=COMPLETED'"
check "map produced" -- test -s "$d/out/map.mrc"
check "job log ends with the map and its resolution" -- grep -q "map: .*out/map.mrc, resolution" "$d/garner-$job.log"
check "the job ran 2 ranks under srun" -- grep -q "2 ranks (pid@host)" "$d/garner-$job.log"
# The job's one (fake) GPU is visible to both ranks of the node as device 0.
check "rank 1's node-local rank and its GPU from Slurm in the log" -- \
    grep -qE "rank 1 on .+: node-local rank 1 of 2, CUDA_VISIBLE_DEVICES=0\$" "$d/garner-$job.log"

# A job that reaches its time limit: Slurm signals USR1 two minutes before
# the 3-minute limit (its timer may send it up to a minute earlier), garner
# checkpoints and exits 75, the job is requeued and resumes, until it
# finishes with the map an uninterrupted run makes. The work is made to last
# 80 s on any machine: 20 shards with a 4 s pause after each
# (GARNER_TEST_SHARD_DELAY, which sbatch passes on to the job), so there is
# one checkpoint and one requeue (Slurm holds a requeued job about two minutes).
expect 0 "" -- "$GARNER" simulate --map "$GAR_EXAMPLES/tii-64.mrc" --count 300 --snr 1 --seed 10 --out "$d/slow.h5"
printf '[input]\nstacks = slow.h5\n[output]\ndir = slow\n[reconstruct]\nthreads = 1\nbatch = 15\n[mpi]\nshard_size = 15\n' > "$d/slow.ini"
sub=$(GARNER_TEST_SHARD_DELAY=4 "$GARNER" submit "$d/slow.ini" --nodes 1 --ranks-per-node 2 --time 3 --job-name garner-requeue 2>&1)
job=$(printf '%s\n' "$sub" | sed -n 's/^Submitted batch job \([0-9]*\).*/\1/p')
check "time-limit job accepted" -- test -n "$job"
for i in $(seq 1 900); do
    [ -n "$job" ] || break
    state=$(scontrol show job "$job" 2>/dev/null | grep -oE "JobState=[A-Z_]+")
    case "$state" in *COMPLETED|*FAILED|*CANCELLED|*TIMEOUT|*NODE_FAIL) break ;; esac
    sleep 1
done
scontrol show job "$job" 2>/dev/null | grep -oE "JobState=[A-Z]+|Restarts=[0-9]+|ExitCode=[0-9:]+" | tr '\n' ' '
echo
check "time-limit job completed" -- sh -c "scontrol show job '$job' | grep -q 'JobState=COMPLETED'"
check "it was requeued at least once" -- sh -c "scontrol show job '$job' | grep -qE 'Restarts=[1-9]'"
check "garner checkpointed at the signal and resumed" -- sh -c "grep -q 'requeueing job $job' '$d/garner-$job.log' && grep -q 'resuming from' '$d/garner-$job.log'"
expect 0 "resolution" -- "$GARNER" reconstruct "$d/slow.ini" --set output.dir="$d/slow-direct"
check "the resumed map equals an uninterrupted run (1e-6)" -- "$GAR_BUILDDIR/tests/compare_maps" "$d/slow-direct/map.mrc" "$d/slow/map.mrc" 1e-6
if [ "$failures" -ne 0 ]; then
    for f in "$d"/garner-*.log "$d/slurmctld.log" "$d/slurmd.log"; do
        [ -e "$f" ] && { echo "---- $f (last 30 lines)"; tail -n 30 "$f"; }
    done
fi
finish
