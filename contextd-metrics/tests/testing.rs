//! `contextd_metrics::testing`: each test thread captures exactly what its own calls recorded,
//! while other threads record at the same time.
#![cfg(feature = "testing")]

use contextd_metrics::testing::{Capture, Recording};
use opentelemetry::KeyValue;

#[contextd_metrics::instrument_op("skill", "apply")]
fn apply(ok: bool) -> Result<(), String> {
    if ok { Ok(()) } else { Err("failed".into()) }
}

#[test]
fn parallel_captures_each_see_only_their_own_recordings() {
    let threads: Vec<_> = (1..=8u64)
        .map(|n| {
            std::thread::spawn(move || {
                let capture = Capture::start();
                for i in 0..(n * 100) {
                    apply(i % n != 0).unwrap_or_default();
                    contextd_metrics::contextd::meters()
                        .embedding_tokens
                        .add(n, &[KeyValue::new("model", "text-embedding-3-small")]);
                }
                (n, capture.finish())
            })
        })
        .collect();
    // Meanwhile this thread records with no capture: it goes to no one's capture.
    for _ in 0..1000 {
        apply(false).unwrap_or_default();
    }
    for thread in threads {
        let (n, recorded) = thread.join().unwrap();
        let calls = n * 100;
        let errors = 100; // i % n == 0 for a hundredth of the calls… once per n calls
        let (success, error) = (
            recorded
                .value("contextd_skill_operations_total", &[("operation", "apply"), ("status", "success")]),
            recorded.value("contextd_skill_operations_total", &[("operation", "apply"), ("status", "error")]),
        );
        assert_eq!(error, Some(errors as f64), "thread {n}");
        assert_eq!(success.unwrap_or(0.0), (calls - errors) as f64, "thread {n}");
        assert_eq!(
            recorded.count("contextd_skill_duration_seconds", &[("operation", "apply")]),
            Some(calls),
            "thread {n}"
        );
        assert_eq!(
            recorded.value("contextd_embedding_tokens_total", &[("model", "text-embedding-3-small")]),
            Some((n * calls) as f64),
            "thread {n}"
        );
        match recorded.series("contextd_skill_duration_seconds")[..] {
            [(_, Recording::Histogram { count, sum })] => assert!(count == calls && sum >= 0.0),
            ref other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_finished_capture_leaves_the_thread_recording_nowhere_again() {
    let first = Capture::start();
    apply(true).unwrap();
    let recorded = first.finish();
    assert_eq!(
        recorded.value("contextd_skill_operations_total", &[("operation", "apply"), ("status", "success")]),
        Some(1.0)
    );
    apply(true).unwrap(); // no capture, no telemetry: recorded nowhere
    let second = Capture::start().finish();
    assert!(second.series("contextd_skill_operations_total").is_empty(), "a new capture starts empty");
}
