//! Pooling a per-token matrix to one vector of its width: the mean or the element-wise maximum
//! over its rows, or its first row (the `<cls>` vector, when the matrix begins with it).
use crate::error::{Error, Result, check_shape};

/// How a per-token matrix becomes one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pooling {
    /// The mean over rows, accumulated in `f64` (the paper's best compression).
    Mean,
    /// The first row: the `<cls>` vector of a matrix that begins with it (fair-esm extract.py
    /// `bos`). A per-residue matrix, without `<cls>`, has no such row.
    Bos,
    /// The element-wise maximum over rows. As `f32::max`, a NaN loses to any number.
    Max,
}

/// Pools the row-major `rows × dim` matrix `values` to `dim` values.
///
/// Errors: [`Error::Shape`] or [`Error::Overflow`] when `values` is not `rows × dim`,
/// [`Error::Empty`] for no rows, [`Error::ZeroWidth`] for rows of width 0.
pub fn pool(values: &[f32], rows: usize, dim: usize, pooling: Pooling) -> Result<Vec<f32>> {
    check_shape(values, rows, dim)?;
    if rows == 0 {
        return Err(Error::Empty);
    }
    // A vector of nothing is not a feature vector (and `chunks(0)` would panic).
    if dim == 0 {
        return Err(Error::ZeroWidth { rows });
    }
    let row_iter = || values.chunks(dim);
    Ok(match pooling {
        Pooling::Mean => {
            // Accumulate in f64: long sequences lose digits in an f32 running sum.
            let mut acc = vec![0f64; dim];
            for r in row_iter() {
                acc.iter_mut().zip(r).for_each(|(a, v)| *a += f64::from(*v));
            }
            acc.into_iter().map(|a| (a / rows as f64) as f32).collect()
        }
        Pooling::Bos => values[..dim].to_vec(),
        Pooling::Max => {
            let mut acc = vec![f32::NEG_INFINITY; dim];
            for r in row_iter() {
                acc.iter_mut().zip(r).for_each(|(a, v)| *a = a.max(*v));
            }
            acc
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: [f32; 6] = [1.0, -2.0, 3.0, -4.0, 5.0, 0.0];

    #[test]
    fn mean_bos_and_max_of_a_matrix() {
        assert_eq!(pool(&M, 3, 2, Pooling::Mean).ok(), Some(vec![3.0, -2.0]));
        assert_eq!(pool(&M, 3, 2, Pooling::Bos).ok(), Some(vec![1.0, -2.0]));
        assert_eq!(pool(&M, 3, 2, Pooling::Max).ok(), Some(vec![5.0, 0.0]));
    }

    #[test]
    fn the_mean_is_accumulated_in_f64() {
        // An f32 running sum stays at 2^24 when 1 is added (the mean would be 3355443.2).
        let m = [16_777_216.0, 1.0, 1.0, 1.0, 1.0];
        assert_eq!(pool(&m, 5, 1, Pooling::Mean).ok(), Some(vec![3_355_444.0]));
    }

    #[test]
    fn mean_carries_nan_and_max_skips_it() {
        let m = [1.0, f32::NAN, 3.0, 4.0];
        let mean = pool(&m, 2, 2, Pooling::Mean).unwrap_or_default();
        assert!(mean[0] == 2.0 && mean[1].is_nan(), "{mean:?}");
        assert_eq!(pool(&m, 2, 2, Pooling::Max).ok(), Some(vec![3.0, 4.0]));
    }

    #[test]
    fn empty_matrices_and_zero_widths_are_refused() {
        for p in [Pooling::Mean, Pooling::Bos, Pooling::Max] {
            assert!(matches!(pool(&[], 0, 0, p), Err(Error::Empty)));
            assert!(matches!(pool(&[], 0, 5, p), Err(Error::Empty)));
            let e = pool(&[], 2, 0, p);
            assert!(matches!(e, Err(Error::ZeroWidth { rows: 2 })), "{e:?}");
            let text = e.err().map(|e| e.to_string()).unwrap_or_default();
            assert_eq!(text, "the per-token matrix has 2 tokens of width 0");
        }
    }

    #[test]
    fn slices_that_are_not_rows_times_dim_are_refused() {
        let e = pool(&M, 2, 2, Pooling::Mean).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(e, "a 2 × 2 matrix needs 4 values, got 6");
        assert!(matches!(pool(&M, usize::MAX, 2, Pooling::Max), Err(Error::Overflow { what: "rows·dim", .. })));
        assert!(matches!(pool(&M, 7, 1, Pooling::Bos), Err(Error::Shape { rows: 7, dim: 1, len: 6 })));
    }
}
