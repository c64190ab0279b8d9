"""esmdb against the paper's Python pipeline, measured in the same run on the same data and model.

Two benchmarks (issues "SQL over the store" and "esmdb reproduce"):

  sql        for each dataset: `esmdb ingest` + ONE `esmdb sql` query
             SELECT unnest(lasso_cv_eval(compress_mean(esm2_embed(sequence, M)), target, 'preset=P'
                                         ORDER BY input_row))
             FROM variants WHERE dataset = D
  reproduce  `esmdb reproduce --datasets DIR --models M --compress mean` over all the datasets at once

against benches/paper_pipeline.py (SWAT's extract -> compress -> reg_LassoCV, one process per step, fair-esm's
forward pass as extract_esm2.py runs it) for the same datasets. `sql` uses run_reg_Lasso.py's solver settings
(the `readme` preset) as its issue asks, `reproduce` the published reg_LassoCV.py settings; `--preset` overrides both. Both start cold: a fresh esmdb store (empty embedding cache) and fresh Python work directories. Reported:
wall time, peak RSS (the largest of the processes, from wait4), bytes on disk (the store vs. the .pt files plus the
pickles and CSVs), and the ratios. Both sides use the same seeded random-weight model and thread count.

Usage: python benches/compare.py {sql,reproduce} [--dms ../shared/data/dms] [--datasets A,B] [--threads 2]
       [--model-dir DIR | --arch esm2_t6_8M_UR50D] [--esmdb PATH] [--json-out FILE] [--engine fair-esm|hf]
       [--preset published|readme]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1 / (1024 * 1024)


def esmdb_bin(arg):
    if arg:
        return arg
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    return str(Path(target) / "debug" / "esmdb")


def run_rusage(cmd, env=None):
    """Like measured(), but reads the child's own rusage through wait4 (not the process group's)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    # Read pipes without letting Popen reap the child, then wait4 for its own rusage.
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{err.decode(errors='replace')}")
    return wall, usage.ru_maxrss / 1024, out.decode()


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def python_side(args, model_dir, names):
    out = Path(tempfile.mkdtemp(prefix="esmdb-bench-py-")) / "summary.json"
    cmd = [sys.executable, str(ROOT / "benches/paper_pipeline.py"), "--model-dir", model_dir, "--dms", args.dms,
           "--datasets", ",".join(names), "--threads", str(args.threads), "--json-out", str(out),
           "--engine", args.engine, "--preset", args.preset]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    summary = json.loads(out.read_text())
    s = summary["total"]
    disk = s["pt_bytes"] + s["pkl_bytes"] + s["csv_bytes"]
    r2 = {n: d["stages"]["regress_mean"]["r2_test"] for n, d in summary["datasets"].items()}
    return {"wall_s": wall, "peak_rss_mib": s["peak_rss_mib"], "disk_bytes": disk, "pt_files": s["pt_files"],
            "r2_test": r2}


def esmdb_sql_side(args, exe, model_dir, names, work):
    store = str(work / "store")
    env = dict(os.environ, ESMDB_THREADS=str(args.threads), ESMDB_PRECISION=args.precision, HF_HUB_OFFLINE="1")
    wall = 0.0
    rss = 0.0
    per = {}
    for name in names:
        files = [str(Path(args.dms) / f"{name}_metadata.csv"), str(Path(args.dms) / f"{name}_muts.fasta")]
        w1, r1, _ = run_rusage([exe, "ingest", "--store", store, "--dataset", name, *files], env)
        q = (f"SELECT r['fold'] AS fold, r['r2_test'] AS r2_test FROM (SELECT unnest(lasso_cv_eval("
             f"compress_mean(esm2_embed(sequence, '{model_dir}')), target, 'preset={args.preset}' "
             f"ORDER BY input_row)) AS r "
             f"FROM variants WHERE dataset = '{name}') ORDER BY fold")
        w2, r2, out = run_rusage([exe, "sql", "--store", store, "--format", "csv", q], env)
        per[name] = {"ingest_s": w1, "query_s": w2, "query_peak_rss_mib": r2,
                     "r2_test": [float(l.split(",")[1]) for l in out.strip().splitlines()[1:]]}
        wall += w1 + w2
        rss = max(rss, r1, r2)
    return {"wall_s": wall, "peak_rss_mib": rss, "disk_bytes": du(store), "datasets": per}


