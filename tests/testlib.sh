# Shared shell helpers for garner's command-line tests (sourced).
# Each test writes under tests/tmp/<name>-$$ in the build tree.
set -u
GARNER=${GARNER:-./garner}
GAR_TEST_DATA=${GAR_TEST_DATA:-tests/data}
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

finish() {
    echo "$((checks - failures)) passed, $failures failed"
    [ "$failures" -eq 0 ]
}

# Write a little-endian 32-bit value at a byte offset of a file.
poke_u32() {
    file=$1 offset=$2 hex=$3 # hex as 8 digits, e.g. 3b9aca00
    b0=$(echo "$hex" | cut -c7-8) b1=$(echo "$hex" | cut -c5-6)
    b2=$(echo "$hex" | cut -c3-4) b3=$(echo "$hex" | cut -c1-2)
    printf "\\x$b0\\x$b1\\x$b2\\x$b3" | dd of="$file" bs=1 seek="$offset" conv=notrunc status=none
}
