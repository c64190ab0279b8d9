//! The building blocks the model families share, as candle's `candle-nn` is for its models: a family file
//! (`esm1.rs`, `esm2.rs`, `esmc.rs`) holds only what is particular to it and builds the rest from here.
//!
//! Every block loads its tensors by the checkpoint's own names through [`Loader`], which checks each
//! tensor's presence and shape, so a mapping bug is a missing-tensor error rather than wrong numbers.
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::weights::Weights;

/// The checkpoint's tensors, read onto one device in one dtype.
pub(crate) struct Loader<'a> {
    pub(crate) weights: &'a Weights,
    pub(crate) device: Device,
    pub(crate) kind: Kind,
}

impl Loader<'_> {
    /// The tensor `name`, which must have `shape`.
    pub(crate) fn get(&self, name: &str, shape: &[i64]) -> Result<Tensor> {
        self.weights.get(name, shape, self.kind, self.device)
    }
}

/// `nn.Linear` with its bias.
pub(crate) struct Linear {
    pub(crate) weight: Tensor,
    pub(crate) bias: Tensor,
}

impl Linear {
    /// `{prefix}.weight` [out, in] and `{prefix}.bias` [out].
    pub(crate) fn load(w: &Loader, prefix: &str, out_dim: i64, in_dim: i64) -> Result<Self> {
        Ok(Linear {
            weight: w.get(&format!("{prefix}.weight"), &[out_dim, in_dim])?,
            bias: w.get(&format!("{prefix}.bias"), &[out_dim])?,
        })
    }

    /// Several projections of the same input stacked into one (rows in the order given): one GEMM
    /// instead of one per projection over the same activations.
    pub(crate) fn stacked(parts: &[Linear]) -> Result<Self> {
        let weights: Vec<&Tensor> = parts.iter().map(|p| &p.weight).collect();
        let biases: Vec<&Tensor> = parts.iter().map(|p| &p.bias).collect();
        Ok(Linear { weight: Tensor::f_cat(&weights, 0)?, bias: Tensor::f_cat(&biases, 0)? })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.f_linear(&self.weight, Some(&self.bias))?)
    }
}

/// `nn.LayerNorm` (fair-esm's `ESM1bLayerNorm`), with a bias or (ESM C's q/k and final norms) without.
pub(crate) struct LayerNorm {
    weight: Tensor,
    bias: Option<Tensor>,
    eps: f64,
}

impl LayerNorm {
    /// `{prefix}.weight` and `{prefix}.bias`, both [dim].
    pub(crate) fn load(w: &Loader, prefix: &str, dim: i64, eps: f64) -> Result<Self> {
        Ok(LayerNorm {
            weight: w.get(&format!("{prefix}.weight"), &[dim])?,
            bias: Some(w.get(&format!("{prefix}.bias"), &[dim])?),
            eps,
        })
    }

    /// `{prefix}.weight` [dim] only.
    pub(crate) fn load_without_bias(w: &Loader, prefix: &str, dim: i64, eps: f64) -> Result<Self> {
        Ok(LayerNorm { weight: w.get(&format!("{prefix}.weight"), &[dim])?, bias: None, eps })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dim = self.weight.size();
        Ok(x.f_layer_norm(&dim, Some(&self.weight), self.bias.as_ref(), self.eps, true)?)
    }
}

/// `1 / 10000^(2j/head_dim)`, j = 0 … head_dim/2 − 1, in fp32: the rotary frequencies, a fixed function of
/// the head width, never read from a checkpoint.
pub(crate) fn rotary_inv_freq(head_dim: i64, device: Device) -> Result<Tensor> {
    Ok(Tensor::f_arange_start_step(0, head_dim, 2, (Kind::Float, device))?
        .f_div_scalar(head_dim as f64)?
        .f_mul_scalar(10000f64.ln())?
        .f_exp()?
        .f_reciprocal()?)
}

/// Rotary position tables for one sequence length, half-split (GPT-NeoX) rotation: positions from 0 at
/// the first token, angles computed in fp32. transformers `EsmRotaryEmbedding`; esm layers.py
/// `EsmcRotaryEmbedding` with `interleaved=False`.
pub(crate) struct Rotary {
    cos: Tensor, // [1, 1, seq, head_dim]
    sin: Tensor,
}

impl Rotary {
    pub(crate) fn new(inv_freq: &Tensor, seq_len: i64, kind: Kind) -> Result<Self> {
        let t = Tensor::f_arange(seq_len, (Kind::Float, inv_freq.device()))?;
        let freqs = t.f_outer(inv_freq)?;
        let emb = Tensor::f_cat(&[&freqs, &freqs], -1)?.f_unsqueeze(0)?.f_unsqueeze(0)?;
        Ok(Rotary { cos: emb.f_cos()?.f_to_kind(kind)?, sin: emb.f_sin()?.f_to_kind(kind)? })
    }

