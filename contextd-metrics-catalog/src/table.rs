//! The table itself. Adding an instrument is adding one entry here; instrument creation, the
//! docs, the dashboards and the alert rules are all derived from it.

use crate::Aggregation::{Avg, Max, Sum};
use crate::Component::{Agent, Checkpoint, Database, Embedding, Mcp, Remediation, Skill, Telemetry, Testing};
use crate::InstrumentKind::{Counter, Gauge, Histogram, ObservedCounter};
use crate::InstrumentSpec;
use crate::LabelSpec;
use crate::ValueType::{F64, I64, U64};
use labels::*;

/// Bucket boundaries shared by several histograms.
pub mod buckets {
    /// Request durations in seconds: the semantic-conventions advice for `http.server.request.duration`.
    pub const DURATION_SECONDS: &[f64] =
        &[0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
    /// Relevance scores in [0, 1], in steps of 0.1.
    pub const SCORE: &[f64] = &[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
    /// Skill operations: `apply` can take a minute.
    pub const SKILL_SECONDS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
    /// Agent executions, up to ten minutes.
    pub const AGENT_SECONDS: &[f64] = &[0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];
    /// One test's run time, from a millisecond to five minutes.
    pub const TEST_SECONDS: &[f64] = &[0.001, 0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0];
    /// Results returned by one search.
    pub const SEARCH_RESULTS: &[f64] = &[0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0];
    /// Texts sent in one embedding request (powers of two).
    pub const BATCH_SIZE: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0];
    /// Response sizes in bytes, 256 B to 4 MiB in steps of four.
    pub const RESPONSE_BYTES: &[f64] =
        &[256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0];
}

/// The labels, defined once and shared by the instruments that carry them. Code that needs a
/// label's key or its closed values takes them from here, never from a literal of its own.
pub mod labels {
    use crate::LabelSpec;
    use crate::LabelValues::{Closed, Open};

