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

/// Folds given as a label per row (a ProteinGym fold column): one split per distinct label, in label order, each
/// testing the rows with its label. Needs at least two labels.
pub fn given_folds(labels: &[i64]) -> Result<Vec<Split>> {
    let distinct: std::collections::BTreeSet<i64> = labels.iter().copied().collect();
    if distinct.len() < 2 {
        return Err(Error::InvalidOption {
            key: "scheme".into(),
            value: "given".into(),
            reason: format!(
                "the fold labels hold {} distinct value(s); cross-validation needs at least 2",
                distinct.len()
            ),
        });
    }
    Ok(distinct
        .iter()
        .map(|&fold| {
            let (test, train): (Vec<usize>, Vec<usize>) = (0..labels.len()).partition(|&i| labels[i] == fold);
            Split { train, test }
        })
        .collect())
}

/// ProteinGym `fold_modulo_k`: the distinct mutated positions, sorted, are dealt to the folds in
/// turn (fold = rank of the row's position among them, mod k). ProteinGym's columns come from
/// ProteinNPT's `create_folds_by_position_modulo`; this equals (position − 1) mod k only when every
/// position of the sequence is mutated.
pub fn modulo_folds(positions: &[i64], k: usize) -> Result<Vec<Split>> {
    let ranks = position_ranks(positions, k, "modulo")?;
    let labels: Vec<usize> = ranks.rows.iter().map(|&r| r % k).collect();
    from_labels(&labels, k, "modulo")
}

/// ProteinGym `fold_contiguous_k`: the distinct mutated positions, sorted, are cut into k
/// consecutive segments, the first `n mod k` one position longer (`np.array_split`), as
/// ProteinNPT's `create_folds_by_contiguous_position_discontiguous` does.
pub fn contiguous_folds(positions: &[i64], k: usize) -> Result<Vec<Split>> {
    let ranks = position_ranks(positions, k, "contiguous")?;
    let (q, m) = (ranks.distinct / k, ranks.distinct % k);
    // Segment i holds ranks [i·q + min(i, m), (i+1)·q + min(i+1, m)).
    let segment = |rank: usize| if rank < m * (q + 1) { rank / (q + 1) } else { m + (rank - m * (q + 1)) / q };
    let labels: Vec<usize> = ranks.rows.iter().map(|&r| segment(r)).collect();
    from_labels(&labels, k, "contiguous")
}

/// Each row's position as its rank among the distinct positions (0-based), and how many there are.
struct PositionRanks {
    rows: Vec<usize>,
    distinct: usize,
}

fn position_ranks(positions: &[i64], k: usize, scheme: &'static str) -> Result<PositionRanks> {
    if k < 2 {
        return Err(Error::InvalidOption {
            key: "folds".into(),
            value: k.to_string(),
            reason: "k-fold cross-validation needs at least 2 folds".into(),
        });
    }
    if let Some((row, &pos)) = positions.iter().enumerate().find(|(_, p)| **p < 1) {
        return Err(Error::Mutant { row, mutant: pos.to_string(), reason: "positions are 1-based and must be ≥ 1" });
    }
    let mut distinct: Vec<i64> = positions.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < k {
        return Err(Error::TooFewPositions { scheme, folds: k, positions: distinct.len() });
    }
    let rows = positions.iter().map(|p| distinct.partition_point(|d| d < p)).collect();
    Ok(PositionRanks { rows, distinct: distinct.len() })
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
    fn given_folds_test_each_label_in_order() {
        let splits = given_folds(&[2, 0, 2, 1, 0]).unwrap();
        let tests: Vec<Vec<usize>> = splits.iter().map(|s| s.test.clone()).collect();
        assert_eq!(tests, [vec![1, 4], vec![3], vec![0, 2]]);
        assert_eq!(splits[0].train, [0, 2, 3]);
        assert!(given_folds(&[3, 3]).unwrap_err().to_string().contains("at least 2"));
    }

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
        // Distinct positions 1..7, 11, 12 (9 of them): ranks 0..8.
        let pos = [1, 2, 3, 4, 5, 6, 7, 11, 12, 11];
        let m = modulo_folds(&pos, 2).ok().unwrap_or_default();
        assert_eq!(m[0].test, vec![0, 2, 4, 6, 8]);
        // 9 positions in 2 segments: ranks 0-4 (positions 1-5), ranks 5-8 (6, 7, 11, 12).
        let c = contiguous_folds(&pos, 2).ok().unwrap_or_default();
        assert_eq!(c[0].test, vec![0, 1, 2, 3, 4]);
        assert_eq!(c[1].test, vec![5, 6, 7, 8, 9]);
        // 161 positions in 5 segments: 33, 32, 32, 32, 32 (ProteinGym's fold_contiguous_5).
        let all: Vec<i64> = (1..=161).collect();
        let sizes: Vec<usize> =
            contiguous_folds(&all, 5).ok().unwrap_or_default().iter().map(|s| s.test.len()).collect();
        assert_eq!(sizes, vec![33, 32, 32, 32, 32]);
        let e = modulo_folds(&[3, 3, 4], 3).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("distinct mutated positions"), "{e}");
    }
}