    /// x · cos + rotate_half(x) · sin, x: [batch, heads, seq, head_dim].
    pub(crate) fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let half = x.size()[3] / 2;
        let x1 = x.f_narrow(3, 0, half)?;
        let x2 = x.f_narrow(3, half, half)?;
        let rotated = Tensor::f_cat(&[&x2.f_neg()?, &x1], -1)?;
        Ok(x.f_mul(&self.cos)?.f_add(&rotated.f_mul(&self.sin)?)?)
    }
}

/// Tokens per row when any row of `keep` ([batch, seq], false at `<pad>`) is padded; `None` when none is.
pub(crate) fn padded_lengths(keep: &Tensor) -> Result<Option<Vec<i64>>> {
    if !bool::try_from(keep.f_logical_not()?.f_any()?)? {
        return Ok(None);
    }
    Ok(Some(Vec::<i64>::try_from(&keep.f_sum_dim_intlist(-1, false, Kind::Int64)?.f_to_device(Device::Cpu)?)?))
}

/// Scaled dot-product attention over q, k, v ([batch, heads, seq, head_dim]) with `scale` (libtorch's
/// 1/√head_dim when `None`). With `lengths`, each row attends over its own first `lengths[i]` tokens only:
/// equal to a key-padding mask on every real token, but it keeps libtorch on its fused (flash) CPU kernel
/// instead of the masked math path, which materializes [batch, heads, seq, seq] scores and was ~3× slower
/// on mixed-length sets. Padded query positions get zeros; nothing reads them.
pub(crate) fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: Option<f64>,
    lengths: Option<&[i64]>,
) -> Result<Tensor> {
    let sdpa = |q: &Tensor, k: &Tensor, v: &Tensor| {
        Tensor::f_scaled_dot_product_attention(q, k, v, None::<Tensor>, 0.0, false, scale, false)
    };
    let Some(lengths) = lengths else { return Ok(sdpa(q, k, v)?) };
    let t = q.size()[2];
    let rows = lengths
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let part = |x: &Tensor| x.f_narrow(0, i as i64, 1)?.f_narrow(2, 0, len);
            sdpa(&part(q)?, &part(k)?, &part(v)?)?.f_constant_pad_nd([0, 0, 0, t - len])
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Tensor::f_cat(&rows, 0)?)
}

/// ESM's token embedding as applied at inference (ESM2 and ESM-1 with `token_dropout`): `<mask>` rows
/// zeroed, the rest × (1 − 0.15·0.8) / (1 − the row's observed mask ratio), i.e. ×0.88 without masks.
/// modeling_esm.py `EsmEmbeddings`; fair-esm's `ESM2.forward` / `ProteinBertModel.forward`.
pub(crate) fn token_dropout(
    x: &Tensor,
    tokens: &Tensor,
    keep: &Tensor,
    mask_token_id: i64,
    kind: Kind,
) -> Result<Tensor> {
    let is_mask = tokens.f_eq(mask_token_id)?;
    let x = x.f_masked_fill(&is_mask.f_unsqueeze(-1)?, 0.0)?;
    let src_len = keep.f_sum_dim_intlist(-1, false, Kind::Float)?;
    let observed = is_mask.f_sum_dim_intlist(-1, false, Kind::Float)?.f_div(&src_len)?;
    let denom = observed.f_neg()?.f_add_scalar(1.0)?.f_view([-1, 1, 1])?;
    Ok(x.f_mul_scalar(1.0 - 0.15 * 0.8)?.f_div(&denom)?.f_to_kind(kind)?)
}

/// ESM's self-attention with its pre-LayerNorm and q/k/v/out biases (ESM2 and ESM-1b/1v): q scaled by
/// head_dim^-0.5 after its bias and before the rotation where there is one (both references: "For BC we
/// apply scaling before RoPE"). modeling_esm.py `EsmAttention`; fair-esm `MultiheadAttention`.
pub(crate) struct EsmAttention {
    layer_norm: LayerNorm, // {p}.attention.LayerNorm (fair-esm self_attn_layer_norm)
    qkv: Linear,           // {p}.attention.self.{query,key,value}, stacked
    dense: Linear,         // {p}.attention.output.dense (out_proj)
    num_heads: i64,
    head_dim: i64,
}

