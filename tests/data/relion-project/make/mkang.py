import random, math
random.seed(17)
n=24
print("# version 30001\n\ndata_optics\n\nloop_\n_rlnOpticsGroup #1\n_rlnOpticsGroupName #2\n_rlnImagePixelSize #3\n_rlnImageSize #4\n_rlnImageDimensionality #5\n_rlnVoltage #6\n_rlnSphericalAberration #7\n_rlnAmplitudeContrast #8\n1 opticsGroup1 3.000000 64 2 300.0 2.7 0.1\n\n# version 30001\n\ndata_particles\n\nloop_")
labs=["rlnAngleRot","rlnAngleTilt","rlnAnglePsi","rlnOriginXAngst","rlnOriginYAngst","rlnDefocusU","rlnDefocusV","rlnDefocusAngle","rlnOpticsGroup","rlnImageName"]
for i,l in enumerate(labs): print("_%s #%d"%(l,i+1))
for i in range(n):
    rot=random.uniform(-180,180); tilt=math.degrees(math.acos(random.uniform(-1,1))); psi=random.uniform(-180,180)
    du=random.uniform(12000,25000); dv=du-random.uniform(0,400)
    print("%.4f %.4f %.4f %.3f %.3f %.1f %.1f %.2f 1 %06d@dummy.mrcs"%(rot,tilt,psi,random.uniform(-4,4),random.uniform(-4,4),du,dv,random.uniform(0,180),i+1))
