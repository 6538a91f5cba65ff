//! A service that never heard of contextd, end to end: the orders service runs against a real
//! VictoriaMetrics; its series arrive under its own names, every query of the dashboards its
//! catalog generates returns data, its generated alert and SLO rules load in promtool, and no
//! byte it sends and no line generated for it names contextd.

use std::process::Command;
use std::time::Duration;

use contextd_metrics::{InstrumentKind, SelfMetric};
use contextd_testkit::{OtlpRecorder, Tool, VictoriaMetrics, all_selected, eventually, package_binary};
use orders_service::telemetry::CATALOG;

const FOREIGN: &str = "contextd";

/// Runs the orders service, metrics to `metrics`, spans to `traces`.
fn run_orders(metrics: &str, traces: &str, instance: &str) {
    let mut command = Command::new(package_binary("orders-service", "orders-service"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    let output = command
        // Three seconds: several exports, so rates have two points.
        .args(["--orders", "60", "--pause-ms", "50"])
        .env("OTEL_SERVICE_NAME", "orders")
        .env("OTEL_RESOURCE_ATTRIBUTES", format!("service.instance.id={instance}"))
        .env("OTEL_METRIC_EXPORT_INTERVAL", "1000")
        .env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", metrics)
        .env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces)
        .output()
        .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "orders-service failed:\n{text}");
    assert!(!text.contains(FOREIGN), "the service's own output names {FOREIGN}:\n{text}");
}

