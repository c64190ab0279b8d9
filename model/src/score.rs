//! Zero-shot variant effects from the masked-LM head, as fair-esm's
//! `examples/variant-prediction/predict.py` defines them.
//!
//! A dataset's variants share one wild type, so the model runs on the wild type only: it yields a
//! table of log-probabilities, one row per residue position over the alphabet ([`LogProbs`]), and
//! every variant's score is a sum of lookups in it ([`LogProbs::log_odds`]). That table is what the
//! store caches; this crate only computes it.
use std::fmt;
use std::str::FromStr;

use tch::{Kind, Tensor};

use crate::alphabet::{self, VOCAB_SIZE};
use crate::embed::Embedder;
use crate::encoder::Family;
use crate::error::{Error, Result};

/// How the per-position log-probabilities are obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScoreMethod {
    /// One forward pass of the unmasked wild type (predict.py `wt-marginals`).
    WtMarginals,
    /// One forward pass per position, that position masked (predict.py `masked-marginals`).
    MaskedMarginals,
}

impl ScoreMethod {
    /// `wt-marginals` or `masked-marginals`, as SQL and the cache write it.
    pub fn name(self) -> &'static str {
        match self {
            ScoreMethod::WtMarginals => "wt-marginals",
            ScoreMethod::MaskedMarginals => "masked-marginals",
        }
    }

    /// Forward passes (one sequence each) the method needs for a wild type of `length` residues.
    pub fn forward_passes(self, length: usize) -> usize {
        match self {
            ScoreMethod::WtMarginals => 1,
            ScoreMethod::MaskedMarginals => length,
        }
    }
}

impl fmt::Display for ScoreMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ScoreMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "wt-marginals" => Ok(ScoreMethod::WtMarginals),
            "masked-marginals" => Ok(ScoreMethod::MaskedMarginals),
            other => Err(Error::Option(format!(
                "unknown scoring method `{other}`; expected wt-marginals or masked-marginals"
            ))),
        }
    }
}

/// log p(token | context) for every residue position of one sequence: `[length, width]`, row-major,
/// columns indexed by ESM token id ([`alphabet::TOKENS`] order; ESM C's head is 64 wide, its extra ids
/// never produced; AMPLIFY's 27 columns are re-indexed into these 33 by [`crate::amplify::esm_columns`],
/// so that a cached table reads the same for every family).
#[derive(Debug, Clone, PartialEq)]
pub struct LogProbs {
    /// Residues (rows).
    pub length: usize,
    /// Columns: the model's vocabulary.
    pub width: usize,
    /// `length × width` values.
    pub values: Vec<f32>,
}

impl LogProbs {
    /// Wraps a table read back from a cache, checking its size (and that every residue's token id
    /// has a column).
    pub fn new(length: usize, width: usize, values: Vec<f32>) -> Result<Self> {
        if length == 0 || width < VOCAB_SIZE as usize || values.len() != length * width {
            return Err(Error::Option(format!(
                "a log-probability table of {length} positions × {width} tokens (at least {VOCAB_SIZE}) cannot hold \
                 {} values",
                values.len()
            )));
        }
        Ok(LogProbs { length, width, values })
    }

    /// log p(`mt`) − log p(`wt`) at 1-based `position`: one mutation's score.
    pub fn log_odds(&self, position: usize, wt: char, mt: char) -> Result<f64> {
        if position == 0 || position > self.length {
            return Err(Error::Option(format!("position {position} is outside the sequence (1..={})", self.length)));
        }
        let token = |c: char| {
            alphabet::residue_token(c)
                .ok_or_else(|| Error::Option(format!("`{c}` is not a residue letter of the ESM alphabet")))
        };
        let row = &self.values[(position - 1) * self.width..position * self.width];
        Ok(f64::from(row[token(mt)? as usize]) - f64::from(row[token(wt)? as usize]))
    }
}

