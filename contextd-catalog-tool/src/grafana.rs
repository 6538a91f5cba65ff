//! The building blocks of the Grafana dashboards: series selectors, ratios, quantile and gauge
//! panels, descriptions from catalog entries, and the dashboard model. The layouts
//! (`service_layout.rs` for any catalog, `contextd_layout.rs` for contextd's curated one) put
//! them together.
//!
//! Queries use the Prometheus names VictoriaMetrics stores with
//! `-opentelemetry.usePrometheusNaming` (the collector's Prometheus path produces the same).

use serde_json::{Value, json};

use contextd_metrics_catalog::{
    Aggregation, Catalog, InstrumentKind, InstrumentSpec, LabelValues, STATUS_KEY, STATUS_VALUES,
};

use crate::layout::{Item, Kind, Panel, layout};

/// A generated dashboard: its file name under `monitoring/grafana/dashboards/` and its JSON.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// File name, e.g. `contextd-overview.json`.
    pub file_name: String,
    /// The dashboard's title.
    pub title: String,
    /// The dashboard model, as Grafana's provisioning reads it.
    pub json: Value,
}

/// An alert a panel draws: its name (for the runbook link) and threshold.
#[derive(Debug, Clone)]
pub struct Watched {
    /// The alert's name.
    pub alert: std::borrow::Cow<'static, str>,
    /// The value above which it fires, in the panel's unit.
    pub threshold: f64,
}

/// Series filter every query carries, bound to the dashboard variables.
const FILTER: &str = r#"deployment_environment_name=~"$environment", service_instance_id=~"$instance""#;

pub(crate) fn selector(name: &str, extra: &str) -> String {
    if extra.is_empty() { format!("{name}{{{FILTER}}}") } else { format!("{name}{{{FILTER}, {extra}}}") }
}

pub(crate) fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a}, {b}"),
    }
}

