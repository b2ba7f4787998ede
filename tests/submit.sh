#!/bin/sh
# garner submit: the batch script it writes from the template (dry run), the
# site's fields and defaults, the parameter file refused before anything is
# written, and sbatch's own failure reported (a fake sbatch on PATH).
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
d=$(scratch submit)
# The stacks are not opened before the job, but they must exist.
: > "$d/s.h5"
printf '[input]\nstacks = s.h5\n[output]\ndir = out\n' > "$d/run.ini"
unset GARNER_SUBMIT_DEFAULTS
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
check "no empty #SBATCH lines without GPUs, partition, account, QOS, memory or constraint" -- sh -c "! grep -qE '^#SBATCH --[a-z-]+=\$' '$d/cpu.sbatch' && ! grep -q 'gpus-per-node\|partition\|account\|qos\|mem\|constraint' '$d/cpu.sbatch'"
check "no line left of the empty site blocks" -- sh -c "! grep -q '^@\|^\$' '$d/cpu.sbatch'"
check "cores per rank: 8 without [reconstruct] threads (Slurm would give 1)" -- grep -qx -- '#SBATCH --cpus-per-task=8' "$d/cpu.sbatch"
: > "$d/initial.mrc"
printf '[input]\nstacks = s.h5\n[output]\ndir = out\n[refine]\ninitial_map = initial.mrc\n' > "$d/refine.ini"
"$GARNER" submit "$d/refine.ini" --command refine --dry-run > "$d/refine.sbatch"
check "--command refine: runs garner refine and continues after a requeue" -- sh -c \
    "grep -q 'garner refine $(cd "$d" && pwd)/refine.ini' '$d/refine.sbatch' && grep -q 'resume=\"--continue\"' '$d/refine.sbatch' && ! grep -q -- '--resume' '$d/refine.sbatch'"
check "--command refine: bash accepts it" -- bash -n "$d/refine.sbatch"
expect 64 "--command 'frobnicate': expected reconstruct or refine" -- "$GARNER" submit "$d/run.ini" --command frobnicate --dry-run
expect 66 "nothing.ini" -- "$GARNER" submit "$d/nothing.ini" --dry-run

# ---- the site's fields ----
"$GARNER" submit "$d/run.ini" --account cryo-em --mem 64G --qos high --constraint 'a100&ib' \
    --sbatch-arg --mail-type=END --sbatch-arg=--exclusive --module mpich/4.1 --module "cuda/12.2" --dry-run > "$d/site.sbatch"
for line in '#SBATCH --account=cryo-em' '#SBATCH --mem=64G' '#SBATCH --qos=high' '#SBATCH --constraint=a100&ib' \
    '#SBATCH --mail-type=END' '#SBATCH --exclusive'; do
    check "$line" -- grep -qxF -- "$line" "$d/site.sbatch"
done
check "every #SBATCH line before the first command (sbatch reads no further)" -- sh -c \
    "awk '/^#SBATCH/ { if (cmd) bad = 1 } /^[^#]/ { cmd = 1 } END { exit bad }' '$d/site.sbatch'"
check "module load mpich/4.1, then cuda/12.2, before srun" -- sh -c \
    "grep -n \"^module load 'mpich/4.1'\" '$d/site.sbatch' | cut -d: -f1 > '$d/m1' && grep -n \"^module load 'cuda/12.2'\" '$d/site.sbatch' | cut -d: -f1 > '$d/m2' && grep -n '^srun' '$d/site.sbatch' | cut -d: -f1 > '$d/m3' && [ \$(cat '$d/m1') -lt \$(cat '$d/m2') ] && [ \$(cat '$d/m2') -lt \$(cat '$d/m3') ]"
check "bash accepts it" -- bash -n "$d/site.sbatch"
# The script run by bash with a fake module, srun and scontrol: the modules
# load in order and srun runs garner; a module that fails ends the job first.
mkdir -p "$d/bin"
printf '#!/bin/sh\necho "srun $*" >> "%s/job.log"\n' "$d" > "$d/bin/srun"
printf '#!/bin/sh\nexit 0\n' > "$d/bin/scontrol"
chmod +x "$d/bin/srun" "$d/bin/scontrol"
PATH="$d/bin:$PATH" SLURM_JOB_ID=7 bash -c "module() { echo \"module \$*\" >> '$d/job.log'; }; export -f module; bash '$d/site.sbatch'"
check "the job loads mpich/4.1, cuda/12.2, then runs srun garner reconstruct" -- sh -c \
    "head -n 3 '$d/job.log' | tr '\n' '|' | grep -qx 'module load mpich/4.1|module load cuda/12.2|srun --mpi=pmi2 --kill-on-bad-exit=1 .*garner reconstruct .*/run.ini|'"
