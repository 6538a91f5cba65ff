//! Criterion benchmarks of the report parsers the testing gauges run every refresh: a JUnit
//! report and a Cobertura report of 10 000, 100 000 and 1 000 000 elements. Parsing must grow
//! linearly with the report (`perf-report` prints the growth per 10× input), and 100 000
//! elements must parse well inside the gauge's 10 s timeout.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;

use contextd_gauges::{TestTypeRules, parse_coverage, parse_junit};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

/// The sizes measured, in elements.
pub const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];

/// A cargo-nextest-style JUnit report with `elements` test cases in suites of 100.
fn junit(elements: usize) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"nextest-run\">\n");
    for suite in 0..elements.div_ceil(100) {
        let _ = writeln!(out, "  <testsuite name=\"crate::tests_{suite}\" tests=\"100\">");
        for case in 0..100.min(elements - suite * 100) {
            let _ = writeln!(
                out,
                "    <testcase name=\"case_{case} &apos;{suite}&#39;\" classname=\"crate::tests_{suite}\" time=\"0.001\"/>"
            );
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// A Cobertura report with `elements` `<line>` elements, 1 000 per class.
fn cobertura(elements: usize) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\"?>\n<coverage lines-covered=\"{}\" lines-valid=\"{elements}\" line-rate=\"0.5\">\n<packages><package name=\"p\"><classes>\n",
        elements / 2
    );
    for class in 0..elements.div_ceil(1000) {
        let _ = writeln!(out, "<class name=\"c{class}\" filename=\"src/c{class}.rs\"><lines>");
        for line in 0..1000.min(elements - class * 1000) {
            let _ = writeln!(out, "  <line number=\"{line}\" hits=\"{}\"/>", line % 2);
        }
        out.push_str("</lines></class>\n");
    }
    out.push_str("</classes></package></packages>\n</coverage>\n");
    out
}

fn reports(c: &mut Criterion) {
    let rules = TestTypeRules::cargo_nextest();
    let mut group = c.benchmark_group("report parsing");
    group.sample_size(10);
    for elements in SIZES {
        let text = junit(elements);
        let counted = parse_junit(Path::new("junit.xml"), &text, &rules).unwrap();
        assert_eq!(counted.unit + counted.integration + counted.e2e, elements as i64);
        group.bench_with_input(BenchmarkId::new("junit", elements), &text, |b, text| {
            b.iter(|| parse_junit(Path::new("junit.xml"), black_box(text), &rules).unwrap());
        });
        let text = cobertura(elements);
        assert_eq!(parse_coverage(Path::new("coverage.xml"), &text).unwrap().total, elements as u64);
        group.bench_with_input(BenchmarkId::new("cobertura", elements), &text, |b, text| {
            b.iter(|| parse_coverage(Path::new("coverage.xml"), black_box(text)).unwrap());
        });
    }
    group.finish();
}

criterion_group!(benches, reports);
criterion_main!(benches);