/// `<key>=~"$operation"` where the instrument has the operation label (`key`: the label the
/// dashboards' `$operation` variable filters on).
pub(crate) fn operation_filter(spec: &InstrumentSpec, key: &str) -> String {
    if spec.label(key).is_some() { format!(r#"{key}=~"$operation""#) } else { String::new() }
}

/// `status="error"`: a status label's key and its error value are fixed by the catalog model.
pub(crate) fn failed() -> String {
    format!(r#"{STATUS_KEY}="{}""#, STATUS_VALUES[1])
}

/// The Grafana unit for a catalog (UCUM) unit.
pub(crate) fn grafana_unit(spec: &InstrumentSpec) -> &'static str {
    match spec.unit {
        "s" => "s",
        "By" => "bytes",
        "%" => "percent",
        "USD" => "currencyUSD",
        "1" if spec.kind == InstrumentKind::Gauge => "percentunit",
        _ => "short",
    }
}

/// The first label, which the panels group by (operation, tool_name, provider, …).
pub(crate) fn group_label(spec: &InstrumentSpec) -> Option<&'static str> {
    spec.labels.first().map(|l| l.name)
}

pub(crate) fn by(spec: &InstrumentSpec) -> String {
    group_label(spec).map(|l| format!(" by ({l})")).unwrap_or_default()
}

pub(crate) fn legend(spec: &InstrumentSpec) -> String {
    group_label(spec).map(|l| format!("{{{{{l}}}}}")).unwrap_or_else(|| spec.name.to_owned())
}

/// A panel description from the catalog entry: what it measures, the series, and how instances
/// combine.
pub(crate) fn describe(spec: &InstrumentSpec, what: &str) -> String {
    let labels: Vec<&str> = spec.labels.iter().map(|l| l.name).collect();
    let labels = if labels.is_empty() { String::new() } else { format!(" by {}", labels.join(", ")) };
    let across = match spec.aggregation {
        Aggregation::Sum => "instances add up",
        Aggregation::Max => {
            "every instance reports the same shared value, so the largest is shown, never the sum"
        }
        Aggregation::Avg => "each instance reports its own ratio; the average is shown",
    };
    format!("{} — {what}. Series `{}`{labels}; {across}.", spec.description, spec.name)
}

/// `part / whole` of two rates, 0 (not "no data") when `part` has no series yet: a panel of
/// error ratios must show 0 for a healthy service.
pub(crate) fn ratio(by: &str, part: &str, whole: &str) -> String {
    let whole_rate = format!("sum{by} (rate({whole}[$__rate_interval]))");
    format!("(sum{by} (rate({part}[$__rate_interval])) or 0 * {whole_rate}) / {whole_rate}")
}

pub(crate) fn runbook(alert: &str) -> (String, String) {
    (format!("Runbook: {alert}"), format!("${{runbook}}#{}", alert.to_lowercase()))
}

/// A time series of a value an alert watches: its threshold drawn, its runbook linked.
pub(crate) fn alerting(panel: Panel, watched: Watched) -> Panel {
    let (title, url) = runbook(&watched.alert);
    panel.threshold(watched.threshold, "red").link(title, url)
}

/// A counter's calls per second, by its first label.
pub(crate) fn rate_panel(spec: &InstrumentSpec, operation_key: &str) -> Panel {
    let ops = operation_filter(spec, operation_key);
    let rate = format!("sum{} (rate({}[$__rate_interval]))", by(spec), selector(spec.name, &ops));
    Panel::new(Kind::TimeSeries, format!("{} per second", spec.description), describe(spec, "rate"), "ops")
        .query(rate, legend(spec))
}

/// The share of a status counter's calls that failed, drawing the alert that watches it.
pub(crate) fn error_ratio_panel(spec: &InstrumentSpec, operation_key: &str, watched: Watched) -> Panel {
    let ops = operation_filter(spec, operation_key);
    let errors = ratio(&by(spec), &selector(spec.name, &join(&ops, &failed())), &selector(spec.name, &ops));
    alerting(
        Panel::new(
            Kind::TimeSeries,
            format!("{} — error ratio", spec.description),
            describe(spec, "share of calls that failed"),
            "percentunit",
        )
        .query(errors, legend(spec)),
        watched,
    )
}

/// A duration histogram's calls per bucket over time.
pub(crate) fn heatmap(spec: &InstrumentSpec, operation_key: &str) -> Panel {
    let bucket = selector(&format!("{}_bucket", spec.name), &operation_filter(spec, operation_key));
    Panel::new(
        Kind::Heatmap,
        format!("{} — distribution", spec.description),
        describe(spec, "calls per duration bucket over time"),
        grafana_unit(spec),
    )
    .query(format!("sum by (le) (increase({bucket}[$__rate_interval]))"), "{{le}}")
}

pub(crate) fn quantiles(spec: &InstrumentSpec, title: String, operation_key: &str) -> Panel {
    let bucket = selector(&format!("{}_bucket", spec.name), &operation_filter(spec, operation_key));
    let by_le = match group_label(spec) {
        Some(l) => format!(" by (le, {l})"),
        None => " by (le)".to_owned(),
    };
    let legend = legend(spec);
    let mut panel =
        Panel::new(Kind::TimeSeries, title, describe(spec, "p50, p95 and p99 over time"), grafana_unit(spec));
    for (name, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
        panel = panel.query(
            format!("histogram_quantile({q}, sum{by_le} (rate({bucket}[$__rate_interval])))"),
            format!("{name} {legend}"),
        );
    }
    panel
}

/// A current value: a stat, a gauge for percentages, bar gauges for breakdowns by label.
pub(crate) fn gauge_panel(spec: &InstrumentSpec) -> Panel {
    let op = spec.aggregation.as_str();
    let unit = grafana_unit(spec);
    let label_list: Vec<&str> = spec.labels.iter().map(|l| l.name).collect();
    if label_list.is_empty() {
        let query = format!("{op} ({})", selector(spec.name, ""));
        return if spec.unit == "%" {
            Panel::new(Kind::Gauge, spec.description, describe(spec, "now"), unit)
                .query(query, spec.description)
                .base("red")
                .threshold(60.0, "orange")
                .threshold(80.0, "green")
                .range(0.0, 100.0)
                .size(6, 8)
        } else {
            Panel::new(Kind::Stat, spec.description, describe(spec, "now"), unit)
                .query(query, spec.description)
                .size(6, 8)
        };
    }
    let legend: Vec<String> = label_list.iter().map(|l| format!("{{{{{l}}}}}")).collect();
    let query = format!("{op} by ({}) ({})", label_list.join(", "), selector(spec.name, ""));
    let mut panel =
        Panel::new(Kind::BarGauge, spec.description, describe(spec, "now, per label value"), unit)
            .query(query, legend.join(" "));
    if unit == "percentunit" {
        panel = panel.range(0.0, 1.0);
    }
    if spec.labels.iter().all(|l| matches!(l.values, LabelValues::Closed(_))) {
        panel = panel.size(12, 8);
    }
    panel
}

pub(crate) fn variable(name: &str, label: &str, query: &str) -> Value {
    json!({
        "name": name,
        "label": label,
        "type": "query",
        "datasource": {"type": "prometheus", "uid": "victoriametrics"},
        "query": {"query": query, "refId": name},
        "includeAll": true,
        "allValue": ".*",
        "multi": true,
        "current": {"selected": true, "text": ["All"], "value": ["$__all"]},
        "refresh": 2,
    })
}

/// A dashboard of `catalog`'s service; `operation_key` is the label its `$operation` variable
/// lists, `description` says what it shows and that it is generated.
pub(crate) fn dashboard(
    catalog: &Catalog,
    operation_key: &str,
    uid: &str,
    title: &str,
    description: &str,
    items: Vec<Item>,
) -> Value {
    let namespace = catalog.namespace;
    json!({
        "uid": uid,
        "title": title,
        "tags": [namespace, "generated"],
        "timezone": "browser",
        "refresh": "30s",
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "editable": false,
        "description": description,
        "links": [
            crate::layout::link("Traces in Jaeger", "http://localhost:16686/search?service=${service}"),
            {"title": format!("{namespace} dashboards"), "type": "dashboards", "tags": [namespace], "asDropdown": true, "icon": "external link",
             "tooltip": "", "targetBlank": false, "includeVars": true, "keepTime": true},
        ],
        "templating": {"list": [
            variable("environment", "Environment", "label_values(deployment_environment_name)"),
            variable("instance", "Service instance", "label_values(service_instance_id)"),
            variable("operation", "Operation", &format!("label_values({operation_key})")),
            {"name": "service", "type": "query", "datasource": {"type": "prometheus", "uid": "victoriametrics"},
             "query": {"query": "label_values(service_name)", "refId": "service"}, "refresh": 2, "hide": 2},
            {"name": "runbook", "label": "Runbook URL", "type": "constant", "hide": 2,
             "query": "docs/runbook.md", "description": "Where panels link for an alert's runbook section; set it to where your copy of docs/runbook.md is served."},
        ]},
        "panels": layout(items),
    })
}

/// Every `expr` of a dashboard's panels, with the panel title: what the monitoring check runs.
pub fn panel_queries(dashboard: &Value) -> Vec<(String, String)> {
    dashboard["panels"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| {
            let title = p["title"].as_str().unwrap_or_default().to_owned();
            p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |t| (title.clone(), t["expr"].as_str().unwrap_or_default().to_owned()))
        })
        .collect()
}
