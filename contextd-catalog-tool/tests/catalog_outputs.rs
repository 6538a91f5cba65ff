//! What `contextd-catalog` prints: the committed docs page is its fresh output, and its JSON
//! parses into exactly the catalog.

use std::process::Command;

use contextd_metrics::contextd::CATALOG;

fn catalog() -> &'static [contextd_metrics_catalog::InstrumentSpec] {
    CATALOG.instruments
}

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The tool run from the repository root on contextd's catalog file.
fn run_catalog(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_contextd-catalog"))
        .current_dir(REPO)
        .args(["--catalog", "contextd-metrics-macros/contextd.yaml"])
        .args(args)
        .output()
        .expect("run contextd-catalog")
}

#[test]
fn committed_docs_page_is_the_fresh_markdown_output() {
    let output = run_catalog(&["markdown"]);
    assert!(output.status.success());
    let fresh = String::from_utf8(output.stdout).unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/metrics-catalog.md");
    let committed = std::fs::read_to_string(path).expect("docs/metrics-catalog.md exists");
    assert!(
        committed == fresh,
        "docs/metrics-catalog.md is out of date; regenerate it with\n  \
         cargo run -p contextd-catalog-tool -- --catalog contextd-metrics-macros/contextd.yaml markdown > docs/metrics-catalog.md"
    );
}

#[test]
fn json_output_parses_into_exactly_the_catalog() {
    let output = run_catalog(&["json"]);
    assert!(output.status.success());
    let parsed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    let entries = parsed.as_array().expect("a JSON array");
    assert_eq!(entries.len(), catalog().len());
    for (entry, spec) in entries.iter().zip(catalog()) {
        let keys: Vec<&str> = entry.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 7, "{keys:?}");
        assert_eq!(entry["name"], spec.name);
        assert_eq!(entry["kind"], spec.kind.as_str());
        assert_eq!(entry["value_type"], spec.value_type.as_str());
        assert_eq!(entry["unit"], spec.unit);
        assert_eq!(entry["description"], spec.description);
        let labels: Vec<&str> = spec.labels.iter().map(|l| l.name).collect();
        assert_eq!(entry["labels"], serde_json::json!(labels));
        match spec.buckets {
            Some(bounds) => {
                let parsed: Vec<f64> = serde_json::from_value(entry["buckets"].clone()).unwrap();
                assert_eq!(parsed, bounds, "{}", spec.name);
            }
            None => assert!(entry["buckets"].is_null()),
        }
    }
}

#[test]
fn unknown_format_is_a_usage_error_listing_the_valid_ones() {
    let output = run_catalog(&["yaml"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    // clap names the bad word and lists the valid subcommands.
    assert!(
        stderr.contains("'yaml'") && ["json", "markdown", "grafana"].iter().all(|c| stderr.contains(c)),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
    assert_eq!(run_catalog(&[]).status.code(), Some(2));
}

/// Every `contextd_…` series the hand-tuned alert rules and their runbook query is an entry of
/// the table (a catalog instrument or a self-metric), so a renamed entry cannot leave a rule
/// watching nothing.
#[test]
fn alert_rules_and_runbook_query_only_names_of_the_table() {
    let known: Vec<&str> = CATALOG.all().map(|s| s.name).collect();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    for file in ["monitoring/alerts/contextd.yml", "docs/runbook.md"] {
        let text = std::fs::read_to_string(format!("{root}/{file}")).unwrap();
        let mut seen = 0;
        for (index, _) in text.match_indices("contextd_") {
            let word: String =
                text[index..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if word == "contextd_" {
                continue; // a pattern such as `contextd_<component>_…` or `contextd_.+`
            }
            let series = ["_bucket", "_count", "_sum"]
                .iter()
                .fold(word.as_str(), |w, s| w.strip_suffix(s).unwrap_or(w));
            assert!(known.contains(&series), "{file} queries `{word}`, which is not in the table");
            seen += 1;
        }
        assert!(seen > 0, "{file} names no series");
    }
}

/// The thresholds the dashboards draw are the alert rules' own: each watched alert's expression
/// compares against exactly that number.
#[test]
fn dashboard_thresholds_are_the_alert_rules_thresholds() {
    let rules =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../monitoring/alerts/contextd.yml"))
            .unwrap();
    for (panel, watched) in contextd_catalog_tool::WATCHED {
        let marker = format!("- alert: {}\n", watched.alert);
        let mut found = 0;
        for (start, _) in rules.match_indices(&marker) {
            let rest = &rules[start + marker.len()..];
            let expr =
                &rest[..rest.find("\n        for:").or_else(|| rest.find("labels:")).unwrap_or(rest.len())];
            assert!(
                expr.contains(&format!("> {}\n", watched.threshold))
                    || expr.contains(&format!("> {}", watched.threshold)),
                "{panel}: {} does not compare against {}:\n{expr}",
                watched.alert,
                watched.threshold
            );
            found += 1;
        }
        assert!(found > 0, "{panel}: no rule {}", watched.alert);
    }
}

/// Every runbook link of a service's generated rules lands on a section of its generated
/// runbook (GitHub's anchor of a heading is its text in lower case).
#[test]
fn every_generated_runbook_link_has_its_section_in_the_generated_runbook() {
    let orders = std::fs::read_to_string(format!("{REPO}/examples/orders/telemetry.yaml")).unwrap();
    let catalog = contextd_metrics_catalog::source::read_str("telemetry.yaml", &orders).unwrap();
    let rules = contextd_catalog_tool::alert_rules(catalog, "telemetry.yaml")
        + &contextd_catalog_tool::slo_rules(catalog, "telemetry.yaml").unwrap();
    let page = contextd_catalog_tool::runbook(catalog, "telemetry.yaml");
    let anchors: Vec<String> =
        page.lines().filter_map(|l| l.strip_prefix("## ")).map(str::to_lowercase).collect();
    let links: Vec<&str> = rules.lines().filter_map(|l| l.split("runbook.md#").nth(1)).collect();
    assert!(links.len() >= 5, "{rules}");
    for link in links {
        let anchor = link.trim_end_matches('"');
        assert!(anchors.iter().any(|a| a == anchor), "no section for #{anchor} in:\n{page}");
    }
}
