//! The OTLP metrics request, encoded: the SDK's collection (through opentelemetry-proto's
//! conversion) with the striped series written straight into the protobuf bytes.
//!
//! The striped series are most of a large export, and building them as protobuf structs first
//! would allocate several vectors and strings per point and copy everything twice more; here
//! their lengths are computed first and every point is written straight into the output, which
//! is allocated once at its exact size. Protobuf lets a repeated field's entries follow the rest
//! of a message, so the striped metrics are appended to the scope that holds them.

use contextd_metrics::striped::{HistogramTotals, Series};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue as ProtoKeyValue};
use opentelemetry_proto::tonic::metrics::v1::AggregationTemporality;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use prost::Message as _;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};

use crate::naming::SeriesKind;
use crate::striped::{AttributeEncoders, Collected, Reading, StripedSeries, Total};

/// Field numbers of the OTLP messages written here by hand (opentelemetry/proto/metrics/v1).
mod field {
    /// `ExportMetricsServiceRequest.resource_metrics`
    pub(super) const RESOURCE_METRICS: u32 = 1;
    /// `ResourceMetrics.resource`, `.scope_metrics`, `.schema_url`
    pub(super) const RESOURCE: u32 = 1;
    pub(super) const SCOPE_METRICS: u32 = 2;
    pub(super) const SCHEMA_URL: u32 = 3;
    /// `ScopeMetrics.scope`, `.metrics`
    pub(super) const SCOPE: u32 = 1;
    pub(super) const METRICS: u32 = 2;
    /// `Metric.name`, `.description`, `.unit`, `.sum`, `.histogram`
    pub(super) const NAME: u32 = 1;
    pub(super) const DESCRIPTION: u32 = 2;
    pub(super) const UNIT: u32 = 3;
    pub(super) const SUM: u32 = 7;
    pub(super) const HISTOGRAM: u32 = 9;
    /// `Sum`/`Histogram`: `.data_points`, `.aggregation_temporality`; `Sum.is_monotonic`
    pub(super) const DATA_POINTS: u32 = 1;
    pub(super) const TEMPORALITY: u32 = 2;
    pub(super) const IS_MONOTONIC: u32 = 3;
}

