//! The catalog file is the only place names are written: no instrument name, label key or
//! closed label value of contextd's catalog appears as a literal in the sources of the crates a
//! service compiles, and no instrument name in the catalog tool's; and every label of every
//! wrapped operation's instruments has a source the runtime fills it from.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use contextd_metrics::LabelValues;
use contextd_metrics::contextd::{CATALOG, Meters, instruments};
use contextd_metrics_catalog::LabelSource;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Code lines of a source file: comments and the `#[cfg(test)]` module at its end left out.
fn code_lines(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .enumerate()
        .take_while(|(_, line)| line.trim() != "#[cfg(test)]")
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .map(|(i, line)| (i + 1, line.to_owned()))
        .collect()
}

/// The plain string literals of a line (`"…"`, escapes kept as written).
fn literals(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find('"') {
        let after = &rest[start + 1..];
        let mut end = None;
        let mut escaped = false;
        for (i, c) in after.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let Some(end) = end else { break };
        out.push(&after[..end]);
        rest = &after[end + 1..];
    }
    out
}

#[test]
fn no_catalog_word_is_written_outside_the_catalog() {
    let specs: Vec<_> = CATALOG.all().collect();
    let names: BTreeSet<&str> = specs.iter().map(|s| s.name).collect();
    let mut words: BTreeSet<&str> = names.clone();
    for spec in &specs {
        for label in spec.labels {
            words.insert(label.name);
            if let LabelValues::Closed(values) = label.values {
                words.extend(values.iter().copied());
            }
        }
    }
    // Literals that are the same word in another vocabulary, each with its reason.
    let unrelated = [
        ("contextd-telemetry/src/config/mod.rs", "timeout", "a field name in Debug output"),
        ("contextd-telemetry/src/exposition.rs", "gauge", "the Prometheus text format's TYPE keyword"),
        ("contextd-telemetry/src/http.rs", "panic", "the HTTP layer's error.type for a handler panic"),
    ];
    let mut findings = Vec::new();
    let runtime = [
        "contextd-metrics/src",
        "contextd-metrics-macros/src",
        "contextd-gauges/src",
        "contextd-telemetry/src",
    ];
    for (dirs, forbidden) in [(&runtime[..], &words), (&["contextd-catalog-tool/src"][..], &names)] {
        for dir in dirs {
            let mut files = Vec::new();
            rust_files(&repo().join(dir), &mut files);
            assert!(!files.is_empty(), "no sources under {dir}");
            for file in files {
                for (number, line) in code_lines(&file) {
                    for literal in literals(&line) {
                        let hit =
                            forbidden.contains(literal) || names.iter().any(|name| literal.contains(name));
                        let allowed =
                            unrelated.iter().any(|(path, word, _)| file.ends_with(path) && *word == literal);
                        if hit && !allowed {
                            findings.push(format!("{}:{number}: \"{literal}\"", file.display()));
                        }
                    }
                }
            }
        }
    }
    assert!(findings.is_empty(), "catalog words written outside the catalog:\n{}", findings.join("\n"));
}

#[test]
fn the_scan_finds_what_it_looks_for() {
    assert_eq!(literals(r#"let a = KeyValue::new("status", "a\"b"); // "x""#), ["status", r#"a\"b"#, "x"]);
    let catalog = std::fs::read_to_string(repo().join("contextd-metrics-macros/contextd.yaml")).unwrap();
    assert!(
        catalog
            .lines()
            .any(|l| l.trim() == format!("- name: {}", instruments::CHECKPOINT_OPERATIONS_TOTAL.name)),
        "the catalog file itself holds the names"
    );
    let written = r#"KeyValue::new("status", "success")"#;
    assert!(literals(written).contains(&"success"), "a closed value in code would be seen");
}

#[test]
fn every_label_of_every_operation_instrument_has_a_source_and_a_meter() {
    let meters_names = Meters::INSTRUMENT_NAMES;
    for component in CATALOG.components {
        let Some(shape) = component.operations else { continue };
        for spec in shape.instruments() {
            assert!(meters_names.contains(&spec.name), "{} has no Meters field", spec.name);
            for label in spec.labels {
                let source = shape.label_source(label);
                assert!(source.is_some(), "{}: label {} has no source", spec.name, label.name);
                if let Some(LabelSource::Argument(index)) = source {
                    assert_eq!(shape.arguments[index].name, label.name);
                }
            }
        }
    }
}
