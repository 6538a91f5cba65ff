//! Prometheus naming as VictoriaMetrics applies it with `-opentelemetry.usePrometheusNaming`:
//! semantic-convention names gain unit and type suffixes, catalog names stay exactly as written.

use contextd_telemetry::naming::*;

#[test]
fn translates_like_victoriametrics_prometheus_naming() {
    // Seen from VictoriaMetrics 1.112 with -opentelemetry.usePrometheusNaming.
    let seen = [
        ("contextd_embedding_cost_total", "USD", SeriesKind::Counter, "contextd_embedding_cost_USD_total"),
        ("contextd_skill_success_rate", "1", SeriesKind::Gauge, "contextd_skill_success_rate_ratio"),
        ("contextd_embedding_cache_hit_ratio", "1", SeriesKind::Gauge, "contextd_embedding_cache_hit_ratio"),
        ("contextd_checkpoint_search_score", "1", SeriesKind::Histogram, "contextd_checkpoint_search_score"),
        ("contextd_test_coverage_percent", "%", SeriesKind::Gauge, "contextd_test_coverage_percent"),
        ("contextd_tests_total", "{test}", SeriesKind::Gauge, "contextd_tests_total"),
        ("contextd_mcp_tool_response_bytes", "By", SeriesKind::Histogram, "contextd_mcp_tool_response_bytes"),
        ("http.server.request.duration", "s", SeriesKind::Histogram, "http_server_request_duration_seconds"),
    ];
    for (name, unit, kind, expected) in seen {
        assert_eq!(prometheus_name(name, unit, kind), expected, "{name} [{unit}]");
    }
}

#[test]
fn wire_units_keep_catalog_names() {
    assert_eq!(
        catalog_wire_unit("contextd_embedding_cost_total", "USD", SeriesKind::Counter).as_deref(),
        Some("{USD}")
    );
    assert_eq!(
        catalog_wire_unit("contextd_skill_success_rate", "1", SeriesKind::Gauge).as_deref(),
        Some("{ratio}")
    );
    assert_eq!(catalog_wire_unit("contextd_checkpoint_duration_seconds", "s", SeriesKind::Histogram), None);
    assert_eq!(
        prometheus_name("contextd_embedding_cost_total", "{USD}", SeriesKind::Counter),
        "contextd_embedding_cost_total"
    );
}

#[test]
fn label_names_are_sanitized() {
    assert_eq!(sanitize_label_name("http.route"), "http_route");
    assert_eq!(sanitize_label_name("status"), "status");
    assert_eq!(sanitize_label_name("1st"), "key_1st");
}