/// The encoded request of the SDK's collection and of a collection of the striped series.
pub(crate) fn encode(metrics: &ResourceMetrics, series: &StripedSeries) -> Vec<u8> {
    let request = ExportMetricsServiceRequest::from(metrics);
    let reading = series.read();
    let striped = &collect(series, &reading);
    // One writer per catalog scope. First the lengths (protobuf prefixes every nested message
    // with its length), then the bytes, each point straight into the output: no intermediate
    // buffer is copied.
    let writers: Vec<(StripedWriter<'_>, Vec<MetricLens>, usize)> = striped
        .scopes
        .iter()
        .map(|&scope| {
            let writer = StripedWriter::new(striped, scope);
            let layout = writer.layout();
            let len = layout.iter().map(|lens| nested_len(field::METRICS, lens.metric)).sum();
            (writer, layout, len)
        })
        .collect();
    if writers.is_empty() {
        return request.encode_to_vec();
    }
    let mut resource_metrics = request.resource_metrics;
    // The conversion gives exactly one ResourceMetrics; the striped series join it.
    let Some(resource) = resource_metrics.pop() else { return Vec::new() };
    // For each writer, the SDK's scope of the same name it joins, if any.
    let joins: Vec<Option<usize>> = writers
        .iter()
        .map(|(writer, _, _)| {
            resource
                .scope_metrics
                .iter()
                .position(|s| s.scope.as_ref().is_some_and(|scope| scope.name == writer.scope))
        })
        .collect();
    let new_scopes: Vec<InstrumentationScope> = writers
        .iter()
        .map(|(writer, _, _)| InstrumentationScope { name: writer.scope.to_owned(), ..Default::default() })
        .collect();
    let scope_len = |index: usize| -> usize {
        let ours = writers[index].2;
        match joins[index] {
            Some(at) => resource.scope_metrics[at].encoded_len() + ours,
            None => prost::encoding::message::encoded_len(field::SCOPE, &new_scopes[index]) + ours,
        }
    };
    let joined_by = |at: usize| joins.iter().position(|join| *join == Some(at));
    let mut body_len =
        resource.resource.as_ref().map_or(0, |r| prost::encoding::message::encoded_len(field::RESOURCE, r));
    for (at, scope) in resource.scope_metrics.iter().enumerate() {
        body_len += match joined_by(at) {
            Some(index) => nested_len(field::SCOPE_METRICS, scope_len(index)),
            None => prost::encoding::message::encoded_len(field::SCOPE_METRICS, scope),
        };
    }
    for index in (0..writers.len()).filter(|index| joins[*index].is_none()) {
        body_len += nested_len(field::SCOPE_METRICS, scope_len(index));
    }
    if !resource.schema_url.is_empty() {
        body_len += prost::encoding::string::encoded_len(field::SCHEMA_URL, &resource.schema_url);
    }

    let mut out = Vec::with_capacity(nested_len(field::RESOURCE_METRICS, body_len));
    nested_header(field::RESOURCE_METRICS, body_len, &mut out);
    if let Some(r) = &resource.resource {
        prost::encoding::message::encode(field::RESOURCE, r, &mut out);
    }
    for (at, scope) in resource.scope_metrics.iter().enumerate() {
        match joined_by(at) {
            Some(index) => {
                nested_header(field::SCOPE_METRICS, scope_len(index), &mut out);
                scope.encode_raw(&mut out);
                let (writer, layout, _) = &writers[index];
                writer.write(layout, &mut out);
            }
            None => prost::encoding::message::encode(field::SCOPE_METRICS, scope, &mut out),
        }
    }
    for index in (0..writers.len()).filter(|index| joins[*index].is_none()) {
        nested_header(field::SCOPE_METRICS, scope_len(index), &mut out);
        prost::encoding::message::encode(field::SCOPE, &new_scopes[index], &mut out);
        let (writer, layout, _) = &writers[index];
        writer.write(layout, &mut out);
    }
    if !resource.schema_url.is_empty() {
        prost::encoding::string::encode(field::SCHEMA_URL, &resource.schema_url, &mut out);
    }
    debug_assert_eq!(out.len(), out.capacity(), "the lengths computed first are the lengths written");
    out
}

/// Key and length of a nested message of `len` bytes in field `tag`, plus the message.
fn nested_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

fn nested_header(tag: u32, len: usize, out: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(len as u64, out);
}

/// Writes the striped families of one scope as `ScopeMetrics.metrics` entries. Points are
/// written field by field (their shape is fixed, so their lengths are arithmetic), which lets one
/// pass size every message and the next write each point straight into the output.
struct StripedWriter<'a> {
    striped: &'a Collected<'a>,
    scope: &'static str,
    temporality: i32,
    time: u64,
}

/// Field numbers and wire types of the data points (opentelemetry/proto/metrics/v1).
mod point {
    pub(super) const START: u32 = 2;
    pub(super) const TIME: u32 = 3;
    /// `HistogramDataPoint`
    pub(super) const COUNT: u32 = 4;
    pub(super) const SUM: u32 = 5;
    pub(super) const BUCKET_COUNTS: u32 = 6;
    pub(super) const EXPLICIT_BOUNDS: u32 = 7;
    pub(super) const HISTOGRAM_ATTRIBUTES: u32 = 9;
    pub(super) const MIN: u32 = 11;
    pub(super) const MAX: u32 = 12;
    /// `NumberDataPoint`
    pub(super) const AS_DOUBLE: u32 = 4;
    pub(super) const AS_INT: u32 = 6;
    pub(super) const NUMBER_ATTRIBUTES: u32 = 7;
    /// `KeyValue.key`, `.value`; `AnyValue.string_value`
    pub(super) const KEY: u32 = 1;
    pub(super) const VALUE: u32 = 2;
    pub(super) const STRING_VALUE: u32 = 1;
}

/// The encoded length of a metric entry, and of its `Sum` or `Histogram` body.
#[derive(Debug, Clone, Copy, Default)]
struct MetricLens {
    metric: usize,
    data: usize,
}

/// The fields of one metric entry before its data.
fn metric_strings<'a>(spec: &'a contextd_metrics::InstrumentSpec, unit: &'a str) -> [(u32, &'a str); 3] {
    [(field::NAME, spec.name), (field::DESCRIPTION, spec.description), (field::UNIT, unit)]
}

