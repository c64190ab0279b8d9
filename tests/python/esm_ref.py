"""Reference ESM2 outputs for esmdb's parity tests, computed by the reference implementations.

Usage (from the Rust tests, with the project venv's Python):
  esm_ref.py hf          MODEL_DIR REQUEST.json OUT.safetensors        # transformers EsmModel
  esm_ref.py fair        MODEL.pt  REQUEST.json OUT.safetensors        # fair-esm ESM2 (load_model_and_alphabet_local)
  esm_ref.py hf-logits   MODEL_DIR REQUEST.json OUT.safetensors        # transformers EsmForMaskedLM logits
  esm_ref.py fair-logits MODEL.pt  REQUEST.json OUT.safetensors        # fair-esm ESM2 logits
  esm_ref.py hf-score    MODEL_DIR SCORE_REQUEST.json OUT.safetensors  # zero-shot scores, EsmForMaskedLM
  esm_ref.py fair-score  MODEL.pt  SCORE_REQUEST.json OUT.safetensors  # zero-shot scores, fair-esm ESM2
  esm_ref.py to-fair     MODEL_DIR OUT.pt                              # save a HF checkpoint as a fair-esm checkpoint
  esm_ref.py resave      MODEL_DIR OUT_DIR [MAX_SHARD]                 # EsmModel.save_pretrained (optionally sharded)
MODEL.pt's file name must start with "esm2": fair-esm picks its ESM2 loader by the name.

REQUEST.json: {"sequences": [[id, seq], ...], "layers": [..]}. Each sequence is run alone (no padding),
tokenized by fair-esm's alphabet; the output holds "<id>/per_tok_L<n>" [len, dim] and "<id>/mean_L<n>"
[dim] (mean over residues, as fair-esm's extract.py), float32.

hf-logits / fair-logits take the same REQUEST.json ("layers" is ignored) and write "<id>/logits" [len + 2, 33]
float32: the masked-LM head's logits of every token row, <cls> (row 0) and <eos> (row len + 1) included, columns in
fair-esm's alphabet order (<cls> <pad> <eos> <unk> L A G V S E R T I D P K Q N F Y M H W C X B U Z O . - <null_1>
<mask>). The model runs in fp32, eval mode, one sequence at a time.

hf-score / fair-score: zero-shot variant scores as fair-esm's examples/variant-prediction/predict.py computes them.
SCORE_REQUEST.json: {"wild_type": "MKT...", "mutants": ["M1C", "K2C:T3G", ...],
                     "methods": ["wt-marginals", "masked-marginals"]}
A mutant is `<wt><pos><mt>` (pos 1-based in wild_type), several joined by ':'; each wt letter must be the wild
type's letter there, mt one of the alphabet's amino-acid letters, no position twice (else an error). Per method the
output holds "scores/<method>" [n_mutants] float64, in request order, and "log_probs/<method>" [L, 33] float32: the
log_softmax over the vocabulary of the logits, the rows of the L residues (token rows 1..L):
  wt-marginals      one forward pass of the wild type; the table is its rows 1..L.
  masked-marginals  L forward passes, pass i (1..L) with residue i replaced by <mask>; table row i is row i of pass
                    i (predict.py also masks <cls> and <eos>, whose rows no score reads: here exactly L passes).
score = sum over the mutant's mutations of table[pos, mt] - table[pos, wt], in float64 from the float32 table.
Forward passes are counted and checked (1, resp. L). Each pass is one sequence, unbatched.
"""
import argparse
import json
import re
import sys
from pathlib import Path

import torch

torch.set_num_threads(int(__import__("os").environ.get("ESMDB_REF_THREADS", "2")))


def alphabet():
    import esm

    return esm.data.Alphabet.from_architecture("ESM-1b")


def tokens_for(alpha, seq):
    conv = alpha.get_batch_converter()
    _, _, toks = conv([("x", seq)])
    return toks


def outputs(run, request):
    alpha = alphabet()
    out = {}
    for sid, seq in request["sequences"]:
        toks = tokens_for(alpha, seq)
        reps = run(toks, request["layers"])
        n = len(seq)
        for layer, rep in reps.items():
            per_tok = rep[0, 1 : n + 1].float().contiguous()
            out[f"{sid}/per_tok_L{layer}"] = per_tok
            out[f"{sid}/mean_L{layer}"] = per_tok.mean(0).contiguous()
    return out


def hf_runner(model_dir):
    from transformers import EsmModel

    model = EsmModel.from_pretrained(model_dir, add_pooling_layer=False, torch_dtype=torch.float32)
    model.eval()
    n_layers = model.config.num_hidden_layers

    @torch.inference_mode()
    def run(toks, layers):
        res = model(input_ids=toks, attention_mask=toks.ne(1), output_hidden_states=True)
        hs = res.hidden_states
        # hidden_states[i] = input of layer i (0 = embeddings); layer N = after emb_layer_norm_after.
        return {l: (res.last_hidden_state if l == n_layers else hs[l]) for l in layers}

    return run


