//! Rules every catalog entry must follow, so that a 32nd entry cannot break a backend, a
//! dashboard or the macro.

use contextd_metrics::contextd::{CATALOG, INSTRUMENTS, Meters};
use contextd_metrics::{InstrumentKind, LabelValues};
use proptest::prelude::*;

/// OpenTelemetry instrument name syntax (API spec): a letter, then up to 254 of `A-Za-z0-9_.-/`.
fn is_otel_instrument_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.len() <= 255
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
}

/// Prometheus metric name syntax: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn is_prometheus_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Prometheus label name syntax, without the reserved `__` prefix.
fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// The UCUM units the catalog may use: base units the exporters translate to Prometheus suffixes,
/// and curly-brace annotations (dimensionless counts, which add no suffix).
fn is_ucum_unit(unit: &str) -> bool {
    matches!(unit, "s" | "1" | "By" | "%" | "USD")
        || (unit.len() > 2
            && unit.starts_with('{')
            && unit.ends_with('}')
            && unit[1..unit.len() - 1].chars().all(|c| c.is_ascii_lowercase() || c == '_'))
}

#[test]
fn has_31_entries_9_counters_13_histograms_9_gauges() {
    let count = |kind| INSTRUMENTS.as_slice().iter().filter(|s| s.kind == kind).count();
    assert_eq!(INSTRUMENTS.as_slice().len(), 31);
    assert_eq!(count(InstrumentKind::Counter), 9);
    assert_eq!(count(InstrumentKind::Histogram), 13);
    assert_eq!(count(InstrumentKind::Gauge), 9);
}

#[test]
fn names_are_unique_and_valid_for_otel_and_prometheus() {
    let mut names: Vec<&str> = INSTRUMENTS.as_slice().iter().map(|s| s.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), INSTRUMENTS.as_slice().len(), "duplicate names");
    for spec in INSTRUMENTS.as_slice() {
        assert!(is_otel_instrument_name(spec.name), "{} is not a valid OTel name", spec.name);
        assert!(is_prometheus_metric_name(spec.name), "{} is not a valid Prometheus name", spec.name);
        assert!(spec.name.starts_with("contextd_"), "{} lacks the contextd_ prefix", spec.name);
    }
}

#[test]
fn counters_end_in_total_and_seconds_histograms_in_seconds() {
    for spec in INSTRUMENTS.as_slice() {
        if spec.kind == InstrumentKind::Counter {
            assert!(spec.name.ends_with("_total"), "{}", spec.name);
        }
        if spec.unit == "s" {
            assert_eq!(spec.kind, InstrumentKind::Histogram, "{}", spec.name);
            assert!(spec.name.ends_with("_seconds"), "{}", spec.name);
        }
        if spec.name.ends_with("_seconds") {
            assert_eq!(spec.unit, "s", "{}", spec.name);
        }
    }
}

#[test]
fn histograms_have_strictly_increasing_buckets_and_others_none() {
    for spec in INSTRUMENTS.as_slice() {
        match (spec.kind, spec.buckets) {
            (InstrumentKind::Histogram, Some(bounds)) => {
                assert!(!bounds.is_empty(), "{}", spec.name);
                assert!(bounds.windows(2).all(|w| w[0] < w[1]), "{}: {bounds:?}", spec.name);
                assert!(bounds.iter().all(|b| b.is_finite()), "{}", spec.name);
            }
            (InstrumentKind::Histogram, None) => panic!("{} has no buckets", spec.name),
            (_, Some(_)) => panic!("{} is not a histogram but has buckets", spec.name),
            (_, None) => {}
        }
        if spec.unit == "s" {
            // Never the SDK's millisecond defaults (0, 5, 10, 25 … 10000).
            assert!(spec.buckets.unwrap().last().unwrap() <= &600.0, "{}", spec.name);
        }
    }
}

#[test]
fn label_names_and_units_are_valid() {
    for spec in INSTRUMENTS.as_slice() {
        assert!(is_ucum_unit(spec.unit), "{}: unit {}", spec.name, spec.unit);
        let mut names: Vec<&str> = spec.labels.iter().map(|l| l.name).collect();
        for label in spec.labels {
            assert!(is_label_name(label.name), "{}: label {}", spec.name, label.name);
            if let LabelValues::Closed(values) = label.values {
                assert!(!values.is_empty(), "{}: closed label {} has no values", spec.name, label.name);
            }
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), spec.labels.len(), "{}: duplicate label", spec.name);
    }
}

#[test]
fn meters_cover_every_synchronous_entry_exactly_once() {
    let synchronous: Vec<&str> =
        INSTRUMENTS.as_slice().iter().filter(|s| s.is_synchronous()).map(|s| s.name).collect();
    assert_eq!(Meters::INSTRUMENT_NAMES, synchronous.as_slice());
}

proptest! {
    #[test]
    fn find_returns_exactly_the_catalog_entries(name in "contextd_[a-z_]{1,40}") {
        let expected = INSTRUMENTS.as_slice().iter().find(|s| s.name == name);
        prop_assert_eq!(CATALOG.find(&name).map(|s| s.name), expected.map(|s| s.name));
    }

    #[test]
    fn find_returns_each_entry_by_its_name(index in 0usize..31) {
        let spec = &INSTRUMENTS.as_slice()[index];
        prop_assert!(std::ptr::eq(CATALOG.find(spec.name).unwrap(), spec));
    }

    #[test]
    fn name_checks_reject_any_character_outside_the_syntax(
        index in 0usize..31,
        position in 0usize..60,
        bad in "[^A-Za-z0-9_:]",
    ) {
        let name = INSTRUMENTS.as_slice()[index].name;
        let at = position.min(name.len());
        let broken = format!("{}{}{}", &name[..at], bad, &name[at..]);
        prop_assert!(!is_prometheus_metric_name(&broken));
        prop_assert!(!is_label_name(&broken));
    }
}

#[test]
fn every_objective_is_valid_and_a_latency_threshold_off_the_bounds_is_a_clear_error() {
    use contextd_metrics::contextd::OBJECTIVES;
    use contextd_metrics_catalog::{Indicator, Objective};
    for objective in &OBJECTIVES {
        objective.validate().unwrap_or_else(|e| panic!("{e}"));
    }
    let mut names: Vec<&str> = OBJECTIVES.iter().map(|o| o.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), OBJECTIVES.len(), "objective names are unique");
    let two_seconds = Objective {
        indicator: Indicator::Latency {
            histogram: &contextd_metrics::contextd::instruments::EMBEDDING_DURATION_SECONDS,
            threshold: 2.0,
        },
        ..OBJECTIVES[6]
    };
    let error = two_seconds.validate().unwrap_err();
    assert!(
        error.contains(
            "objective `embedding-latency`: 2 s is not a bucket bound of contextd_embedding_duration_seconds"
        ) && error.contains("valid thresholds: 0.005, 0.01")
            && error.contains("2.5"),
        "{error}"
    );
    let no_status = Objective {
        indicator: Indicator::Success {
            counter: &contextd_metrics::contextd::instruments::EMBEDDING_OPERATIONS_TOTAL,
        },
        ..OBJECTIVES[0]
    };
    assert!(no_status.validate().unwrap_err().contains("has no `status` label"));
    assert!(
        Objective { target: 1.0, ..OBJECTIVES[0] }.validate().unwrap_err().contains("not between 0 and 1")
    );
}
