//! Integration tests: loading checkpoints: checksums, pickles, and the errors a bad file gets.
//!
//! One binary for all of them (`autotests = false`, this file lists the modules): each test binary links the
//! crate with everything below it, and a binary per file cost a link and its disk space per file. One file's
//! tests: `cargo test --workspace --test integration -- checksum::`.

mod checksum;
mod errors;
mod pickle;
