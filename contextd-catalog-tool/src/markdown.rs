use std::fmt::Write as _;

use contextd_metrics_catalog::{Catalog, InstrumentKind, InstrumentSpec, LabelValues};

/// The catalog as the markdown reference page (contextd's: `docs/metrics-catalog.md`): one
/// table per kind with name, value type, unit, labels and their values, buckets and
/// description, and a last section for the pipeline's own counters. `source` is the catalog
/// file as given to the tool, quoted in the header.
///
/// ```
/// let page = contextd_catalog_tool::markdown(&contextd_metrics::contextd::CATALOG, "contextd.yaml");
/// assert!(page.contains("## Counters (9)"));
/// assert!(page.contains("## Self-metrics (6)"));
/// ```
pub fn markdown(catalog: &Catalog, source: &str) -> String {
    let (specs, self_metrics) = (catalog.instruments, catalog.self_metrics);
    let mut out = String::new();
    let _ = write!(
        out,
        "# The {} metric catalog\n\n\
         <!-- Generated from `{source}` by the catalog tool (`markdown`); do not edit. -->\n\n",
        catalog.namespace
    );
    out.push_str(
        "\
         Every instrument below is created with exactly this name and unit, so the name is also the\n\
         Prometheus/VictoriaMetrics series name that dashboards and alert rules query (histograms add\n\
         `_bucket`, `_sum` and `_count`). Labels are listed in the order callers pass them; a label\n\
         marked *open* takes values chosen by the service's code (never by user data), and the values\n\
         shown for it are the known ones. *Across instances* says how dashboards combine the series\n\
         of several service instances: `sum` for shares of their own, `max` for a shared value every\n\
         instance reports (rows of a shared store, one report file), `avg` for ratios of their own.\n",
    );
    let sections = [
        (InstrumentKind::Counter, "Counters"),
        (InstrumentKind::Histogram, "Histograms"),
        (InstrumentKind::Gauge, "Observable gauges"),
    ];
    let mut number = 0;
    for (kind, title) in sections {
        let rows: Vec<&InstrumentSpec> = specs.iter().filter(|s| s.kind == kind).collect();
        table(&mut out, title, &rows, &mut number);
    }
    if !self_metrics.is_empty() {
        out.push_str("\n## Self-metrics (");
        let _ = write!(out, "{})\n\n", self_metrics.len());
        out.push_str(
            "Counts the telemetry pipeline keeps of itself (exports, dropped spans, refused values,\n\
             failing gauge sources), observed at export time; the Overview dashboard and the alert\n\
             rules watch them.\n",
        );
        let rows: Vec<&InstrumentSpec> = self_metrics.iter().collect();
        let mut number = 0;
        table(&mut out, "", &rows, &mut number);
    }
    out
}

/// One table of entries, numbered on from `number`, under a `## title (n)` heading if given.
fn table(out: &mut String, title: &str, rows: &[&InstrumentSpec], number: &mut usize) {
    if title.is_empty() {
        out.push('\n');
    } else {
        let _ = write!(out, "\n## {title} ({})\n\n", rows.len());
    }
    out.push_str(
        "| # | name | value | unit | labels | buckets | component | across instances | description |\n",
    );
    out.push_str(
        "|---|------|-------|------|--------|---------|-----------|------------------|-------------|\n",
    );
    for spec in rows {
        *number += 1;
        let _ = writeln!(
            out,
            "| {number} | `{}` | {} | `{}` | {} | {} | {} | {} | {} |",
            spec.name,
            spec.value_type.as_str(),
            spec.unit,
            labels(spec),
            buckets(spec),
            spec.component,
            spec.aggregation.as_str(),
            spec.description,
        );
    }
}

fn labels(spec: &InstrumentSpec) -> String {
    if spec.labels.is_empty() {
        return "—".to_owned();
    }
    let described: Vec<String> = spec
        .labels
        .iter()
        .map(|label| {
            let values = label.values.listed().join(", ");
            match label.values {
                LabelValues::Closed(_) => format!("`{}` ∈ {{{values}}}", label.name),
                LabelValues::Open([]) => format!("`{}` (open)", label.name),
                LabelValues::Open(_) => format!("`{}` (open; e.g. {values})", label.name),
            }
        })
        .collect();
    described.join("<br>")
}

fn buckets(spec: &InstrumentSpec) -> String {
    match spec.buckets {
        Some(bounds) => bounds.iter().map(|b| super::number(*b)).collect::<Vec<_>>().join(", "),
        None => "—".to_owned(),
    }
}
