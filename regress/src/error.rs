//! The crate's error type: one variant per failure class, each carrying the context a user needs
//! to find the bad input (row, column, option key, …).

/// Everything that can go wrong in `esmdb-regress`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input had no rows or no columns.
    #[error("empty input: {what} has {rows} rows and {cols} columns")]
    Empty {
        /// Which input.
        what: &'static str,
        /// Its number of rows.
        rows: usize,
        /// Its number of columns.
        cols: usize,
    },
    /// NaN or ±infinity in an input (scikit-learn refuses these too).
    #[error("non-finite value {value} in {what} at row {row}, column {column}")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Row index (0-based).
        row: usize,
        /// Column index (0-based; 0 for a target vector).
        column: usize,
        /// The offending value.
        value: f64,
    },
    /// Inputs whose shapes do not fit together.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// Rows of different lengths given as a list of rows.
    #[error("ragged rows: row {row} has {found} values, row 0 has {expected}")]
    Ragged {
        /// The first row whose length differs.
        row: usize,
        /// Its length.
        found: usize,
        /// The length of row 0.
        expected: usize,
    },
    /// Fewer rows than folds (scikit-learn's KFold refuses this as well).
    #[error(
        "cannot have number of splits n_splits={n_splits} greater than the number of samples: \
         n_samples={n_samples} ({context})"
    )]
    TooFewRows {
        /// Rows available.
        n_samples: usize,
        /// Folds asked for.
        n_splits: usize,
        /// Where the split was made (outer protocol or inner LassoCV).
        context: &'static str,
    },
    /// A position scheme over fewer distinct mutated positions than folds (ProteinGym refuses these too).
    #[error("the {scheme} scheme needs at least {folds} distinct mutated positions (one per fold), got {positions}")]
    TooFewPositions {
        /// The scheme.
        scheme: &'static str,
        /// Folds asked for.
        folds: usize,
        /// Distinct positions in the data.
        positions: usize,
    },
    /// A fold without test rows (position schemes on data that covers few positions).
    #[error("fold {fold} of the {scheme} scheme has {test} test rows and {train} train rows")]
    EmptyFold {
        /// Fold number (0-based).
        fold: usize,
        /// Scheme name.
        scheme: &'static str,
        /// Test rows.
        test: usize,
        /// Train rows.
        train: usize,
    },
    /// The target does not vary, so R², Spearman ρ and the alpha grid are all degenerate.
    #[error("constant target: all {n} values equal {value}; nothing to regress")]
    ConstantTarget {
        /// Number of rows.
        n: usize,
        /// The constant value.
        value: f64,
    },
    /// An option key that the protocol does not know.
    #[error("unknown option `{key}`; known options: {known}")]
    UnknownOption {
        /// The key as written.
        key: String,
        /// The list of known keys.
        known: &'static str,
    },
    /// An option with a value that cannot be used.
    #[error("invalid value `{value}` for option `{key}`: {reason}")]
    InvalidOption {
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A mutant string such as `A12G:K15R` that cannot be parsed.
    #[error("invalid mutant `{mutant}` at row {row}: {reason}")]
    Mutant {
        /// Row index.
        row: usize,
        /// The string.
        mutant: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A protein sequence that cannot be one-hot encoded.
    #[error("invalid sequence at row {row}: {reason}")]
    Sequence {
        /// Row index.
        row: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A baseline model cannot be fitted (its linear system has no unique solution).
    #[error("baseline {model} failed: {reason}")]
    Baseline {
        /// Which baseline.
        model: &'static str,
        /// Why.
        reason: String,
    },
    /// The solver produced non-finite coefficients (scikit-learn raises here too).
    #[error(
        "coordinate descent produced non-finite coefficients at alpha={alpha}; \
         the input may contain very large values"
    )]
    Diverged {
        /// The penalty.
        alpha: f64,
    },
    /// An error from linfa's traits.
    #[error(transparent)]
    Linfa(#[from] linfa::Error),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
