//! The three Grafana dashboards, generated from the catalog: every instrument gets a panel with
//! its unit, so a 32nd metric appears on a dashboard without anyone drawing it.
//!
//! Queries use the Prometheus names VictoriaMetrics stores with
//! `-opentelemetry.usePrometheusNaming` (the collector's Prometheus path produces the same).

use serde_json::{Value, json};

use contextd_metrics_catalog::{Component, InstrumentKind, InstrumentSpec, Objective, labels, self_metrics};

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

/// One panel before layout: title, Grafana unit, and (query, legend) pairs.
type PanelSpec = (String, &'static str, Vec<(String, String)>);

/// Series filter every query carries, bound to the dashboard variables.
const FILTER: &str = r#"deployment_environment_name=~"$environment", service_instance_id=~"$instance""#;

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

fn selector(name: &str, extra: &str) -> String {
    if extra.is_empty() { format!("{name}{{{FILTER}}}") } else { format!("{name}{{{FILTER}, {extra}}}") }
}

/// The first label, which the panels group by (operation, tool_name, provider, …).
fn group_label(spec: &InstrumentSpec) -> Option<&'static str> {
    spec.labels.first().map(|l| l.name)
}

/// The key of the `operation` label (the dashboards' `$operation` variable filters on it).
const OPERATION: &str = labels::CHECKPOINT_OPERATION.name;

fn operation_filter(spec: &InstrumentSpec) -> String {
    if spec.label(OPERATION).is_some() { format!(r#"{OPERATION}=~"$operation""#) } else { String::new() }
}

/// `status="error"`, from the catalog's `status` label.
fn failed() -> String {
    format!(r#"{}="{}""#, labels::STATUS.name, labels::STATUS.values.listed()[1])
}

/// The panels of one catalog instrument: (title, unit, queries with legends).
fn instrument_panels(spec: &InstrumentSpec) -> Vec<PanelSpec> {
    let unit = grafana_unit(spec);
    let by = group_label(spec).map(|l| format!(" by ({l})")).unwrap_or_default();
    let legend = group_label(spec).map(|l| format!("{{{{{l}}}}}")).unwrap_or_else(|| spec.name.to_owned());
    let ops = &operation_filter(spec);
    match spec.kind {
        InstrumentKind::Counter | InstrumentKind::ObservedCounter => {
            let rate = format!("sum{by} (rate({}[$__rate_interval]))", selector(spec.name, ops));
            let mut panels =
                vec![(format!("{} — rate", spec.description), "ops", vec![(rate, legend.clone())])];
            if spec.unit == "USD" {
                let per_day = format!("sum{by} (increase({}[1d]))", selector(spec.name, ""));
                let month = format!("sum (rate({}[1d])) * 86400 * 30", selector(spec.name, ""));
                panels = vec![
                    ("Embedding cost per day (USD)".into(), unit, vec![(per_day, legend.clone())]),
                    (
                        "Embedding cost, monthly projection (USD)".into(),
                        unit,
                        vec![(month, "projection".into())],
                    ),
                ];
            }
            if spec.label(labels::STATUS.name).is_some() {
                let errors =
                    ratio(&by, &selector(spec.name, &join(ops, &failed())), &selector(spec.name, ops));
                panels.push((
                    format!("{} — error ratio", spec.description),
                    "percentunit",
                    vec![(errors, legend)],
                ));
            }
            panels
        }
        InstrumentKind::Histogram => {
            let bucket = format!("{}_bucket", spec.name);
            let by_le = match group_label(spec) {
                Some(l) => format!(" by (le, {l})"),
                None => " by (le)".to_owned(),
            };
            let queries = [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)]
                .into_iter()
                .map(|(name, q)| {
                    (
                        format!(
                            "histogram_quantile({q}, sum{by_le} (rate({}[$__rate_interval])))",
                            selector(&bucket, ops)
                        ),
                        format!("{name} {legend}"),
                    )
                })
                .collect();
            vec![(spec.description.to_owned(), unit, queries)]
        }
        InstrumentKind::Gauge => {
            let query = match group_label(spec) {
                Some(_) => format!("sum by ({}) ({})", label_list(spec), selector(spec.name, "")),
                None => format!("sum ({})", selector(spec.name, "")),
            };
            vec![(spec.description.to_owned(), unit, vec![(query, legend)])]
        }
    }
}

/// `part / whole` of two rates, 0 (not "no data") when `part` has no series yet: a panel of
/// error ratios must show 0 for a healthy service.
fn ratio(by: &str, part: &str, whole: &str) -> String {
    let whole_rate = format!("sum{by} (rate({whole}[$__rate_interval]))");
    format!("(sum{by} (rate({part}[$__rate_interval])) or 0 * {whole_rate}) / {whole_rate}")
}

fn label_list(spec: &InstrumentSpec) -> String {
    spec.labels.iter().map(|l| l.name).collect::<Vec<_>>().join(", ")
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a}, {b}"),
    }
}

