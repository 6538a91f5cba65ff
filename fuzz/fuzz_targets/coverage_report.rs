//! Any bytes as a coverage report: an error or a percentage in 0..=100, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(coverage) = contextd_gauges::parse_coverage(std::path::Path::new("fuzz"), text)
    {
        assert!((0.0..=100.0).contains(&coverage.percent));
    }
});
