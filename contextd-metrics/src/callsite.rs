//! The runtime of `#[instrument_op]`: one static [`OpSite`] per annotated function.
//!
//! A site resolves its attribute sets once — bound instrument handles for each status, or for
//! each of a few label combinations taken from arguments — so a call costs a clock read pair
//! and a couple of atomic adds: no attribute hashing, no lock, no allocation. Handles belong to
//! one binding of the global meters; when telemetry is re-initialised the site rebuilds them on
//! its next call. Every set of handles is leaked on purpose (see `global.rs`): a few hundred
//! bytes per site and initialisation.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, Ordering};

use contextd_metrics_catalog::{Component, OperationShape, operation_shape};
use opentelemetry::metrics::BoundCounter;
use opentelemetry::trace::{Span as _, SpanBuilder, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, ContextGuard, KeyValue};
use opentelemetry_sdk::trace::SdkTracer;

use crate::Meters;
use crate::checked::{CheckedBoundHistogram, CheckedHistogram};
use crate::clock::{self, Ticks};
use crate::global::{Binding, binding};

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

    /// The label value: `success`, `error` or `cancelled`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Classifies an error for the `error_type` label of `contextd_database_errors_total` (and the
/// `error.type` of spans). Errors that do not implement it are recorded as `other`.
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
    /// One of the catalog's `error_type` values: `connection_timeout`, `query_failed`,
    /// `not_found`, `permission_denied` or `other`. Any other value is recorded as `other`,
    /// which keeps the label's cardinality bounded.
    fn error_type(&self) -> &'static str;
}

/// The outcome of one call: its status and, for errors, the error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The status label.
    pub status: Status,
    /// The error type, `other` unless the error implements [`ErrorType`].
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

