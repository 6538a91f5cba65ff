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

/// One binding: where each catalog's meter and tracer come from, and a number that changes with
/// every binding, so that call sites and typed handles can tell theirs are stale.
#[derive(Debug)]
struct BoundMeters {
    generation: u64,
    meters: Scoped<Meter>,
    tracers: Option<Scoped<SdkTracer>>,
    /// The pipeline's striped series, when the binder has them.
    store: Option<Arc<SeriesStore>>,
    /// The scope of the pipeline's own catalog.
    scope: &'static str,
    /// A thread binding's typed handles, by the address of their `MetersCell` (a cell caches
    /// one binding; threads bound apart would otherwise rebuild it in turn).
    #[cfg(feature = "testing")]
    handles: Mutex<Vec<(usize, &'static (dyn std::any::Any + Send + Sync))>>,
}

/// A meter or tracer per instrumentation scope: each catalog records under its own namespace.
enum Scoped<T: 'static> {
    /// One for every catalog (tests and benches that bind a meter they made).
    One(T),
    /// Made by a provider for each scope on first use, and kept (leaked with the binding).
    PerScope {
        make: Box<dyn Fn(&'static str) -> T + Send + Sync>,
        made: Mutex<Vec<(&'static str, &'static T)>>,
    },
}

impl<T> std::fmt::Debug for Scoped<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::One(_) => f.write_str("Scoped::One"),
            Self::PerScope { .. } => f.write_str("Scoped::PerScope"),
        }
    }
}

impl<T: Send + Sync> Scoped<T> {
    /// The one for `scope`; only ever called when handles are (re)built, never per call.
    fn get(&'static self, scope: &'static str) -> &'static T {
        match self {
            Self::One(one) => one,
            Self::PerScope { make, made } => {
                let mut made = made.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some((_, found)) = made.iter().find(|(s, _)| *s == scope) {
                    return found;
                }
                let created: &'static T = Box::leak(Box::new(make(scope)));
                made.push((scope, created));
                created
            }
        }
    }
}

/// What registers observable instruments on a binding's meter.
type Register = Arc<dyn Fn(&Meter) + Send + Sync>;

/// The registrations of [`on_bind`] (each with its scope; `None` for the pipeline's own) and the
/// current binding. One lock orders binding and registering, so no registration is made twice or
/// missed.
struct Binders {
    next_id: u64,
    registered: Vec<(u64, Option<&'static str>, Register)>,
    current: Option<&'static BoundMeters>,
}

impl Binders {
    fn register(&self, scope: Option<&'static str>, register: &Register) {
        if let Some(bound) = self.current {
            register(bound.meters.get(scope.unwrap_or(bound.scope)));
        }
    }
}

static BINDERS: Mutex<Binders> = Mutex::new(Binders { next_id: 0, registered: Vec::new(), current: None });

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
        binders().registered.retain(|(id, _, _)| *id != self.id);
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
    registration(None, Arc::new(register))
}

/// [`on_bind`] with the meter of the instrumentation scope `scope` (a catalog's namespace), so
/// that a library's gauges keep its catalog's scope whichever catalog the pipeline was given.
///
/// ```
/// // A library whose catalog's namespace is `jobs`, inside whatever service links it.
/// let _binder = contextd_metrics::on_bind_in("jobs", |meter| {
///     meter.u64_observable_gauge("jobs_queue_depth").with_callback(|o| o.observe(3, &[])).build();
/// });
/// ```
pub fn on_bind_in(
    scope: &'static str,
    register: impl Fn(&opentelemetry::metrics::Meter) + Send + Sync + 'static,
) -> Binder {
    registration(Some(scope), Arc::new(register))
}

fn registration(scope: Option<&'static str>, register: Register) -> Binder {
    let mut binders = binders();
    let id = binders.next_id;
    binders.next_id += 1;
    binders.register(scope, &register);
    binders.registered.push((id, scope, register));
    Binder { id }
}

/// The current binding; null while telemetry is not running.
static BOUND: AtomicPtr<BoundMeters> = AtomicPtr::new(std::ptr::null_mut());
static GENERATIONS: AtomicU64 = AtomicU64::new(0);

/// What `meters()` is bound to right now.
pub(crate) enum Binding {
    /// Telemetry is not running: record nothing.
    Unbound,
    /// Telemetry is running: this binding.
    Bound(Bound),
}

/// A binding, as call sites and typed handles see it.
#[derive(Clone, Copy)]
pub(crate) struct Bound {
    pub(crate) generation: u64,
    meters: &'static BoundMeters,
}

