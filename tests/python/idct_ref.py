"""SWAT's iDCT quantization (compressing_embeddings.py, from PROST), verbatim, on a matrix read from JSON.

Usage: idct_ref.py IN.json OUT.json  — IN holds {"emb": [[...], ...], "n": N, "m": M} (a per-residue matrix);
OUT gets {"q": [...], "real": [...]}: quant2D(emb, n, m) as integers, and the reals it truncated.
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
emb = np.array(src["emb"], dtype=np.float64)
q = quant2D(emb, src["n"], src["m"])
# The values quant2D truncates (its own steps, stopped before astype): a value one side truncates differently
# from the other must sit on an integer boundary.
real = iDCTquant(iDCTquant(emb[1:len(emb) - 1], src["n"]).T, src["m"]).T.reshape(src["n"] * src["m"]) * 127
json.dump({"q": [int(v) for v in q], "real": [float(v) for v in real]}, open(sys.argv[2], "w"))
