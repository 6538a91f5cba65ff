//! A runbook for any catalog: one section per generated alert, at the anchor its rules'
//! `runbook_url` and the dashboards' links point to (`docs/runbook.md#<alert in lower case>`),
//! so a service that generates its rules has the page they link. contextd keeps a hand-written
//! runbook (`docs/runbook.md`); a service starts from this one and adds what it knows.

use std::fmt::Write as _;

use contextd_metrics_catalog::Catalog;

use crate::alerts::{Rule, operation_rules, telemetry_rules};
use crate::slo::TIERS;

/// The runbook of `catalog`'s alert and SLO rules, as markdown (`source` names the catalog file).
///
/// ```
/// let yaml = r#"
/// namespace: shop
/// attributes:
///   - { id: status, brief: How a call ended, members: [success, error, cancelled] }
///   - { id: operation, brief: Shop operations, members: [buy, sell] }
/// metrics:
///   - { name: shop_operations_total, instrument: counter, value_type: u64, unit: "{operation}",
///       component: shop, attributes: [operation, status], brief: Shop operations }
///   - { name: shop_duration_seconds, instrument: histogram, value_type: f64, unit: s,
///       component: shop, attributes: [operation], buckets: [0.1, 1.0], brief: Shop time }
/// components:
///   - id: shop
///     brief: The shop
///     operations: { counter: shop_operations_total, duration: shop_duration_seconds,
///                   operation: operation, status: status }
/// "#;
/// let catalog = contextd_metrics_catalog::source::read_str("telemetry.yaml", yaml).unwrap();
/// let page = contextd_catalog_tool::runbook(catalog, "telemetry.yaml");
/// assert!(page.contains("## ShopShopHighErrorRate"));
/// ```
pub fn runbook(catalog: &Catalog, source: &str) -> String {
    let namespace = catalog.namespace;
    let mut out = format!(
        "# Runbook: {namespace}\n\n\
         <!-- Generated from `{source}` by the catalog tool (`runbook`); add what you learn below each \
         section's generated part. -->\n\n\
         One section per alert of the generated rules (`alert-rules`, `slo-rules`). Each starts on the \
         `{namespace}` Overview dashboard: the alert's row shows the series its expression watches.\n"
    );
    // `{{ $labels.operation }}` in an annotation reads as `<operation>` here.
    let plain = |text: &str| text.replace("{{ $labels.", "<").replace(" }}", ">");
    let section = |out: &mut String, rule: &Rule<'_>, steps: &str| {
        let _ = write!(
            out,
            "\n## {}\n\nFires when: {}.\n\n```promql\n{}\n```\n\n{} Severity `{}`, after {}.\n\n{steps}\n",
            rule.alert,
            plain(&rule.summary),
            rule.expr,
            plain(&rule.description),
            rule.severity,
            rule.for_
        );
    };
    for rule in operation_rules(catalog) {
        let component = rule.component.unwrap_or_default();
        let steps = format!(
            "1. Which operations: the `{component}` row of the Overview dashboard splits the ratio and \
             latency by operation.\n\
             2. Why: open a trace of a failed or slow call (spans are named `{component}.<operation>`, \
             with `error.type` and the error message on failures).\n\
             3. Since when: compare with the last deployment and with the component's dependencies."
        );
        section(&mut out, &rule, &steps);
    }
    for rule in telemetry_rules(catalog) {
        let steps = "1. The service's log (its `tracing` output) names the failing export, its endpoint \
                     and the cause, rate-limited.\n\
                     2. Check the collector or backend the endpoint names: reachable, accepting, not \
                     overloaded.\n\
                     3. Telemetry never blocks the service: while this fires, its data is late or lost, \
                     its calls are not slower.";
        section(&mut out, &rule, steps);
    }
    for tier in &TIERS {
        if catalog.objectives.is_empty() {
            break;
        }
        let _ = write!(
            out,
            "\n## {}\n\nFires when an objective's error ratio over {} and over {} is above {} times its \
             error budget: at this pace, {} (severity `{}`). The `slo` label names the objective; its \
             dashboard is `{namespace}-slos`.\n\n\
             1. Find the failing operations behind the objective's indicator on the Overview dashboard.\n\
             2. Stop what burns the budget (roll back, shed load) before looking for the root cause.\n",
            tier.alert_name(catalog),
            tier.long,
            tier.short,
            crate::slo::decimal(tier.factor),
            tier.meaning,
            tier.severity
        );
    }
    out
}
