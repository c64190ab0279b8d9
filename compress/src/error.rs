//! The one error type of the crate: what was wrong with a matrix or a count, with the sizes.

/// Why a matrix could not be compressed. The texts read after a caller's `row N: ` (the SQL
/// functions print `compress_idct: row 1: n = 4 exceeds …`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The slice does not hold `rows × dim` values.
    #[error("a {rows} × {dim} matrix needs {} values, got {len}", .rows.saturating_mul(*.dim))]
    Shape {
        /// Rows (residues) given.
        rows: usize,
        /// Width (embedding dimensions) given.
        dim: usize,
        /// Values in the slice.
        len: usize,
    },
    /// A product of sizes (`rows·dim`, `n·m`, `k·dim`) does not fit in `usize`.
    #[error("{what} = {a}·{b} overflows")]
    Overflow {
        /// The product, e.g. `rows·dim`.
        what: &'static str,
        /// Its first factor.
        a: usize,
        /// Its second factor.
        b: usize,
    },
    /// A matrix without rows, where pooling needs at least one.
    #[error("the per-token matrix is empty")]
    Empty,
    /// Rows of width 0, where a feature vector needs at least one value.
    #[error("the per-token matrix has {rows} tokens of width 0")]
    ZeroWidth {
        /// Rows (tokens) of the matrix.
        rows: usize,
    },
    /// Fewer than 3 residues for the iDCT quantization, which drops the first and the last.
    #[error("needs at least 3 residues (the first and last are dropped)")]
    TooFewResidues {
        /// Residues given.
        rows: usize,
    },
    /// A count of coefficients or components of 0.
    #[error("{what} = 0: at least 1 is needed")]
    Zero {
        /// Which count: `n`, `m` or `k`.
        what: &'static str,
    },
    /// More iDCT coefficients along residues than there are residues (SWAT's `quant2D` fails too:
    /// it cannot reshape to `n·m`).
    #[error("n = {n} exceeds the {residues} residues left after dropping the first and last")]
    ResidueCoefficients {
        /// Coefficients asked for.
        n: usize,
        /// Residues once the first and last are dropped.
        residues: usize,
    },
    /// More iDCT coefficients along the embedding than it has dimensions.
    #[error("m = {m} exceeds the embedding width {dim}")]
    DimensionCoefficients {
        /// Coefficients asked for.
        m: usize,
        /// The embedding width.
        dim: usize,
    },
    /// More principal components than `min(rows, dim)`, which scikit-learn's `PCA` refuses.
    #[error("k = {k} exceeds min(residues, dimensions) = min({rows}, {dim}) (as scikit-learn's PCA)")]
    Components {
        /// Components asked for.
        k: usize,
        /// Residues (PCA features).
        rows: usize,
        /// Embedding dimensions (PCA samples).
        dim: usize,
    },
    /// NaN or ±infinity, which would make the scaling, and so every output, meaningless.
    #[error("the embedding holds {value} at residue {}, dimension {}", .residue + 1, .dimension + 1)]
    NonFinite {
        /// The value.
        value: f64,
        /// Its row, from 0 (printed from 1).
        residue: usize,
        /// Its column, from 0 (printed from 1).
        dimension: usize,
    },
    /// The symmetric eigensolver failed.
    #[error("eigendecomposition failed: {0}")]
    Eigen(#[source] linfa_linalg::LinalgError),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks that `values` is a `rows × dim` matrix.
pub(crate) fn check_shape<T>(values: &[T], rows: usize, dim: usize) -> Result<()> {
    match rows.checked_mul(dim) {
        None => Err(Error::Overflow { what: "rows·dim", a: rows, b: dim }),
        Some(n) if n != values.len() => Err(Error::Shape { rows, dim, len: values.len() }),
        Some(_) => Ok(()),
    }
}

/// The first NaN or ±infinity of a `rows × dim` matrix of width `dim`, as an error.
pub(crate) fn check_finite<T: Copy + Into<f64>>(values: &[T], dim: usize) -> Result<()> {
    match values.iter().position(|v| !(*v).into().is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::NonFinite {
            value: values[i].into(),
            residue: i.checked_div(dim).unwrap_or(0),
            dimension: i.checked_rem(dim).unwrap_or(0),
        }),
    }
}
