//! Any bytes as a catalog file: a catalog, or errors that each name the file and a position;
//! never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(errors) = contextd_metrics_catalog::source::read_str("fuzz.yaml", &text) {
        assert!(!errors.0.is_empty(), "an error without a message");
        for error in &errors.0 {
            let shown = error.to_string();
            assert!(shown.starts_with("fuzz.yaml:"), "no position: {shown}");
        }
    }
});
