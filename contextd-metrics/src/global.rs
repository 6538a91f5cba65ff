//! `meters()`: the process-wide `Meters`, bound to the global meter provider by
//! `contextd_telemetry::init`.
//!
//! OpenTelemetry instruments taken from a provider keep recording into that provider, so the
//! global `Meters` must be rebuilt when telemetry is (re)initialised. Each binding is leaked on
//! purpose: a `&'static Meters` handed out earlier must stay valid, and a process initialises
//! telemetry a handful of times at most (once in production, once per test in test suites).

use std::sync::LazyLock;
use std::sync::atomic::{AtomicPtr, Ordering};

use opentelemetry::metrics::{Meter, MeterProvider as _};

use crate::Meters;

/// Instruments from a no-op provider: what `meters()` returns before telemetry is initialised.
static UNBOUND: LazyLock<Meters> = LazyLock::new(|| {
    Meters::new(&opentelemetry::metrics::noop::NoopMeterProvider::new().meter(crate::METER_NAME))
});

/// The current binding; null until the first `bind_global_meters`.
static BOUND: AtomicPtr<Meters> = AtomicPtr::new(std::ptr::null_mut());

/// The process-wide [`Meters`]. Before telemetry is initialised it records into nothing; after
/// `contextd_telemetry::init()` it records into the global meter provider.
///
/// It costs one atomic load. Call it where you record rather than keeping the reference across
/// an initialisation: a reference taken before `init` keeps recording into nothing.
///
/// ```
/// use opentelemetry::KeyValue;
///
/// contextd_metrics::meters().skill_operations.add(
///     1,
///     &[KeyValue::new("operation", "apply"), KeyValue::new("status", "success")],
/// );
/// ```
pub fn meters() -> &'static Meters {
    let bound = BOUND.load(Ordering::Acquire);
    if bound.is_null() {
        return &UNBOUND;
    }
    // SAFETY: every non-null value stored in BOUND comes from `Box::leak` in
    // `bind_global_meters` and is never freed, so it is valid for 'static and never mutated.
    unsafe { &*bound }
}

/// Rebinds [`meters()`] to instruments created on `meter`. Called by `contextd_telemetry`
/// after it sets the global meter provider, and with a no-op meter at shutdown.
#[doc(hidden)]
pub fn bind_global_meters(meter: &Meter) {
    let leaked: &'static mut Meters = Box::leak(Box::new(Meters::new(meter)));
    BOUND.store(leaked, Ordering::Release);
}
