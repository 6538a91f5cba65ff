//! The dashboards of any catalog: an Overview with a headline row, a row per component (every
//! instrument of the component, its panels chosen by what it measures), a row for the
//! telemetry pipeline's self-metrics, and an SLO dashboard when the catalog has objectives.
//! Panels an alert of `alerts.rs` watches draw its threshold and link to it.

use contextd_metrics_catalog::{
    Catalog, ComponentSpec, InstrumentKind, InstrumentSpec, STATUS_KEY, SelfMetric, self_metrics::labels,
};

use crate::alerts;
use crate::grafana::{
    Dashboard, Watched, alerting, dashboard, describe, error_ratio_panel, failed, gauge_panel, heatmap,
    quantiles, rate_panel, ratio, selector,
};
use crate::layout::{Item, Kind, Panel};

/// The label the `$operation` variable lists: the key most components take operations in
/// (`operation` when none does).
fn operation_key(catalog: &Catalog) -> &'static str {
    let keys: Vec<&'static str> =
        catalog.components.iter().filter_map(|c| c.operations?.operation.map(|l| l.name)).collect();
    keys.iter().max_by_key(|key| keys.iter().filter(|k| k == key).count()).copied().unwrap_or("operation")
}

/// The panels of one instrument of `component`.
fn instrument_panels(catalog: &Catalog, component: &ComponentSpec, spec: &InstrumentSpec) -> Vec<Panel> {
    let key = operation_key(catalog);
    let shape = component.operations;
    match spec.kind {
        InstrumentKind::Counter | InstrumentKind::ObservedCounter => {
            let mut panels = vec![rate_panel(spec, key)];
            let is_operations = shape.and_then(|s| s.counter).is_some_and(|c| c.name == spec.name);
            if is_operations && spec.label(STATUS_KEY).is_some() {
                let watched = Watched {
                    alert: alerts::error_ratio_alert(catalog, component).into(),
                    threshold: component.alerts.error_ratio,
                };
                panels.push(error_ratio_panel(spec, key, watched));
            }
            panels
        }
        InstrumentKind::Histogram if spec.unit == "s" => {
            let mut lines = quantiles(spec, spec.description.to_owned(), key);
            if shape.is_some_and(|s| s.duration.name == spec.name) {
                let watched = Watched {
                    alert: alerts::latency_alert(catalog, component).into(),
                    threshold: component.alerts.p95_seconds,
                };
                lines = alerting(lines, watched);
            }
            vec![heatmap(spec, key), lines]
        }
        InstrumentKind::Histogram => vec![quantiles(spec, spec.description.to_owned(), key)],
        InstrumentKind::Gauge => vec![gauge_panel(spec)],
    }
}

/// The first row: calls per second and the error ratio of every component with operations.
fn headline(catalog: &Catalog) -> Vec<Item> {
    let mut items = vec![Item::Row(format!("Headline — is {} healthy right now?", catalog.namespace))];
    for component in catalog.components {
        let Some(counter) = component.operations.and_then(|s| s.counter) else { continue };
        items.push(Item::Panel(
            Panel::new(
                Kind::Stat,
                format!("{} calls per second", component.name),
                describe(counter, "all operations, every instance added"),
                "ops",
            )
            .query(format!("sum (rate({}[$__rate_interval]))", selector(counter.name, "")), component.name)
            .size(4, 5),
        ));
        if counter.label(STATUS_KEY).is_some() {
            items.push(Item::Panel(
                Panel::new(
                    Kind::Stat,
                    format!("{} error ratio", component.name),
                    describe(counter, "share of all calls that failed"),
                    "percentunit",
                )
                .query(
                    ratio("", &selector(counter.name, &failed()), &selector(counter.name, "")),
                    component.name,
                )
                .threshold(component.alerts.error_ratio, "red")
                .size(4, 5),
            ));
        }
    }
    items
}

/// Occurrences per second of a self-metric counted only when something happens, by two labels;
/// 0 while it has no series.
fn occurrences(title: &str, spec: &InstrumentSpec, [first, second]: [&str; 2], watched: Watched) -> Panel {
    let query = format!(
        "sum by ({first}, {second}) (rate({}[$__rate_interval])) or vector(0)",
        selector(spec.name, "")
    );
    let panel = Panel::new(Kind::TimeSeries, title, describe(spec, "per second"), "ops")
        .query(query, format!("{{{{{first}}}}} {{{{{second}}}}}"));
    alerting(panel, watched)
}

