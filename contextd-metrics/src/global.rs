//! The process's binding: the meter (and tracer) that `contextd_telemetry::init` hands over —
//! the one registry every recording path binds through: each catalog's `meters()` (a
//! [`MetersCell`]), the `#[instrument_op]` call sites (by generation) and the observable
//! instruments registered with [`on_bind`] (the gauges), which are created anew on the meter of
//! every binding.
//!
//! OpenTelemetry instruments taken from a provider keep recording into that provider, so typed
//! handles must be rebuilt when telemetry is (re)initialised. Each binding is leaked on purpose:
//! a `&'static Meters` handed out earlier must stay valid, and a process initialises telemetry a
//! handful of times at most (once in production, once per test in test suites).

use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry_sdk::trace::SdkTracer;

use crate::meters::Destination;
use crate::striped::SeriesStore;

/// A meter of a no-op provider: what handles are built on before telemetry is initialised.
static UNBOUND: LazyLock<Meter> =
    LazyLock::new(|| opentelemetry::metrics::noop::NoopMeterProvider::new().meter("unbound"));

/// One binding: the meter, the tracer, and a number that changes with every binding, so that
/// call sites and typed handles can tell theirs are stale.
#[derive(Debug)]
struct BoundMeters {
    generation: u64,
    meter: Meter,
    tracer: Option<SdkTracer>,
    /// The pipeline's striped series, when the binder has them.
    store: Option<Arc<SeriesStore>>,
    /// A thread binding's typed handles, by the address of their `MetersCell` (a cell caches
    /// one binding; threads bound apart would otherwise rebuild it in turn).
    #[cfg(feature = "testing")]
    handles: Mutex<Vec<(usize, &'static (dyn std::any::Any + Send + Sync))>>,
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
    /// Telemetry is running with this meter.
    Bound { generation: u64, destination: Destination<'static>, tracer: Option<&'static SdkTracer> },
}

#[inline]
pub(crate) fn binding() -> Binding {
    #[cfg(feature = "testing")]
    if let Some(local) = THREAD_BOUND.with(std::cell::Cell::get) {
        return Binding::Bound {
            generation: local.generation,
            destination: local.destination(),
            tracer: None,
        };
    }
    let bound = BOUND.load(Ordering::Acquire);
    if bound.is_null() {
        return Binding::Unbound;
    }
    // SAFETY: every non-null value stored in BOUND comes from `Box::leak` in
    // `bind_global` and is never freed, so it is valid for 'static and never mutated.
    let bound = unsafe { &*bound };
    Binding::Bound {
        generation: bound.generation,
        destination: bound.destination(),
        tracer: bound.tracer.as_ref(),
    }
}

impl BoundMeters {
    fn destination(&'static self) -> Destination<'static> {
        Destination { meter: &self.meter, store: self.store.as_deref() }
    }
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

/// Binds typed handles and the call sites to instruments on `meter` for this thread only.
#[cfg(feature = "testing")]
pub(crate) fn bind_thread(meter: &Meter) -> ThreadBinding {
    let generation = GENERATIONS.fetch_add(1, Ordering::Relaxed) + 1;
    let bound: &'static BoundMeters = Box::leak(Box::new(BoundMeters {
        generation,
        meter: meter.clone(),
        tracer: None,
        store: None,
        handles: Mutex::default(),
    }));
    ThreadBinding { previous: THREAD_BOUND.with(|local| local.replace(Some(bound))) }
}

#[cfg(feature = "testing")]
impl Drop for ThreadBinding {
    fn drop(&mut self) {
        THREAD_BOUND.with(|local| local.set(self.previous));
    }
}

/// The process-wide typed handles of one catalog (its generated `meters()` holds one): built on
/// the current binding's meter at first use after each (re)binding, on a no-op meter while
/// telemetry is not running. Reading it costs one atomic load and a compare.
#[derive(Debug)]
pub struct MetersCell<M: 'static> {
    current: AtomicPtr<(u64, M)>,
}

