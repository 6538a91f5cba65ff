//! The orders service's demo run: places, looks up and cancels orders with telemetry as the
//! environment configures it (`OTEL_*`; console output when nothing is set), then shuts down.

use std::process::ExitCode;

use clap::Parser;
use orders_service::{OrderService, telemetry};

/// Runs the orders service for a number of orders.
#[derive(Parser)]
#[command(name = "orders-service")]
struct Cli {
    /// How many orders to place.
    #[arg(long, default_value_t = 50)]
    orders: u64,
    /// The payment provider's name (a label value).
    #[arg(long, default_value = "stripe")]
    provider: String,
    /// Milliseconds to wait between orders (a longer run spans several metric exports).
    #[arg(long, default_value_t = 0)]
    pause_ms: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let guard = match contextd_telemetry::TelemetryConfig::from_env()
        .map(|config| config.with_catalog(&telemetry::CATALOG))
        .and_then(|config| config.init())
    {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("orders-service: telemetry: {error}");
            return ExitCode::FAILURE;
        }
    };
    let service = OrderService::new(&cli.provider);
    let (mut placed, mut failed) = (0, 0);
    for n in 1..=cli.orders {
        std::thread::sleep(std::time::Duration::from_millis(cli.pause_ms));
        match service.place(n % 6 + 1) {
            Ok(id) => {
                placed += 1;
                let _ = service.get(id);
                if n.is_multiple_of(4) {
                    let _ = service.cancel(id);
                }
            }
            Err(_) => failed += 1,
        }
    }
    // One lookup of an order that does not exist, so `get` has an error too.
    let _ = service.get(0);
    println!("orders-service: {placed} orders placed, {failed} failed");
    if let Err(error) = guard.shutdown() {
        eprintln!("orders-service: telemetry shutdown: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
