//! Any values for every `OTEL_*` variable: a configuration or an error naming a variable, never
//! a panic; and a secret planted where credentials go (a header value, an endpoint's user-info,
//! query and fragment) appears in no error and no `Debug`, whatever surrounds it.
#![no_main]

use contextd_telemetry::TelemetryConfig;
use contextd_telemetry::config::VARIABLES;
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "Zq8plantedSecret9Xv";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if text.contains("Zq8") || text.contains("9Xv") {
        return; // the input itself may write the secret somewhere that is not secret
    }
    // Values separated by NUL, in the order of VARIABLES; credentials planted in the headers
    // and endpoints.
    let values: Vec<&str> = text.split('\0').collect();
    let lookup = |name: &str| {
        let at = VARIABLES.iter().position(|v| *v == name)?;
        let value = values.get(at).copied()?;
        Some(if name.ends_with("_HEADERS") {
            format!("{value},authorization=Bearer%20{SECRET}")
        } else if name.ends_with("_ENDPOINT") {
            format!("http://user:{SECRET}@{value}?token={SECRET}#{SECRET}")
        } else {
            value.to_owned()
        })
    };
    match TelemetryConfig::from_lookup(lookup) {
        Ok(config) => {
            let shown = format!("{config:?}");
            assert!(!shown.contains(SECRET), "the configuration's Debug shows the secret: {shown}");
        }
        Err(error) => {
            let (display, debug) = (error.to_string(), format!("{error:?}"));
            assert!(!display.contains(SECRET) && !debug.contains(SECRET), "the error shows the secret: {display}");
            assert!(display.contains("OTEL_"), "the error names no variable: {display}");
        }
    }
});