/// The catalog's `error_type` values; anything else becomes `other`.
fn known_error_type(error_type: &'static str) -> &'static str {
    match error_type {
        "connection_timeout" | "query_failed" | "not_found" | "permission_denied" => error_type,
        _ => "other",
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

/// Bound handles of a status-shaped site (checkpoint, remediation, skill, mcp).
struct StatusHandles {
    counters: [BoundCounter<u64>; 3],
    duration: CheckedBoundHistogram,
}

/// Handles for one combination of argument labels (database, collection / provider, model).
struct LabelledHandles {
    first: Box<str>,
    second: Box<str>,
    counter: BoundCounter<u64>,
    duration: CheckedBoundHistogram,
}

/// Distinct argument-label combinations a site binds; further ones take the unbound path.
const LABEL_CACHE: usize = 8;

#[allow(clippy::large_enum_variant, reason = "built once per site and binding, never moved on a hot path")]
enum Handles {
    Status(StatusHandles),
    Agent([CheckedBoundHistogram; 3]),
    Labelled([OnceLock<LabelledHandles>; LABEL_CACHE]),
}

/// One binding's handles of one site.
struct SiteHandles {
    generation: u64,
    meters: &'static Meters,
    handles: Handles,
}

/// The static state of one `#[instrument_op]` call site.
pub struct OpSite {
    component: Component,
    operation: &'static str,
    span_name: &'static str,
    current: AtomicPtr<SiteHandles>,
}

impl std::fmt::Debug for OpSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OpSite({}.{})", self.component.as_str(), self.operation)
    }
}

impl OpSite {
    /// A site for `component`/`operation` whose spans are named `span_name`
    /// (`<component>.<operation>`); the macro has checked both against the catalog.
    pub const fn new(component: Component, operation: &'static str, span_name: &'static str) -> Self {
        Self { component, operation, span_name, current: AtomicPtr::new(std::ptr::null_mut()) }
    }

    /// Starts timing a call of a site without argument labels.
    #[inline]
    pub fn start(&'static self) -> Op {
        self.start_labelled("", "")
    }

    /// Starts timing a call whose labels `first` and `second` come from arguments
    /// (database, collection / provider, model). Values longer than [`MAX_LABEL_BYTES`] are cut
    /// at a character boundary.
    #[inline]
    pub fn start_labelled(&'static self, first: &str, second: &str) -> Op {
        let (first, second) = (truncate_label(first), truncate_label(second));
        let Binding::Bound { generation, meters, tracer } = binding() else {
            // Telemetry not initialised: record nothing, read no clock, start no span.
            return Op {
                site: self,
                target: Target::Inert,
                started: None,
                span: None,
                message: None,
                finished: false,
            };
        };
        let handles = self.handles(generation, meters);
        let target = match &handles.handles {
            Handles::Status(status) => Target::Status(status),
            Handles::Agent(durations) => Target::Agent(durations),
            Handles::Labelled(cache) => self.labelled(cache, handles.meters, first, second),
        };
        let span = match tracer {
            Some(tracer) => self.start_span(tracer),
            None => None,
        };
        Op { site: self, target, started: Some(clock::now()), span, message: None, finished: false }
    }

    /// Starts this call's span as a child of the current context. A span that is not sampled
    /// and has a parent is dropped at once: its children see the parent, whose sampling decision
    /// they follow anyway, and nothing is allocated. A sampled or root span becomes the context
    /// of the call.
    #[inline(never)]
    fn start_span(&self, tracer: &SdkTracer) -> Option<Context> {
        let parent = Context::current();
        let span = tracer.build_with_context(SpanBuilder::from_name(self.span_name), &parent);
        if span.span_context().is_sampled() || !parent.has_active_span() {
            Some(parent.with_span(span))
        } else {
            None
        }
    }

    /// This binding's handles, built on the first call after a (re)binding.
    #[inline]
    fn handles(&'static self, generation: u64, meters: &'static Meters) -> &'static SiteHandles {
        let current = self.current.load(Ordering::Acquire);
        if !current.is_null() {
            // SAFETY: non-null values come from `Box::leak` below and are never freed.
            let handles = unsafe { &*current };
            if handles.generation == generation {
                return handles;
            }
        }
        self.rebuild(generation, meters)
    }

    #[cold]
    fn rebuild(&'static self, generation: u64, meters: &'static Meters) -> &'static SiteHandles {
        let handles = match operation_shape(self.component) {
            Some(OperationShape::Status { .. }) => {
                let (counter, duration) = status_instruments(meters, self.component);
                let operation_key = if self.component == Component::Mcp { "tool_name" } else { "operation" };
                let operation = KeyValue::new(operation_key, self.operation);
                Handles::Status(StatusHandles {
                    counters: Status::ALL.map(|status| {
                        counter.bind(&[operation.clone(), KeyValue::new("status", status.as_str())])
                    }),
                    duration: duration.bind(&[operation]),
                })
            }
            Some(OperationShape::Agent { .. }) => Handles::Agent(Status::ALL.map(|status| {
                meters
                    .agent_duration
                    .bind(&[KeyValue::new("agent", self.operation), KeyValue::new("status", status.as_str())])
            })),
            Some(OperationShape::Database { .. } | OperationShape::Embedding { .. }) | None => {
                Handles::Labelled(std::array::from_fn(|_| OnceLock::new()))
            }
        };
        let leaked: &'static mut SiteHandles =
            Box::leak(Box::new(SiteHandles { generation, meters, handles }));
        self.current.store(leaked, Ordering::Release);
        leaked
    }

    /// The cached handles for these argument labels, binding them into a free slot if needed.
    #[inline(never)]
    fn labelled(
        &'static self,
        cache: &'static [OnceLock<LabelledHandles>; LABEL_CACHE],
        meters: &'static Meters,
        first: &str,
        second: &str,
    ) -> Target {
        for slot in cache {
            match slot.get() {
                Some(entry) if *entry.first == *first && *entry.second == *second => {
                    return Target::Labelled(entry);
                }
                Some(_) => continue,
                None => {
                    let entry = slot.get_or_init(|| self.bind_labels(meters, first, second));
                    if *entry.first == *first && *entry.second == *second {
                        return Target::Labelled(entry);
                    }
                }
            }
        }
        Target::Unbound { meters, first: first.into(), second: second.into() }
    }

    fn bind_labels(&self, meters: &Meters, first: &str, second: &str) -> LabelledHandles {
        let (counter_labels, duration_labels) = self.labels(first, second);
        let (counter, duration) = self.labelled_instruments(meters);
        LabelledHandles {
            first: first.into(),
            second: second.into(),
            counter: counter.bind(&counter_labels),
            duration: duration.bind(&duration_labels),
        }
    }

    fn labelled_instruments<'m>(
        &self,
        meters: &'m Meters,
    ) -> (&'m opentelemetry::metrics::Counter<u64>, &'m CheckedHistogram) {
        if self.component == Component::Database {
            (&meters.database_operations, &meters.database_duration)
        } else {
            (&meters.embedding_operations, &meters.embedding_duration)
        }
    }

    /// Counter and duration attributes of a labelled site, in catalog order.
    fn labels(&self, first: &str, second: &str) -> (Vec<KeyValue>, Vec<KeyValue>) {
        let (first, second) = (first.to_owned(), second.to_owned());
        if self.component == Component::Database {
            let operation = KeyValue::new("operation", self.operation);
            let database = KeyValue::new("database", first);
            (
                vec![operation.clone(), database.clone(), KeyValue::new("collection", second)],
                vec![operation, database],
            )
        } else {
            let labels = vec![KeyValue::new("provider", first), KeyValue::new("model", second)];
            (labels.clone(), labels)
        }
    }
}

