//! Criterion benchmarks of the contextd telemetry crates.
//!
//! The cost of one counter increment and one histogram record, through `Meters` (static
//! attributes, attributes built from arguments, bound handles) beside metrics-rs handles,
//! prometheus-client handles and the floor (a raw atomic add), on 1 and 2 threads.
//!
//! `cargo bench -p contextd-benches` runs it with the other suites; compare within one run.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use contextd_metrics::contextd::Meters;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime};
use metrics_util::registry::{AtomicStorage, Registry};
use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter as PromCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram as PromHistogram;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    operation: &'static str,
    status: &'static str,
}

/// Runs `f` `iters` times on this thread and on a second one at once; the slower thread's
/// time is the time per op at two-way concurrency.
fn two_threads(iters: u64, f: &(dyn Fn() + Sync)) -> Duration {
    std::thread::scope(|scope| {
        let run = || {
            let started = Instant::now();
            for _ in 0..iters {
                f();
            }
            started.elapsed()
        };
        let other = scope.spawn(run);
        let mine = run();
        mine.max(other.join().unwrap())
    })
}

/// Benchmarks `f` alone and from two threads.
fn both(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, f: &(dyn Fn() + Sync)) {
    group.bench_function(name, |b| b.iter(f));
    group.bench_function(format!("2 threads: {name}"), |b| b.iter_custom(|iters| two_threads(iters, f)));
}

fn counters(c: &mut Criterion) {
    let provider = SdkMeterProvider::builder().with_reader(ManualReader::builder().build()).build();
    let meters = Meters::new(&provider.meter(contextd_metrics::contextd::CATALOG.namespace));
    let bound = meters
        .checkpoint_operations
        .bind(&[KeyValue::new("operation", "create"), KeyValue::new("status", "success")]);
    let operation = String::from("create");

    let registry = Registry::<metrics::Key, AtomicStorage>::atomic();
    let key = metrics::Key::from_parts(
        "contextd_checkpoint_operations_total",
        vec![metrics::Label::new("operation", "create"), metrics::Label::new("status", "success")],
    );
    let metrics_rs = metrics::Counter::from_arc(registry.get_or_create_counter(&key, Arc::clone));

    let family = Family::<OpLabels, PromCounter>::default();
    let prometheus = family.get_or_create(&OpLabels { operation: "create", status: "success" }).clone();
    let atomic = AtomicU64::new(0);

    let mut group = c.benchmark_group("counter add");
    both(&mut group, "floor: atomic add", &|| {
        atomic.fetch_add(black_box(1), Ordering::Relaxed);
    });
    both(&mut group, "Meters, static attributes", &|| {
        meters
            .checkpoint_operations
            .add(black_box(1), &[KeyValue::new("operation", "create"), KeyValue::new("status", "success")])
    });
    both(&mut group, "Meters, attributes from arguments", &|| {
        meters.checkpoint_operations.add(
            black_box(1),
            &[KeyValue::new("operation", operation.clone()), KeyValue::new("status", "success")],
        )
    });
    both(&mut group, "Meters, bound", &|| bound.add(black_box(1)));
    both(&mut group, "metrics-rs handle", &|| metrics_rs.increment(black_box(1)));
    both(&mut group, "prometheus-client handle", &|| {
        prometheus.inc_by(black_box(1));
    });
    group.finish();
}

fn histograms(c: &mut Criterion) {
    let provider = SdkMeterProvider::builder().with_reader(ManualReader::builder().build()).build();
    let meters = Meters::new(&provider.meter(contextd_metrics::contextd::CATALOG.namespace));
    let bound = meters.checkpoint_duration.bind(&[KeyValue::new("operation", "create")]);
    let operation = String::from("create");

    let registry = Registry::<metrics::Key, AtomicStorage>::atomic();
    let key = metrics::Key::from_parts(
        "contextd_checkpoint_duration_seconds",
        vec![metrics::Label::new("operation", "create")],
    );
    let metrics_rs = metrics::Histogram::from_arc(registry.get_or_create_histogram(&key, Arc::clone));
    let prometheus =
        PromHistogram::new(contextd_metrics::contextd::buckets::DURATION_SECONDS.iter().copied());

    let striped = contextd_metrics::striped::AtomicHistogram::new(
        contextd_metrics::contextd::buckets::DURATION_SECONDS,
    );

    let mut group = c.benchmark_group("histogram record");
    both(&mut group, "Meters, static attributes", &|| {
        meters.checkpoint_duration.record(black_box(0.012), &[KeyValue::new("operation", "create")])
    });
    both(&mut group, "Meters, attributes from arguments", &|| {
        meters.checkpoint_duration.record(black_box(0.012), &[KeyValue::new("operation", operation.clone())])
    });
    both(&mut group, "Meters, bound", &|| bound.record(black_box(0.012)));
    both(&mut group, "AtomicHistogram alone", &|| striped.record(black_box(0.012)));
    both(&mut group, "metrics-rs handle", &|| metrics_rs.record(black_box(0.012)));
    both(&mut group, "prometheus-client handle", &|| prometheus.observe(black_box(0.012)));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    targets = counters, histograms
}
criterion_main!(benches);
