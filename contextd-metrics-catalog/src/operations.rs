//! What one wrapped operation of a component records, and the objectives over those records.
//!
//! `#[instrument_op("component", "operation")]` validates against an [`OperationShape`] at
//! compile time, and its runtime records what the same shape says at every call.

use crate::{InstrumentSpec, LabelSpec};

/// How an operation of a component is recorded: its instruments, and which label takes which
/// value. Every label of the instruments is filled by exactly one role: the operation literal,
/// the status, the error class or an argument of the attribute (`name = expr`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OperationShape {
    /// The counter a call adds one to, if any.
    pub counter: Option<&'static InstrumentSpec>,
    /// The histogram a call's duration (seconds) goes to.
    pub duration: &'static InstrumentSpec,
    /// The counter a failed call also adds one to, if any.
    pub errors: Option<&'static InstrumentSpec>,
    /// The label whose value is the operation literal (`operation`, `tool_name`, `agent`); a
    /// closed one lists the valid operations. `None`: the operation names the span only.
    pub operation: Option<&'static LabelSpec>,
    /// The label that takes how the call ended; its values are `success`, `error`, `cancelled`.
    pub status: Option<&'static LabelSpec>,
    /// The label that takes the error's class (on the errors counter); its last value is what
    /// unlisted classes are recorded as.
    pub error_type: Option<&'static LabelSpec>,
    /// The labels whose values come from the attribute's arguments, in the order the runtime
    /// takes them (at most two).
    pub arguments: &'static [LabelSpec],
    /// An operation whose outcomes also feed a per-argument success-rate gauge.
    pub success_rate: Option<SuccessRate>,
}

/// `#[instrument_op("skill", "apply", skill_id = …)]`: the outcomes of one operation, per value
/// of one argument, feed a success-rate gauge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SuccessRate {
    /// The operation whose outcomes count.
    pub operation: &'static str,
    /// The label (and argument name) the rate is kept per value of.
    pub argument: &'static LabelSpec,
    /// The gauge the rates are reported on.
    pub gauge: &'static InstrumentSpec,
}

/// Where the value of one label of a wrapped call's instrument comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelSource {
    /// The operation literal of `#[instrument_op]` (for agents: the agent's name).
    Operation,
    /// How the call ended: the values of the shape's status label.
    Status,
    /// The error's class: the values of the shape's error-type label.
    ErrorType,
    /// The n-th argument expression (see [`OperationShape::arguments`]).
    Argument(usize),
}

impl OperationShape {
    /// The attribute-argument names `#[instrument_op]` requires (`database = <expr>` …), in the
    /// order the runtime takes them.
    pub fn label_arguments(&self) -> impl ExactSizeIterator<Item = &'static str> + '_ {
        self.arguments.iter().map(|l| l.name)
    }

    /// The instruments a call records, each once: counter, duration, errors.
    pub fn instruments(&self) -> impl Iterator<Item = &'static InstrumentSpec> + '_ {
        self.counter.into_iter().chain([self.duration]).chain(self.errors)
    }

    /// Where the value of `label` (a label of one of the shape's instruments) comes from;
    /// `None` for a label no role fills, which a catalog reader refuses.
    pub fn label_source(&self, label: &LabelSpec) -> Option<LabelSource> {
        let is = |role: Option<&LabelSpec>| role.is_some_and(|r| r.id == label.id);
        if is(self.status) {
            Some(LabelSource::Status)
        } else if is(self.error_type) {
            Some(LabelSource::ErrorType)
        } else if let Some(index) = self.arguments.iter().position(|a| a.id == label.id) {
            Some(LabelSource::Argument(index))
        } else if is(self.operation) {
            Some(LabelSource::Operation)
        } else {
            None
        }
    }

    /// The value unlisted error classes are recorded as: the last value of the error-type
    /// label, [`OTHER_ERROR_TYPE`] if the shape has none.
    pub fn other_error_type(&self) -> &'static str {
        self.error_type.and_then(|l| l.values.listed().last().copied()).unwrap_or(OTHER_ERROR_TYPE)
    }
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

impl Indicator {
    /// The instrument the indicator is computed from.
    pub fn instrument(&self) -> &'static InstrumentSpec {
        match self {
            Self::Success { counter } => counter,
            Self::Latency { histogram, .. } => histogram,
        }
    }
}

/// A service-level objective: `target` of the calls over `period_days` meet the indicator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Objective {
    /// The objective's name, the `slo` label of its rules (e.g. `checkpoint-success`).
    pub name: &'static str,
    /// The id of the component whose operations it covers.
    pub component: &'static str,
    /// What is measured.
    pub indicator: Indicator,
    /// The share of good calls promised, e.g. 0.995.
    pub target: f64,
    /// The period the error budget is counted over, in days.
    pub period_days: u32,
    /// One line for people: what is promised, and why this target.
    pub description: &'static str,
}

/// What an error that does not classify itself is called (on spans, and before a call site
/// maps it onto its error-type label's last value).
pub const OTHER_ERROR_TYPE: &str = "other";

/// The values a status label lists, in this order: the runtime indexes them.
pub const STATUS_VALUES: [&str; 3] = ["success", "error", "cancelled"];

/// The label key a success objective's counter must carry.
pub const STATUS_KEY: &str = "status";

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
                if counter.label(STATUS_KEY).is_none() {
                    return Err(format!(
                        "objective `{name}`: {} has no `{STATUS_KEY}` label to tell successes from errors",
                        counter.name,
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
