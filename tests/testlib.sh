# Shared shell helpers for garner's command-line tests (sourced).
# Each test writes under tests/tmp/<name>-$$ in the build tree.
set -u
GARNER=${GARNER:-./garner}
GAR_TEST_DATA=${GAR_TEST_DATA:-tests/data}
# The shipped example map (tii-64.mrc) is the tests' map too: one copy, in examples/.
GAR_EXAMPLES=${GAR_EXAMPLES:-${GAR_SRCDIR:-.}/examples}
failures=0
checks=0

scratch() {
    d="tests/tmp/$1-$$"
    rm -rf "$d"
    mkdir -p "$d"
    echo "$d"
}

# expect CODE FRAGMENT -- command...: the command exits with CODE and its
# stderr contains FRAGMENT (empty: anything) on a single line.
expect() {
    code=$1 fragment=$2
    shift 3
    checks=$((checks + 1))
    err=$("$@" 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" -ne "$code" ]; then
        echo "FAIL: exit $rc, expected $code: $*"
        echo "      stderr: $err"
        failures=$((failures + 1))
        return
    fi
    if [ -n "$fragment" ] && ! printf '%s\n' "$err" | grep -qF -- "$fragment"; then
        echo "FAIL: stderr lacks '$fragment': $*"
        echo "      stderr: $err"
        failures=$((failures + 1))
        return
    fi
    echo "ok: exit $rc: $*"
}

# check DESCRIPTION -- test command...: passes when the command succeeds.
check() {
    desc=$1
    shift 2
    checks=$((checks + 1))
    if "$@"; then
        echo "ok: $desc"
    else
        echo "FAIL: $desc"
        failures=$((failures + 1))
    fi
}

# wait_for FILE PATTERN [SECONDS]: wait until FILE has a line matching the
# extended regular expression PATTERN (default limit 60 s); false on timeout.
wait_for() {
    n=$(( ${3:-60} * 10 ))
    while [ $n -gt 0 ]; do
        grep -qE -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
        n=$((n - 1))
    done
    echo "timed out waiting for '$2' in $1"
    return 1
}

finish() {
    echo "$((checks - failures)) passed, $failures failed"
    [ "$failures" -eq 0 ]
}

# Write a little-endian 32-bit value at a byte offset of a file. The bytes go
# through octal escapes: POSIX printf (dash's, /bin/sh on Debian) has no \x.
poke_u32() {
    file=$1 offset=$2 hex=$3 # hex as 8 digits, e.g. 3b9aca00
    bytes=
    for k in 7 5 3 1; do
        bytes="$bytes\\$(printf '%03o' "0x$(echo "$hex" | cut -c$k-$((k + 1)))")"
    done
    printf "$bytes" | dd of="$file" bs=1 seek="$offset" conv=notrunc status=none
}

# The `ulimit -v` a memory-bounded command runs under, in KiB: the given bound
# normally, "unlimited" when $GARNER is built with AddressSanitizer, which
# reserves terabytes of address space at start and cannot run under any
# address-space limit (its own allocator limits what a single allocation may
# take instead).
vlimit() {
    if [ -z "${gar_asan+x}" ]; then
        if ASAN_OPTIONS=help=1 "$GARNER" --version 2>&1 | grep -q "flags for AddressSanitizer"; then
            gar_asan=1
        else
            gar_asan=0
        fi
    fi
    if [ "$gar_asan" = 1 ]; then echo unlimited; else echo "$1"; fi
}
