//! Criterion benchmarks of the contextd telemetry crates.
//!
//! What one export costs as the number of series grows: the time to collect N series and encode
//! them as the OTLP protobuf request the exporter sends (the SDK's collection plus the striped
//! series, by the exporter's own code), the request's size, and the heap held per series. N = 100, 1 000, 2 000 (the SDK's default cardinality
//! limit per instrument) and 10 000 (with the limit raised by a view, as a service with that many
//! series would need). Sizes and memory are printed and written to
//! `target/criterion/contextd-export-memory.json` for `perf-report`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use contextd_metrics::Destination;
use contextd_telemetry::__private::ExportPath;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{ManualReader, Pipeline, SdkMeterProvider, Temporality};

/// Counts live heap bytes, to measure what the SDK keeps per series.
struct LiveBytes;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for LiveBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as for `alloc`, and `ptr` came from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: LiveBytes = LiveBytes;

const SIZES: [usize; 4] = [100, 1_000, 2_000, 10_000];

/// A manual reader the provider and the benchmark share.
#[derive(Debug, Clone)]
struct Shared(std::sync::Arc<ManualReader>);

impl MetricReader for Shared {
    fn register_pipeline(&self, pipeline: std::sync::Weak<Pipeline>) {
        self.0.register_pipeline(pipeline);
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: opentelemetry_sdk::metrics::InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// What one export reads: the SDK's reader and the pipeline's striped series.
struct Recorded {
    _provider: SdkMeterProvider,
    reader: Shared,
    path: ExportPath,
}

/// A pipeline with `series` series of the database duration histogram (the catalog's widest
/// label set: operation × database), recorded as `contextd_telemetry` records them.
fn pipeline_with(series: usize) -> Recorded {
    let reader = Shared(std::sync::Arc::new(ManualReader::builder().build()));
    let provider = SdkMeterProvider::builder().with_reader(reader.clone()).build();
    let namespace = contextd_metrics::contextd::CATALOG.namespace;
    let path = ExportPath::new(series + 10);
    let meter = provider.meter(namespace);
    let store = path.store();
    let meters = contextd_metrics::contextd::Meters::on(&Destination {
        meter: &meter,
        store: Some(&store),
        scope: namespace,
    });
    for i in 0..series {
        let attrs =
            [KeyValue::new("operation", "search"), KeyValue::new("database", format!("project_{i:06}"))];
        meters.database_duration.record(0.004, &attrs);
    }
    Recorded { _provider: provider, reader, path }
}

fn collect_and_encode(pipeline: &Recorded) -> Vec<u8> {
    let mut metrics = ResourceMetrics::default();
    pipeline.reader.collect(&mut metrics).expect("collect");
    pipeline.path.encode(&metrics)
}

fn export(c: &mut Criterion) {
    let mut report = Vec::new();
    // The heap of a provider with no series: subtracted, so what remains is per-series cost.
    let before = LIVE.load(Ordering::SeqCst);
    let empty = pipeline_with(0);
    let baseline = LIVE.load(Ordering::SeqCst) - before;
    drop(empty);
    let mut group = c.benchmark_group("export: collect + encode OTLP");
    group.sample_size(20);
    for series in SIZES {
        let before = LIVE.load(Ordering::SeqCst);
        let pipeline = pipeline_with(series);
        // After one export: what the series keep for the exporter counts too.
        let bytes = collect_and_encode(&pipeline).len();
        let held = LIVE.load(Ordering::SeqCst) - before - baseline;
        println!(
            "export of {series} series: {bytes} bytes on the wire ({} per series), heap {} bytes per series",
            bytes / series,
            held as usize / series
        );
        report.push(format!(
            "{{\"series\": {series}, \"request_bytes\": {bytes}, \"heap_bytes_per_series\": {}}}",
            held as usize / series
        ));
        group.bench_with_input(BenchmarkId::from_parameter(series), &pipeline, |b, pipeline| {
            b.iter(|| collect_and_encode(pipeline))
        });
        drop(pipeline);
    }
    group.finish();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/criterion/contextd-export-memory.json");
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = std::fs::write(&path, format!("[{}]\n", report.join(",\n"))) {
        eprintln!("cannot write {}: {e}", path.display());
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(500));
    targets = export
}
criterion_main!(benches);
