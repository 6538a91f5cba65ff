//! A count of spans dropped because the export queue is full.
//!
//! The SDK's batch processor drops spans beyond its queue silently (its count is private). This
//! processor sits in front of it and keeps the bound itself: it tracks spans handed on but not
//! yet exported (the exporter wrapper reports each finished batch, exported or failed) and, at
//! the bound, drops and counts the span instead of handing it on. Its count includes spans in
//! the batch being exported, so the SDK's own queue never reaches its bound and drops nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

/// Spans in the pipeline and spans dropped, shared with the exporter wrapper.
#[derive(Debug, Default)]
pub(crate) struct SpanQueue {
    in_flight: AtomicUsize,
    dropped: AtomicU64,
}

impl SpanQueue {
    /// Called by the exporter wrapper when a batch of `spans` has been exported or failed.
    pub(crate) fn done(&self, spans: usize) {
        let _ = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| Some(n.saturating_sub(spans)));
    }

    /// Spans dropped because the queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The bounding processor in front of the SDK's batch processor.
#[derive(Debug)]
pub(crate) struct Bounded<P> {
    pub(crate) inner: P,
    pub(crate) queue: Arc<SpanQueue>,
    pub(crate) capacity: usize,
}

impl<P: SpanProcessor> SpanProcessor for Bounded<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        let admitted = self
            .queue
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.capacity).then_some(n + 1))
            .is_ok();
        if admitted {
            self.inner.on_end(span);
        } else {
            self.queue.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
