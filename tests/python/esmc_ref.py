"""Reference ESM C (ESMC) outputs for esmdb's parity tests, computed by EvolutionaryScale's `esm` package.

Runs in its own venv ($ESMDB_ESMC_VENV, made by scripts/setup from scripts/requirements-esmc.lock): the package
needs Python >= 3.12 and its import name `esm` clashes with fair-esm's. docs/dev/esmc-port.md describes what
is computed here and why.

Usage (with the ESMC venv's Python):
  esmc_ref.py init  CONFIG SEED OUT_DIR                 # random-weight ESMC in both checkpoint layouts
  esmc_ref.py run   MODEL REQUEST.json OUT.safetensors  # esm's EsmcModel (via EsmcForMaskedLM)
  esmc_ref.py check MODEL_DIR MODEL.pth REQUEST.json    # both layouts agree, and with the 2024 ESMC class

CONFIG: a JSON file, or an inline JSON object, with hidden_size, num_attention_heads, num_hidden_layers
(e.g. {"hidden_size": 960, "num_attention_heads": 15, "num_hidden_layers": 30} for esmc_300m). init writes
  OUT_DIR/hf/config.json + OUT_DIR/hf/model.safetensors  EsmcForMaskedLM.save_pretrained (biohub/ESMC-* layout)
  OUT_DIR/esmc.pth                                       state dict named as data/weights/esmc_300m_2024_12_v0.pth
with every tensor random (LayerNorm scales, q/k-norm scales and the final norm too), so that a mis-mapped or
transposed tensor cannot hide.

MODEL: a directory (config.json + safetensors, published layout) or a `.pth`/`.pt` 2024-release state dict.
A state dict has no config: the width and depth come from the shapes, the head count from ESMC's fixed
head width of 64 (d/64: 960 -> 15, 1152 -> 18, 2560 -> 40) unless --heads N is given after MODEL.

REQUEST.json: {"sequences": [[id, seq], ...], "layers": [...]}. Each sequence runs alone (no padding),
tokenized by the package's EsmcTokenizer (<cls> seq <eos>). Layer L is the package's hidden_states[L]:
0 = the token embedding, 1..n-1 = the output of block L, n = after the final LayerNorm (last_hidden_state).
The output holds float32 "<id>/per_tok_L<n>" [len, dim] (residues only), "<id>/mean_L<n>" [dim] (their
mean), "<id>/bos_L<n>" [dim] (the <cls> position) and "<id>/logits" [len + 2, 64] (every token, from the
masked-LM head).
"""
import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path

import torch

torch.set_num_threads(int(os.environ.get("ESMDB_REF_THREADS", "1")))
warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)

HEAD_DIM = 64  # every published ESMC: 960/15, 1152/18, 2560/40

# 2024-release (esm 3.0/3.1 `ESMC` class) state-dict names <-> this package's in-memory names, per block.
# The in-memory tree (transformer-engine names) is what EsmcForMaskedLM.state_dict() holds; its
# save_pretrained translates that to the published (transformers-style) names.
_LEGACY_BLOCK = {
    "attn.layernorm_qkv.0.weight": "attn.layernorm_qkv.layer_norm_weight",
    "attn.layernorm_qkv.0.bias": "attn.layernorm_qkv.layer_norm_bias",
    "attn.layernorm_qkv.1.weight": "attn.layernorm_qkv.weight",
    "attn.out_proj.weight": "attn.out_proj.weight",
    "attn.q_ln.weight": "attn.q_ln.weight",
    "attn.k_ln.weight": "attn.k_ln.weight",
    "ffn.0.weight": "ffn.layer_norm_weight",
    "ffn.0.bias": "ffn.layer_norm_bias",
    "ffn.1.weight": "ffn.fc1_weight",
    "ffn.3.weight": "ffn.fc2_weight",
}
_LEGACY_ROOT = {
    "embed.weight": "esmc.embed.weight",
    "transformer.norm.weight": "esmc.transformer.norm.weight",
}
for _i in (0, 2, 3):
    for _p in ("weight", "bias"):
        _LEGACY_ROOT[f"sequence_head.{_i}.{_p}"] = f"lm_head.{_i}.{_p}"