/// Panels outside the catalog: HTTP, process and runtime, and the telemetry pipeline itself.
fn service_panels() -> Vec<PanelSpec> {
    let http = "http_server_request_duration_seconds";
    vec![
        (
            "HTTP requests by route".into(),
            "reqps",
            vec![(
                format!(
                    "sum by (http_route) (rate({}[$__rate_interval]))",
                    selector(&format!("{http}_count"), "")
                ),
                "{{http_route}}".into(),
            )],
        ),
        (
            "HTTP 5xx ratio by route".into(),
            "percentunit",
            vec![(
                ratio(
                    " by (http_route)",
                    &selector(&format!("{http}_count"), r#"http_response_status_code=~"5..""#),
                    &selector(&format!("{http}_count"), ""),
                ),
                "{{http_route}}".into(),
            )],
        ),
        (
            "HTTP latency p95 by route".into(),
            "s",
            vec![(
                format!(
                    "histogram_quantile(0.95, sum by (le, http_route) (rate({}[$__rate_interval])))",
                    selector(&format!("{http}_bucket"), "")
                ),
                "{{http_route}}".into(),
            )],
        ),
        (
            "Resident memory".into(),
            "bytes",
            vec![(
                format!("sum by (service_instance_id) ({})", selector("process_memory_usage_bytes", "")),
                "{{service_instance_id}}".into(),
            )],
        ),
        (
            "CPU utilisation".into(),
            "percentunit",
            vec![(
                format!("sum by (cpu_mode) ({})", selector("process_cpu_utilization_ratio", "")),
                "{{cpu_mode}}".into(),
            )],
        ),
        (
            "Telemetry exports failing".into(),
            "percentunit",
            vec![(
                ratio(
                    &format!(" by ({})", labels::SIGNAL.name),
                    &selector(self_metrics::EXPORT_FAILURES_TOTAL.name, ""),
                    &selector(self_metrics::EXPORTS_TOTAL.name, ""),
                ),
                format!("{{{{{}}}}}", labels::SIGNAL.name),
            )],
        ),
    ]
}

fn panel(id: usize, (title, unit, queries): PanelSpec) -> Value {
    let targets: Vec<Value> = queries
        .into_iter()
        .enumerate()
        .map(|(i, (expr, legend))| {
            json!({"refId": char::from(b'A' + i as u8).to_string(), "expr": expr, "legendFormat": legend,
                   "datasource": {"type": "prometheus", "uid": "victoriametrics"}})
        })
        .collect();
    let (x, y) = ((id - 1) % 2 * 12, (id - 1) / 2 * 8);
    json!({
        "id": id,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "victoriametrics"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
        "targets": targets,
    })
}

fn variable(name: &str, label: &str, query: &str) -> Value {
    json!({
        "name": name,
        "label": label,
        "type": "query",
        "datasource": {"type": "prometheus", "uid": "victoriametrics"},
        "query": {"query": query, "refId": name},
        "definition": query,
        "includeAll": true,
        "allValue": ".*",
        "multi": true,
        "current": {"selected": true, "text": ["All"], "value": ["$__all"]},
        "refresh": 2,
    })
}

fn numbered(panels: Vec<PanelSpec>) -> Vec<Value> {
    panels.into_iter().enumerate().map(|(i, p)| panel(i + 1, p)).collect()
}

fn dashboard(uid: &str, title: &str, panels: Vec<Value>, home: bool) -> Value {
    json!({
        "uid": uid,
        "title": title,
        "tags": ["contextd", "generated"],
        "timezone": "browser",
        "refresh": "30s",
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "editable": false,
        "description": format!("Generated by `contextd-catalog grafana`; do not edit.{}", if home { " Home dashboard." } else { "" }),
        "links": [
            {"title": "Traces in Jaeger", "type": "link", "url": "http://localhost:16686/search?service=${service}", "targetBlank": true, "icon": "external link"},
            {"title": "contextd dashboards", "type": "dashboards", "tags": ["contextd"], "asDropdown": true}
        ],
        "templating": {"list": [
            variable("environment", "Environment", "label_values(deployment_environment_name)"),
            variable("instance", "Service instance", "label_values(service_instance_id)"),
            variable("operation", "Operation", &format!("label_values({OPERATION})")),
            {"name": "service", "type": "query", "datasource": {"type": "prometheus", "uid": "victoriametrics"},
             "query": {"query": "label_values(service_name)", "refId": "service"}, "definition": "label_values(service_name)",
             "refresh": 2, "hide": 2},
        ]},
        "panels": panels,
    })
}

/// The dashboards: contextd Overview (the home dashboard), Testing & Quality, Agents & Skills
/// (every catalog instrument is on one of them), and the SLOs of `objectives`.
pub fn grafana(specs: &[InstrumentSpec], objectives: &[Objective]) -> Vec<Dashboard> {
    let of = |components: &[Component]| -> Vec<_> {
        specs.iter().filter(|s| components.contains(&s.component)).flat_map(instrument_panels).collect()
    };
    let mut overview = of(&[
        Component::Mcp,
        Component::Checkpoint,
        Component::Remediation,
        Component::Embedding,
        Component::Database,
    ]);
    overview.extend(service_panels());
    vec![
        Dashboard {
            file_name: "contextd-overview.json",
            title: "contextd Overview",
            json: dashboard("contextd-overview", "contextd Overview", numbered(overview), true),
        },
        Dashboard {
            file_name: "contextd-testing-quality.json",
            title: "contextd Testing & Quality",
            json: dashboard(
                "contextd-testing-quality",
                "contextd Testing & Quality",
                numbered(of(&[Component::Testing])),
                false,
            ),
        },
        Dashboard {
            file_name: "contextd-agents-skills.json",
            title: "contextd Agents & Skills",
            json: dashboard(
                "contextd-agents-skills",
                "contextd Agents & Skills",
                numbered(of(&[Component::Agent, Component::Skill])),
                false,
            ),
        },
        Dashboard {
            file_name: "contextd-slos.json",
            title: "contextd SLOs",
            json: dashboard(
                "contextd-slos",
                "contextd SLOs",
                crate::layout::layout(crate::slo::dashboard_items(objectives)),
                false,
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
