"""Reference ESM-1b / ESM-1v outputs for esmdb's parity tests, computed by fair-esm's ProteinBertModel.

Usage (with the project venv's Python, $ESMDB_PYTHON, which holds fair-esm 2.0.0):
  esm1_ref.py init CONFIG SEED OUT.pt                    # random-weight v1 checkpoint, fair-esm's own layout
  esm1_ref.py run  MODEL.pt REQUEST.json OUT.safetensors # load_model_and_alphabet_local + forward

CONFIG: a JSON file, or an inline JSON object: {"layers": 33, "embed_dim": 1280, "attention_heads": 20,
"ffn_embed_dim": 5120, "emb_layer_norm_before": true} (ffn_embed_dim defaults to 4 x embed_dim;
emb_layer_norm_before is true for ESM-1b, false for ESM-1v; "max_positions" defaults to 1024 and
"token_dropout" to true, as in both releases).

init builds fair-esm's ProteinBertModel (arch roberta_large) with every tensor random, then writes it the way
the released esm1b_t33_650M_UR50S.pt / esm1v_t33_650M_UR90S_[1-5].pt are laid out (what fair-esm's
_load_model_and_alphabet_core_v1 reads): {"args": Namespace(arch="roberta_large", encoder_layers=...,
encoder_embed_dim=..., encoder_ffn_embed_dim=..., encoder_attention_heads=..., max_positions=...,
token_dropout=...), "model": {"encoder.sentence_encoder.<name>": ..., "encoder.lm_head.<name>": ...}}, plus
fairseq-style training-state entries a reader must skip. The LM head's weight shares its storage with the
token embedding (tied, as saved by fairseq). Unless the file name contains "esm1v", fair-esm also wants
"<stem>-contact-regression.pt" beside it; init writes that file too. The file name decides how fair-esm
reads it: it must not start with "esm2".

REQUEST.json / output: as esm_ref.py, plus "<id>/bos_L<n>" [dim] (the <cls> position) and "<id>/logits"
[len + 2, 33]. Layer 0 is the embedding stage (token embedding x 0.88 token-dropout scale + learned
positions, then emb_layer_norm_before when present); layer n is after emb_layer_norm_after.
"""
import argparse
import json
import os
import sys
import warnings
from pathlib import Path

import torch

torch.set_num_threads(int(os.environ.get("ESMDB_REF_THREADS", "1")))
# fair-esm's own notice for files without a contact regression (every ESM-1v): expected here.
warnings.filterwarnings("ignore", message="Regression weights not found")


def parse_config(arg):
    raw = json.loads(arg) if arg.lstrip().startswith("{") else json.loads(Path(arg).read_text())
    d = raw["embed_dim"]
    return {
        "layers": raw["layers"],
        "embed_dim": d,
        "attention_heads": raw["attention_heads"],
        "ffn_embed_dim": raw.get("ffn_embed_dim", 4 * d),
        "emb_layer_norm_before": bool(raw.get("emb_layer_norm_before", True)),
        "max_positions": raw.get("max_positions", 1024),
        "token_dropout": bool(raw.get("token_dropout", True)),
    }


@torch.no_grad()
def randomize(model, seed):
    """Weights ~ N(0, 1/fan_in), embeddings ~ N(0, 1) (positions N(0, 0.5)), LayerNorm scales ~ U(0.5, 1.5),
    shifts and biases ~ N(0, 0.1). Shared tensors (the tied LM-head weight) are drawn once."""
    g = torch.Generator().manual_seed(seed)
    seen = set()
    for name, p in model.state_dict().items():
        if p.data_ptr() in seen:
            continue
        seen.add(p.data_ptr())
        if p.ndim == 2:
            std = {"embed_tokens.weight": 1.0, "embed_positions.weight": 0.5}.get(name, p.shape[1] ** -0.5)
            p.copy_(torch.randn(p.shape, generator=g) * std)
        elif name.endswith("bias"):
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
        else:
            p.copy_(torch.rand(p.shape, generator=g) + 0.5)


