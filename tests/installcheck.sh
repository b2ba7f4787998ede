#!/bin/sh
# `make installcheck`: the installed public API as a user sees it. Builds the
# installed examples/api/reconstruct.c with nothing but
#   $CC reconstruct.c $(pkg-config --cflags --libs --static garner)
# against the installed garner.pc, simulates a small stack with the
# installed `garner simulate` from the installed tii-64.mrc, reconstructs it
# with the example and with the installed `garner reconstruct` (its defaults,
# CPU insertion), and requires the two map files to be identical byte for
# byte: the example uses garner reconstruct's settings, and the CPU
# insertion gives the same bits for any thread count and batch split.
# Then builds the installed examples/api/refine.c the same way (with MPI's
# include flags) and runs a one-iteration refinement of the same stack
# through <garner/refine.h>: it must finish with a map and no params.ini
# (it was handed a parameter set, not a file).
#
# Run by Makefile.am's installcheck-local, which sets:
#   CC, PKG_CONFIG               the compiler and pkg-config configure found
#   MPI_CFLAGS                   MPICH's include flags (the refinement example
#                                initialises MPI itself)
#   DESTDIR                      as given to make (may be empty)
#   GAR_PC_DIR, GAR_BINDIR, GAR_PKGDATADIR   the installation's folders
#                                (without DESTDIR)
# and takes a scratch folder as its argument.
set -eu
root=${DESTDIR:-}
rm -rf "$1"
mkdir -p "$1/pkgconfig"
d=$(cd "$1" && pwd)   # absolute: the parameter file's paths resolve against its folder
pc="$root$GAR_PC_DIR/garner.pc"
[ -f "$pc" ] || { echo "installcheck: $pc not installed (make install first, with the same prefix)" >&2; exit 1; }
if [ -n "$root" ]; then
    # A staged install: its garner.pc names the final prefix; point a copy at
    # the staging folder (every absolute folder variable gets DESTDIR).
    sed -e "s|^prefix=/|prefix=$root/|" -e "s|^exec_prefix=/|exec_prefix=$root/|" \
        -e "s|^libdir=/|libdir=$root/|" -e "s|^includedir=/|includedir=$root/|" "$pc" > "$d/pkgconfig/garner.pc"
    pcdir="$d/pkgconfig"
else
    pcdir="$GAR_PC_DIR"
fi
PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export PKG_CONFIG_PATH
garner="$root$GAR_BINDIR/garner"
example="$root$GAR_PKGDATADIR/api/reconstruct.c"

flags=$($PKG_CONFIG --cflags --libs --static garner)
echo "installcheck: $CC $example \$($PKG_CONFIG --cflags --libs --static garner)"
echo "  = $CC $example $flags"
# shellcheck disable=SC2086
$CC -o "$d/reconstruct" "$example" $flags

echo "installcheck: $garner simulate, 300 particles"
"$garner" simulate --map "$root$GAR_PKGDATADIR/tii-64.mrc" --count 300 --seed 3 --out "$d/s.h5" 2>"$d/simulate.log"
"$d/reconstruct" "$d/s.h5" "$d/api.mrc"
cat > "$d/run.ini" <<INI
[input]
stacks = $d/s.h5
[output]
dir = $d/run
[gpu]
devices = none
INI
"$garner" reconstruct "$d/run.ini" 2>"$d/reconstruct.log" || { cat "$d/reconstruct.log" >&2; exit 1; }
if cmp "$d/api.mrc" "$d/run/map.mrc"; then
    echo "installcheck: the example's map and garner reconstruct's map.mrc are identical"
else
    echo "installcheck: FAIL: $d/api.mrc differs from garner reconstruct's $d/run/map.mrc" >&2
    exit 1
fi

refine_example="$root$GAR_PKGDATADIR/api/refine.c"
echo "installcheck: $CC $refine_example \$($PKG_CONFIG --cflags --libs --static garner) $MPI_CFLAGS"
# shellcheck disable=SC2086
$CC -o "$d/refine" "$refine_example" $flags $MPI_CFLAGS
printf '[input]\nstacks = %s/s.h5\n[output]\ndir = %s/refined\n[refine]\ninitial_map = %s\niterations = 1\n[gpu]\ndevices = none\n' \
    "$d" "$d" "$root$GAR_PKGDATADIR/tii-64.mrc" > "$d/refine.ini"
"$d/refine" "$d/refine.ini" 2>"$d/refine.log" || { cat "$d/refine.log" >&2; exit 1; }
if [ -s "$d/refined/map.mrc" ] && [ -s "$d/refined/iter_001/poses.h5" ] && [ ! -e "$d/refined/params.ini" ]; then
    echo "installcheck: the refinement example wrote map.mrc and iter_001 (and no params.ini)"
else
    echo "installcheck: FAIL: the refinement example's outputs in $d/refined are not as expected" >&2
    exit 1
fi
