//! The Grafana dashboards, generated from the catalog. Every instrument gets panels chosen by
//! what it means: rates and error ratios as time series, duration histograms as a heatmap beside
//! their p50/p95/p99, current values as stats and gauges, breakdowns as bar gauges; each panel is
//! described by its catalog entry, combines instances as the entry says (sum, max or avg), and
//! panels that an alert watches draw its threshold and link to its runbook section.
//!
//! Queries use the Prometheus names VictoriaMetrics stores with
//! `-opentelemetry.usePrometheusNaming` (the collector's Prometheus path produces the same).

use serde_json::{Value, json};

use contextd_metrics_catalog::{
    Aggregation, Component, InstrumentKind, InstrumentSpec, LabelValues, Objective, instruments, labels,
    self_metrics,
};

use crate::layout::{Item, Kind, Panel, layout};

/// A generated dashboard: its file name under `monitoring/grafana/dashboards/` and its JSON.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// File name, e.g. `contextd-overview.json`.
    pub file_name: &'static str,
    /// The dashboard's title.
    pub title: &'static str,
    /// The dashboard model, as Grafana's provisioning reads it.
    pub json: Value,
}

/// An alert a panel draws: its name (for the runbook link) and threshold.
#[derive(Debug, Clone, Copy)]
pub struct Watched {
    /// The alert in `monitoring/alerts/contextd.yml`.
    pub alert: &'static str,
    /// The value above which it fires, in the panel's unit.
    pub threshold: f64,
}

/// The alerts of `monitoring/alerts/contextd.yml` that panels draw, with their thresholds; a test
/// checks each against the rule's own expression.
pub const WATCHED: [(&str, Watched); 8] = [
    ("mcp error ratio", Watched { alert: "ContextdMcpHighErrorRate", threshold: 0.05 }),
    ("operation error ratio", Watched { alert: "ContextdOperationErrorRatio", threshold: 0.1 }),
    ("embedding p95", Watched { alert: "ContextdEmbeddingSlow", threshold: 2.0 }),
    ("database errors", Watched { alert: "ContextdDatabaseErrors", threshold: 0.1 }),
    ("http 5xx ratio", Watched { alert: "ContextdHttp5xxRate", threshold: 0.05 }),
    ("http p95", Watched { alert: "ContextdHttpLatencyHigh", threshold: 1.0 }),
    ("gauge source failures", Watched { alert: "ContextdGaugeSourceFailing", threshold: 0.0 }),
    ("export failures", Watched { alert: "ContextdTelemetryExportFailures", threshold: 0.1 }),
];

fn watched(key: &str) -> Watched {
    WATCHED.iter().find(|(k, _)| *k == key).map(|(_, w)| *w).expect("a WATCHED entry")
}

/// Series filter every query carries, bound to the dashboard variables.
const FILTER: &str = r#"deployment_environment_name=~"$environment", service_instance_id=~"$instance""#;

/// The key of the `operation` label (the dashboards' `$operation` variable filters on it).
const OPERATION: &str = labels::CHECKPOINT_OPERATION.name;

fn selector(name: &str, extra: &str) -> String {
    if extra.is_empty() { format!("{name}{{{FILTER}}}") } else { format!("{name}{{{FILTER}, {extra}}}") }
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a}, {b}"),
    }
}

