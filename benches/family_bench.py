"""Embedding throughput of the newer families: esmdb vs their reference implementations, measured in one run.

esmc_300m (30 layers x 960) against EvolutionaryScale's `esm` package (EsmcModel, sdpa attention, in the ESM C
venv), and ESM-1v (esm1v_t33_650M_UR90S_1: 33 layers x 1280) against fair-esm's ProteinBertModel loaded with
`esm.pretrained.load_model_and_alphabet_local` (project venv), both at their real sizes with seeded random
weights (no real checkpoint needed; speed does not depend on the weights' values). Each engine runs in its own
subprocess (so its peak RSS is its own), on the same sequences (sampled round-robin from the DMS datasets'
mutant FASTAs, seeded), with the same thread count (esmdb --threads, torch.set_num_threads) and the same
length-sorted token-budget batches (esmdb's own rule), in fp32 on the CPU, mean-pooling the last layer (after the
final LayerNorm). Only the embedding loop is timed (tokenizing, forward, pooling; not loading): esmdb's own
timing line on stderr, time.perf_counter() around the loop in the reference workers, which first run untimed
warm-up forwards (the shortest sequence alone, then padded with the longest: fair-esm's first padded batch costs
~1.8 s at any model size); esmdb's timing has no such exclusion, so any first-call cost of its own counts against
it. Both references run the encoder only, as esmdb does (ESM C: EsmcForMaskedLM.esmc; ESM-1v: lm_head replaced
by an identity), so neither pays for logits. Also esmdb bf16 speed, and the max |diff| of esmdb's mean
embeddings (fp32 and bf16) against the reference's, a check that both computed the same thing (fp32: about
1e-5 to 1e-4 expected, as README's parity table; a warning above --max-diff).

The models are written once into --work and reused when present: esmc_300m by `esmdb model init --arch
esmc_300m` (the published config.json + model.safetensors layout, which both engines read; 1.2 GB), ESM-1v by
tests/python/esm1_ref.py init (a fair-esm v1 .pt, which both engines read, as tests/family_parity.rs does;
2.6 GB; writing it also reads it back to verify it, which needs roughly 10 GB of RAM, an estimate). Without
--work they go into a temporary directory that is deleted at the end.

Usage: python benches/family_bench.py [--n 24] [--threads 2] [--batch-tokens 4096] [--families esmc_300m,esm1v]
                                      [--work DIR] [--json-out FILE]
       python benches/family_bench.py --tiny --n 2 --threads 1   # smoke test: 2-layer random models, <= 40 residues
Needs: the esmdb binary (--esmdb or $ESMDB_BIN; default $CARGO_TARGET_DIR/debug/esmdb, scripts/esmdb builds it),
../shared/data/dms (or --dms DIR), the project venv's Python to run this (fair-esm, pyarrow), and the ESM C venv
(--esmc-python, else $ESMDB_ESMC_PYTHON, $ESMDB_ESMC_VENV/bin/python, or <this venv>-esmc/bin/python, as
scripts/env.sh lays them out).
"""
import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dms import read_fasta
from common import run, sorted_batches

ROOT = Path(__file__).resolve().parents[1]
PY_REF = ROOT / "tests/python"

# name -> how it is written, in which venv its reference runs, and the reference's name in the table.
# "tiny" replaces the real architecture with a 2-layer one of the same family (smoke test of this script).
FAMILIES = {
    "esmc_300m": {
        "engine": "esmc",
        "reference": "esm EsmcModel (sdpa)",
        "real": {"label": "esmc_300m", "esmdb_arch": "esmc_300m"},
        "tiny": {"label": "esmc (tiny: 2 x 128)",
                 "config": {"hidden_size": 128, "num_attention_heads": 2, "num_hidden_layers": 2}},
    },
    "esm1v": {
        "engine": "esm1",
        "reference": "fair-esm ProteinBertModel",
        "real": {"label": "esm1v_t33_650M_UR90S_1",
                 "config": {"layers": 33, "embed_dim": 1280, "attention_heads": 20, "ffn_embed_dim": 5120,
                            "emb_layer_norm_before": False}, "file": "esm1v_t33_650M_UR90S_1.pt"},
        "tiny": {"label": "esm1v (tiny: 2 x 64)",
                 "config": {"layers": 2, "embed_dim": 64, "attention_heads": 4, "emb_layer_norm_before": False},
                 "file": "esm1v_tiny_1.pt"},
    },
}
SEED = 7


