"""Zero-shot variant scoring: esmdb's esm_score against fair-esm's predict.py, measured in one run.

The issue's measurement: time to score BLAT_ECOLX_Ostermeier2014 (5,468 single mutants of one wild type) with
masked-marginals, esmdb vs the same computation in Python with fair-esm. Both sides use the same seeded
random-weight model (the Hugging Face directory for esmdb, the same weights as a fair-esm .pt through
`tests/python/esm_ref.py to-fair` for Python) and the same thread count.

  fair-esm predict.py  examples/variant-prediction/predict.py's masked-marginals as it runs (--offset-idx 1): one
                       process, one masked copy of the wild type per forward pass, every token masked in turn
                       (<cls> and <eos> too: L + 2 passes), log_softmax, then label_row per variant.
  fair-esm batched     the same table from the L residue passes only, stacked into batches of --batch-tokens tokens.
  esmdb                `esmdb ingest` of the dataset, then one `esmdb sql` query
                         SELECT id, esm_score(sequence, mutant, 'masked-marginals', '<model dir>') FROM variants
                         WHERE dataset = D ORDER BY input_row
                       run twice on the same store: cold, then warm (the log-prob table cached).

Each side is its own process, timed from outside (wall, peak RSS from wait4); the Python workers also report
their model-load and scoring times. Scores are compared by variant id: max |difference| and Spearman's rho
against the predict.py scores.

Usage: python benches/zero_shot.py [--dms ../shared/data/dms] [--dataset BLAT_ECOLX_Ostermeier2014] [--threads 2]
       [--model-dir DIR | --arch esm2_t6_8M_UR50D --seed 0] [--esmdb PATH] [--skip-esmdb] [--no-batched]
       [--batch-tokens 4096] [--json-out FILE]
Needs: the project venv (fair-esm, transformers), the esmdb binary unless --skip-esmdb (without the binary and
without --model-dir the random model is written here in Python, in the layout and scheme of `esmdb model init`).
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import run_timed as run

ROOT = Path(__file__).resolve().parents[1]
ESM_REF = ROOT / "tests/python/esm_ref.py"
METHOD = "masked-marginals"
ARCHS = {  # layers, hidden, heads, intermediate (fair-esm's published ESM2 models)
    "esm2_t6_8M_UR50D": (6, 320, 20, 1280),
    "esm2_t12_35M_UR50D": (12, 480, 20, 1920),
    "esm2_t30_150M_UR50D": (30, 640, 20, 2560),
    "esm2_t33_650M_UR50D": (33, 1280, 20, 5120),
}


def esmdb_bin(arg):
    if arg:
        return arg
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    return str(Path(target) / "debug" / "esmdb")


def python_random_model(arch, seed, out):
    """A seeded random ESM2 in the hub layout, drawn as model/src/init.rs draws it (same scheme, not the same
    numbers): word embeddings N(0, 1); linear weights N(0, 1/fan_in), biases N(0, 0.05); LayerNorm scales
    U(0.5, 1.5), shifts N(0, 0.1); lm_head.bias N(0, 0.05); tied decoder and per-layer rotary inv_freq stored."""
    import torch
    from safetensors.torch import save_file

    n_layers, d, heads, f = ARCHS[arch]
    v = 33
    g = torch.Generator().manual_seed(seed)
    t = {}

    def normal(name, shape, std):
        t[name] = torch.randn(shape, generator=g) * std

    def linear(p, o, i):
        normal(f"{p}.weight", (o, i), i**-0.5)
        normal(f"{p}.bias", (o,), 0.05)

    def layer_norm(p, n):
        t[f"{p}.weight"] = 0.5 + torch.rand(n, generator=g)
        normal(f"{p}.bias", (n,), 0.1)

    normal("esm.embeddings.word_embeddings.weight", (v, d), 1.0)
    for i in range(n_layers):
        p = f"esm.encoder.layer.{i}"
        for name in ("query", "key", "value"):
            linear(f"{p}.attention.self.{name}", d, d)
        linear(f"{p}.attention.output.dense", d, d)
        layer_norm(f"{p}.attention.LayerNorm", d)
        linear(f"{p}.intermediate.dense", f, d)
        linear(f"{p}.output.dense", d, f)
        layer_norm(f"{p}.LayerNorm", d)
    layer_norm("esm.encoder.emb_layer_norm_after", d)
    linear("lm_head.dense", d, d)
    layer_norm("lm_head.layer_norm", d)
    normal("lm_head.bias", (v,), 0.05)
    linear("esm.contact_head.regression", 1, n_layers * heads)
    t["lm_head.decoder.weight"] = t["esm.embeddings.word_embeddings.weight"].clone()
    hd = d // heads
    inv_freq = 1.0 / (10000 ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    for i in range(n_layers):
        t[f"esm.encoder.layer.{i}.attention.self.rotary_embeddings.inv_freq"] = inv_freq.clone()
    cfg = {
        "architectures": ["EsmForMaskedLM"], "model_type": "esm", "vocab_size": v, "hidden_size": d,
        "num_hidden_layers": n_layers, "num_attention_heads": heads, "intermediate_size": f,
        "hidden_act": "gelu", "position_embedding_type": "rotary", "token_dropout": True, "mask_token_id": 32,
        "pad_token_id": 1, "emb_layer_norm_before": False, "max_position_embeddings": 1026,
        "layer_norm_eps": 1e-5, "attention_probs_dropout_prob": 0.0, "hidden_dropout_prob": 0.0,
        "initializer_range": 0.02, "is_folding_model": False, "use_cache": True, "torch_dtype": "float32",
    }
    out = Path(out)
    out.mkdir(parents=True)
    save_file({k: x.contiguous() for k, x in t.items()}, str(out / "model.safetensors"))
    (out / "config.json").write_text(json.dumps(cfg, indent=2))


def read_dataset(dms, name):
    """(rows [(id, mutant, sequence)], wild type): the wild type rebuilt by reverting every row's mutations."""
    rows = []
    with open(Path(dms) / f"{name}_metadata.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            rows.append((r["ID"], r["mutant"], r["sequence"]))
    wild = set()
    for _, mutant, seq in rows:
        s = list(seq)
        for m in mutant.split(":"):
            pos = int(m[1:-1]) - 1
            assert s[pos] == m[-1], f"{mutant}: sequence has {s[pos]} at {pos + 1}"
            s[pos] = m[0]
        wild.add("".join(s))
    if len(wild) != 1:
        raise SystemExit(f"{name}: the variants revert to {len(wild)} different wild types")
    return rows, wild.pop()


# ---- the Python side (runs in its own process: --worker) ----

def label_row(row, sequence, token_probs, alphabet, offset_idx):
    """predict.py's label_row (single mutants), extended to `:`-joined multi-mutants by summing."""
    score = 0.0
    for m in row.split(":"):
        wt, idx, mt = m[0], int(m[1:-1]) - offset_idx, m[-1]
        assert sequence[idx] == wt, "The listed wildtype does not match the provided sequence"
        wt_encoded, mt_encoded = alphabet.get_idx(wt), alphabet.get_idx(mt)
        # add 1 for BOS
        score += (token_probs[0, 1 + idx, mt_encoded] - token_probs[0, 1 + idx, wt_encoded]).item()
    return score


def worker(args):
    """Scores the dataset as predict.py (or batched) does; prints {"load_s", "score_s", "passes", "scores"}."""
    t0 = time.perf_counter()
    import argparse as ap

    import esm
    import torch

    torch.set_num_threads(args.threads)
    torch.serialization.add_safe_globals([ap.Namespace])
    model, alphabet = esm.pretrained.load_model_and_alphabet_local(args.pt)
    model.eval()
    sequence = args.wild_type
    with open(args.csv, newline="") as fh:
        rows = [(r["ID"], r["mutant"]) for r in csv.DictReader(fh)]
    t1 = time.perf_counter()
    batch_converter = alphabet.get_batch_converter()
    _, _, batch_tokens = batch_converter([("protein1", sequence)])
    passes = 0
    if args.worker == "predict":
        all_token_probs = []
        for i in range(batch_tokens.size(1)):
            batch_tokens_masked = batch_tokens.clone()
            batch_tokens_masked[0, i] = alphabet.mask_idx
            with torch.no_grad():
                token_probs = torch.log_softmax(model(batch_tokens_masked)["logits"], dim=-1)
            passes += 1
            all_token_probs.append(token_probs[:, i])  # vocab size
        token_probs = torch.cat(all_token_probs, dim=0).unsqueeze(0)
    else:
        n, width = len(sequence), batch_tokens.size(1)
        per_batch = max(1, args.batch_tokens // width)
        rows_lp = [torch.zeros(1, len(alphabet.all_toks))]  # <cls> row, never read
        with torch.no_grad():
            for start in range(1, n + 1, per_batch):
                pos = torch.arange(start, min(start + per_batch, n + 1))
                masked = batch_tokens.repeat(len(pos), 1)
                masked[torch.arange(len(pos)), pos] = alphabet.mask_idx
                lp = torch.log_softmax(model(masked)["logits"], dim=-1)
                passes += len(pos)
                rows_lp.append(lp[torch.arange(len(pos)), pos])
        token_probs = torch.cat(rows_lp, dim=0).unsqueeze(0)
    scores = {rid: label_row(mutant, sequence, token_probs, alphabet, 1) for rid, mutant in rows}
    t2 = time.perf_counter()
    print(json.dumps({"load_s": t1 - t0, "score_s": t2 - t1, "passes": passes, "scores": scores}))


def python_side(args, kind, pt, wild_type):
    cmd = [sys.executable, __file__, "--worker", kind, "--pt", pt,
           "--csv", str(Path(args.dms) / f"{args.dataset}_metadata.csv"), "--wild-type", wild_type,
           "--threads", str(args.threads), "--batch-tokens", str(args.batch_tokens)]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    out, _, wall, rss = run(cmd, env)
    r = json.loads(out.strip().splitlines()[-1])
    r.update(wall_s=wall, peak_rss_mib=rss)
    return r


# ---- the esmdb side ----

def esmdb_side(args, exe, model_dir):
    store = str(Path(args.work) / "store")
    env = dict(os.environ, ESMDB_THREADS=str(args.threads), HF_HUB_OFFLINE="1")
    files = [str(Path(args.dms) / f"{args.dataset}_metadata.csv"), str(Path(args.dms) / f"{args.dataset}_muts.fasta")]
    _, _, ingest_s, _ = run([exe, "ingest", "--store", store, "--dataset", args.dataset, *files], env)
    q = (f"SELECT id, esm_score(sequence, mutant, '{METHOD}', '{model_dir}') AS score FROM variants "
         f"WHERE dataset = '{args.dataset}' ORDER BY input_row")
    res = {"ingest_s": ingest_s, "query": q}
    for pass_name in ("cold", "warm"):
        out, err, wall, rss = run([exe, "sql", "--store", store, "--threads", str(args.threads), "--format", "csv",
                                   q], env)
        table = list(csv.reader(out.splitlines()))
        assert table[0] == ["id", "score"], table[0]
        scores = {rid: float(s) if s else float("nan") for rid, s in table[1:]}  # NULL -> NaN
        res[pass_name] = {"wall_s": wall, "peak_rss_mib": rss, "scores": scores, "stderr_tail": err[-500:]}
    return res


def compare(a, b):
    """(max |a - b|, Spearman's rho) over the ids of a (b must hold them all)."""
    import numpy as np
    from scipy.stats import spearmanr

    ids = list(a)
    missing = [i for i in ids if i not in b]
    if missing:
        raise SystemExit(f"{len(missing)} ids missing from the other side, e.g. {missing[:3]}")
    x = np.array([a[i] for i in ids])
    y = np.array([b[i] for i in ids])
    return float(np.abs(x - y).max()), float(spearmanr(x, y).statistic)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", choices=["predict", "batched"])
    ap.add_argument("--pt")
    ap.add_argument("--csv")
    ap.add_argument("--wild-type")
    ap.add_argument("--dms", default=str(ROOT.parent / "shared/data/dms"))
    ap.add_argument("--dataset", default="BLAT_ECOLX_Ostermeier2014")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model-dir", default=None)
    ap.add_argument("--arch", default="esm2_t6_8M_UR50D", choices=sorted(ARCHS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--esmdb", default=os.environ.get("ESMDB_BIN", ""))
    ap.add_argument("--skip-esmdb", action="store_true", help="time only the Python side")
    ap.add_argument("--no-batched", action="store_true", help="skip the batched fair-esm variant")
    ap.add_argument("--batch-tokens", type=int, default=4096, help="token budget of the batched fair-esm variant")
    ap.add_argument("--json-out", default=None)
    args = ap.parse_args()
    if args.worker:
        return worker(args)

    exe = esmdb_bin(args.esmdb)
    args.work = tempfile.mkdtemp(prefix="esmdb-bench-zs-")
    rows, wild_type = read_dataset(args.dms, args.dataset)
    model_dir = args.model_dir
    if not model_dir:
        model_dir = str(Path(args.work) / args.arch)
        if not args.skip_esmdb or Path(exe).exists():
            subprocess.run([exe, "model", "init", "--arch", args.arch, "--seed", str(args.seed), "--out", model_dir],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            python_random_model(args.arch, args.seed, model_dir)
    model_dir = str(Path(model_dir).resolve())
    stem = Path(model_dir).name
    # fair-esm picks its ESM2 loader by the file name (esm2*).
    pt = str(Path(args.work) / f"{stem if stem.startswith('esm2') else 'esm2_' + stem}.pt")
    subprocess.run([sys.executable, str(ESM_REF), "to-fair", model_dir, pt], check=True,
                   env=dict(os.environ, ESMDB_REF_THREADS=str(args.threads)))
    load = os.getloadavg()[0]
    print(f"{args.dataset}: {len(rows)} variants of one wild type (L = {len(wild_type)}), {METHOD}, "
          f"{Path(model_dir).name} (random weights), {args.threads} threads", file=sys.stderr)
    if load + args.threads > os.cpu_count():
        # libtorch's OpenMP threads spin at barriers: with the cores taken, 2 threads ran 5-7x slower than 1 here.
        print(f"warning: load average {load:.1f} + {args.threads} threads > {os.cpu_count()} cores; "
              f"timings may be inflated", file=sys.stderr)

    sides = {}
    sides["fair-esm predict.py"] = python_side(args, "predict", pt, wild_type)
    print(f"fair-esm predict.py done in {sides['fair-esm predict.py']['wall_s']:.1f}s", file=sys.stderr)
    if not args.no_batched:
        sides["fair-esm batched"] = python_side(args, "batched", pt, wild_type)
    esmdb = None
    if not args.skip_esmdb:
        esmdb = esmdb_side(args, exe, model_dir)
        sides["esmdb sql (cold)"] = esmdb["cold"]
        sides["esmdb sql (warm)"] = esmdb["warm"]

    ref = sides["fair-esm predict.py"]
    base = ref["wall_s"]
    print(f"| {args.dataset}, {len(rows)} variants, L = {len(wild_type)} | forward passes | process wall s | "
          f"scoring s | peak RSS MiB | speed-up vs predict.py | max abs diff | Spearman |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    result = {"dataset": args.dataset, "variants": len(rows), "length": len(wild_type), "method": METHOD,
              "threads": args.threads, "model_dir": model_dir, "loadavg_at_start": load, "sides": {}}
    for name, r in sides.items():
        diff, rho = compare(ref["scores"], r["scores"])
        passes = r.get("passes", "")
        score_s = f"{r['score_s']:.2f}" if "score_s" in r else ""
        print(f"| {name} | {passes} | {r['wall_s']:.2f} | {score_s} | {r['peak_rss_mib']:.0f} | "
              f"{base / r['wall_s']:.2f}x | {diff:.2e} | {rho:.6f} |")
        result["sides"][name] = {k: v for k, v in r.items() if k != "scores"} | {
            "max_abs_diff_vs_predict": diff, "spearman_vs_predict": rho}
    if esmdb:
        print(f"esmdb ingest: {esmdb['ingest_s']:.2f}s (not in the sql rows); process walls include start-up and "
              f"model load on both sides")
        result["esmdb_ingest_s"] = esmdb["ingest_s"]
        result["esmdb_query"] = esmdb["query"]
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