rm -f "$d/job.log"
PATH="$d/bin:$PATH" SLURM_JOB_ID=7 bash -c "module() { echo \"module \$*\" >> '$d/job.log'; [ \"\$2\" != cuda/12.2 ]; }; export -f module; bash '$d/site.sbatch'" 2> "$d/job.err"
check "a module that fails to load ends the job before srun, saying which" -- sh -c \
    "! grep -q '^srun' '$d/job.log' && grep -qF 'garner job: module load cuda/12.2 failed' '$d/job.err'"
expect 64 "--sbatch-arg 'mail-type=END': expected one sbatch option" -- "$GARNER" submit "$d/run.ini" --sbatch-arg mail-type=END --dry-run

# ---- cores per rank ----
printf '[input]\nstacks = s.h5\n[output]\ndir = out\n[reconstruct]\nthreads = 24\n' > "$d/threads.ini"
"$GARNER" submit "$d/threads.ini" --dry-run > "$d/threads.sbatch"
check "cores per rank from [reconstruct] threads" -- grep -qx -- '#SBATCH --cpus-per-task=24' "$d/threads.sbatch"
"$GARNER" submit "$d/threads.ini" --cpus-per-task 0 --dry-run > "$d/cpus0.sbatch" 2> "$d/cpus0.err"
check "--cpus-per-task 0 leaves it to Slurm" -- sh -c "! grep -q cpus-per-task '$d/cpus0.sbatch'"
"$GARNER" submit "$d/threads.ini" --cpus-per-task 6 --dry-run > /dev/null 2> "$d/cpus6.err"
check "fewer cores than threads: a warning naming both" -- grep -qF "[reconstruct] threads = 24, but the job asks for 6 cores per rank" "$d/cpus6.err"

# ---- site defaults (GARNER_SUBMIT_DEFAULTS) ----
cat > "$d/site.conf" <<'CONF'
# our cluster
account = site-acct
partition = gpu
cpus-per-task = 12
sbatch-arg = --gres-flags=enforce-binding
module = mpich/4.1
setup = export OMP_PROC_BIND=close   # a shell line, kept whole
CONF
GARNER_SUBMIT_DEFAULTS="$d/site.conf" "$GARNER" submit "$d/run.ini" --account mine --module cuda/12.2 --dry-run > "$d/sitedef.sbatch"
check "site defaults fill what the command line leaves" -- sh -c \
    "grep -qx -- '#SBATCH --partition=gpu' '$d/sitedef.sbatch' && grep -qx -- '#SBATCH --cpus-per-task=12' '$d/sitedef.sbatch' && grep -qx -- '#SBATCH --gres-flags=enforce-binding' '$d/sitedef.sbatch'"
check "the command line overrides a site value" -- sh -c \
    "grep -qx -- '#SBATCH --account=mine' '$d/sitedef.sbatch' && ! grep -q site-acct '$d/sitedef.sbatch'"
check "site setup line, site module, then the command line's module" -- sh -c \
    "grep -qxF 'export OMP_PROC_BIND=close   # a shell line, kept whole' '$d/sitedef.sbatch' && grep '^module load' '$d/sitedef.sbatch' | tr '\n' '|' | grep -q \"^module load 'mpich/4.1'.*|module load 'cuda/12.2'\""
printf 'account = a\nacount = b\n' > "$d/typo.conf"
expect 64 "typo.conf:2: unknown key 'acount'" -- env GARNER_SUBMIT_DEFAULTS="$d/typo.conf" "$GARNER" submit "$d/run.ini" --dry-run
printf 'cpus-per-task = many\n' > "$d/nan.conf"
expect 64 "nan.conf:1: cpus-per-task = 'many': expected a whole number" -- env GARNER_SUBMIT_DEFAULTS="$d/nan.conf" "$GARNER" submit "$d/run.ini" --dry-run
expect 66 "absent.conf: No such file or directory (named by GARNER_SUBMIT_DEFAULTS)" -- env GARNER_SUBMIT_DEFAULTS="$d/absent.conf" "$GARNER" submit "$d/run.ini" --dry-run
# A site's own template without a place for a value given: refused, not dropped.
printf '#!/bin/bash\n#SBATCH --job-name=@JOB@\nsrun @GARNER@ @COMMAND@ @PARAMS@\n' > "$d/own.sbatch.in"
expect 65 "own.sbatch.in: the batch template has no @ACCOUNT@ field, so 'cryo-em' would be left out" -- \
    env GARNER_TEMPLATE="$d/own.sbatch.in" "$GARNER" submit "$d/run.ini" --account cryo-em --dry-run
