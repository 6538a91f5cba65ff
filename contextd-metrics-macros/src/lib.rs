//! Procedural macros of `contextd-metrics`; use them through that crate's re-exports.
//!
//! The macros validate component and operation names against the same catalog table that
//! `contextd-metrics` uses at run time (`contextd-metrics-catalog`), so a name can never exist
//! in one and not the other.
