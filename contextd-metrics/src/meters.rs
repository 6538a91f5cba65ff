//! `Meters`: the synchronous catalog instruments as typed fields.

use contextd_metrics_catalog::{InstrumentKind, InstrumentSpec, ValueType};
use opentelemetry::metrics::{Counter, Histogram, Meter};

use crate::checked::{CheckedCounter, CheckedHistogram};

/// An OpenTelemetry instrument type that a catalog entry can be built into.
///
/// `KIND` and `VALUE` let [`Meters`] check at compile time that each field's Rust type matches
/// its catalog entry (a `Counter<u64>` field can only hold a u64 counter).
trait CatalogInstrument: Sized {
    const KIND: InstrumentKind;
    const VALUE: ValueType;
    fn build(meter: &Meter, spec: &'static InstrumentSpec) -> Self;
}

/// Bucket boundaries of a histogram entry; the catalog tests guarantee every histogram has them,
/// so a seconds histogram can never fall back to the SDK's millisecond defaults.
fn boundaries(spec: &InstrumentSpec) -> Vec<f64> {
    spec.buckets.unwrap_or_default().to_vec()
}

impl CatalogInstrument for Counter<u64> {
    const KIND: InstrumentKind = InstrumentKind::Counter;
    const VALUE: ValueType = ValueType::U64;
    fn build(meter: &Meter, spec: &'static InstrumentSpec) -> Self {
        meter.u64_counter(spec.name).with_unit(spec.unit).with_description(spec.description).build()
    }
}

impl CatalogInstrument for CheckedCounter {
    const KIND: InstrumentKind = InstrumentKind::Counter;
    const VALUE: ValueType = ValueType::F64;
    fn build(meter: &Meter, spec: &'static InstrumentSpec) -> Self {
        let counter =
            meter.f64_counter(spec.name).with_unit(spec.unit).with_description(spec.description).build();
        CheckedCounter::new(counter, spec.name)
    }
}

impl CatalogInstrument for Histogram<u64> {
    const KIND: InstrumentKind = InstrumentKind::Histogram;
    const VALUE: ValueType = ValueType::U64;
    fn build(meter: &Meter, spec: &'static InstrumentSpec) -> Self {
        meter
            .u64_histogram(spec.name)
            .with_unit(spec.unit)
            .with_description(spec.description)
            .with_boundaries(boundaries(spec))
            .build()
    }
}

impl CatalogInstrument for CheckedHistogram {
    const KIND: InstrumentKind = InstrumentKind::Histogram;
    const VALUE: ValueType = ValueType::F64;
    fn build(meter: &Meter, spec: &'static InstrumentSpec) -> Self {
        let histogram = meter
            .f64_histogram(spec.name)
            .with_unit(spec.unit)
            .with_description(spec.description)
            .with_boundaries(boundaries(spec))
            .build();
        CheckedHistogram::new(histogram, spec.name)
    }
}

/// Declares `Meters` with one field per synchronous catalog entry. Each entry is checked at
/// compile time: the name must be in the catalog and the field type must match its kind and
/// value type.
macro_rules! meters {
    ($( $(#[$doc:meta])* $field:ident : $ty:ty = $name:literal, )*) => {
        /// Every synchronous catalog instrument (9 counters, 13 histograms) as a typed field.
        ///
        /// Build it once from a [`Meter`] and keep it (it is cheap to clone: each field is an
        /// `Arc`). Record with static attributes (`KeyValue::new("operation", "create")`) in the
        /// catalog's label order: that path allocates nothing once the series exists.
        ///
        /// ```
        /// use opentelemetry::KeyValue;
        /// # let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
        /// # use opentelemetry::metrics::MeterProvider as _;
        /// let meters = contextd_metrics::Meters::new(&provider.meter(contextd_metrics::METER_NAME));
        /// meters.embedding_tokens.add(812, &[KeyValue::new("model", "text-embedding-3-small")]);
        /// ```
        #[derive(Clone, Debug)]
        #[non_exhaustive]
        pub struct Meters {
            $(
                $(#[$doc])*
                #[doc = concat!("\n\nCatalog name: `", $name, "`.")]
                pub $field: $ty,
            )*
        }

        impl Meters {
            /// The catalog names of the fields, in declaration order.
            pub const INSTRUMENT_NAMES: &'static [&'static str] = &[$($name),*];

            /// Creates every instrument on `meter` with its catalog name, unit, description and,
            /// for histograms, bucket boundaries.
            pub fn new(meter: &Meter) -> Self {
                Self {
                    $($field: {
                        const SPEC: &InstrumentSpec = contextd_metrics_catalog::require($name);
                        const _: () = assert!(
                            SPEC.kind as u8 == <$ty as CatalogInstrument>::KIND as u8
                                && SPEC.value_type as u8 == <$ty as CatalogInstrument>::VALUE as u8,
                            concat!("field type does not match the catalog entry ", $name),
                        );
                        <$ty as CatalogInstrument>::build(meter, SPEC)
                    },)*
                }
            }
        }
    };
}

meters! {
    /// MCP tool calls, labels `tool_name`, `status`.
    mcp_tool_calls: Counter<u64> = "contextd_mcp_tool_calls_total",
    /// Checkpoint operations, labels `operation`, `status`.
    checkpoint_operations: Counter<u64> = "contextd_checkpoint_operations_total",
    /// Remediation operations, labels `operation`, `status`.
    remediation_operations: Counter<u64> = "contextd_remediation_operations_total",
    /// Skill operations, labels `operation`, `status`.
    skill_operations: Counter<u64> = "contextd_skill_operations_total",
    /// Embedding generation calls, labels `provider`, `model`.
    embedding_operations: Counter<u64> = "contextd_embedding_operations_total",
    /// Tokens consumed by embeddings, label `model`.
    embedding_tokens: Counter<u64> = "contextd_embedding_tokens_total",
    /// Embedding cost in USD, label `model`; compute it with [`crate::values::embedding_cost_usd`].
    embedding_cost: CheckedCounter = "contextd_embedding_cost_total",
    /// Vector-store operations, labels `operation`, `database`, `collection`.
    database_operations: Counter<u64> = "contextd_database_operations_total",
    /// Vector-store errors, labels `error_type`, `database`.
    database_errors: Counter<u64> = "contextd_database_errors_total",
    /// MCP tool execution time in seconds, label `tool_name`.
    mcp_tool_duration: CheckedHistogram = "contextd_mcp_tool_duration_seconds",
    /// Checkpoint operation time in seconds, label `operation`.
    checkpoint_duration: CheckedHistogram = "contextd_checkpoint_duration_seconds",
    /// Relevance score of each checkpoint search result, in [0, 1].
    checkpoint_search_score: CheckedHistogram = "contextd_checkpoint_search_score",
    /// Results returned by one checkpoint search.
    checkpoint_search_results: Histogram<u64> = "contextd_checkpoint_search_results",
    /// Remediation operation time in seconds, label `operation`.
    remediation_duration: CheckedHistogram = "contextd_remediation_duration_seconds",
    /// Hybrid match score of each remediation match; compute it with
    /// [`crate::values::hybrid_match_score`].
    remediation_match_score: CheckedHistogram = "contextd_remediation_match_score",
    /// Skill operation time in seconds, label `operation`.
    skill_duration: CheckedHistogram = "contextd_skill_duration_seconds",
    /// Embedding call time in seconds, labels `provider`, `model`.
    embedding_duration: CheckedHistogram = "contextd_embedding_duration_seconds",
    /// Texts sent in one embedding request, label `provider`.
    embedding_batch_size: Histogram<u64> = "contextd_embedding_batch_size",
    /// Vector-store operation time in seconds, labels `operation`, `database`.
    database_duration: CheckedHistogram = "contextd_database_duration_seconds",
    /// Size in bytes of each MCP tool response, label `tool_name`.
    mcp_tool_response_bytes: Histogram<u64> = "contextd_mcp_tool_response_bytes",
    /// One agent execution in seconds, labels `agent`, `status`.
    agent_duration: CheckedHistogram = "contextd_agent_duration_seconds",
    /// One test's run time in seconds, label `type`.
    test_duration: CheckedHistogram = "contextd_test_duration_seconds",
}
