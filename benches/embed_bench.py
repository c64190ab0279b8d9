"""Embedding throughput: esmdb vs Hugging Face transformers (eager, sdpa) vs esm-cpp, measured in one run.

Each engine runs in its own subprocess (so its peak RSS is its own), on the same sequences, the same thread
count and, for the fp32 comparison, the same batches (length-sorted, token budget). A second set (all DMS datasets
shuffled together) compares esmdb's length-sorted token-budget batching with HF sdpa fed fixed batches of 8 in input
order, as a typical script would. Also esmdb bf16 speed and its max |diff| against fp32.

Usage: python benches/embed_bench.py [--n 300] [--threads 2] [--archs esm2_t6_8M_UR50D,esm2_t12_35M_UR50D]
Needs: the esmdb binary (scripts/esmdb builds it), ../shared/data/dms (or --dms DIR), the project venv.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dms import read_fasta
from common import run, sorted_batches

ROOT = Path(__file__).resolve().parents[1]



def worker(args):
    """Runs one engine in this process and prints {"tokens", "seconds"} as JSON."""
    import torch

    torch.set_num_threads(args.threads)
    seqs = json.loads(Path(args.seqs).read_text())
    if args.batching == "sorted":
        batches = sorted_batches(seqs, args.batch_tokens)
    else:
        batches = [list(range(i, min(i + 8, len(seqs)))) for i in range(0, len(seqs), 8)]
    tokens = sum(len(s) + 2 for s in seqs)
    if args.engine.startswith("hf-"):
        import esm
        from transformers import EsmModel

        model = EsmModel.from_pretrained(
            args.model, add_pooling_layer=False, attn_implementation=args.engine[3:], torch_dtype=torch.float32
        ).eval()
        conv = esm.data.Alphabet.from_architecture("ESM-1b").get_batch_converter()
        t0 = time.perf_counter()
        with torch.inference_mode():
            for b in batches:
                _, _, toks = conv([(str(i), seqs[i]) for i in b])
                out = model(input_ids=toks, attention_mask=toks.ne(1)).last_hidden_state
                mask = torch.zeros(toks.shape, dtype=torch.float32)
                for r, i in enumerate(b):
                    mask[r, 1 : len(seqs[i]) + 1] = 1
                (out * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        secs = time.perf_counter() - t0
    elif args.engine == "esm-cpp":
        import esm_cpp

        model = esm_cpp.Model.load_from_safetensors(str(Path(args.model) / "model.safetensors"))
        tok = esm_cpp.Tokenizer()
        t0 = time.perf_counter()
        for b in batches:
            model.forward_scheduled([tok.encode(seqs[i]) for i in b])
        secs = time.perf_counter() - t0
    else:
        raise SystemExit(f"unknown engine {args.engine}")
    print(json.dumps({"tokens": tokens, "seconds": secs}))


def esmdb_run(esmdb, model, fasta, threads, budget, precision="fp32"):
    out = str(Path(fasta).with_suffix(f".{Path(model).name}.{precision}.parquet"))
    cmd = [esmdb, "embed", "--model", model, "--fasta", fasta, "--threads", str(threads),
           "--batch-tokens", str(budget), "--precision", precision, "--pool", "mean", "--out", out]
    _, err, rss = run(cmd)
    m = re.search(r"\(([0-9]+) tokens\) with \S+ in ([0-9.]+)s", err)
    return {"tokens": int(m.group(1)), "seconds": float(m.group(2)), "rss": rss, "out": out}


def py_run(engine, model, seqs_file, threads, budget, batching):
    cmd = [sys.executable, __file__, "--worker", "--engine", engine, "--model", model, "--seqs", seqs_file,
           "--threads", str(threads), "--batch-tokens", str(budget), "--batching", batching]
    out, _, rss = run(cmd)
    r = json.loads(out.strip().splitlines()[-1])
    r["rss"] = rss
    return r


def max_diff_parquet(a, b):
    import numpy as np
    import pyarrow.parquet as pq

    ta, tb = pq.read_table(a), pq.read_table(b)
    col = [c for c in ta.column_names if c.startswith("mean_")][0]
    xa = np.stack(ta.column(col).to_numpy(zero_copy_only=False))
    xb = np.stack(tb.column(col).to_numpy(zero_copy_only=False))
    return float(np.abs(xa - xb).max())


def bench(args):
    esmdb = args.esmdb or str(Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug/esmdb")
    dms = Path(args.dms)
    work = Path(tempfile.mkdtemp(prefix="esmdb-bench-"))
    blat = read_fasta(dms / "BLAT_ECOLX_Ostermeier2014_muts.fasta")[: args.n]
    everything = [r for f in sorted(dms.glob("*_muts.fasta")) for r in read_fasta(f)]
    random.Random(0).shuffle(everything)
    mixed = everything[: args.n]
    sets = {}
    for name, recs in (("blat", blat), ("mixed", mixed)):
        fasta = work / f"{name}.fasta"
        fasta.write_text("".join(f">{i}\n{s}\n" for i, s in recs))
        seqs = work / f"{name}.json"
        seqs.write_text(json.dumps([s for _, s in recs]))
        sets[name] = (str(fasta), str(seqs), sum(len(s) + 2 for _, s in recs))
    print(f"# esmdb embedding benchmark: {args.n} sequences, {args.threads} threads, batch budget {args.batch_tokens} tokens")
    print(f"# BLAT_ECOLX_Ostermeier2014 subset: {sets['blat'][2]} tokens; mixed (all datasets shuffled): {sets['mixed'][2]} tokens")
    print("| model | engine | batches | tokens/s | seqs/s | peak RSS MiB | vs HF eager | vs HF sdpa |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for arch in args.archs.split(","):
        model = str(work / arch)
        subprocess.run([esmdb, "model", "init", "--arch", arch, "--seed", "7", "--out", model], check=True,
                       stderr=subprocess.DEVNULL)
        fasta, seqs, _ = sets["blat"]
        res = {
            "esmdb fp32": esmdb_run(esmdb, model, fasta, args.threads, args.batch_tokens),
            "esmdb bf16": esmdb_run(esmdb, model, fasta, args.threads, args.batch_tokens, "bf16"),
            "HF eager": py_run("hf-eager", model, seqs, args.threads, args.batch_tokens, "sorted"),
            "HF sdpa": py_run("hf-sdpa", model, seqs, args.threads, args.batch_tokens, "sorted"),
            "esm-cpp": py_run("esm-cpp", model, seqs, args.threads, args.batch_tokens, "sorted"),
        }
        n = args.n
        tps = {k: v["tokens"] / v["seconds"] for k, v in res.items()}
        for k, v in res.items():
            print(f"| {arch} | {k} | sorted, budget | {tps[k]:.0f} | {n / v['seconds']:.1f} | {v['rss']:.0f} | "
                  f"{tps[k] / tps['HF eager']:.2f}x | {tps[k] / tps['HF sdpa']:.2f}x |")
        bf16_diff = max_diff_parquet(res["esmdb fp32"]["out"], res["esmdb bf16"]["out"])
        print(f"| {arch} | bf16 max abs diff vs fp32 (mean, last layer) | {bf16_diff:.3e} | | | | | |")
        fasta, seqs, _ = sets["mixed"]
        ours = esmdb_run(esmdb, model, fasta, args.threads, args.batch_tokens)
        hf8 = py_run("hf-sdpa", model, seqs, args.threads, args.batch_tokens, "fixed8")
        t_ours, t_hf = ours["tokens"] / ours["seconds"], hf8["tokens"] / hf8["seconds"]
        print(f"| {arch} | mixed set: esmdb sorted budget | sorted | {t_ours:.0f} | {n / ours['seconds']:.1f} | {ours['rss']:.0f} | | {t_ours / t_hf:.2f}x |")
        print(f"| {arch} | mixed set: HF sdpa fixed batches of 8 | fixed 8 | {t_hf:.0f} | {n / hf8['seconds']:.1f} | {hf8['rss']:.0f} | | 1.00x |")
        sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--engine")
    ap.add_argument("--model")
    ap.add_argument("--seqs")
    ap.add_argument("--batching", default="sorted")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-tokens", type=int, default=4096)
    ap.add_argument("--archs", default="esm2_t6_8M_UR50D,esm2_t12_35M_UR50D")
    ap.add_argument("--dms", default=str(ROOT.parent / "shared/data/dms"))
    ap.add_argument("--esmdb", default=os.environ.get("ESMDB_BIN", ""))
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    bench(args)


if __name__ == "__main__":
    main()
