#!/bin/sh
# The public headers (src/include/garner/*.h, installed as <garner/...>):
# each is installed (listed in Makefile.am), includes only other public
# headers and system headers, and compiles on its own as C99 and, where a
# C++ compiler is found, as C++ (the extern "C" blocks), with nothing on the
# include path but the public folder: what a program built against an
# installed prefix sees.
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
d=$(scratch public-headers)
src=${GAR_SRCDIR:-.}
build=${GAR_BUILDDIR:-.}
cc=${GAR_CC:-cc}
cxx=$(command -v c++ || command -v g++ || true)
inc="-I$build/src/include -I$src/src/include"

headers=$(cd "$src/src/include/garner" && ls ./*.h | sed "s|^\./||" | grep -vx version.h)
[ -f "$build/src/include/garner/version.h" ] && headers="$headers version.h"
for h in $headers; do
    if [ "$h" = version.h ]; then
        path="$build/src/include/garner/$h"
        check "$h: installed (nodist_garnerinclude_HEADERS)" -- \
            grep -q "^nodist_garnerinclude_HEADERS = src/include/garner/$h" "$src/Makefile.am"
    else
        path="$src/src/include/garner/$h"
        check "$h: installed (garnerinclude_HEADERS in Makefile.am)" -- \
            grep -q "^	src/include/garner/$h" "$src/Makefile.am"
    fi
    # Every #include is <garner/NAME.h> of a public header, or a system header <...>.
    bad=$(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*//p' "$path" | while read -r what; do
        case $what in
        \<garner/*\>) n=${what#<garner/}; n=${n%>}
            [ -f "$src/src/include/garner/$n" ] || [ -f "$src/src/include/garner/$n.in" ] || echo "$what" ;;
        \<*\>) ;;
        *) echo "$what" ;;
        esac
    done)
    check "$h: includes only public and system headers${bad:+ (not: $bad)}" -- test -z "$bad"
    printf '#include <garner/%s>\n#include <garner/%s>\nint gar_header_test_dummy;\n' "$h" "$h" > "$d/use.c"
    check "$h: compiles alone as C99 (twice: include guard)" -- \
        "$cc" -std=c99 -pedantic-errors -Wall -Wextra -Werror -fsyntax-only $inc "$d/use.c"
    if [ -n "$cxx" ]; then
        cp "$d/use.c" "$d/use.cc"
        check "$h: compiles alone as C++" -- \
            "$cxx" -std=c++11 -pedantic-errors -Wall -Wextra -Werror -fsyntax-only $inc "$d/use.cc"
    fi
done
finish
