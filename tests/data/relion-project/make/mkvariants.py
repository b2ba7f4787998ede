import re, os, random, struct
src=open('Refine3D/job010/run_data.star').read()
part=src[src.index('data_particles'):]
labels=re.findall(r'^_(\w+)', part, re.M)
rows=[l.split() for l in part.splitlines() if l.strip() and not l.startswith(('_','data_','loop_','#'))]
assert len(rows)==24
col={l:i for i,l in enumerate(labels)}
def hdr(labs): return "loop_\n"+"".join("_%s #%d\n"%(l,i+1) for i,l in enumerate(labs))
OPT31="""# version 30001

data_optics

loop_
_rlnOpticsGroup #1
_rlnOpticsGroupName #2
_rlnAmplitudeContrast #3
_rlnSphericalAberration #4
_rlnVoltage #5
_rlnImagePixelSize #6
_rlnMicrographOriginalPixelSize #7
_rlnImageSize #8
_rlnImageDimensionality #9
_rlnCtfDataAreCtfPremultiplied #10
1 opticsGroup1 0.100000 2.700000 300.000000 3.000000 1.500000 64 2 %d


# version 30001

data_particles

"""
# Extract-style: autopick psi -999 only, micrograph/coords, FOM, class, ctf extras
os.makedirs('Extract/job007',exist_ok=True)
labs=["rlnCoordinateX","rlnCoordinateY","rlnClassNumber","rlnAutopickFigureOfMerit","rlnAnglePsi","rlnImageName","rlnMicrographName","rlnOpticsGroup","rlnCtfMaxResolution","rlnCtfFigureOfMerit","rlnDefocusU","rlnDefocusV","rlnDefocusAngle","rlnCtfBfactor","rlnCtfScalefactor","rlnPhaseShift"]
random.seed(5)
with open('Extract/job007/particles.star','w') as f:
    f.write(OPT31%0+hdr(labs))
    for r in rows:
        f.write("%.6f %.6f 1 %.6f -999.00000 %s MotionCorr/job002/Movies/mic1.mrc 1 %.6f %.6f %s %s %s 0.000000 1.000000 0.000000\n"%(
          random.uniform(100,3000),random.uniform(100,3000),random.uniform(0,3),r[col['rlnImageName']],random.uniform(3,6),random.uniform(0.05,0.2),
          r[col['rlnDefocusU']],r[col['rlnDefocusV']],r[col['rlnDefocusAngle']]))
# premultiplied
os.makedirs('Premultiplied',exist_ok=True)
txt=open('Extract/job007/particles.star').read()
open('Premultiplied/particles.star','w').write(txt.replace(" 64 2 0\n"," 64 2 1\n"))
# RELION 3.0 style
os.makedirs('Relion30',exist_ok=True)
labs30=["rlnImageName","rlnMicrographName","rlnVoltage","rlnDefocusU","rlnDefocusV","rlnDefocusAngle","rlnSphericalAberration","rlnAmplitudeContrast","rlnMagnification","rlnDetectorPixelSize","rlnCtfFigureOfMerit","rlnGroupNumber","rlnAngleRot","rlnAngleTilt","rlnAnglePsi","rlnOriginX","rlnOriginY","rlnClassNumber","rlnNormCorrection","rlnRandomSubset"]
with open('Relion30/particles.star','w') as f:
    f.write("\ndata_\n\n"+hdr(labs30))
    for i,r in enumerate(rows):
        ox=float(r[col['rlnOriginXAngst']])/3.0; oy=float(r[col['rlnOriginYAngst']])/3.0
        f.write("%s MotionCorr/job002/Movies/mic1.mrc 300.000000 %s %s %s 2.700000 0.100000 10000.000000 3.000000 0.100000 1 %s %s %s %.9f %.9f 1 1.000000 %d\n"%(
          r[col['rlnImageName']],r[col['rlnDefocusU']],r[col['rlnDefocusV']],r[col['rlnDefocusAngle']],
          r[col['rlnAngleRot']],r[col['rlnAngleTilt']],r[col['rlnAnglePsi']],ox,oy,1+i%2))
# no amplitude contrast (as relion_project writes without it)
os.makedirs('NoAmplitudeContrast',exist_ok=True)
s=src.replace("_rlnAmplitudeContrast #8 \n","")
s=re.sub(r"(2\.700000)\s+0\.100000 \n", r"\1 \n", s)
open('NoAmplitudeContrast/particles.star','w').write(s)
# six optics groups at 1.24 / 1.25
os.makedirs('SixOptics',exist_ok=True)
with open('SixOptics/particles.star','w') as f:
    f.write("data_optics\n\n"+hdr(["rlnOpticsGroup","rlnOpticsGroupName","rlnAmplitudeContrast","rlnSphericalAberration","rlnVoltage","rlnImagePixelSize","rlnImageSize","rlnImageDimensionality","rlnBeamTiltX","rlnBeamTiltY"]))
    for g in range(1,7):
        f.write("%d '%s' 0.1 2.7 300 %s 64 2 %.3f %.3f\n"%(g, "session %d"%((g+1)//2) if g%2 else "opticsGroup%d"%g, "1.240000" if g<=3 else "1.250000", 0.1*g, -0.05*g))
    f.write("\n\ndata_particles\n\n"+hdr(labels+["rlnRandomSubset"]))
    for i,r in enumerate(rows):
        r=list(r); r[col['rlnOpticsGroup']]=str(1+i//4)
        f.write(" ".join(r)+" %d\n"%(1+i%2))
