//! The monitoring stack, proven with real tools where they run here: alert rules through
//! `vmalert-tool unittest`, every dashboard query against a VictoriaMetrics fed by the demo, the
//! same series whether metrics come straight or through a collector-style OTLP relay, and static
//! checks of the compose, collector and Grafana files (no Docker engine on these machines).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use contextd_catalog_tool as render;
use contextd_metrics::InstrumentKind;
use contextd_metrics::contextd::INSTRUMENTS;
use contextd_testkit::{OtlpRecorder, Tool, VictoriaMetrics, all_selected, eventually, example_binary};
use yaml_rust2::{Yaml, YamlLoader};

/// contextd's catalog file, as the tool is given it from the repository root.
const CONTEXTD_CATALOG_FILE: &str = "contextd-metrics-macros/contextd.yaml";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn monitoring(path: &str) -> PathBuf {
    repo().join("monitoring").join(path)
}

fn demo() -> Command {
    let mut command = Command::new(example_binary("contextd_demo"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    command.env("OTEL_TRACES_EXPORTER", "none").env("OTEL_METRIC_EXPORT_INTERVAL", "1000");
    command
}

fn run_demo(endpoint: &str, instance: &str) {
    let output = demo()
        .args(["--operations", "25"])
        .env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", endpoint)
        .env("OTEL_RESOURCE_ATTRIBUTES", format!("service.instance.id={instance}"))
        .output()
        .unwrap();
    assert!(output.status.success(), "demo failed: {}", String::from_utf8_lossy(&output.stderr));
}

/// Runs one rule-test file with one tool; both read the same files (vmalert-tool without the
/// `alertgroup` label, which promtool does not know).
fn rule_tests(tool: Tool, file: &str) {
    let path = monitoring("alerts/tests").join(file);
    let mut command = Command::new(tool.path());
    match tool {
        Tool::VmalertTool => {
            command.args(["unittest", "-disableAlertgroupLabel"]).arg(format!("--files={}", path.display()))
        }
        _ => command.args(["test", "rules"]).arg(&path),
    };
    let output = command.current_dir(monitoring("alerts/tests")).output().unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && text.contains("SUCCESS"), "{tool:?} {file}:\n{text}");
}

#[test]
fn alert_rules_fire_and_stay_quiet_in_vmalert_tool() {
    rule_tests(Tool::VmalertTool, "contextd.test.yml");
}

#[test]
fn alert_rules_fire_and_stay_quiet_in_promtool() {
    rule_tests(Tool::Promtool, "contextd.test.yml");
}

/// contextd's committed rules pass promtool's checks, its lint included (no duplicate rules).
#[test]
fn committed_rules_pass_promtools_lint() {
    for file in ["alerts/contextd.yml", "alerts/slo.yml"] {
        let output = Command::new(Tool::Promtool.path())
            .args(["check", "rules"])
            .arg(monitoring(file))
            .output()
            .unwrap();
        let said =
            format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(
            output.status.success() && !said.contains("duplicate"),
            "promtool check rules {file}:\n{said}"
        );
    }
}

#[test]
fn slo_alerts_fire_on_fast_slow_and_budget_burns_but_not_on_a_blip_in_vmalert_tool() {
    rule_tests(Tool::VmalertTool, "slo.test.yml");
}

#[test]
fn slo_alerts_fire_on_fast_slow_and_budget_burns_but_not_on_a_blip_in_promtool() {
    rule_tests(Tool::Promtool, "slo.test.yml");
}

/// Every generated dashboard type-checks against Grafana's published dashboard schema
/// (`@grafana/schema`, the TypeScript types Grafana generates from its CUE schema): unknown
/// fields, missing required ones and wrong types are errors. Enums are compared by value, as
/// Grafana reads the JSON.
#[test]
fn dashboards_type_check_against_grafanas_published_schema() {
    let tsc = Tool::GrafanaSchemaTsc.path();
    // Beside the installed packages, so `@grafana/schema` resolves.
    let install = tsc.ancestors().nth(4).expect("the install folder").to_path_buf();
    let dir = install.join(format!("check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("tsconfig.json"),
        r#"{"compilerOptions": {"strict": true, "noEmit": true, "skipLibCheck": true, "moduleResolution": "node",
             "module": "esnext", "target": "es2020"}, "include": ["*.ts"]}"#,
    )
    .unwrap();
    let dashboards = render::grafana(&contextd_metrics::contextd::CATALOG);
    for (index, dashboard) in dashboards.iter().enumerate() {
        let source = format!(
            "import type {{ Dashboard }} from '@grafana/schema';\n\
             type Json<T> = T extends string ? `${{T}}` : T extends number | boolean | null | undefined ? T\n  \
             : T extends Array<infer U> ? Array<Json<U>> : {{ [K in keyof T]: Json<T[K]> }};\n\
             // {}\nexport const dashboard{index}: Json<Dashboard> = {:#};\n",
            dashboard.file_name, dashboard.json
        );
        std::fs::write(dir.join(format!("dashboard{index}.ts")), source).unwrap();
    }
    let output =
        Command::new("node").arg(&tsc).arg("-p").arg(&dir).output().expect("run node (Node.js is needed)");
    let _ = std::fs::remove_dir_all(&dir);
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the dashboards do not match Grafana's schema:\n{text}");
}