def legacy_to_native(state):
    out = {}
    for key, value in state.items():
        if key in _LEGACY_ROOT:
            out[_LEGACY_ROOT[key]] = value
            continue
        parts = key.split(".", 3)  # transformer.blocks.<i>.<leaf>
        if len(parts) == 4 and parts[:2] == ["transformer", "blocks"] and parts[3] in _LEGACY_BLOCK:
            out[f"esmc.transformer.blocks.{parts[2]}.{_LEGACY_BLOCK[parts[3]]}"] = value
        else:
            raise KeyError(f"unexpected key in a 2024-release ESMC state dict: {key}")
    return out


def native_to_legacy(state):
    root = {v: k for k, v in _LEGACY_ROOT.items()}
    block = {v: k for k, v in _LEGACY_BLOCK.items()}
    out = {}
    for key, value in state.items():
        if key in root:
            out[root[key]] = value
            continue
        prefix = "esmc.transformer.blocks."
        assert key.startswith(prefix), key
        index, leaf = key[len(prefix) :].split(".", 1)
        out[f"transformer.blocks.{index}.{block[leaf]}"] = value
    return out


def parse_config(arg):
    from esm.models.esmc import EsmcConfig

    raw = json.loads(arg) if arg.lstrip().startswith("{") else json.loads(Path(arg).read_text())
    return EsmcConfig(
        hidden_size=raw["hidden_size"],
        num_attention_heads=raw["num_attention_heads"],
        num_hidden_layers=raw["num_hidden_layers"],
        vocab_size=raw.get("vocab_size", 64),
        attn_implementation="sdpa",
    )


@torch.no_grad()
def randomize(model, seed):
    """Every parameter random, in state-dict order, from one seeded generator.

    Weights ~ N(0, 1/fan_in) (activations stay O(1) through depth), the embedding ~ N(0, 1), LayerNorm
    scales ~ U(0.5, 1.5) and shifts / biases ~ N(0, 0.1): far from the 1/0 defaults.
    """
    g = torch.Generator().manual_seed(seed)
    for name, p in model.state_dict().items():
        if not p.is_floating_point():
            continue
        if p.ndim == 2:
            std = 1.0 if name.endswith("embed.weight") else p.shape[1] ** -0.5
            p.copy_(torch.randn(p.shape, generator=g) * std)
        elif "bias" in name:
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
        else:  # LayerNorm scales: input/post-attention norms, q_ln, k_ln, final norm, LM head norm
            p.copy_(torch.rand(p.shape, generator=g) + 0.5)


def legacy_esmc_class():
    """The 2024-release `ESMC` class (esm 3.0-3.1; what the paper's extract_ESMC.py loads the .pth into).

    3.4.x still ships it as esm/models/esmc.py, shadowed by the esm/models/esmc/ package, so it is
    loaded from its file.
    """
    import esm

    path = Path(esm.__path__[0]) / "models" / "esmc.py"
    spec = importlib.util.spec_from_file_location("esm_models_esmc_2024", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ESMC


def init(config_arg, seed, out_dir):
    from esm.models.esmc import EsmcForMaskedLM

    cfg = parse_config(config_arg)
    with torch.device("cpu"):
        model = EsmcForMaskedLM(cfg).eval()
    randomize(model, seed)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir / "hf")
    legacy = native_to_legacy(model.state_dict())
    torch.save({k: v.clone().contiguous() for k, v in legacy.items()}, out_dir / "esmc.pth")

    # The .pth must load strictly into the 2024 ESMC class, as extract_ESMC.py does.
    from esm.tokenization import get_esmc_model_tokenizers

    ESMC = legacy_esmc_class()
    old = ESMC(
        d_model=cfg.hidden_size,
        n_heads=cfg.num_attention_heads,
        n_layers=cfg.num_hidden_layers,
        tokenizer=get_esmc_model_tokenizers(),
        use_flash_attn=False,
    )
    old.load_state_dict(torch.load(out_dir / "esmc.pth", map_location="cpu", weights_only=True), strict=True)


