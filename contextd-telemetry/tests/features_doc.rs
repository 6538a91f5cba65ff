//! docs/configuration.md's feature table describes the manifest: every feature of
//! contextd-telemetry's Cargo.toml has a row and no row names another, the rows marked default
//! are the default set, and each row's crate count is what `cargo tree -e normal` counts for the
//! default features plus that one.

use std::collections::BTreeSet;
use std::process::Command;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

struct Row {
    feature: Option<String>,
    default: bool,
    crates: usize,
}

fn table() -> Vec<Row> {
    let doc = std::fs::read_to_string(format!("{MANIFEST_DIR}/../docs/configuration.md")).unwrap();
    let section = doc.split("## Cargo features").nth(1).expect("a `## Cargo features` section");
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter(|line| line.starts_with("| `") || line.starts_with("| (none"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let feature = cells[0].strip_prefix('`').and_then(|c| c.strip_suffix('`')).map(str::to_owned);
            let crates = cells[3].parse().unwrap_or_else(|_| panic!("a crate count in: {line}"));
            Row { feature, default: cells[1] == "yes", crates }
        })
        .collect()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(MANIFEST_DIR);
    command
}

/// The manifest's features and its default set, as cargo reads them.
fn manifest_features() -> (BTreeSet<String>, BTreeSet<String>) {
    let output =
        cargo().args(["metadata", "--format-version", "1", "--no-deps", "--offline"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let package =
        metadata["packages"].as_array().unwrap().iter().find(|p| p["name"] == "contextd-telemetry").unwrap();
    let features = package["features"].as_object().unwrap();
    let all = features.keys().filter(|k| *k != "default").cloned().collect();
    let default =
        features["default"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    (all, default)
}

/// Unique packages in `cargo tree -e normal` with these arguments, the crate itself included.
fn crates(args: &[&str]) -> usize {
    let output = cargo()
        .args([
            "tree",
            "-q",
            "-e",
            "normal",
            "-p",
            "contextd-telemetry",
            "--prefix",
            "none",
            "-f",
            "{p}",
            "--offline",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    text.lines().map(|l| l.trim_end_matches(" (*)")).collect::<BTreeSet<_>>().len()
}

#[test]
fn the_feature_table_is_the_manifests() {
    let rows = table();
    let (all, default) = manifest_features();
    let documented: BTreeSet<String> = rows.iter().filter_map(|r| r.feature.clone()).collect();
    assert_eq!(documented, all, "features in docs/configuration.md vs Cargo.toml");
    let documented_default: BTreeSet<String> =
        rows.iter().filter(|r| r.default).filter_map(|r| r.feature.clone()).collect();
    assert_eq!(documented_default, default, "the default set");
    for row in &rows {
        let counted = match &row.feature {
            None => crates(&["--no-default-features"]),
            Some(feature) => crates(&["--features", feature]),
        };
        let name = row.feature.as_deref().unwrap_or("no features");
        assert_eq!(
            row.crates, counted,
            "{name}: docs/configuration.md says {}, cargo tree counts {counted}",
            row.crates
        );
    }
}
