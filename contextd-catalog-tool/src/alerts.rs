//! Alert rules for any catalog (vmalert / Prometheus rule format): for every component with
//! operations, its error ratio and its p95 latency, at the thresholds of its `alerts:` entry;
//! and the telemetry pipeline's self-metrics. contextd keeps hand-tuned rules
//! (`monitoring/alerts/contextd.yml`); a service starts from these.

use std::fmt::Write as _;

use contextd_metrics_catalog::{Catalog, ComponentSpec, STATUS_KEY, SelfMetric, self_metrics::labels};

use crate::pascal_case as pascal;
use crate::slo::{decimal, runbook_url};

/// The share of failed exports above which the export alert fires.
pub const EXPORT_FAILURE_RATIO: f64 = 0.1;

/// The error-ratio alert of a component: `<Namespace><Component>HighErrorRate`.
pub fn error_ratio_alert(catalog: &Catalog, component: &ComponentSpec) -> String {
    format!("{}{}HighErrorRate", pascal(catalog.namespace), pascal(component.name))
}

/// The latency alert of a component: `<Namespace><Component>SlowP95`.
pub fn latency_alert(catalog: &Catalog, component: &ComponentSpec) -> String {
    format!("{}{}SlowP95", pascal(catalog.namespace), pascal(component.name))
}

/// The alert on one self-metric.
pub fn telemetry_alert(catalog: &Catalog, metric: SelfMetric) -> String {
    let what = match metric {
        SelfMetric::Exports | SelfMetric::ExportFailures => "TelemetryExportFailures",
        SelfMetric::SpansDropped => "TelemetrySpansDropped",
        SelfMetric::InvalidMeasurements => "TelemetryInvalidMeasurements",
        SelfMetric::GaugeSourceFailures => "GaugeSourceFailing",
        SelfMetric::ExportsDropped => "TelemetryExportsDropped",
    };
    format!("{}{what}", pascal(catalog.namespace))
}

/// One generated alert rule.
pub(crate) struct Rule<'a> {
    pub(crate) alert: String,
    pub(crate) expr: String,
    pub(crate) for_: &'a str,
    pub(crate) severity: &'a str,
    pub(crate) component: Option<&'a str>,
    pub(crate) summary: String,
    pub(crate) description: String,
}

fn write_rule(out: &mut String, rule: &Rule<'_>) {
    let _ = writeln!(out, "      - alert: {}", rule.alert);
    out.push_str("        expr: |\n");
    for line in rule.expr.lines() {
        let _ = writeln!(out, "          {line}");
    }
    let _ = writeln!(out, "        for: {}", rule.for_);
    out.push_str("        labels:\n");
    let _ = writeln!(out, "          severity: {}", rule.severity);
    if let Some(component) = rule.component {
        let _ = writeln!(out, "          component: {component}");
    }
    out.push_str("        annotations:\n");
    let _ = writeln!(out, "          summary: {:?}", rule.summary);
    let _ = writeln!(out, "          description: {:?}", rule.description);
    let _ = writeln!(out, "          runbook_url: {:?}", runbook_url(&rule.alert));
    out.push('\n');
}