fn strings_len(strings: &[(u32, &str)]) -> usize {
    strings.iter().filter(|(_, s)| !s.is_empty()).map(|(tag, s)| nested_len(*tag, s.len())).sum()
}

fn write_strings(strings: &[(u32, &str)], out: &mut Vec<u8>) {
    for (tag, s) in strings.iter().filter(|(_, s)| !s.is_empty()) {
        nested_header(*tag, s.len(), out);
        out.extend_from_slice(s.as_bytes());
    }
}

/// A fixed64, sfixed64 or double field: key and 8 bytes (all tags here fit one key byte).
const FIXED: usize = 1 + 8;

fn write_fixed(tag: u32, bits: u64, out: &mut Vec<u8>) {
    encode_key(tag, WireType::SixtyFourBit, out);
    out.extend_from_slice(&bits.to_le_bytes());
}

/// The encoded length of one attribute as a `KeyValue` message body.
fn attribute_len(kv: &opentelemetry::KeyValue) -> usize {
    match &kv.value {
        opentelemetry::Value::String(s) => {
            nested_len(point::KEY, kv.key.as_str().len())
                + nested_len(point::VALUE, nested_len(point::STRING_VALUE, s.as_str().len()))
        }
        _ => ProtoKeyValue::from(kv).encoded_len(),
    }
}

fn attributes_len(tag: u32, attributes: &[opentelemetry::KeyValue]) -> usize {
    attributes.iter().map(|kv| nested_len(tag, attribute_len(kv))).sum()
}

/// The striped series of `reading`, collected with their attributes encoded.
fn collect<'r>(series: &StripedSeries, reading: &'r Reading) -> Collected<'r> {
    series.collect_encoded(
        reading,
        &AttributeEncoders {
            counter: |series| encoded_attributes(series, point::NUMBER_ATTRIBUTES),
            histogram: |series| encoded_attributes(series, point::HISTOGRAM_ATTRIBUTES),
        },
    )
}

/// A series' attributes as `tag` entries of its data point, encoded on the first export and
/// kept with the series (a series' points are always of one kind, so `tag` never changes).
fn encoded_attributes<A>(series: &Series<A>, tag: u32) -> &[u8] {
    series.encoded_attributes.get_or_init(|| {
        let mut bytes = Vec::with_capacity(attributes_len(tag, &series.attributes));
        write_attributes(tag, &series.attributes, &mut bytes);
        bytes.into_boxed_slice()
    })
}

fn write_attributes(tag: u32, attributes: &[opentelemetry::KeyValue], out: &mut Vec<u8>) {
    for kv in attributes {
        nested_header(tag, attribute_len(kv), out);
        match &kv.value {
            opentelemetry::Value::String(s) => {
                let (key, value) = (kv.key.as_str(), s.as_str());
                nested_header(point::KEY, key.len(), out);
                out.extend_from_slice(key.as_bytes());
                nested_header(point::VALUE, nested_len(point::STRING_VALUE, value.len()), out);
                nested_header(point::STRING_VALUE, value.len(), out);
                out.extend_from_slice(value.as_bytes());
            }
            _ => ProtoKeyValue::from(kv).encode_raw(out),
        }
    }
}

/// The body of a packed fixed64/double field: the words' little-endian bytes, written into
/// their place at once (not pushed one by one, each push checking the capacity).
fn write_le_words(words: impl ExactSizeIterator<Item = u64>, out: &mut Vec<u8>) {
    let at = out.len();
    out.resize(at + 8 * words.len(), 0);
    for (bytes, word) in out[at..].chunks_exact_mut(8).zip(words) {
        bytes.copy_from_slice(&word.to_le_bytes());
    }
}

/// A packed repeated fixed64/double field of `n` values.
fn packed_len(n: usize) -> usize {
    if n == 0 { 0 } else { nested_len(point::BUCKET_COUNTS, 8 * n) }
}

impl<'a> StripedWriter<'a> {
    fn new(striped: &'a Collected<'a>, scope: &'static str) -> Self {
        let temporality = match striped.temporality {
            Temporality::Cumulative => AggregationTemporality::Cumulative,
            _ => AggregationTemporality::Delta,
        } as i32;
        Self { striped, scope, temporality, time: nanos(striped.time) }
    }

