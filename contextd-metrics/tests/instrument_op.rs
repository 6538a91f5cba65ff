//! `#[instrument_op]` and `#[instrument_ops]` on every supported form, read back through an
//! in-memory exporter: counter with status, duration histogram, argument labels, error types,
//! panics, cancelled futures, and recording only while bound.

use std::future::Future;
use std::pin::pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use contextd_testkit::points as common;

use contextd_metrics::{ErrorType, instrument_op, instrument_ops};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

/// A provider bound to the global meters for one test; tests take turns.
struct Bound {
    provider: SdkMeterProvider,
    exporter: InMemoryMetricExporter,
    _serial: MutexGuard<'static, ()>,
}

fn bind() -> Bound {
    static SERIAL: Mutex<()> = Mutex::new(());
    let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let exporter = InMemoryMetricExporter::default();
    let provider =
        SdkMeterProvider::builder().with_reader(PeriodicReader::builder(exporter.clone()).build()).build();
    contextd_metrics::bind_global_meters(&provider.meter(contextd_metrics::contextd::CATALOG.namespace));
    Bound { provider, exporter, _serial: serial }
}

/// Series of one export: (name, sorted attributes) → value (sums) or count (histograms).
type Series = common::Points;

impl Bound {
    fn series(&self) -> Series {
        common::export_points(&self.provider, &self.exporter)
    }
}

fn get(series: &Series, name: &str, attrs: &str) -> f64 {
    series.get(&(name.to_owned(), attrs.to_owned())).copied().unwrap_or_else(|| {
        panic!("no series {name}{{{attrs}}}; have: {:#?}", series.keys().collect::<Vec<_>>())
    })
}

/// Polls a future to completion on this thread (the futures here never wait on I/O).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

/// A future that is pending on its first poll and ready on the second.
struct YieldOnce(bool);
impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[derive(Debug)]
enum StoreError {
    Timeout,
}
impl ErrorType for StoreError {
    fn error_type(&self) -> &'static str {
        match self {
            StoreError::Timeout => "connection_timeout",
        }
    }
}

#[derive(Debug)]
struct Untyped;

#[instrument_op("checkpoint", "create")]
fn create(fail: bool) -> Result<u32, Untyped> {
    if fail {
        return Err(Untyped);
    }
    let parsed: u32 = "7".parse().map_err(|_| Untyped)?;
    Ok(parsed)
}

#[instrument_op("checkpoint", "list")]
fn list() -> Vec<u32> {
    vec![1, 2]
}

#[test]
fn sync_results_and_plain_values_record_status_and_duration() {
    let bound = bind();
    assert_eq!(create(false).unwrap(), 7);
    assert!(create(true).is_err());
    assert!(create(true).is_err());
    assert_eq!(list(), vec![1, 2]);
    let s = bound.series();
    let ops = "contextd_checkpoint_operations_total";
    assert_eq!(get(&s, ops, "operation=create,status=success"), 1.0);
    assert_eq!(get(&s, ops, "operation=create,status=error"), 2.0);
    assert_eq!(get(&s, ops, "operation=list,status=success"), 1.0);
    assert_eq!(get(&s, "contextd_checkpoint_duration_seconds", "operation=create"), 3.0);
}

#[instrument_op("remediation", "save")]
async fn save(input: &str) -> Result<usize, std::num::ParseIntError> {
    YieldOnce(false).await;
    let n: usize = input.parse()?;
    Ok(n)
}