/// The rules of every component with operations.
pub(crate) fn operation_rules(catalog: &Catalog) -> Vec<Rule<'static>> {
    let mut rules = Vec::new();
    for component in catalog.components {
        let Some(shape) = component.operations else { continue };
        let by = shape.operation.map(|l| format!(" by ({})", l.name)).unwrap_or_default();
        let per = shape.operation.map(|l| format!(" {{{{ $labels.{} }}}}", l.name)).unwrap_or_default();
        let ratio = decimal(component.alerts.error_ratio);
        let percent = decimal(component.alerts.error_ratio * 100.0);
        let failing = match (shape.counter, shape.errors) {
            (Some(counter), _) if counter.label(STATUS_KEY).is_some() => {
                Some((format!(r#"{}{{{STATUS_KEY}="error"}}"#, counter.name), counter.name.to_owned()))
            }
            (Some(counter), Some(errors)) => Some((errors.name.to_owned(), counter.name.to_owned())),
            _ => None,
        };
        if let Some((failed, all)) = failing {
            rules.push(Rule {
                alert: error_ratio_alert(catalog, component),
                expr: format!("sum{by} (rate({failed}[5m]))\n  / sum{by} (rate({all}[5m])) > {ratio}"),
                for_: "5m",
                severity: "warning",
                component: Some(component.name),
                summary: format!("{}{per} fails more than {percent}% of calls", component.name),
                description: format!(
                    "More than {percent}% of {}{per} operations failed over 5 minutes, for 5 minutes.",
                    component.name
                ),
            });
        }
        let p95 = decimal(component.alerts.p95_seconds);
        let by_le =
            shape.operation.map(|l| format!(" by (le, {})", l.name)).unwrap_or_else(|| " by (le)".into());
        rules.push(Rule {
            alert: latency_alert(catalog, component),
            expr: format!(
                "histogram_quantile(0.95, sum{by_le} (rate({}_bucket[5m])))\n  > {p95}",
                shape.duration.name
            ),
            for_: "10m",
            severity: "warning",
            component: Some(component.name),
            summary: format!("{}{per} p95 above {p95} s", component.name),
            description: format!(
                "The 95th percentile of {}{per} durations stayed above {p95} s for 10 minutes.",
                component.name
            ),
        });
    }
    rules
}

/// The rules on the pipeline's self-metrics.
pub(crate) fn telemetry_rules(catalog: &Catalog) -> Vec<Rule<'static>> {
    let name = |metric| catalog.self_metric(metric).name;
    let signal = labels::SIGNAL.name;
    let ratio = decimal(EXPORT_FAILURE_RATIO);
    vec![
        Rule {
            alert: telemetry_alert(catalog, SelfMetric::ExportFailures),
            expr: format!(
                "sum by ({signal}) (rate({}[10m]))\n  / sum by ({signal}) (rate({}[10m])) > {ratio}",
                name(SelfMetric::ExportFailures),
                name(SelfMetric::Exports)
            ),
            for_: "10m",
            severity: "warning",
            component: None,
            summary: format!("More than {}% of {{{{ $labels.{signal} }}}} exports fail", decimal(EXPORT_FAILURE_RATIO * 100.0)),
            description: "The telemetry pipeline keeps failing to export; data is being dropped or delayed.".into(),
        },
        Rule {
            alert: telemetry_alert(catalog, SelfMetric::SpansDropped),
            expr: format!("sum (increase({}[10m])) > 0", name(SelfMetric::SpansDropped)),
            for_: "10m",
            severity: "warning",
            component: None,
            summary: "Spans are dropped: the export queue is full".into(),
            description: "The span queue overflowed in every 10-minute window for 10 minutes: the trace endpoint is slow or down, or OTEL_BSP_MAX_QUEUE_SIZE is too small.".into(),
        },
        Rule {
            alert: telemetry_alert(catalog, SelfMetric::InvalidMeasurements),
            expr: format!(
                "sum by ({}, {}) (increase({}[10m])) > 0",
                labels::INSTRUMENT.name,
                labels::REFUSED_REASON.name,
                name(SelfMetric::InvalidMeasurements)
            ),
            for_: "10m",
            severity: "warning",
            component: None,
            summary: format!(
                "{{{{ $labels.{} }}}} is given {{{{ $labels.{} }}}} values",
                labels::INSTRUMENT.name,
                labels::REFUSED_REASON.name
            ),
            description: "A caller keeps recording values that no instrument of the catalog can hold (NaN, infinite or negative); they are refused and counted.".into(),
        },
        Rule {
            alert: telemetry_alert(catalog, SelfMetric::GaugeSourceFailures),
            expr: format!(
                "sum by ({}, {}) (increase({}[10m])) > 0",
                labels::GAUGE.name,
                labels::FAILURE_REASON.name,
                name(SelfMetric::GaugeSourceFailures)
            ),
            for_: "15m",
            severity: "warning",
            component: None,
            summary: format!(
                "The source of {{{{ $labels.{} }}}} keeps failing ({{{{ $labels.{} }}}})",
                labels::GAUGE.name,
                labels::FAILURE_REASON.name
            ),
            description: "A gauge source failed in every 10-minute window for 15 minutes; the gauge reports nothing meanwhile.".into(),
        },
        Rule {
            alert: telemetry_alert(catalog, SelfMetric::ExportsDropped),
            expr: format!("sum by ({signal}) (increase({}[10m])) > 0", name(SelfMetric::ExportsDropped)),
            for_: "0m",
            severity: "warning",
            component: None,
            summary: format!("{{{{ $labels.{signal} }}}} data was lost: failed exports outgrew the backlog"),
            description: "Delta exports kept failing for longer than their backlog holds; the oldest were dropped, and those counts are gone from the backend.".into(),
        },
    ]
}

/// The alert rules of `catalog`; `source` is the catalog file as given to the tool.
///
/// ```
/// let rules = contextd_catalog_tool::alert_rules(&contextd_metrics::contextd::CATALOG, "contextd.yaml");
/// assert!(rules.contains("alert: ContextdCheckpointHighErrorRate"));
/// assert!(rules.contains("alert: ContextdTelemetryExportFailures"));
/// ```
pub fn alert_rules(catalog: &Catalog, source: &str) -> String {
    let namespace = catalog.namespace;
    let mut out = format!(
        "# Alert rules of the {namespace} catalog: error ratio and p95 latency per component, and the\n\
         # telemetry pipeline's self-metrics. Generated from `{source}` by the catalog tool\n\
         # (`alert-rules`); tune the thresholds in the catalog's `alerts:` entries, not here.\n\
         groups:\n  - name: {namespace}-operations\n    interval: 1m\n    rules:\n"
    );
    for rule in operation_rules(catalog) {
        write_rule(&mut out, &rule);
    }
    let _ = write!(out, "  - name: {namespace}-telemetry\n    interval: 1m\n    rules:\n");
    for rule in telemetry_rules(catalog) {
        write_rule(&mut out, &rule);
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}
