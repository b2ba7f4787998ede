#!/bin/sh
# The installed Lmod module file, loaded by Lmod as a site would: garner
# installed into a scratch prefix (make install prefix=DIR), its
# share/garner/modulefiles/garner.lua copied into a module tree as
# garner/VERSION.lua, `module load garner/VERSION`; then `garner` is the
# installed one, `pkg-config --cflags --libs garner` names the prefix's
# folders, and a C file including <garner/version.h> compiles through CPATH
# alone and a program calling the library links with those flags. Exit 77 (skip) where Lmod is not installed (scripts/install-deps
# installs it).
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
lmod_init=${LMOD_PKG:-/usr/share/lmod/lmod}/init/sh
[ -r "$lmod_init" ] || { echo "Lmod not installed ($lmod_init): skipped"; exit 77; }
command -v pkg-config >/dev/null 2>&1 || { echo "pkg-config not installed: skipped"; exit 77; }
builddir=${GAR_BUILDDIR:-.}
d=$(cd "$(scratch module)" && pwd)
prefix="$d/prefix"
# Under make check the outer make's flags (its jobserver, TESTS=...) are in
# the environment: the install is a make of its own.
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$builddir" install prefix="$prefix" > "$d/install.log" 2>&1; then
    cat "$d/install.log"
    echo "FAIL: make install prefix=$prefix"
    exit 1
fi
lua="$prefix/share/garner/modulefiles/garner.lua"
check "the module file is installed" -- test -s "$lua"
check "every folder in it expanded (no \${...}, no @VAR@)" -- sh -c "! grep -n '\\\${\\|@[A-Za-z_]*@' '$lua'"
version=$(sed -n 's/^whatis("Version: \(.*\)")$/\1/p' "$lua")
mkdir -p "$d/modules/garner"
cp "$lua" "$d/modules/garner/$version.lua"

# Lmod's functions are written for shells without set -u.
set +u
. "$lmod_init"
module use "$d/modules"
module load "garner/$version" 2> "$d/load.log"
loaded=$?
set -u
check "module load garner/$version succeeds" -- test "$loaded" -eq 0
cat "$d/load.log"
check "garner on PATH is the installed one" -- test "$(command -v garner)" = "$prefix/bin/garner"
check "GARNER_ROOT is the prefix" -- test "${GARNER_ROOT:-}" = "$prefix"
case ":${PKG_CONFIG_PATH:-}:" in *":$prefix/lib/pkgconfig:"*) in_path=0 ;; *) in_path=1 ;; esac
check "PKG_CONFIG_PATH holds $prefix/lib/pkgconfig" -- test "$in_path" -eq 0
flags=$(pkg-config --cflags --libs garner 2> "$d/pkg-config.err")
pc=$?
check "pkg-config --cflags --libs garner succeeds under the module" -- test "$pc" -eq 0
cat "$d/pkg-config.err"
echo "pkg-config --cflags --libs garner: $flags"
printf '#include <garner/version.h>\nint main(void) { return GAR_VERSION_MAJOR < 0; }\n' > "$d/v.c"
check "<garner/version.h> found through CPATH alone" -- ${GAR_CC:-cc} -c -o "$d/v.o" "$d/v.c"
# pkg-config leaves out -I and -L for folders already on CPATH and
# LIBRARY_PATH, as the module puts them there: what matters is that a
# program builds with its flags, against the installed archive.
printf '#include <stdio.h>\n#include <garner/status.h>\nint main(void) { puts(gar_status_name(GAR_OK)); return 0; }\n' > "$d/s.c"
# A sanitizer build's archives need the sanitizers' runtimes at link time
# (configure's LDFLAGS, which pkg-config does not give).
vlimit 1 > /dev/null
sanitize=""
[ "$gar_asan" = 1 ] && sanitize="-fsanitize=address,undefined"
# shellcheck disable=SC2086
check "a program calling libgarner builds with only those flags" -- ${GAR_CC:-cc} -o "$d/s" "$d/s.c" $flags $sanitize
check "and runs" -- "$d/s"
set +u
module unload garner
set -u
check "module unload takes garner off PATH" -- sh -c "! command -v garner | grep -qF '$prefix'"
finish