impl Bound {
    /// Where the catalog `scope` records on this binding (its meter made on first use).
    pub(crate) fn destination(self, scope: &'static str) -> Destination<'static> {
        self.meters.destination(scope)
    }

    /// The tracer the catalog `scope`'s spans start on, if the binding has spans.
    pub(crate) fn tracer(self, scope: &'static str) -> Option<&'static SdkTracer> {
        self.meters.tracers.as_ref().map(|tracers| tracers.get(scope))
    }
}

#[inline]
pub(crate) fn binding() -> Binding {
    #[cfg(feature = "testing")]
    if let Some(local) = THREAD_BOUND.with(std::cell::Cell::get) {
        return Binding::Bound(Bound { generation: local.generation, meters: local });
    }
    let bound = BOUND.load(Ordering::Acquire);
    if bound.is_null() {
        return Binding::Unbound;
    }
    // SAFETY: every non-null value stored in BOUND comes from `Box::leak` in
    // `bind` and is never freed, so it is valid for 'static (and only its caches change, under
    // their lock).
    let bound = unsafe { &*bound };
    Binding::Bound(Bound { generation: bound.generation, meters: bound })
}

impl BoundMeters {
    fn destination(&'static self, scope: &'static str) -> Destination<'static> {
        Destination { meter: self.meters.get(scope), store: self.store.as_deref(), scope }
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
        meters: Scoped::One(meter.clone()),
        tracers: None,
        store: None,
        scope: "",
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
    /// `scope` is the catalog's namespace: its instruments are created on that scope's meter.
    #[inline]
    pub fn get(&'static self, scope: &'static str, build: fn(&Destination<'_>) -> M) -> &'static M {
        self.get_in(Some(scope), build)
    }

    /// [`get`](Self::get) for instruments of the pipeline itself rather than of a catalog (the
    /// HTTP layer's): created under the scope of the catalog the pipeline was given.
    #[inline]
    pub fn get_for_pipeline(&'static self, build: fn(&Destination<'_>) -> M) -> &'static M {
        self.get_in(None, build)
    }

    #[inline]
    fn get_in(&'static self, scope: Option<&'static str>, build: fn(&Destination<'_>) -> M) -> &'static M {
        #[cfg(feature = "testing")]
        if let Some(local) = THREAD_BOUND.with(std::cell::Cell::get) {
            return self.thread_handles(local, scope.unwrap_or(local.scope), build);
        }
        // Generation 0 is the unbound state (bindings count from 1).
        let bound = match binding() {
            Binding::Bound(bound) => Some(bound),
            Binding::Unbound => None,
        };
        let generation = bound.map_or(0, |bound| bound.generation);
        let current = self.current.load(Ordering::Acquire);
        if !current.is_null() {
            // SAFETY: non-null values come from `Box::leak` below and are never freed.
            let (built_for, handles) = unsafe { &*current };
            if *built_for == generation {
                return handles;
            }
        }
        let destination = bound.map_or_else(
            || Destination::meter(&UNBOUND),
            |bound| bound.destination(scope.unwrap_or(bound.meters.scope)),
        );
        self.rebuild(generation, destination, build)
    }

    #[cfg(feature = "testing")]
    fn thread_handles(
        &'static self,
        local: &'static BoundMeters,
        scope: &'static str,
        build: fn(&Destination<'_>) -> M,
    ) -> &'static M {
        let key = std::ptr::from_ref(self) as usize;
        let mut handles = local.handles.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let found = handles.iter().find(|(k, _)| *k == key).and_then(|(_, h)| h.downcast_ref::<M>());
        if let Some(found) = found {
            return found;
        }
        let built: &'static M = Box::leak(Box::new(build(&local.destination(scope))));
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
/// `meter` (every catalog on this one meter), and their spans to `tracer`.
#[doc(hidden)]
pub fn bind_global(meter: &Meter, tracer: Option<SdkTracer>) {
    bind_global_with(meter, tracer, None);
}

/// [`bind_global`], with counters and float histograms recording into `store`.
#[doc(hidden)]
pub fn bind_global_with(meter: &Meter, tracer: Option<SdkTracer>, store: Option<Arc<SeriesStore>>) {
    bind(Scoped::One(meter.clone()), tracer.map(Scoped::One), store, "");
}

/// What a pipeline binds every catalog to: its providers, which make each catalog's meter and
/// tracer under the catalog's own scope, and its striped series.
#[doc(hidden)]
pub struct Pipeline {
    /// The meter provider.
    pub meters: opentelemetry_sdk::metrics::SdkMeterProvider,
    /// The tracer provider, when wrapped calls start spans.
    pub tracers: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
    /// The striped series every catalog's counters and float histograms record into.
    pub store: Option<Arc<SeriesStore>>,
    /// The scope of the pipeline's own catalog: where [`on_bind`] registrations go.
    pub scope: &'static str,
}

/// Rebinds typed handles, every `#[instrument_op]` call site and the [`on_bind`] registrations
/// to `pipeline`: each catalog on the meter and tracer of its own scope. Called by
/// `contextd_telemetry` after it sets the global providers.
#[doc(hidden)]
pub fn bind_pipeline(pipeline: Pipeline) {
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry::trace::TracerProvider as _;
    let Pipeline { meters, tracers, store, scope } = pipeline;
    let meters =
        Scoped::PerScope { make: Box::new(move |scope| meters.meter(scope)), made: Mutex::default() };
    let tracers = tracers.map(|tracers| Scoped::PerScope {
        make: Box::new(move |scope| tracers.tracer(scope)),
        made: Mutex::default(),
    });
    bind(meters, tracers, store, scope);
}

fn bind(
    meters: Scoped<Meter>,
    tracers: Option<Scoped<SdkTracer>>,
    store: Option<Arc<SeriesStore>>,
    scope: &'static str,
) {
    let mut binders = binders();
    let generation = GENERATIONS.fetch_add(1, Ordering::Relaxed) + 1;
    let bound = BoundMeters {
        generation,
        meters,
        tracers,
        store,
        scope,
        #[cfg(feature = "testing")]
        handles: Mutex::default(),
    };
    let leaked: &'static BoundMeters = Box::leak(Box::new(bound));
    BOUND.store(std::ptr::from_ref(leaked).cast_mut(), Ordering::Release);
    binders.current = Some(leaked);
    for (_, scope, register) in &binders.registered {
        binders.register(*scope, register);
    }
}

/// Returns typed handles and the call sites to recording nothing, at no cost per call. Called
/// by `contextd_telemetry` at shutdown.
#[doc(hidden)]
pub fn unbind_global_meters() {
    let mut binders = binders();
    BOUND.store(std::ptr::null_mut(), Ordering::Release);
    binders.current = None;
}
