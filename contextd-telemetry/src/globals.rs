//! The process-wide state telemetry takes, installed and removed in one place: the claim that
//! one telemetry instance runs at a time, the global meter and tracer providers, the global
//! text-map propagator (`OTEL_PROPAGATORS`), and the binding of `contextd_metrics` (its
//! `meters()`, call sites and gauges). Each is a value that undoes
//! itself when dropped, so no path can forget a step.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::noop::NoopTextMapPropagator;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

use crate::config::Propagator;
use crate::error::TelemetryError;

/// Set while an instance runs, so a second `init` is refused instead of replacing providers
/// under a running service.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// The claim on the process; released when dropped unless it became [`Globals`].
#[derive(Debug)]
pub(crate) struct Claim(());

impl Claim {
    /// Claims the process for one telemetry instance.
    pub(crate) fn take() -> Result<Self, TelemetryError> {
        ACTIVE
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .map(|_| Self(()))
            .map_err(|_| TelemetryError::AlreadyInitialized)
    }

    /// Points the globals at these providers and binds `contextd_metrics` to them, each catalog
    /// under its own scope; wrapped operations start spans when `spans` is set.
    pub(crate) fn install(
        self,
        scope: &'static str,
        meters: &SdkMeterProvider,
        striped: &crate::striped::StripedSeries,
        tracers: &SdkTracerProvider,
        spans: bool,
        propagators: &[Propagator],
    ) -> Globals {
        opentelemetry::global::set_meter_provider(meters.clone());
        opentelemetry::global::set_tracer_provider(tracers.clone());
        let propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>> = propagators
            .iter()
            .map(|p| -> Box<dyn TextMapPropagator + Send + Sync> {
                match p {
                    Propagator::TraceContext => Box::new(TraceContextPropagator::new()),
                    Propagator::Baggage => Box::new(BaggagePropagator::new()),
                }
            })
            .collect();
        opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(propagators));
        *SCOPE.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = scope;
        contextd_metrics::bind_pipeline(contextd_metrics::Pipeline {
            meters: meters.clone(),
            tracers: spans.then(|| tracers.clone()),
            store: Some(striped.store()),
            scope,
        });
        Globals { claim: Some(self) }
    }
}

/// The instrumentation scope of the running instance: its catalog's namespace.
static SCOPE: std::sync::Mutex<&'static str> = std::sync::Mutex::new("unbound");

/// The instrumentation scope the spans of this crate's own layers (HTTP, `tracing` bridge) are
/// created under: the catalog namespace of the running instance.
pub(crate) fn scope() -> &'static str {
    *SCOPE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Drop for Claim {
    fn drop(&mut self) {
        ACTIVE.store(false, Ordering::SeqCst);
    }
}

/// The installed globals; dropping them points everything back at no-op providers, so nothing
/// records into a shut-down pipeline, and releases the claim.
#[derive(Debug)]
pub(crate) struct Globals {
    claim: Option<Claim>,
}

impl Globals {
    /// Removes the globals now and hands back the claim, to drop once the pipeline has stopped,
    /// so no second instance starts while this one still flushes.
    pub(crate) fn uninstall(mut self) -> Option<Claim> {
        self.claim.take()
    }
}

impl Drop for Globals {
    fn drop(&mut self) {
        opentelemetry::global::set_meter_provider(opentelemetry::metrics::noop::NoopMeterProvider::new());
        opentelemetry::global::set_tracer_provider(opentelemetry::trace::noop::NoopTracerProvider::new());
        opentelemetry::global::set_text_map_propagator(NoopTextMapPropagator::new());
        contextd_metrics::unbind_global_meters();
    }
}
