//! An orders service that has never heard of contextd: it declares its own metric catalog
//! (`telemetry.yaml`), annotates its methods, and records through its own typed handles.
//!
//! ```no_run
//! let guard = contextd_telemetry::TelemetryConfig::from_env()?
//!     .with_catalog(&orders_service::telemetry::CATALOG)
//!     .init()?;
//! let service = orders_service::OrderService::new("stripe");
//! service.place(3).expect("placed");
//! guard.shutdown()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use contextd_metrics::{Binder, ErrorType, instrument_op};

/// The catalog, generated from `telemetry.yaml` at compile time.
pub mod telemetry {
    contextd_metrics::catalog!("../telemetry.yaml");
}

/// Why a payment failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentError {
    /// The provider declined the card.
    Declined,
    /// The provider did not answer in time.
    Timeout,
}

impl std::fmt::Display for PaymentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Declined => "the card was declined",
            Self::Timeout => "the payment provider did not answer in time",
        })
    }
}

impl std::error::Error for PaymentError {}

impl ErrorType for PaymentError {
    fn error_type(&self) -> &'static str {
        // The catalog's `payment_error` values; anything else would be recorded as `other`.
        let values = telemetry::labels::PAYMENT_ERROR.values.listed();
        match self {
            Self::Declined => values[0],
            Self::Timeout => values[1],
        }
    }
}

/// Why an order operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderError {
    /// No order has that id.
    NotFound(u64),
    /// The payment failed.
    Payment(PaymentError),
}

impl std::fmt::Display for OrderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound(id) => write!(f, "no order {id}"),
            Self::Payment(error) => write!(f, "payment failed: {error}"),
        }
    }
}

impl std::error::Error for OrderError {}

/// The payment provider client.
#[derive(Debug)]
pub struct Payments {
    provider: String,
    calls: AtomicU64,
}

impl Payments {
    /// A client of `provider`.
    pub fn new(provider: &str) -> Self {
        Self { provider: provider.to_owned(), calls: AtomicU64::new(0) }
    }

    /// Authorizes `cents`; every seventh call is declined and every thirteenth times out, so the
    /// dashboards have errors to show.
    #[instrument_op("payments", "authorize", provider = self.provider)]
    pub fn authorize(&self, cents: u64) -> Result<u64, PaymentError> {
        let call = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        std::thread::sleep(std::time::Duration::from_millis(call % 5));
        if call.is_multiple_of(13) {
            Err(PaymentError::Timeout)
        } else if call.is_multiple_of(7) {
            Err(PaymentError::Declined)
        } else {
            Ok(cents)
        }
    }

    /// Refunds `cents`.
    #[instrument_op("payments", "refund", provider = self.provider)]
    pub fn refund(&self, cents: u64) -> Result<u64, PaymentError> {
        Ok(cents)
    }
}

/// Orders, kept in memory.
#[derive(Debug)]
pub struct OrderService {
    payments: Payments,
    orders: Mutex<Vec<(u64, u64)>>,
    next_id: AtomicU64,
    open: Arc<AtomicI64>,
    _open_gauge: Binder,
}

impl OrderService {
    /// A service charging through `provider`.
    pub fn new(provider: &str) -> Self {
        let open = Arc::new(AtomicI64::new(0));
        let reported = open.clone();
        // An observable gauge from the catalog entry, created anew on every telemetry binding.
        let open_gauge = contextd_metrics::on_bind(move |meter| {
            let spec = &telemetry::instruments::OPEN_ORDERS;
            let reported = reported.clone();
            meter
                .i64_observable_gauge(spec.name)
                .with_unit(spec.unit)
                .with_description(spec.description)
                .with_callback(move |observer| observer.observe(reported.load(Ordering::Relaxed), &[]))
                .build();
        });
        Self {
            payments: Payments::new(provider),
            orders: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            open,
            _open_gauge: open_gauge,
        }
    }

    /// Places an order of `items` items and charges it; returns its id.
    #[instrument_op("orders", "place")]
    pub fn place(&self, items: u64) -> Result<u64, OrderError> {
        telemetry::meters().order_items.record(items, &[]);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.open.fetch_add(1, Ordering::Relaxed);
        let charged = self.payments.authorize(items * 1_250);
        self.open.fetch_sub(1, Ordering::Relaxed);
        let cents = charged.map_err(OrderError::Payment)?;
        self.orders.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((id, cents));
        Ok(id)
    }

    /// Looks an order up; returns its amount in cents.
    #[instrument_op("orders", "get")]
    pub fn get(&self, id: u64) -> Result<u64, OrderError> {
        let orders = self.orders.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        orders.iter().find(|(o, _)| *o == id).map(|(_, cents)| *cents).ok_or(OrderError::NotFound(id))
    }

    /// Cancels an order and refunds it.
    #[instrument_op("orders", "cancel")]
    pub fn cancel(&self, id: u64) -> Result<(), OrderError> {
        let cents = self.get(id)?;
        self.payments.refund(cents).map_err(OrderError::Payment)?;
        self.orders.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|(o, _)| *o != id);
        Ok(())
    }
}
