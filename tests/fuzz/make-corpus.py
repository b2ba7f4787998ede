#!/usr/bin/env python3
"""Write the seed corpora of garner's fuzz targets (tests/fuzz/corpus/TARGET/).

Run from the repository root: python3 tests/fuzz/make-corpus.py. The files are
committed; this script only documents how they were made, and remakes them
(it removes nothing: regression inputs added by hand stay). Seeds are small
valid inputs, which the fuzzer mutates, plus a few edge cases each."""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- MRC
def mrc(nx, ny, nz, mode=2, big=False, stamp=True, nsymbt=0, axes=(1, 2, 3), cella=None,
        data=None, mx=None, ispg=0, map_word=True):
    e = ">" if big else "<"
    h = bytearray(1024)
    struct.pack_into(e + "4i", h, 0, nx, ny, nz, mode)
    struct.pack_into(e + "3i", h, 28, mx if mx is not None else nx, ny, nz)
    c = cella if cella is not None else 1.5 * nx
    struct.pack_into(e + "3f", h, 40, c, 1.5 * ny, 1.5 * nz)
    struct.pack_into(e + "3f", h, 52, 90, 90, 90)
    struct.pack_into(e + "3i", h, 64, *axes)
    struct.pack_into(e + "i", h, 88, ispg)
    struct.pack_into(e + "i", h, 92, nsymbt)
    struct.pack_into(e + "i", h, 108, 20140)
    if map_word:
        h[208:212] = b"MAP "
    if stamp:
        h[212:214] = b"\x11\x11" if big else b"\x44\x44"
    struct.pack_into(e + "i", h, 220, 1)
    h[224:230] = b"garner"
    bpv = {0: 1, 1: 2, 2: 4, 6: 2, 12: 2}.get(mode, 4)
    if data is None:
        data = bytes((i * 37) & 0xFF for i in range(nx * ny * nz * bpv))
    return bytes(h) + b"\x00" * nsymbt + data


put("mrc", "float32-4x4x2.mrc", mrc(4, 4, 2))
put("mrc", "int8-6x4x1.mrc", mrc(6, 4, 1, mode=0))
put("mrc", "int16-big-endian.mrc", mrc(4, 2, 3, mode=1, big=True))
put("mrc", "uint16-no-stamp.mrc", mrc(2, 2, 2, mode=6, stamp=False))
put("mrc", "float16-nan-inf.mrc",
    mrc(2, 2, 1, mode=12, data=struct.pack("<4H", 0x7E00, 0x7C00, 0x3C00, 0x0001)))
put("mrc", "extended-header.mrc", mrc(2, 2, 2, nsymbt=96))
put("mrc", "axis-zero.mrc", mrc(2, 2, 1, axes=(0, 0, 0)))
put("mrc", "axis-3-2-1.mrc", mrc(2, 2, 1, axes=(3, 2, 1)))
put("mrc", "axis-1-1-3.mrc", mrc(2, 2, 1, axes=(1, 1, 3)))
# No MAP word (pre-2000 MRC) and a wild axis word: the file-kind sniffer once
# shifted 1u by it (undefined behaviour found by fuzz_mrc in CI).
put("mrc", "no-map-wild-axis.mrc", mrc(2, 2, 1, axes=(33554432, 1, 3), map_word=False))
# Other axis orders: a volume is reordered (x fastest), a stack refused.
put("mrc", "axis-3-1-2-volume.mrc", mrc(4, 3, 2, axes=(3, 1, 2), ispg=1))
put("mrc", "axis-2-1-3-int16-big.mrc", mrc(3, 2, 2, mode=1, big=True, axes=(2, 1, 3), ispg=1))
put("mrc", "axis-2-1-3-stack.mrcs", mrc(2, 2, 3, axes=(2, 1, 3)))
put("mrc", "mode-99.mrc", mrc(2, 2, 1, mode=99, data=b"\0" * 16))
put("mrc", "negative-nx.mrc", mrc(-5, 4, 1, data=b""))
put("mrc", "billion-sections.mrc", mrc(4, 4, 1000000000, data=b"\0" * 64))
put("mrc", "overflow-size.mrc", mrc(65536, 65536, 2147483647, data=b""))
put("mrc", "negative-pixel.mrc", mrc(2, 2, 1, cella=-3.0))
put("mrc", "nan-pixel.mrc", mrc(2, 2, 1, cella=float("nan")))
put("mrc", "mx-zero.mrc", mrc(2, 2, 1, mx=0))
put("mrc", "short-header.mrc", mrc(2, 2, 1)[:600])
for src, name in (("examples/tii-64.mrc", "tii-64-first-2048.mrc"),
                  ("tests/data/relion-sim/particles.mrcs", "relion-particles-first-2048.mrcs")):
    path = os.path.join(ROOT, "..", "..", "..", src)
    with open(path, "rb") as f:
        put("mrc", name, f.read(2048))