    /// The lengths of each family's metric entry and of its data (counters first, then
    /// histograms), from the collected points alone.
    fn layout(&self) -> Vec<MetricLens> {
        let striped = self.striped;
        let counters = striped.counters.iter().filter(|f| f.family.scope == self.scope).map(|family| {
            let points: usize = family
                .points
                .iter()
                .map(|p| nested_len(field::DATA_POINTS, counter_point_len(p.attributes.len())))
                .sum();
            let data = points
                + prost::encoding::int32::encoded_len(field::TEMPORALITY, &self.temporality)
                + prost::encoding::bool::encoded_len(field::IS_MONOTONIC, &true);
            let unit = family.unit(SeriesKind::Counter);
            let metric =
                strings_len(&metric_strings(family.family.spec, &unit)) + nested_len(field::SUM, data);
            MetricLens { metric, data }
        });
        let histograms = striped.histograms.iter().filter(|f| f.family.scope == self.scope).map(|family| {
            let bounds = family.bounds().len();
            let points: usize = family
                .points
                .iter()
                .map(|p| {
                    let len = histogram_point_len(p.attributes.len(), &p.value.totals, bounds);
                    nested_len(field::DATA_POINTS, len)
                })
                .sum();
            let data = points + prost::encoding::int32::encoded_len(field::TEMPORALITY, &self.temporality);
            let unit = family.unit(SeriesKind::Histogram);
            let metric =
                strings_len(&metric_strings(family.family.spec, &unit)) + nested_len(field::HISTOGRAM, data);
            MetricLens { metric, data }
        });
        counters.chain(histograms).collect()
    }

    /// Every family's metric entry, with the lengths `layout` gave, from the collected points
    /// alone.
    fn write(&self, layout: &[MetricLens], out: &mut Vec<u8>) {
        let mut lens = layout.iter().copied();
        for family in self.striped.counters.iter().filter(|f| f.family.scope == self.scope) {
            let unit = family.unit(SeriesKind::Counter);
            let len = lens.next().unwrap_or_default();
            nested_header(field::METRICS, len.metric, out);
            write_strings(&metric_strings(family.family.spec, &unit), out);
            nested_header(field::SUM, len.data, out);
            let start = nanos(family.start);
            for point in &family.points {
                let encoded = point.attributes;
                nested_header(field::DATA_POINTS, counter_point_len(encoded.len()), out);
                out.extend_from_slice(encoded);
                write_fixed(point::START, start, out);
                write_fixed(point::TIME, self.time, out);
                match point.value {
                    Total::F64(x) => write_fixed(point::AS_DOUBLE, x.to_bits(), out),
                    Total::U64(n) => write_fixed(point::AS_INT, n, out),
                }
            }
            prost::encoding::int32::encode(field::TEMPORALITY, &self.temporality, out);
            prost::encoding::bool::encode(field::IS_MONOTONIC, &true, out);
        }
        for family in self.striped.histograms.iter().filter(|f| f.family.scope == self.scope) {
            let unit = family.unit(SeriesKind::Histogram);
            let len = lens.next().unwrap_or_default();
            nested_header(field::METRICS, len.metric, out);
            write_strings(&metric_strings(family.family.spec, &unit), out);
            nested_header(field::HISTOGRAM, len.data, out);
            let start = nanos(family.start);
            let bounds = family.bounds();
            // The same in every point of the family: encoded once.
            let mut bounds_field = Vec::with_capacity(packed_len(bounds.len()));
            if !bounds.is_empty() {
                nested_header(point::EXPLICIT_BOUNDS, 8 * bounds.len(), &mut bounds_field);
                write_le_words(bounds.iter().map(|b| b.to_bits()), &mut bounds_field);
            }
            for point in &family.points {
                let snapshot = &point.value.totals;
                let bucket_counts = self.striped.buckets(&point.value, bounds);
                let encoded = point.attributes;
                let len = histogram_point_len(encoded.len(), snapshot, bounds.len());
                nested_header(field::DATA_POINTS, len, out);
                write_fixed(point::START, start, out);
                write_fixed(point::TIME, self.time, out);
                if snapshot.count != 0 {
                    write_fixed(point::COUNT, snapshot.count, out);
                }
                write_fixed(point::SUM, snapshot.sum.to_bits(), out);
                nested_header(point::BUCKET_COUNTS, 8 * bucket_counts.len(), out);
                write_le_words(bucket_counts.iter().copied(), out);
                out.extend_from_slice(&bounds_field);
                out.extend_from_slice(encoded);
                // A point with no values yet carries the SDK's starting extremes (f64::MAX,
                // f64::MIN), so the request stays the one the SDK sent.
                let (min, max) = snapshot.min_max.unwrap_or((f64::MAX, f64::MIN));
                write_fixed(point::MIN, min.to_bits(), out);
                write_fixed(point::MAX, max.to_bits(), out);
            }
            prost::encoding::int32::encode(field::TEMPORALITY, &self.temporality, out);
        }
    }
}