impl<M: Send + Sync + 'static> MetersCell<M> {
    /// An empty cell, for a `static`.
    pub const fn new() -> Self {
        Self { current: AtomicPtr::new(std::ptr::null_mut()) }
    }

    /// The handles of the current binding, built with `build` if this binding has none yet.
    #[inline]
    pub fn get(&'static self, build: fn(&Destination<'_>) -> M) -> &'static M {
        #[cfg(feature = "testing")]
        if let Some(local) = THREAD_BOUND.with(std::cell::Cell::get) {
            return self.thread_handles(local, build);
        }
        // Generation 0 is the unbound state (bindings count from 1).
        let (generation, destination) = match binding() {
            Binding::Bound { generation, destination, .. } => (generation, destination),
            Binding::Unbound => (0, Destination::meter(&UNBOUND)),
        };
        let current = self.current.load(Ordering::Acquire);
        if !current.is_null() {
            // SAFETY: non-null values come from `Box::leak` below and are never freed.
            let (built_for, handles) = unsafe { &*current };
            if *built_for == generation {
                return handles;
            }
        }
        self.rebuild(generation, destination, build)
    }

    #[cfg(feature = "testing")]
    fn thread_handles(
        &'static self,
        local: &'static BoundMeters,
        build: fn(&Destination<'_>) -> M,
    ) -> &'static M {
        let key = std::ptr::from_ref(self) as usize;
        let mut handles = local.handles.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let found = handles.iter().find(|(k, _)| *k == key).and_then(|(_, h)| h.downcast_ref::<M>());
        if let Some(found) = found {
            return found;
        }
        let built: &'static M = Box::leak(Box::new(build(&local.destination())));
        handles.push((key, built));
        built
    }

    #[cold]
    fn rebuild(
        &'static self,
        generation: u64,
        destination: Destination<'_>,
        build: fn(&Destination<'_>) -> M,
    ) -> &'static M {
        let leaked: &'static mut (u64, M) = Box::leak(Box::new((generation, build(&destination))));
        self.current.store(leaked, Ordering::Release);
        &leaked.1
    }
}

impl<M: Send + Sync + 'static> Default for MetersCell<M> {
    fn default() -> Self {
        Self::new()
    }
}

/// Rebinds typed handles and every `#[instrument_op]` call site to instruments created on
/// `meter`, without spans.
#[doc(hidden)]
pub fn bind_global_meters(meter: &Meter) {
    bind_global(meter, None);
}

/// Rebinds typed handles and every `#[instrument_op]` call site to instruments created on
/// `meter`, and their spans to `tracer`. Called by `contextd_telemetry` after it sets the
/// global providers.
#[doc(hidden)]
pub fn bind_global(meter: &Meter, tracer: Option<SdkTracer>) {
    bind_global_with(meter, tracer, None);
}

/// [`bind_global`], with counters and float histograms recording into `store`, whose series the
/// caller merges into its exports (what `contextd_telemetry` does).
#[doc(hidden)]
pub fn bind_global_with(meter: &Meter, tracer: Option<SdkTracer>, store: Option<Arc<SeriesStore>>) {
    let mut binders = binders();
    let generation = GENERATIONS.fetch_add(1, Ordering::Relaxed) + 1;
    let bound = BoundMeters {
        generation,
        meter: meter.clone(),
        tracer,
        store,
        #[cfg(feature = "testing")]
        handles: Mutex::default(),
    };
    let leaked: &'static mut BoundMeters = Box::leak(Box::new(bound));
    BOUND.store(leaked, Ordering::Release);
    for (_, register) in &binders.registered {
        register(meter);
    }
    binders.meter = Some(meter.clone());
}

/// Returns typed handles and the call sites to recording nothing, at no cost per call. Called
/// by `contextd_telemetry` at shutdown.
#[doc(hidden)]
pub fn unbind_global_meters() {
    let mut binders = binders();
    BOUND.store(std::ptr::null_mut(), Ordering::Release);
    binders.meter = None;
}
