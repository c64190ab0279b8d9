"""SWAT's iDCT quantization (compressing_embeddings.py, from PROST), verbatim, on a matrix read from JSON.

Usage: idct_ref.py IN.json OUT.json  — IN holds {"emb": [[...], ...], "n": N, "m": M} (a per-residue matrix);
OUT gets {"q": [...]}: quant2D(emb, n, m) as integers.
"""
import json
import sys

import numpy as np
from scipy.fftpack import dct, idct


def scale(v):
    M = np.max(v)
    m = np.min(v)
    return (v - m) / float(M - m)


def iDCTquant(v, n):
    f = dct(v.T, type=2, norm='ortho')
    trans = idct(f[:, :n], type=2, norm='ortho')
    for i in range(len(trans)):
        trans[i] = scale(trans[i])
    return trans.T


def quant2D(emb, n=8, m=80):
    dct = iDCTquant(emb[1:len(emb) - 1], n)
    ddct = iDCTquant(dct.T, m).T
    ddct = ddct.reshape(n * m)
    return (ddct * 127).astype('int8')


src = json.load(open(sys.argv[1]))
q = quant2D(np.array(src["emb"], dtype=np.float64), src["n"], src["m"])
json.dump({"q": [int(v) for v in q]}, open(sys.argv[2], "w"))
