import numpy as np, time
from testtime.store.stopping import *
from testtime.store import stopping as S
rng=np.random.default_rng(0)
def make(P=100,N=64):
    A=np.zeros((P,N),int); C=np.zeros((P,N),bool)
    for p in range(P):
        q=rng.beta(0.3,3)
        for i in range(N):
            u=rng.random()
            if u<q: A[p,i]=0; C[p,i]=True
            elif u<q+0.1: A[p,i]=-1
            elif u<q+0.3: A[p,i]=1+rng.integers(0,3)
            else: A[p,i]=10+rng.integers(0,200)
    return A,C
A,C=make()
for rule in [BetaRule(0.95), SupermajorityRule(0.75), WindowRule(5), DirichletRule(0.95)]:
    S._chain.cache_clear()
    t0=time.time(); a,se,s,u,ex=stopping(A,C,64,rule,n_draws=2000); t1=time.time()
    a2,se2,s2,u2,ex2=stopping(A,C,16,rule,n_draws=2000); t2=time.time()
    print(type(rule).__name__, 'exact', ex.sum(), 'time', round(t1-t0,2), 'n=16', round(t2-t1,2), 'acc', a.mean().round(4), 'samples', s.mean().round(2), 'se', None if se is None else se.max().round(4))
