//! Integration tests: cross-crate parity against the reference implementations, and the notebooks.
//!
//! One binary for all of them (`autotests = false`, this file lists the modules): each test binary links the
//! crate with everything below it, and a binary per file cost a link and its disk space per file. One file's
//! tests: `cargo test --workspace --test integration -- family_parity::`.

mod family_parity;
mod idct_parity;
mod notebooks;
mod parity;
mod pca_parity;
mod proteingym_metrics_parity;
mod spearman_parity;
mod zero_shot_parity;
