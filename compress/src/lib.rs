//! # esmdb-compress
//!
//! Per-residue embedding matrices to fixed-width feature vectors, as SWAT's
//! `compressing_embeddings.py` does before regression:
//!
//! - [`pool`]: the mean, the `<cls>` row or the element-wise maximum ([`Pooling`]);
//! - [`idct`]: the iDCT quantization of PROST (`quant2D`), `n·m` integers 0..=127;
//! - [`pca`]: the `k` leading principal-component scores per embedding dimension
//!   (`MinMaxScaler((-1, 1))` + `PCA(k)` of scikit-learn).
//!
//! This crate knows numbers only: flat row-major matrices of `rows × dim` values (`f32` as
//! embeddings are, `f64` where the reference computes in double) given as a slice with their
//! `rows` (residues or tokens) and `dim` (embedding width). It must never import DataFusion,
//! Arrow, the store or the models: the SQL functions (`compress_*` of `esmdb-sql`) read Arrow,
//! call this crate and write Arrow. The scipy and scikit-learn parity tests are in `tests/`
//! (`idct_parity.rs`, `pca_parity.rs`).
//!
//! No input panics: a slice that is not `rows × dim`, an empty matrix, a width of 0, NaN or ±inf,
//! and counts (`n`, `m`, `k`) of 0 or beyond what the matrix holds all end in an [`Error`].
#![deny(missing_docs)]

mod error;
pub mod idct;
pub mod pca;
pub mod pool;

pub use error::{Error, Result};
pub use pool::{Pooling, pool};