def init(config_arg, seed, out_pt):
    import esm

    c = parse_config(config_arg)
    alphabet = esm.data.Alphabet.from_architecture("roberta_large")
    model_args = argparse.Namespace(arch="roberta_large", **c)
    model = esm.model.esm1.ProteinBertModel(model_args, alphabet).eval()
    randomize(model, seed)

    state = model.state_dict()  # lm_head.weight and embed_tokens.weight share storage
    ckpt_model, regression = {}, {}
    for name, t in state.items():
        if name.startswith("contact_head."):
            regression[name] = t
        elif name.startswith("lm_head."):
            ckpt_model["encoder." + name] = t
        else:
            ckpt_model["encoder.sentence_encoder." + name] = t
    args = argparse.Namespace(
        arch="roberta_large",
        encoder_layers=c["layers"],
        encoder_embed_dim=c["embed_dim"],
        encoder_ffn_embed_dim=c["ffn_embed_dim"],
        encoder_attention_heads=c["attention_heads"],
        max_positions=c["max_positions"],
        token_dropout=c["token_dropout"],
        # fairseq training arguments present in the released files; fair-esm ignores them.
        dropout=0.1,
        attention_dropout=0.1,
        activation_dropout=0.0,
        max_tokens=4096,
        task="masked_lm",
        criterion="masked_lm",
    )
    # fairseq checkpoints also carry training state next to "args" and "model"; a reader must skip it.
    first = next(iter(ckpt_model.values()))
    extra = {
        "optimizer_history": [{"criterion_name": "MaskedLmLoss", "optimizer_name": "FairseqAdam", "num_updates": 1}],
        "extra_state": {"epoch": 1, "train_iterator": {"epoch": 1}},
        "last_optimizer_state": {"state": {0: {"step": 1, "exp_avg": torch.zeros_like(first)}}, "param_groups": []},
    }
    out_pt = Path(out_pt)
    torch.save({"args": args, "model": ckpt_model, **extra}, out_pt)
    if "esm1v" not in out_pt.stem:
        torch.save({"model": regression}, out_pt.with_name(out_pt.stem + "-contact-regression.pt"))

    # fair-esm must read it back to the same weights (the <mask> embedding row zeroed, as its loader does).
    loaded, _ = load(out_pt)
    expect = {k: v.clone() for k, v in state.items()}
    expect["embed_tokens.weight"][alphabet.mask_idx] = 0
    expect["lm_head.weight"] = expect["embed_tokens.weight"]  # tied: the zeroed row is the head's too
    got = loaded.state_dict()
    assert got.keys() == expect.keys(), set(got) ^ set(expect)
    for k in got:
        # ESM-1v files have no contact regression: fair-esm leaves that head at its initial values.
        if not (k.startswith("contact_head.") and "esm1v" in out_pt.stem):
            assert torch.equal(got[k], expect[k]), k
    assert bool(loaded.emb_layer_norm_before) == c["emb_layer_norm_before"]


def load(pt_path):
    import esm

    torch.serialization.add_safe_globals([argparse.Namespace])
    model, alphabet = esm.pretrained.load_model_and_alphabet_local(str(pt_path))
    return model.eval(), alphabet


@torch.inference_mode()
def outputs(model, alphabet, request):
    conv = alphabet.get_batch_converter()
    out = {}
    for sid, seq in request["sequences"]:
        _, _, toks = conv([(sid, seq)])
        n = len(seq)
        assert toks.shape[1] == n + 2, f"{sid}: tokenized to {toks.shape[1]} tokens for {n} residues"
        for layer in request["layers"]:
            if not 0 <= layer <= model.num_layers:
                raise SystemExit(f"layer {layer} out of range 0..={model.num_layers}")
        res = model(toks, repr_layers=request["layers"])
        for layer in request["layers"]:
            h = res["representations"][layer][0].float()
            per_tok = h[1 : n + 1].contiguous()
            out[f"{sid}/per_tok_L{layer}"] = per_tok
            out[f"{sid}/mean_L{layer}"] = per_tok.mean(0).contiguous()
            out[f"{sid}/bos_L{layer}"] = h[0].contiguous()
        out[f"{sid}/logits"] = res["logits"][0].float().contiguous()
    return out


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "init":
        init(args[0], int(args[1]), args[2])
    elif cmd == "run":
        from safetensors.torch import save_file

        model, alphabet = load(args[0])
        request = json.loads(Path(args[1]).read_text())
        save_file(outputs(model, alphabet, request), args[2])
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