fn write_temp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("orders-catalog-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn its_own_series_arrive_and_every_generated_dashboard_query_has_data() {
    let vm = VictoriaMetrics::start();
    let metrics = OtlpRecorder::start(Some(vm.otlp_metrics_endpoint()));
    let traces = OtlpRecorder::start(None);
    run_orders(&metrics.url("/v1/metrics"), &traces.url("/v1/traces"), "orders-a");

    // Every instrument and the self-metrics the pipeline always reports, under the catalog's names.
    let expected: Vec<String> = CATALOG
        .instruments
        .iter()
        .map(|s| {
            if s.kind == InstrumentKind::Histogram { format!("{}_bucket", s.name) } else { s.name.to_owned() }
        })
        .chain(
            [SelfMetric::Exports, SelfMetric::ExportFailures, SelfMetric::SpansDropped]
                .map(|m| CATALOG.self_metric(m).name.to_owned()),
        )
        .collect();
    let names = eventually(Duration::from_secs(20), "the orders series", || {
        let names = vm.metric_names();
        expected.iter().all(|n| names.contains(n)).then_some(names)
    });
    let foreign: Vec<&String> = names.iter().filter(|n| n.contains(FOREIGN)).collect();
    assert!(foreign.is_empty(), "series named after {FOREIGN}: {foreign:?}");
    eprintln!("{} series names stored, all {} of the catalog among them", names.len(), expected.len());

    // Not a byte of what the service sent names contextd: series, labels, resource, scopes, spans.
    let sent: Vec<(String, Vec<u8>)> = metrics.requests().into_iter().chain(traces.requests()).collect();
    assert!(traces.requests().iter().any(|(line, _)| line.contains("/v1/traces")), "no spans were sent");
    for (line, body) in &sent {
        assert!(
            !body.windows(FOREIGN.len()).any(|w| w == FOREIGN.as_bytes()),
            "{line}: the request body names {FOREIGN}"
        );
    }
    let span_bytes: usize = traces.requests().iter().map(|(_, b)| b.len()).sum();
    assert!(
        traces.requests().iter().any(|(_, b)| b.windows(12).any(|w| w == b"orders.place")),
        "no span named orders.place in {span_bytes} bytes of traces"
    );

    // The generated SLO rules feed the SLO dashboard: let vmalert evaluate them first.
    let slo = contextd_catalog_tool::slo_rules(&CATALOG, "telemetry.yaml").unwrap();
    let slo_file = write_temp("slo.yml", &slo);
    let recorded = contextd_catalog_tool::slo::recorded_series(CATALOG.objectives);
    let recorded: Vec<&str> = recorded.iter().map(String::as_str).collect();
    vm.evaluate_rules(std::slice::from_ref(&slo_file), &recorded, CATALOG.objectives.len());

    let dashboards = contextd_catalog_tool::grafana(&CATALOG);
    let files: Vec<&str> = dashboards.iter().map(|d| d.file_name.as_str()).collect();
    assert_eq!(files, ["orders-overview.json", "orders-slos.json"]);
    let mut failures = Vec::new();
    let mut queries = 0;
    for dashboard in &dashboards {
        let text = dashboard.json.to_string();
        assert!(!text.contains(FOREIGN), "{} names {FOREIGN}", dashboard.file_name);
        for (panel, query) in contextd_catalog_tool::panel_queries(&dashboard.json) {
            queries += 1;
            match vm.try_query(&all_selected(&query)) {
                Ok(result) if result.is_empty() => {
                    failures.push(format!("{} / {panel}: no data for {query}", dashboard.title))
                }
                Ok(_) => {}
                Err(error) => failures.push(format!("{} / {panel}: {error} in {query}", dashboard.title)),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {queries} panel queries failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{queries} panel queries on {} dashboards, every one with data", dashboards.len());
    let _ = std::fs::remove_dir_all(slo_file.parent().unwrap());
}

#[test]
fn generated_docs_and_rules_are_its_own_and_load_in_promtool() {
    let alerts = contextd_catalog_tool::alert_rules(&CATALOG, "telemetry.yaml");
    let slo = contextd_catalog_tool::slo_rules(&CATALOG, "telemetry.yaml").unwrap();
    let docs = contextd_catalog_tool::markdown(&CATALOG, "telemetry.yaml");
    for (what, text) in [("alert rules", &alerts), ("SLO rules", &slo), ("docs", &docs)] {
        assert!(!text.contains(FOREIGN), "the {what} name {FOREIGN}:\n{text}");
    }
    for alert in [
        "OrdersOrdersHighErrorRate",
        "OrdersOrdersSlowP95",
        "OrdersPaymentsHighErrorRate",
        "OrdersTelemetryExportFailures",
    ] {
        assert!(alerts.contains(&format!("- alert: {alert}\n")), "no {alert} in\n{alerts}");
    }
    // Thresholds from the catalog: payments' own error ratio, and its latency objective's bound as p95.
    assert!(alerts.contains("> 0.02\n"), "{alerts}");
    assert!(
        alerts.contains("rate(orders_payment_duration_seconds_bucket[5m])))\n            > 0.5"),
        "{alerts}"
    );
    for (name, text) in [("alerts.yml", &alerts), ("slo.yml", &slo)] {
        let file = write_temp(name, text);
        let output =
            Command::new(Tool::Promtool.path()).args(["check", "rules"]).arg(&file).output().unwrap();
        let said =
            format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "promtool check rules {name}:\n{said}\n{text}");
        // Its lint too: no two rules alike but for their expression.
        assert!(!said.contains("duplicate"), "promtool check rules {name}:\n{said}");
        eprintln!("promtool check rules {name}: {}", said.lines().last().unwrap_or_default());
        let _ = std::fs::remove_dir_all(file.parent().unwrap());
    }
}

/// The generated error-ratio alert on the service's own series, in `promtool test rules`: quiet
/// while all calls succeed, firing once a tenth of `place` calls fail for longer than its `for`.
#[test]
fn its_generated_error_alert_fires_on_its_own_series_in_promtool() {
    let alerts = contextd_catalog_tool::alert_rules(&CATALOG, "telemetry.yaml");
    let rules = write_temp("fire-alerts.yml", &alerts);
    let dir = rules.parent().unwrap();
    let counter = instruments_name("operations_total");
    let tests = format!(
        r#"rule_files: [fire-alerts.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: '{counter}{{operation="place",status="success"}}'
        values: '0+90x40'
      - series: '{counter}{{operation="place",status="error"}}'
        values: '0x10 0+10x30'
      - series: '{counter}{{operation="get",status="success"}}'
        values: '0+50x40'
    alert_rule_test:
      - eval_time: 9m
        alertname: OrdersOrdersHighErrorRate
        exp_alerts: []
      - eval_time: 25m
        alertname: OrdersOrdersHighErrorRate
        exp_alerts:
          - exp_labels: {{severity: warning, component: orders, operation: place}}
            exp_annotations:
              summary: "orders place fails more than 5% of calls"
              description: "More than 5% of orders place operations failed over 5 minutes, for 5 minutes."
              runbook_url: "docs/runbook.md#ordersordershigherrorrate"
"#
    );
    std::fs::write(dir.join("fire.test.yml"), tests).unwrap();
    let output = Command::new(Tool::Promtool.path())
        .args(["test", "rules", "fire.test.yml"])
        .current_dir(dir)
        .output()
        .unwrap();
    let said =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "promtool test rules:\n{said}\n{alerts}");
    eprintln!("promtool test rules: {}", said.lines().last().unwrap_or_default());
    let _ = std::fs::remove_dir_all(dir);
}

/// A catalog instrument's full name from its name without the namespace.
fn instruments_name(short: &str) -> String {
    let name = format!("{}_{short}", CATALOG.namespace);
    assert!(CATALOG.find(&name).is_some(), "{name} is in the catalog");
    name
}

#[test]
fn the_tool_renders_the_same_catalog_from_the_file() {
    let read = contextd_metrics_catalog::source::read_file(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/telemetry.yaml"
    )))
    .unwrap();
    assert_eq!(*read, CATALOG, "the file read at run time is the catalog generated at compile time");
}

#[test]
fn the_guides_catalog_is_a_valid_catalog() {
    let guide =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/own-catalog.md")).unwrap();
    let start = guide.find("```yaml\n").expect("a yaml block in docs/own-catalog.md") + "```yaml\n".len();
    let yaml = &guide[start..start + guide[start..].find("```").unwrap()];
    let catalog = contextd_metrics_catalog::source::read_str("docs/own-catalog.md", yaml)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(catalog.namespace, "orders");
    assert_eq!(catalog.component("payments").unwrap().alerts.error_ratio, 0.02);
}
