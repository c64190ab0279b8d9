"""Reference ESM2 outputs for esmdb's parity tests, computed by the reference implementations.

Usage (from the Rust tests, with the project venv's Python):
  esm_ref.py hf       MODEL_DIR REQUEST.json OUT.safetensors   # transformers EsmModel
  esm_ref.py fair     MODEL.pt  REQUEST.json OUT.safetensors   # fair-esm ESM2 (load_model_and_alphabet_local)
  esm_ref.py to-fair  MODEL_DIR OUT.pt                         # save a HF checkpoint as a fair-esm checkpoint
  esm_ref.py resave   MODEL_DIR OUT_DIR [MAX_SHARD]            # EsmModel.save_pretrained (optionally sharded)

REQUEST.json: {"sequences": [[id, seq], ...], "layers": [..]}. Each sequence is run alone (no padding),
tokenized by fair-esm's alphabet; the output holds "<id>/per_tok_L<n>" [len, dim] and "<id>/mean_L<n>"
[dim] (mean over residues, as fair-esm's extract.py), float32.
"""
import argparse
import json
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
    elif cmd == "to-fair":
        to_fair(sys.argv[2], sys.argv[3])
    elif cmd == "resave":
        resave(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
