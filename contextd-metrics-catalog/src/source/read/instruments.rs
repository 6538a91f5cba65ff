//! Named buckets, the attributes (labels) and the metrics, with the unit check.

use super::super::tree::{At, Node, Value};
use super::super::{backticked, suggestion};
use super::*;

impl Reader {
    pub(super) fn bounds(&mut self, node: &Node, what: &str) -> Option<&'static [f64]> {
        let items = self.strings(node, what);
        let mut bounds = Vec::with_capacity(items.len());
        for (text, at) in &items {
            match text.parse::<f64>() {
                Ok(b) if b.is_finite() => bounds.push(b),
                _ => {
                    self.error(*at, format!("`{text}` in {what} is not a finite number"));
                    return None;
                }
            }
        }
        if bounds.is_empty() {
            self.error(node.at, format!("{what} has no bounds; list at least one, e.g. [0.01, 0.1, 1.0]"));
            return None;
        }
        if let Some(pair) = bounds.windows(2).find(|w| w[0] >= w[1]) {
            self.error(
                node.at,
                format!("{what} must be strictly increasing, but {} is followed by {}", pair[0], pair[1]),
            );
            return None;
        }
        Some(leak(bounds))
    }

    pub(super) fn buckets(&mut self, node: &Node) -> Vec<(String, &'static [f64], At)> {
        let Value::Map(entries) = &node.value else {
            self.error(node.at, format!("`buckets` must map names to lists of bounds, not {}", node.kind()));
            return Vec::new();
        };
        let mut named: Vec<(String, &'static [f64], At)> = Vec::new();
        for (name, at, value) in entries {
            if named.iter().any(|(n, _, _)| n == name) {
                self.error(*at, format!("buckets `{name}` are defined twice"));
            } else if !is_snake_name(name) {
                self.error(*at, format!("`{name}` is not a valid buckets name: use snake_case"));
            } else if let Some(bounds) = self.bounds(value, &format!("buckets `{name}`")) {
                named.push((name.clone(), bounds, *at));
            }
        }
        named
    }

    pub(super) fn labels(&mut self, node: &Node) -> Vec<LabelSpec> {
        const FIELDS: &[&str] = &["id", "key", "brief", "members", "examples"];
        let mut labels: Vec<LabelSpec> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for item in self.list(node, "`attributes`") {
            let Some(fields) = self.fields(item, "an attribute", FIELDS) else { continue };
            let Some(id) = self.required_name(&fields, "id", "an attribute") else { continue };
            let what = format!("attribute `{id}`");
            // A set, so a long list is checked in linear time.
            if !seen.insert(id.clone()) {
                self.error(item.at, format!("attribute `{id}` is defined twice"));
                continue;
            }
            let key = match fields.get("key") {
                Some(_) => self.required_name(&fields, "key", &what),
                None => Some(id.clone()),
            };
            let brief = self.required_string(&fields, "brief", &what);
            let values = match (fields.get("members"), fields.get("examples")) {
                (Some(members), None) => {
                    let members = self.strings(members, &format!("the members of {what}"));
                    if members.is_empty() {
                        // Reported here; kept, so the metrics that name it are not reported too.
                        self.error(
                            item.at,
                            format!("{what} is closed (`members`) but lists no values; list them, or use `examples` for an open label"),
                        );
                    }
                    for (i, (value, at)) in members.iter().enumerate() {
                        if members[..i].iter().any(|(v, _)| v == value) {
                            self.error(*at, format!("`{value}` is listed twice in {what}"));
                        }
                    }
                    Some(LabelValues::Closed(leak_strs(members)))
                }
                (None, Some(examples)) => {
                    let examples = self.strings(examples, &format!("the examples of {what}"));
                    Some(LabelValues::Open(leak_strs(examples)))
                }
                _ => {
                    self.error(
                        item.at,
                        format!("{what} needs exactly one of `members` (a closed set of values) or `examples` (an open label, values chosen by the code)"),
                    );
                    None
                }
            };
            if let (Some(key), Some(brief), Some(values)) = (key, brief, values) {
                labels.push(LabelSpec {
                    id: leak_str(id),
                    name: leak_str(key),
                    values,
                    description: leak_str(brief),
                });
            }
        }
        labels
    }

    pub(super) fn label_ref(
        &mut self,
        node: &Node,
        labels: &'static [LabelSpec],
        what: &str,
    ) -> Option<&'static LabelSpec> {
        let id = self.string(node, what)?;
        let found = labels.iter().find(|l| l.id == id);
        if found.is_none() {
            let ids: Vec<&str> = labels.iter().map(|l| l.id).collect();
            self.error(
                node.at,
                format!(
                    "{what}: no attribute `{id}` in `attributes`; declared: {}{}",
                    backticked(&ids),
                    suggestion(&id, &ids)
                ),
            );
        }
        found
    }

    pub(super) fn metrics(
        &mut self,
        node: &Node,
        namespace: &str,
        buckets: &[(String, &'static [f64], At)],
        labels: &'static [LabelSpec],
    ) -> Vec<Metric> {
        const FIELDS: &[&str] = &[
            "name",
            "instrument",
            "value_type",
            "unit",
            "component",
            "attributes",
            "buckets",
            "aggregation",
            "brief",
        ];
        let mut metrics: Vec<Metric> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for item in self.list(node, "`metrics`") {
            let Some(fields) = self.fields(item, "a metric", FIELDS) else { continue };
            let Some(name) = self.required_name(&fields, "name", "a metric") else { continue };
            let what = format!("metric `{name}`");
            if !seen.insert(name.clone()) {
                self.error(item.at, format!("{what} is defined twice"));
                continue;
            }
            let prefix = format!("{namespace}_");
            if !name.starts_with(&prefix) || name.len() == prefix.len() {
                self.error(item.at, format!("{what} must start with the namespace, `{prefix}`"));
            }
            let kinds = [
                ("counter", InstrumentKind::Counter),
                ("histogram", InstrumentKind::Histogram),
                ("gauge", InstrumentKind::Gauge),
            ];
            let kind = self
                .required(&fields, "instrument", &what)
                .and_then(|n| self.one_of(n, "instrument", &kinds));
            let types = [("u64", ValueType::U64), ("f64", ValueType::F64), ("i64", ValueType::I64)];
            let value_type = self
                .required(&fields, "value_type", &what)
                .and_then(|n| self.one_of(n, "value_type", &types));
            let unit = self.required_string(&fields, "unit", &what);
            let component = self.required_name(&fields, "component", &what);
            let brief = self.required_string(&fields, "brief", &what);
            let mut metric_labels: Vec<LabelSpec> = Vec::new();
            if let Some(list) = self.required(&fields, "attributes", &what) {
                for label_node in self.list(list, &format!("the attributes of {what}")) {
                    let Some(label) = self.label_ref(label_node, labels, &what) else { continue };
                    if metric_labels.iter().any(|l| l.name == label.name) {
                        self.error(
                            label_node.at,
                            format!("{what} has two labels with the key `{}`", label.name),
                        );
                    } else {
                        metric_labels.push(*label);
                    }
                }
            }
            let (Some(kind), Some(value_type), Some(unit), Some(component), Some(brief)) =
                (kind, value_type, unit, component, brief)
            else {
                self.broken_metrics.push(name);
                continue;
            };
            if kind == InstrumentKind::Counter && value_type == ValueType::I64 {
                self.error(item.at, format!("{what}: a counter only counts up; use `u64` or `f64`"));
            }
            if kind == InstrumentKind::Histogram && value_type == ValueType::I64 {
                self.error(item.at, format!("{what}: histograms record `u64` or `f64`"));
            }
            self.check_unit(item.at, &name, &unit, kind, &what);
            let bucket_bounds = match (kind, fields.get("buckets")) {
                (InstrumentKind::Histogram, None) => {
                    self.error(
                        item.at,
                        format!("{what} is a histogram without `buckets`: give its bounds, or the name of shared ones from `buckets:`"),
                    );
                    None
                }
                (InstrumentKind::Histogram, Some(node)) => match &node.value {
                    Value::Scalar(shared) => {
                        let found = buckets.iter().find(|(n, _, _)| n == shared).map(|(_, b, _)| *b);
                        if found.is_none() {
                            let names: Vec<&str> = buckets.iter().map(|(n, _, _)| n.as_str()).collect();
                            self.error(
                                node.at,
                                format!(
                                    "{what}: no buckets named `{shared}`; named: {}{}",
                                    backticked(&names),
                                    suggestion(shared, &names)
                                ),
                            );
                        }
                        found
                    }
                    _ => self.bounds(node, &format!("the buckets of {what}")),
                },
                (_, Some(node)) => {
                    self.error(
                        node.at,
                        format!("{what} is a {}; only histograms have `buckets`", kind.as_str()),
                    );
                    None
                }
                (_, None) => None,
            };
            let aggregations =
                [("sum", Aggregation::Sum), ("max", Aggregation::Max), ("avg", Aggregation::Avg)];
            let aggregation = match (kind, fields.get("aggregation")) {
                (InstrumentKind::Gauge, Some(node)) => {
                    self.one_of(node, "aggregation", &aggregations).unwrap_or(Aggregation::Sum)
                }
                (InstrumentKind::Gauge, None) => {
                    self.error(
                        item.at,
                        format!("{what} is a gauge without `aggregation`: say how instances combine, `max` (a shared thing), `avg` (their own ratios) or `sum` (their own shares)"),
                    );
                    Aggregation::Sum
                }
                (_, Some(node)) => {
                    self.error(
                        node.at,
                        format!("{what}: only gauges take `aggregation` ({}s add up)", kind.as_str()),
                    );
                    Aggregation::Sum
                }
                (_, None) => Aggregation::Sum,
            };
            metrics.push(Metric {
                at: item.at,
                spec: InstrumentSpec {
                    name: leak_str(name),
                    kind,
                    value_type,
                    unit: leak_str(unit),
                    description: leak_str(brief),
                    component: leak_str(component),
                    labels: leak(metric_labels),
                    buckets: bucket_bounds,
                    aggregation,
                },
            });
        }
        metrics
    }

    /// A unit must be UCUM-like, and must not make Prometheus-style exporters rename the series.
    pub(super) fn check_unit(&mut self, at: At, name: &str, unit: &str, kind: InstrumentKind, what: &str) {
        let valid_chars = !unit.is_empty()
            && unit.chars().all(|c| c.is_ascii_alphanumeric() || "{}/%._-*^".contains(c))
            && unit.matches('{').count() == unit.matches('}').count();
        if !valid_chars {
            self.error(
                at,
                format!("{what}: `{unit}` is not a UCUM unit; use e.g. `s`, `ms`, `By`, `1`, `%` or an annotation such as `{{request}}`"),
            );
            return;
        }
        let series = match kind {
            InstrumentKind::Counter | InstrumentKind::ObservedCounter => SeriesKind::Counter,
            InstrumentKind::Histogram => SeriesKind::Histogram,
            InstrumentKind::Gauge => SeriesKind::Gauge,
        };
        if series == SeriesKind::Counter && !name.ends_with("_total") {
            self.error(at, format!("{what}: a counter's name ends in `_total` (exporters append it otherwise): `{name}_total`"));
            return;
        }
        let translated = prometheus_name(name, unit, series);
        let main = unit.split_once('/').map_or(unit, |(main, _)| main);
        // A unit with a Prometheus word (`s` → seconds) must show in the name, or the series is
        // renamed on the way; other units (`USD`) are sent as annotations, which keeps the name.
        let has_word = unit_word(main).is_some_and(|word| word != main);
        if translated != name && has_word {
            self.error(
                at,
                format!("{what}: with unit `{unit}` Prometheus-style exporters rename it to `{translated}`; name it `{translated}` or choose a unit that matches the name"),
            );
        }
    }
}