impl Embedder {
    /// The per-position log-probability table of `sequence` by `method`. Masked copies are run
    /// `batch_tokens` padded tokens at a time.
    pub fn log_probs(&self, id: &str, sequence: &str, method: ScoreMethod, batch_tokens: usize) -> Result<LogProbs> {
        let model = self.model();
        let residues = model.tokenize(id, sequence)?;
        let sp = model.specials();
        let len = residues.len();
        let width = len + 2;
        let mut wt = Vec::with_capacity(width);
        wt.push(sp.bos);
        wt.extend_from_slice(&residues);
        wt.push(sp.eos);
        let vocab = model.vocab_size() as usize;
        let mut values = Vec::with_capacity(len * vocab);
        match method {
            ScoreMethod::WtMarginals => {
                let tokens = Tensor::f_from_slice(&wt)?.f_view([1, width as i64])?;
                let logits = model.logits(&tokens)?.f_select(0, 0)?.f_narrow(0, 1, len as i64)?;
                values.extend(to_log_probs(&logits)?);
            }
            ScoreMethod::MaskedMarginals => {
                let per_batch = (batch_tokens / width).max(1);
                let positions: Vec<usize> = (0..len).collect();
                for chunk in positions.chunks(per_batch) {
                    let mut ids = Vec::with_capacity(chunk.len() * width);
                    for &i in chunk {
                        let start = ids.len();
                        ids.extend_from_slice(&wt);
                        ids[start + 1 + i] = sp.mask;
                    }
                    let tokens = Tensor::f_from_slice(&ids)?.f_view([chunk.len() as i64, width as i64])?;
                    let logits = model.logits(&tokens)?;
                    // Row r's masked position is token 1 + chunk[r].
                    let rows = Tensor::f_arange(chunk.len() as i64, (Kind::Int64, logits.device()))?;
                    let cols = Tensor::f_from_slice(&chunk.iter().map(|&i| 1 + i as i64).collect::<Vec<_>>())?
                        .f_to_device(logits.device())?;
                    let picked = logits.f_index(&[Some(rows), Some(cols)])?;
                    values.extend(to_log_probs(&picked)?);
                }
            }
        }
        if model.family() == Family::Amplify {
            return LogProbs::new(len, VOCAB_SIZE as usize, crate::amplify::esm_columns(&values));
        }
        LogProbs::new(len, vocab, values)
    }
}

/// log_softmax over the vocabulary, in f32 on the CPU: `[rows, vocab]` → flat values.
fn to_log_probs(logits: &Tensor) -> Result<Vec<f32>> {
    let _guard = tch::no_grad_guard();
    let lp = logits.f_to_kind(Kind::Float)?.f_log_softmax(-1, Kind::Float)?;
    let flat = lp.f_to_device(tch::Device::Cpu)?.f_contiguous()?.f_view([-1])?;
    Ok(Vec::<f32>::try_from(&flat)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_parse_and_count_passes() {
        assert_eq!("masked_marginals".parse::<ScoreMethod>().unwrap(), ScoreMethod::MaskedMarginals);
        assert_eq!(ScoreMethod::MaskedMarginals.forward_passes(263), 263);
        assert_eq!(ScoreMethod::WtMarginals.forward_passes(263), 1);
        let err = "pseudo-ppl".parse::<ScoreMethod>().unwrap_err().to_string();
        assert!(err.contains("wt-marginals or masked-marginals"), "{err}");
    }

    #[test]
    fn log_odds_reads_the_table() {
        let v = VOCAB_SIZE as usize;
        let mut values = vec![0.0f32; 2 * v];
        values[v + 5] = -1.0; // position 2, A
        values[v + 23] = -3.5; // position 2, C
        let lp = LogProbs::new(2, v, values).unwrap();
        assert_eq!(lp.log_odds(2, 'A', 'C').unwrap(), -2.5);
        assert!(lp.log_odds(3, 'A', 'C').unwrap_err().to_string().contains("outside the sequence (1..=2)"));
        assert!(lp.log_odds(1, 'A', '*').unwrap_err().to_string().contains("`*`"));
        assert!(LogProbs::new(2, v, vec![0.0; 5]).is_err());
        assert!(LogProbs::new(1, 20, vec![0.0; 20]).is_err(), "narrower than the alphabet");
        // ESM C's 64-wide head: the same token ids.
        let mut wide = vec![0.0f32; 64];
        wide[23] = -2.0;
        assert_eq!(LogProbs::new(1, 64, wide).unwrap().log_odds(1, 'L', 'C').unwrap(), -2.0);
    }
}
