//! Criterion benchmarks of the contextd telemetry crates.
//!
//! The per-call cost of `#[instrument_op]` beside the ways people time and count a call by
//! hand, all in one run on one machine (compare ratios, not absolute numbers):
//!
//! - `bare`: an empty function, the floor;
//! - `instrument_op (metrics only)` and `instrument_op (+ span in an unsampled trace)`;
//! - `hand-written OTel`: `Instant`, `Counter::add` and `Histogram::record` with static
//!   `[KeyValue]` slices, the usual way;
//! - `prometheus-client handles`: counter and histogram handles resolved once, `Instant` timing;
//! - clocks: an `Instant` pair and a `quanta` pair;
//! - `2 threads`: the wrapped call on one call site from two threads, per op;
//! - `sampled span`: the default configuration, where every root call starts a sampled span,
//!   beside what a Rust user would write instead: `#[tracing::instrument]` bridged by
//!   tracing-opentelemetry to the same SDK tracer, plus an OTel counter and histogram; and the
//!   floor under both, the SDK's span alone (built, made current, ended; no clock, no metrics).
//!   All end their spans into a processor that drops them, so export is not measured.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter as PromCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram as PromHistogram, exponential_buckets};

#[inline(never)]
fn bare(x: u64) -> u64 {
    black_box(x)
}

#[contextd_metrics::instrument_op("checkpoint", "create")]
#[inline(never)]
fn wrapped(x: u64) -> u64 {
    black_box(x)
}

/// The call timed and counted by hand with OTel instruments and static `[KeyValue]` slices.
#[inline(always)]
fn hand_written(x: u64, meters: &contextd_metrics::contextd::Meters) -> u64 {
    let started = Instant::now();
    let out = bare(black_box(x));
    meters
        .checkpoint_operations
        .add(1, &[KeyValue::new("operation", "create"), KeyValue::new("status", "success")]);
    meters
        .checkpoint_duration
        .record(started.elapsed().as_secs_f64(), &[KeyValue::new("operation", "create")]);
    out
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    operation: &'static str,
    status: &'static str,
}

fn per_call(c: &mut Criterion) {
    let provider = SdkMeterProvider::builder().with_reader(ManualReader::builder().build()).build();
    let meter = provider.meter(contextd_metrics::contextd::CATALOG.namespace);
    // Bound as contextd_telemetry binds: counters and float histograms into a pipeline's striped series.
    let store = std::sync::Arc::new(contextd_metrics::striped::SeriesStore::new());
    contextd_metrics::bind_global_with(&meter, None, Some(store.clone()));
    // The hand-written peers record on the SDK's own instruments.
    let meters = contextd_metrics::contextd::Meters::new(&meter);

    let family = Family::<OpLabels, PromCounter>::default();
    let prom_counter = family.get_or_create(&OpLabels { operation: "create", status: "success" }).clone();
    let prom_histogram = PromHistogram::new(exponential_buckets(0.005, 2.0, 12));

    let mut group = c.benchmark_group("per call");
    group.bench_function("bare", |b| b.iter(|| bare(black_box(1))));
    group.bench_function("instrument_op (metrics only)", |b| b.iter(|| wrapped(black_box(1))));
    let hand_written = || hand_written(black_box(1), &meters);
    group.bench_function("hand-written OTel", |b| b.iter(hand_written));
    let prometheus = || {
        let started = Instant::now();
        let out = bare(black_box(1));
        prom_counter.inc();
        prom_histogram.observe(started.elapsed().as_secs_f64());
        out
    };
    group.bench_function("prometheus-client handles", |b| b.iter(prometheus));
    group.bench_function("clock: Instant pair", |b| b.iter(|| Instant::now().elapsed()));
    let clock = quanta::Clock::new();
    group.bench_function("clock: quanta pair", |b| {
        b.iter(|| {
            let start = clock.raw();
            clock.delta(start, clock.raw())
        })
    });
    group.bench_function("2 threads: instrument_op, one call site (per op)", |b| {
        b.iter_custom(|iters| two_threads(iters, || wrapped(black_box(1))))
    });
    group.bench_function("2 threads: hand-written OTel (per op)", |b| {
        b.iter_custom(|iters| two_threads(iters, hand_written))
    });
    group.bench_function("2 threads: prometheus-client handles (per op)", |b| {
        b.iter_custom(|iters| two_threads(iters, prometheus))
    });

    // Spans on, inside a trace that is not sampled (the parent-based default then records
    // nothing): what most calls cost in a service that samples a share of its requests.
    let tracer_provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let tracer = opentelemetry::trace::TracerProvider::tracer(&tracer_provider, "contextd");
    contextd_metrics::bind_global_with(&meter, Some(tracer), Some(store.clone()));
    let unsampled = opentelemetry::trace::SpanContext::new(
        opentelemetry::trace::TraceId::from(7u128),
        opentelemetry::trace::SpanId::from(7u64),
        opentelemetry::trace::TraceFlags::default(),
        true,
        opentelemetry::trace::TraceState::default(),
    );
    let _parent = opentelemetry::Context::new().with_remote_span_context(unsampled).attach();
    group
        .bench_function("instrument_op (+ span in an unsampled trace)", |b| b.iter(|| wrapped(black_box(1))));
    drop(_parent);
    group.finish();
    sampled_spans(c, &meter, &meters, &store);
    contextd_metrics::unbind_global_meters();
}