def fair_runner(pt_path):
    import argparse as ap

    import esm

    torch.serialization.add_safe_globals([ap.Namespace])
    model, _ = esm.pretrained.load_model_and_alphabet_local(pt_path)
    model.eval()

    @torch.inference_mode()
    def run(toks, layers):
        res = model(toks, repr_layers=layers)
        return {l: res["representations"][l] for l in layers}

    return run


def hf_lm_runner(model_dir):
    """toks [1, T] -> logits [1, T, 33] of transformers' EsmForMaskedLM, fp32."""
    from transformers import EsmForMaskedLM

    model = EsmForMaskedLM.from_pretrained(model_dir, torch_dtype=torch.float32)
    model.eval()

    @torch.inference_mode()
    def run(toks):
        return model(input_ids=toks, attention_mask=toks.ne(1)).logits.float()

    return run


def fair_lm_runner(pt_path):
    """toks [1, T] -> logits [1, T, 33] of fair-esm's ESM2."""
    import argparse as ap

    import esm

    torch.serialization.add_safe_globals([ap.Namespace])
    model, _ = esm.pretrained.load_model_and_alphabet_local(pt_path)
    model.eval()

    @torch.inference_mode()
    def run(toks):
        return model(toks)["logits"].float()

    return run


def logits_outputs(run, request):
    alpha = alphabet()
    out = {}
    for sid, seq in request["sequences"]:
        toks = tokens_for(alpha, seq)
        logits = run(toks)
        assert logits.shape == (1, len(seq) + 2, len(alpha.all_toks)), logits.shape
        out[f"{sid}/logits"] = logits[0].contiguous()
    return out


METHODS = ("wt-marginals", "masked-marginals")
MUTATION = re.compile(r"([A-Z])([0-9]+)([A-Z])")


def parse_mutant(alpha, wild_type, mutant):
    """[(0-based position, wt token, mt token)] of `A12C:D15E`; raises on anything predict.py would not score."""
    letters = {t for t in alpha.all_toks if len(t) == 1 and t.isalpha()}
    muts, seen = [], set()
    for m in mutant.split(":"):
        g = MUTATION.fullmatch(m)
        if not g:
            raise ValueError(f"mutant {mutant!r}: {m!r} is not <wt><position><mt>")
        wt, pos, mt = g.group(1), int(g.group(2)), g.group(3)
        if not 1 <= pos <= len(wild_type):
            raise ValueError(f"mutant {mutant!r}: position {pos} outside the wild type (length {len(wild_type)})")
        if wild_type[pos - 1] != wt:
            raise ValueError(f"mutant {mutant!r}: wild type has {wild_type[pos - 1]} at {pos}, not {wt}")
        if mt not in letters:
            raise ValueError(f"mutant {mutant!r}: {mt} is not an amino-acid letter of the alphabet")
        if pos in seen:
            raise ValueError(f"mutant {mutant!r}: position {pos} mutated twice")
        seen.add(pos)
        muts.append((pos - 1, alpha.get_idx(wt), alpha.get_idx(mt)))
    return muts


def log_prob_table(run, alpha, wild_type, method):
    """([L, 33] float32 log-prob rows of the residues, forward passes made) as predict.py computes them."""
    toks = tokens_for(alpha, wild_type)
    n = len(wild_type)
    passes = 0
    if method == "wt-marginals":
        table = torch.log_softmax(run(toks), dim=-1)[0, 1 : n + 1]
        passes += 1
    elif method == "masked-marginals":
        rows = []
        for i in range(1, n + 1):
            masked = toks.clone()
            masked[0, i] = alpha.mask_idx
            rows.append(torch.log_softmax(run(masked), dim=-1)[0, i])
            passes += 1
        table = torch.stack(rows)
    else:
        raise ValueError(f"unknown method {method!r} ({', '.join(METHODS)})")
    assert table.shape == (n, len(alpha.all_toks)) and table.dtype == torch.float32, (table.shape, table.dtype)
    return table.contiguous(), passes