#[test]
fn committed_slo_rules_are_the_fresh_generation_and_every_alert_has_a_runbook_section() {
    let fresh = contextd_catalog_tool::slo_rules(&contextd_metrics::contextd::CATALOG, CONTEXTD_CATALOG_FILE)
        .unwrap();
    let committed = std::fs::read_to_string(monitoring("alerts/slo.yml")).unwrap_or_default();
    assert!(
        committed == fresh,
        "monitoring/alerts/slo.yml is out of date; regenerate with\n  \
         cargo run -p contextd-catalog-tool -- --catalog contextd-metrics-macros/contextd.yaml slo-rules > monitoring/alerts/slo.yml"
    );
}

#[test]
fn committed_dashboards_are_the_fresh_generation_and_cover_all_31_instruments() {
    let mut queried = BTreeSet::new();
    for dashboard in render::grafana(&contextd_metrics::contextd::CATALOG) {
        let path = monitoring("grafana/dashboards").join(dashboard.file_name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == format!("{:#}\n", dashboard.json),
            "{} is out of date; regenerate with\n  cargo run -p contextd-catalog-tool -- --catalog contextd-metrics-macros/contextd.yaml grafana monitoring/grafana/dashboards",
            path.display()
        );
        assert_eq!(dashboard.json["refresh"], "30s");
        for (_, query) in render::panel_queries(&dashboard.json) {
            for spec in INSTRUMENTS.as_slice() {
                if query.contains(spec.name) {
                    queried.insert(spec.name);
                }
            }
        }
    }
    let missing: Vec<&str> =
        INSTRUMENTS.as_slice().iter().map(|s| s.name).filter(|n| !queried.contains(n)).collect();
    assert!(missing.is_empty(), "instruments on no panel: {missing:?}");
}

/// The sum of a query's values, with `$instance` set to `instance`, at `time`.
fn value_at(vm: &VictoriaMetrics, query: &str, instance: &str, time: u64) -> f64 {
    let query = all_selected(&query.replace("$instance", instance));
    vm.try_query_at(&query, Some(time))
        .unwrap_or_else(|e| panic!("{e}: {query}"))
        .iter()
        .map(|r| r["value"][1].as_str().unwrap().parse::<f64>().unwrap())
        .sum()
}