def load(model_path, heads=None):
    """EsmcForMaskedLM in fp32 on the CPU, from either checkpoint layout."""
    from esm.models.esmc import EsmcConfig, EsmcForMaskedLM

    path = Path(model_path)
    if path.is_dir():
        return EsmcForMaskedLM.from_pretrained(path, device="cpu", dtype=torch.float32, attn_implementation="sdpa")
    state = torch.load(path, map_location="cpu", weights_only=True)
    vocab, d = state["embed.weight"].shape
    n_layers = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("transformer.blocks."))
    cfg = EsmcConfig(
        vocab_size=vocab,
        hidden_size=d,
        num_attention_heads=heads or d // HEAD_DIM,
        num_hidden_layers=n_layers,
        attn_implementation="sdpa",
    )
    with torch.device("cpu"):
        model = EsmcForMaskedLM(cfg)
    missing, unexpected = model.load_state_dict(legacy_to_native(state), strict=False)
    assert not unexpected and not missing, (missing, unexpected)
    return model.float().eval()


@torch.inference_mode()
def outputs(model, request):
    from esm.models.esmc import EsmcTokenizer

    tok = EsmcTokenizer()
    n_layers = model.config.num_hidden_layers
    out = {}
    for sid, seq in request["sequences"]:
        ids = torch.tensor([tok(seq)["input_ids"]])
        n = len(seq)
        assert ids.shape[1] == n + 2, f"{sid}: tokenized to {ids.shape[1]} tokens for {n} residues"
        res = model(input_ids=ids, output_hidden_states=True)
        hs = res.hidden_states  # [n_layers + 1, 1, T, d]
        for layer in request["layers"]:
            if not 0 <= layer <= n_layers:
                raise SystemExit(f"layer {layer} out of range 0..={n_layers}")
            h = (res.last_hidden_state if layer == n_layers else hs[layer])[0].float()
            per_tok = h[1 : n + 1].contiguous()
            out[f"{sid}/per_tok_L{layer}"] = per_tok
            out[f"{sid}/mean_L{layer}"] = per_tok.mean(0).contiguous()
            out[f"{sid}/bos_L{layer}"] = h[0].contiguous()
        out[f"{sid}/logits"] = res.logits[0].float().contiguous()
    return out


@torch.inference_mode()
def check(model_dir, pth, request_path):
    """Both layouts give identical outputs; the 2024 ESMC class gives the same embeddings and logits."""
    from esm.tokenization import get_esmc_model_tokenizers

    request = json.loads(Path(request_path).read_text())
    a = outputs(load(model_dir), request)
    b = outputs(load(pth), request)
    assert a.keys() == b.keys()
    worst = max((a[k] - b[k]).abs().max().item() for k in a)
    print(f"published layout vs 2024 .pth, through EsmcModel: max |diff| = {worst:.3g} over {len(a)} tensors")
    assert worst == 0.0

    native = load(model_dir)
    cfg = native.config
    ESMC = legacy_esmc_class()
    old = ESMC(
        d_model=cfg.hidden_size,
        n_heads=cfg.num_attention_heads,
        n_layers=cfg.num_hidden_layers,
        tokenizer=get_esmc_model_tokenizers(),
        use_flash_attn=False,
    ).eval()
    old.load_state_dict(torch.load(pth, map_location="cpu", weights_only=True), strict=True)
    for sid, seq in request["sequences"]:
        ids = old._tokenize([seq])
        o = old(sequence_tokens=ids)
        new = native(input_ids=ids, output_hidden_states=True)
        d_emb = (o.embeddings - new.last_hidden_state).abs().max().item()
        d_log = (o.sequence_logits - new.logits).abs().max().item()
        # 2024 hidden_states[i] = output of block i + 1 (before the final norm); native [i] = input of block i.
        d_mid = max((o.hidden_states[i - 1] - new.hidden_states[i]).abs().max().item() for i in range(1, cfg.num_hidden_layers))
        print(f"{sid}: 2024 ESMC vs EsmcModel: embeddings {d_emb:.3g}, logits {d_log:.3g}, block outputs {d_mid:.3g}")
        assert max(d_emb, d_log, d_mid) < 1e-5


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "init":
        init(args[0], int(args[1]), args[2])
    elif cmd == "run":
        from safetensors.torch import save_file

        heads = None
        if "--heads" in args:
            i = args.index("--heads")
            heads = int(args[i + 1])
            del args[i : i + 2]
        request = json.loads(Path(args[1]).read_text())
        save_file(outputs(load(args[0], heads), request), args[2])
    elif cmd == "check":
        check(*args)
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
