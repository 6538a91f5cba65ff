//! Recording on a warm series with static attributes allocates nothing: measured with a
//! counting global allocator on the recording thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use contextd_metrics::Destination;
use contextd_metrics::contextd::Meters;
use contextd_metrics::striped::SeriesStore;
use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the wrapper only counts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: as for `alloc`, and `ptr` came from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[contextd_metrics::instrument_op("checkpoint", "create")]
fn create(fail: bool) -> Result<u32, String> {
    if fail { Err(String::new()) } else { Ok(1) }
}

#[contextd_metrics::instrument_op("database", "search", database = "shared", collection = collection)]
fn search(collection: &str) -> usize {
    collection.len()
}

/// Tests that bind the global meters take turns.
static GLOBAL_BINDING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn warm_counter_and_histogram_recording_allocates_nothing() {
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
        .build();
    let meter = provider.meter(contextd_metrics::contextd::CATALOG.namespace);
    // On the SDK's instruments, and on a telemetry pipeline's striped series.
    let store = SeriesStore::new();
    for store in [None, Some(&store)] {
        let meters = Meters::on(&Destination {
            meter: &meter,
            store,
            scope: contextd_metrics::contextd::CATALOG.namespace,
        });
        const ATTRS: fn() -> [KeyValue; 2] =
            || [KeyValue::new("operation", "create"), KeyValue::new("status", "success")];
        let record = || {
            meters.checkpoint_operations.add(1, &ATTRS());
            meters.checkpoint_duration.record(0.003, &ATTRS()[..1]);
        };
        // The first call creates the series (that allocates, once).
        assert!(allocations_during(record) > 0, "the counting allocator does not count");
        let warm = allocations_during(|| {
            for _ in 0..10_000 {
                record();
            }
        });
        assert_eq!(warm, 0, "allocations in 10 000 warm calls (striped: {})", store.is_some());
    }
    provider.shutdown().unwrap();
}

#[test]
fn warm_instrumented_calls_allocate_nothing() {
    let _turn = GLOBAL_BINDING.lock().unwrap_or_else(|p| p.into_inner());
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
        .build();
    let meter = provider.meter(contextd_metrics::contextd::CATALOG.namespace);
    for store in [None, Some(std::sync::Arc::new(SeriesStore::new()))] {
        let striped = store.is_some();
        contextd_metrics::bind_global_with(&meter, None, store);
        let calls = || {
            let _ = create(false);
            let _ = search("checkpoints");
        };
        assert!(allocations_during(calls) > 0, "the first calls bind their handles");
        let warm = allocations_during(|| {
            for _ in 0..10_000 {
                calls();
            }
        });
        assert_eq!(warm, 0, "allocations in 10 000 warm wrapped calls of each form (striped: {striped})");
    }
    contextd_metrics::unbind_global_meters();
    provider.shutdown().unwrap();
}

#[test]
fn warm_calls_inside_an_unsampled_trace_allocate_nothing() {
    let _turn = GLOBAL_BINDING.lock().unwrap_or_else(|p| p.into_inner());
    use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState};
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
        .build();
    let tracer_provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let tracer = opentelemetry::trace::TracerProvider::tracer(&tracer_provider, "contextd");
    contextd_metrics::bind_global(
        &provider.meter(contextd_metrics::contextd::CATALOG.namespace),
        Some(tracer),
    );
    // A request whose trace is not sampled: the parent-based sampler drops the operation spans.
    let parent = SpanContext::new(
        TraceId::from(1u128),
        SpanId::from(1u64),
        TraceFlags::default(),
        true,
        TraceState::default(),
    );
    let _request = opentelemetry::Context::new().with_remote_span_context(parent).attach();
    let calls = || {
        let _ = create(false);
    };
    calls();
    let warm = allocations_during(|| {
        for _ in 0..10_000 {
            calls();
        }
    });
    assert_eq!(warm, 0, "allocations in 10 000 warm calls with spans on, trace unsampled");
    contextd_metrics::unbind_global_meters();
}
