//! The pipeline's striped histograms in its exports.
//!
//! Wrapped calls and `meters()` record float histograms into a
//! [`HistogramStore`](contextd_metrics::histogram::HistogramStore) instead of the SDK (whose
//! histogram points are one mutex each, shared by every recording thread). The SDK cannot carry
//! data it did not aggregate — its export types have no public constructors — so each exporter
//! takes the SDK's collection and adds these series beside it, in the same scope and with the
//! same names, units and temporality the SDK would have given them: the OTLP request
//! (`otlp_metrics`), the console and the pull text (`exposition`).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use contextd_metrics::histogram::{HistogramFamily, HistogramSeries, HistogramSnapshot, HistogramStore};
use opentelemetry_sdk::metrics::Temporality;

use crate::naming::{SeriesKind, catalog_wire_unit};

/// One collection of the store: each family with the snapshots of its series.
#[cfg_attr(
    not(any(feature = "otlp-http", feature = "grpc")),
    allow(dead_code, reason = "times are for OTLP")
)]
pub(crate) struct Collected {
    pub(crate) scope: &'static str,
    pub(crate) temporality: Temporality,
    pub(crate) time: SystemTime,
    pub(crate) families: Vec<FamilySnapshot>,
}

/// One family's series as collected.
#[cfg_attr(
    not(any(feature = "otlp-http", feature = "grpc")),
    allow(dead_code, reason = "times are for OTLP")
)]
pub(crate) struct FamilySnapshot {
    pub(crate) family: Arc<HistogramFamily>,
    /// The start of its points: the family's creation (cumulative) or the last collection (delta).
    pub(crate) start: SystemTime,
    pub(crate) series: Vec<(Arc<HistogramSeries>, HistogramSnapshot)>,
}

impl Collected {
    /// The unit a family is exported with: the one the SDK's catalog view would give it.
    pub(crate) fn unit(family: &HistogramFamily) -> String {
        catalog_wire_unit(family.spec.name, family.spec.unit, SeriesKind::Histogram)
            .unwrap_or_else(|| family.spec.unit.to_owned())
    }
}

/// The store of one pipeline, and what its collections need to remember.
#[derive(Debug)]
pub(crate) struct StripedHistograms {
    store: Arc<HistogramStore>,
    /// The instrumentation scope the series belong to (the catalog's namespace, as the meter's).
    scope: &'static str,
    /// The end of the last delta collection: the start of the next.
    last_delta: Mutex<SystemTime>,
}

impl StripedHistograms {
    pub(crate) fn new(scope: &'static str) -> Self {
        Self { store: Arc::new(HistogramStore::new()), scope, last_delta: Mutex::new(SystemTime::now()) }
    }

    /// The store to bind the catalog's handles to.
    pub(crate) fn store(&self) -> Arc<HistogramStore> {
        self.store.clone()
    }

    /// Collects every series: cumulative ones all (as the SDK exports bound points that have
    /// not recorded yet), delta ones only when they recorded since the last collection.
    pub(crate) fn collect(&self, temporality: Temporality) -> Collected {
        let time = SystemTime::now();
        let delta = temporality == Temporality::Delta;
        let mut start = time;
        if delta {
            let mut last = self.last_delta.lock().unwrap_or_else(PoisonError::into_inner);
            start = std::mem::replace(&mut *last, time);
        }
        let families = self
            .store
            .families()
            .into_iter()
            .filter_map(|family| {
                let start = if delta { start } else { family.started };
                let series: Vec<_> = family
                    .all_series()
                    .into_iter()
                    .map(|series| {
                        let snapshot = if delta { series.data.take() } else { series.data.snapshot() };
                        (series, snapshot)
                    })
                    .filter(|(_, snapshot)| !delta || snapshot.count > 0)
                    .collect();
                (!series.is_empty()).then_some(FamilySnapshot { family, start, series })
            })
            .collect();
        Collected { scope: self.scope, temporality, time, families }
    }
}