fn status_instruments(
    meters: &Meters,
    component: Component,
) -> (&opentelemetry::metrics::Counter<u64>, &CheckedHistogram) {
    match component {
        Component::Mcp => (&meters.mcp_tool_calls, &meters.mcp_tool_duration),
        Component::Remediation => (&meters.remediation_operations, &meters.remediation_duration),
        Component::Skill => (&meters.skill_operations, &meters.skill_duration),
        _ => (&meters.checkpoint_operations, &meters.checkpoint_duration),
    }
}

enum Target {
    Inert,
    Status(&'static StatusHandles),
    Agent(&'static [CheckedBoundHistogram; 3]),
    Labelled(&'static LabelledHandles),
    /// Past the label cache: attributes resolved per call (allocates; rare by design).
    Unbound {
        meters: &'static Meters,
        first: Box<str>,
        second: Box<str>,
    },
}

/// One call in progress. [`finish`](Op::finish) records its outcome; dropped unfinished it
/// records `error` while panicking and `cancelled` otherwise (a dropped future).
#[must_use = "an Op records when finished or dropped"]
pub struct Op {
    site: &'static OpSite,
    target: Target,
    started: Option<Ticks>,
    /// The call's span, as the context its body runs in.
    span: Option<Context>,
    /// The redacted error message for the span's status, when the call failed.
    message: Option<String>,
    finished: bool,
}

impl Op {
    /// Makes the call's span current on this thread until the guard drops (sync bodies).
    #[inline]
    pub fn attach(&self) -> Option<ContextGuard> {
        self.span.as_ref().map(|cx| cx.clone().attach())
    }

    /// The context to run an async body in, if the call has a span.
    #[inline]
    pub fn context(&self) -> Option<Context> {
        self.span.clone()
    }

    /// Whether the call has a span, i.e. whether an error message would be recorded.
    #[inline]
    pub fn has_span(&self) -> bool {
        self.span.is_some()
    }

    /// Records the call's outcome and duration; `message` (already redacted) describes an
    /// error on the span.
    #[inline]
    pub fn finish(mut self, outcome: Outcome, message: Option<String>) {
        self.finished = true;
        self.message = message;
        self.record(outcome);
    }

    #[inline]
    fn record(&mut self, outcome: Outcome) {
        let Some(started) = self.started else { return };
        let seconds = started.elapsed_seconds();
        // The common shape inline; everything else out of line, to keep call sites small.
        if let Target::Status(handles) = &self.target {
            handles.counters[outcome.status as usize].add(1);
            handles.duration.record(seconds);
        } else {
            self.record_other(outcome, seconds);
        }
        if self.span.is_some() {
            self.end_span(outcome);
        }
    }

    #[inline(never)]
    fn record_other(&self, outcome: Outcome, seconds: f64) {
        let database_error = outcome.status == Status::Error && self.site.component == Component::Database;
        match &self.target {
            Target::Inert | Target::Status(_) => {}
            Target::Agent(durations) => durations[outcome.status as usize].record(seconds),
            Target::Labelled(handles) => {
                handles.counter.add(1);
                handles.duration.record(seconds);
                if database_error {
                    record_database_error(outcome, &handles.first);
                }
            }
            Target::Unbound { meters, first, second } => {
                let (counter_labels, duration_labels) = self.site.labels(first, second);
                let (counter, duration) = self.site.labelled_instruments(meters);
                counter.add(1, &counter_labels);
                duration.record(seconds, &duration_labels);
                if database_error {
                    record_database_error(outcome, first);
                }
            }
        }
    }

    #[inline(never)]
    fn end_span(&mut self, outcome: Outcome) {
        let Some(cx) = self.span.take() else { return };
        let span = cx.span();
        match outcome.status {
            Status::Success => {}
            Status::Error => {
                span.set_attribute(KeyValue::new("error.type", known_error_type(outcome.error_type)));
                let description = match self.message.take() {
                    Some(message) => Cow::Owned(message),
                    None => Cow::Borrowed(outcome.error_type),
                };
                span.set_status(opentelemetry::trace::Status::Error { description });
            }
            Status::Cancelled => span.set_attribute(KeyValue::new("contextd.cancelled", true)),
        }
        span.end();
    }
}

fn record_database_error(outcome: Outcome, database: &str) {
    if let Binding::Bound { meters, .. } = binding() {
        let error_type = KeyValue::new("error_type", known_error_type(outcome.error_type));
        meters.database_errors.add(1, &[error_type, KeyValue::new("database", database.to_owned())]);
    }
}

impl Drop for Op {
    fn drop(&mut self) {
        if !self.finished {
            let status = if std::thread::panicking() { Status::Error } else { Status::Cancelled };
            let error_type = if status == Status::Error { "other" } else { "" };
            self.record(Outcome { status, error_type });
        }
    }
}
