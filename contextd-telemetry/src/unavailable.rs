//! Stand-ins for the parts cargo features leave out: types without values, so the code that would
//! use them compiles unchanged, while `init` refuses a configuration that needs them and names the
//! feature to add.

use std::net::SocketAddr;
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// An exporter or endpoint this build does not have.
#[derive(Debug)]
pub(crate) enum Unavailable {}

impl PushMetricExporter for Unavailable {
    async fn export(&self, _: &ResourceMetrics) -> OTelSdkResult {
        match *self {}
    }
    fn force_flush(&self) -> OTelSdkResult {
        match *self {}
    }
    fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
        match *self {}
    }
    fn temporality(&self) -> Temporality {
        match *self {}
    }
}

impl SpanExporter for Unavailable {
    async fn export(&self, _: Vec<SpanData>) -> OTelSdkResult {
        match *self {}
    }
}

impl Unavailable {
    /// As `PrometheusEndpoint::address`.
    #[allow(dead_code, reason = "used only without the `prometheus` feature")]
    pub(crate) fn address(&self) -> Option<SocketAddr> {
        match *self {}
    }

    /// As `PrometheusEndpoint::stop`.
    #[allow(dead_code, reason = "used only without the `prometheus` feature")]
    pub(crate) fn stop(&mut self) {
        match *self {}
    }
}
