//! The table itself. Adding an instrument is adding one entry here; instrument creation, the
//! docs, the dashboards and the alert rules are all derived from it.

use crate::Component::{Agent, Checkpoint, Database, Embedding, Mcp, Remediation, Skill, Testing};
use crate::InstrumentKind::{Counter, Gauge, Histogram};
use crate::LabelValues::{Closed, Open};
use crate::ValueType::{F64, I64, U64};
use crate::{InstrumentSpec, LabelSpec};

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

// Labels, defined once and shared by the instruments that carry them.
const fn closed(name: &'static str, values: &'static [&'static str]) -> LabelSpec {
    LabelSpec { name, values: Closed(values) }
}
const fn open(name: &'static str, known: &'static [&'static str]) -> LabelSpec {
    LabelSpec { name, values: Open(known) }
}

const STATUS: LabelSpec = closed("status", &["success", "error", "cancelled"]);
const TOOL_NAME: LabelSpec = closed(
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
const CHECKPOINT_OPERATION: LabelSpec =
    closed("operation", &["create", "search", "list", "update", "delete"]);
const REMEDIATION_OPERATION: LabelSpec = closed("operation", &["save", "search"]);
const SKILL_OPERATION: LabelSpec = closed("operation", &["create", "apply", "search", "update", "delete"]);
const DATABASE_OPERATION: LabelSpec = closed("operation", &["insert", "search", "delete", "get", "update"]);
const PROVIDER: LabelSpec = closed("provider", &["openai", "tei"]);
const MODEL: LabelSpec = open("model", &["text-embedding-3-small"]);
const DATABASE: LabelSpec = open("database", &["shared", "project_<hash>"]);
const COLLECTION: LabelSpec = closed("collection", &["checkpoints", "remediations", "skills", "documents"]);
const ERROR_TYPE: LabelSpec =
    closed("error_type", &["connection_timeout", "query_failed", "not_found", "permission_denied", "other"]);
const AGENT: LabelSpec = open("agent", &[]);
const TEST_TYPE: LabelSpec = closed("type", &["unit", "integration", "e2e"]);
const SKILL_ID: LabelSpec = open("skill_id", &[]);
const SEVERITY: LabelSpec = closed("severity", &["critical", "high", "medium", "low"]);
const BUG_STATUS: LabelSpec = closed("status", &["open", "fixed", "verified"]);
const CATEGORY: LabelSpec = closed("category", &["bugs", "security", "performance"]);

const fn counter(
    name: &'static str,
    value_type: crate::ValueType,
    unit: &'static str,
    component: crate::Component,
    labels: &'static [LabelSpec],
    description: &'static str,
) -> InstrumentSpec {
    InstrumentSpec { name, kind: Counter, value_type, unit, description, component, labels, buckets: None }
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
    }
}

const fn gauge(
    name: &'static str,
    value_type: crate::ValueType,
    unit: &'static str,
    component: crate::Component,
    labels: &'static [LabelSpec],
    description: &'static str,
) -> InstrumentSpec {
    InstrumentSpec { name, kind: Gauge, value_type, unit, description, component, labels, buckets: None }
}

use buckets::*;

/// How many instruments the catalog has.
pub const CATALOG_LEN: usize = 31;

/// The 31 contextd instruments: 9 counters, 13 histograms, 9 observable gauges.
#[rustfmt::skip]
pub static CATALOG: [InstrumentSpec; CATALOG_LEN] = [
    // Counters
    counter("contextd_mcp_tool_calls_total", U64, "{call}", Mcp, &[TOOL_NAME, STATUS],
        "MCP tool calls"),
    counter("contextd_checkpoint_operations_total", U64, "{operation}", Checkpoint, &[CHECKPOINT_OPERATION, STATUS],
        "Checkpoint operations"),
    counter("contextd_remediation_operations_total", U64, "{operation}", Remediation, &[REMEDIATION_OPERATION, STATUS],
        "Remediation operations"),
    counter("contextd_skill_operations_total", U64, "{operation}", Skill, &[SKILL_OPERATION, STATUS],
        "Skill operations"),
    counter("contextd_embedding_operations_total", U64, "{operation}", Embedding, &[PROVIDER, MODEL],
        "Embedding generation calls"),
    counter("contextd_embedding_tokens_total", U64, "{token}", Embedding, &[MODEL],
        "Tokens consumed by embeddings"),
    counter("contextd_embedding_cost_total", F64, "USD", Embedding, &[MODEL],
        "Embedding cost in USD (OpenAI text-embedding-3-small: 0.02 USD per 1M tokens; TEI: 0)"),
    counter("contextd_database_operations_total", U64, "{operation}", Database, &[DATABASE_OPERATION, DATABASE, COLLECTION],
        "Vector-store operations"),
    counter("contextd_database_errors_total", U64, "{error}", Database, &[ERROR_TYPE, DATABASE],
        "Vector-store errors"),
    // Histograms
    histogram("contextd_mcp_tool_duration_seconds", F64, "s", Mcp, &[TOOL_NAME], DURATION_SECONDS,
        "MCP tool execution time"),
    histogram("contextd_checkpoint_duration_seconds", F64, "s", Checkpoint, &[CHECKPOINT_OPERATION], DURATION_SECONDS,
        "Checkpoint operation time"),
    histogram("contextd_checkpoint_search_score", F64, "1", Checkpoint, &[], SCORE,
        "Relevance score of each checkpoint search result"),
    histogram("contextd_checkpoint_search_results", U64, "{result}", Checkpoint, &[], SEARCH_RESULTS,
        "Results returned by one checkpoint search"),
    histogram("contextd_remediation_duration_seconds", F64, "s", Remediation, &[REMEDIATION_OPERATION], DURATION_SECONDS,
        "Remediation operation time"),
    histogram("contextd_remediation_match_score", F64, "1", Remediation, &[], SCORE,
        "Hybrid match score (0.7 semantic + 0.3 string) of each remediation match"),
    histogram("contextd_skill_duration_seconds", F64, "s", Skill, &[SKILL_OPERATION], SKILL_SECONDS,
        "Skill operation time (apply can take seconds)"),
    histogram("contextd_embedding_duration_seconds", F64, "s", Embedding, &[PROVIDER, MODEL], DURATION_SECONDS,
        "Embedding call time, API latency and retries included"),
    histogram("contextd_embedding_batch_size", U64, "{text}", Embedding, &[PROVIDER], BATCH_SIZE,
        "Texts sent in one embedding request"),
    histogram("contextd_database_duration_seconds", F64, "s", Database, &[DATABASE_OPERATION, DATABASE], DURATION_SECONDS,
        "Vector-store operation time"),
    histogram("contextd_mcp_tool_response_bytes", U64, "By", Mcp, &[TOOL_NAME], RESPONSE_BYTES,
        "Size of each MCP tool response handed to the agent"),
    histogram("contextd_agent_duration_seconds", F64, "s", Agent, &[AGENT, STATUS], AGENT_SECONDS,
        "One agent execution, end to end (Agents & Skills dashboard: executions, mean time, success rate)"),
    histogram("contextd_test_duration_seconds", F64, "s", Testing, &[TEST_TYPE], TEST_SECONDS,
        "One test's run time"),
    // Observable gauges, each fed by a registered source
    gauge("contextd_checkpoints_total", I64, "{checkpoint}", Checkpoint, &[],
        "Checkpoints stored"),
    gauge("contextd_remediations_total", I64, "{remediation}", Remediation, &[],
        "Remediations stored"),
    gauge("contextd_skills_total", I64, "{skill}", Skill, &[],
        "Skills stored"),
    gauge("contextd_skill_success_rate", F64, "1", Skill, &[SKILL_ID],
        "Skill application success rate"),
    gauge("contextd_test_coverage_percent", F64, "%", Testing, &[],
        "Overall line coverage"),
    gauge("contextd_tests_total", I64, "{test}", Testing, &[TEST_TYPE],
        "Tests, by type (unit, integration, e2e)"),
    gauge("contextd_bugs_total", I64, "{bug}", Testing, &[SEVERITY, BUG_STATUS],
        "Bugs tracked"),
    gauge("contextd_regression_tests_total", I64, "{test}", Testing, &[CATEGORY],
        "Regression tests"),
    gauge("contextd_embedding_cache_hit_ratio", F64, "1", Embedding, &[MODEL],
        "Share of embedding lookups served from cache"),
];