#[test]
fn async_success_error_and_cancelled() {
    let bound = bind();
    assert_eq!(block_on(save("12")), Ok(12));
    assert!(block_on(save("x")).is_err());
    {
        // Polled once (pending), then dropped: the call never completes.
        let mut future = Box::pin(save("5"));
        assert!(future.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
    }
    let s = bound.series();
    let ops = "contextd_remediation_operations_total";
    assert_eq!(get(&s, ops, "operation=save,status=success"), 1.0);
    assert_eq!(get(&s, ops, "operation=save,status=error"), 1.0);
    assert_eq!(get(&s, ops, "operation=save,status=cancelled"), 1.0);
    assert_eq!(get(&s, "contextd_remediation_duration_seconds", "operation=save"), 3.0);
}

#[instrument_op("skill", "apply", skill_id = id)]
fn apply_skill(id: String, ok: bool) -> Result<(), Untyped> {
    if ok { Ok(()) } else { Err(Untyped) }
}

#[test]
fn skill_apply_feeds_the_success_rate_without_a_skill_id_label() {
    let bound = bind();
    apply_skill("rollback-deploy".into(), true).unwrap();
    apply_skill("rollback-deploy".into(), false).unwrap_err();
    apply_skill("rollback-deploy".into(), true).unwrap();
    let rates = contextd_metrics::SkillSuccessTracker::global().rates();
    let rate = rates.iter().find(|(id, _)| id == "rollback-deploy").unwrap().1;
    assert!((rate - 2.0 / 3.0).abs() < 1e-12, "{rate}");
    let s = bound.series();
    assert_eq!(get(&s, "contextd_skill_operations_total", "operation=apply,status=success"), 2.0);
    assert!(!s.keys().any(|(_, attrs)| attrs.contains("skill_id")));
}

#[instrument_op("skill", "apply")]
fn apply_or_panic(panic: bool) -> u8 {
    assert!(!panic, "skill exploded");
    1
}

#[test]
fn a_panic_is_recorded_as_error_and_resumed() {
    let bound = bind();
    let caught = std::panic::catch_unwind(|| apply_or_panic(true));
    let message = caught.unwrap_err();
    assert_eq!(
        message.downcast_ref::<&str>().copied(),
        Some("skill exploded"),
        "the panic is resumed unchanged"
    );
    assert_eq!(apply_or_panic(false), 1);
    let s = bound.series();
    assert_eq!(get(&s, "contextd_skill_operations_total", "operation=apply,status=error"), 1.0);
    assert_eq!(get(&s, "contextd_skill_operations_total", "operation=apply,status=success"), 1.0);
    assert_eq!(get(&s, "contextd_skill_duration_seconds", "operation=apply"), 2.0);
}

struct Store {
    database: String,
    inserted: Vec<String>,
}

impl Store {
    #[instrument_op("database", "insert", database = self.database, collection = "checkpoints")]
    fn insert(&mut self, text: &str) -> Result<(), StoreError> {
        if text.is_empty() {
            return Err(StoreError::Timeout);
        }
        self.inserted.push(text.to_owned());
        Ok(())
    }

    #[instrument_op("database", "get", database = &self.database, collection = collection)]
    fn get(&self, collection: &str, index: usize) -> Option<&str> {
        self.inserted.get(index).map(String::as_str)
    }

    #[instrument_op("database", "delete", database = self.database.clone(), collection = "skills")]
    fn into_count(self) -> usize {
        self.inserted.len()
    }
}

#[test]
fn methods_take_labels_from_arguments_and_errors_from_error_type() {
    let bound = bind();
    let mut store = Store { database: "shared".into(), inserted: vec![] };
    store.insert("a").unwrap();
    assert!(store.insert("").is_err());
    assert_eq!(store.get("documents", 0), Some("a"));
    assert_eq!(store.get("remediations", 5), None);
    assert_eq!(store.into_count(), 1);
    let s = bound.series();
    let ops = "contextd_database_operations_total";
    assert_eq!(get(&s, ops, "collection=checkpoints,database=shared,operation=insert"), 2.0);
    assert_eq!(get(&s, ops, "collection=documents,database=shared,operation=get"), 1.0);
    assert_eq!(get(&s, ops, "collection=remediations,database=shared,operation=get"), 1.0);
    assert_eq!(get(&s, ops, "collection=skills,database=shared,operation=delete"), 1.0);
    assert_eq!(get(&s, "contextd_database_duration_seconds", "database=shared,operation=get"), 2.0);
    assert_eq!(
        get(&s, "contextd_database_errors_total", "database=shared,error_type=connection_timeout"),
        1.0
    );
}

#[test]
fn label_combinations_past_the_per_site_cache_still_record() {
    let bound = bind();
    let mut store = Store { database: String::new(), inserted: vec![] };
    for i in 0..20 {
        store.database = format!("project_{i}");
        store.insert("x").unwrap();
    }
    let s = bound.series();
    for i in 0..20 {
        let attrs = format!("collection=checkpoints,database=project_{i},operation=insert");
        assert_eq!(get(&s, "contextd_database_operations_total", &attrs), 1.0, "{attrs}");
    }
}

#[instrument_op("embedding", "generate", provider = provider, model = model)]
fn embed<'t, T: AsRef<str>>(provider: &str, model: &str, texts: &'t [T]) -> impl Iterator<Item = usize> + 't {
    texts.iter().map(|t| t.as_ref().len())
}

#[instrument_op("mcp", "checkpoint_search")]
fn search_tool(query: &str) -> Result<impl Iterator<Item = char> + '_, Untyped> {
    if query.is_empty() { Err(Untyped) } else { Ok(query.chars()) }
}

#[instrument_op("agent", "planner")]
async fn plan() -> Result<(), Untyped> {
    Ok(())
}