/// A `NumberDataPoint` with `attributes` bytes of attributes: start, time and the value (flags
/// and exemplars are empty).
fn counter_point_len(attributes: usize) -> usize {
    attributes + 3 * FIXED
}

/// A `HistogramDataPoint` with `attributes` bytes of attributes: start, time, count (left out
/// when 0, as prost does), sum, buckets (always one more than the bounds), bounds, min and max.
fn histogram_point_len(attributes: usize, snapshot: &HistogramTotals, bounds: usize) -> usize {
    let count = if snapshot.count == 0 { 0 } else { FIXED };
    2 * FIXED + count + FIXED + packed_len(bounds + 1) + packed_len(bounds) + attributes + 2 * FIXED
}

fn nanos(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use contextd_metrics::Destination;
    use contextd_metrics::contextd::Meters;
    use opentelemetry::KeyValue;
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_sdk::metrics::reader::MetricReader as _;
    use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};

    use std::sync::Arc;

    use opentelemetry_proto::tonic::metrics::v1::metric::Data;

    use super::*;
    use crate::striped::StripedSeries;

    /// The same recordings on a meter provider with the catalog's view, histograms in the SDK
    /// (as before the striped histograms) or in `striped`; returns what the SDK collected.
    fn record(striped: Option<&StripedSeries>, temporality: Temporality) -> ResourceMetrics {
        let catalog = &contextd_metrics::contextd::CATALOG;
        let reader = Arc::new(ManualReader::builder().with_temporality(temporality).build());
        let provider = SdkMeterProvider::builder()
            .with_resource(opentelemetry_sdk::Resource::builder_empty().with_service_name("orders").build())
            .with_view(crate::metrics::catalog_unit_view(catalog))
            .with_reader(crate::shared_reader::SharedReader(reader.clone()))
            .build();
        let meter = provider.meter(catalog.namespace);
        let store = striped.map(StripedSeries::store);
        let meters =
            Meters::on(&Destination { meter: &meter, store: store.as_deref(), scope: catalog.namespace });
        let create = [KeyValue::new("operation", "create")];
        for value in [0.0, 0.0005, 0.003, 0.012, 0.25, 1.0, 7.5, 100.0] {
            meters.checkpoint_duration.record(value, &create);
        }
        let bound = meters.checkpoint_duration.bind(&[KeyValue::new("operation", "resume")]);
        bound.record(0.02);
        bound.record(0.04);
        let _never_recorded = meters.checkpoint_duration.bind(&[KeyValue::new("operation", "list")]);
        // Attributes given out of order land in the sorted series.
        let two = [KeyValue::new("status", "success"), KeyValue::new("operation", "search")];
        meters.remediation_duration.record(0.5, &two);
        meters.remediation_duration.record(0.125, &[two[1].clone(), two[0].clone()]);
        meters
            .checkpoint_operations
            .add(3, &[KeyValue::new("operation", "create"), KeyValue::new("status", "success")]);
        let resume = [KeyValue::new("status", "error"), KeyValue::new("operation", "resume")];
        meters.checkpoint_operations.bind(&resume).add(2);
        let _never_added = meters
            .checkpoint_operations
            .bind(&[KeyValue::new("operation", "list"), KeyValue::new("status", "success")]);
        let model = [KeyValue::new("model", "text-embedding-3-small")];
        meters.embedding_cost.add(0.125, &model);
        meters.embedding_cost.bind(&model).add(0.5);
        // Beside them, the SDK's own metrics: one in the catalog's scope (the striped metrics
        // join that scope) and one in another scope.
        meter.u64_counter("sdk_side_total").build().add(4, &[KeyValue::new("k", "v")]);
        provider.meter("another.scope").f64_histogram("elsewhere").build().record(2.5, &[]);
        let mut collected = ResourceMetrics::default();
        reader.collect(&mut collected).unwrap();
        collected
    }

    /// The request with timestamps zeroed and scopes, metrics, points and attributes in a stable
    /// order (in delta collections the SDK gives a point's attributes in the order of whichever
    /// key of its hash map it meets first).
    fn normalised(mut request: ExportMetricsServiceRequest) -> ExportMetricsServiceRequest {
        for resource in &mut request.resource_metrics {
            // The SDK keeps its scopes in a hash map: their order changes from run to run.
            resource.scope_metrics.sort_by_key(|s| s.scope.as_ref().map(|scope| scope.name.clone()));
            for scope in &mut resource.scope_metrics {
                scope.metrics.sort_by(|a, b| a.name.cmp(&b.name));
                for metric in &mut scope.metrics {
                    match metric.data.as_mut() {
                        Some(Data::Histogram(h)) => {
                            h.data_points
                                .iter_mut()
                                .for_each(|p| p.attributes.sort_by(|a, b| a.key.cmp(&b.key)));
                            h.data_points.sort_by_key(|p| format!("{:?}", p.attributes));
                            for point in &mut h.data_points {
                                (point.start_time_unix_nano, point.time_unix_nano) = (0, 0);
                            }
                        }
                        Some(Data::Sum(s)) => {
                            s.data_points
                                .iter_mut()
                                .for_each(|p| p.attributes.sort_by(|a, b| a.key.cmp(&b.key)));
                            s.data_points.sort_by_key(|p| format!("{:?}", p.attributes));
                            for point in &mut s.data_points {
                                (point.start_time_unix_nano, point.time_unix_nano) = (0, 0);
                            }
                        }
                        other => panic!("the test records no {other:?}"),
                    }
                }
            }
        }
        request
    }

    #[test]
    fn the_request_is_the_one_the_sdk_histograms_gave_but_for_timestamps() {
        for temporality in [Temporality::Cumulative, Temporality::Delta] {
            let sdk = record(None, temporality);
            let before = normalised(ExportMetricsServiceRequest::from(&sdk));
            let delta = temporality == Temporality::Delta;
            let striped = StripedSeries::new(delta, Arc::default());
            let rest = record(Some(&striped), temporality);
            let bytes = encode(&rest, &striped);
            let after = normalised(ExportMetricsServiceRequest::decode(bytes.as_slice()).unwrap());
            let points = |kind: fn(&Data) -> Option<usize>| -> usize {
                let scopes = &before.resource_metrics[0].scope_metrics;
                scopes.iter().flat_map(|s| &s.metrics).filter_map(|m| m.data.as_ref().and_then(kind)).sum()
            };
            let histogram_points = points(|d| match d {
                Data::Histogram(h) => Some(h.data_points.len()),
                _ => None,
            });
            let sum_points = points(|d| match d {
                Data::Sum(s) => Some(s.data_points.len()),
                _ => None,
            });
            // Delta leaves out the points bound and never recorded.
            let expected = if temporality == Temporality::Delta { (4, 4) } else { (5, 5) };
            assert_eq!(
                (histogram_points, sum_points),
                expected,
                "{temporality:?}: what the SDK's request holds"
            );
            assert_eq!(before, after, "{temporality:?}");
        }
    }

    #[cfg(feature = "prometheus")]
    #[test]
    fn the_pull_text_is_the_one_the_sdk_histograms_gave() {
        let empty = StripedSeries::new(false, Arc::default());
        let sdk = record(None, Temporality::Cumulative);
        let mut before = String::new();
        crate::exposition::render_for_pull(&sdk, &empty.collect(&empty.read()), &mut before);
        let striped = StripedSeries::new(false, Arc::default());
        let rest = record(Some(&striped), Temporality::Cumulative);
        let mut after = String::new();
        crate::exposition::render_for_pull(&rest, &striped.collect(&striped.read()), &mut after);
        let histogram = contextd_metrics::contextd::instruments::CHECKPOINT_DURATION_SECONDS.name;
        assert!(before.contains(&format!("{histogram}_bucket{{operation=\"create\"")), "{before}");
        let lines = |text: &str| {
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            lines.sort();
            lines
        };
        assert_eq!(lines(&before), lines(&after));
    }
}
