//! What `contextd-catalog` prints: the committed docs page is its fresh output, and its JSON
//! parses into exactly the catalog.

use std::process::Command;

use contextd_metrics_catalog::CATALOG;

fn catalog() -> &'static [contextd_metrics_catalog::InstrumentSpec] {
    &CATALOG
}

fn run_catalog(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_contextd-catalog")).args(args).output().expect("run contextd-catalog")
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
         cargo run -p contextd-catalog-tool -- markdown > docs/metrics-catalog.md"
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
