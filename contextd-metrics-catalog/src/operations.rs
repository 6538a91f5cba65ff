//! Which catalog instruments one wrapped operation of a component records.
//!
//! This is what `#[instrument_op("component", "operation")]` validates against at compile time
//! and what its runtime records at every call, so both read the same entries.

use crate::{Component, InstrumentSpec, LabelSpec, instruments, labels};

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

/// Where the value of one label of a wrapped call's instrument comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelSource {
    /// The operation literal of `#[instrument_op]` (for agents: the agent's name).
    Operation,
    /// How the call ended: the values of [`labels::STATUS`].
    Status,
    /// The error's class: the values of [`labels::ERROR_TYPE`].
    ErrorType,
    /// The n-th argument expression (see [`OperationShape::label_arguments`]).
    Argument(usize),
}

impl OperationShape {
    /// The arguments `#[instrument_op]` requires for this shape (`database = <expr>` …), in the
    /// order the runtime takes them.
    pub fn label_arguments(&self) -> &'static [&'static str] {
        const DATABASE: &[&str] = &[labels::DATABASE.name, labels::COLLECTION.name];
        const EMBEDDING: &[&str] = &[labels::PROVIDER.name, labels::MODEL.name];
        match self {
            Self::Status { .. } | Self::Agent { .. } => &[],
            Self::Database { .. } => DATABASE,
            Self::Embedding { .. } => EMBEDDING,
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

    /// The counter a call adds one to, if the shape has one.
    pub fn counter(&self) -> Option<&'static InstrumentSpec> {
        match self {
            Self::Status { counter, .. }
            | Self::Database { counter, .. }
            | Self::Embedding { counter, .. } => Some(counter),
            Self::Agent { .. } => None,
        }
    }

    /// The histogram a call's duration goes to.
    pub fn duration(&self) -> &'static InstrumentSpec {
        match self {
            Self::Status { duration, .. }
            | Self::Agent { duration }
            | Self::Database { duration, .. }
            | Self::Embedding { duration, .. } => duration,
        }
    }

    /// The counter a failed call also adds one to, if the shape has one.
    pub fn errors(&self) -> Option<&'static InstrumentSpec> {
        match self {
            Self::Database { errors, .. } => Some(errors),
            _ => None,
        }
    }

    /// Where the value of `label` (a label of one of the shape's instruments) comes from;
    /// `None` for a label the shape cannot fill, which the catalog tests rule out.
    pub fn label_source(&self, label: &LabelSpec) -> Option<LabelSource> {
        let operation_key = match self {
            Self::Status { counter, .. } | Self::Database { counter, .. } => counter.labels.first(),
            Self::Agent { duration } => duration.labels.first(),
            Self::Embedding { .. } => None,
        };
        if label.name == labels::STATUS.name {
            Some(LabelSource::Status)
        } else if label.name == labels::ERROR_TYPE.name {
            Some(LabelSource::ErrorType)
        } else if let Some(index) = self.label_arguments().iter().position(|a| *a == label.name) {
            Some(LabelSource::Argument(index))
        } else if operation_key.is_some_and(|key| key.name == label.name) {
            Some(LabelSource::Operation)
        } else {
            None
        }
    }
}

/// The operation whose completions feed the skill success rate: `#[instrument_op("skill",
/// "apply", skill_id = …)]` (the argument is named after [`labels::SKILL_ID`](crate::labels::SKILL_ID)).
pub const SKILL_OUTCOME_OPERATION: (Component, &str) = (Component::Skill, "apply");

/// How an operation of `component` is recorded, or `None` for a component without operation
/// instruments (testing).
pub fn operation_shape(component: Component) -> Option<OperationShape> {
    use instruments::*;
    let status = |counter, duration| OperationShape::Status { counter, duration };
    Some(match component {
        Component::Mcp => status(&MCP_TOOL_CALLS_TOTAL, &MCP_TOOL_DURATION_SECONDS),
        Component::Checkpoint => status(&CHECKPOINT_OPERATIONS_TOTAL, &CHECKPOINT_DURATION_SECONDS),
        Component::Remediation => status(&REMEDIATION_OPERATIONS_TOTAL, &REMEDIATION_DURATION_SECONDS),
        Component::Skill => status(&SKILL_OPERATIONS_TOTAL, &SKILL_DURATION_SECONDS),
        Component::Agent => OperationShape::Agent { duration: &AGENT_DURATION_SECONDS },
        Component::Database => OperationShape::Database {
            counter: &DATABASE_OPERATIONS_TOTAL,
            duration: &DATABASE_DURATION_SECONDS,
            errors: &DATABASE_ERRORS_TOTAL,
        },
        Component::Embedding => OperationShape::Embedding {
            counter: &EMBEDDING_OPERATIONS_TOTAL,
            duration: &EMBEDDING_DURATION_SECONDS,
        },
        Component::Testing | Component::Telemetry => return None,
    })
}
