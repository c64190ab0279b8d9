"""Store benchmark: ingest rows/s, embedding with the content-addressed cache, re-embed, size on disk.

1. `esmdb ingest` of each DMS dataset (paper layout: metadata CSV + FASTA, cross-checked) → rows/s.
2. `esmdb embed --dataset` of every dataset with a seeded random-weight ESM2-8M (same architecture and cost as
   the real one), counting forward passes: without the cache every variant row is one pass (what extract.py
   does per FASTA); with it only distinct, not-yet-cached sequences are.
3. The same embed again: must be 0 forward passes.
4. Store size on disk versus what fair-esm's extract.py writes for the same rows: one `.pt` per sequence with
   `--include mean bos per_tok` (and, for a like-for-like view, `mean bos` only). The `.pt` sizes are measured by
   torch.save of correctly shaped tensors for a sample of lengths, fitted linearly in length (torch's zip
   format is uncompressed, so the size depends on shapes only), and summed over all rows.

Usage: python benches/store_bench.py [--dms ../shared/data/dms] [--esmdb PATH] [--threads N] [--limit N]
Needs: the esmdb binary (default: $CARGO_TARGET_DIR/debug/esmdb, else target/debug/esmdb) and torch.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dms import read_fasta

ROOT = Path(__file__).resolve().parents[1]


def esmdb_bin(arg):
    if arg:
        return arg
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    return str(Path(target) / "debug" / "esmdb")


def run(cmd, env=None):
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{p.stderr}")
    return p.stderr, time.perf_counter() - t


def du(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())



def pt_size_model(dim, layers, include):
    """(a, b) with size(L) ≈ a + b·L bytes for one extract.py .pt, fitted on real torch.save output."""
    import torch

    sizes = []
    with tempfile.TemporaryDirectory() as d:
        for L in (50, 300, 1000):
            result = {"label": "X" * 20}
            if "per_tok" in include:
                result["representations"] = {l: torch.zeros(L, dim) for l in layers}
            if "mean" in include:
                result["mean_representations"] = {l: torch.zeros(dim) for l in layers}
            if "bos" in include:
                result["bos_representations"] = {l: torch.zeros(dim) for l in layers}
            p = Path(d) / f"{L}.pt"
            torch.save(result, p)
            sizes.append((L, p.stat().st_size))
    (l0, s0), (l1, s1) = sizes[0], sizes[2]
    b = (s1 - s0) / (l1 - l0)
    return s0 - b * l0, b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dms", default=str(ROOT.parent / "shared/data/dms"))
    ap.add_argument("--esmdb", default=None)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--limit", type=int, default=None, help="only the first N datasets")
    args = ap.parse_args()
    exe = esmdb_bin(args.esmdb)
    dms = Path(args.dms)
    names = sorted(p.name[: -len("_metadata.csv")] for p in dms.glob("*_metadata.csv"))[: args.limit]
    work = Path(tempfile.mkdtemp(prefix="esmdb-store-bench-"))
    store = str(work / "store")
    env = dict(os.environ, ESMDB_THREADS=str(args.threads))
    env.pop("ESMDB_STORE", None)

    print(f"# esmdb store benchmark — {len(names)} datasets from {dms}, binary {exe}, {args.threads} threads\n")
    print("| dataset | rows | distinct seqs | ingest s (in esmdb) | rows/s | process wall s | re-ingest added |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    total_rows, lengths = 0, []
    for n in names:
        csv, fasta = dms / f"{n}_metadata.csv", dms / f"{n}_muts.fasta"
        err, secs = run([exe, "ingest", "--store", store, "--dataset", n, str(csv), str(fasta)], env)
        rows = int(re.search(r"(\d+) rows read", err).group(1))
        inner = float(re.search(r"in ([\d.]+)s \(", err).group(1))
        err2, _ = run([exe, "ingest", "--store", store, "--dataset", n, str(csv), str(fasta)], env)
        added2 = int(re.search(r"(\d+) added", err2).group(1))
        recs = read_fasta(fasta)
        lengths += [len(s) for _, s in recs]
        total_rows += rows
        print(f"| {n} | {rows} | {len({s for _, s in recs})} | {inner:.2f} | {rows / inner:.0f} | {secs:.2f} | {added2} |")
    ingest_bytes = du(store)

    model = str(work / "esm2_t6_8M_UR50D")
    run([exe, "model", "init", "--arch", "esm2_t6_8M_UR50D", "--seed", "7", "--out", model], env)
    print("\n| embed (random ESM2-8M, layer 6, mean+bos) | variants | distinct | forward passes | cache hits | s |")
    print("|---|---:|---:|---:|---:|---:|")
    passes_total, t_total = 0, 0.0
    for rnd in ("first", "again"):
        for n in names:
            cmd = [exe, "embed", "--store", store, "--dataset", n, "--model", model, "--pool", "mean,bos"]
            err, secs = run(cmd, env)
            m = re.search(r"(\d+) variants, (\d+) distinct sequences; embedded (\d+), cache hits (\d+)", err)
            variants, distinct, embedded, hits = map(int, m.groups())
            if rnd == "first":
                passes_total += embedded
                t_total += secs
            print(f"| {rnd}: {n} | {variants} | {distinct} | {embedded} | {hits} | {secs:.1f} |")
            if rnd == "again":
                assert embedded == 0, f"re-embed of {n} made {embedded} forward passes"
    store_bytes = du(store)

    print(f"\nForward passes: {passes_total} with the cache vs {total_rows} without (one per variant row, as "
          f"extract.py per FASTA): {total_rows - passes_total} saved ({100 * (total_rows - passes_total) / total_rows:.1f}%); "
          f"re-embed: 0. Embedding time {t_total:.0f}s.")
    full = pt_size_model(320, [6], ("mean", "bos", "per_tok"))
    pooled = pt_size_model(320, [6], ("mean", "bos"))
    pt_full = sum(full[0] + full[1] * L for L in lengths)
    pt_pooled = sum(pooled[0] + pooled[1] * L for L in lengths)
    mib = 1 / 2**20
    print("\n| on disk | MiB | files |")
    print("|---|---:|---:|")
    print(f"| esmdb store after ingest | {ingest_bytes * mib:.1f} | {sum(1 for _ in Path(store).rglob('*') if _.is_file())} |")
    print(f"| esmdb store with mean+bos L6 cached | {store_bytes * mib:.1f} | |")
    print(f"| extract.py .pt, mean+bos+per_tok L6 | {pt_full * mib:.1f} | {len(lengths)} |")
    print(f"| extract.py .pt, mean+bos L6 | {pt_pooled * mib:.1f} | {len(lengths)} |")
    print(f"\n(store kept in {work})")


if __name__ == "__main__":
    main()