def worker(args):
    """Runs one reference engine in this process, writes the mean embeddings ([n, d], input order) to
    args.means as .npy and prints {"tokens", "seconds"} as JSON."""
    import warnings

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    seqs = json.loads(Path(args.seqs).read_text())
    batches = sorted_batches(seqs, args.batch_tokens)
    tokens = sum(len(s) + 2 for s in seqs)
    means = [None] * len(seqs)

    def pool(h, b):
        mask = torch.zeros(h.shape[:2], dtype=torch.float32)
        for r, i in enumerate(b):
            mask[r, 1 : len(seqs[i]) + 1] = 1
        m = (h.float() * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        for r, i in enumerate(b):
            means[i] = m[r]

    if args.engine == "esmc":
        from esm.models.esmc import EsmcForMaskedLM, EsmcTokenizer

        warnings.filterwarnings("ignore", category=FutureWarning)
        model = EsmcForMaskedLM.from_pretrained(
            args.model, device="cpu", dtype=torch.float32, attn_implementation="sdpa"
        ).eval()
        encoder = model.esmc  # without the masked-LM head, as esmdb's embed
        tok = EsmcTokenizer()
        pad = tok.pad_token_id

        def forward(b):
            rows = [tok(seqs[i])["input_ids"] for i in b]
            ids = torch.full((len(b), max(map(len, rows))), pad, dtype=torch.long)
            for r, row in enumerate(rows):
                ids[r, : len(row)] = torch.tensor(row)
            return encoder(input_ids=ids, attention_mask=ids.ne(pad), return_dict=True).last_hidden_state

    elif args.engine == "esm1":
        import esm

        warnings.filterwarnings("ignore", message="Regression weights not found")
        torch.serialization.add_safe_globals([argparse.Namespace])
        model, alphabet = esm.pretrained.load_model_and_alphabet_local(args.model)
        model = model.eval()
        model.lm_head = torch.nn.Identity()  # encoder only, as esmdb's embed
        conv = alphabet.get_batch_converter()
        last = model.num_layers

        def forward(b):
            _, _, toks = conv([(str(i), seqs[i]) for i in b])
            return model(toks, repr_layers=[last])["representations"][last]

    else:
        raise SystemExit(f"unknown engine {args.engine}")
    with torch.inference_mode():
        # Warm-up, untimed: fair-esm's first padded batch costs ~1.8 s whatever the model size.
        shortest, longest = batches[0][0], batches[-1][-1]
        forward([shortest])
        if len(seqs[shortest]) != len(seqs[longest]):
            forward([shortest, longest])
        t0 = time.perf_counter()
        for b in batches:
            pool(forward(b), b)
        secs = time.perf_counter() - t0
    np.save(args.means, torch.stack(means).numpy())
    print(json.dumps({"tokens": tokens, "seconds": secs}))


TIMING = re.compile(r"\(([0-9]+) tokens\) with \S+ in ([0-9.]+)s \(([0-9]+) tokens/s\)")


def esmdb_run(esmdb, model, fasta, out_dir, threads, budget, precision):
    out = str(Path(out_dir) / f"{Path(model).stem}.{precision}.parquet")
    cmd = [esmdb, "embed", "--model", model, "--fasta", fasta, "--threads", str(threads),
           "--batch-tokens", str(budget), "--precision", precision, "--pool", "mean", "--out", out]
    _, err, rss = run(cmd)
    m = TIMING.search(err)
    if not m:
        raise SystemExit(f"no timing line in esmdb's stderr:\n{err[-3000:]}")
    tokens, secs, tps = int(m.group(1)), float(m.group(2)), int(m.group(3))
    # The seconds are printed to 0.1 s, tokens/s to 1: the latter is the finer on short runs.
    return {"tokens": tokens, "seconds": tokens / tps if tps else secs, "rss": rss, "out": out}


def ref_run(python, engine, model, seqs_file, means, threads, budget):
    cmd = [python, __file__, "--worker", "--engine", engine, "--model", model, "--seqs", seqs_file,
           "--means", means, "--threads", str(threads), "--batch-tokens", str(budget)]
    out, _, rss = run(cmd)
    r = json.loads(out.strip().splitlines()[-1])
    r["rss"] = rss
    r["means"] = means
    return r


def esmdb_means(parquet):
    import numpy as np
    import pyarrow.parquet as pq

    t = pq.read_table(parquet)
    col = [c for c in t.column_names if c.startswith("mean_")][0]
    return np.stack(t.column(col).to_numpy(zero_copy_only=False)).astype(np.float32)


def esmc_python(args):
    if args.esmc_python:
        return args.esmc_python
    if os.environ.get("ESMDB_ESMC_PYTHON"):
        return os.environ["ESMDB_ESMC_PYTHON"]
    venv = os.environ.get("ESMDB_ESMC_VENV") or sys.prefix.rstrip("/") + "-esmc"
    return str(Path(venv) / "bin/python")


def prepare_model(name, spec, tiny, work, esmdb, esmc_py, threads):
    """Writes the family's random model into work (once; a finished model is moved into place whole) and
    returns the path both engines load."""
    kind = "tiny" if tiny else "real"
    s = spec[kind]
    final = work / (f"{name}-tiny" if tiny else name)
    if spec["engine"] == "esmc":
        model = final / "hf" if "config" in s else final
    else:
        model = final / s["file"]
    if model.exists():
        print(f"# reusing {model}", file=sys.stderr)
        return str(model)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=work))
    env = dict(os.environ, ESMDB_REF_THREADS=str(threads))
    t0 = time.perf_counter()
    try:
        if "esmdb_arch" in s:
            subprocess.run([esmdb, "model", "init", "--arch", s["esmdb_arch"], "--seed", str(SEED), "--out",
                            str(tmp)], check=True, stderr=subprocess.DEVNULL)
        elif spec["engine"] == "esmc":
            subprocess.run([esmc_py, str(PY_REF / "esmc_ref.py"), "init", json.dumps(s["config"]), str(SEED),
                            str(tmp)], check=True, env=env)
        else:
            subprocess.run([sys.executable, str(PY_REF / "esm1_ref.py"), "init", json.dumps(s["config"]),
                            str(SEED), str(tmp / s["file"])], check=True, env=env)
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"# wrote {model} in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    return str(model)


