//! The catalog rendered for people and tools: JSON for scripts, markdown for the docs.
//!
//! `docs/metrics-catalog.md` is exactly [`markdown`]'s output (a test checks it), produced by
//! `cargo run -p contextd-metrics --bin contextd-catalog markdown`.

mod json;
mod markdown;

pub use json::json;
pub use markdown::markdown;

/// A bucket boundary as written in the outputs: `0.005`, `1`, `1048576`.
fn number(value: f64) -> String {
    format!("{value}")
}
