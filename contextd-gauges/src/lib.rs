//! The 9 observable gauges of the contextd catalog and the sources that feed them, with the
//! report parsers (coverage, JUnit, the regression tree) some sources read.
//!
//! Register a source per gauge on [`GaugeSources`], then [`start`](GaugeSources::start) them:
//! the gauges bind through the same registry as every other catalog instrument
//! ([`contextd_metrics::on_bind`]), so they follow telemetry through every `init`. Each source is read on its own thread every refresh interval (default 30 s) with a
//! time limit (default 10 s); export-time callbacks only copy the latest reading. A source that
//! fails, times out or panics loses its own data point — counted, and logged at most once a
//! minute — while every other gauge and the export go on; a reading older than the maximum age
//! (default three intervals) is not reported.
//!
//! ```no_run
//! use contextd_gauges::{CountGauge, GaugeSources, TestTypeRules};
//!
//! let running = GaugeSources::new()
//!     .count(CountGauge::Checkpoints, || Ok::<_, std::io::Error>(42))
//!     .coverage_report("target/lcov.info")
//!     .junit_report("target/nextest/ci/junit.xml", TestTypeRules::cargo_nextest())
//!     .regression_tree("tests/regression")
//!     .skill_success(contextd_metrics::SkillSuccessTracker::global())
//!     .start()?;
//! # Ok::<(), contextd_gauges::GaugeError>(())
//! ```

mod refresher;
mod reports;

use std::fmt::Display;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The tracker behind `contextd_skill_success_rate` (it lives with the recording runtime, which
/// feeds it from `#[instrument_op("skill", "apply", skill_id = …)]`).
pub use contextd_metrics::SkillSuccessTracker;
use contextd_metrics::contextd::{instruments, labels, self_metrics};
use contextd_metrics::model::self_metrics::labels::{FAILURE_REASON, GAUGE};
use contextd_metrics::{InstrumentSpec, ValueType};
use opentelemetry::KeyValue;
use opentelemetry::metrics::Meter;

use refresher::{Point, Reader, Schedule, Snapshot, StopSignal};
pub use reports::{
    BugCounts, CATEGORIES, CoverageFormat, LineCoverage, RegressionCounts, ReportError, SEVERITIES, STATUSES,
    TestTypeRules, TestsByType, parse_coverage, parse_junit, read_coverage, read_junit, scan_regression_tree,
};

/// The gauges fed by a plain count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountGauge {
    /// `contextd_checkpoints_total`.
    Checkpoints,
    /// `contextd_remediations_total`.
    Remediations,
    /// `contextd_skills_total`.
    Skills,
}

impl CountGauge {
    fn spec(self) -> &'static InstrumentSpec {
        match self {
            Self::Checkpoints => &instruments::CHECKPOINTS_TOTAL,
            Self::Remediations => &instruments::REMEDIATIONS_TOTAL,
            Self::Skills => &instruments::SKILLS_TOTAL,
        }
    }
}

/// Lookups of one embedding model's cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheStats {
    /// The `model` label.
    pub model: String,
    /// Lookups served from the cache.
    pub hits: u64,
    /// Lookups that had to compute the embedding.
    pub misses: u64,
}

/// A configuration mistake found by [`GaugeSources::start`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaugeError(String);

impl Display for GaugeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GaugeError {}

struct Source {
    spec: &'static InstrumentSpec,
    reader: Reader,
}

/// The sources to start; see the [module docs](self).
#[must_use = "sources do nothing until started"]
pub struct GaugeSources {
    sources: Vec<Source>,
    tracker: Option<&'static SkillSuccessTracker>,
    schedule: Schedule,
}

impl Default for GaugeSources {
    fn default() -> Self {
        Self::new()
    }
}

fn point(labels: Vec<KeyValue>, value: f64) -> Point {
    Point { labels, value }
}

impl GaugeSources {
    /// No sources; refresh every 30 s, 10 s per read, readings valid for 90 s.
    pub fn new() -> Self {
        let interval = Duration::from_secs(30);
        Self {
            sources: Vec::new(),
            tracker: None,
            schedule: Schedule { interval, timeout: Duration::from_secs(10), max_age: interval * 3 },
        }
    }

