//! Components, their operation shapes (every label given a role), success rates and alert
//! thresholds.

use super::super::tree::{At, Node};
use super::super::{backticked, suggestion};
use super::*;

impl Reader {
    pub(super) fn components(
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
    pub(super) fn alerts(&mut self, node: Option<&Node>, component: &str) -> AlertThresholds {
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

    pub(super) fn metric_ref(
        &mut self,
        node: &Node,
        instruments: &'static [InstrumentSpec],
        kind: InstrumentKind,
        what: &str,
    ) -> Option<&'static InstrumentSpec> {
        let name = self.string(node, what)?;
        if self.broken_metrics.contains(&name) {
            return None;
        }
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

    pub(super) fn operations(
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

    pub(super) fn success_rate(
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
}
