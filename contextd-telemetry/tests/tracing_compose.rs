//! `init()` leaves the process's `tracing` subscriber to the service: a service that installs
//! its own before `init` or after it neither panics nor loses spans. (One process: the global
//! subscriber is set once, before `init`, as most services do in `main`.)

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{HttpTraceReceiver, eventually};
use contextd_telemetry::{MetricsExporter, SamplerConfig, TelemetryConfig};
use tracing_subscriber::layer::SubscriberExt as _;

/// A layer of the service's own: counts the events it sees.
struct Counting(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Counting {
    fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[contextd_metrics::instrument_op("checkpoint", "create")]
fn create_checkpoint() -> Result<(), String> {
    tracing::info!("saving");
    let _scan = tracing::info_span!("vectorstore.scan").entered();
    Ok(())
}

fn span_names(receiver: &HttpTraceReceiver) -> Vec<String> {
    receiver
        .received
        .spans()
        .into_iter()
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .map(|s| s.name)
        .collect()
}

#[test]
fn a_subscriber_installed_before_and_one_composed_after_init_both_work() {
    // Before init: the service's own global subscriber (think `tracing_subscriber::fmt::init()`).
    let before = Arc::new(AtomicUsize::new(0));
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Counting(before.clone())))
        .expect("the service owns the global subscriber");

    let receiver = HttpTraceReceiver::start();
    let telemetry = TelemetryConfig::from_lookup(|_| None)
        .unwrap()
        .with_metrics_exporter(MetricsExporter::None)
        .with_otlp_traces_endpoint(receiver.traces_endpoint())
        .with_sampler(SamplerConfig::AlwaysOn)
        .init()
        .expect("init leaves the service's subscriber alone");
    create_checkpoint().unwrap();
    assert!(before.load(Ordering::SeqCst) >= 1, "the service's subscriber still sees its events");

    // After init: a subscriber composed with our layer (scoped to this thread for the test).
    let after = Arc::new(AtomicUsize::new(0));
    {
        let subscriber =
            tracing_subscriber::registry().with(telemetry.tracing_layer()).with(Counting(after.clone()));
        let _scoped = tracing::subscriber::set_default(subscriber);
        let _request = tracing::info_span!("mcp.request").entered();
        create_checkpoint().unwrap();
    }
    assert!(after.load(Ordering::SeqCst) >= 1, "the composed subscriber sees the events");

    telemetry.force_flush().unwrap();
    let names = eventually(Duration::from_secs(10), "every span", || {
        let names = span_names(&receiver);
        (names.iter().filter(|n| *n == "checkpoint.create").count() == 2
            && names.iter().any(|n| n == "mcp.request"))
        .then_some(names)
    });
    // The wrapped operation's spans arrive either way; `tracing` spans where our layer composes.
    assert!(names.contains(&"vectorstore.scan".to_owned()), "{names:?}");
    telemetry.shutdown().unwrap();
}