def sample(dms, n, seed, max_residues):
    """n sequences, round-robin over the DMS datasets' mutant FASTAs (each shuffled with seed), so every
    length in the set appears; each cut to its first max_residues residues."""
    files = sorted(Path(dms).glob("*_muts.fasta"))
    if not files:
        raise SystemExit(f"no *_muts.fasta in {dms}")
    pools = []
    for k, f in enumerate(files):
        recs = read_fasta(f)
        random.Random(seed * 1000 + k).shuffle(recs)
        pools.append(recs)
    out, depth = [], 0
    while len(out) < n and any(depth < len(p) for p in pools):
        for p in pools:
            if depth < len(p) and len(out) < n:
                out.append(p[depth][1][:max_residues])
        depth += 1
    return out


def bench(args):
    import numpy as np

    esmdb = args.esmdb or str(Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug/esmdb")
    if not Path(esmdb).exists():
        raise SystemExit(f"esmdb binary {esmdb} not found (scripts/esmdb builds it; or --esmdb / $ESMDB_BIN)")
    esmc_py = esmc_python(args)
    if not Path(esmc_py).exists():
        raise SystemExit(f"ESM C venv's Python {esmc_py} not found (--esmc-python or $ESMDB_ESMC_VENV)")
    families = args.families.split(",")
    for f in families:
        if f not in FAMILIES:
            raise SystemExit(f"unknown family {f}; known: {', '.join(FAMILIES)}")
    max_residues = args.max_residues or (40 if args.tiny else 1022)  # 1022: ESM-1v's learned positions
    keep_work = bool(args.work)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="esmdb-family-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="run-", dir=work))
    try:
        seqs = sample(args.dms, args.n, args.seed, max_residues)
        fasta = scratch / "seqs.fasta"
        fasta.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(seqs)))
        seqs_file = scratch / "seqs.json"
        seqs_file.write_text(json.dumps(seqs))
        tokens = sum(len(s) + 2 for s in seqs)
        lengths = sorted({len(s) for s in seqs})
        n_batches = len(sorted_batches(seqs, args.batch_tokens))
        print(f"# esmdb vs reference, fp32 CPU: {len(seqs)} sequences ({tokens} tokens, lengths "
              f"{', '.join(map(str, lengths))}), {args.threads} threads, batch budget {args.batch_tokens} tokens "
              f"({n_batches} batches){', TINY 2-layer models' if args.tiny else ''}")
        print("| model | engine | tokens/s | seqs/s | peak RSS MiB | vs reference | max abs diff vs reference (mean, last layer) |")
        print("|---|---|---:|---:|---:|---:|---:|")
        sys.stdout.flush()
        results = []
        for name in families:
            spec = FAMILIES[name]
            model = prepare_model(name, spec, args.tiny, work, esmdb, esmc_py, args.threads)
            py = esmc_py if spec["engine"] == "esmc" else sys.executable
            label = spec["tiny" if args.tiny else "real"]["label"]
            res = {
                "esmdb fp32": esmdb_run(esmdb, model, str(fasta), scratch, args.threads, args.batch_tokens, "fp32"),
                spec["reference"]: ref_run(py, spec["engine"], model, str(seqs_file), str(scratch / f"{name}.npy"),
                                           args.threads, args.batch_tokens),
                "esmdb bf16": esmdb_run(esmdb, model, str(fasta), scratch, args.threads, args.batch_tokens, "bf16"),
            }
            ref = np.load(res[spec["reference"]]["means"])
            for k, v in res.items():
                if v["tokens"] != tokens:
                    raise SystemExit(f"{name} {k}: {v['tokens']} tokens, expected {tokens}")
                v["tokens_per_s"] = v["tokens"] / v["seconds"]
                if "out" in v:
                    ours = esmdb_means(v["out"])
                    if ours.shape != ref.shape:
                        raise SystemExit(f"{name} {k}: embeddings {ours.shape}, reference {ref.shape}")
                    v["max_abs_diff"] = float(np.abs(ours - ref).max())
            base = res[spec["reference"]]["tokens_per_s"]
            for k, v in res.items():
                diff = f"{v['max_abs_diff']:.2e}" if "max_abs_diff" in v else "(reference)"
                print(f"| {label} | {k} | {v['tokens_per_s']:.1f} | {len(seqs) / v['seconds']:.2f} | {v['rss']:.0f} | "
                      f"{v['tokens_per_s'] / base:.2f}x | {diff} |")
                results.append({
                    "model": label, "model_path": model, "engine": k, "tokens": v["tokens"], "seconds": v["seconds"],
                    "tokens_per_s": v["tokens_per_s"], "seqs_per_s": len(seqs) / v["seconds"],
                    "peak_rss_mib": v["rss"], "vs_reference": v["tokens_per_s"] / base,
                    "max_abs_diff_vs_reference": v.get("max_abs_diff"),
                })
            sys.stdout.flush()
            if res["esmdb fp32"]["max_abs_diff"] > args.max_diff:
                print(f"# WARNING {name}: esmdb fp32 differs from the reference by "
                      f"{res['esmdb fp32']['max_abs_diff']:.2e} > {args.max_diff:g}", file=sys.stderr)
        if args.json_out:
            Path(args.json_out).write_text(json.dumps({
                "sequences": len(seqs), "tokens": tokens, "lengths": lengths, "threads": args.threads,
                "batch_tokens": args.batch_tokens, "batches": n_batches, "seed": args.seed, "tiny": args.tiny,
                "max_residues": max_residues, "results": results,
            }, indent=2) + "\n")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if not keep_work:
            shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--engine", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--seqs", help=argparse.SUPPRESS)
    ap.add_argument("--means", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=24, help="sequences (default 24)")
    ap.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-tokens", type=int, default=4096)
    ap.add_argument("--families", default=",".join(FAMILIES), help=f"comma-separated: {', '.join(FAMILIES)}")
    ap.add_argument("--max-residues", type=int, default=0,
                    help="cut every sequence to its first N residues (default 1022; 40 with --tiny)")
    ap.add_argument("--tiny", action="store_true", help="2-layer random models of each family: a smoke test")
    ap.add_argument("--work", default="", help="directory for the models, kept and reused (default: a temporary one)")
    ap.add_argument("--json-out", default="")
    ap.add_argument("--max-diff", type=float, default=1e-3,
                    help="warn when esmdb fp32 differs from the reference by more (default 1e-3)")
    ap.add_argument("--dms", default=str(ROOT.parent / "shared/data/dms"))
    ap.add_argument("--esmdb", default=os.environ.get("ESMDB_BIN", ""))
    ap.add_argument("--esmc-python", default="")
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    bench(args)


if __name__ == "__main__":
    main()
