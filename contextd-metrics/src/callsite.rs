//! The runtime of `#[instrument_op]`: one static [`OpSite`] per annotated function.
//!
//! What a site records is its component's catalog entry ([`OperationShape`]), which the macro
//! wrote into the site: the counter, the duration histogram and the errors counter, each label
//! in the entry's order, and where each label's value comes from (the operation, the status,
//! the error type or an argument). A site resolves its attribute sets once — bound handles per
//! status, for each of a few label combinations taken from arguments — so a call costs a clock
//! read pair and a couple of bound updates: no attribute hashing, no allocation. Handles belong
//! to one binding of the global meter; when telemetry is re-initialised the site rebuilds them
//! on its next call. Every set of handles is leaked on purpose (see `global.rs`): a few hundred
//! bytes per site and initialisation.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::{Duration, SystemTime};

use contextd_metrics_catalog::{
    InstrumentSpec, LabelSource, OTHER_ERROR_TYPE, OperationShape, STATUS_VALUES,
};
use opentelemetry::trace::{Span as _, SpanBuilder, SpanId, SpanRef, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, ContextGuard, KeyValue};
use opentelemetry_sdk::trace::SdkTracer;

use crate::checked::{CheckedBoundHistogram, CheckedHistogram};
use crate::clock::{self, Ticks};
use crate::counter::{BoundCatalogCounter, CatalogCounter};
use crate::global::{Binding, Bound, binding};
use crate::meters::CatalogInstrument;
use crate::skill_success::SkillSuccessTracker;

/// How a wrapped call ended; the `status` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Status {
    /// Returned normally (`Ok` for a `Result`).
    Success = 0,
    /// Returned `Err`, or panicked.
    Error = 1,
    /// An async call whose future was dropped before it completed.
    Cancelled = 2,
}

impl Status {
    const ALL: [Status; 3] = [Status::Success, Status::Error, Status::Cancelled];

    /// The label value: `success`, `error` or `cancelled` (a catalog's status label lists
    /// exactly these, in this order; its reader checks).
    pub const fn as_str(self) -> &'static str {
        STATUS_VALUES[self as usize]
    }
}

/// Classifies an error for the error-type label of an operation's errors counter (in contextd's
/// catalog, `error_type` of `contextd_database_errors_total`) and the `error.type` of spans.
/// Errors that do not implement it are recorded as the label's last value (`other`).
///
/// ```
/// use contextd_metrics::ErrorType;
///
/// enum StoreError { Timeout, Missing }
///
/// impl ErrorType for StoreError {
///     fn error_type(&self) -> &'static str {
///         match self {
///             StoreError::Timeout => "connection_timeout",
///             StoreError::Missing => "not_found",
///         }
///     }
/// }
/// ```
pub trait ErrorType {
    /// One of the values of the catalog's error-type label (contextd: `connection_timeout`,
    /// `query_failed`, `not_found`, `permission_denied`, `other`). Any other value is recorded
    /// as the label's last value, which keeps the label's cardinality bounded.
    fn error_type(&self) -> &'static str;
}

/// The outcome of one call: its status and, for errors, the error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The status label.
    pub status: Status,
    /// The error type; [`OTHER_ERROR_TYPE`] unless the error implements [`ErrorType`].
    pub error_type: &'static str,
}

impl Outcome {
    /// A successful call.
    pub const SUCCESS: Outcome = Outcome { status: Status::Success, error_type: "" };

    /// A failed call of this error type.
    pub const fn error(error_type: &'static str) -> Outcome {
        Outcome { status: Status::Error, error_type }
    }
}

