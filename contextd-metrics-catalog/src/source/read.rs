//! The checks, entry by entry, and the leak into `'static` data once all of them pass.

use super::tree::{self, At, Node, Value};
use super::{CatalogError, CatalogErrors, backticked, suggestion};
use crate::naming::{SeriesKind, prometheus_name, unit_word};
use crate::operations::{STATUS_KEY, STATUS_VALUES};
use crate::{
    Aggregation, AlertThresholds, BucketSpec, Catalog, ComponentSpec, Indicator, InstrumentKind,
    InstrumentSpec, LabelSpec, LabelValues, Objective, OperationShape, SelfMetric, SuccessRate, ValueType,
};

/// The most labels one operation takes from the attribute's arguments.
const MAX_ARGUMENTS: usize = 2;

pub(crate) struct Reader {
    file: String,
    errors: Vec<CatalogError>,
}

/// A mapping's entries after the unknown and duplicate keys were reported.
struct Fields<'a> {
    entries: Vec<(&'a str, &'a Node)>,
    at: At,
}

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries.iter().find(|(k, _)| *k == key).map(|(_, n)| *n)
    }
}

// Owned forms, turned into `'static` data at the end.
struct Metric {
    at: At,
    spec: InstrumentSpec,
}

impl Reader {
    pub(crate) fn new(file: &str) -> Self {
        Self { file: file.to_owned(), errors: Vec::new() }
    }

    fn error(&mut self, at: At, message: impl Into<String>) {
        self.errors.push(CatalogError {
            file: self.file.clone(),
            line: at.line,
            column: at.column,
            message: message.into(),
        });
    }

