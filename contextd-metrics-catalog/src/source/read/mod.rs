//! The checks, entry by entry. What is read is leaked into `'static` data as it goes: a reader
//! runs once per catalog file and process (the proc-macro caches it), so nothing piles up.

use super::tree::{self, At, Node};
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
    /// Metrics declared with mistakes of their own (already reported): a reference to one is
    /// not reported again as a metric that does not exist.
    broken_metrics: Vec<String>,
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

mod components;
mod instruments;
mod objectives;
mod shape;

impl Reader {
    pub(crate) fn new(file: &str) -> Self {
        Self { file: file.to_owned(), errors: Vec::new(), broken_metrics: Vec::new() }
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
                    if ids.is_empty() {
                        format!(
                            "`{}` belongs to component `{}`, which `components` does not declare (the catalog declares none)",
                            spec.name, spec.component
                        )
                    } else {
                        format!(
                            "`{}` belongs to component `{}`, which `components` does not declare; declared: {}{}",
                            spec.name,
                            spec.component,
                            backticked(&ids),
                            suggestion(spec.component, &ids)
                        )
                    },
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