/// One of the site's error-type values; anything else becomes the label's last value.
fn known_error_type(shape: &OperationShape, error_type: &'static str) -> &'static str {
    match shape.error_type {
        Some(label) if label.values.listed().contains(&error_type) => error_type,
        _ => shape.other_error_type(),
    }
}

/// The longest label value taken from an argument, in bytes; longer ones are cut at a
/// character boundary, so one runaway value cannot make a huge series.
pub const MAX_LABEL_BYTES: usize = 128;

#[inline]
fn truncate_label(value: &str) -> &str {
    if value.len() <= MAX_LABEL_BYTES {
        return value;
    }
    let mut end = MAX_LABEL_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// One instrument's bound handles: one per status where the instrument has a `status` label,
/// else a single one.
struct PerStatus<H>(Box<[H]>);

impl<H> PerStatus<H> {
    #[inline]
    fn get(&self, status: Status) -> &H {
        &self.0[if self.0.len() == 1 { 0 } else { status as usize }]
    }
}

/// The bound handles of one combination of argument labels (none for most components).
struct Handles {
    arguments: [Box<str>; 2],
    counter: Option<PerStatus<BoundCatalogCounter>>,
    duration: PerStatus<CheckedBoundHistogram>,
}

/// Distinct argument-label combinations a site binds; further ones take the unbound path.
const LABEL_CACHE: usize = 8;

#[allow(clippy::large_enum_variant, reason = "built once per site and binding, never moved on a hot path")]
enum Targets {
    /// A site without argument labels: one set of handles.
    Fixed(Handles),
    /// A site with argument labels: a set per combination seen, bound on first use.
    Cached([OnceLock<Handles>; LABEL_CACHE]),
}

/// The instruments of one site on one binding's meter.
struct Instruments {
    counter: Option<CatalogCounter>,
    duration: CheckedHistogram,
    errors: Option<CatalogCounter>,
}

/// One binding's handles of one site.
struct SiteHandles {
    generation: u64,
    spec: &'static SiteSpec,
    /// The tracer of the catalog's scope, when the binding starts spans.
    tracer: Option<&'static SdkTracer>,
    instruments: Instruments,
    targets: Targets,
}

/// What the macro knows of one call site, checked against the catalog at compile time.
#[derive(Debug)]
pub struct SiteSpec {
    /// The catalog's namespace.
    pub namespace: &'static str,
    /// The component's id.
    pub component: &'static str,
    /// The operation literal.
    pub operation: &'static str,
    /// `<component>.<operation>`.
    pub span_name: &'static str,
    /// The span attribute a cancelled call gets: `<namespace>.cancelled`.
    pub cancelled_key: &'static str,
    /// The component's operation entry.
    pub shape: OperationShape,
}

/// The static state of one `#[instrument_op]` call site.
pub struct OpSite {
    spec: &'static SiteSpec,
    current: AtomicPtr<SiteHandles>,
    /// The tracker of the entry's success-rate gauge, looked up on the site's first call.
    rate: OnceLock<&'static SkillSuccessTracker>,
}

impl std::fmt::Debug for OpSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OpSite({})", self.spec.span_name)
    }
}

impl OpSite {
    /// A site as the macro wrote it.
    pub const fn new(spec: &'static SiteSpec) -> Self {
        Self { spec, current: AtomicPtr::new(std::ptr::null_mut()), rate: OnceLock::new() }
    }

    /// Feeds a completed call to the tracker of the entry's success-rate gauge, if it has one.
    pub fn record_success_rate(&self, key: &str, outcome: &Outcome) {
        let Some(rate) = self.spec.shape.success_rate else { return };
        let tracker = self.rate.get_or_init(|| SkillSuccessTracker::for_gauge(rate.gauge.name));
        tracker.record(key, outcome.status == Status::Success);
    }

