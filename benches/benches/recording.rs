//! Criterion benchmarks of the contextd telemetry crates.
//!
//! The cost of recording one measurement through `Meters`, beside its floors: a raw atomic add
//! (the least any counter can cost) and a clock read pair (what any duration costs).
//!
//! Run with `cargo bench -p contextd-benches --bench recording`; compare ratios within one run.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use contextd_metrics::Meters;
use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};

fn recording(c: &mut Criterion) {
    let provider = SdkMeterProvider::builder().with_reader(ManualReader::builder().build()).build();
    let meters = Meters::new(&provider.meter(contextd_metrics::METER_NAME));
    let mut group = c.benchmark_group("recording");

    let atomic = AtomicU64::new(0);
    group.bench_function("floor: atomic add", |b| {
        b.iter(|| atomic.fetch_add(black_box(1), Ordering::Relaxed))
    });
    group.bench_function("floor: two clock reads", |b| {
        b.iter(|| {
            let start = Instant::now();
            black_box(start.elapsed())
        })
    });
    group.bench_function("Meters counter add, 2 static attributes", |b| {
        b.iter(|| {
            meters.checkpoint_operations.add(
                black_box(1),
                &[KeyValue::new("operation", "create"), KeyValue::new("status", "success")],
            )
        })
    });
    group.bench_function("Meters histogram record, 1 static attribute", |b| {
        b.iter(|| {
            meters.checkpoint_duration.record(black_box(0.012), &[KeyValue::new("operation", "create")])
        })
    });
    group.finish();
}

criterion_group!(benches, recording);
criterion_main!(benches);
