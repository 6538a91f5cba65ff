//! `meters()`: the process-wide `Meters`, bound to the global meter provider by
//! `contextd_telemetry::init` — the one registry that every recording path binds through:
//! `meters()`, the `#[instrument_op]` call sites (by generation) and the observable
//! instruments registered with [`on_bind`] (the gauges), which are created anew on the meter of
//! every binding.
//!
//! OpenTelemetry instruments taken from a provider keep recording into that provider, so the
//! global `Meters` must be rebuilt when telemetry is (re)initialised. Each binding is leaked on
//! purpose: a `&'static Meters` handed out earlier must stay valid, and a process initialises
//! telemetry a handful of times at most (once in production, once per test in test suites).

use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry_sdk::trace::SdkTracer;

use crate::Meters;

/// Instruments from a no-op provider: what `meters()` returns before telemetry is initialised.
static UNBOUND: LazyLock<Meters> = LazyLock::new(|| {
    Meters::new(&opentelemetry::metrics::noop::NoopMeterProvider::new().meter(crate::METER_NAME))
});

/// One binding: the meters and a number that changes with every binding, so that call sites
/// can tell their cached handles are stale.
#[derive(Debug)]
struct BoundMeters {
    generation: u64,
    meters: Meters,
    tracer: Option<SdkTracer>,
}

/// What registers observable instruments on a binding's meter.
type Register = Arc<dyn Fn(&Meter) + Send + Sync>;

/// The registrations of [`on_bind`], and the meter of the current binding. One lock orders
/// binding and registering, so no registration is made twice or missed.
struct Binders {
    next_id: u64,
    registered: Vec<(u64, Register)>,
    meter: Option<Meter>,
}

static BINDERS: Mutex<Binders> = Mutex::new(Binders { next_id: 0, registered: Vec::new(), meter: None });

fn binders() -> MutexGuard<'static, Binders> {
    // A panicking registration cannot leave the list half-changed: recover it.
    BINDERS.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Keeps a registration of [`on_bind`] alive; dropping it stops it being made on later bindings
/// (instruments already created stay with their meter provider until it shuts down).
#[derive(Debug)]
#[must_use = "dropping the Binder ends the registration"]
pub struct Binder {
    id: u64,
}

impl Drop for Binder {
    fn drop(&mut self) {
        binders().registered.retain(|(id, _)| *id != self.id);
    }
}

/// Calls `register` with the meter of the current binding, if telemetry is running, and again
/// with the meter of every later binding (each `contextd_telemetry::init`), until the returned
/// [`Binder`] is dropped. For observable instruments: they belong to one meter provider, so
/// they must be created again on the next one.
///
/// ```
/// let _binder = contextd_metrics::on_bind(|meter| {
///     meter.u64_observable_gauge("queue_depth").with_callback(|o| o.observe(3, &[])).build();
/// });
/// ```
pub fn on_bind(register: impl Fn(&opentelemetry::metrics::Meter) + Send + Sync + 'static) -> Binder {
    let register: Register = Arc::new(register);
    let mut binders = binders();
    let id = binders.next_id;
    binders.next_id += 1;
    if let Some(meter) = &binders.meter {
        register(meter);
    }
    binders.registered.push((id, register));
    Binder { id }
}

/// The current binding; null while telemetry is not running.
static BOUND: AtomicPtr<BoundMeters> = AtomicPtr::new(std::ptr::null_mut());
static GENERATIONS: AtomicU64 = AtomicU64::new(0);

/// What `meters()` is bound to right now.
pub(crate) enum Binding {
    /// Telemetry is not running: record nothing.
    Unbound,
    /// Telemetry is running with these meters.
    Bound { generation: u64, meters: &'static Meters, tracer: Option<&'static SdkTracer> },
}

#[inline]
pub(crate) fn binding() -> Binding {
    #[cfg(feature = "testing")]
    if let Some(local) = THREAD_BOUND.with(std::cell::Cell::get) {
        return Binding::Bound { generation: local.generation, meters: &local.meters, tracer: None };
    }
    let bound = BOUND.load(Ordering::Acquire);
    if bound.is_null() {
        return Binding::Unbound;
    }
    // SAFETY: every non-null value stored in BOUND comes from `Box::leak` in
    // `bind_global` and is never freed, so it is valid for 'static and never mutated.
    let bound = unsafe { &*bound };
    Binding::Bound { generation: bound.generation, meters: &bound.meters, tracer: bound.tracer.as_ref() }
}

#[cfg(feature = "testing")]
thread_local! {
    /// A binding for this thread only (a `testing::Capture`), in front of the process's.
    static THREAD_BOUND: std::cell::Cell<Option<&'static BoundMeters>> = const { std::cell::Cell::new(None) };
}

/// A thread's own binding, undone when dropped (restoring the one it replaced).
#[cfg(feature = "testing")]
#[derive(Debug)]
pub(crate) struct ThreadBinding {
    previous: Option<&'static BoundMeters>,
}

/// Binds `meters()` and the call sites to instruments on `meter` for this thread only.
#[cfg(feature = "testing")]
pub(crate) fn bind_thread(meter: &Meter) -> ThreadBinding {
    let generation = GENERATIONS.fetch_add(1, Ordering::Relaxed) + 1;
    let bound: &'static BoundMeters =
        Box::leak(Box::new(BoundMeters { generation, meters: Meters::new(meter), tracer: None }));
    ThreadBinding { previous: THREAD_BOUND.with(|local| local.replace(Some(bound))) }
}

#[cfg(feature = "testing")]
impl Drop for ThreadBinding {
    fn drop(&mut self) {
        THREAD_BOUND.with(|local| local.set(self.previous));
    }
}

/// The process-wide [`Meters`]. Before telemetry is initialised (and after it is shut down) it
/// records into nothing; after `contextd_telemetry::init()` it records into the global meter
/// provider.
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
#[inline]
pub fn meters() -> &'static Meters {
    match binding() {
        Binding::Bound { meters, .. } => meters,
        Binding::Unbound => &UNBOUND,
    }
}

/// Rebinds [`meters()`] and every `#[instrument_op]` call site to instruments created on
/// `meter`, without spans.
#[doc(hidden)]
pub fn bind_global_meters(meter: &Meter) {
    bind_global(meter, None);
}

/// Rebinds [`meters()`] and every `#[instrument_op]` call site to instruments created on
/// `meter`, and their spans to `tracer`. Called by `contextd_telemetry` after it sets the
/// global providers.
#[doc(hidden)]
pub fn bind_global(meter: &Meter, tracer: Option<SdkTracer>) {
    let mut binders = binders();
    let generation = GENERATIONS.fetch_add(1, Ordering::Relaxed) + 1;
    let bound = BoundMeters { generation, meters: Meters::new(meter), tracer };
    let leaked: &'static mut BoundMeters = Box::leak(Box::new(bound));
    BOUND.store(leaked, Ordering::Release);
    for (_, register) in &binders.registered {
        register(meter);
    }
    binders.meter = Some(meter.clone());
}

/// Returns [`meters()`] and the call sites to recording nothing, at no cost per call. Called
/// by `contextd_telemetry` at shutdown.
#[doc(hidden)]
pub fn unbind_global_meters() {
    let mut binders = binders();
    BOUND.store(std::ptr::null_mut(), Ordering::Release);
    binders.meter = None;
}
