#!/bin/sh
# Issue 18, case 21: a stack whose images are chunked badly (chunks much
# smaller than an image, or compressed chunks of many images larger than
# the chunk cache) read correctly but slowly, a 0.5 s run taking 35-81 s,
# without a word. Such a stack is legitimate: the map must be the same as
# from the well-chunked stack, bit for bit (the same pixels), and the run
# must warn once, naming the file and the h5repack command that fixes it.
. "${GAR_SRCDIR:-.}/tests/testlib.sh"
d=$(scratch chunk-layout)
command -v h5repack > /dev/null || { echo "SKIP: h5repack (hdf5-tools) not installed"; exit 77; }
expect 0 "" -- "$GARNER" simulate --map "$GAR_EXAMPLES/tii-64.mrc" --count 200 --snr 0.5 --seed 5 --out "$d/good.h5"
expect 0 "" -- h5repack -l /particles/images:CHUNK=1x4x4 "$d/good.h5" "$d/tiny.h5"
expect 0 "" -- h5repack -l /particles/images:CHUNK=200x64x64 -f /particles/images:GZIP=1 "$d/good.h5" "$d/whole.h5"
for s in good tiny whole; do
    printf '[input]\nstacks = %s.h5\n[output]\ndir = out-%s\n[reconstruct]\nthreads = 1\n' $s $s > "$d/$s.ini"
    expect 0 "" -- sh -c "\"$GARNER\" reconstruct \"$d/$s.ini\" > \"$d/$s.log\" 2>&1"
done
check "good chunks (one image each): no warning" -- sh -c "! grep -q 'warning' '$d/good.log'"
check "chunks of 4 x 4 pixels: one warning naming the file and the pieces" -- \
    test "$(grep -c "warning: .*tiny.h5: /particles/images is stored in chunks of 1 x 4 x 4, 256 to an image" "$d/tiny.log")" -eq 1
check "chunks of 4 x 4 pixels: the fix given" -- grep -q "h5repack -l /particles/images:CHUNK=1x64x64 .*tiny.h5 NEW.h5" "$d/tiny.log"
check "compressed chunks of 200 images: one warning naming the file and the cache" -- \
    test "$(grep -c "warning: .*whole.h5: /particles/images is stored compressed in chunks of 200 images (3.1 MiB), larger than the 1.0 MiB chunk cache" "$d/whole.log")" -eq 1
check "chunks of 4 x 4 pixels: the same map" -- cmp "$d/out-good/map.mrc" "$d/out-tiny/map.mrc"
check "compressed chunks of 200 images: the same map" -- cmp "$d/out-good/map.mrc" "$d/out-whole/map.mrc"
finish
