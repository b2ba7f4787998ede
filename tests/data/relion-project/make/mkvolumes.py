# The two 16^3 "subtomograms" of Volumes3D/ and their STAR files (run in the
# project folder). Gaussian noise, MRC2014 float32, ispg 1.
import struct, random
random.seed(3)
def mrc(path, n):
    h = bytearray(1024)
    struct.pack_into('<3i i 3i 3i 3f 3f 3i', h, 0, n, n, n, 2, 0, 0, 0, n, n, n,
                     n * 3.0, n * 3.0, n * 3.0, 90, 90, 90, 1, 2, 3)
    struct.pack_into('<i', h, 88, 1)
    struct.pack_into('<i', h, 104, 20140)
    h[208:212] = b'MAP '
    h[212:216] = bytes([0x44, 0x44, 0, 0])
    data = struct.pack('<%df' % (n ** 3), *[random.gauss(0, 1) for _ in range(n ** 3)])
    open(path, 'wb').write(bytes(h) + data)
for i in (1, 2):
    mrc('Volumes3D/sub%03d.mrc' % i, 16)
opt = """data_optics

loop_
_rlnOpticsGroup #1
_rlnOpticsGroupName #2
_rlnImagePixelSize #3
_rlnImageSize #4
_rlnImageDimensionality #5
_rlnVoltage #6
_rlnSphericalAberration #7
_rlnAmplitudeContrast #8
1 tomo 3.0 16 %d 300 2.7 0.1

data_particles

loop_
_rlnImageName #1
_rlnOpticsGroup #2
Volumes3D/sub001.mrc 1
Volumes3D/sub002.mrc 1
"""
open('Volumes3D/particles.star', 'w').write(opt % 3)
open('Volumes3D/no_dimensionality.star', 'w').write(
    (opt % 2).replace("_rlnImageDimensionality #5\n", "").replace(" 16 2 300", " 16 300")
    .replace("#6", "#5").replace("#7", "#6").replace("#8", "#7"))
