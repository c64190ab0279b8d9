//! # esmdb-seq
//!
//! The one place that decides what a protein sequence is, for every way one enters esmdb: `esmdb ingest` (CSV,
//! Parquet, FASTA), `esmdb embed --fasta`, and SQL's `esm2_embed(sequence)`. They accept and refuse the same
//! input with the same words, and the cache key ([`seq_hash`]) of a sequence is the same whichever way it came.
//!
//! The policy ([`normalize`]):
//!
//! | input | what happens | why |
//! |---|---|---|
//! | the 20 amino acids, and `X` `B` `Z` `U` `O` | kept | the residue letters of the ESM alphabet (fair-esm, ESM C) |
//! | lowercase | uppercased | FASTA files mix cases; the protein is the same |
//! | whitespace (spaces, tabs, line breaks) | removed | wrapped or hand-edited sequences |
//! | `-` `.` | refused | alignment gaps: esmdb embeds unaligned sequences |
//! | `*` | refused | a stop codon: a nonsense variant has no full-length protein to embed |
//! | digits | refused | numbered sequence lines (GenBank style) are not FASTA |
//! | `<mask>`, `<unk>`, … | refused | model tokens, not data (zero-shot scoring masks positions itself) |
//! | anything else | refused | |
//! | nothing left | refused | an empty sequence |
//!
//! It also reads the paper's mutant notation (`Q2C:A5G`) and recovers a variant's wild type from it
//! ([`parse_mutant`], [`wild_type`]), for zero-shot scoring.
//!
//! What this crate knows: letters, hashes, FASTA text and mutant notation. Nothing of models, storage or SQL.
#![deny(missing_docs)]

mod alphabet;
pub mod fasta;
mod mutant;

pub use alphabet::{RESIDUES, Refusal, SequenceError, normalize, seq_hash};
pub use mutant::{MutantError, Mutation, parse_mutant, wild_type};
