//! The catalog rendered for people and tools: JSON for scripts, markdown for the docs, Grafana
//! dashboards for operators. A build-time tool: services never depend on it.
//!
//! `docs/metrics-catalog.md` is exactly [`markdown`]'s output (a test checks it), produced by
//! `cargo run -p contextd-catalog-tool -- markdown`.

mod grafana;
mod json;
mod layout;
mod markdown;
pub mod slo;

pub use grafana::{Dashboard, WATCHED, Watched, grafana, panel_queries};
pub use json::json;
pub use markdown::markdown;
pub use slo::slo_rules;

/// A bucket boundary as written in the outputs: `0.005`, `1`, `1048576`.
fn number(value: f64) -> String {
    format!("{value}")
}
