//! Any bytes as a JUnit report: an error or non-negative counts, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let rules = contextd_gauges::TestTypeRules::cargo_nextest();
        if let Ok(counts) = contextd_gauges::parse_junit(std::path::Path::new("fuzz"), text, &rules) {
            assert!(counts.unit >= 0 && counts.integration >= 0 && counts.e2e >= 0);
        }
    }
});