    const fn closed(name: &'static str, values: &'static [&'static str]) -> LabelSpec {
        LabelSpec { name, values: Closed(values) }
    }
    const fn open(name: &'static str, known: &'static [&'static str]) -> LabelSpec {
        LabelSpec { name, values: Open(known) }
    }

    /// How a call ended: `success`, `error`, `cancelled`, in this order (`Status` indexes it).
    pub const STATUS: LabelSpec = closed("status", &["success", "error", "cancelled"]);
    /// The MCP tool called.
    pub const TOOL_NAME: LabelSpec = closed(
        "tool_name",
        &[
            "checkpoint_save",
            "checkpoint_search",
            "checkpoint_list",
            "remediation_save",
            "remediation_search",
            "troubleshoot",
            "list_patterns",
            "index_repository",
            "status",
        ],
    );
    /// Checkpoint operations.
    pub const CHECKPOINT_OPERATION: LabelSpec =
        closed("operation", &["create", "search", "list", "update", "delete"]);
    /// Remediation operations.
    pub const REMEDIATION_OPERATION: LabelSpec = closed("operation", &["save", "search"]);
    /// Skill operations.
    pub const SKILL_OPERATION: LabelSpec =
        closed("operation", &["create", "apply", "search", "update", "delete"]);
    /// Vector-store operations.
    pub const DATABASE_OPERATION: LabelSpec =
        closed("operation", &["insert", "search", "delete", "get", "update"]);
    /// Embedding providers: `openai`, `tei` (in this order: `EmbeddingProvider` indexes it).
    pub const PROVIDER: LabelSpec = closed("provider", &["openai", "tei"]);
    /// Embedding models (open: chosen by configuration).
    pub const MODEL: LabelSpec = open("model", &["text-embedding-3-small"]);
    /// Vector-store databases (open: `shared` or a hashed project id).
    pub const DATABASE: LabelSpec = open("database", &["shared", "project_<hash>"]);
    /// Vector-store collections.
    pub const COLLECTION: LabelSpec =
        closed("collection", &["checkpoints", "remediations", "skills", "documents"]);
    /// Vector-store error classes; anything unlisted is recorded as the last, `other`.
    pub const ERROR_TYPE: LabelSpec = closed(
        "error_type",
        &["connection_timeout", "query_failed", "not_found", "permission_denied", "other"],
    );
    /// Agents (open: the agent's name).
    pub const AGENT: LabelSpec = open("agent", &[]);
    /// Test types: `unit`, `integration`, `e2e`.
    pub const TEST_TYPE: LabelSpec = closed("type", &["unit", "integration", "e2e"]);
    /// Skills (open: the skill's id).
    pub const SKILL_ID: LabelSpec = open("skill_id", &[]);
    /// Bug severities.
    pub const SEVERITY: LabelSpec = closed("severity", &["critical", "high", "medium", "low"]);
    /// Bug states.
    pub const BUG_STATUS: LabelSpec = closed("status", &["open", "fixed", "verified"]);
    /// Regression test categories.
    pub const CATEGORY: LabelSpec = closed("category", &["bugs", "security", "performance"]);
    /// The telemetry signal of a self-metric: `metrics`, `traces`.
    pub const SIGNAL: LabelSpec = closed("signal", &["metrics", "traces"]);
    /// The catalog instrument a self-metric is about (open: any instrument name).
    pub const INSTRUMENT: LabelSpec = open("instrument", &[]);
    /// Why a float measurement was refused.
    pub const REFUSED_REASON: LabelSpec = closed("reason", &["nan", "infinite", "negative"]);
    /// The gauge whose source failed (open: any gauge name).
    pub const GAUGE: LabelSpec = open("gauge", &[]);
    /// How a gauge source failed.
    pub const FAILURE_REASON: LabelSpec = closed("reason", &["error", "timeout", "panic"]);
}

const fn counter(
    name: &'static str,
    value_type: crate::ValueType,
    unit: &'static str,
    component: crate::Component,
    labels: &'static [LabelSpec],
    description: &'static str,
) -> InstrumentSpec {
    InstrumentSpec {
        name,
        kind: Counter,
        value_type,
        unit,
        description,
        component,
        labels,
        buckets: None,
        aggregation: Sum,
    }
}

const fn histogram(
    name: &'static str,
    value_type: crate::ValueType,
    unit: &'static str,
    component: crate::Component,
    labels: &'static [LabelSpec],
    buckets: &'static [f64],
    description: &'static str,
) -> InstrumentSpec {
    InstrumentSpec {
        name,
        kind: Histogram,
        value_type,
        unit,
        description,
        component,
        labels,
        buckets: Some(buckets),
        aggregation: Sum,
    }
}

/// An observable gauge; `aggregation` says whether instances report shared values (`Max`), their
/// own ratios (`Avg`) or their own shares (`Sum`).
#[allow(clippy::too_many_arguments, reason = "one positional argument per column of the table")]
const fn gauge(
    name: &'static str,
    value_type: crate::ValueType,
    unit: &'static str,
    component: crate::Component,
    labels: &'static [LabelSpec],
    aggregation: crate::Aggregation,
    description: &'static str,
) -> InstrumentSpec {
    InstrumentSpec {
        name,
        kind: Gauge,
        value_type,
        unit,
        description,
        component,
        labels,
        buckets: None,
        aggregation,
    }
}

/// A monotonic count the pipeline keeps itself and reports at export time.
const fn observed_counter(
    name: &'static str,
    unit: &'static str,
    labels: &'static [LabelSpec],
    description: &'static str,
) -> InstrumentSpec {
    InstrumentSpec {
        name,
        kind: ObservedCounter,
        value_type: U64,
        unit,
        description,
        component: Telemetry,
        labels,
        buckets: None,
        aggregation: Sum,
    }
}

use buckets::*;

/// Declares each entry as a named constant of `$module` and the table `$array` of them all, in
/// order: an entry is written once.
macro_rules! table {
    ($(#[$meta:meta])* $array:ident, $len:ident in $module:ident { $( $name:ident = $kind:ident($iname:literal, $($arg:expr),* $(,)?), )* }) => {
        /// Every entry of the table by name, for code that records or reads one instrument.
        pub mod $module {
            use super::*;
            $(
                #[doc = concat!("`", $iname, "`.")]
                pub const $name: InstrumentSpec = $kind($iname, $($arg),*);
            )*
        }
        #[doc = concat!("How many entries `", stringify!($array), "` has.")]
        pub const $len: usize = [$(stringify!($name)),*].len();
        $(#[$meta])*
        pub static $array: [InstrumentSpec; $len] = [$($module::$name),*];
    };
}

table! {
    /// The 31 contextd instruments: 9 counters, 13 histograms, 9 observable gauges.
    CATALOG, CATALOG_LEN in instruments {
        // Counters
        MCP_TOOL_CALLS_TOTAL = counter("contextd_mcp_tool_calls_total", U64, "{call}", Mcp, &[TOOL_NAME, STATUS],
            "MCP tool calls"),
        CHECKPOINT_OPERATIONS_TOTAL = counter("contextd_checkpoint_operations_total", U64, "{operation}", Checkpoint, &[CHECKPOINT_OPERATION, STATUS],
            "Checkpoint operations"),
        REMEDIATION_OPERATIONS_TOTAL = counter("contextd_remediation_operations_total", U64, "{operation}", Remediation, &[REMEDIATION_OPERATION, STATUS],
            "Remediation operations"),
        SKILL_OPERATIONS_TOTAL = counter("contextd_skill_operations_total", U64, "{operation}", Skill, &[SKILL_OPERATION, STATUS],
            "Skill operations"),
        EMBEDDING_OPERATIONS_TOTAL = counter("contextd_embedding_operations_total", U64, "{operation}", Embedding, &[PROVIDER, MODEL],
            "Embedding generation calls"),
        EMBEDDING_TOKENS_TOTAL = counter("contextd_embedding_tokens_total", U64, "{token}", Embedding, &[MODEL],
            "Tokens consumed by embeddings"),
        EMBEDDING_COST_TOTAL = counter("contextd_embedding_cost_total", F64, "USD", Embedding, &[MODEL],
            "Embedding cost in USD (OpenAI text-embedding-3-small: 0.02 USD per 1M tokens; TEI: 0)"),
        DATABASE_OPERATIONS_TOTAL = counter("contextd_database_operations_total", U64, "{operation}", Database, &[DATABASE_OPERATION, DATABASE, COLLECTION],
            "Vector-store operations"),
        DATABASE_ERRORS_TOTAL = counter("contextd_database_errors_total", U64, "{error}", Database, &[ERROR_TYPE, DATABASE],
            "Vector-store errors"),
        // Histograms
        MCP_TOOL_DURATION_SECONDS = histogram("contextd_mcp_tool_duration_seconds", F64, "s", Mcp, &[TOOL_NAME], DURATION_SECONDS,
            "MCP tool execution time"),
        CHECKPOINT_DURATION_SECONDS = histogram("contextd_checkpoint_duration_seconds", F64, "s", Checkpoint, &[CHECKPOINT_OPERATION], DURATION_SECONDS,
            "Checkpoint operation time"),
        CHECKPOINT_SEARCH_SCORE = histogram("contextd_checkpoint_search_score", F64, "1", Checkpoint, &[], SCORE,
            "Relevance score of each checkpoint search result"),
        CHECKPOINT_SEARCH_RESULTS = histogram("contextd_checkpoint_search_results", U64, "{result}", Checkpoint, &[], SEARCH_RESULTS,
            "Results returned by one checkpoint search"),
        REMEDIATION_DURATION_SECONDS = histogram("contextd_remediation_duration_seconds", F64, "s", Remediation, &[REMEDIATION_OPERATION], DURATION_SECONDS,
            "Remediation operation time"),
        REMEDIATION_MATCH_SCORE = histogram("contextd_remediation_match_score", F64, "1", Remediation, &[], SCORE,
            "Hybrid match score (0.7 semantic + 0.3 string) of each remediation match"),
        SKILL_DURATION_SECONDS = histogram("contextd_skill_duration_seconds", F64, "s", Skill, &[SKILL_OPERATION], SKILL_SECONDS,
            "Skill operation time (apply can take seconds)"),
        EMBEDDING_DURATION_SECONDS = histogram("contextd_embedding_duration_seconds", F64, "s", Embedding, &[PROVIDER, MODEL], DURATION_SECONDS,
            "Embedding call time, API latency and retries included"),
        EMBEDDING_BATCH_SIZE = histogram("contextd_embedding_batch_size", U64, "{text}", Embedding, &[PROVIDER], BATCH_SIZE,
            "Texts sent in one embedding request"),
        DATABASE_DURATION_SECONDS = histogram("contextd_database_duration_seconds", F64, "s", Database, &[DATABASE_OPERATION, DATABASE], DURATION_SECONDS,
            "Vector-store operation time"),
        MCP_TOOL_RESPONSE_BYTES = histogram("contextd_mcp_tool_response_bytes", U64, "By", Mcp, &[TOOL_NAME], RESPONSE_BYTES,
            "Size of each MCP tool response handed to the agent"),
        AGENT_DURATION_SECONDS = histogram("contextd_agent_duration_seconds", F64, "s", Agent, &[AGENT, STATUS], AGENT_SECONDS,
            "One agent execution, end to end (Agents & Skills dashboard: executions, mean time, success rate)"),
        TEST_DURATION_SECONDS = histogram("contextd_test_duration_seconds", F64, "s", Testing, &[TEST_TYPE], TEST_SECONDS,
            "One test's run time"),
        // Observable gauges, each fed by a registered source
        CHECKPOINTS_TOTAL = gauge("contextd_checkpoints_total", I64, "{checkpoint}", Checkpoint, &[], Max,
            "Checkpoints stored"),
        REMEDIATIONS_TOTAL = gauge("contextd_remediations_total", I64, "{remediation}", Remediation, &[], Max,
            "Remediations stored"),
        SKILLS_TOTAL = gauge("contextd_skills_total", I64, "{skill}", Skill, &[], Max,
            "Skills stored"),
        SKILL_SUCCESS_RATE = gauge("contextd_skill_success_rate", F64, "1", Skill, &[SKILL_ID], Avg,
            "Skill application success rate"),
        TEST_COVERAGE_PERCENT = gauge("contextd_test_coverage_percent", F64, "%", Testing, &[], Max,
            "Overall line coverage"),
        TESTS_TOTAL = gauge("contextd_tests_total", I64, "{test}", Testing, &[TEST_TYPE], Max,
            "Tests, by type (unit, integration, e2e)"),
        BUGS_TOTAL = gauge("contextd_bugs_total", I64, "{bug}", Testing, &[SEVERITY, BUG_STATUS], Max,
            "Bugs tracked"),
        REGRESSION_TESTS_TOTAL = gauge("contextd_regression_tests_total", I64, "{test}", Testing, &[CATEGORY], Max,
            "Regression tests"),
        EMBEDDING_CACHE_HIT_RATIO = gauge("contextd_embedding_cache_hit_ratio", F64, "1", Embedding, &[MODEL], Avg,
            "Share of embedding lookups served from cache"),
    }
}

table! {
    /// The telemetry pipeline's own metrics: how exports, the span queue, the checked
    /// instruments and the gauge sources are doing. Registered by `contextd-telemetry` and
    /// `contextd-gauges`, drawn on the Overview dashboard and watched by the alert rules.
    SELF_METRICS, SELF_METRICS_LEN in self_metrics {
        EXPORTS_TOTAL = observed_counter("contextd_telemetry_exports_total", "{export}", &[SIGNAL],
            "Export attempts of the telemetry pipeline, by signal (a Prometheus scrape counts as one)"),
        EXPORT_FAILURES_TOTAL = observed_counter("contextd_telemetry_export_failures_total", "{export}", &[SIGNAL],
            "Failed exports of the telemetry pipeline, by signal"),
        SPANS_DROPPED_TOTAL = observed_counter("contextd_telemetry_spans_dropped_total", "{span}", &[],
            "Spans dropped because the export queue was full (OTEL_BSP_MAX_QUEUE_SIZE)"),
        INVALID_MEASUREMENTS_TOTAL = observed_counter("contextd_telemetry_invalid_measurements_total", "{measurement}",
            &[INSTRUMENT, REFUSED_REASON],
            "Measurements refused (NaN, infinite or negative), by instrument and reason"),
        GAUGE_SOURCE_FAILURES_TOTAL = observed_counter("contextd_telemetry_gauge_source_failures_total", "{failure}",
            &[GAUGE, FAILURE_REASON],
            "Failed reads of gauge sources, by gauge and reason"),
    }
}