/// Ends spans into nothing: both sides of the sampled comparison build, record and end real
/// SDK spans, and neither pays for an exporter.
#[derive(Debug)]
struct DropSpans;

impl opentelemetry_sdk::trace::SpanProcessor for DropSpans {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}
    fn on_end(&self, span: opentelemetry_sdk::trace::SpanData) {
        black_box(span);
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

/// What a Rust user writes without us: a `tracing` span around the hand-written metrics.
#[tracing::instrument(name = "checkpoint.create", skip_all)]
#[inline(never)]
fn peer(x: u64, meters: &contextd_metrics::contextd::Meters) -> u64 {
    hand_written(x, meters)
}

/// The floor under a sampled wrapped call: what the OpenTelemetry API and SDK make anyone who
/// keeps the span current during the call pay (the parent context read, the span built, its
/// context made current and restored, the span ended into the processor), with no clock read,
/// no metrics and no context cloned.
#[inline(never)]
fn sdk_span_alone(tracer: &opentelemetry_sdk::trace::SdkTracer, at: std::time::SystemTime, x: u64) -> u64 {
    use opentelemetry::trace::{TraceContextExt as _, Tracer as _};
    let parent = opentelemetry::Context::current();
    let builder = opentelemetry::trace::SpanBuilder::from_name("checkpoint.create").with_start_time(at);
    let _current = parent.with_span(tracer.build_with_context(builder, &parent)).attach();
    let ret = black_box(x) + 1;
    opentelemetry::Context::map_current(|cx| cx.span().end_with_timestamp(at));
    ret
}

fn sampled_spans(
    c: &mut Criterion,
    meter: &opentelemetry::metrics::Meter,
    meters: &contextd_metrics::contextd::Meters,
    store: &std::sync::Arc<contextd_metrics::striped::SeriesStore>,
) {
    use tracing_subscriber::layer::SubscriberExt as _;
    // The SDK's default sampler (parent-based, always on): every root call is sampled.
    let provider =
        opentelemetry_sdk::trace::SdkTracerProvider::builder().with_span_processor(DropSpans).build();
    let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "contextd");
    contextd_metrics::bind_global_with(meter, Some(tracer.clone()), Some(store.clone()));
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer.clone()));
    // Global, so the second thread of the two-thread runs sees it too.
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this bench binary");
    let mut group = c.benchmark_group("sampled span");
    group.bench_function("instrument_op", |b| b.iter(|| wrapped(black_box(1))));
    group.bench_function("tracing::instrument + tracing-opentelemetry + OTel metrics", |b| {
        b.iter(|| peer(black_box(1), meters))
    });
    let at = std::time::SystemTime::now();
    group.bench_function("the SDK's span alone", |b| b.iter(|| sdk_span_alone(&tracer, at, black_box(1))));
    group.bench_function("2 threads: instrument_op (per op)", |b| {
        b.iter_custom(|iters| two_threads(iters, || wrapped(black_box(1))))
    });
    group.bench_function("2 threads: tracing + tracing-opentelemetry + OTel metrics (per op)", |b| {
        b.iter_custom(|iters| two_threads(iters, || peer(black_box(1), meters)))
    });
    group.finish();
}

/// Runs `iters` calls on this thread and on a second one at once; both do `iters` calls, so the
/// slower thread's time is the time per op at two-way concurrency.
fn two_threads<F: Fn() -> u64 + Sync>(iters: u64, call: F) -> Duration {
    std::thread::scope(|scope| {
        let run = || {
            let started = Instant::now();
            for _ in 0..iters {
                black_box(call());
            }
            started.elapsed()
        };
        let other = scope.spawn(run);
        let mine = run();
        mine.max(other.join().unwrap())
    })
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = per_call
}
criterion_main!(benches);
