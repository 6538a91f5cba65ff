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

/// What an objective measures, in the catalog's own terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Indicator {
    /// The share of calls that succeed: `status="success"` among `success` and `error` on a
    /// status counter. Cancelled calls count neither way: the caller gave up, and how long it
    /// waited is the latency objective's business.
    Success {
        /// A counter with the `status` label.
        counter: &'static InstrumentSpec,
    },
    /// The share of calls faster than `threshold` seconds, which must be a bucket bound of the
    /// histogram (the rate of the bucket `le=threshold` over the rate of all calls).
    Latency {
        /// A duration histogram.
        histogram: &'static InstrumentSpec,
        /// The bound, in seconds.
        threshold: f64,
    },
}

/// A service-level objective: `target` of the calls over `period_days` meet the indicator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Objective {
    /// The objective's name, the `slo` label of its rules (e.g. `checkpoint-success`).
    pub name: &'static str,
    /// The component whose operations it covers.
    pub component: Component,
    /// What is measured.
    pub indicator: Indicator,
    /// The share of good calls promised, e.g. 0.995.
    pub target: f64,
    /// The period the error budget is counted over, in days.
    pub period_days: u32,
    /// One line for people: what is promised, and why this target.
    pub description: &'static str,
}

impl Objective {
    /// The share of calls that may fail over the period: `1 - target`.
    pub fn error_budget(&self) -> f64 {
        1.0 - self.target
    }

    /// Checks the objective against its instruments.
    ///
    /// # Errors
    /// A target outside (0, 1), a period of 0 days, a success objective on a counter without a
    /// `status` label, or a latency objective on a value that is not a bucket bound (the message
    /// lists the bounds).
    pub fn validate(&self) -> Result<(), String> {
        let name = self.name;
        if !(self.target > 0.0 && self.target < 1.0) {
            return Err(format!("objective `{name}`: target {} is not between 0 and 1", self.target));
        }
        if self.period_days == 0 {
            return Err(format!("objective `{name}`: the period must be at least one day"));
        }
        match self.indicator {
            Indicator::Success { counter } => {
                if counter.label(labels::STATUS.name).is_none() {
                    return Err(format!(
                        "objective `{name}`: {} has no `{}` label to tell successes from errors",
                        counter.name,
                        labels::STATUS.name
                    ));
                }
            }
            Indicator::Latency { histogram, threshold } => {
                let bounds = histogram.buckets.unwrap_or_default();
                if !bounds.contains(&threshold) {
                    let listed: Vec<String> = bounds.iter().map(|b| format!("{b}")).collect();
                    return Err(format!(
                        "objective `{name}`: {threshold} s is not a bucket bound of {}, so the share of calls \
                         under it cannot be counted; valid thresholds: {}",
                        histogram.name,
                        listed.join(", ")
                    ));
                }
            }
        }
        Ok(())
    }
}

/// contextd's objectives, next to the operations they cover (the reasoning is in
/// `docs/slos.md`). Each is checked by [`Objective::validate`] in the catalog tests and by the
/// tool that generates their rules.
pub static OBJECTIVES: [Objective; 7] = {
    use instruments::*;
    const DAYS: u32 = 30;
    [
        Objective {
            name: "mcp-success",
            component: Component::Mcp,
            indicator: Indicator::Success { counter: &MCP_TOOL_CALLS_TOTAL },
            target: 0.995,
            period_days: DAYS,
            description: "99.5% of MCP tool calls succeed: an agent sees every failure directly",
        },
        Objective {
            name: "checkpoint-success",
            component: Component::Checkpoint,
            indicator: Indicator::Success { counter: &CHECKPOINT_OPERATIONS_TOTAL },
            target: 0.995,
            period_days: DAYS,
            description: "99.5% of checkpoint operations succeed: a lost checkpoint is lost agent context",
        },
        Objective {
            name: "remediation-success",
            component: Component::Remediation,
            indicator: Indicator::Success { counter: &REMEDIATION_OPERATIONS_TOTAL },
            target: 0.995,
            period_days: DAYS,
            description: "99.5% of remediation operations succeed",
        },
        Objective {
            name: "skill-success",
            component: Component::Skill,
            indicator: Indicator::Success { counter: &SKILL_OPERATIONS_TOTAL },
            target: 0.99,
            period_days: DAYS,
            description: "99% of skill operations succeed: `apply` runs the skill's own steps, which fail more often",
        },
        Objective {
            name: "mcp-latency",
            component: Component::Mcp,
            indicator: Indicator::Latency { histogram: &MCP_TOOL_DURATION_SECONDS, threshold: 1.0 },
            target: 0.95,
            period_days: DAYS,
            description: "95% of MCP tool calls answer within 1 s: an agent waits on each",
        },
        Objective {
            name: "checkpoint-latency",
            component: Component::Checkpoint,
            indicator: Indicator::Latency { histogram: &CHECKPOINT_DURATION_SECONDS, threshold: 0.5 },
            target: 0.95,
            period_days: DAYS,
            description: "95% of checkpoint operations finish within 0.5 s",
        },
        Objective {
            name: "embedding-latency",
            component: Component::Embedding,
            indicator: Indicator::Latency { histogram: &EMBEDDING_DURATION_SECONDS, threshold: 2.5 },
            target: 0.95,
            period_days: DAYS,
            description: "95% of embedding calls finish within 2.5 s (the first bucket bound above the 2 s the API usually takes at p95)",
        },
    ]
};
