//! The service's own instrumentation, tested the way a service tests it: capture what the calls
//! on this thread recorded and assert on its catalog's names and labels.

use contextd_metrics::testing::Capture;
use orders_service::{OrderService, telemetry::instruments};

#[test]
fn a_declined_payment_is_an_order_error_and_a_payment_error_of_its_class() {
    let service = OrderService::new("adyen");
    let capture = Capture::start();
    // The seventh authorization is declined.
    let results: Vec<_> = (0..7).map(|_| service.place(2)).collect();
    let recorded = capture.finish();
    assert!(results[..6].iter().all(Result::is_ok) && results[6].is_err(), "{results:?}");

    let orders = instruments::OPERATIONS_TOTAL.name;
    assert_eq!(recorded.value(orders, &[("operation", "place"), ("status", "success")]), Some(6.0));
    assert_eq!(recorded.value(orders, &[("operation", "place"), ("status", "error")]), Some(1.0));
    let payments = instruments::PAYMENT_OPERATIONS_TOTAL.name;
    let adyen = |status| [("operation", "authorize"), ("provider", "adyen"), ("status", status)];
    assert_eq!(recorded.value(payments, &adyen("success")), Some(6.0));
    assert_eq!(recorded.value(payments, &adyen("error")), Some(1.0));
    let errors = instruments::PAYMENT_ERRORS_TOTAL.name;
    assert_eq!(recorded.value(errors, &[("error_type", "declined"), ("provider", "adyen")]), Some(1.0));
    assert_eq!(
        recorded.count(
            instruments::PAYMENT_DURATION_SECONDS.name,
            &[("operation", "authorize"), ("provider", "adyen")]
        ),
        Some(7)
    );
    assert_eq!(recorded.count(instruments::ORDER_ITEMS.name, &[]), Some(7));
}
