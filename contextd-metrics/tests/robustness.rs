//! Property tests: the report parsers and the redaction never panic on any input, truncated
//! reports are errors (or, where the cut falls between records, smaller valid reports), and a
//! planted secret never survives redaction.

use std::path::Path;

use contextd_metrics::gauges::{TestTypeRules, parse_coverage, parse_junit};
use contextd_metrics::redact::redact;
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

    #[test]
    fn planted_secrets_never_survive(
        before in "[a-z ,.:;]{0,40}",
        after in "[a-z ,.:;]{0,40}",
        token in "[A-Za-z0-9]{12,40}",
        shape in 0usize..4,
    ) {
        let secret = match shape {
            0 => format!("password={token}"),
            1 => format!("Bearer {token}"),
            2 => format!("\"api_key\": \"{token}\""),
            _ => format!("https://user:{token}@host/path"),
        };
        let text = format!("{before} {secret} {after}");
        let redacted = redact(&text);
        prop_assert!(!redacted.contains(&token), "{} -> {}", text, redacted);
    }

    #[test]
    fn redaction_never_panics_and_keeps_plain_text(text in "\\PC{0,300}") {
        let _ = redact(&text);
        let plain: String = text.chars().filter(|c| c.is_ascii_digit() || *c == ' ').collect();
        prop_assert_eq!(redact(&plain), plain.as_str());
    }
}
