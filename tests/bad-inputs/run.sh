#!/bin/sh
# The catalogue of bad inputs: every case of cases.tsv must make garner stop
# with the expected exit code and one line of stderr holding the expected
# fragment, within the time and memory bounds below, without a crash or a
# sanitizer report, and leave no file behind (neither in the case's own
# folder nor among the shared inputs). docs/RELIABILITY.md lists the cases
# and the message each gets.
#
# cases.tsv: one case a line, four tab-separated columns
#   name   expected exit code   message fragment   command
# Lines starting with # and blank lines are ignored. In the command,
#   @GARNER@  the garner program        @DATA@  tests/data
#   @EXAMPLES@ examples (the example map tii-64.mrc)
#   @FIX@     the bad inputs made below (shared by all cases, read-only)
#   @TMP@     an empty folder of the case's own, also its working folder
#   @CASES@   tests/bad-inputs in the source tree (stored inputs)
#   @MKSTACK@ tests/make_test_stack (HDF5 stacks garner would never write)
# stand for quoted paths, so the command is plain sh.
#
# Bounds, per case: 60 s of wall-clock time (timeout), and 2 GiB of address
# space (ulimit -v). Under AddressSanitizer, which cannot run under an
# address-space limit, each single allocation is limited to 2 GiB instead.
#
# Run by `make check`, with GARNER, GAR_SRCDIR, GAR_BUILDDIR, GAR_TEST_DATA and
# GAR_EXAMPLES set; writes only under tests/tmp in the build tree. `run.sh NAME...` runs
# only the named cases.
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
GAR_SRCDIR=${GAR_SRCDIR:-.}
GAR_BUILDDIR=${GAR_BUILDDIR:-.}
CASES="$GAR_SRCDIR/tests/bad-inputs"
MKSTACK="$GAR_BUILDDIR/tests/make_test_stack"
time_limit=60
vm_kb=2097152
root=$(scratch bad-inputs)
root=$(cd "$root" && pwd)
FIX="$root/fixtures"
mkdir -p "$FIX"
export GARNER GAR_TEST_DATA GAR_EXAMPLES FIX CASES MKSTACK
case $GARNER in /*) ;; *) GARNER="$(pwd)/$GARNER" ;; esac
case $GAR_TEST_DATA in /*) ;; *) GAR_TEST_DATA="$(pwd)/$GAR_TEST_DATA" ;; esac
case $GAR_EXAMPLES in /*) ;; *) GAR_EXAMPLES="$(pwd)/$GAR_EXAMPLES" ;; esac
case $MKSTACK in /*) ;; *) MKSTACK="$(pwd)/$MKSTACK" ;; esac
limit=$(vlimit $vm_kb)
if [ "$limit" = unlimited ]; then
    ASAN_OPTIONS="max_allocation_size_mb=2048:allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    export ASAN_OPTIONS
fi

# ---------------------------------------------------------------- fixtures
die() { echo "bad-inputs: cannot make the inputs: $*"; exit 99; }

# MRC: the test map with one header word changed (word k at byte 4k).
map="$GAR_EXAMPLES/tii-64.mrc"
mrc() { # NAME WORD HEX8...
    name=$1 word=$2
    shift 2
    cp "$map" "$FIX/$name" || die "$name"
    for hex in "$@"; do
        poke_u32 "$FIX/$name" $((4 * word)) "$hex"
        word=$((word + 1))
    done
}
mrc neg-nx.mrc 0 fffffffb                         # nx = -5
mrc huge-ny.mrc 1 000186a0                        # ny = 100000
mrc billion-nz.mrc 2 3b9aca00                     # nz = 10^9 on a 1 MiB file
mrc overflow.mrc 0 00010000 00010000 7fffffff     # 65536 x 65536 x (2^31 - 1)
mrc mode99.mrc 3 00000063                         # mode 99
mrc axis113.mrc 16 00000001 00000001 00000003     # mapc,mapr,maps = 1,1,3
mrc neg-pixel.mrc 10 c3400000                     # cella x = -192 Å
mrc nan-pixel.mrc 10 7fc00000                     # cella x = NaN
mrc neg-nsymbt.mrc 23 fffffffc                    # nsymbt = -4
mrc nan-voxels.mrc 1300 7fc00000 7fc00000 7fc00000  # three NaN voxels in the data
mrc pixel15.mrc 10 42c00000 42c00000 42c00000     # cella 96 Å: 1.5 Å pixels for 3 Å particles
mrc pixel303.mrc 10 4341eb85 4341eb85 4341eb85     # cella 193.92 Å: 3.03 Å, 1 % off (0.5 % allowed)
mrc odd-cube.mrc 0 0000003f 0000003f 0000003f     # 63 x 63 x 63 (fits the file)
head -c 600000 "$map" > "$FIX/short.mrc"          # data block cut short
head -c 600 "$map" > "$FIX/header600.mrc"         # not even a header
printf 'not a map\n' > "$FIX/text.mrc"
mkfifo "$FIX/fifo" || die fifo                    # random access impossible; must not block
head -c 2000000 /dev/zero | tr '\000' ';' > "$FIX/huge.ini" || die huge.ini   # comments only, but 2 MB
ln -s "$GAR_TEST_DATA/relion-sim/particles.mrcs" "$FIX/particles.mrcs"   # 400 images of 64 x 64
# A stack (ispg 0) in axis order 2,1,3: only volumes are reordered.
cp "$GAR_TEST_DATA/relion-sim/particles.mrcs" "$FIX/stack213.mrcs" || die stack213.mrcs
poke_u32 "$FIX/stack213.mrcs" 64 00000002
poke_u32 "$FIX/stack213.mrcs" 68 00000001
# Other formats given as a map, by their magic bytes; a gzip'ed map cut short.
printf 'II*\000\010\000\000\000' > "$FIX/image.tif" && head -c 4096 /dev/zero >> "$FIX/image.tif" || die image.tif
printf '\050\265\057\375\000\000' > "$FIX/map.mrc.zst" && head -c 4096 /dev/zero >> "$FIX/map.mrc.zst" || die zst
gzip -c "$map" | head -c 20000 > "$FIX/cut.mrc.gz" || die cut.mrc.gz

# STAR: a valid RELION 3.1 file of 4 particles (images from particles.mrcs),
# then variants with one thing wrong each.
cat > "$FIX/good.star" <<'STAR' || die good.star
# version 30001

data_optics

loop_
_rlnOpticsGroup #1
_rlnOpticsGroupName #2
_rlnImagePixelSize #3
_rlnImageSize #4
_rlnVoltage #5
_rlnSphericalAberration #6
_rlnAmplitudeContrast #7
1 opticsGroup1 3.000000 64 300.000000 2.700000 0.100000

# version 30001

data_particles

loop_
_rlnImageName #1
_rlnAngleRot #2
_rlnAngleTilt #3
_rlnAnglePsi #4
_rlnOriginXAngst #5
_rlnOriginYAngst #6
_rlnDefocusU #7
_rlnDefocusV #8
_rlnDefocusAngle #9
_rlnOpticsGroup #10
_rlnRandomSubset #11
000001@particles.mrcs -141.82410 148.770400 -45.84260 -0.13200 -1.90800 17624.300000 17375.000000 96.440000 1 1
000002@particles.mrcs 32.133900 137.334500 -53.44570 -0.28900 0.485000 23644.200000 23288.200000 44.230000 1 2
000003@particles.mrcs -122.94140 145.457000 137.655200 -1.46100 -0.34200 16498.400000 16338.000000 96.440000 1 1
000004@particles.mrcs -54.05280 52.171500 -14.43070 2.013000 0.000000 20330.000000 20005.400000 150.970000 1 2
STAR
star() { # NAME SED-SCRIPT: good.star edited
    sed "$2" "$FIX/good.star" > "$FIX/$1" || die "$1"
}
star no-particles.star '/^data_particles/,$d'
star no-optics.star '1,/^1 opticsGroup1/d'
star short-row.star '/^000003@/s/ 96.440000 1 1$//'
star unknown-group.star '/^000002@/s/ 1 2$/ 7 2/'
star angle-abc.star '/^000001@/s/-141.82410/abc/'
star defocus-nan.star '/^000002@/s/23644.200000/nan/'
star defocus-negative.star '/^000004@/s/20330.000000/-20330.000000/'
star subset3.star '/^000003@/s/ 1 1$/ 1 3/'
star image-beyond.star 's/^000004@/000500@/'
star image-zero.star 's/^000001@/000000@/'
star missing-mrcs.star 's/^000002@particles.mrcs/000002@nowhere.mrcs/'
star quote.star "s/^1 opticsGroup1/1 'opticsGroup1/"
star dup-group.star '/^1 opticsGroup1/p'
star psi-mixed.star '/^000001@/s/ -45.84260 / -999 /'
star amp-contrast.star 's/ 2.700000 0.100000$/ 2.700000 1.500000/'
star no-rows.star '/^0000/d'
printf 'data_particles\nloop_\n_rlnImageName\n1@a.mrcs\0\n' > "$FIX/nul.star"
gzip -c "$FIX/good.star" | head -c 200 > "$FIX/cut.star.gz" || die cut.star.gz   # gzip'ed, cut short
: > "$FIX/empty.star"

# HDF5 stacks (tests/make_test_stack.c says what each mode changes).
for m in good badlen baddtype badrank nonsquare oddbox halfset3 badgroup nover newver notgarner posesformat \
    partialpose nandefocus nanpixel hugecount corrupt empty negdefocus hugedefocus farorigin box2 \
    vdsmissing vdsnodset vdscolumn elinkdangling onehalf; do
    "$MKSTACK" $m "$FIX/$m.h5" || die "$m.h5"
done
head -c 100000 "$FIX/good.h5" > "$FIX/truncated.h5"
printf 'not a stack\n' > "$FIX/text.h5"
# A cryoSPARC .cs file (a NumPy array) by its magic; only the kind matters.
printf '\223NUMPY\001\000v\000' > "$FIX/particles.cs" && head -c 4096 /dev/zero >> "$FIX/particles.cs" || die particles.cs
cp "$FIX/good.h5" "$FIX/existing.h5"
cp "$FIX/onehalf.h5" "$FIX/onehalf-copy.h5"

# Parameter files and folders.
params() { # NAME LINE...: a parameter file of these lines
    name=$1
    shift
    printf '%s\n' "$@" > "$FIX/$name" || die "$name"
}
params good.ini "[input]" "stacks = good.h5" "[output]" "dir = never-used" "[reconstruct]" "ctf = yes"
params dup.ini "[output]" "dir = a" "[input]" "stacks = good.h5" "[output]" "dir = b"
params typo.ini "[input]" "stacks = good.h5" "[output]" "dri = out"
params no-dir.ini "[input]" "stacks = good.h5"
params glob.ini "[input]" "stacks = nothing*.h5" "[output]" "dir = out"
params twice.ini "[input]" "stacks = good.h5 ./good.h5" "[output]" "dir = out"
params pad.ini "[input]" "stacks = good.h5" "[output]" "dir = out" "[reconstruct]" "pad = 9"
params blob-inf.ini "[input]" "stacks = good.h5" "[output]" "dir = out" "[reconstruct]" "blob_radius = inf"
params bool.ini "[input]" "stacks = good.h5" "[output]" "dir = out" "overwrite = perhaps"
params symmetry.ini "[input]" "stacks = good.h5" "[output]" "dir = out" "[reconstruct]" "symmetry = X5"
params gpu.ini "[input]" "stacks = good.h5" "[output]" "dir = out" "[gpu]" "devices = 0;1"
params before-section.ini "dir = out" "[input]" "stacks = good.h5"
params folder-stack.ini "[input]" "stacks = folder" "[output]" "dir = out"
params nandefocus.ini "[input]" "stacks = nandefocus.h5" "[output]" "dir = never-used"
params negdefocus.ini "[input]" "stacks = negdefocus.h5" "[output]" "dir = never-used"
params hugedefocus.ini "[input]" "stacks = hugedefocus.h5" "[output]" "dir = never-used"
params box2.ini "[input]" "stacks = box2.h5" "[output]" "dir = never-used"
params hugecount.ini "[input]" "stacks = hugecount.h5" "[output]" "dir = never-used"
params corrupt.ini "[input]" "stacks = corrupt.h5" "[output]" "dir = never-used"
params bad-reference.ini "[input]" "stacks = good.h5" "[output]" "dir = never-used" \
    "[reconstruct]" "reference = mode99.mrc"
params long.ini "[input]" "stacks = $(printf '%0250d' 0).h5"
# Reference maps whose header and size are right, but not their values or scale.
"$GARNER" simulate --map "$map" --count 8 --seed 1 --out "$FIX/sim64.h5" 2>/dev/null || die sim64.h5
params nan-reference.ini "[input]" "stacks = sim64.h5" "[output]" "dir = never-used" \
    "[reconstruct]" "reference = nan-voxels.mrc"
params pixel-reference.ini "[input]" "stacks = sim64.h5" "[output]" "dir = never-used" \
    "[reconstruct]" "reference = pixel15.mrc"
params pixel303-reference.ini "[input]" "stacks = sim64.h5" "[output]" "dir = never-used" \
    "[reconstruct]" "reference = pixel303.mrc"
params box-reference.ini "[input]" "stacks = sim64.h5" "[output]" "dir = never-used" \
    "[reconstruct]" "reference = odd-cube.mrc"
params onehalf.ini "[input]" "stacks = onehalf.h5" "[output]" "dir = never-used" "[reconstruct]" "ctf = yes"
params onehalf2.ini "[input]" "stacks = onehalf.h5 onehalf-copy.h5" "[output]" "dir = never-used"
params refine-fine.ini "[input]" "stacks = good.h5" "[output]" "dir = never-used" "[refine]" \
    "angular_step = 0.1" "local_search_below = 0"
params regress-escaped-space.ini "[input]" 'stacks = a\  good.h5' "[output]" "dir = never-used"
params regress-semicolon.ini "[input]" "stacks = good.h5" "[output]" "dir = never-used" \
    "[reconstruct]" "symmetry =;x"
mkdir -p "$FIX/folder" "$FIX/existing-out"
echo "an earlier run" > "$FIX/existing-out/map.mrc"
[ -f "$FIX/good.ini" ] || die "parameter files"

# ---------------------------------------------------------------- running
subst() { # TEXT PLACEHOLDER REPLACEMENT: every PLACEHOLDER in TEXT replaced
    s_text=$1 s_out=
    while :; do
        case $s_text in
        *"$2"*) s_out=$s_out${s_text%%"$2"*}$3; s_text=${s_text#*"$2"} ;;
        *) break ;;
        esac
    done
    printf '%s' "$s_out$s_text"
}

# Everything under the fixtures, with checksums: a case must not change it.
snapshot() {
    (cd "$FIX" && find . -print | LC_ALL=C sort && find . -type f -exec cksum {} + | LC_ALL=C sort)
}

tab=$(printf '\t')
passed=0 failed=0 seen=
before=$(snapshot)
while IFS="$tab" read -r name code fragment command; do
    case $name in '' | '#'*) continue ;; esac
    if [ $# -gt 0 ]; then
        case " $* " in *" $name "*) ;; *) continue ;; esac
    fi
    # limit-* cases test a refusal under the address-space limit itself,
    # which AddressSanitizer's builds run without (vlimit).
    case $limit:$name in unlimited:limit-*) echo "skip: $name: needs ulimit -v"; continue ;; esac
    case " $seen " in *" $name "*) echo "FAIL: $name: the name appears twice in cases.tsv"; failed=$((failed + 1)); continue ;; esac
    seen="$seen $name"
    CASE_TMP="$root/case-$name"
    mkdir -p "$CASE_TMP"
    export CASE_TMP
    cmd=$command
    for p in GARNER DATA EXAMPLES FIX TMP CASES MKSTACK; do
        case $p in DATA) v=GAR_TEST_DATA ;; EXAMPLES) v=GAR_EXAMPLES ;; TMP) v=CASE_TMP ;; *) v=$p ;; esac
        cmd=$(subst "$cmd" "@$p@" "\"\$$v\"")
    done
    err=$(cd "$CASE_TMP" && timeout -k 5 $time_limit sh -c "ulimit -v $limit && $cmd" 2>&1 >/dev/null)
    rc=$?
    why=
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        why="timed out after $time_limit s (or was killed)"
    elif [ $rc -ge 128 ]; then
        why="died of signal $((rc - 128))"
    elif [ "$rc" -ne "$code" ]; then
        why="exit $rc, expected $code"
    elif ! printf '%s\n' "$err" | grep -qF -- "$fragment"; then
        why="no stderr line holds '$fragment'"
    elif printf '%s\n' "$err" | grep -qE 'Sanitizer|runtime error:|HDF5-DIAG'; then
        why="a sanitizer report or an HDF5 error stack on stderr"
    elif [ -n "$(ls -A "$CASE_TMP")" ]; then
        why="left files behind: $(ls -A "$CASE_TMP" | tr '\n' ' ')"
    elif [ "$(snapshot)" != "$before" ]; then
        why="changed the shared inputs in $FIX"
        before=$(snapshot)
    fi
    if [ -z "$why" ]; then
        passed=$((passed + 1))
        echo "ok: $name: exit $rc: $(printf '%s\n' "$err" | grep -F -- "$fragment" | head -n 1)"
        rm -rf "$CASE_TMP"
    else
        failed=$((failed + 1))
        echo "FAIL: $name: $why"
        echo "      command: $command"
        printf '%s\n' "$err" | tail -n 5 | sed 's/^/      stderr: /'
    fi
done < "$CASES/cases.tsv"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ] || exit 1
rm -rf "$root"
