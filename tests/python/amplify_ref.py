"""Reference AMPLIFY outputs for esmdb's parity tests, computed by the authors' own model code.

The model and tokenizer are chandar-lab/AMPLIFY's (commit 2fd2c08, vendored unchanged under
shared/reference/amplify, or $ESMDB_AMPLIFY_REF): the same `AMPLIFY`/`EncoderBlock` the Hugging Face
repositories chandar-lab/AMPLIFY_120M and AMPLIFY_350M run as remote code. No registry ships that code, so it is
imported from that folder. It imports `xformers.ops.SwiGLU` at module level: xformers 0.0.35 is in the project
venv (scripts/setup), and without it the script stops, saying so. Only where xformers cannot be installed,
ESMDB_AMPLIFY_STANDIN=1 puts a stand-in `xformers.ops` first whose `SwiGLU` is xformers' own eager path
(`swiglu_op.py`: w12 is [2h, d], viewed as [2, h, d] -> w1 | w2; `w3(silu(x @ w1.T) * (x @ w2.T))`) and whose
`memory_efficient_attention` refuses to run (it is only called for CUDA tensors; everything here runs on the CPU,
where the model calls torch's scaled_dot_product_attention); `check` compares the two where both exist. The
script says on stderr which one ran.

Usage (with the project venv's Python, $ESMDB_PYTHON: torch, transformers, safetensors, pyyaml):
  amplify_ref.py init  CONFIG SEED OUT_DIR                 # random-weight AMPLIFY, published layout
  amplify_ref.py run   MODEL_DIR REQUEST.json OUT.safetensors
  amplify_ref.py log-probs MODEL_DIR REQUEST.json OUT.safetensors  # zero-shot tables, esmdb's ESM columns
  amplify_ref.py check MODEL_DIR REQUEST.json              # padded batches leak nothing; shim == xformers

CONFIG: a JSON file, or an inline JSON object, with AMPLIFYConfig's keys: hidden_size, num_hidden_layers,
num_attention_heads, intermediate_size (the config value, 4 x hidden in both releases; the SwiGLU width is
derived from it), e.g. {"hidden_size": 640, "num_hidden_layers": 24, "num_attention_heads": 10,
"intermediate_size": 2560} for AMPLIFY_120M. init writes OUT_DIR/config.json by hand (the published keys;
transformers 5 refuses save_pretrained on this config class) and OUT_DIR/model.safetensors with the state
dict's own names, every tensor random (RMSNorm scales and the decoder bias too), then reloads it with a strict
load_state_dict, as AMPLIFY.load does.

MODEL_DIR: config.json + model.safetensors with the upstream names (chandar-lab/AMPLIFY_* or init's output).
The model is built as AMPLIFY(AMPLIFYConfig(**config.json)) and loaded with load_state_dict(strict=True).

REQUEST.json: {"sequences": [[id, seq], ...], "layers": [...]}. Each sequence runs alone (no padding, no
pad_mask), tokenized by the upstream ProteinTokenizer (vocabulary conf/tokenizer/amplify_vocab.txt, ids of
conf/tokenizer/amplify_tokenizer.yaml): <bos>=3 + one token per character + <eos>=4, a character outside the
vocabulary (X, Z, U, O) -> <unk>=1. The layers follow esmdb's convention:
  0        = the token embedding, model.encoder(ids) (upstream does not return it; read here directly),
  1..n-1   = the output of block k = upstream hidden_states[k - 1], raw,
  n        = SWAT's extract_AMPLIFY.py: a fresh nn.LayerNorm(hidden) (weight 1, bias 0, eps 1e-5) applied to
             hidden_states[-1], the last block's output *before* the model's own layer_norm_2.
The output holds float32 "<id>/per_tok_L<k>" [len, dim] (positions 1..len), "<id>/mean_L<k>" [dim] (their mean:
at k = n this is exactly SWAT's per-sequence embedding), "<id>/bos_L<k>" [dim] (position 0, <bos>), and
"<id>/logits" [len + 2, 27] (every token, decoder(layer_norm_2(last block)), upstream's MaskedLMOutput.logits, in
the vocabulary file's order).

log-probs: REQUEST.json {"sequences": [[id, seq], ...], "methods": ["wt-marginals", "masked-marginals"]}; the output
holds float32 "<id>/<method>" [len, 33]: log_softmax over upstream's 27 logits at each residue row (wt-marginals: one
pass of <bos> seq <eos>; masked-marginals: pass i with residue i replaced by <mask> = 2, row i), then re-indexed into
the ESM alphabet's 33 columns as esmdb's LogProbs table is (column c = AMPLIFY column FROM_ESM[c]: <cls> -> <bos>,
X/U/Z/O/./- -> <unk>, <null_1> -> |; amplify.rs FROM_ESM).
"""
import json
import os
import sys
import types
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("ESMDB_REF_THREADS", "1")))
warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=UserWarning)

