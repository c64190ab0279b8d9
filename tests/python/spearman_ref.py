"""scipy's Spearman rho per group, for tests/spearman_parity.rs.

Input JSON: {"groups": {name: [[x or null, y or null], ...]}}. Output JSON: {name: rho or null}, where pairs with a
null are dropped (SQL aggregate semantics) and an undefined rho (fewer than two pairs, a constant side) is null.
"""
import json
import math
import sys
import warnings

from scipy.stats import spearmanr

data = json.load(open(sys.argv[1]))
out = {}
for name, pairs in data["groups"].items():
    kept = [(x, y) for x, y in pairs if x is not None and y is not None]
    if len(kept) < 2:
        out[name] = None
        continue
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho = float(spearmanr([p[0] for p in kept], [p[1] for p in kept]).statistic)
    out[name] = None if math.isnan(rho) else rho
json.dump(out, open(sys.argv[2], "w"))
