//! The catalog table against the contract it implements.
//!
//! `tests/contract/catalog.md` is a verbatim copy of the product contract (`shared/catalog.md`).
//! This test parses its tables and checks every entry of `INSTRUMENTS.as_slice()` against its row: name, kind,
//! value type, unit, labels and their known values, buckets and description.

use contextd_metrics::contextd::INSTRUMENTS;
use contextd_metrics::{InstrumentKind, InstrumentSpec, LabelValues, ValueType};

const CONTRACT: &str = include_str!("contract/catalog.md");

/// One table row of the contract.
#[derive(Debug)]
struct Row {
    kind: InstrumentKind,
    name: String,
    value: String,
    unit: String,
    labels: Vec<String>,
    buckets: Option<Vec<f64>>,
    /// Every `label ∈ a, b, c` clause found in the row's text.
    value_sets: Vec<(String, Vec<String>)>,
    description: String,
}

fn named_buckets(text: &str) -> Option<Vec<f64>> {
    let line = CONTRACT.lines().find(|l| l.contains(&format!("`{text}` =")))?;
    let list = line.split_once('=')?.1;
    // The list runs up to the first period that ends a sentence ("… 10." or "… 1.0 (relevance").
    let list = list.split(['(', '\n']).next()?.trim().trim_end_matches('.');
    Some(list.split(',').map(|v| v.trim().parse::<f64>().expect("a bucket number")).collect())
}

fn value_sets(text: &str) -> Vec<(String, Vec<String>)> {
    let mut sets = Vec::new();
    for clause in text.split([';', '(']) {
        if let Some((before, values)) = clause.split_once(" ∈ ") {
            let label = before.rsplit([' ', ',', '.']).next().unwrap().trim().to_owned();
            let values =
                values.trim_end_matches([')', '.', ' ']).split(',').map(|v| v.trim().to_owned()).collect();
            sets.push((label, values));
        }
    }
    sets
}

fn contract_rows() -> Vec<Row> {
    let mut rows = Vec::new();
    let mut kind = None;
    for line in CONTRACT.lines() {
        if line.starts_with("## Counters") {
            kind = Some(InstrumentKind::Counter);
        } else if line.starts_with("## Histograms") {
            kind = Some(InstrumentKind::Histogram);
        } else if line.starts_with("## Observable gauges") {
            kind = Some(InstrumentKind::Gauge);
        } else if line.starts_with("## ") {
            kind = None;
        }
        let Some(kind) = kind else { continue };
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | # | name | value | unit | labels | … | description |
        if cells.len() < 7 || cells[1].parse::<u32>().is_err() {
            continue;
        }
        let text = cells[cells.len() - 2];
        let labels = match cells[5] {
            "—" => vec![],
            list => list.split(',').map(|l| l.trim().to_owned()).collect(),
        };
        let (buckets, extra) = match kind {
            InstrumentKind::Histogram => {
                let buckets = match cells[6] {
                    name @ ("DUR" | "SCORE") => named_buckets(name).expect("named buckets defined"),
                    list => list.split(',').map(|v| v.trim().parse().unwrap()).collect(),
                };
                (Some(buckets), "")
            }
            InstrumentKind::Gauge => (None, cells[6]),
            InstrumentKind::Counter | InstrumentKind::ObservedCounter => (None, ""),
        };
        let description = text.split(". ").next().unwrap().to_owned();
        let mut sets = value_sets(text);
        sets.extend(value_sets(extra));
        rows.push(Row {
            kind,
            name: cells[2].to_owned(),
            value: cells[3].to_owned(),
            unit: cells[4].to_owned(),
            labels,
            buckets,
            value_sets: sets,
            description,
        });
    }
    rows
}

fn value_type(name: &str) -> ValueType {
    match name {
        "u64" => ValueType::U64,
        "f64" => ValueType::F64,
        "i64" => ValueType::I64,
        other => panic!("contract has an unknown value type {other}"),
    }
}

#[test]
fn contract_has_31_rows_and_catalog_follows_its_order() {
    let rows = contract_rows();
    assert_eq!(rows.len(), 31, "rows parsed from the contract");
    let contract_names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    let catalog_names: Vec<&str> = INSTRUMENTS.as_slice().iter().map(|s| s.name).collect();
    assert_eq!(catalog_names, contract_names);
}

#[test]
fn every_entry_matches_its_contract_row() {
    for (row, spec) in contract_rows().iter().zip(INSTRUMENTS.as_slice()) {
        let spec: &InstrumentSpec = spec;
        assert_eq!(spec.kind, row.kind, "{}: kind", row.name);
        assert_eq!(spec.value_type, value_type(&row.value), "{}: value type", row.name);
        assert_eq!(spec.unit, row.unit, "{}: unit", row.name);
        let labels: Vec<&str> = spec.labels.iter().map(|l| l.name).collect();
        assert_eq!(labels, row.labels, "{}: labels", row.name);
        assert_eq!(spec.buckets.map(<[f64]>::to_vec), row.buckets, "{}: buckets", row.name);
        assert_eq!(spec.description, row.description, "{}: description", row.name);
    }
}

#[test]
fn label_values_named_in_the_contract_are_the_catalog_values() {
    let rows = contract_rows();
    let mut checked = 0;
    for (row, spec) in rows.iter().zip(INSTRUMENTS.as_slice()) {
        for (label, values) in &row.value_sets {
            let spec_label = spec
                .label(label)
                .unwrap_or_else(|| panic!("{}: contract names values of `{label}`", spec.name));
            assert_eq!(spec_label.values.listed(), values.as_slice(), "{}: {label}", spec.name);
            checked += 1;
        }
    }
    // status (success, error, cancelled) is stated once, in the conventions.
    for spec in INSTRUMENTS
        .as_slice()
        .iter()
        .filter(|s| s.component != contextd_metrics::contextd::components::TESTING.name)
    {
        if let Some(status) = spec.label("status") {
            assert_eq!(
                status.values,
                LabelValues::Closed(&["success", "error", "cancelled"]),
                "{}",
                spec.name
            );
        }
    }
    // The same value set is stated for one instrument in the contract and shared by its
    // siblings (e.g. `tool_name`): every closed label must agree across the whole catalog.
    for spec in INSTRUMENTS.as_slice() {
        for label in spec.labels {
            for other in INSTRUMENTS.as_slice() {
                if let Some(same) = other.label(label.name) {
                    let same_meaning = spec.component == other.component
                        || matches!(label.name, "tool_name" | "type" | "model" | "provider");
                    if same_meaning {
                        assert_eq!(label.values, same.values, "{} vs {}", spec.name, other.name);
                    }
                }
            }
        }
    }
    assert!(checked >= 10, "only {checked} value sets were found in the contract");
}