    /// How often each source is read (and the maximum age becomes three times this).
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.schedule.interval = interval;
        self.schedule.max_age = interval * 3;
        self
    }

    /// How long one read may take before it counts as timed out.
    pub fn source_timeout(mut self, timeout: Duration) -> Self {
        self.schedule.timeout = timeout;
        self
    }

    /// How old a reading may be and still be reported.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.schedule.max_age = max_age;
        self
    }

    fn add(mut self, spec: &'static InstrumentSpec, reader: Reader) -> Self {
        self.sources.push(Source { spec, reader });
        self
    }

    /// A count gauge read from a function (e.g. a database count).
    pub fn count<E: Display>(
        self,
        gauge: CountGauge,
        read: impl Fn() -> Result<i64, E> + Send + Sync + 'static,
    ) -> Self {
        self.add(
            gauge.spec(),
            Reader::Sync(Box::new(move || {
                Ok(vec![point(vec![], read().map_err(|e| e.to_string())? as f64)])
            })),
        )
    }

    /// A count gauge read from an async function (e.g. a vector store's count over the network).
    /// It is polled on the refresher's thread, so it must not need a particular runtime's reactor;
    /// with tokio, spawn the work on your runtime and await its `JoinHandle` here.
    pub fn count_async<E, F>(self, gauge: CountGauge, read: impl Fn() -> F + Send + Sync + 'static) -> Self
    where
        E: Display,
        F: Future<Output = Result<i64, E>> + Send + 'static,
    {
        let read = Arc::new(read);
        self.add(
            gauge.spec(),
            Reader::Async(Box::new(move || {
                let future = read();
                Box::pin(
                    async move { Ok(vec![point(vec![], future.await.map_err(|e| e.to_string())? as f64)]) },
                )
            })),
        )
    }

    /// `contextd_test_coverage_percent` from a function giving the percentage.
    pub fn coverage<E: Display>(self, read: impl Fn() -> Result<f64, E> + Send + Sync + 'static) -> Self {
        self.add(
            &instruments::TEST_COVERAGE_PERCENT,
            Reader::Sync(Box::new(move || {
                let percent = read().map_err(|e| e.to_string())?;
                if !(0.0..=100.0).contains(&percent) {
                    return Err(format!("coverage {percent} is outside 0..=100"));
                }
                Ok(vec![point(vec![], percent)])
            })),
        )
    }

    /// `contextd_test_coverage_percent` from the lcov, Cobertura or llvm-cov JSON report at `path`.
    pub fn coverage_report(self, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        self.coverage(move || read_coverage(&path).map(|c| c.percent))
    }

    /// `contextd_tests_total{type}` from a function.
    pub fn tests_by_type<E: Display>(
        self,
        read: impl Fn() -> Result<TestsByType, E> + Send + Sync + 'static,
    ) -> Self {
        self.add(
            &instruments::TESTS_TOTAL,
            Reader::Sync(Box::new(move || {
                let counts = read().map_err(|e| e.to_string())?;
                Ok(counts
                    .by_label()
                    .iter()
                    .map(|(t, n)| point(vec![KeyValue::new(labels::TEST_TYPE.name, *t)], *n as f64))
                    .collect())
            })),
        )
    }

    /// `contextd_tests_total{type}` from the JUnit report at `path`.
    pub fn junit_report(self, path: impl Into<PathBuf>, rules: TestTypeRules) -> Self {
        let path = path.into();
        self.tests_by_type(move || read_junit(&path, &rules))
    }

    /// `contextd_bugs_total{severity,status}` and `contextd_regression_tests_total{category}`
    /// from a scan of the `tests/regression` directory at `root`.
    pub fn regression_tree(self, root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let bugs_root = root.clone();
        self.add(
            &instruments::BUGS_TOTAL,
            Reader::Sync(Box::new(move || {
                let (bugs, _) = scan_regression_tree(&bugs_root).map_err(|e| e.to_string())?;
                Ok(bugs
                    .by_label()
                    .into_iter()
                    .map(|(severity, status, n)| {
                        point(
                            vec![
                                KeyValue::new(labels::SEVERITY.name, severity),
                                KeyValue::new(labels::BUG_STATUS.name, status),
                            ],
                            n as f64,
                        )
                    })
                    .collect())
            })),
        )
        .add(
            &instruments::REGRESSION_TESTS_TOTAL,
            Reader::Sync(Box::new(move || {
                let (_, tests) = scan_regression_tree(&root).map_err(|e| e.to_string())?;
                Ok(reports::CATEGORIES
                    .iter()
                    .zip(tests.counts)
                    .map(|(category, n)| {
                        point(vec![KeyValue::new(labels::CATEGORY.name, *category)], n as f64)
                    })
                    .collect())
            })),
        )
    }

    /// `contextd_embedding_cache_hit_ratio{model}` from cache statistics; a model without lookups
    /// reports nothing (0/0 is not a ratio).
    pub fn embedding_cache<E: Display>(
        self,
        read: impl Fn() -> Result<Vec<CacheStats>, E> + Send + Sync + 'static,
    ) -> Self {
        self.add(
            &instruments::EMBEDDING_CACHE_HIT_RATIO,
            Reader::Sync(Box::new(move || {
                let stats = read().map_err(|e| e.to_string())?;
                Ok(stats
                    .into_iter()
                    .filter(|s| s.hits + s.misses > 0)
                    .map(|s| {
                        let ratio = s.hits as f64 / (s.hits + s.misses) as f64;
                        point(vec![KeyValue::new(labels::MODEL.name, s.model)], ratio)
                    })
                    .collect())
            })),
        )
    }

    /// `contextd_skill_success_rate{skill_id}` from a tracker (in process: read at export time).
    pub fn skill_success(mut self, tracker: &'static SkillSuccessTracker) -> Self {
        self.tracker = Some(tracker);
        self
    }

    /// Starts one thread per source and registers the gauges through the catalog's one registry
    /// ([`contextd_metrics::on_bind_in`]): on the running telemetry's meter of contextd's scope
    /// (whichever catalog the pipeline was given), and again on that of every later `init`.
    ///
    /// # Errors
    /// A zero refresh interval, timeout or maximum age, or the same gauge registered twice.
    pub fn start(self) -> Result<RunningGauges, GaugeError> {
        let (mut running, register) = self.spawn()?;
        let scope = contextd_metrics::contextd::CATALOG.namespace;
        running.binder = Some(contextd_metrics::on_bind_in(scope, move |meter| register(meter)));
        Ok(running)
    }

    /// As [`start`](Self::start), on `meter` only: for a meter provider of your own (a test's,
    /// say) rather than the one `contextd_telemetry::init` runs.
    ///
    /// # Errors
    /// As for [`start`](Self::start).
    pub fn start_on(self, meter: &Meter) -> Result<RunningGauges, GaugeError> {
        let (running, register) = self.spawn()?;
        register(meter);
        Ok(running)
    }

    /// Starts the source threads; returns them and what registers the gauges on a meter.
    #[allow(clippy::type_complexity, reason = "one closure, built and used right here")]
    fn spawn(self) -> Result<(RunningGauges, Box<dyn Fn(&Meter) + Send + Sync>), GaugeError> {
        let Schedule { interval, timeout, max_age } = self.schedule;
        if interval.is_zero() || timeout.is_zero() || max_age.is_zero() {
            return Err(GaugeError(format!(
                "refresh interval ({interval:?}), source timeout ({timeout:?}) and max age ({max_age:?}) must be greater than 0"
            )));
        }
        let mut names: Vec<&str> = self.sources.iter().map(|s| s.spec.name).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(GaugeError(format!("{} has two sources; register one per gauge", pair[0])));
        }
        let stop = Arc::new(StopSignal::default());
        let mut running = RunningGauges { stop: stop.clone(), snapshots: Vec::new(), binder: None };
        let mut gauges: Vec<(&'static InstrumentSpec, Arc<Snapshot>)> = Vec::new();
        for source in self.sources {
            let snapshot = Arc::new(Snapshot::default());
            refresher::spawn(source.spec.name, source.reader, snapshot.clone(), self.schedule, stop.clone())
                .map_err(|e| {
                    GaugeError(format!("cannot start the source thread of {}: {e}", source.spec.name))
                })?;
            running.snapshots.push((source.spec.name, snapshot.clone()));
            gauges.push((source.spec, snapshot));
        }
        let snapshots = running.snapshots.clone();
        let tracker = self.tracker;
        let register_all = move |meter: &Meter| {
            for (spec, snapshot) in &gauges {
                let snapshot = snapshot.clone();
                register(meter, spec, move || snapshot.fresh(max_age).unwrap_or_default());
            }
            register_failures(meter, &snapshots);
            if let Some(tracker) = tracker {
                register(meter, &instruments::SKILL_SUCCESS_RATE, move || {
                    tracker
                        .rates()
                        .into_iter()
                        .map(|(id, rate)| point(vec![KeyValue::new(labels::SKILL_ID.name, id)], rate))
                        .collect()
                });
            }
        };
        Ok((running, Box::new(register_all)))
    }
}