def esmdb_reproduce_side(args, exe, model_dir, names, work):
    data = work / "dms"
    data.mkdir()
    for name in names:
        for suffix in ("_metadata.csv", "_muts.fasta"):
            os.symlink(Path(args.dms).resolve() / f"{name}{suffix}", data / f"{name}{suffix}")
    store = str(work / "store")
    env = dict(os.environ, ESMDB_PRECISION=args.precision, HF_HUB_OFFLINE="1")
    cmd = [exe, "reproduce", "--store", store, "--datasets", str(data), "--models", model_dir, "--compress", "mean",
           "--out", str(work / "results"), "--threads", str(args.threads), "--protocol", f"preset={args.preset}"]
    wall, rss, _ = run_rusage(cmd, env)
    return {"wall_s": wall, "peak_rss_mib": rss, "disk_bytes": du(store),
            "results_bytes": du(work / "results"), "run": json.loads((work / "results/run.json").read_text())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["sql", "reproduce"])
    ap.add_argument("--dms", default=str(ROOT.parent / "shared/data/dms"))
    ap.add_argument("--datasets", default=None)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--model-dir", default=None)
    ap.add_argument("--arch", default="esm2_t6_8M_UR50D")
    ap.add_argument("--esmdb", default=None)
    ap.add_argument("--json-out", default=None)
    ap.add_argument("--engine", choices=("fair-esm", "hf"), default="fair-esm",
                    help="the Python side's forward pass: fair-esm as extract_esm2.py (default) or transformers")
    ap.add_argument("--preset", choices=("published", "readme"), default=None,
                    help="LassoCV settings on both sides; default: readme (run_reg_Lasso.py: max_iter=10000, "
                         "tol=1e-5) for sql, published (reg_LassoCV.py: 1000, 1e-2) for reproduce")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                    help="esmdb's forward-pass precision (the Python side always runs fp32, as the scripts do); "
                         "bf16 uses AMX where the CPU has it and reports how far its test R² moves")
    args = ap.parse_args()
    if args.preset is None:
        args.preset = "readme" if args.mode == "sql" else "published"
    exe = esmdb_bin(args.esmdb)
    if args.datasets:
        names = args.datasets.split(",")
    elif args.mode == "sql":
        names = ["BLAT_ECOLX_Ostermeier2014"]
    else:
        names = sorted(p.name[: -len("_metadata.csv")] for p in Path(args.dms).glob("*_metadata.csv"))
    work = Path(tempfile.mkdtemp(prefix="esmdb-bench-"))
    model_dir = args.model_dir
    if not model_dir:
        model_dir = str(work / args.arch)
        subprocess.run([exe, "model", "init", "--arch", args.arch, "--seed", "0", "--out", model_dir], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"{args.mode}: {', '.join(names)} with {args.arch} (random weights), {args.threads} threads, "
          f"esmdb {args.precision}", file=sys.stderr)
    ours = (esmdb_sql_side if args.mode == "sql" else esmdb_reproduce_side)(args, exe, model_dir, names, work)
    print(f"esmdb done in {ours['wall_s']:.1f}s", file=sys.stderr)
    theirs = python_side(args, model_dir, names)
    result = {
        "benchmark": args.mode, "datasets": names, "threads": args.threads, "precision": args.precision,
        "esmdb": ours, "python": theirs,
        "speedup": theirs["wall_s"] / ours["wall_s"],
        "memory_ratio": theirs["peak_rss_mib"] / ours["peak_rss_mib"],
        "disk_ratio": theirs["disk_bytes"] / max(ours["disk_bytes"], 1),
    }
    print(f"{'':<10}{'wall s':>10}{'peak RSS MiB':>14}{'disk MiB':>12}")
    for side in ("esmdb", "python"):
        r = result[side]
        print(f"{side:<10}{r['wall_s']:>10.1f}{r['peak_rss_mib']:>14.0f}{r['disk_bytes'] * MIB:>12.1f}")
    print(f"esmdb is {result['speedup']:.1f}x faster, uses {result['memory_ratio']:.1f}x less peak memory and "
          f"{result['disk_ratio']:.0f}x less disk")
    if args.mode == "sql":
        diffs = [abs(a - b) for n in names
                 for a, b in zip(ours["datasets"][n]["r2_test"], theirs["r2_test"][n], strict=True)]
        result["max_abs_r2_test_diff"] = max(diffs)
        print(f"per-fold test R², esmdb ({args.precision}) vs Python (fp32): max |difference| {max(diffs):.2e}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