    /// What the site records.
    pub fn spec(&self) -> &'static SiteSpec {
        self.spec
    }

    /// Starts timing a call of a site without argument labels.
    #[inline]
    pub fn start(&'static self) -> Op {
        self.start_labelled("", "")
    }

    /// Starts timing a call whose labels `first` and `second` come from arguments (in the order
    /// of [`OperationShape::label_arguments`]). Values longer than [`MAX_LABEL_BYTES`] are cut
    /// at a character boundary.
    #[inline]
    pub fn start_labelled(&'static self, first: &str, second: &str) -> Op {
        let Binding::Bound(bound) = binding() else {
            // Telemetry not initialised: record nothing, read no clock, start no span.
            return Op {
                target: Target::Inert,
                started: None,
                span: CallSpan::None,
                span_started: SystemTime::UNIX_EPOCH,
                message: None,
                finished: false,
            };
        };
        let site = self.handles(bound);
        let target = match &site.targets {
            Targets::Fixed(handles) => Target::Bound { site, handles },
            Targets::Cached(cache) => {
                self.cached(site, cache, [truncate_label(first), truncate_label(second)])
            }
        };
        // One clock reading starts both the duration and the span (its wall time derived from
        // the same reading), so the duration covers what the caller waits for, span start
        // included.
        let started = clock::now();
        let (span, span_started) = match site.tracer.and_then(|tracer| self.start_span(tracer, started)) {
            Some((cx, wall)) => (CallSpan::Held(cx), wall),
            None => (CallSpan::None, SystemTime::UNIX_EPOCH),
        };
        Op { target, started: Some(started), span, span_started, message: None, finished: false }
    }

    /// Starts this call's span as a child of the current context. A span that is not sampled
    /// and has a parent is dropped at once: its children see the parent, whose sampling decision
    /// they follow anyway, and nothing is allocated. A sampled or root span becomes the context
    /// of the call, with its start time: the span ends at that time plus the duration the call
    /// records, so span and histogram agree, and the wall clock is not read per call at all.
    #[inline(never)]
    fn start_span(&self, tracer: &SdkTracer, at: Ticks) -> Option<(Context, SystemTime)> {
        let parent = Context::current();
        let started = clock::wall_time(at);
        let builder = SpanBuilder::from_name(self.spec.span_name).with_start_time(started);
        let span = tracer.build_with_context(builder, &parent);
        if span.span_context().is_sampled() || !parent.has_active_span() {
            Some((parent.with_span(span), started))
        } else {
            None
        }
    }

    /// This binding's handles, built on the first call after a (re)binding.
    #[inline]
    fn handles(&'static self, bound: Bound) -> &'static SiteHandles {
        let current = self.current.load(Ordering::Acquire);
        if !current.is_null() {
            // SAFETY: non-null values come from `Box::leak` below and are never freed.
            let handles = unsafe { &*current };
            if handles.generation == bound.generation {
                return handles;
            }
        }
        self.rebuild(bound)
    }

    /// Builds the site's handles on the meter (and tracer) of its catalog's scope.
    #[cold]
    fn rebuild(&'static self, bound: Bound) -> &'static SiteHandles {
        let (generation, destination) = (bound.generation, bound.destination(self.spec.namespace));
        let tracer = bound.tracer(self.spec.namespace);
        let shape = &self.spec.shape;
        let instruments = Instruments {
            counter: shape.counter.map(|spec| CatalogCounter::build(&destination, spec)),
            duration: CheckedHistogram::build(&destination, shape.duration),
            errors: shape.errors.map(|spec| CatalogCounter::build(&destination, spec)),
        };
        let targets = if shape.arguments.is_empty() {
            Targets::Fixed(self.bind(&instruments, ["", ""]))
        } else {
            Targets::Cached(std::array::from_fn(|_| OnceLock::new()))
        };
        let leaked: &'static mut SiteHandles =
            Box::leak(Box::new(SiteHandles { generation, spec: self.spec, tracer, instruments, targets }));
        self.current.store(leaked, Ordering::Release);
        leaked
    }

    /// The cached handles for these argument labels, binding them into a free slot if needed.
    #[inline(never)]
    fn cached(
        &'static self,
        site: &'static SiteHandles,
        cache: &'static [OnceLock<Handles>; LABEL_CACHE],
        arguments: [&str; 2],
    ) -> Target {
        let matches = |handles: &Handles| {
            *handles.arguments[0] == *arguments[0] && *handles.arguments[1] == *arguments[1]
        };
        for slot in cache {
            match slot.get() {
                Some(handles) if matches(handles) => return Target::Bound { site, handles },
                Some(_) => continue,
                None => {
                    let handles = slot.get_or_init(|| self.bind(&site.instruments, arguments));
                    if matches(handles) {
                        return Target::Bound { site, handles };
                    }
                }
            }
        }
        Target::Unbound { site, arguments: arguments.map(Box::from) }
    }

    /// Binds the shape's counter and duration histogram for these argument labels.
    fn bind(&self, instruments: &Instruments, arguments: [&str; 2]) -> Handles {
        let shape = &self.spec.shape;
        let counter =
            instruments.counter.as_ref().zip(shape.counter).map(|(counter, spec)| {
                self.per_status(spec, arguments, |attributes| counter.bind(attributes))
            });
        let duration =
            self.per_status(shape.duration, arguments, |attributes| instruments.duration.bind(attributes));
        Handles { arguments: arguments.map(Box::from), counter, duration }
    }

    fn per_status<H>(
        &self,
        spec: &InstrumentSpec,
        arguments: [&str; 2],
        bind: impl Fn(&[KeyValue]) -> H,
    ) -> PerStatus<H> {
        let shape = &self.spec.shape;
        let by_status =
            spec.labels.iter().any(|label| shape.label_source(label) == Some(LabelSource::Status));
        let statuses: &[Status] = if by_status { &Status::ALL } else { &[Status::Success] };
        PerStatus(
            statuses
                .iter()
                .map(|status| bind(&attributes(self.spec.operation, shape, spec, arguments, *status, "")))
                .collect(),
        )
    }
}

/// The attributes of one recording on `spec`, in the catalog's label order, each value taken
/// from where the shape says it comes from.
fn attributes(
    operation: &'static str,
    shape: &OperationShape,
    spec: &InstrumentSpec,
    arguments: [&str; 2],
    status: Status,
    error_type: &'static str,
) -> Vec<KeyValue> {
    spec.labels
        .iter()
        .filter_map(|label| {
            let value: opentelemetry::Value = match shape.label_source(label)? {
                LabelSource::Operation => operation.into(),
                LabelSource::Status => status.as_str().into(),
                LabelSource::ErrorType => error_type.into(),
                LabelSource::Argument(index) => {
                    arguments.get(index).copied().unwrap_or_default().to_owned().into()
                }
            };
            Some(KeyValue::new(label.name, value))
        })
        .collect()
}

enum Target {
    Inert,
    Bound {
        site: &'static SiteHandles,
        handles: &'static Handles,
    },
    /// Past the label cache: attributes resolved per call (allocates; rare by design).
    Unbound {
        site: &'static SiteHandles,
        arguments: [Box<str>; 2],
    },
}

/// Where a call's span is: none, held by the call, or made current on this thread (by
/// [`Op::attach`]) and known by its id.
enum CallSpan {
    None,
    Held(Context),
    Current(SpanId),
}

/// One call in progress. [`finish`](Op::finish) records its outcome; dropped unfinished it
/// records `error` while panicking and `cancelled` otherwise (a dropped future).
#[must_use = "an Op records when finished or dropped"]
pub struct Op {
    target: Target,
    started: Option<Ticks>,
    /// The call's span, as the context its body runs in.
    span: CallSpan,
    /// The span's start time (unused without a span).
    span_started: SystemTime,
    /// The redacted error message for the span's status, when the call failed.
    message: Option<String>,
    finished: bool,
}

impl Op {
    /// Makes the call's span current on this thread until the guard drops (sync bodies). The
    /// context moves into the thread's stack rather than being cloned (a locked increment, and
    /// a locked decrement later, each waiting for the span's stores to drain), so the guard
    /// must outlive the call's [`finish`](Self::finish), which ends the span as the current
    /// one: declare it before the `Op`, as the macro does.
    #[inline]
    pub fn attach(&mut self) -> Option<ContextGuard> {
        let CallSpan::Held(cx) = std::mem::replace(&mut self.span, CallSpan::None) else { return None };
        self.span = CallSpan::Current(cx.span().span_context().span_id());
        Some(cx.attach())
    }

    /// The context to run an async body in, if the call has a span.
    #[inline]
    pub fn context(&self) -> Option<Context> {
        match &self.span {
            CallSpan::Held(cx) => Some(cx.clone()),
            CallSpan::None | CallSpan::Current(_) => None,
        }
    }

    /// Whether the call has a span, i.e. whether an error message would be recorded.
    #[inline]
    pub fn has_span(&self) -> bool {
        !matches!(self.span, CallSpan::None)
    }

    /// Records the call's outcome and duration; `message` (already redacted) describes an
    /// error on the span. By reference: moving the guard would copy it (136 bytes, a `memcpy`
    /// call that profiling showed as a quarter of a wrapped call).
    #[inline]
    pub fn finish(&mut self, outcome: Outcome, message: Option<String>) {
        self.finished = true;
        self.message = message;
        self.record(outcome);
    }

    #[inline]
    fn record(&mut self, outcome: Outcome) {
        let Some(started) = self.started else { return };
        let nanos = started.elapsed_nanos();
        let seconds = nanos as f64 * 1e-9;
        // The bound path inline; everything else out of line, to keep call sites small.
        if let Target::Bound { site, handles } = &self.target {
            if let Some(counter) = &handles.counter {
                counter.get(outcome.status).add(1);
            }
            // A clock difference: finite and never negative, so not checked again.
            handles.duration.get(outcome.status).record_valid(seconds);
            if outcome.status == Status::Error && site.instruments.errors.is_some() {
                record_error(site, &handles.arguments, outcome);
            }
        } else {
            self.record_unbound(outcome, seconds);
        }
        if self.has_span() {
            self.end_span(outcome, nanos);
        }
    }

    #[inline(never)]
    fn record_unbound(&self, outcome: Outcome, seconds: f64) {
        let Target::Unbound { site, arguments } = &self.target else { return };
        let shape = &site.spec.shape;
        let labels = |spec| {
            attributes(site.spec.operation, shape, spec, [&*arguments[0], &*arguments[1]], outcome.status, "")
        };
        if let (Some(counter), Some(spec)) = (&site.instruments.counter, shape.counter) {
            counter.add(1, &labels(spec));
        }
        site.instruments.duration.record(seconds, &labels(shape.duration));
        if outcome.status == Status::Error {
            record_error(site, arguments, outcome);
        }
    }

    #[inline(never)]
    fn end_span(&mut self, outcome: Outcome, nanos: i64) {
        match std::mem::replace(&mut self.span, CallSpan::None) {
            CallSpan::None => {}
            CallSpan::Held(cx) => self.end(&cx.span(), outcome, nanos),
            CallSpan::Current(id) => Context::map_current(|cx| {
                let span = cx.span();
                // Ours unless the body leaked a guard of its own (`mem::forget`); then the span
                // ends when its context drops, as the SDK ends a span dropped unended.
                if span.span_context().span_id() == id {
                    self.end(&span, outcome, nanos);
                }
            }),
        }
    }

    fn end(&mut self, span: &SpanRef<'_>, outcome: Outcome, nanos: i64) {
        let (shape, cancelled_key) = match &self.target {
            Target::Bound { site, .. } | Target::Unbound { site, .. } => {
                (&site.spec.shape, site.spec.cancelled_key)
            }
            Target::Inert => return,
        };
        match outcome.status {
            Status::Success => {}
            Status::Error => {
                span.set_attribute(KeyValue::new("error.type", known_error_type(shape, outcome.error_type)));
                let description = match self.message.take() {
                    Some(message) => Cow::Owned(message),
                    None => Cow::Borrowed(outcome.error_type),
                };
                span.set_status(opentelemetry::trace::Status::Error { description });
            }
            Status::Cancelled => span.set_attribute(KeyValue::new(cancelled_key, true)),
        }
        // The clock pair of the metrics measured the call; `seconds` is never negative.
        span.end_with_timestamp(self.span_started + Duration::from_nanos(nanos.unsigned_abs()));
    }
}

/// Adds one to the shape's errors counter, if it has one (error path only: not bound).
#[inline(never)]
fn record_error(site: &'static SiteHandles, arguments: &[Box<str>; 2], outcome: Outcome) {
    let shape = &site.spec.shape;
    let (Some(counter), Some(spec)) = (&site.instruments.errors, shape.errors) else { return };
    let error_type = known_error_type(shape, outcome.error_type);
    let arguments = [&*arguments[0], &*arguments[1]];
    counter.add(1, &attributes(site.spec.operation, shape, spec, arguments, outcome.status, error_type));
}

impl Drop for Op {
    fn drop(&mut self) {
        if !self.finished {
            let status = if std::thread::panicking() { Status::Error } else { Status::Cancelled };
            let error_type = if status == Status::Error { OTHER_ERROR_TYPE } else { "" };
            self.record(Outcome { status, error_type });
        }
    }
}
