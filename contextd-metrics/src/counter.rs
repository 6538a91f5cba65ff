//! Whole-number counters of the catalog.

use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{BoundCounter, Counter};

use crate::striped::{AtomicCounter, Family, Series};

/// A whole-number counter of the catalog.
///
/// Bound through `contextd_telemetry`, it adds into the pipeline's striped counters
/// ([`crate::striped`]), which scale across threads; built on a plain meter (`Meters::new`),
/// into that meter's SDK counter.
#[derive(Clone, Debug)]
pub struct CatalogCounter(Target);

#[derive(Clone, Debug)]
enum Target {
    Sdk(Counter<u64>),
    Striped(Arc<Family<AtomicCounter>>),
}

impl CatalogCounter {
    pub(crate) fn sdk(counter: Counter<u64>) -> Self {
        Self(Target::Sdk(counter))
    }

    pub(crate) fn striped(family: Arc<Family<AtomicCounter>>) -> Self {
        Self(Target::Striped(family))
    }

    /// Adds `value` to the series of `attributes`.
    #[inline]
    pub fn add(&self, value: u64, attributes: &[KeyValue]) {
        match &self.0 {
            Target::Sdk(counter) => counter.add(value, attributes),
            Target::Striped(family) => family.series(attributes).data.add_u64(value),
        }
    }

    /// A handle bound to the series of `attributes`: no lookup per add.
    pub fn bind(&self, attributes: &[KeyValue]) -> BoundCatalogCounter {
        BoundCatalogCounter(match &self.0 {
            Target::Sdk(counter) => BoundTarget::Sdk(counter.bind(attributes)),
            Target::Striped(family) => BoundTarget::Striped(family.series(attributes)),
        })
    }
}

/// A bound [`CatalogCounter`].
#[derive(Clone, Debug)]
pub struct BoundCatalogCounter(BoundTarget);

#[derive(Clone, Debug)]
enum BoundTarget {
    Sdk(BoundCounter<u64>),
    Striped(Arc<Series<AtomicCounter>>),
}

impl BoundCatalogCounter {
    /// Adds `value`.
    #[inline]
    pub fn add(&self, value: u64) {
        match &self.0 {
            BoundTarget::Sdk(counter) => counter.add(value),
            BoundTarget::Striped(series) => series.data.add_u64(value),
        }
    }
}