    pub(crate) fn read(mut self, text: &str) -> Result<&'static Catalog, CatalogErrors> {
        let root = match tree::parse(text) {
            Ok(root) => root,
            Err((at, message)) => {
                self.error(at, format!("not valid YAML: {message}"));
                return Err(CatalogErrors(self.errors));
            }
        };
        let catalog = self.catalog(&root);
        match catalog {
            Some(catalog) if self.errors.is_empty() => Ok(catalog),
            _ => {
                self.errors.sort_by_key(|e| (e.line, e.column));
                Err(CatalogErrors(self.errors))
            }
        }
    }

    fn catalog(&mut self, root: &Node) -> Option<&'static Catalog> {
        const TOP: &[&str] =
            &["namespace", "brief", "buckets", "attributes", "metrics", "components", "objectives"];
        let top = self.fields(root, "the catalog", TOP)?;
        let namespace = self.required_name(&top, "namespace", "the catalog")?;
        let brief = top.get("brief").and_then(|n| self.string(n, "`brief`")).unwrap_or_default();
        let buckets = top.get("buckets").map(|n| self.buckets(n)).unwrap_or_default();
        let labels = match top.get("attributes") {
            Some(node) => self.labels(node),
            None => Vec::new(),
        };
        let labels: &'static [LabelSpec] = leak(labels);
        let metrics = match top.get("metrics") {
            Some(node) => self.metrics(node, &namespace, &buckets, labels),
            None => {
                self.error(top.at, "the catalog has no `metrics`: list the service's instruments");
                Vec::new()
            }
        };
        let self_metrics = self_metrics(&namespace);
        for metric in &metrics {
            if self_metrics.iter().any(|s| s.name == metric.spec.name) {
                self.error(
                    metric.at,
                    format!(
                        "`{}` is the name of a self-metric of the telemetry pipeline; choose another",
                        metric.spec.name
                    ),
                );
            }
        }
        let metric_ats: Vec<At> = metrics.iter().map(|m| m.at).collect();
        let instruments: &'static [InstrumentSpec] = leak(metrics.into_iter().map(|m| m.spec).collect());
        let components = match top.get("components") {
            Some(node) => self.components(node, instruments, labels),
            None => Vec::new(),
        };
        let ids: Vec<&str> = components.iter().map(|c| c.name).collect();
        for (spec, at) in instruments.iter().zip(&metric_ats) {
            if !ids.contains(&spec.component) {
                self.error(
                    *at,
                    format!(
                        "`{}` belongs to component `{}`, which `components` does not declare; declared: {}{}",
                        spec.name,
                        spec.component,
                        backticked(&ids),
                        suggestion(spec.component, &ids)
                    ),
                );
            }
        }
        let objectives = match top.get("objectives") {
            Some(node) => self.objectives(node, instruments),
            None => Vec::new(),
        };
        let components: Vec<ComponentSpec> = components
            .into_iter()
            .map(|mut c| {
                if c.alerts.p95_seconds.is_nan() {
                    let objective = objectives.iter().find_map(|o| match o.indicator {
                        Indicator::Latency { threshold, .. } if o.component == c.name => Some(threshold),
                        _ => None,
                    });
                    c.alerts.p95_seconds = objective.unwrap_or(AlertThresholds::DEFAULT_P95_SECONDS);
                }
                c
            })
            .collect();
        Some(Box::leak(Box::new(Catalog {
            namespace: leak_str(namespace),
            description: leak_str(brief),
            buckets: leak(
                buckets
                    .into_iter()
                    .map(|(name, bounds, _)| BucketSpec { name: leak_str(name), bounds })
                    .collect(),
            ),
            labels,
            instruments,
            self_metrics,
            components: leak(components),
            objectives: leak(objectives),
        })))
    }

    // ---- generic shape checks

    /// The entries of a mapping, reporting keys outside `allowed` (with the nearest valid one)
    /// and keys given twice.
    fn fields<'a>(&mut self, node: &'a Node, what: &str, allowed: &[&str]) -> Option<Fields<'a>> {
        let Value::Map(entries) = &node.value else {
            self.error(
                node.at,
                format!("{what} must be a mapping of fields ({}), not {}", backticked(allowed), node.kind()),
            );
            return None;
        };
        let mut kept: Vec<(&str, &Node)> = Vec::new();
        for (key, at, value) in entries {
            if !allowed.contains(&key.as_str()) {
                let message = format!(
                    "unknown field `{key}` in {what}; valid fields: {}{}",
                    backticked(allowed),
                    suggestion(key, allowed)
                );
                self.error(*at, message);
            } else if kept.iter().any(|(k, _)| *k == key) {
                self.error(*at, format!("field `{key}` is given twice in {what}"));
            } else {
                kept.push((key, value));
            }
        }
        Some(Fields { entries: kept, at: node.at })
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Scalar(s) => Some(s.clone()),
            _ => {
                self.error(node.at, format!("{what} must be a single value, not {}", node.kind()));
                None
            }
        }
    }

    fn required<'a>(&mut self, fields: &Fields<'a>, key: &str, what: &str) -> Option<&'a Node> {
        let node = fields.get(key);
        if node.is_none() {
            self.error(fields.at, format!("{what} has no `{key}`"));
        }
        node
    }

    fn required_string(&mut self, fields: &Fields<'_>, key: &str, what: &str) -> Option<String> {
        let node = self.required(fields, key, what)?;
        self.string(node, &format!("`{key}` of {what}"))
    }

    /// A required snake_case name (`[a-z][a-z0-9_]*`).
    fn required_name(&mut self, fields: &Fields<'_>, key: &str, what: &str) -> Option<String> {
        let node = self.required(fields, key, what)?;
        let name = self.string(node, &format!("`{key}` of {what}"))?;
        if is_snake_name(&name) {
            Some(name)
        } else {
            self.error(node.at, format!("`{name}` is not a valid {key}: use snake_case (`a-z`, `0-9`, `_`, starting with a letter)"));
            None
        }
    }

    fn list<'a>(&mut self, node: &'a Node, what: &str) -> &'a [Node] {
        match &node.value {
            Value::Seq(items) => items,
            _ => {
                self.error(node.at, format!("{what} must be a list, not {}", node.kind()));
                &[]
            }
        }
    }

    /// A list of single values.
    fn strings(&mut self, node: &Node, what: &str) -> Vec<(String, At)> {
        let items = self.list(node, what);
        items
            .iter()
            .filter_map(|item| Some((self.string(item, &format!("an entry of {what}"))?, item.at)))
            .collect()
    }

    fn one_of<T: Copy>(&mut self, node: &Node, what: &str, options: &[(&str, T)]) -> Option<T> {
        let value = self.string(node, what)?;
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        match options.iter().find(|(n, _)| *n == value) {
            Some((_, v)) => Some(*v),
            None => {
                self.error(
                    node.at,
                    format!(
                        "`{value}` is not a valid {what}; valid: {}{}",
                        backticked(&names),
                        suggestion(&value, &names)
                    ),
                );
                None
            }
        }
    }

    // ---- buckets

    fn bounds(&mut self, node: &Node, what: &str) -> Option<&'static [f64]> {
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

    fn buckets(&mut self, node: &Node) -> Vec<(String, &'static [f64], At)> {
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

    // ---- attributes

    fn labels(&mut self, node: &Node) -> Vec<LabelSpec> {
        const FIELDS: &[&str] = &["id", "key", "brief", "members", "examples"];
        let mut labels: Vec<LabelSpec> = Vec::new();
        for item in self.list(node, "`attributes`") {
            let Some(fields) = self.fields(item, "an attribute", FIELDS) else { continue };
            let Some(id) = self.required_name(&fields, "id", "an attribute") else { continue };
            let what = format!("attribute `{id}`");
            if labels.iter().any(|l| l.id == id) {
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

    fn label_ref(
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

    // ---- metrics

    fn metrics(
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
        for item in self.list(node, "`metrics`") {
            let Some(fields) = self.fields(item, "a metric", FIELDS) else { continue };
            let Some(name) = self.required_name(&fields, "name", "a metric") else { continue };
            let what = format!("metric `{name}`");
            if metrics.iter().any(|m| m.spec.name == name) {
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
    fn check_unit(&mut self, at: At, name: &str, unit: &str, kind: InstrumentKind, what: &str) {
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

    // ---- components

    fn components(
        &mut self,
        node: &Node,
        instruments: &'static [InstrumentSpec],
        labels: &'static [LabelSpec],
    ) -> Vec<ComponentSpec> {
        let mut components: Vec<ComponentSpec> = Vec::new();
        for item in self.list(node, "`components`") {
            let Some(fields) = self.fields(item, "a component", &["id", "brief", "operations", "alerts"])
            else {
                continue;
            };
            let Some(id) = self.required_name(&fields, "id", "a component") else { continue };
            let what = format!("component `{id}`");
            if components.iter().any(|c| c.name == id) || id == crate::self_metrics::COMPONENT {
                let reason = if id == crate::self_metrics::COMPONENT {
                    " (it holds the pipeline's self-metrics)"
                } else {
                    ""
                };
                self.error(item.at, format!("{what} is defined twice{reason}"));
                continue;
            }
            let brief = self.required_string(&fields, "brief", &what).unwrap_or_default();
            let operations =
                fields.get("operations").and_then(|n| self.operations(n, &what, instruments, labels));
            let alerts = self.alerts(fields.get("alerts"), &what);
            components.push(ComponentSpec {
                name: leak_str(id),
                description: leak_str(brief),
                operations,
                alerts,
            });
        }
        components
    }

    /// `alerts: { error_ratio, p95_seconds }`; the p95 default is settled with the objectives.
    fn alerts(&mut self, node: Option<&Node>, component: &str) -> AlertThresholds {
        let mut alerts =
            AlertThresholds { error_ratio: AlertThresholds::DEFAULT_ERROR_RATIO, p95_seconds: f64::NAN };
        let Some(node) = node else { return alerts };
        let what = format!("the alerts of {component}");
        let Some(fields) = self.fields(node, &what, &["error_ratio", "p95_seconds"]) else { return alerts };
        for (key, valid, slot) in [
            ("error_ratio", "a share between 0 and 1, e.g. 0.05", &mut alerts.error_ratio),
            ("p95_seconds", "a positive number of seconds, e.g. 0.5", &mut alerts.p95_seconds),
        ] {
            let Some(node) = fields.get(key) else { continue };
            let Some(text) = self.string(node, &format!("`{key}` of {what}")) else { continue };
            let value = text.parse::<f64>().ok().filter(|v| v.is_finite() && *v > 0.0);
            match value {
                Some(v) if key != "error_ratio" || v < 1.0 => *slot = v,
                _ => {
                    self.error(node.at, format!("`{key}` of {what}: `{text}` is not valid; expected {valid}"))
                }
            }
        }
        alerts
    }

    fn metric_ref(
        &mut self,
        node: &Node,
        instruments: &'static [InstrumentSpec],
        kind: InstrumentKind,
        what: &str,
    ) -> Option<&'static InstrumentSpec> {
        let name = self.string(node, what)?;
        let Some(spec) = instruments.iter().find(|s| s.name == name) else {
            let names: Vec<&str> = instruments.iter().filter(|s| s.kind == kind).map(|s| s.name).collect();
            self.error(
                node.at,
                format!(
                    "{what}: no metric `{name}` in `metrics`; {}s: {}{}",
                    kind.as_str(),
                    backticked(&names),
                    suggestion(&name, &names)
                ),
            );
            return None;
        };
        if spec.kind != kind {
            self.error(
                node.at,
                format!("{what}: `{name}` is a {}, not a {}", spec.kind.as_str(), kind.as_str()),
            );
            return None;
        }
        Some(spec)
    }

    fn operations(
        &mut self,
        node: &Node,
        component: &str,
        instruments: &'static [InstrumentSpec],
        labels: &'static [LabelSpec],
    ) -> Option<OperationShape> {
        const FIELDS: &[&str] = &[
            "counter",
            "duration",
            "errors",
            "operation",
            "status",
            "error_type",
            "arguments",
            "success_rate",
        ];
        let what = format!("the operations of {component}");
        let fields = self.fields(node, &what, FIELDS)?;
        let counter = fields.get("counter").map(|n| {
            self.metric_ref(n, instruments, InstrumentKind::Counter, &format!("`counter` of {what}"))
        });
        let duration_node = self.required(&fields, "duration", &what)?;
        let duration = self.metric_ref(
            duration_node,
            instruments,
            InstrumentKind::Histogram,
            &format!("`duration` of {what}"),
        );
        let errors = fields.get("errors").map(|n| {
            self.metric_ref(n, instruments, InstrumentKind::Counter, &format!("`errors` of {what}"))
        });
        let mut role = |key: &str| {
            fields.get(key).map(|n| (self.label_ref(n, labels, &format!("`{key}` of {what}")), n.at))
        };
        let operation = role("operation");
        let status = role("status");
        let error_type = role("error_type");
        let arguments: Vec<(Option<&'static LabelSpec>, At)> = match fields.get("arguments") {
            Some(list) => {
                let items = self.list(list, &format!("`arguments` of {what}"));
                items
                    .iter()
                    .map(|n| (self.label_ref(n, labels, &format!("`arguments` of {what}")), n.at))
                    .collect()
            }
            None => Vec::new(),
        };
        // Any unresolved reference was reported; the rest of the checks need them all.
        let (duration, counter, errors) = (duration?, counter.transpose_ok()?, errors.transpose_ok()?);
        let operation = resolve(operation)?;
        let status = resolve(status)?;
        let error_type = resolve(error_type)?;
        let arguments: Vec<(&'static LabelSpec, At)> =
            arguments.into_iter().map(|(l, at)| l.map(|l| (l, at))).collect::<Option<_>>()?;

        if duration.unit != "s" {
            self.error(
                duration_node.at,
                format!(
                    "`duration` of {what}: `{}` must be in seconds (unit `s`), it is in `{}`",
                    duration.name, duration.unit
                ),
            );
        }
        if let Some((label, at)) = status
            && (label.values != LabelValues::Closed(&STATUS_VALUES) || label.name != STATUS_KEY)
        {
            self.error(
                at,
                format!(
                    "`status` of {what}: attribute `{}` must have the key `{STATUS_KEY}` and list exactly `success`, `error`, `cancelled`, in this order",
                    label.id
                ),
            );
        }
        if let Some((label, at)) = error_type
            && label.values.is_open()
        {
            self.error(at, format!("`error_type` of {what}: attribute `{}` must be closed (`members`), its last value taking unlisted errors, e.g. `other`", label.id));
        }
        if arguments.len() > MAX_ARGUMENTS {
            self.error(
                arguments[MAX_ARGUMENTS].1,
                format!("{what} take at most {MAX_ARGUMENTS} `arguments`"),
            );
        }
        if let Some((label, at)) = operation {
            for spec in counter.into_iter().chain([duration]) {
                if !spec.labels.iter().any(|l| l.id == label.id) {
                    self.error(
                        at,
                        format!(
                            "`operation` of {what}: attribute `{}` is not a label of `{}` ({}); add it to the metric's `attributes`",
                            label.id,
                            spec.name,
                            if spec.labels.is_empty() {
                                "it has none".to_owned()
                            } else {
                                format!("its labels: {}", backticked(&spec.labels.iter().map(|l| l.id).collect::<Vec<_>>()))
                            }
                        ),
                    );
                }
            }
        }
        let shape = OperationShape {
            counter,
            duration,
            errors,
            operation: operation.map(|(l, _)| l),
            status: status.map(|(l, _)| l),
            error_type: error_type.map(|(l, _)| l),
            arguments: leak(arguments.iter().map(|(l, _)| **l).collect()),
            success_rate: None,
        };
        // Roles are distinct, and together they fill every label of every instrument.
        let mut roles: Vec<&str> =
            shape.operation.into_iter().chain(shape.status).chain(shape.error_type).map(|l| l.id).collect();
        for label in shape.arguments {
            if roles.contains(&label.id) {
                self.error(node.at, format!("{what}: attribute `{}` has two roles", label.id));
            }
            roles.push(label.id);
        }
        for spec in shape.instruments() {
            for label in spec.labels {
                if shape.label_source(label).is_none() {
                    self.error(
                        node.at,
                        format!(
                            "{what}: label `{}` of `{}` gets no value at a call; make it the `operation`, the `status`, the `error_type` or one of the `arguments`",
                            label.id, spec.name
                        ),
                    );
                }
            }
        }
        if let Some((label, at)) = error_type
            && !shape.errors.is_some_and(|e| e.labels.iter().any(|l| l.id == label.id))
        {
            self.error(
                at,
                format!(
                    "`error_type` of {what}: attribute `{}` is not a label of the `errors` counter",
                    label.id
                ),
            );
        }
        let success_rate =
            fields.get("success_rate").and_then(|n| self.success_rate(n, &what, &shape, instruments, labels));
        Some(OperationShape { success_rate, ..shape })
    }

    fn success_rate(
        &mut self,
        node: &Node,
        what: &str,
        shape: &OperationShape,
        instruments: &'static [InstrumentSpec],
        labels: &'static [LabelSpec],
    ) -> Option<SuccessRate> {
        let what = format!("`success_rate` of {what}");
        let fields = self.fields(node, &what, &["operation", "argument", "gauge"])?;
        let operation_node = self.required(&fields, "operation", &what)?;
        let operation = self.string(operation_node, &what)?;
        if let Some(LabelValues::Closed(valid)) = shape.operation.map(|l| l.values)
            && !valid.contains(&operation.as_str())
        {
            self.error(
                operation_node.at,
                format!(
                    "{what}: `{operation}` is not an operation; valid: {}{}",
                    backticked(valid),
                    suggestion(&operation, valid)
                ),
            );
        }
        let argument =
            self.required(&fields, "argument", &what).and_then(|n| self.label_ref(n, labels, &what))?;
        let gauge_node = self.required(&fields, "gauge", &what)?;
        let gauge = self.metric_ref(gauge_node, instruments, InstrumentKind::Gauge, &what)?;
        if gauge.labels.iter().map(|l| l.id).ne([argument.id]) {
            self.error(
                gauge_node.at,
                format!("{what}: `{}` must have exactly the label `{}`", gauge.name, argument.id),
            );
        }
        Some(SuccessRate { operation: leak_str(operation), argument, gauge })
    }

    // ---- objectives

    fn objectives(&mut self, node: &Node, instruments: &'static [InstrumentSpec]) -> Vec<Objective> {
        const FIELDS: &[&str] =
            &["name", "success", "latency", "threshold", "target", "period_days", "brief"];
        let mut objectives: Vec<Objective> = Vec::new();
        for item in self.list(node, "`objectives`") {
            let Some(fields) = self.fields(item, "an objective", FIELDS) else { continue };
            let Some(name) = self.required_string(&fields, "name", "an objective") else { continue };
            let what = format!("objective `{name}`");
            if objectives.iter().any(|o| o.name == name) {
                self.error(item.at, format!("{what} is defined twice"));
                continue;
            }
            let number = |reader: &mut Self, key: &str| -> Option<f64> {
                let node = reader.required(&fields, key, &what)?;
                let text = reader.string(node, &format!("`{key}` of {what}"))?;
                let value = text.parse::<f64>().ok().filter(|v| v.is_finite());
                if value.is_none() {
                    reader.error(node.at, format!("`{key}` of {what}: `{text}` is not a number"));
                }
                value
            };
            let indicator = match (fields.get("success"), fields.get("latency")) {
                (Some(counter), None) => self
                    .metric_ref(
                        counter,
                        instruments,
                        InstrumentKind::Counter,
                        &format!("`success` of {what}"),
                    )
                    .map(|counter| Indicator::Success { counter }),
                (None, Some(histogram)) => {
                    let histogram = self.metric_ref(
                        histogram,
                        instruments,
                        InstrumentKind::Histogram,
                        &format!("`latency` of {what}"),
                    );
                    let threshold = number(self, "threshold");
                    histogram
                        .zip(threshold)
                        .map(|(histogram, threshold)| Indicator::Latency { histogram, threshold })
                }
                _ => {
                    self.error(item.at, format!("{what} needs exactly one of `success: <counter>` or `latency: <histogram>` with a `threshold`"));
                    None
                }
            };
            let target = number(self, "target");
            let period = number(self, "period_days");
            let brief = self.required_string(&fields, "brief", &what);
            let (Some(indicator), Some(target), Some(period), Some(brief)) =
                (indicator, target, period, brief)
            else {
                continue;
            };
            if period.fract() != 0.0 || !(0.0..=u32::MAX as f64).contains(&period) {
                self.error(item.at, format!("{what}: `period_days` must be a whole number of days"));
                continue;
            }
            let objective = Objective {
                name: leak_str(name),
                component: indicator.instrument().component,
                indicator,
                target,
                period_days: period as u32,
                description: leak_str(brief),
            };
            if let Err(message) = objective.validate() {
                self.error(item.at, message);
            }
            if let Indicator::Success { counter } = indicator
                && counter.label(STATUS_KEY).is_some_and(|l| l.values != LabelValues::Closed(&STATUS_VALUES))
            {
                self.error(
                    item.at,
                    format!(
                        "{what}: the `status` label of `{}` must list `success`, `error`, `cancelled`",
                        counter.name
                    ),
                );
            }
            objectives.push(objective);
        }
        objectives
    }
}

/// An unresolved reference (`Some((None, _))`, already reported) ends the checks.
fn resolve<T>(role: Option<(Option<T>, At)>) -> Option<Option<(T, At)>> {
    match role {
        None => Some(None),
        Some((Some(value), at)) => Some(Some((value, at))),
        Some((None, _)) => None,
    }
}

trait TransposeOk<T> {
    /// `None` → `Some(None)`; `Some(Some(x))` → `Some(Some(x))`; `Some(None)` (reported) → `None`.
    fn transpose_ok(self) -> Option<Option<T>>;
}

impl<T> TransposeOk<T> for Option<Option<T>> {
    fn transpose_ok(self) -> Option<Option<T>> {
        match self {
            None => Some(None),
            Some(Some(value)) => Some(Some(value)),
            Some(None) => None,
        }
    }
}

fn is_snake_name(name: &str) -> bool {
    name.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The self-metrics under `namespace`.
fn self_metrics(namespace: &str) -> &'static [InstrumentSpec] {
    leak(
        SelfMetric::ALL
            .iter()
            .map(|m| m.spec(leak_str(format!("{namespace}_{}", m.template().suffix))))
            .collect(),
    )
}

fn leak<T>(items: Vec<T>) -> &'static [T] {
    Box::leak(items.into_boxed_slice())
}

fn leak_str(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn leak_strs(items: Vec<(String, At)>) -> &'static [&'static str] {
    leak(items.into_iter().map(|(s, _)| leak_str(s)).collect())
}
