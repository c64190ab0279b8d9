//! Fold assignment: scikit-learn's `KFold` (with and without shuffle, bit-identical to numpy's
//! legacy `RandomState`) and ProteinGym's position-based schemes.

use crate::error::{Error, Result};

/// MT19937 as in numpy's legacy `RandomState(seed)` for an integer seed (`init_genrand`).
pub struct Mt19937 {
    mt: [u32; 624],
    idx: usize,
}

impl Mt19937 {
    /// `init_genrand(seed)`, what `np.random.RandomState(seed)` does for `0 ≤ seed < 2³²`.
    pub fn new(seed: u32) -> Self {
        let mut mt = [0u32; 624];
        mt[0] = seed;
        for i in 1..624 {
            let prev = mt[i - 1];
            mt[i] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(i as u32);
        }
        Mt19937 { mt, idx: 624 }
    }

    /// `genrand_int32`.
    pub fn next_u32(&mut self) -> u32 {
        if self.idx >= 624 {
            for i in 0..624 {
                let y = (self.mt[i] & 0x8000_0000) | (self.mt[(i + 1) % 624] & 0x7fff_ffff);
                let mag = if y & 1 == 1 { 0x9908_b0df } else { 0 };
                self.mt[i] = self.mt[(i + 397) % 624] ^ (y >> 1) ^ mag;
            }
            self.idx = 0;
        }
        let mut y = self.mt[self.idx];
        self.idx += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// numpy's `mt19937_next64`: two draws, high word first.
    pub fn next_u64(&mut self) -> u64 {
        let hi = u64::from(self.next_u32());
        (hi << 32) | u64::from(self.next_u32())
    }

    /// numpy's legacy `random_interval(max)`: uniform on `[0, max]` by masked rejection.
    pub fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for shift in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> shift;
        }
        if max <= 0xffff_ffff {
            loop {
                let v = u64::from(self.next_u32()) & mask;
                if v <= max {
                    return v;
                }
            }
        }
        loop {
            let v = self.next_u64() & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// `RandomState.shuffle` of a 1-d array: Fisher–Yates from the end.
    pub fn shuffle<T>(&mut self, x: &mut [T]) {
        for i in (1..x.len()).rev() {
            let j = self.interval(i as u64) as usize;
            x.swap(i, j);
        }
    }
}

/// One train/test split; both index lists ascending, as scikit-learn's `split` yields them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Split {
    /// Training rows.
    pub train: Vec<usize>,
    /// Test rows.
    pub test: Vec<usize>,
}

/// Builds splits from a per-row fold label.
fn from_labels(labels: &[usize], k: usize, scheme: &'static str) -> Result<Vec<Split>> {
    let mut splits = Vec::with_capacity(k);
    for fold in 0..k {
        let (test, train): (Vec<usize>, Vec<usize>) = (0..labels.len()).partition(|&i| labels[i] == fold);
        if test.is_empty() || train.is_empty() {
            return Err(Error::EmptyFold { fold, scheme, test: test.len(), train: train.len() });
        }
        splits.push(Split { train, test });
    }
    Ok(splits)
}

/// `KFold(n_splits=k, shuffle=seed.is_some(), random_state=seed).split(range(n))`.
/// Fold sizes are `n // k + 1` for the first `n % k` folds and `n // k` for the rest.
pub fn kfold(n: usize, k: usize, seed: Option<u32>, context: &'static str) -> Result<Vec<Split>> {
    if k < 2 {
        return Err(Error::InvalidOption {
            key: "folds".into(),
            value: k.to_string(),
            reason: "k-fold cross-validation needs at least 2 folds".into(),
        });
    }
    if k > n {
        return Err(Error::TooFewRows { n_samples: n, n_splits: k, context });
    }
    let mut order: Vec<usize> = (0..n).collect();
    if let Some(seed) = seed {
        Mt19937::new(seed).shuffle(&mut order);
    }
    let mut labels = vec![0usize; n];
    let mut start = 0;
    for fold in 0..k {
        let size = n / k + usize::from(fold < n % k);
        for &i in &order[start..start + size] {
            labels[i] = fold;
        }
        start += size;
    }
    from_labels(&labels, k, "kfold")
}

