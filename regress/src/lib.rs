//! # esmdb-regress
//!
//! `LassoCV` with scikit-learn 1.9.1 parity and the SWAT paper's cross-validated evaluation
//! protocol (`scripts/reg_LassoCV.py` of ziul-bio/SWAT), plus baselines behind the same protocol.
//!
//! This crate knows numbers: feature matrices `[n_samples, n_features]` of `f64` and targets. It
//! knows nothing about models, embeddings, storage or SQL; those layers call
//! [`protocol::evaluate`], [`LassoCvParams::fit_arrays`] and [`protocol::ProtocolOptions::parse`].
#![deny(missing_docs)]

mod blocks;
mod cd;
mod dense;
mod error;
mod linalg;
mod par;

pub mod baseline;
pub mod kfold;
pub mod lasso;
pub mod metrics;
pub mod proteingym;
pub mod protocol;
pub mod scale;

pub use error::{Error, Result};
pub use lasso::{LassoCv, LassoCvParams, Precompute, alpha_grid, rows_to_matrix};
pub use protocol::{FoldScheme, Model, Preset, ProtocolOptions, ProtocolResult, Scaling};