# ---------------------------------------------------------------- STAR
OPTICS = """
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
2 'group two' 3.000000 64 200.000000 2.000000 0.070000

"""
PARTICLES = """
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
000002@particles.mrcs 32.133900 137.334500 -53.44570 -0.28900 0.485000 23644.200000 23288.200000 44.230000 2 2
3@stacks/other.mrcs 88.0 45.1 -151.7 5.662 0.213 18507.7 18497.1 104.34 1 1
"""
put("star", "relion31.star", OPTICS + PARTICLES)
put("star", "crlf-bom.star", "\ufeff" + (OPTICS + PARTICLES).replace("\n", "\r\n"))
put("star", "pairs-block.star",
    "data_general\n_rlnImageSizeX 64\n_rlnImageSizeY 64\n_rlnMicrographPixelSize 1.06\n"
    "_rlnComment 'a quoted value, it''s fine'\n" + OPTICS + PARTICLES)
put("star", "pixel-origin.star", OPTICS + PARTICLES.replace("OriginXAngst", "OriginX")
    .replace("OriginYAngst", "OriginY"))
put("star", "no-subset-no-ctf.star", OPTICS + """
data_particles
loop_
_rlnImageName
_rlnAngleRot
_rlnAngleTilt
_rlnAnglePsi
1@a.mrcs 0 0 0
2@a.mrcs 10 20 30
2.000000@/abs/b.mrcs 1e1 -2.5e-1 0x10
""")
put("star", "missing-particles.star", OPTICS)
put("star", "short-row.star", OPTICS + PARTICLES.replace(" 96.440000 1 1\n", " 96.44\n", 1))
put("star", "unknown-optics-group.star", OPTICS + PARTICLES.replace(" 96.440000 1 1\n", " 96.44 7 1\n", 1))
put("star", "non-numeric-angle.star", OPTICS + PARTICLES.replace("-141.82410", "abc"))
put("star", "nan-defocus.star", OPTICS + PARTICLES.replace("17624.300000", "nan"))
put("star", "unterminated-quote.star", "data_x\nloop_\n_a\n'open\n")
put("star", "labels-no-rows.star", "data_x\nloop_\n_a\n_b\n")
put("star", "nul-byte.star", b"data_x\nloop_\n_a\n1\x002\n")
put("star", "row-after-blank.star", "data_x\nloop_\n_a\n1\n\n2\n")
put("star", "repeated-block.star", "data_x\n_a 1\ndata_x\n_a 2\n")
with open(os.path.join(ROOT, "..", "..", "data", "relion-sim", "particles.star"), "rb") as f:
    lines = f.read().split(b"\n")
put("star", "relion-sim-first-60-lines.star", b"\n".join(lines[:60]) + b"\n")

# ---------------------------------------------------------------- parameter files
EXAMPLE = """; garner example run
[input]
stacks = tii-64-sim.h5
nonfinite = error

[output]
dir = example-output
overwrite = yes

[reconstruct]
symmetry = C1
ctf = yes
pad = 2
reference = tii-64.mrc
"""
put("params", "example.ini", EXAMPLE)
put("params", "every-key.ini", """[input]
stacks = data/*.h5 more/session2_*.h5
    extra/hand\\ picked.h5   ; a comment
; a comment between continuation lines
    run\\[1\\].h5
nonfinite = SKIP
[ output ]
dir: ./run1 ; first try
overwrite = On
[reconstruct]
symmetry = d7
symmetry_mode = insert
ctf = false
pad = 4
blob_radius = 1.9
blob_alpha = 15
blob_order = 2
max_resolution = 7.5
threads = 0
batch = 65536
outer_mask = 1
reference = /abs/ref.mrc
""")
put("params", "with-set.ini", EXAMPLE + "\0output.dir=elsewhere\ninput.stacks=a.h5 b*.h5\n"
    "reconstruct.pad=3\noutput.dri=x\nreconstruct.blob_radius=nan\n")
