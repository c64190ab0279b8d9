"""esmdb on a cluster against one process, in one run on one machine (issue 16's measurements).

1. Embedding: the same query over the five shared DMS datasets (the first --variants of each), a random ESM2-8M,
   in one process at 1 libtorch thread, then on a scheduler + 2 executors at 1 thread each (fresh stores, so both
   embed everything). Expect ~1.8-2x on 2 cores.
2. Overhead: the same query again on both (every vector cached): planning, task dispatch and shuffle only.
3. Cache commits: `esmdb embed --commit-every 1` against `--commit-every 256` over the same variants, on a local
   store and on moto's S3 (`moto_server`): the cost of one keyed-merge commit, hence commits per second per table.

Usage: python benches/cluster_bench.py [--variants 300] [--esmdb PATH] [--shared ../shared/data/dms]
"""
import argparse
import csv
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import run_timed

ROOT = Path(__file__).resolve().parent.parent
DATASETS = [
    "BLAT_ECOLX_Ostermeier2014",
    "BLAT_ECOLX_Tenaillon2013",
    "IF1_ECOLI",
    "SUMO1_HUMAN_Roth2017",
    "YAP1_HUMAN_Fields2012_singles",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not listen on {port}")


def subset(shared, out, n):
    """The first n variants of each dataset, paper layout (metadata CSV with sequences)."""
    out.mkdir(parents=True, exist_ok=True)
    tokens = 0
    for name in DATASETS:
        with open(shared / f"{name}_metadata.csv") as f:
            rows = list(csv.reader(f))
        header, body = rows[0], rows[1 : n + 1]
        seq = header.index("sequence")
        tokens += sum(len(r[seq]) + 2 for r in body)
        with open(out / f"{name}_metadata.csv", "w", newline="") as f:
            csv.writer(f).writerows([header, *body])
    return tokens


def esmdb(binary, *args, env=None):
    o, e, wall, _ = run_timed([binary, *map(str, args)], env)
    return o, e, wall


def ingest(binary, store, data, env=None):
    for name in DATASETS:
        esmdb(binary, "ingest", "--store", store, "--dataset", name, data / f"{name}_metadata.csv", env=env)


class Cluster:
    """A scheduler and executors on loopback ports, stopped on exit."""

    def __init__(self, binary, executors, threads, logdir):
        self.port = free_port()
        self.procs = []
        self.procs.append(subprocess.Popen([binary, "scheduler", "--bind", f"127.0.0.1:{self.port}"],
                                           stdout=subprocess.DEVNULL, stderr=open(logdir / "scheduler.log", "w")))
        wait_port(self.port, "the scheduler")
        env = dict(os.environ, ESMDB_LOG="warn,ballista_executor::executor_server=info")
        logs = []
        for i in range(executors):
            log = logdir / f"executor{i}.log"
            logs.append(log)
            self.procs.append(subprocess.Popen(
                [binary, "executor", "--scheduler", f"127.0.0.1:{self.port}", "--threads", str(threads)],
                stdout=subprocess.DEVNULL, stderr=open(log, "w"), env=env))
        deadline = time.time() + 60
        while not all("registration succeed" in log.read_text() for log in logs):
            if time.time() > deadline:
                raise SystemExit("executors did not register")
            time.sleep(0.05)
        self.logs = logs

    def address(self):
        return f"127.0.0.1:{self.port}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
            p.wait()


def commit_cost(binary, store, data, model, env=None):
    """Seconds per cache commit: embed the first dataset with a commit per sequence and with one per 256."""
    name = "IF1_ECOLI"
    esmdb(binary, "ingest", "--store", store, "--dataset", name, data / f"{name}_metadata.csv", env=env)
    n = int(esmdb(binary, "sql", "--store", store, "--format", "csv",
                  "SELECT count(DISTINCT sequence) FROM variants", env=env)[0].splitlines()[1])
    times = {}
    for every, layer in [(256, -1), (1, -2)]:  # another layer: a fresh set of cache keys, same work
        _, _, wall = esmdb(binary, "embed", "--store", store, "--dataset", name, "--model", model,
                           "--layer", layer, "--commit-every", every, "--threads", 1, env=env)
        times[every] = wall
    commits = n  # one per sequence with --commit-every 1 (plus one at most with 256)
    return (times[1] - times[256]) / (commits - 1), n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", type=int, default=300, help="first N variants of each dataset")
    ap.add_argument("--esmdb", default=os.environ.get("ESMDB_BIN", str(ROOT / "target/debug/esmdb")))
    ap.add_argument("--shared", default=str(ROOT.parent / "shared/data/dms"))
    ap.add_argument("--commit-variants", type=int, default=120)
    args = ap.parse_args()
    binary = args.esmdb
    tmp = Path(tempfile.mkdtemp(prefix="esmdb-cluster-bench-"))
    tokens = subset(Path(args.shared), tmp / "dms", args.variants)
    model = tmp / "esm2_t6_8M_UR50D"
    esmdb(binary, "model", "init", "--arch", "esm2_t6_8M_UR50D", "--seed", 7, "--out", model)
    query = (f"SELECT count(v) AS n, round(sum(v[1]), 2) AS s FROM (SELECT compress_mean(esm2_embed(sequence, "
             f"'{model}')) AS v FROM variants)")
    one, many = tmp / "one", tmp / "cluster"
    ingest(binary, one, tmp / "dms")
    ingest(binary, many, tmp / "dms")
    print(f"{len(DATASETS)} datasets x first {args.variants} variants: {tokens} tokens; random ESM2-8M; "
          f"{os.cpu_count()} cores", flush=True)

    out1, _, t1 = esmdb(binary, "sql", "--store", one, "--threads", 1, "--format", "csv", query)
    out1c, _, t1c = esmdb(binary, "sql", "--store", one, "--threads", 1, "--format", "csv", query)
    with Cluster(binary, 2, 1, tmp) as cluster:
        out2, _, t2 = esmdb(binary, "sql", "--store", many, "--cluster", cluster.address(), "--format", "csv", query)
        out2c, _, t2c = esmdb(binary, "sql", "--store", many, "--cluster", cluster.address(), "--format", "csv",
                              query)
        shares = [sum(int(p.split(" embedded")[0].rsplit(" ", 1)[1]) for p in log.read_text().splitlines()
                      if " embedded, " in p) for log in cluster.logs]
    if out1.splitlines()[1].split(",")[0] != out2.splitlines()[1].split(",")[0]:
        raise SystemExit(f"different answers:\n{out1}\n{out2}")
    print(f"embedding, cold cache: one process (1 thread) {t1:.1f} s ({tokens / t1:.0f} tok/s); "
          f"scheduler + 2 executors (1 thread each) {t2:.1f} s ({tokens / t2:.0f} tok/s): {t1 / t2:.2f}x")
    print(f"  sequences embedded per executor: {shares}")
    print(f"fully cached: one process {t1c:.2f} s, cluster {t2c:.2f} s: overhead {t2c - t1c:+.2f} s per query")

    # Commit cost, local disk and moto's S3.
    commit_data = tmp / "commit-dms"
    subset(Path(args.shared), commit_data, args.commit_variants)
    local, n = commit_cost(binary, tmp / "commit-store", commit_data, model)
    print(f"cache commit (keyed merge), local disk: {local * 1000:.1f} ms ({1 / local:.0f} commits/s), "
          f"{n} commits of 1 vector", flush=True)
    moto = Path(sys.executable).with_name("moto_server")
    port = free_port()
    server = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_port(port, "moto")
        import urllib.request
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/bench", method="PUT")).read()
        env = dict(os.environ, AWS_ENDPOINT=f"http://127.0.0.1:{port}", AWS_ALLOW_HTTP="true",
                   AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1")
        s3, _ = commit_cost(binary, "s3://bench/commits", commit_data, model, env)
    finally:
        server.kill()
    print(f"cache commit (keyed merge), S3 (moto): {s3 * 1000:.1f} ms ({1 / s3:.0f} commits/s)")


if __name__ == "__main__":
    main()