# $ESMDB_AMPLIFY_REF, else the shared folder beside the repository root (../shared, as the README's data paths).
_HERE = Path(__file__).resolve()
REF = Path(os.environ.get("ESMDB_AMPLIFY_REF") or _HERE.parents[2].parent / "shared/reference/amplify")
VOCAB = REF / "conf/tokenizer/amplify_vocab.txt"
TOKENIZER_YAML = REF / "conf/tokenizer/amplify_tokenizer.yaml"

# The published config.json keys (AMPLIFYConfig.__init__'s arguments), with the upstream defaults.
CONFIG_DEFAULTS = {
    "hidden_size": 960,
    "num_hidden_layers": 32,
    "num_attention_heads": 15,
    "intermediate_size": 3840,
    "dropout_prob": 0,
    "embedding_init_range": 0.02,
    "decoder_init_range": 0.02,
    "rms_norm": True,
    "norm_eps": 1e-05,
    "hidden_act": "SwiGLU",
    "layer_norm_after_embedding": False,
    "layer_norm_before_last_layer": True,
    "vocab_size": 27,
    "ffn_bias": False,
    "att_bias": False,
    "pad_token_id": 0,
    "max_length": 2048,
}


class _ShimSwiGLU(torch.nn.Module):
    """xformers.ops.SwiGLU(in, hidden, out, bias) with _pack_weights=True, computed as xformers' eager path."""

    def __init__(self, in_features, hidden_features, out_features=None, bias=True, *, _pack_weights=True):
        super().__init__()
        assert _pack_weights
        out_features = out_features or in_features
        self.w12 = torch.nn.Linear(in_features, 2 * hidden_features, bias=bias)
        self.w3 = torch.nn.Linear(hidden_features, out_features, bias=bias)
        self.in_features, self.hidden_features, self.out_features = in_features, hidden_features, out_features

    def forward(self, x):
        w1, w2 = self.w12.weight.view([2, self.hidden_features, -1]).unbind(0)
        b1, b2 = (None, None) if self.w12.bias is None else self.w12.bias.view([2, -1]).unbind(0)
        return F.linear(F.silu(F.linear(x, w1, b1)) * F.linear(x, w2, b2), self.w3.weight, self.w3.bias)


def _no_mea(*args, **kwargs):
    raise RuntimeError("memory_efficient_attention (CUDA only) is not available in the xformers stand-in")


_IMPORTED = []


def import_amplify():
    """The upstream package, with the real xformers when it imports, else the stand-in. Returns (module, which)."""
    if _IMPORTED:
        return _IMPORTED[0]
    which = "xformers"
    try:
        import xformers.ops  # noqa: F401
    except Exception as e:
        if os.environ.get("ESMDB_AMPLIFY_STANDIN") != "1":
            raise SystemExit(f"xformers does not import ({e}): run scripts/setup (it installs xformers 0.0.35), or set "
                             "ESMDB_AMPLIFY_STANDIN=1 to use its eager SwiGLU written out here")
        which = "stand-in"
        ops = types.ModuleType("xformers.ops")
        ops.SwiGLU = _ShimSwiGLU
        ops.memory_efficient_attention = _no_mea
        pkg = types.ModuleType("xformers")
        pkg.ops = ops
        sys.modules["xformers"] = pkg
        sys.modules["xformers.ops"] = ops
    if not (REF / "amplify" / "model" / "amplify.py").is_file():
        raise SystemExit(f"the AMPLIFY reference code is not at {REF}: set ESMDB_AMPLIFY_REF to its folder")
    sys.path.insert(0, str(REF))
    import amplify

    print(f"amplify_ref: upstream AMPLIFY from {REF}, SwiGLU from {which}", file=sys.stderr)
    _IMPORTED.append((amplify, which))
    return amplify, which