def score_outputs(run, request):
    alpha = alphabet()
    wild_type = request["wild_type"]
    # Everything is validated before the first forward pass.
    parsed = [parse_mutant(alpha, wild_type, m) for m in request["mutants"]]
    for method in request["methods"]:
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r} ({', '.join(METHODS)})")
    out = {}
    for method in request["methods"]:
        calls = [0]

        def counted(toks):
            calls[0] += toks.shape[0]
            return run(toks)

        table, passes = log_prob_table(counted, alpha, wild_type, method)
        expected = len(wild_type) if method == "masked-marginals" else 1
        assert passes == calls[0] == expected, f"{method}: {calls[0]} forward passes, expected {expected}"
        t = table.double()
        scores = [sum(float(t[i, mt] - t[i, wt]) for i, wt, mt in muts) for muts in parsed]
        out[f"scores/{method}"] = torch.tensor(scores, dtype=torch.float64)
        out[f"log_probs/{method}"] = table
    return out


def to_fair(model_dir, out_pt):
    """Writes MODEL_DIR's weights as fair-esm writes ESM2 checkpoints, and checks fair-esm loads it."""
    import argparse as ap

    from safetensors.torch import load_file

    cfg = json.loads((Path(model_dir) / "config.json").read_text())
    hf = load_file(str(Path(model_dir) / "model.safetensors"))
    hf = {k.removeprefix("esm."): v for k, v in hf.items()}
    m = {}
    m["encoder.sentence_encoder.embed_tokens.weight"] = hf["embeddings.word_embeddings.weight"]
    for i in range(cfg["num_hidden_layers"]):
        p, q = f"encoder.layer.{i}.", f"encoder.sentence_encoder.layers.{i}."
        pairs = {
            "attention.self.query": "self_attn.q_proj",
            "attention.self.key": "self_attn.k_proj",
            "attention.self.value": "self_attn.v_proj",
            "attention.output.dense": "self_attn.out_proj",
            "attention.LayerNorm": "self_attn_layer_norm",
            "intermediate.dense": "fc1",
            "output.dense": "fc2",
            "LayerNorm": "final_layer_norm",
        }
        for a, b in pairs.items():
            for w in ("weight", "bias"):
                m[q + b + "." + w] = hf[p + a + "." + w]
        m[q + "self_attn.rot_emb.inv_freq"] = hf[p + "attention.self.rotary_embeddings.inv_freq"]
    for w in ("weight", "bias"):
        m["encoder.sentence_encoder.emb_layer_norm_after." + w] = hf["encoder.emb_layer_norm_after." + w]
        m["encoder.lm_head.dense." + w] = hf["lm_head.dense." + w]
        m["encoder.lm_head.layer_norm." + w] = hf["lm_head.layer_norm." + w]
        m["encoder.sentence_encoder.contact_head.regression." + w] = hf["contact_head.regression." + w]
    m["encoder.lm_head.weight"] = hf["embeddings.word_embeddings.weight"]
    m["encoder.lm_head.bias"] = hf["lm_head.bias"]
    ns = ap.Namespace(
        encoder_layers=cfg["num_hidden_layers"],
        encoder_embed_dim=cfg["hidden_size"],
        encoder_ffn_embed_dim=cfg["intermediate_size"],
        encoder_attention_heads=cfg["num_attention_heads"],
        token_dropout=cfg.get("token_dropout", True),
    )
    out_pt = Path(out_pt)
    torch.save({"model": m, "cfg": {"model": ns}}, out_pt)
    # fair-esm loads "<stem>-contact-regression.pt" beside ESM2 checkpoints.
    reg = {
        "model": {
            "contact_head.regression.weight": hf["contact_head.regression.weight"],
            "contact_head.regression.bias": hf["contact_head.regression.bias"],
        }
    }
    torch.save(reg, out_pt.with_name(out_pt.stem + "-contact-regression.pt"))
    fair_runner(str(out_pt))  # raises if fair-esm cannot load it


def resave(model_dir, out_dir, max_shard=None):
    from transformers import EsmModel

    model = EsmModel.from_pretrained(model_dir, add_pooling_layer=False)
    kwargs = {"max_shard_size": max_shard} if max_shard else {}
    model.save_pretrained(out_dir, **kwargs)


def main():
    cmd = sys.argv[1]
    if cmd in ("hf", "fair"):
        from safetensors.torch import save_file

        request = json.loads(Path(sys.argv[3]).read_text())
        run = hf_runner(sys.argv[2]) if cmd == "hf" else fair_runner(sys.argv[2])
        save_file(outputs(run, request), sys.argv[4])
    elif cmd in ("hf-logits", "fair-logits", "hf-score", "fair-score"):
        from safetensors.torch import save_file

        request = json.loads(Path(sys.argv[3]).read_text())
        engine, what = cmd.split("-")
        run = hf_lm_runner(sys.argv[2]) if engine == "hf" else fair_lm_runner(sys.argv[2])
        out = logits_outputs(run, request) if what == "logits" else score_outputs(run, request)
        save_file(out, sys.argv[4])
    elif cmd == "to-fair":
        to_fair(sys.argv[2], sys.argv[3])
    elif cmd == "resave":
        resave(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
