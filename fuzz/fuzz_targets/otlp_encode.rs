//! Arbitrary recordings into the striped series, encoded as the OTLP metrics exporter does: the
//! bytes decode with opentelemetry-proto, every point holds exactly what was recorded into its
//! attribute set, and the request equals the one the SDK's own instruments give for the same
//! recordings, but for timestamps.
#![no_main]

use std::collections::BTreeMap;
use std::sync::Arc;

use contextd_metrics::Destination;
use contextd_metrics::contextd::{CATALOG, Meters};
use contextd_telemetry::__private::ExportPath;
use libfuzzer_sys::fuzz_target;
use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader as _;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};
use prost::Message as _;

/// One recording: which instrument, the attribute values, the value.
struct Recording {
    histogram: bool,
    operation: String,
    database: Option<String>,
    value: u16,
}

fn recordings(data: &[u8]) -> Vec<Recording> {
    let text = String::from_utf8_lossy(data);
    text.split('\n')
        .take(64)
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let head = parts.next()?.as_bytes();
            let (&kind, &value) = (head.first()?, head.get(1)?);
            Some(Recording {
                histogram: kind % 2 == 0,
                operation: parts.next().unwrap_or_default().to_owned(),
                database: parts.next().map(str::to_owned),
                value: u16::from(value),
            })
        })
        .collect()
}

fn attributes(recording: &Recording) -> Vec<KeyValue> {
    let mut attributes = vec![KeyValue::new("operation", recording.operation.clone())];
    if let Some(database) = &recording.database {
        attributes.push(KeyValue::new("database", database.clone()));
    }
    attributes
}

/// Records into `meters` and collects what the SDK holds.
fn record(meters: &Meters, reader: &ManualReader, recordings: &[Recording]) -> ResourceMetrics {
    for recording in recordings {
        let attributes = attributes(recording);
        if recording.histogram {
            meters.database_duration.record(f64::from(recording.value) / 1000.0, &attributes);
        } else {
            meters.database_operations.add(u64::from(recording.value), &attributes);
        }
    }
    let mut collected = ResourceMetrics::default();
    reader.collect(&mut collected).unwrap();
    collected
}

fn pipeline() -> (SdkMeterProvider, Arc<ManualReader>) {
    #[derive(Debug, Clone)]
    struct Shared(Arc<ManualReader>);
    impl opentelemetry_sdk::metrics::reader::MetricReader for Shared {
        fn register_pipeline(&self, pipeline: std::sync::Weak<opentelemetry_sdk::metrics::Pipeline>) {
            self.0.register_pipeline(pipeline);
        }
        fn collect(&self, rm: &mut ResourceMetrics) -> opentelemetry_sdk::error::OTelSdkResult {
            self.0.collect(rm)
        }
        fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
            self.0.force_flush()
        }
        fn shutdown_with_timeout(&self, t: std::time::Duration) -> opentelemetry_sdk::error::OTelSdkResult {
            self.0.shutdown_with_timeout(t)
        }
        fn temporality(&self, kind: opentelemetry_sdk::metrics::InstrumentKind) -> opentelemetry_sdk::metrics::Temporality {
            self.0.temporality(kind)
        }
    }
    let reader = Arc::new(ManualReader::builder().build());
    let provider = SdkMeterProvider::builder().with_reader(Shared(reader.clone())).build();
    (provider, reader)
}

/// Each metric's points: attributes (sorted) → (count or total, sum), timestamps left out.
fn points(request: &ExportMetricsServiceRequest) -> BTreeMap<(String, Vec<(String, String)>), (u64, f64)> {
    let mut points = BTreeMap::new();
    for metric in request.resource_metrics.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics) {
        let key = |attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue]| {
            let mut kv: Vec<(String, String)> =
                attributes.iter().map(|kv| (kv.key.clone(), format!("{:?}", kv.value))).collect();
            kv.sort();
            (metric.name.clone(), kv)
        };
        match &metric.data {
            Some(Data::Histogram(h)) => {
                for p in &h.data_points {
                    assert_eq!(p.bucket_counts.iter().sum::<u64>(), p.count, "buckets add up to the count");
                    points.insert(key(&p.attributes), (p.count, p.sum.unwrap_or_default()));
                }
            }
            Some(Data::Sum(s)) => {
                for p in &s.data_points {
                    let Some(Value::AsInt(n)) = p.value else { panic!("an integer counter") };
                    points.insert(key(&p.attributes), (n as u64, 0.0));
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    points
}

fuzz_target!(|data: &[u8]| {
    let recordings = recordings(data);
    // Ours: the striped series, encoded by the exporter's path.
    let (provider, reader) = pipeline();
    let meter = provider.meter(CATALOG.namespace);
    let path = ExportPath::new(2000);
    let store = path.store();
    let ours = Meters::on(&Destination { meter: &meter, store: Some(&store), scope: CATALOG.namespace });
    let rest = record(&ours, &reader, &recordings);
    let bytes = path.encode(&rest);
    let decoded = ExportMetricsServiceRequest::decode(bytes.as_slice()).expect("the bytes decode");
    // The SDK's own instruments, given the same recordings.
    let (sdk_provider, sdk_reader) = pipeline();
    let sdk_meters = Meters::new(&sdk_provider.meter(CATALOG.namespace));
    let sdk = ExportMetricsServiceRequest::from(&record(&sdk_meters, &sdk_reader, &recordings));
    let (ours, theirs) = (points(&decoded), points(&sdk));
    assert_eq!(ours.len(), theirs.len(), "the same series");
    for (key, (count, sum)) in &theirs {
        let (our_count, our_sum) = ours.get(key).unwrap_or_else(|| panic!("no point for {key:?}"));
        assert_eq!(our_count, count, "{key:?}");
        assert!((our_sum - sum).abs() <= 1e-9 * sum.abs().max(1.0), "{key:?}: {our_sum} vs {sum}");
    }
    // And exactly what was recorded, per attribute set.
    let mut expected: BTreeMap<(bool, String, Option<String>), (u64, u64)> = BTreeMap::new();
    for r in &recordings {
        let entry = expected.entry((r.histogram, r.operation.clone(), r.database.clone())).or_default();
        entry.0 += 1;
        entry.1 += u64::from(r.value);
    }
    let total_calls: u64 = expected.iter().filter(|((h, ..), _)| *h).map(|(_, (n, _))| n).sum();
    let encoded_calls: u64 =
        ours.iter().filter(|((name, _), _)| name.contains("duration")).map(|(_, (count, _))| count).sum();
    assert_eq!(encoded_calls, total_calls, "every histogram recording is in one point");
});