/// The query of the panel titled `title` on the dashboard titled `dashboard`.
fn panel_query(dashboard: &str, title: &str) -> String {
    let dashboards = render::grafana(&contextd_metrics::contextd::CATALOG);
    let dashboard = dashboards.iter().find(|d| d.title == dashboard).expect("the dashboard");
    render::panel_queries(&dashboard.json)
        .into_iter()
        .find(|(panel, _)| panel == title)
        .map(|(_, query)| query)
        .unwrap_or_else(|| panic!("no panel {title} on {}", dashboard.title))
}

#[test]
fn every_dashboard_query_has_data_and_combines_two_instances_by_meaning() {
    let vm = VictoriaMetrics::start();
    // Two instances of the service at once, against one VictoriaMetrics.
    let endpoint = vm.otlp_metrics_endpoint();
    std::thread::scope(|scope| {
        for instance in ["instance-a", "instance-b"] {
            let endpoint = &endpoint;
            scope.spawn(move || run_demo(endpoint, instance));
        }
    });
    eventually(Duration::from_secs(20), "the demo's series", || {
        let up = vm.query(r#"count(count by (service_instance_id) (contextd_skill_success_rate))"#);
        (up.first().is_some_and(|r| r["value"][1] == "2")).then_some(())
    });
    // The SLO dashboard reads what the recording rules write: let vmalert evaluate them.
    let recorded = contextd_catalog_tool::slo::recorded_series(&contextd_metrics::contextd::OBJECTIVES);
    // Every objective's series of every window, all written before vmalert stops.
    let objectives = contextd_metrics::contextd::OBJECTIVES.len();
    let names: Vec<&str> = recorded.iter().map(String::as_str).collect();
    vm.evaluate_rules(&[monitoring("alerts/slo.yml")], &names, objectives);
    let mut failures = Vec::new();
    for dashboard in render::grafana(&contextd_metrics::contextd::CATALOG) {
        for (panel, query) in render::panel_queries(&dashboard.json) {
            match vm.try_query(&all_selected(&query)) {
                Ok(result) if result.is_empty() => {
                    failures.push(format!("{} / {panel}: no data for {query}", dashboard.title))
                }
                Ok(_) => {}
                Err(error) => failures.push(format!("{} / {panel}: {error} in {query}", dashboard.title)),
            }
        }
    }
    assert!(failures.is_empty(), "{} panels failed:\n{}", failures.len(), failures.join("\n"));

    // One moment for every comparison: the demos have stopped, so nothing moves.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (all, a, b) = (".*", "instance-a", "instance-b");
    let coverage = panel_query("contextd Testing & Quality", "Overall line coverage");
    let shown = value_at(&vm, &coverage, all, now);
    eprintln!(
        "coverage: shown {shown}, instance a {}, b {}",
        value_at(&vm, &coverage, a, now),
        value_at(&vm, &coverage, b, now)
    );
    assert!(shown > 0.0 && shown <= 100.0, "coverage shown as {shown}");
    assert_eq!(shown, value_at(&vm, &coverage, a, now), "a shared gauge shows what one instance reports");
    let stored = panel_query("contextd Overview", "Checkpoints stored");
    let (shown, one, other) =
        (value_at(&vm, &stored, all, now), value_at(&vm, &stored, a, now), value_at(&vm, &stored, b, now));
    eprintln!("checkpoints stored: shown {shown}, instance a {one}, b {other}");
    assert!(
        one > 0.0 && other > 0.0 && shown == one.max(other) && shown < one + other,
        "{shown} {one} {other}"
    );
    let calls = panel_query("contextd Overview", "MCP calls per second");
    let (shown, one, other) =
        (value_at(&vm, &calls, all, now), value_at(&vm, &calls, a, now), value_at(&vm, &calls, b, now));
    eprintln!("MCP calls per second: shown {shown}, instance a {one}, b {other}");
    assert!(
        one > 0.0 && other > 0.0 && (shown - (one + other)).abs() <= 1e-9 * shown,
        "rates add: {shown} {one} {other}"
    );
}

#[test]
fn direct_and_collector_paths_give_the_same_series() {
    let vm = VictoriaMetrics::start();
    run_demo(&vm.otlp_metrics_endpoint(), "direct");
    let relay = OtlpRecorder::start(Some(vm.otlp_metrics_endpoint()));
    run_demo(&relay.url("/v1/metrics"), "relayed");
    let names = |instance: &str| -> BTreeSet<String> {
        vm.query(&format!("count by (__name__) ({{service_instance_id=\"{instance}\"}})"))
            .iter()
            .map(|s| s["metric"]["__name__"].as_str().unwrap_or_default().to_owned())
            .filter(|n| !n.starts_with("process_") && !n.starts_with("tokio_"))
            .collect()
    };
    let direct = eventually(Duration::from_secs(20), "direct series", || {
        Some(names("direct")).filter(|n| n.len() > 40)
    });
    let relayed = eventually(Duration::from_secs(20), "relayed series", || {
        Some(names("relayed")).filter(|n| n.len() >= direct.len())
    });
    assert_eq!(direct, relayed);
    for spec in INSTRUMENTS.as_slice().iter().filter(|s| s.kind != InstrumentKind::Histogram) {
        assert!(direct.contains(spec.name), "{} missing", spec.name);
    }
}

fn yaml(path: &Path) -> Yaml {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut docs =
        YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
    assert_eq!(docs.len(), 1, "{}", path.display());
    docs.remove(0)
}

fn strings(node: &Yaml) -> Vec<String> {
    node.as_vec()
        .map(|v| v.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// `host:port` of a URL.
fn host_port(url: &str) -> (String, u16) {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let authority = rest.split('/').next().unwrap();
    let (host, port) = authority.split_once(':').unwrap_or((authority, "80"));
    (host.to_owned(), port.parse().unwrap())
}

#[test]
fn compose_collector_and_grafana_files_agree() {
    let compose = yaml(&monitoring("docker-compose.yml"));
    let services = compose["services"].as_hash().expect("services");
    let names: BTreeSet<String> = services.keys().filter_map(|k| k.as_str().map(str::to_owned)).collect();
    for required in ["otel-collector", "victoriametrics", "vmalert", "jaeger", "grafana"] {
        assert!(names.contains(required), "{required} missing from docker-compose.yml");
    }
    let service = |name: &str| &compose["services"][name];
    let mut published = BTreeSet::new();
    for name in &names {
        let s = service(name);
        let image = s["image"].as_str().unwrap_or_default();
        assert!(image.contains(':') && !image.ends_with(":latest"), "{name}: image {image:?} is not pinned");
        assert!(!s["healthcheck"].is_badvalue(), "{name} has no healthcheck");
        for volume in strings(&s["volumes"]) {
            if let Some(local) = volume.strip_prefix("./") {
                let local = local.split(':').next().unwrap();
                assert!(monitoring(local).exists(), "{name}: {local} does not exist");
            }
        }
        for port in strings(&s["ports"]) {
            published.insert(port.split(':').next_back().unwrap().parse::<u16>().unwrap());
        }
    }
    let vm_port = strings(&service("victoriametrics")["command"])
        .iter()
        .find_map(|a| a.strip_prefix("-httpListenAddr=:").map(|p| p.parse::<u16>().unwrap()))
        .expect("victoriametrics -httpListenAddr");
    assert!(
        strings(&service("victoriametrics")["command"])
            .iter()
            .any(|a| a == "-opentelemetry.usePrometheusNaming")
    );
    let password =
        service("grafana")["environment"]["GF_SECURITY_ADMIN_PASSWORD"].as_str().unwrap_or_default();
    assert!(
        password.starts_with("${") && !password.contains("admin"),
        "Grafana admin password must come from the environment"
    );

    // The collector: receivers on the published ports, exporters at compose services.
    let collector = yaml(&monitoring("collector/otel-collector-config.yaml"));
    for protocol in ["grpc", "http"] {
        let endpoint = collector["receivers"]["otlp"]["protocols"][protocol]["endpoint"].as_str().unwrap();
        assert!(published.contains(&host_port(endpoint).1), "collector {protocol} port not published");
    }
    assert!(
        published
            .contains(&host_port(collector["extensions"]["health_check"]["endpoint"].as_str().unwrap()).1)
    );
    let metrics_exporter =
        collector["exporters"]["otlphttp/victoriametrics"]["metrics_endpoint"].as_str().unwrap();
    assert_eq!(host_port(metrics_exporter), ("victoriametrics".to_owned(), vm_port));
    assert!(metrics_exporter.ends_with("/opentelemetry/v1/metrics"));
    assert_eq!(host_port(collector["exporters"]["otlp/jaeger"]["endpoint"].as_str().unwrap()).0, "jaeger");
    for (pipeline, _) in collector["service"]["pipelines"].as_hash().unwrap() {
        for exporter in strings(&collector["service"]["pipelines"][pipeline.as_str().unwrap()]["exporters"]) {
            assert!(
                !collector["exporters"][exporter.as_str()].is_badvalue(),
                "pipeline uses undefined exporter {exporter}"
            );
        }
    }

    // Grafana: datasources at compose services; the dashboards folder the provider reads.
    let datasources = yaml(&monitoring("grafana/provisioning/datasources/datasources.yaml"));
    for datasource in datasources["datasources"].as_vec().unwrap() {
        let (host, port) = host_port(datasource["url"].as_str().unwrap());
        assert!(names.contains(&host), "datasource host {host} is not a compose service");
        if host == "victoriametrics" {
            assert_eq!(port, vm_port);
            assert_eq!(
                datasource["uid"].as_str(),
                Some("victoriametrics"),
                "dashboards query uid victoriametrics"
            );
        }
    }
    let providers = yaml(&monitoring("grafana/provisioning/dashboards/dashboards.yaml"));
    let path = providers["providers"][0]["options"]["path"].as_str().unwrap();
    assert!(
        strings(&service("grafana")["volumes"])
            .iter()
            .any(|v| v == &format!("./grafana/dashboards:{path}:ro"))
    );

    // vmalert reads the rules folder and queries VictoriaMetrics.
    let vmalert = strings(&service("vmalert")["command"]);
    let datasource = vmalert.iter().find_map(|a| a.strip_prefix("-datasource.url=")).unwrap();
    assert_eq!(host_port(datasource), ("victoriametrics".to_owned(), vm_port));
    assert!(strings(&service("vmalert")["volumes"]).contains(&"./alerts:/etc/alerts:ro".to_owned()));
    assert!(
        vmalert.iter().any(|a| a.starts_with("-remoteWrite.url=")),
        "recording rules (the SLOs) need remote write"
    );
    for file in ["alerts/contextd.yml", "alerts/slo.yml"] {
        let rules = yaml(&monitoring(file));
        for group in rules["groups"].as_vec().unwrap() {
            for rule in group["rules"].as_vec().unwrap() {
                if rule["alert"].is_badvalue() {
                    continue; // a recording rule
                }
                let runbook = rule["annotations"]["runbook_url"].as_str().unwrap();
                let anchor = runbook.strip_prefix("docs/runbook.md#").expect("a runbook link");
                let runbook_text = std::fs::read_to_string(repo().join("docs/runbook.md")).unwrap();
                assert!(
                    runbook_text
                        .lines()
                        .any(|l| l.starts_with("## ") && l[3..].trim().to_lowercase() == anchor),
                    "docs/runbook.md has no section for #{anchor}"
                );
            }
        }
    }

    // The cluster variant parses and its files exist.
    let cluster = yaml(&monitoring("docker-compose.cluster.yml"));
    for (name, s) in cluster["services"].as_hash().unwrap() {
        for volume in strings(&s["volumes"]) {
            if let Some(local) = volume.strip_prefix("./") {
                assert!(monitoring(local.split(':').next().unwrap()).exists(), "{name:?}: {local}");
            }
        }
    }
}