fn operation_filter(spec: &InstrumentSpec) -> String {
    if spec.label(OPERATION).is_some() { format!(r#"{OPERATION}=~"$operation""#) } else { String::new() }
}

/// `status="error"`, from the catalog's `status` label.
fn failed() -> String {
    format!(r#"{}="{}""#, labels::STATUS.name, labels::STATUS.values.listed()[1])
}

/// The Grafana unit for a catalog (UCUM) unit.
fn grafana_unit(spec: &InstrumentSpec) -> &'static str {
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
fn group_label(spec: &InstrumentSpec) -> Option<&'static str> {
    spec.labels.first().map(|l| l.name)
}

fn by(spec: &InstrumentSpec) -> String {
    group_label(spec).map(|l| format!(" by ({l})")).unwrap_or_default()
}

fn legend(spec: &InstrumentSpec) -> String {
    group_label(spec).map(|l| format!("{{{{{l}}}}}")).unwrap_or_else(|| spec.name.to_owned())
}

/// A panel description from the catalog entry: what it measures, the series, and how instances
/// combine.
fn describe(spec: &InstrumentSpec, what: &str) -> String {
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
fn ratio(by: &str, part: &str, whole: &str) -> String {
    let whole_rate = format!("sum{by} (rate({whole}[$__rate_interval]))");
    format!("(sum{by} (rate({part}[$__rate_interval])) or 0 * {whole_rate}) / {whole_rate}")
}

fn runbook(alert: &str) -> (String, String) {
    (format!("Runbook: {alert}"), format!("${{runbook}}#{}", alert.to_lowercase()))
}

/// A time series of a value an alert watches: its threshold drawn, its runbook linked.
fn alerting(panel: Panel, watched: Watched) -> Panel {
    let (title, url) = runbook(watched.alert);
    panel.threshold(watched.threshold, "red").link(title, url)
}

fn quantiles(spec: &InstrumentSpec, title: String) -> Panel {
    let bucket = selector(&format!("{}_bucket", spec.name), &operation_filter(spec));
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

/// The panels of one catalog instrument, chosen by what it measures.
fn instrument_panels(spec: &InstrumentSpec) -> Vec<Panel> {
    let unit = grafana_unit(spec);
    let ops = operation_filter(spec);
    let by = by(spec);
    let legend = legend(spec);
    match spec.kind {
        InstrumentKind::Counter | InstrumentKind::ObservedCounter if spec.unit == "USD" => {
            let per_day = format!("sum{by} (increase({}[1d]))", selector(spec.name, ""));
            let month = format!("sum (rate({}[1d])) * 86400 * 30", selector(spec.name, ""));
            vec![
                Panel::new(
                    Kind::TimeSeries,
                    "Embedding cost per day (USD)",
                    describe(spec, "spent per day"),
                    unit,
                )
                .query(per_day, legend),
                Panel::new(
                    Kind::Stat,
                    "Embedding cost, monthly projection",
                    describe(spec, "the last day's pace times 30"),
                    unit,
                )
                .query(month, "projection")
                .size(6, 8),
            ]
        }
        InstrumentKind::Counter | InstrumentKind::ObservedCounter => {
            let rate = format!("sum{by} (rate({}[$__rate_interval]))", selector(spec.name, &ops));
            let mut rate_panel = Panel::new(
                Kind::TimeSeries,
                format!("{} per second", spec.description),
                describe(spec, "rate"),
                "ops",
            )
            .query(rate, legend.clone());
            if *spec == instruments::DATABASE_ERRORS_TOTAL {
                rate_panel = alerting(rate_panel, watched("database errors"));
            }
            let mut panels = vec![rate_panel];
            if spec.label(labels::STATUS.name).is_some() {
                let errors =
                    ratio(&by, &selector(spec.name, &join(&ops, &failed())), &selector(spec.name, &ops));
                let watched = if spec.component == Component::Mcp {
                    watched("mcp error ratio")
                } else {
                    watched("operation error ratio")
                };
                panels.push(alerting(
                    Panel::new(
                        Kind::TimeSeries,
                        format!("{} — error ratio", spec.description),
                        describe(spec, "share of calls that failed"),
                        "percentunit",
                    )
                    .query(errors, legend),
                    watched,
                ));
            }
            panels
        }
        InstrumentKind::Histogram if spec.unit == "s" => {
            let bucket = selector(&format!("{}_bucket", spec.name), &ops);
            let heatmap = Panel::new(
                Kind::Heatmap,
                format!("{} — distribution", spec.description),
                describe(spec, "calls per duration bucket over time"),
                unit,
            )
            .query(format!("sum by (le) (increase({bucket}[$__rate_interval]))"), "{{le}}");
            let mut lines = quantiles(spec, spec.description.to_owned());
            if *spec == instruments::EMBEDDING_DURATION_SECONDS {
                lines = alerting(lines, watched("embedding p95"));
            }
            vec![heatmap, lines]
        }
        InstrumentKind::Histogram => vec![quantiles(spec, spec.description.to_owned())],
        InstrumentKind::Gauge => vec![gauge_panel(spec)],
    }
}

/// A current value: a stat, a gauge for percentages, bar gauges for breakdowns by label.
fn gauge_panel(spec: &InstrumentSpec) -> Panel {
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

/// A headline number: a stat over one query.
fn headline(title: &str, description: &str, unit: &'static str, query: String) -> Panel {
    Panel::new(Kind::Stat, title, description, unit).query(query, title).size(4, 5)
}

/// The rows of one set of components: a row per component with its instruments' panels.
fn component_rows(specs: &[InstrumentSpec], rows: &[(Component, &str)]) -> Vec<Item> {
    let mut items = Vec::new();
    for (component, question) in rows {
        items.push(Item::Row(format!("{} — {question}", component_title(*component))));
        items.extend(
            specs.iter().filter(|s| s.component == *component).flat_map(instrument_panels).map(Item::Panel),
        );
    }
    items
}

fn component_title(component: Component) -> &'static str {
    match component {
        Component::Mcp => "MCP tools",
        Component::Checkpoint => "Checkpoints",
        Component::Remediation => "Remediations",
        Component::Skill => "Skills",
        Component::Embedding => "Embeddings",
        Component::Database => "Vector store",
        Component::Agent => "Agents",
        Component::Testing => "Testing",
        Component::Telemetry => "Telemetry pipeline",
    }
}

/// What each row of the Overview answers.
const OVERVIEW_ROWS: [(Component, &str); 5] = [
    (Component::Mcp, "are agents' tool calls fast and succeeding?"),
    (Component::Checkpoint, "are checkpoints saved and found?"),
    (Component::Remediation, "are remediations stored and matched?"),
    (Component::Embedding, "is the embedding provider fast, and what does it cost?"),
    (Component::Database, "is the vector store healthy?"),
];

/// The Overview's first row: is the service healthy right now.
fn overview_headline() -> Vec<Item> {
    let mcp = &instruments::MCP_TOOL_CALLS_TOTAL;
    let duration = &instruments::MCP_TOOL_DURATION_SECONDS;
    let checkpoint = &instruments::CHECKPOINT_OPERATIONS_TOTAL;
    let error_ratio =
        |spec: &InstrumentSpec| ratio("", &selector(spec.name, &failed()), &selector(spec.name, ""));
    vec![
        Item::Row("Headline — is contextd healthy right now?".into()),
        Item::Panel(headline(
            "MCP calls per second",
            "All MCP tool calls handed to agents, every instance added.",
            "ops",
            format!("sum (rate({}[$__rate_interval]))", selector(mcp.name, "")),
        )),
        Item::Panel(
            headline(
                "MCP error ratio",
                "Share of MCP tool calls that failed, all tools.",
                "percentunit",
                error_ratio(mcp),
            )
            .threshold(watched("mcp error ratio").threshold, "red")
            .link(runbook(watched("mcp error ratio").alert).0, runbook(watched("mcp error ratio").alert).1),
        ),
        Item::Panel(headline(
            "MCP p95 latency",
            "95th percentile of MCP tool execution time, all tools.",
            "s",
            format!(
                "histogram_quantile(0.95, sum by (le) (rate({}[$__rate_interval])))",
                selector(&format!("{}_bucket", duration.name), "")
            ),
        )),
        Item::Panel(
            headline(
                "Checkpoint error ratio",
                "Share of checkpoint operations that failed, all operations.",
                "percentunit",
                error_ratio(checkpoint),
            )
            .threshold(watched("operation error ratio").threshold, "red"),
        ),
        Item::Panel(headline(
            "Checkpoints stored",
            "Rows of the shared store: the largest value any instance reports.",
            "short",
            format!("max ({})", selector(instruments::CHECKPOINTS_TOTAL.name, "")),
        )),
        Item::Panel(
            headline(
                "Telemetry exports failing",
                "Share of this pipeline's exports that failed over the last 10 minutes.",
                "percentunit",
                ratio(
                    "",
                    &selector(self_metrics::EXPORT_FAILURES_TOTAL.name, ""),
                    &selector(self_metrics::EXPORTS_TOTAL.name, ""),
                ),
            )
            .threshold(watched("export failures").threshold, "red"),
        ),
    ]
}

/// Panels outside the catalog: HTTP, the process, and the telemetry pipeline itself.
fn service_rows() -> Vec<Item> {
    let http = "http_server_request_duration_seconds";
    let count = selector(&format!("{http}_count"), "");
    let signal = labels::SIGNAL.name;
    let http_5xx = watched("http 5xx ratio");
    let http_p95 = watched("http p95");
    vec![
        Item::Row("Service — is the HTTP API answering, and is the process healthy?".into()),
        Item::Panel(
            Panel::new(Kind::TimeSeries, "HTTP requests by route", "Requests per second by route template, every instance added (`http.server.request.duration`).", "reqps")
                .query(format!("sum by (http_route) (rate({count}[$__rate_interval]))"), "{{http_route}}"),
        ),
        Item::Panel(alerting(
            Panel::new(Kind::TimeSeries, "HTTP 5xx ratio by route", "Share of requests answered 5xx, by route.", "percentunit").query(
                ratio(" by (http_route)", &selector(&format!("{http}_count"), r#"http_response_status_code=~"5..""#), &count),
                "{{http_route}}",
            ),
            http_5xx,
        )),
        Item::Panel(
            Panel::new(Kind::Heatmap, "HTTP latency distribution", "Requests per duration bucket over time, all routes.", "s").query(
                format!("sum by (le) (increase({}[$__rate_interval]))", selector(&format!("{http}_bucket"), "")),
                "{{le}}",
            ),
        ),
        Item::Panel(alerting(
            Panel::new(Kind::TimeSeries, "HTTP latency p95 by route", "95th percentile of request duration, by route.", "s").query(
                format!(
                    "histogram_quantile(0.95, sum by (le, http_route) (rate({}[$__rate_interval])))",
                    selector(&format!("{http}_bucket"), "")
                ),
                "{{http_route}}",
            ),
            http_p95,
        )),
        Item::Panel(
            Panel::new(Kind::TimeSeries, "Resident memory", "Resident set size of each instance (`process.memory.usage`).", "bytes")
                .query(format!("sum by (service_instance_id) ({})", selector("process_memory_usage_bytes", "")), "{{service_instance_id}}")
                .link(runbook("ContextdMemoryGrowth").0, runbook("ContextdMemoryGrowth").1),
        ),
        Item::Panel(
            Panel::new(Kind::TimeSeries, "CPU utilisation", "Share of one CPU used, by mode, every instance added (`process.cpu.utilization`).", "percentunit")
                .query(format!("sum by (cpu_mode) ({})", selector("process_cpu_utilization_ratio", "")), "{{cpu_mode}}"),
        ),
        Item::Row("Telemetry pipeline — is this telemetry itself arriving?".into()),
        Item::Panel(alerting(
            Panel::new(Kind::TimeSeries, "Telemetry exports failing", describe(&self_metrics::EXPORT_FAILURES_TOTAL, "share of exports that failed"), "percentunit").query(
                ratio(
                    &format!(" by ({signal})"),
                    &selector(self_metrics::EXPORT_FAILURES_TOTAL.name, ""),
                    &selector(self_metrics::EXPORTS_TOTAL.name, ""),
                ),
                format!("{{{{{signal}}}}}"),
            ),
            watched("export failures"),
        )),
        Item::Panel(alerting(
            Panel::new(Kind::TimeSeries, "Gauge source failures", describe(&self_metrics::GAUGE_SOURCE_FAILURES_TOTAL, "failures per second"), "ops").query(
                format!(
                    "sum by ({}, {}) (rate({}[$__rate_interval]))",
                    labels::GAUGE.name,
                    labels::FAILURE_REASON.name,
                    selector(self_metrics::GAUGE_SOURCE_FAILURES_TOTAL.name, "")
                ),
                format!("{{{{{}}}}} {{{{{}}}}}", labels::GAUGE.name, labels::FAILURE_REASON.name),
            ),
            watched("gauge source failures"),
        )),
    ]
}

fn variable(name: &str, label: &str, query: &str) -> Value {
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

fn dashboard(uid: &str, title: &str, description: &str, items: Vec<Item>) -> Value {
    json!({
        "uid": uid,
        "title": title,
        "tags": ["contextd", "generated"],
        "timezone": "browser",
        "refresh": "30s",
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "editable": false,
        "description": format!("{description} Generated by `contextd-catalog grafana`; do not edit."),
        "links": [
            crate::layout::link("Traces in Jaeger", "http://localhost:16686/search?service=${service}"),
            {"title": "contextd dashboards", "type": "dashboards", "tags": ["contextd"], "asDropdown": true, "icon": "external link",
             "tooltip": "", "targetBlank": false, "includeVars": true, "keepTime": true},
        ],
        "templating": {"list": [
            variable("environment", "Environment", "label_values(deployment_environment_name)"),
            variable("instance", "Service instance", "label_values(service_instance_id)"),
            variable("operation", "Operation", &format!("label_values({OPERATION})")),
            {"name": "service", "type": "query", "datasource": {"type": "prometheus", "uid": "victoriametrics"},
             "query": {"query": "label_values(service_name)", "refId": "service"}, "refresh": 2, "hide": 2},
            {"name": "runbook", "label": "Runbook URL", "type": "constant", "hide": 2,
             "query": "docs/runbook.md", "description": "Where panels link for an alert's runbook section; set it to where your copy of docs/runbook.md is served."},
        ]},
        "panels": layout(items),
    })
}

/// The dashboards: contextd Overview (the home dashboard), Testing & Quality, Agents & Skills
/// (every catalog instrument is on one of them), and the SLOs of `objectives`.
pub fn grafana(specs: &[InstrumentSpec], objectives: &[Objective]) -> Vec<Dashboard> {
    let mut overview = overview_headline();
    overview.extend(component_rows(specs, &OVERVIEW_ROWS));
    overview.extend(service_rows());
    let testing =
        component_rows(specs, &[(Component::Testing, "how much is tested, how fast, and what is broken?")]);
    let agents = component_rows(
        specs,
        &[
            (Component::Agent, "how often do agents run, how long, and do they succeed?"),
            (Component::Skill, "which skills are applied, and do they work?"),
        ],
    );
    vec![
        Dashboard {
            file_name: "contextd-overview.json",
            title: "contextd Overview",
            json: dashboard("contextd-overview", "contextd Overview", "Home dashboard.", overview),
        },
        Dashboard {
            file_name: "contextd-testing-quality.json",
            title: "contextd Testing & Quality",
            json: dashboard(
                "contextd-testing-quality",
                "contextd Testing & Quality",
                "Tests, coverage, bugs.",
                testing,
            ),
        },
        Dashboard {
            file_name: "contextd-agents-skills.json",
            title: "contextd Agents & Skills",
            json: dashboard(
                "contextd-agents-skills",
                "contextd Agents & Skills",
                "Agent executions and skills.",
                agents,
            ),
        },
        Dashboard {
            file_name: "contextd-slos.json",
            title: "contextd SLOs",
            json: dashboard(
                "contextd-slos",
                "contextd SLOs",
                "Objectives, error budgets and burn rates (docs/slos.md).",
                crate::slo::dashboard_items(objectives),
            ),
        },
    ]
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
