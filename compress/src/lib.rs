//! placeholder: filled by the compress extraction.