#[test]
fn generic_impl_trait_mcp_embedding_and_agent_forms() {
    let bound = bind();
    assert_eq!(embed("openai", "text-embedding-3-small", &["ab", "c"]).sum::<usize>(), 3);
    assert_eq!(search_tool("hi").unwrap().count(), 2);
    assert!(search_tool("").is_err());
    block_on(plan()).unwrap();
    let s = bound.series();
    assert_eq!(
        get(&s, "contextd_embedding_operations_total", "model=text-embedding-3-small,provider=openai"),
        1.0
    );
    assert_eq!(
        get(&s, "contextd_embedding_duration_seconds", "model=text-embedding-3-small,provider=openai"),
        1.0
    );
    assert_eq!(get(&s, "contextd_mcp_tool_calls_total", "status=success,tool_name=checkpoint_search"), 1.0);
    assert_eq!(get(&s, "contextd_mcp_tool_calls_total", "status=error,tool_name=checkpoint_search"), 1.0);
    assert_eq!(get(&s, "contextd_mcp_tool_duration_seconds", "tool_name=checkpoint_search"), 2.0);
    assert_eq!(get(&s, "contextd_agent_duration_seconds", "agent=planner,status=success"), 1.0);
}

struct Skills;

#[instrument_ops("skill")]
impl Skills {
    /// Docs and attributes stay on the method.
    #[must_use]
    fn create(&self, name: &str) -> String {
        format!("skill:{name}")
    }

    async fn search(&self) -> Vec<u8> {
        vec![1]
    }

    #[skip_instrument]
    fn helper(&self) -> u8 {
        3
    }
}

#[test]
fn impl_block_instruments_each_method_except_skipped_ones() {
    let bound = bind();
    assert_eq!(Skills.create("a"), "skill:a");
    assert_eq!(block_on(Skills.search()), vec![1]);
    assert_eq!(Skills.helper(), 3);
    let s = bound.series();
    assert_eq!(get(&s, "contextd_skill_operations_total", "operation=create,status=success"), 1.0);
    assert_eq!(get(&s, "contextd_skill_operations_total", "operation=search,status=success"), 1.0);
    assert!(!s.keys().any(|(_, attrs)| attrs.contains("helper")));
}

#[async_trait::async_trait]
trait Remediate {
    async fn search(&self, query: String) -> Result<usize, StoreError>;
}

struct AsyncTraitFirst;

#[async_trait::async_trait]
impl Remediate for AsyncTraitFirst {
    #[instrument_op("remediation", "search")]
    async fn search(&self, query: String) -> Result<usize, StoreError> {
        YieldOnce(false).await;
        if query.is_empty() { Err(StoreError::Timeout) } else { Ok(query.len()) }
    }
}

struct InstrumentFirst;

#[instrument_ops("remediation")]
#[async_trait::async_trait]
impl Remediate for InstrumentFirst {
    async fn search(&self, query: String) -> Result<usize, StoreError> {
        Ok(query.len() * 2)
    }
}

#[test]
fn async_trait_methods_in_either_attribute_order() {
    let bound = bind();
    assert_eq!(block_on(AsyncTraitFirst.search("abc".into())).unwrap(), 3);
    assert!(block_on(AsyncTraitFirst.search(String::new())).is_err());
    assert_eq!(block_on(InstrumentFirst.search("ab".into())).unwrap(), 4);
    let s = bound.series();
    let ops = "contextd_remediation_operations_total";
    assert_eq!(get(&s, ops, "operation=search,status=success"), 2.0);
    assert_eq!(get(&s, ops, "operation=search,status=error"), 1.0);
}

#[test]
fn calls_record_only_while_bound_and_follow_rebinding() {
    let first = bind();
    create(false).unwrap();
    contextd_metrics::unbind_global_meters();
    create(false).unwrap(); // unbound: recorded nowhere
    assert_eq!(
        get(&first.series(), "contextd_checkpoint_operations_total", "operation=create,status=success"),
        1.0
    );
    drop(first);
    let second = bind();
    create(false).unwrap();
    assert_eq!(
        get(&second.series(), "contextd_checkpoint_operations_total", "operation=create,status=success"),
        1.0
    );
}

#[derive(Debug)]
struct LeakyError(String);

impl std::fmt::Display for LeakyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[instrument_op("embedding", "generate", provider = "openai", model = "text-embedding-3-small")]
fn call_provider(api_key: &str) -> Result<(), LeakyError> {
    Err(LeakyError(format!(
        "401 for Authorization: Bearer {api_key} reading /home/alice/.config/contextd.toml"
    )))
}