impl EsmAttention {
    pub(crate) fn load(w: &Loader, p: &str, hidden: i64, num_heads: i64, eps: f64) -> Result<Self> {
        let proj = |n: &str| Linear::load(w, &format!("{p}.attention.self.{n}"), hidden, hidden);
        Ok(EsmAttention {
            layer_norm: LayerNorm::load(w, &format!("{p}.attention.LayerNorm"), hidden, eps)?,
            qkv: Linear::stacked(&[proj("query")?, proj("key")?, proj("value")?])?,
            dense: Linear::load(w, &format!("{p}.attention.output.dense"), hidden, hidden)?,
            num_heads,
            head_dim: hidden / num_heads,
        })
    }

    /// x: [batch, seq, hidden] → [batch, seq, hidden], residual added. `lengths` (tokens per row,
    /// `<cls>`/`<eos>` included) is given when rows are padded.
    fn forward(&self, x: &Tensor, rope: Option<&Rotary>, lengths: Option<&[i64]>) -> Result<Tensor> {
        let (b, t, d) = x.size3()?;
        let h = self.layer_norm.forward(x)?;
        // [3, batch, heads, seq, head_dim]
        let qkv = self.qkv.forward(&h)?.f_view([b, t, 3, self.num_heads, self.head_dim])?.f_permute([2, 0, 3, 1, 4])?;
        let q = qkv.f_select(0, 0)?.f_mul_scalar((self.head_dim as f64).powf(-0.5))?;
        let (k, v) = (qkv.f_select(0, 1)?, qkv.f_select(0, 2)?);
        let (q, k) = match rope {
            Some(rope) => (rope.apply(&q)?, rope.apply(&k)?),
            None => (q, k),
        };
        let ctx = attention(&q, &k, &v, Some(1.0), lengths)?.f_transpose(1, 2)?.f_reshape([b, t, d])?;
        Ok(self.dense.forward(&ctx)?.f_add(x)?)
    }
}

/// ESM's transformer block (ESM2 and ESM-1b/1v): pre-LN attention, then a pre-LN feed-forward with exact
/// (erf) GELU. modeling_esm.py `EsmLayer`; fair-esm modules.py `TransformerLayer`.
pub(crate) struct EsmLayer {
    attention: EsmAttention,
    layer_norm: LayerNorm, // {p}.LayerNorm (fair-esm final_layer_norm)
    intermediate: Linear,  // {p}.intermediate.dense (fc1)
    output: Linear,        // {p}.output.dense (fc2)
}

impl EsmLayer {
    pub(crate) fn load(w: &Loader, p: &str, hidden: i64, ffn: i64, num_heads: i64, eps: f64) -> Result<Self> {
        Ok(EsmLayer {
            attention: EsmAttention::load(w, p, hidden, num_heads, eps)?,
            layer_norm: LayerNorm::load(w, &format!("{p}.LayerNorm"), hidden, eps)?,
            intermediate: Linear::load(w, &format!("{p}.intermediate.dense"), ffn, hidden)?,
            output: Linear::load(w, &format!("{p}.output.dense"), hidden, ffn)?,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor, rope: Option<&Rotary>, lengths: Option<&[i64]>) -> Result<Tensor> {
        let x = self.attention.forward(x, rope, lengths)?;
        let h = self.layer_norm.forward(&x)?;
        let h = self.intermediate.forward(&h)?.f_gelu("none")?;
        Ok(self.output.forward(&h)?.f_add(&x)?)
    }
}

/// The hidden states of each requested layer of an `n`-block model, in the order asked, from `run`, which
/// computes blocks up to the deepest one asked and hands each stage to its recorder (0 = the embedding stage,
/// i = the output of block i, `n` = after the final norm). Every family's `forward` contract.
pub(crate) fn requested_layers(
    layers: &[i64],
    n: i64,
    run: impl FnOnce(i64, &mut dyn FnMut(i64, &Tensor)) -> Result<()>,
) -> Result<Vec<Tensor>> {
    if let Some(&bad) = layers.iter().find(|&&l| l < 0 || l > n) {
        return Err(Error::Option(format!("layer {bad} out of range 0..={n}")));
    }
    let deepest = layers.iter().copied().max().unwrap_or(n);
    let _guard = tch::no_grad_guard();
    let mut out: Vec<Option<Tensor>> = (0..layers.len()).map(|_| None).collect();
    run(deepest, &mut |layer, x| {
        for (slot, &l) in out.iter_mut().zip(layers) {
            if l == layer {
                *slot = Some(x.shallow_clone());
            }
        }
    })?;
    Ok(out.into_iter().map(|t| t.unwrap_or_else(Tensor::new)).collect())
}

/// The final-normed last layer of an `n`-block model, from `run` (see [`requested_layers`]).
pub(crate) fn last_layer(n: i64, run: impl FnOnce(i64, &mut dyn FnMut(i64, &Tensor)) -> Result<()>) -> Result<Tensor> {
    requested_layers(&[n], n, run)?.pop().ok_or_else(|| Error::Option("no final hidden state".into()))
}
