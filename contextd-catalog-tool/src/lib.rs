//! Any catalog rendered for people and tools: JSON for scripts, markdown for the docs, Grafana
//! dashboards for operators, alert and SLO rules for vmalert or Prometheus. A build-time tool:
//! services never depend on it.
//!
//! The catalog comes from its YAML file, read by the same reader the proc-macro uses
//! (`contextd_metrics_catalog::source`). contextd's own outputs (`docs/metrics-catalog.md`,
//! `monitoring/grafana/dashboards/`, `monitoring/alerts/slo.yml`) are the tool's fresh output for
//! `contextd-metrics-macros/contextd.yaml` (tests check); its dashboards use a curated layout
//! (`contextd_layout.rs`), every other catalog the generic one (`service_layout.rs`).

mod alerts;
mod contextd_layout;
mod grafana;
mod json;
mod layout;
mod markdown;
mod runbook;
mod service_layout;
pub mod slo;

pub use alerts::{alert_rules, error_ratio_alert, latency_alert, telemetry_alert};
pub use contextd_layout::WATCHED;
pub use grafana::{Dashboard, Watched, panel_queries};
pub use json::json;
pub use markdown::markdown;
pub use runbook::runbook;
pub use slo::slo_rules;

use contextd_metrics_catalog::Catalog;

/// The Grafana dashboards of `catalog`: contextd's curated ones for contextd's catalog, the
/// generic Overview (and SLO dashboard, with objectives) for any other.
///
/// ```
/// let dashboards = contextd_catalog_tool::grafana(&contextd_metrics::contextd::CATALOG);
/// assert_eq!(dashboards[0].file_name, "contextd-overview.json");
/// ```
pub fn grafana(catalog: &'static Catalog) -> Vec<Dashboard> {
    if *catalog == contextd_metrics::contextd::CATALOG {
        contextd_layout::dashboards()
    } else {
        service_layout::dashboards(catalog)
    }
}

fn number(value: f64) -> String {
    format!("{value}")
}

/// `orders` → `Orders`, `order_book` → `OrderBook`: alert names are PascalCase.
fn pascal_case(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}
