//! An axum web service with the HTTP layer and `#[instrument_op]` on its handlers' work.
//!
//! ```text
//! cargo run --example axum_service          # serves on 127.0.0.1:3000 until interrupted
//! curl -X POST localhost:3000/checkpoints -d 'fixed the flaky test'
//! curl localhost:3000/checkpoints/0
//! ```
//!
//! Configure export with the `OTEL_*` variables (e.g. `OTEL_METRICS_EXPORTER=prometheus`, then
//! scrape 127.0.0.1:9464/metrics); with nothing set metrics go to the console.

#[path = "support/report.rs"]
mod report;
use report::Report;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use contextd_metrics::instrument_op;
use contextd_telemetry::http::HttpMetricsLayer;
use contextd_telemetry::{MetricsExporter, TelemetryConfig};

#[derive(Default)]
struct Checkpoints(Mutex<Vec<String>>);

impl Checkpoints {
    #[instrument_op("checkpoint", "create")]
    async fn create(&self, summary: String) -> Result<usize, String> {
        if summary.trim().is_empty() {
            return Err("empty summary".into());
        }
        let mut all = self.0.lock().map_err(|e| e.to_string())?;
        all.push(summary);
        Ok(all.len() - 1)
    }

    #[instrument_op("checkpoint", "search")]
    async fn get(&self, id: usize) -> Option<String> {
        self.0.lock().ok()?.get(id).cloned()
    }
}

#[tokio::main]
async fn main() -> Result<(), Report> {
    let mut config = TelemetryConfig::from_env()?.with_service_name("contextd-axum-example");
    if std::env::var_os("OTEL_METRICS_EXPORTER").is_none()
        && std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_none()
    {
        config = config.with_metrics_exporter(MetricsExporter::Console);
    }
    // In a runtime: init picks up this runtime for the tokio metrics.
    let telemetry = config.init()?;

    let state = Arc::new(Checkpoints::default());
    let app = Router::new()
        .route(
            "/checkpoints",
            post(|State(s): State<Arc<Checkpoints>>, body: String| async move {
                s.create(body).await.map(|id| id.to_string()).map_err(|e| (StatusCode::BAD_REQUEST, e))
            }),
        )
        .route(
            "/checkpoints/{id}",
            get(|State(s): State<Arc<Checkpoints>>, Path(id): Path<usize>| async move {
                s.get(id).await.ok_or(StatusCode::NOT_FOUND)
            }),
        )
        .with_state(state)
        // After init(): the layer takes its instruments from the global provider.
        .layer(HttpMetricsLayer::new().with_scheme("http"));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).with_graceful_shutdown(async { drop(tokio::signal::ctrl_c().await) }).await?;
    // Shutdown blocks for at most its deadline; run it off the async threads.
    tokio::task::spawn_blocking(move || telemetry.shutdown()).await??;
    Ok(())
}
