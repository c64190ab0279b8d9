#!/usr/bin/env python3
"""scikit-learn reference for esmdb-regress parity tests and benchmarks.

Usage: sklearn_ref.py REQUEST.json OUTPUT.json

The request names raw little-endian float64 files written by the Rust side:
  {"mode": "lassocv" | "protocol", "x": "x.bin", "y": "y.bin", "n": N, "p": P,
   "tol": 1e-4, "max_iter": 1000, "eps": 1e-3, "n_alphas": 100, "cv": 5,
   "folds": 5, "seed": 42, "threads": 1, "repeat": 1}

"lassocv" fits LassoCV on X, y. "protocol" runs the SWAT paper's reg_LassoCV.py protocol
(MinMaxScaler on all rows, KFold(folds, shuffle=True, random_state=seed), LassoCV per fold), with
esmdb's extensions as optional request fields:
  "model": "lassocv" (default) | "ols" (LinearRegression()) | "ridge" (Ridge(alpha=ridge_alpha)),
  "ridge_alpha": 1.0,
  "scale": "all" (default, the paper's) | "inside" (MinMaxScaler fitted on each training part) | "none",
  "outer_test_folds": [[row, ...], ...] (given test rows per fold, e.g. ProteinGym's position
  schemes; the training rows are the rest) instead of the shuffled KFold.
Each protocol fold reports its split, model (alpha, coef, intercept), predictions and metrics.
"seconds" is the best wall time of `repeat` fits, with BLAS/OpenMP pinned to `threads` and
LassoCV(n_jobs=n_jobs) (default: n_jobs = threads).
"""
import json
import sys
import time
import warnings

import numpy as np
from scipy.stats import spearmanr
from sklearn import metrics
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LassoCV, LinearRegression, Ridge
from sklearn.model_selection import KFold
from sklearn.preprocessing import MinMaxScaler
from threadpoolctl import threadpool_limits


def lassocv(req):
    kw = dict(max_iter=req.get("max_iter", 1000), tol=req.get("tol", 1e-4), eps=req.get("eps", 1e-3),
              cv=req.get("cv", 5), n_jobs=req.get("n_jobs", req.get("threads", 1)))
    if req.get("n_alphas", 100) != 100:
        kw["alphas"] = req["n_alphas"]
    return LassoCV(**kw)


def fit_lassocv(req, X, y):
    best, model = float("inf"), None
    for _ in range(req.get("repeat", 1)):
        model = lassocv(req)
        t0 = time.perf_counter()
        model.fit(X, y)
        best = min(best, time.perf_counter() - t0)
    inner = [t.tolist() for _, t in KFold(req.get("cv", 5)).split(X)]
    return {
        "seconds": best,
        "alpha": float(model.alpha_),
        "alphas": model.alphas_.tolist(),
        "mse_path": model.mse_path_.tolist(),
        "coef": model.coef_.tolist(),
        "intercept": float(model.intercept_),
        "n_iter": int(model.n_iter_),
        "dual_gap": float(model.dual_gap_),
        "inner_test_folds": inner,
    }


def regressor(req):
    model = req.get("model", "lassocv")
    if model == "lassocv":
        return lassocv(req)
    if model == "ols":
        return LinearRegression()
    if model == "ridge":
        return Ridge(alpha=req.get("ridge_alpha", 1.0))
    raise ValueError(f"unknown model {model!r}")


def outer_splits(req, n):
    given = req.get("outer_test_folds")
    if given is None:
        kf = KFold(n_splits=req.get("folds", 5), shuffle=True, random_state=req.get("seed", 42))
        return list(kf.split(np.zeros(n)))
    return [(np.setdiff1d(np.arange(n), test), np.asarray(test, dtype=np.int64)) for test in given]


def protocol(req, X, y):
    # scripts/reg_LassoCV.py of ziul-bio/SWAT, minus pandas.
    t0 = time.perf_counter()
    scale = req.get("scale", "all")
    if scale == "all":
        X = MinMaxScaler(feature_range=(0, 1)).fit_transform(X)
    folds = []
    for train, test in outer_splits(req, len(y)):
        X_train, X_test = X[train], X[test]
        if scale == "inside":
            scaler = MinMaxScaler(feature_range=(0, 1)).fit(X_train)
            X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        model = regressor(req)
        model.fit(X_train, y[train])
        pt, ps = model.predict(X_train), model.predict(X_test)
        fold = {
            "train": train.tolist(), "test": test.tolist(),
            "coef": model.coef_.tolist(), "intercept": float(model.intercept_),
            "pred_train": pt.tolist(), "pred_test": ps.tolist(),
            "n_nonzero": int(np.sum(model.coef_ != 0)),
            "r2_train": metrics.r2_score(y[train], pt), "r2_test": metrics.r2_score(y[test], ps),
            "mae_train": metrics.mean_absolute_error(y[train], pt),
            "mae_test": metrics.mean_absolute_error(y[test], ps),
            "rmse_train": float(np.sqrt(metrics.mean_squared_error(y[train], pt))),
            "rmse_test": float(np.sqrt(metrics.mean_squared_error(y[test], ps))),
            "rho_train": nan_to_none(spearmanr(y[train], pt).statistic),
            "rho_test": nan_to_none(spearmanr(y[test], ps).statistic),
        }
        if isinstance(model, LassoCV):
            fold.update({
                "inner_test_folds": [t.tolist() for _, t in KFold(req.get("cv", 5)).split(train)],
                "alpha": float(model.alpha_), "alphas": model.alphas_.tolist(),
            })
        else:
            fold["alpha"] = float(getattr(model, "alpha", 0.0))
        folds.append(fold)
    return {"seconds": time.perf_counter() - t0, "folds": folds}


def nan_to_none(v):
    v = float(v)
    return None if np.isnan(v) else v


def main():
    req_path, out_path = sys.argv[1], sys.argv[2]
    with open(req_path) as f:
        req = json.load(f)
    n, p = req["n"], req["p"]
    X = np.fromfile(req["x"], dtype="<f8").reshape(n, p)
    y = np.fromfile(req["y"], dtype="<f8")
    warnings.simplefilter("ignore", category=ConvergenceWarning)
    with threadpool_limits(limits=req.get("threads", 1)):
        if req["mode"] == "lassocv":
            out = fit_lassocv(req, X, y)
        else:
            # Best wall time of `repeat` runs, as fit_lassocv reports.
            runs = [protocol(req, X, y) for _ in range(req.get("repeat", 1))]
            out = min(runs, key=lambda r: r["seconds"])
    with open(out_path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
