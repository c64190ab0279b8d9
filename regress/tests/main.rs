//! Integration tests: the Lasso protocol against scikit-learn, fold schemes and errors.
//!
//! One binary for all of them (`autotests = false`, this file lists the modules): each test binary links the
//! crate with everything below it, and a binary per file cost a link and its disk space per file. One file's
//! tests: `cargo test --workspace --test integration -- errors::`.

mod common;
mod errors;
mod parity_baselines;
mod parity_lassocv;
mod parity_protocol;
mod schemes;
