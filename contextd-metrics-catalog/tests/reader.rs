//! The catalog reader on mistakes the UI tests do not show, and on a valid catalog: each error
//! names the line of its entry and what would be valid; a valid file gives every entry.
#![cfg(feature = "source")]

use contextd_metrics_catalog::source::read_str;
use contextd_metrics_catalog::{InstrumentKind, LabelSource, LabelValues};

const BASE: &str = r#"namespace: shop
attributes:
  - { id: status, brief: How a call ended, members: [success, error, cancelled] }
  - { id: operation, brief: Shop operations, members: [buy, sell] }
  - { id: region, brief: Where, examples: [eu] }
  - { id: failure, key: error_type, brief: Why, members: [timeout, other] }
metrics:
  - { name: shop_operations_total, instrument: counter, value_type: u64, unit: "{operation}",
      component: shop, attributes: [operation, region, status], brief: Shop operations }
  - { name: shop_duration_seconds, instrument: histogram, value_type: f64, unit: s,
      component: shop, attributes: [operation], buckets: [0.1, 0.5, 1.0], brief: Shop time }
  - { name: shop_errors_total, instrument: counter, value_type: u64, unit: "{error}",
      component: shop, attributes: [failure, region], brief: Shop errors }
"#;

const COMPONENTS: &str = r#"components:
  - id: shop
    brief: The shop
    operations: { counter: shop_operations_total, duration: shop_duration_seconds,
                  errors: shop_errors_total, operation: operation, status: status,
                  error_type: failure, arguments: [region] }
"#;

fn errors_of(text: &str) -> Vec<String> {
    match read_str("t.yaml", text) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

fn assert_error(text: &str, expected: &[&str]) {
    let errors = errors_of(text);
    assert!(
        errors.iter().any(|e| expected.iter().all(|part| e.contains(part))),
        "no error containing {expected:?} in {errors:#?}"
    );
}

#[test]
fn a_valid_catalog_gives_every_entry_and_every_label_a_role() {
    let catalog = read_str("t.yaml", &format!("{BASE}{COMPONENTS}")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(catalog.namespace, "shop");
    assert_eq!(catalog.instruments.len(), 3);
    assert_eq!(catalog.self_metrics[0].name, "shop_telemetry_exports_total");
    let shape = catalog.component("shop").unwrap().operations.unwrap();
    assert_eq!(shape.label_arguments().collect::<Vec<_>>(), ["region"]);
    let errors = shape.errors.unwrap();
    let sources: Vec<_> = errors.labels.iter().map(|l| shape.label_source(l)).collect();
    assert_eq!(sources, [Some(LabelSource::ErrorType), Some(LabelSource::Argument(0))]);
    assert_eq!(shape.other_error_type(), "other");
    assert_eq!(catalog.find("shop_duration_seconds").unwrap().kind, InstrumentKind::Histogram);
    assert_eq!(catalog.label("region").unwrap().values, LabelValues::Open(&["eu"]));
    // No objective names a latency bound for the component: the documented default.
    assert_eq!(catalog.components[0].alerts.p95_seconds, 1.0);
}

#[test]
fn a_label_without_a_role_names_the_label_and_the_roles() {
    let components = COMPONENTS.replace(", arguments: [region]", "");
    assert_error(
        &format!("{BASE}{components}"),
        &["t.yaml:", "label `region` of `shop_operations_total` gets no value", "`arguments`"],
    );
}

#[test]
fn a_status_label_must_list_success_error_cancelled() {
    let base = BASE.replace("members: [success, error, cancelled]", "members: [ok, failed]");
    assert_error(
        &format!("{base}{COMPONENTS}"),
        &["t.yaml:18:", "must have the key `status` and list exactly"],
    );
}

#[test]
fn a_counter_without_total_and_an_unknown_reference_are_both_reported_with_lines() {
    let base = BASE
        .replace("shop_errors_total", "shop_errors")
        .replace("[operation], buckets", "[operatoin], buckets");
    let components = COMPONENTS.replace("shop_errors_total", "shop_errors");
    let errors = errors_of(&format!("{base}{components}"));
    assert!(
        errors.iter().any(|e| e.starts_with("t.yaml:12:") && e.contains("`shop_errors_total`")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("no attribute `operatoin`") && e.contains("did you mean `operation`?")),
        "{errors:#?}"
    );
}

#[test]
fn a_latency_objective_off_the_bounds_lists_the_valid_thresholds() {
    let objectives = "objectives:\n  - { name: fast, latency: shop_duration_seconds, threshold: 0.3, target: 0.9, period_days: 30, brief: b }\n";
    assert_error(
        &format!("{BASE}{COMPONENTS}{objectives}"),
        &["t.yaml:21:", "0.3 s is not a bucket bound", "valid thresholds: 0.1, 0.5, 1"],
    );
}

#[test]
fn yaml_aliases_and_syntax_errors_are_refused_with_their_position() {
    assert_error("namespace: &n shop\nbrief: *n\n", &["t.yaml:2:", "aliases"]);
    assert_error("namespace: [shop\n", &["t.yaml:", "not valid YAML"]);
    assert_error("- a list\n", &["t.yaml:1:1:", "the catalog must be a mapping"]);
}

#[test]
fn thousands_of_metrics_read_and_each_duplicate_is_reported_once() {
    // Work grows with the file: a catalog of 2 000 metrics, two of them duplicates.
    let mut text = String::from(
        "namespace: big\nattributes:\n  - { id: status, brief: s, members: [success, error, cancelled] }\nmetrics:\n",
    );
    for i in 0..2_000 {
        let n = if i == 1_999 { 0 } else { i };
        text.push_str(&format!(
            "  - {{ name: big_m{n}_total, instrument: counter, value_type: u64, unit: \"{{x}}\", component: big, attributes: [status], brief: m }}\n"
        ));
    }
    text.push_str("components:\n  - { id: big, brief: b }\n");
    // And a catalog without `components` says so, rather than listing nothing.
    let orphans = errors_of(&text.replace("components:\n  - { id: big, brief: b }\n", ""));
    assert!(
        orphans[0].contains("which `components` does not declare (the catalog declares none)"),
        "{orphans:#?}"
    );
    let errors = errors_of(&text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].contains("metric `big_m0_total` is defined twice"), "{errors:#?}");
}

/// `description` where the schema says `brief` (what an OpenTelemetry registry calls it): the
/// error names the field to use, and the metric's mistake is not followed by false errors about
/// the components that reference it.
#[test]
fn another_schemas_word_gets_ours_and_a_broken_metric_brings_no_follow_on_errors() {
    let text = format!("{BASE}{COMPONENTS}").replacen(
        "brief: Shop operations }",
        "description: Shop operations }",
        1,
    );
    let errors = errors_of(&text);
    assert_error(&text, &["unknown field `description`", "did you mean `brief`?"]);
    assert!(
        errors.iter().all(|e| !e.contains("no metric `shop_operations_total`")),
        "a false follow-on error: {errors:#?}"
    );
    assert_eq!(errors.len(), 2, "the unknown field and the missing brief: {errors:#?}");
}