def tokenizer():
    import yaml

    amplify, _ = import_amplify()
    cfg = yaml.safe_load(TOKENIZER_YAML.read_text())
    cfg["vocab_path"] = str(VOCAB)
    return amplify.ProteinTokenizer(**cfg)


def parse_config(arg):
    raw = json.loads(arg) if arg.lstrip().startswith("{") else json.loads(Path(arg).read_text())
    unknown = set(raw) - set(CONFIG_DEFAULTS)
    if unknown:
        raise SystemExit(f"unknown AMPLIFYConfig keys: {sorted(unknown)}")
    return {**CONFIG_DEFAULTS, **raw}


def config_json(cfg):
    """config.json as the published repositories hold it: AMPLIFYConfig's keys plus the Hub's bookkeeping."""
    return {
        "architectures": ["AMPLIFY"],
        "auto_map": {"AutoConfig": "amplify.AMPLIFYConfig", "AutoModel": "amplify.AMPLIFY"},
        "model_type": "AMPLIFY",
        **cfg,
        "torch_dtype": "float32",
    }


@torch.no_grad()
def randomize(model, seed):
    """Every parameter random, in state-dict order, from one seeded generator: matrices ~ N(0, 1/fan_in) (the
    token embedding N(0, 1)), RMSNorm scales ~ U(0.5, 1.5), the decoder bias ~ N(0, 0.1)."""
    g = torch.Generator().manual_seed(seed)
    for name, p in model.state_dict().items():
        if p.ndim == 2:
            std = 1.0 if name == "encoder.weight" else p.shape[1] ** -0.5
            p.copy_(torch.randn(p.shape, generator=g) * std)
        elif name.endswith("bias"):
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
        else:
            p.copy_(torch.rand(p.shape, generator=g) + 0.5)


def build(cfg_dict):
    amplify, _ = import_amplify()
    keys = {k: v for k, v in cfg_dict.items() if k in CONFIG_DEFAULTS}
    return amplify.AMPLIFY(amplify.AMPLIFYConfig(**keys))


def init(config_arg, seed, out_dir):
    from safetensors.torch import save_file

    cfg = parse_config(config_arg)
    model = build(cfg).eval()
    randomize(model, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config_json(cfg), indent=2) + "\n")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out / "model.safetensors")
    load(out)  # strict


def load(model_dir):
    """AMPLIFY in fp32 on the CPU, from config.json + model.safetensors, strictly (as AMPLIFY.load)."""
    from safetensors.torch import load_file

    model_dir = Path(model_dir)
    cfg = json.loads((model_dir / "config.json").read_text())
    model = build(cfg)
    model.load_state_dict(load_file(model_dir / "model.safetensors"), strict=True)
    return model.float().eval()


def encode(tok, seq):
    ids = tok.encode(list(seq), add_special_tokens=True, random_truncate=False)
    assert ids.shape[0] == len(seq) + 2
    return ids


@torch.inference_mode()
def outputs(model, request):
    tok = tokenizer()
    n_layers = model.config.num_hidden_layers
    d = model.config.hidden_size
    out = {}
    for sid, seq in request["sequences"]:
        ids = encode(tok, seq).unsqueeze(0)
        n = len(seq)
        res = model(ids, output_hidden_states=True)
        hs = res.hidden_states  # a list of n_layers tensors: hs[k - 1] is the output of block k
        assert len(hs) == n_layers
        for layer in request["layers"]:
            if not 0 <= layer <= n_layers:
                raise SystemExit(f"layer {layer} out of range 0..={n_layers}")
            if layer == 0:
                h = model.encoder(ids)[0]
            elif layer < n_layers:
                h = hs[layer - 1][0]
            else:
                # SWAT extract_AMPLIFY.py: nn.LayerNorm(hidden_size, elementwise_affine=True), fresh (1, 0, 1e-5).
                h = torch.nn.LayerNorm(d)(hs[-1][0])
            h = h.float()
            per_tok = h[1 : n + 1].contiguous()
            out[f"{sid}/per_tok_L{layer}"] = per_tok
            out[f"{sid}/mean_L{layer}"] = per_tok.mean(0).contiguous()
            out[f"{sid}/bos_L{layer}"] = h[0].contiguous()
        out[f"{sid}/logits"] = res.logits[0].float().contiguous()
    return out