/// The self-metrics row: is this telemetry itself arriving?
fn telemetry_row(catalog: &Catalog) -> Vec<Item> {
    let exports = catalog.self_metric(SelfMetric::Exports);
    let failures = catalog.self_metric(SelfMetric::ExportFailures);
    let dropped = catalog.self_metric(SelfMetric::SpansDropped);
    let refused = catalog.self_metric(SelfMetric::InvalidMeasurements);
    let gauges = catalog.self_metric(SelfMetric::GaugeSourceFailures);
    let signal = labels::SIGNAL.name;
    let alert = |metric| alerts::telemetry_alert(catalog, metric).into();
    vec![
        Item::Row("Telemetry pipeline — is this telemetry itself arriving?".into()),
        Item::Panel(alerting(
            Panel::new(
                Kind::TimeSeries,
                "Telemetry exports failing",
                describe(failures, "share of exports that failed"),
                "percentunit",
            )
            .query(
                ratio(&format!(" by ({signal})"), &selector(failures.name, ""), &selector(exports.name, "")),
                format!("{{{{{signal}}}}}"),
            ),
            Watched { alert: alert(SelfMetric::ExportFailures), threshold: alerts::EXPORT_FAILURE_RATIO },
        )),
        Item::Panel(alerting(
            Panel::new(
                Kind::TimeSeries,
                "Spans dropped",
                describe(dropped, "spans dropped per second"),
                "ops",
            )
            .query(format!("sum (rate({}[$__rate_interval]))", selector(dropped.name, "")), "dropped"),
            Watched { alert: alert(SelfMetric::SpansDropped), threshold: 0.0 },
        )),
        // Counted only once something is refused: 0 until then, not "no data".
        Item::Panel(occurrences(
            "Measurements refused",
            refused,
            [labels::INSTRUMENT.name, labels::REFUSED_REASON.name],
            Watched { alert: alert(SelfMetric::InvalidMeasurements), threshold: 0.0 },
        )),
        // Only services with gauge sources have the series: 0 without, not "no data".
        Item::Panel(occurrences(
            "Gauge source failures",
            gauges,
            [labels::GAUGE.name, labels::FAILURE_REASON.name],
            Watched { alert: alert(SelfMetric::GaugeSourceFailures), threshold: 0.0 },
        )),
    ]
}

/// A dashboard description, marked as generated from the catalog.
fn generated(catalog: &Catalog, description: &str) -> String {
    format!("{description} Generated from the {} catalog; do not edit.", catalog.namespace)
}

/// The dashboards of `catalog`: `<namespace>-overview.json` and, with objectives,
/// `<namespace>-slos.json`.
pub(crate) fn dashboards(catalog: &'static Catalog) -> Vec<Dashboard> {
    let namespace = catalog.namespace;
    let key = operation_key(catalog);
    let mut items = headline(catalog);
    for component in catalog.components {
        items.push(Item::Row(format!("{} — {}", component.name, component.description)));
        items.extend(
            catalog
                .instruments
                .iter()
                .filter(|s| s.component == component.name)
                .flat_map(|spec| instrument_panels(catalog, component, spec))
                .map(Item::Panel),
        );
    }
    items.extend(telemetry_row(catalog));
    let title = format!("{namespace} Overview");
    let mut dashboards = vec![Dashboard {
        file_name: format!("{namespace}-overview.json"),
        json: dashboard(
            catalog,
            key,
            &format!("{namespace}-overview"),
            &title,
            &generated(catalog, "Home dashboard."),
            items,
        ),
        title,
    }];
    if !catalog.objectives.is_empty() {
        let title = format!("{namespace} SLOs");
        dashboards.push(Dashboard {
            file_name: format!("{namespace}-slos.json"),
            json: dashboard(
                catalog,
                key,
                &format!("{namespace}-slos"),
                &title,
                &generated(catalog, "Objectives, error budgets and burn rates."),
                crate::slo::dashboard_items(catalog, catalog.objectives),
            ),
            title,
        });
    }
    dashboards
}
