//! OpenTelemetry → Prometheus names, the way VictoriaMetrics (`-opentelemetry.usePrometheusNaming`)
//! and the collector's Prometheus exporters translate them, so that our own text outputs
//! (console, pull endpoint) show the series names the dashboards query.
//!
//! The translation appends a unit suffix the name lacks (`s` → `_seconds`, `By` → `_bytes`,
//! `USD` → `_USD`, `1` on a gauge → `_ratio`) and `_total` to monotonic counters. Catalog names
//! already carry their suffix, except where the contract's unit has no Prometheus word in the
//! name (`contextd_embedding_cost_total` in `USD`, `contextd_skill_success_rate` in `1`). For
//! those, [`catalog_wire_unit`] sends the unit as a UCUM annotation (`{USD}`), which every
//! translator drops, so the series name stays exactly the catalog name on every path.

use std::borrow::Cow;

/// How the translation treats an instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesKind {
    /// A monotonic sum: gets `_total`.
    Counter,
    /// A gauge (or a non-monotonic sum): a dimensionless unit `1` becomes `_ratio`.
    Gauge,
    /// A histogram: `_bucket`, `_sum`, `_count` are added to the name by the exposition.
    Histogram,
}

/// The Prometheus word for a UCUM unit, if it has one (an unknown unit is its own word).
pub fn unit_word(unit: &str) -> Option<&str> {
    Some(match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tebibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "%" => "percent",
        "1" | "" => return None,
        other if other.contains('{') => return None,
        other => other,
    })
}

/// The per-unit word after a `/` (`By/s` → `per_second`).
fn per_unit_word(unit: &str) -> Option<&str> {
    Some(match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        "" => return None,
        other if other.contains('{') => return None,
        other => other,
    })
}

/// Replaces characters outside `[a-zA-Z0-9_:]` by `_`, collapses runs of `_`, and keeps the
/// first character valid.
pub fn sanitize_metric_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() || c == ':' { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// A valid Prometheus label name for an attribute key (`http.route` → `http_route`).
pub fn sanitize_label_name(key: &str) -> Cow<'_, str> {
    let valid = key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && !key.is_empty();
    if valid {
        return Cow::Borrowed(key);
    }
    let mut out: String =
        key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "key_");
    }
    Cow::Owned(out)
}

/// The Prometheus series name of an instrument (for a histogram, the stem of `_bucket` etc.).
///
/// ```
/// use contextd_metrics_catalog::naming::{SeriesKind, prometheus_name};
///
/// assert_eq!(prometheus_name("http.server.request.duration", "s", SeriesKind::Histogram),
///            "http_server_request_duration_seconds");
/// assert_eq!(prometheus_name("contextd_mcp_tool_calls_total", "{call}", SeriesKind::Counter),
///            "contextd_mcp_tool_calls_total");
/// ```
pub fn prometheus_name(name: &str, unit: &str, kind: SeriesKind) -> String {
    let mut tokens: Vec<String> =
        sanitize_metric_name(name).split('_').filter(|t| !t.is_empty()).map(str::to_owned).collect();
    if kind == SeriesKind::Counter {
        tokens.retain(|t| t != "total");
    }
    let (main, per) = match unit.split_once('/') {
        Some((main, per)) => (main, Some(per)),
        None => (unit, None),
    };
    let mut suffixes: Vec<String> = Vec::new();
    match unit_word(main) {
        Some(word) => suffixes.push(sanitize_metric_name(word)),
        None if main == "1" && kind == SeriesKind::Gauge && per.is_none() => suffixes.push("ratio".into()),
        None => {}
    }
    if let Some(word) = per.and_then(per_unit_word) {
        suffixes.push(format!("per_{}", sanitize_metric_name(word)));
    }
    for suffix in suffixes {
        let present = suffix.split('_').all(|part| tokens.iter().any(|t| t == part));
        if !present {
            tokens.extend(suffix.split('_').map(str::to_owned));
        }
    }
    if kind == SeriesKind::Counter {
        tokens.push("total".into());
    }
    let joined = tokens.join("_");
    if name.starts_with('_') { format!("_{joined}") } else { joined }
}

/// The unit to send for a catalog instrument so that every Prometheus-style translator keeps
/// its catalog name exactly: the catalog unit itself, or its UCUM annotation form (`{USD}`,
/// `{ratio}`) where the translator would otherwise append a suffix. `None` when the catalog
/// unit can be sent as it is.
pub fn catalog_wire_unit(name: &str, unit: &str, kind: SeriesKind) -> Option<String> {
    if prometheus_name(name, unit, kind) == name {
        return None;
    }
    Some(if unit == "1" { "{ratio}".to_owned() } else { format!("{{{unit}}}") })
}
