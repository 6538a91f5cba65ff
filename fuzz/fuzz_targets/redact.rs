//! Any text through the redaction: never a panic, and a `password=` value never survives.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = contextd_metrics::redact::redact(text);
        let planted = format!("{text}\npassword=Zq8planted9Xv\n");
        let redacted = contextd_metrics::redact::redact(&planted);
        assert!(redacted.ends_with("password=[REDACTED]\n"), "{planted:?} -> {redacted:?}");
    }
});
