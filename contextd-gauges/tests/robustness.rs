//! Property tests: the report parsers never panic on any input, and truncated reports are
//! errors (or, where the cut falls between records, smaller valid reports).

use std::path::Path;

use contextd_gauges::{TestTypeRules, parse_coverage, parse_junit};
use proptest::prelude::*;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)).unwrap()
}

#[test]
fn every_truncation_of_real_reports_is_handled() {
    let rules = TestTypeRules::cargo_nextest();
    for name in ["lcov.info", "cobertura.xml", "llvm-cov.json", "cargo-llvm-cov.lcov"] {
        let text = fixture(name);
        let full = parse_coverage(Path::new(name), &text).unwrap();
        for cut in (0..text.len()).filter(|i| text.is_char_boundary(*i)).step_by(7) {
            if let Ok(partial) = parse_coverage(Path::new(name), &text[..cut]) {
                assert!(partial.total <= full.total || full.total == 0, "{name} cut at {cut}");
            }
        }
    }
    let junit = fixture("nextest-junit.xml");
    for cut in (0..junit.len()).filter(|i| junit.is_char_boundary(*i)) {
        if cut < junit.trim_end().len() {
            assert!(
                parse_junit(Path::new("j.xml"), &junit[..cut], &rules).is_err(),
                "junit cut at {cut} parsed"
            );
        }
    }
}

proptest! {
    #[test]
    fn coverage_and_junit_parsers_never_panic(text in "\\PC{0,400}") {
        let _ = parse_coverage(Path::new("x"), &text);
        let _ = parse_junit(Path::new("x"), &text, &TestTypeRules::cargo_nextest());
    }

    #[test]
    fn xml_like_input_never_panics(text in "[<>/=\"' a-z!?\\[\\]-]{0,200}") {
        let _ = parse_coverage(Path::new("x"), &format!("<{text}"));
        let _ = parse_junit(Path::new("x"), &format!("<testsuite>{text}"), &TestTypeRules::cargo_nextest());
    }

}
