//! OpenTelemetry → Prometheus names, the way VictoriaMetrics (`-opentelemetry.usePrometheusNaming`)
//! and the collector's Prometheus exporters translate them. The rules live with the catalog
//! model, whose reader refuses a name that the translation would change.

pub use contextd_metrics::model::naming::*;
