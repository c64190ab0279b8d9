"""ProteinGym's own metrics per group, for tests/proteingym_metrics_parity.rs.

Input JSON: {"groups": {name: [[score or null, target or null, label], ...]}}; as the SQL aggregates do, a metric
leaves out the rows with a null among its own arguments (score and target, or score and label). Output JSON: {name: {"ndcg", "top_recall", "auc",
"mcc", "spearman", "ndcg_ties", "top_recall_25"}}, each a float or null where ProteinGym's value is NaN or an exception (its code
catches those for AUC and MCC and writes NaN).

The functions are ProteinGym's: `performance_DMS_benchmarks.py` of the installed `proteingym` wheel, loaded by path
(the package's `__init__.py` imports a module the wheel lacks). MCC and AUC are computed as its `main()` does.
`ndcg_ties` is calc_ndcg averaged over every order of the rows with tied scores, each order ranked with a stable
argsort: ProteinGym's own argsort is numpy's unstable default, so its value for tied scores of unequal gain is
whatever numpy's sort does; the mean over the orders is what esmdb's `ndcg` computes. Past MAX_ORDERS orders (a constant score) the mean is
taken in closed form instead — each row of a tied run equally likely at each of its ranks — which the script checks
against the enumeration wherever both are computed.
"""
import importlib.util
import itertools
import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import matthews_corrcoef, roc_auc_score

spec = importlib.util.find_spec("proteingym")
if spec is None or not spec.submodule_search_locations:
    sys.exit("the `proteingym` package is not installed in this venv: run scripts/setup")
path = Path(list(spec.submodule_search_locations)[0]) / "performance_DMS_benchmarks.py"
module_spec = importlib.util.spec_from_file_location("performance_DMS_benchmarks", path)
pg = importlib.util.module_from_spec(module_spec)
module_spec.loader.exec_module(pg)


def nan_to_none(v):
    v = float(v)
    return None if math.isnan(v) else v


def mcc(df):
    median_cutoff = df["score"].median()
    binary = df["score"].map(lambda x: 1 if x >= median_cutoff else 0)
    return matthews_corrcoef(y_true=df["label"], y_pred=binary)


def auc(df):
    try:
        return roc_auc_score(y_true=df["label"], y_score=df["score"])
    except ValueError:
        return float("nan")


# Beyond this many orders `ndcg_ties` is null (not enumerated).
MAX_ORDERS = 20000


def ndcg_closed_form(df):
    """The mean of calc_ndcg over the tied rows' orders, by linearity of expectation."""
    y_true, y_score = df["target"].to_numpy(), df["score"].to_numpy()
    n = len(y_true)
    k = int(np.floor(n * (10 / 100)))
    if k == 0:
        return 0.0
    gains = pg.minmax(y_true)
    order = np.argsort(-y_score, kind="stable")
    dcg, start = 0.0, 0
    while start < n:
        end = start
        while end < n and y_score[order[end]] == y_score[order[start]]:
            end += 1
        ranks = np.arange(start + 1, end + 1)
        expected_discount = np.sum(np.where(ranks <= k, 1 / np.log2(ranks + 1), 0.0)) / (end - start)
        dcg += np.sum(gains[order[start:end]]) * expected_discount
        start = end
    if dcg == 0:
        return 0.0
    ideal = np.sort(gains)[::-1][:k]
    idcg = np.sum(ideal / np.log2(np.arange(2, k + 2)))
    return dcg / idcg


def ndcg_over_tie_orders(df):
    """calc_ndcg (stable argsort) averaged over every order of the tied-score rows."""
    groups = [list(g.index) for _, g in df.groupby("score") if len(g) > 1]
    if math.prod(math.factorial(len(g)) for g in groups) > MAX_ORDERS:
        return ndcg_closed_form(df)
    orders = [list(itertools.permutations(g)) for g in groups]
    original = pg.np.argsort
    pg.np.argsort = lambda a, *args, **kw: original(a, kind="stable")
    try:
        values = []
        for choice in itertools.product(*orders) if orders else [()]:
            index = list(df.index)
            for group, perm in zip(groups, choice):
                positions = sorted(index.index(i) for i in group)
                for pos, i in zip(positions, perm):
                    index[pos] = i
            shuffled = df.loc[index]
            values.append(pg.calc_ndcg(shuffled["target"], shuffled["score"]))
        enumerated = float(np.mean(values))
        closed = ndcg_closed_form(df)
        if not (math.isnan(enumerated) and math.isnan(closed)) and abs(enumerated - closed) > 1e-12:
            sys.exit(f"the closed form {closed} differs from the enumeration {enumerated}")
        return enumerated
    finally:
        pg.np.argsort = original


data = json.load(open(sys.argv[1]))
out = {}
for name, rows in data["groups"].items():
    everything = pd.DataFrame(rows, columns=["score", "target", "label"])
    df = everything.dropna(subset=["score", "target"]).reset_index(drop=True)
    labelled = everything.dropna(subset=["score", "label"]).reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out[name] = {
            "ndcg": nan_to_none(pg.calc_ndcg(df["target"], df["score"])),
            "ndcg_ties": nan_to_none(ndcg_over_tie_orders(df)),
            "top_recall": nan_to_none(pg.calc_toprecall(df["target"], df["score"])),
            "top_recall_25": nan_to_none(pg.calc_toprecall(df["target"], df["score"], top_true=25, top_model=25)),
            "auc": nan_to_none(auc(labelled)),
            "mcc": nan_to_none(mcc(labelled)),
            "spearman": nan_to_none(spearmanr(df["target"], df["score"])[0]),
        }
json.dump(out, open(sys.argv[2], "w"))