/// ProteinGym `fold_modulo_k`: fold = (position − 1) mod k, positions 1-based.
pub fn modulo_folds(positions: &[i64], k: usize) -> Result<Vec<Split>> {
    let labels = positions_to_labels(positions, k, 1)?;
    from_labels(&labels, k, "modulo")
}

/// ProteinGym `fold_contiguous_k`: blocks of `span` consecutive positions are dealt to folds in
/// turn, fold = ⌊(position − 1) / span⌋ mod k.
pub fn contiguous_folds(positions: &[i64], k: usize, span: usize) -> Result<Vec<Split>> {
    if span == 0 {
        return Err(Error::InvalidOption {
            key: "span".into(),
            value: "0".into(),
            reason: "must be at least 1".into(),
        });
    }
    let labels = positions_to_labels(positions, k, span)?;
    from_labels(&labels, k, "contiguous")
}

fn positions_to_labels(positions: &[i64], k: usize, span: usize) -> Result<Vec<usize>> {
    if k < 2 {
        return Err(Error::InvalidOption {
            key: "folds".into(),
            value: k.to_string(),
            reason: "k-fold cross-validation needs at least 2 folds".into(),
        });
    }
    positions
        .iter()
        .enumerate()
        .map(|(row, &pos)| {
            if pos < 1 {
                return Err(Error::Mutant {
                    row,
                    mutant: pos.to_string(),
                    reason: "positions are 1-based and must be ≥ 1",
                });
            }
            let zero_based = usize::try_from(pos - 1).unwrap_or(usize::MAX);
            Ok((zero_based / span) % k)
        })
        .collect()
}

/// First mutated position of a ProteinGym mutant string (`M1C`, `A12G:K15R` → 1, 12).
pub fn mutant_position(mutant: &str, row: usize) -> Result<i64> {
    let err = |reason| Error::Mutant { row, mutant: mutant.to_string(), reason };
    let first = mutant.split(':').next().unwrap_or("").trim();
    let chars: Vec<char> = first.chars().collect();
    if chars.len() < 3 {
        return Err(err("expected <wt><position><mut>, e.g. A12G"));
    }
    let digits: String = chars[1..chars.len() - 1].iter().collect();
    let pos: i64 = digits.parse().map_err(|_| err("position is not an integer"))?;
    if pos < 1 {
        return Err(err("positions are 1-based and must be ≥ 1"));
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_first_outputs_match_numpy() {
        // np.random.RandomState(42)._bit_generator.random_raw(3)
        let mut rng = Mt19937::new(42);
        let got: Vec<u32> = (0..3).map(|_| rng.next_u32()).collect();
        assert_eq!(got, [1_608_637_542, 3_421_126_067, 4_083_286_876]);
    }

    #[test]
    fn shuffle_and_kfold_match_numpy() {
        // a = np.arange(10); np.random.RandomState(42).shuffle(a)
        let mut a: Vec<usize> = (0..10).collect();
        Mt19937::new(42).shuffle(&mut a);
        assert_eq!(a, [8, 1, 5, 0, 7, 2, 9, 4, 3, 6]);
        // KFold(5, shuffle=True, random_state=42).split(np.zeros(12)) test indices
        let tests: Vec<Vec<usize>> =
            kfold(12, 5, Some(42), "test").map(|s| s.into_iter().map(|s| s.test).collect()).unwrap_or_default();
        let want: Vec<Vec<usize>> = vec![vec![0, 9, 10], vec![2, 5, 8], vec![1, 11], vec![4, 7], vec![3, 6]];
        assert_eq!(tests, want);
    }

    #[test]
    fn mutant_positions() {
        assert_eq!(mutant_position("M1C", 0).ok(), Some(1));
        assert_eq!(mutant_position("A12G:K15R", 0).ok(), Some(12));
        let e = mutant_position("12", 3).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("invalid mutant `12` at row 3"), "{e}");
    }

    #[test]
    fn modulo_and_contiguous_labels() {
        let pos = [1, 2, 3, 4, 5, 6, 7, 11, 12];
        let m = modulo_folds(&pos, 2).ok().unwrap_or_default();
        assert_eq!(m[0].test, vec![0, 2, 4, 6, 7]);
        let c = contiguous_folds(&pos, 2, 5).ok().unwrap_or_default();
        // positions 1-5 → fold 0, 6-10 → fold 1, 11-15 → fold 0.
        assert_eq!(c[0].test, vec![0, 1, 2, 3, 4, 7, 8]);
    }
}