# amplify.rs FROM_ESM: the AMPLIFY id of each ESM alphabet id (<cls> <pad> <eos> <unk>, L..C, X B U Z O, . -,
# <null_1> <mask>).
FROM_ESM = [3, 0, 4, 1] + list(range(6, 26)) + [1, 26, 1, 1, 1] + [1, 1] + [5, 2]


@torch.inference_mode()
def log_probs(model, request):
    tok = tokenizer()
    out = {}
    for sid, seq in request["sequences"]:
        ids = encode(tok, seq)
        n = len(seq)
        for method in request.get("methods", ["wt-marginals", "masked-marginals"]):
            if method == "wt-marginals":
                rows = model(ids.unsqueeze(0)).logits[0, 1 : n + 1]
            elif method == "masked-marginals":
                rows = []
                for i in range(1, n + 1):
                    masked = ids.clone()
                    masked[i] = tok.mask_token_id
                    rows.append(model(masked.unsqueeze(0)).logits[0, i])
                rows = torch.stack(rows)
            else:
                raise SystemExit(f"unknown method {method}")
            lp = torch.log_softmax(rows.float(), dim=-1)
            out[f"{sid}/{method}"] = lp[:, FROM_ESM].contiguous()
    return out


@torch.inference_mode()
def check(model_dir, request_path):
    """Mixed-length batches with upstream's additive pad_mask give each sequence's lone outputs (padding leaks
    nothing); and, where xformers imports, the stand-in SwiGLU equals xformers' on this model's weights."""
    request = json.loads(Path(request_path).read_text())
    model = load(model_dir)
    tok = tokenizer()
    seqs = [s for _, s in request["sequences"]]
    ids = [encode(tok, s) for s in seqs]
    width = max(len(i) for i in ids)
    batch = torch.full((len(ids), width), tok.pad_token_id, dtype=torch.long)
    for r, i in enumerate(ids):
        batch[r, : len(i)] = i
    pad_mask = torch.where(batch == tok.pad_token_id, float("-inf"), 0.0)
    res = model(batch, pad_mask=pad_mask, output_hidden_states=True)
    worst = 0.0
    for r, i in enumerate(ids):
        alone = model(i.unsqueeze(0), output_hidden_states=True)
        L = len(i)
        worst = max(worst, (res.logits[r, :L] - alone.logits[0]).abs().max().item())
        for a, b in zip(res.hidden_states, alone.hidden_states):
            worst = max(worst, (a[r, :L] - b[0]).abs().max().item())
    print(f"padded batch vs alone: max |diff| {worst:.3g}")
    assert worst < 1e-4
    _, which = import_amplify()
    if which == "xformers":
        import xformers.ops

        ffn = model.transformer_encoder[0].ffn
        shim = _ShimSwiGLU(ffn.in_features, ffn.hidden_features, ffn.out_features, bias=False)
        shim.load_state_dict(ffn.state_dict())
        x = torch.randn(3, 7, ffn.in_features)
        d = (shim(x) - ffn(x)).abs().max().item()
        print(f"stand-in SwiGLU vs xformers {xformers.__version__}: max |diff| {d:.3g}")
        assert d == 0.0


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "init":
        init(args[0], int(args[1]), args[2])
    elif cmd == "run":
        from safetensors.torch import save_file

        request = json.loads(Path(args[1]).read_text())
        save_file(outputs(load(args[0]), request), args[2])
    elif cmd == "log-probs":
        from safetensors.torch import save_file

        request = json.loads(Path(args[1]).read_text())
        save_file(log_probs(load(args[0]), request), args[2])
    elif cmd == "check":
        check(*args)
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