/// `contextd_telemetry_gauge_source_failures_total{gauge, reason}` (reason: error, timeout,
/// panic), so a failing source shows on a dashboard and can raise an alert.
fn register_failures(meter: &Meter, snapshots: &[(&'static str, Arc<Snapshot>)]) {
    let snapshots = snapshots.to_vec();
    let spec = &self_metrics::GAUGE_SOURCE_FAILURES_TOTAL;
    let reasons = FAILURE_REASON.values.listed();
    meter
        .u64_observable_counter(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .with_callback(move |observer| {
            for (gauge, snapshot) in &snapshots {
                let counts = [&snapshot.errors, &snapshot.timeouts, &snapshot.panics];
                for (reason, count) in reasons.iter().zip(counts) {
                    observer.observe(
                        count.load(Ordering::Relaxed),
                        &[KeyValue::new(GAUGE.name, *gauge), KeyValue::new(FAILURE_REASON.name, *reason)],
                    );
                }
            }
        })
        .build();
}

/// Registers the observable gauge `spec` whose callback observes `points()`; a panic in it costs
/// this gauge's points for this export, nothing else.
fn register(
    meter: &Meter,
    spec: &'static InstrumentSpec,
    points: impl Fn() -> Vec<Point> + Send + Sync + 'static,
) {
    let safe_points = move || catch_unwind(AssertUnwindSafe(&points)).unwrap_or_default();
    match spec.value_type {
        ValueType::F64 => {
            meter
                .f64_observable_gauge(spec.name)
                .with_unit(spec.unit)
                .with_description(spec.description)
                .with_callback(move |observer| {
                    for p in safe_points() {
                        observer.observe(p.value, &p.labels);
                    }
                })
                .build();
        }
        _ => {
            meter
                .i64_observable_gauge(spec.name)
                .with_unit(spec.unit)
                .with_description(spec.description)
                .with_callback(move |observer| {
                    for p in safe_points() {
                        observer.observe(p.value as i64, &p.labels);
                    }
                })
                .build();
        }
    }
}

/// Started sources; dropping it stops their threads (a source stuck in a read finishes it first).
#[derive(Debug)]
pub struct RunningGauges {
    stop: Arc<StopSignal>,
    snapshots: Vec<(&'static str, Arc<Snapshot>)>,
    /// The registration on every binding's meter (for [`GaugeSources::start`]).
    binder: Option<contextd_metrics::Binder>,
}

/// Failures of one gauge's source since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceFailures {
    /// Reads that returned an error.
    pub errors: u64,
    /// Reads that took longer than the source timeout.
    pub timeouts: u64,
    /// Reads that panicked.
    pub panics: u64,
}

impl RunningGauges {
    /// Failures of the source feeding `gauge` (a catalog name), if one was registered.
    pub fn failures(&self, gauge: &str) -> Option<SourceFailures> {
        self.snapshots.iter().find(|(name, _)| *name == gauge).map(|(_, s)| SourceFailures {
            errors: s.errors.load(Ordering::Relaxed),
            timeouts: s.timeouts.load(Ordering::Relaxed),
            panics: s.panics.load(Ordering::Relaxed),
        })
    }

    /// Stops every source thread (as dropping does).
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for RunningGauges {
    fn drop(&mut self) {
        self.stop.stop();
    }
}
