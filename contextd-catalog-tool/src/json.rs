use std::fmt::Write as _;

use contextd_metrics_catalog::InstrumentSpec;

/// The catalog as a JSON array, one object per instrument with the keys `name`, `kind`
/// (`counter` | `histogram` | `gauge`), `value_type` (`u64` | `f64` | `i64`), `unit`,
/// `description`, `labels` (the label names) and `buckets` (an array, or `null`).
///
/// ```
/// let json = contextd_catalog_tool::json(contextd_metrics::contextd::CATALOG.instruments);
/// assert!(json.starts_with("[\n  {\"name\": \"contextd_mcp_tool_calls_total\""));
/// ```
pub fn json(specs: &[InstrumentSpec]) -> String {
    let mut out = String::from("[\n");
    for (i, spec) in specs.iter().enumerate() {
        let labels: Vec<String> = spec.labels.iter().map(|l| string(l.name)).collect();
        let buckets = match spec.buckets {
            Some(bounds) => {
                let bounds: Vec<String> = bounds.iter().map(|b| super::number(*b)).collect();
                format!("[{}]", bounds.join(", "))
            }
            None => "null".to_owned(),
        };
        let _ = write!(
            out,
            "  {{\"name\": {}, \"kind\": {}, \"value_type\": {}, \"unit\": {}, \"description\": {}, \"labels\": [{}], \"buckets\": {}}}",
            string(spec.name),
            string(spec.kind.as_str()),
            string(spec.value_type.as_str()),
            string(spec.unit),
            string(spec.description),
            labels.join(", "),
            buckets,
        );
        out.push_str(if i + 1 < specs.len() { ",\n" } else { "\n" });
    }
    out.push_str("]\n");
    out
}

/// A JSON string literal, escaped per RFC 8259.
fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_quotes_backslashes_and_control_characters() {
        assert_eq!(super::string("a\"b\\c\n\u{1}é"), r#""a\"b\\c\n\u0001é""#);
    }
}