check "--help names GARNER_TEMPLATE, GARNER_SUBMIT_DEFAULTS and the site options" -- sh -c \
    "'$GARNER' submit --help | grep -q GARNER_TEMPLATE && '$GARNER' submit --help | grep -q GARNER_SUBMIT_DEFAULTS && '$GARNER' submit --help | grep -q -- '--sbatch-arg'"

# ---- the parameter file, checked before anything is written ----
# A fake sbatch that records its calls: none may happen for a bad file.
printf '#!/bin/sh\necho "$@" >> "%s/sbatch.calls"\necho "Submitted batch job 4242"\n' "$d" > "$d/bin/sbatch"
chmod +x "$d/bin/sbatch"
printf '[input]\nstacks = s.h5\n[output]\ndir = out\n[reconstruct]\nblob_radious = 2\n' > "$d/typo.ini"
printf '[input]\nstacks = nothing*.h5\n[output]\ndir = out\n' > "$d/glob.ini"
for f in typo glob; do
    want=$("$GARNER" reconstruct "$d/$f.ini" 2>&1 >/dev/null | sed 's/^garner reconstruct: //')
    want_rc=$("$GARNER" reconstruct "$d/$f.ini" >/dev/null 2>&1; echo $?)
    got=$(PATH="$d/bin:$PATH" "$GARNER" submit "$d/$f.ini" 2>&1 >/dev/null | sed 's/^garner submit: //')
    got_rc=$(PATH="$d/bin:$PATH" "$GARNER" submit "$d/$f.ini" >/dev/null 2>&1; echo $?)
    echo "$f: reconstruct says '$want' (exit $want_rc); submit says '$got' (exit $got_rc)"
    check "$f.ini: submit refuses with reconstruct's own one-line error and exit code" -- \
        sh -c "[ -n '$want' ] && [ '$want' = '$got' ] && [ '$want_rc' = '$got_rc' ] && [ '$got_rc' -ne 0 ] && [ \$(printf '%s\n' '$got' | wc -l) -eq 1 ]"
    check "$f.ini: nothing written, nothing submitted" -- sh -c "[ ! -e '$d/$f.ini.sbatch' ] && [ ! -e '$d/sbatch.calls' ]"
done
expect 66 "glob.ini:2: [input] stacks: 'nothing*.h5' matches no file" -- "$GARNER" submit "$d/glob.ini" --dry-run
PATH="$d/bin:$PATH" "$GARNER" submit "$d/run.ini" --command refine > /dev/null 2> "$d/noinit.err"
check "refine without initial_map: refused (64) with refine's message, nothing written" -- sh -c \
    "grep -qF '[refine] initial_map: required key missing' '$d/noinit.err' && [ ! -e '$d/run.ini.sbatch' ] && [ ! -e '$d/sbatch.calls' ]"
expect 64 "[refine] initial_map: required key missing" -- "$GARNER" submit "$d/run.ini" --command refine
printf '[input]\nstacks = s.h5\n[output]\ndir = out\n[refine]\ninitial_map = absent.mrc\n' > "$d/nomap.ini"
expect 66 "nomap.ini:6: [refine] initial_map: " -- "$GARNER" submit "$d/nomap.ini" --command refine

# ---- sbatch ----
PATH="$d/bin:$PATH" "$GARNER" submit "$d/run.ini" --account cryo-em > "$d/submit.out" 2> "$d/submit.err"
rc=$?
check "submitted: exit 0, sbatch's own output passed on" -- sh -c "[ $rc -eq 0 ] && grep -qx 'Submitted batch job 4242' '$d/submit.out'"
check "sbatch given the script it wrote, complete" -- sh -c \
    "grep -qx \"\$(cd '$d' && pwd)/run.ini.sbatch\" '$d/sbatch.calls' && grep -qx -- '#SBATCH --account=cryo-em' '$d/run.ini.sbatch' && tail -n 1 '$d/run.ini.sbatch' | grep -qx 'exit \$rc'"
check "no temporary left beside it" -- sh -c "! ls '$d' | grep -q 'tmp-'"
printf '#!/bin/sh\necho "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified" >&2\nexit 3\n' > "$d/bin/sbatch"
expect 69 "exited with status 3: sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified" -- \
    env PATH="$d/bin:$PATH" "$GARNER" submit "$d/run.ini" --account nope
check "the script stays to submit by hand" -- grep -qx -- '#SBATCH --account=nope' "$d/run.ini.sbatch"
rm -f "$d/bin/sbatch"
expect 69 "cannot run sbatch: No such file or directory" -- env PATH="$d/bin" "$GARNER" submit "$d/run.ini"
finish
