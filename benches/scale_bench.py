"""Scale benchmark: does a query cost what it asks, or what the store holds?

One store; a dataset `q` of 1,000 random 24-residue sequences whose vectors are cached (a 1-block random
ESM2-8M, 320 wide, or --dim 1280: a 1-block random ESM2-650M); then the cache grows by importing random vectors
of random sequences (`esmdb import`, Parquet) to each size of --sizes, ProteinGym's 2,465,767 variants the
largest. At each size, same process conditions, best of --repeat:

- import rate (vectors/s) of the step that reached the size;
- `esmdb sql` over the 1,000 cached sequences (`count(compress_mean(embed(sequence, M)))`), wall and peak RSS
  (process start and model load included);
- `esmdb embed --dataset q` (all hits: the cache check alone), wall;
- a miss batch: `esmdb embed --dataset` of 1,000 new sequences (forward passes included; they cost the same at
  every size, so what grows is the cache's overhead).

The ratio columns are each figure over its value at the smallest size: the target is <= 1.5 at 2.47 M.

Usage: python benches/scale_bench.py [--sizes 10000,100000,1000000,2465767] [--dim 320] [--repeat 3]
       [--esmdb PATH] [--work DIR] [--keep]
Needs: the esmdb binary (default: $CARGO_TARGET_DIR/debug/esmdb, else target/debug/esmdb), numpy and pyarrow.
Disk: about 1.4 KB per 320-wide vector (5.2 KB at 1280) in the store, plus the Parquet files while importing.
"""
import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import run_timed  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
AA = np.frombuffer(b"ACDEFGHIKLMNPQRSTVWY", dtype=np.uint8)
ARCH = {320: "esm2_t6_8M_UR50D", 1280: "esm2_t33_650M_UR50D"}


def esmdb_bin(arg):
    if arg:
        return arg
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    return str(Path(target) / "debug" / "esmdb")


def random_sequences(rng, n, length=24):
    """n random sequences of `length` residues (distinct with overwhelming probability: 20^24)."""
    codes = AA[rng.integers(0, 20, size=(n, length))]
    return [row.tobytes().decode() for row in codes]


def write_dataset(path, sequences, prefix):
    with open(path, "w") as f:
        f.write("id,sequence\n")
        for i, s in enumerate(sequences):
            f.write(f"{prefix}{i},{s}\n")


def write_vectors(path, sequences, dim, rng):
    values = rng.standard_normal((len(sequences), dim), dtype=np.float32)
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), dim)
    pq.write_table(pa.table({"sequence": sequences, "vector": vectors}), path, row_group_size=65536)


def best(cmd, env, repeat):
    """(best wall seconds, peak RSS MiB of that run) over `repeat` runs."""
    runs = [run_timed(cmd, env)[2:] for _ in range(repeat)]
    return min(runs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000,2465767")
    ap.add_argument("--dim", type=int, default=320, choices=sorted(ARCH))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--esmdb")
    ap.add_argument("--work", help="working directory (default: a new temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    ap.add_argument("--import-chunk", type=int, default=250_000, help="vectors per Parquet file imported")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    exe = esmdb_bin(args.esmdb)
    work = Path(args.work or tempfile.mkdtemp(prefix="esmdb-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    store, model = work / "store", work / "model"
    env = dict(os.environ, ESMDB_STORE=str(store), ESMDB_THREADS="2", ESMDB_LOG="error")
    rng = np.random.default_rng(7)
    try:
        run_timed([exe, "model", "init", "--arch", ARCH[args.dim], "--layers", "1", "--seed", "1", "--out", str(model)], env)
        q = random_sequences(rng, 1000)
        write_dataset(work / "q.csv", q, "q")
        run_timed([exe, "ingest", "--dataset", "q", str(work / "q.csv")], env)
        run_timed([exe, "embed", "--dataset", "q", "--model", str(model)], env)
        cached = 1000
        sql = (f"SELECT count(e) AS n FROM (SELECT compress_mean(embed(sequence, '{model}')) AS e "
               f"FROM variants WHERE dataset = 'q')")
        print(f"esmdb scale benchmark: {args.dim}-wide vectors, binary {exe}, {os.cpu_count()} cores", flush=True)
        print("| cached vectors | import (vectors/s) | SQL over 1,000 cached | its peak RSS | embed --dataset (all hits) "
              "| 1,000-sequence miss batch |", flush=True)
        print("|---:|---:|---:|---:|---:|---:|", flush=True)
        rows = []
        for size in sizes:
            rate = None
            if size > cached:
                n, imported, seconds = size - cached, 0, 0.0
                while imported < n:
                    m = min(args.import_chunk, n - imported)
                    part = work / "import.parquet"
                    write_vectors(part, random_sequences(rng, m), args.dim, rng)
                    # The import's own time (process start and model load included), not the file's writing.
                    seconds += run_timed([exe, "import", "--model", str(model), str(part)], env)[2]
                    imported += m
                cached = size
                rate = n / seconds
            wall_sql, rss_sql = best([exe, "sql", sql], env, args.repeat)
            wall_embed, _ = best([exe, "embed", "--dataset", "q", "--model", str(model)], env, args.repeat)
            miss = f"m{size}"
            write_dataset(work / f"{miss}.csv", random_sequences(rng, 1000), miss)
            run_timed([exe, "ingest", "--dataset", miss, str(work / f"{miss}.csv")], env)
            wall_miss = run_timed([exe, "embed", "--dataset", miss, "--model", str(model)], env)[2]
            cached += 1000
            rows.append((size, rate, wall_sql, rss_sql, wall_embed, wall_miss))
            base = rows[0]
            ratio = lambda i: f" ({rows[-1][i] / base[i]:.2f}×)"  # noqa: E731
            print(f"| {size:,} | {'' if rate is None else f'{rate:,.0f}'} | {wall_sql:.2f} s{ratio(2)} | "
                  f"{rss_sql:.0f} MiB | {wall_embed:.2f} s{ratio(4)} | {wall_miss:.2f} s{ratio(5)} |", flush=True)
        du = sum(f.stat().st_size for f in store.rglob("*") if f.is_file())
        print(f"store on disk: {du / 2**30:.2f} GiB for {cached:,} vectors", flush=True)
    finally:
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