put("params", "crlf-bom.ini", "\ufeff" + EXAMPLE.replace("\n", "\r\n"))
put("params", "empty-list-continued.ini", "[input]\nstacks =\n    a.h5\n\tb.h5\n[output]\ndir = x\n")
put("params", "duplicate-key.ini", "[output]\ndir = a\n[input]\nstacks = s.h5\n[output]\ndir = b\n")
put("params", "typos.ini", "[ouptut]\ndri = x\n")
put("params", "key-before-section.ini", "dir = x\n[output]\n")
put("params", "bad-values.ini", "[reconstruct]\npad = 0\nblob_radius = 1e400\nctf = maybe\n")
put("params", "indented-key.ini", "[input]\nstacks = a.h5\n    nonfinite = skip\n")
put("params", "long-line.ini", "[input]\nstacks = " + "a" * 250 + "\n")
put("params", "not-ini.ini", "[input\nstacks\n=\n")

# ---------------------------------------------------------------- stack recipes
# See tests/fuzz/fuzz_stack.c: the bytes are a recipe the harness turns into
# an HDF5 file. These make valid stacks (4 particles of 4 px, 1 optics group)
# with all columns, with only the required ones, and with wrong pieces.
def stack_recipe(all_columns=True, half=(0, 1, 0, 1), version=(1, 1, 0), images=True,
                 optics_pixel=1):
    b = bytearray([0x13, 0x04, 0x01])            # layout, n=4 m=1, box 4
    b += bytes(version)                           # format (fixed), format_version byte, value 1
    if images:
        b += bytes([0x00, 0x01, 0x00]) + bytes([0x40]) * 64   # shape, store, type, pixels
    else:
        b += bytes([0x00, 0xF0, 0x00])            # declared, never written
    for c in range(9):                            # the float columns
        if all_columns:
            b += bytes([0x80, 0x01, 0x01]) + bytes([0x80]) * 4
        else:
            b += bytes([0x00, 0x00])
    b += bytes([0x80, 0x01, 0x01]) + bytes(half)  # half_set
    b += bytes([0x80, 0x01, 0x01, 0, 0, 0, 0])    # optics_group = 1
    b += bytes([0x80, 0x01, 0x01, 0])             # /optics/optics_group = 1
    b += bytes([0x80, 0x01, 0x01, 12])            # name: 12 characters
    b += bytes([0x80, 0x01, 0x01, optics_pixel])  # pixel size 1.0
    b += bytes([0x80, 0x01, 0x01, 5])             # voltage 300
    b += bytes([0x80, 0x01, 0x01, 3])             # cs 2.7
    b += bytes([0x80, 0x01, 0x01, 4])             # amplitude contrast 0.1
    b += bytes([0x00])                            # image_size = box
    return bytes(b)


put("stack", "valid-all-columns", stack_recipe())
put("stack", "valid-required-only", stack_recipe(all_columns=False))
put("stack", "half-set-3", stack_recipe(half=(0, 1, 0x43, 1)))
put("stack", "format-version-2", stack_recipe(version=(1, 1, 0x42)))
put("stack", "format-version-missing", stack_recipe(version=(1, 0, 0)))
put("stack", "images-never-written", stack_recipe(images=False))
put("stack", "pixel-size-zero", stack_recipe(optics_pixel=0))
put("stack", "empty", b"")


def huge_images(store):
    """The valid recipe with /particles/images declared [2^36][4][4], never written."""
    b = bytearray(stack_recipe())
    b[6] = 155      # shape: a huge first dimension; the exponent is the byte after type
    b[7] = store    # 3: chunked, no filter; 2: deflate + Fletcher32
    return bytes(b)


put("stack", "images-declared-huge", huge_images(3))
put("stack", "images-declared-huge-deflate", huge_images(2))
