//! Integration tests: the SQL surface over a store: functions, planning, hostile input, the .slt files.
//!
//! One binary for all of them (`autotests = false`, this file lists the modules): each test binary links the
//! crate with everything below it, and a binary per file cost a link and its disk space per file. One file's
//! tests: `cargo test --workspace --test integration -- documentation::`. `engine.rs`, `planning.rs` and
//! `zero_shot.rs` are binaries of their own: they count the engine's process-wide work.

mod common;
mod documentation;
mod families;
mod given_folds;
mod hostile;
mod sqllogictest;
mod store_scan;