/// Binds the call sites to `bound`'s meter and to a tracer whose spans the returned exporter keeps.
fn bind_spans(bound: &Bound) -> opentelemetry_sdk::trace::InMemorySpanExporter {
    let spans = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let tracer_provider =
        opentelemetry_sdk::trace::SdkTracerProvider::builder().with_simple_exporter(spans.clone()).build();
    let tracer = opentelemetry::trace::TracerProvider::tracer(&tracer_provider, "contextd");
    contextd_metrics::bind_global(
        &bound.provider.meter(contextd_metrics::contextd::CATALOG.namespace),
        Some(tracer),
    );
    spans
}

#[test]
fn error_messages_on_spans_are_redacted() {
    let bound = bind();
    let spans = bind_spans(&bound);
    assert!(call_provider("sk-live-0123456789abcdef").is_err());
    let finished = spans.get_finished_spans().unwrap();
    let span = finished.iter().find(|s| s.name == "embedding.generate").expect("the operation's span");
    let opentelemetry::trace::Status::Error { description } = &span.status else {
        panic!("{:?}", span.status)
    };
    assert_eq!(description, "401 for Authorization: Bearer [REDACTED] reading ~/.config/contextd.toml");
    assert!(span.attributes.iter().any(|kv| kv.key.as_str() == "error.type" && kv.value.as_str() == "other"));
}

#[test]
fn argument_labels_are_cut_to_the_documented_limit() {
    let bound = bind();
    let mut store = Store { database: "é".repeat(200), inserted: vec![] };
    store.insert("x").unwrap();
    let s = bound.series();
    let cut = "é".repeat(contextd_metrics::MAX_LABEL_BYTES / 2);
    let attrs = format!("collection=checkpoints,database={cut},operation=insert");
    assert_eq!(get(&s, "contextd_database_operations_total", &attrs), 1.0);
}

#[instrument_op("checkpoint", "create")]
fn timed_create() -> Result<u64, String> {
    std::thread::sleep(std::time::Duration::from_millis(15));
    Ok(1)
}

#[test]
fn a_span_lasts_exactly_the_duration_its_histogram_records() {
    use contextd_metrics::testing::Recording;
    let bound = bind();
    let spans = bind_spans(&bound);
    timed_create().unwrap();
    let finished = spans.get_finished_spans().unwrap();
    let span = finished.iter().find(|s| s.name == "checkpoint.create").expect("the operation's span");
    let span_seconds = span.end_time.duration_since(span.start_time).unwrap().as_secs_f64();
    let recorded = contextd_metrics::testing::read(&bound.provider, &bound.exporter);
    let histogram = contextd_metrics::contextd::instruments::CHECKPOINT_DURATION_SECONDS.name;
    let (_, _, recording) = recorded.all().find(|(name, _, _)| *name == histogram).expect("the duration");
    let Recording::Histogram { count: 1, sum } = recording else { panic!("{recording:?}") };
    assert!(sum >= 0.015, "{sum}");
    // One clock pair measures both: the span's end is its start plus the recorded duration.
    assert!((span_seconds - sum).abs() < 1e-8, "span {span_seconds} s, histogram {sum} s");
}

#[instrument_op("skill", "apply")]
fn apply_enriched(panic: bool) -> opentelemetry::trace::SpanId {
    use opentelemetry::trace::TraceContextExt as _;
    let cx = opentelemetry::Context::current();
    cx.span().set_attribute(opentelemetry::KeyValue::new("skill.cache", "miss"));
    assert!(!panic, "skill exploded");
    cx.span().span_context().span_id()
}

#[test]
fn a_sync_call_is_the_current_span_of_its_body_and_ends_it_when_it_panics_too() {
    use opentelemetry::trace::{Status, TraceContextExt as _};
    let bound = bind();
    let spans = bind_spans(&bound);
    let current = apply_enriched(false);
    assert!(std::panic::catch_unwind(|| apply_enriched(true)).is_err());
    assert!(!opentelemetry::Context::current().has_active_span(), "nothing is left current");
    let finished = spans.get_finished_spans().unwrap();
    let applied: Vec<_> = finished.iter().filter(|s| s.name == "skill.apply").collect();
    assert_eq!(applied.len(), 2, "{finished:#?}");
    let enriched = |s: &&&opentelemetry_sdk::trace::SpanData| {
        s.attributes.iter().any(|kv| kv.key.as_str() == "skill.cache" && kv.value.as_str() == "miss")
    };
    let returned =
        applied.iter().find(|s| s.span_context.span_id() == current).expect("the body's current span");
    assert!(enriched(&returned), "what the body set on its span: {:?}", returned.attributes);
    assert_eq!(returned.status, Status::Unset);
    let panicked = applied.iter().find(|s| s.span_context.span_id() != current).unwrap();
    assert!(enriched(&panicked), "{:?}", panicked.attributes);
    assert_eq!(panicked.status, Status::error("other"), "the call ended its span, not the SDK's drop");
}
