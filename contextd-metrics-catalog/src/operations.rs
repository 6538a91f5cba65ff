//! Which catalog instruments one wrapped operation of a component records.
//!
//! This is what `#[instrument_op("component", "operation")]` validates against at compile time
//! and what its runtime records at every call, so both read the same entries.

use crate::{Component, InstrumentSpec, LabelSpec};

/// How a component's operation is recorded: the instruments and where each label comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OperationShape {
    /// Counter `{<operation label>, status}` and duration `{<operation label>}`:
    /// checkpoint, remediation, skill (`operation`) and mcp (`tool_name`).
    Status {
        /// The operations counter.
        counter: &'static InstrumentSpec,
        /// The duration histogram.
        duration: &'static InstrumentSpec,
    },
    /// Duration `{agent, status}` only; the operation name is the agent's name.
    Agent {
        /// The duration histogram.
        duration: &'static InstrumentSpec,
    },
    /// Counter `{operation, database, collection}`, duration `{operation, database}` and, on
    /// error, errors `{error_type, database}`; `database` and `collection` come from arguments.
    Database {
        /// The operations counter.
        counter: &'static InstrumentSpec,
        /// The duration histogram.
        duration: &'static InstrumentSpec,
        /// The errors counter.
        errors: &'static InstrumentSpec,
    },
    /// Counter and duration `{provider, model}`, both from arguments; the operation names
    /// the span only.
    Embedding {
        /// The operations counter.
        counter: &'static InstrumentSpec,
        /// The duration histogram.
        duration: &'static InstrumentSpec,
    },
}

// Names below are catalog entries looked up with `require`; the catalog tests call
// `operation_shape` for every component, so a renamed entry fails the test suite, not a service.
use crate::require as entry;

impl OperationShape {
    /// The arguments `#[instrument_op]` requires for this shape (`database = <expr>` …).
    pub fn label_arguments(&self) -> &'static [&'static str] {
        match self {
            Self::Status { .. } | Self::Agent { .. } => &[],
            Self::Database { .. } => &["database", "collection"],
            Self::Embedding { .. } => &["provider", "model"],
        }
    }

    /// The label whose value is the operation literal, when its values are listed in the
    /// catalog (`operation`, `tool_name`); `None` where any snake_case name is accepted.
    pub fn operation_label(&self) -> Option<&'static LabelSpec> {
        match self {
            Self::Status { counter, .. } | Self::Database { counter, .. } => counter.labels.first(),
            Self::Agent { .. } | Self::Embedding { .. } => None,
        }
    }
}

/// How an operation of `component` is recorded, or `None` for a component without operation
/// instruments (testing).
pub fn operation_shape(component: Component) -> Option<OperationShape> {
    let status =
        |counter, duration| OperationShape::Status { counter: entry(counter), duration: entry(duration) };
    Some(match component {
        Component::Mcp => status("contextd_mcp_tool_calls_total", "contextd_mcp_tool_duration_seconds"),
        Component::Checkpoint => {
            status("contextd_checkpoint_operations_total", "contextd_checkpoint_duration_seconds")
        }
        Component::Remediation => {
            status("contextd_remediation_operations_total", "contextd_remediation_duration_seconds")
        }
        Component::Skill => status("contextd_skill_operations_total", "contextd_skill_duration_seconds"),
        Component::Agent => OperationShape::Agent { duration: entry("contextd_agent_duration_seconds") },
        Component::Database => OperationShape::Database {
            counter: entry("contextd_database_operations_total"),
            duration: entry("contextd_database_duration_seconds"),
            errors: entry("contextd_database_errors_total"),
        },
        Component::Embedding => OperationShape::Embedding {
            counter: entry("contextd_embedding_operations_total"),
            duration: entry("contextd_embedding_duration_seconds"),
        },
        Component::Testing => return None,
    })
}
