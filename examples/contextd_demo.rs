//! A small contextd-shaped service that uses every one of the 31 catalog instruments.
//!
//! ```text
//! cargo run --example contextd_demo -- --operations 200     # then flush and exit 0
//! cargo run --example contextd_demo -- --duration 30
//! cargo run --example contextd_demo -- --serve               # until interrupted
//! ```
//!
//! Layers: an axum HTTP API (the HTTP layer), MCP tools, checkpoint / remediation / skill
//! services, an embedder with a cache, a vector store and an agent — each method wrapped with
//! `#[instrument_op]`, with realistic latencies, occasional errors and search scores. The gauges
//! read the store's counts, the embedding cache, the skill tracker and the fixture reports in
//! `contextd-gauges/tests/fixtures/`. Telemetry is configured by the usual `OTEL_*` variables (with nothing
//! set, metrics go to the console).

#[path = "support/report.rs"]
mod report;
use report::Report;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use contextd_gauges::{CacheStats, CountGauge, GaugeSources, TestTypeRules};
use contextd_metrics::SkillSuccessTracker;
use contextd_metrics::contextd::meters;
use contextd_metrics::values::{EmbeddingProvider, embedding_cost_usd, hybrid_match_score};
use contextd_metrics::{ErrorType, instrument_op, instrument_ops};
use contextd_telemetry::{MetricsExporter, TelemetryConfig, TracesExporter};
use opentelemetry::KeyValue;

/// How long the demo runs.
#[derive(Debug, Clone, Copy)]
enum Run {
    Operations(u64),
    Duration(Duration),
    Serve,
}

/// The command line: `--operations N`, `--duration SECONDS` or `--serve` (clap accepts both
/// `--flag value` and `--flag=value`).
#[derive(clap::Parser)]
#[command(name = "contextd_demo", about = "Runs contextd-like operations with full telemetry")]
struct Args {
    /// Rounds of operations to run, then flush and exit [default: 100].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), conflicts_with_all = ["duration", "serve"])]
    operations: Option<u64>,
    /// Run for this many seconds, then flush and exit.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..), conflicts_with = "serve")]
    duration: Option<u64>,
    /// Run until interrupted, serving the HTTP API.
    #[arg(long)]
    serve: bool,
}

impl Args {
    fn run(&self) -> Run {
        match (self.operations, self.duration, self.serve) {
            (_, Some(seconds), _) => Run::Duration(Duration::from_secs(seconds)),
            (_, _, true) => Run::Serve,
            (operations, _, _) => Run::Operations(operations.unwrap_or(100)),
        }
    }
}

/// A tiny deterministic PRNG (xorshift), so runs are repeatable without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_micros(low * 1000 + self.next() % ((high - low).max(1) * 1000))
    }
}

#[derive(Debug)]
enum StoreError {
    Timeout,
    NotFound,
}

impl ErrorType for StoreError {
    fn error_type(&self) -> &'static str {
        match self {
            Self::Timeout => "connection_timeout",
            Self::NotFound => "not_found",
        }
    }
}

/// The vector store: collections of documents in memory, with latency and failures.
struct VectorStore {
    database: String,
    collections: Mutex<HashMap<&'static str, Vec<String>>>,
    rng: Mutex<Rng>,
}

impl VectorStore {
    fn pause(&self, low: u64, high: u64) -> bool {
        let mut rng = self.rng.lock().unwrap();
        std::thread::sleep(rng.millis(low, high));
        rng.chance(0.03)
    }

    fn count(&self, collection: &'static str) -> i64 {
        self.collections.lock().unwrap().get(collection).map_or(0, |c| c.len() as i64)
    }

    #[instrument_op("database", "insert", database = self.database, collection = collection)]
    fn insert(&self, collection: &'static str, text: String) -> Result<(), StoreError> {
        if self.pause(1, 4) {
            return Err(StoreError::Timeout);
        }
        self.collections.lock().unwrap().entry(collection).or_default().push(text);
        Ok(())
    }

    #[instrument_op("database", "search", database = self.database, collection = collection)]
    fn search(&self, collection: &'static str, limit: usize) -> Result<Vec<String>, StoreError> {
        if self.pause(2, 8) {
            return Err(StoreError::Timeout);
        }
        let collections = self.collections.lock().unwrap();
        Ok(collections
            .get(collection)
            .map(|c| c.iter().rev().take(limit).cloned().collect())
            .unwrap_or_default())
    }

    #[instrument_op("database", "get", database = self.database, collection = collection)]
    fn get(&self, collection: &'static str, index: usize) -> Result<String, StoreError> {
        self.pause(0, 2);
        let collections = self.collections.lock().unwrap();
        collections.get(collection).and_then(|c| c.get(index)).cloned().ok_or(StoreError::NotFound)
    }

    #[instrument_op("database", "update", database = self.database, collection = collection)]
    fn update(&self, collection: &'static str, index: usize, text: String) -> Result<(), StoreError> {
        self.pause(1, 3);
        let mut collections = self.collections.lock().unwrap();
        let slot =
            collections.get_mut(collection).and_then(|c| c.get_mut(index)).ok_or(StoreError::NotFound)?;
        *slot = text;
        Ok(())
    }

    #[instrument_op("database", "delete", database = self.database, collection = collection)]
    fn delete(&self, collection: &'static str) -> Result<(), StoreError> {
        self.pause(1, 3);
        self.collections
            .lock()
            .unwrap()
            .get_mut(collection)
            .and_then(Vec::pop)
            .map(drop)
            .ok_or(StoreError::NotFound)
    }
}

/// The embedder, with a cache keyed by text.
struct Embedder {
    provider: EmbeddingProvider,
    model: &'static str,
    cache: Mutex<HashMap<String, u64>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Embedder {
    fn embed(&self, texts: &[String]) -> Result<Vec<u64>, String> {
        let mut vectors = Vec::new();
        let mut missing = Vec::new();
        for text in texts {
            match self.cache.lock().unwrap().get(text) {
                Some(v) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    vectors.push(*v);
                }
                None => {
                    self.misses.fetch_add(1, Ordering::Relaxed);
                    missing.push(text.clone());
                }
            }
        }
        if !missing.is_empty() {
            vectors.extend(self.generate(self.provider.as_str(), &missing)?);
        }
        Ok(vectors)
    }

    #[instrument_op("embedding", "generate", provider = provider, model = self.model)]
    fn generate(&self, provider: &str, texts: &[String]) -> Result<Vec<u64>, String> {
        std::thread::sleep(Duration::from_millis(3 + texts.len() as u64));
        let tokens: u64 = texts.iter().map(|t| t.split_whitespace().count() as u64 * 4 / 3 + 1).sum();
        let m = meters();
        let model = [KeyValue::new("model", self.model)];
        m.embedding_tokens.add(tokens, &model);
        m.embedding_cost
            .add(embedding_cost_usd(self.provider, self.model, tokens).map_err(|e| e.to_string())?, &model);
        m.embedding_batch_size.record(texts.len() as u64, &[KeyValue::new("provider", provider.to_owned())]);
        let mut cache = self.cache.lock().unwrap();
        Ok(texts
            .iter()
            .map(|t| {
                let v = t.len() as u64;
                cache.insert(t.clone(), v);
                v
            })
            .collect())
    }
}

/// The contextd services on top of the store and the embedder.
struct Contextd {
    store: VectorStore,
    embedder: Embedder,
    rng: Mutex<Rng>,
}

struct Checkpoints<'a>(&'a Contextd);

#[instrument_ops("checkpoint")]
impl Checkpoints<'_> {
    fn create(&self, summary: String) -> Result<(), StoreError> {
        let _ = self.0.embedder.embed(std::slice::from_ref(&summary));
        self.0.store.insert("checkpoints", summary)
    }

    fn search(&self, query: &str) -> Result<usize, StoreError> {
        let _ = self.0.embedder.embed(&[query.to_owned()]);
        let results = self.0.store.search("checkpoints", 5)?;
        let m = meters();
        m.checkpoint_search_results.record(results.len() as u64, &[]);
        let mut rng = self.0.rng.lock().unwrap();
        for _ in &results {
            m.checkpoint_search_score.record(0.4 + 0.6 * rng.unit(), &[]);
        }
        Ok(results.len())
    }

    fn list(&self) -> Result<usize, StoreError> {
        Ok(self.0.store.search("checkpoints", 20)?.len())
    }

    fn update(&self, index: usize) -> Result<(), StoreError> {
        self.0.store.update("checkpoints", index, format!("checkpoint {index}, revised"))
    }

    fn delete(&self) -> Result<(), StoreError> {
        self.0.store.delete("checkpoints")
    }
}

struct Remediations<'a>(&'a Contextd);

#[instrument_ops("remediation")]
impl Remediations<'_> {
    fn save(&self, fix: String) -> Result<(), StoreError> {
        self.0.store.insert("remediations", fix)
    }

    fn search(&self, error: &str) -> Result<usize, StoreError> {
        let matches = self.0.store.search("remediations", 3)?;
        let mut rng = self.0.rng.lock().unwrap();
        for candidate in &matches {
            let string_similarity = if candidate.contains(error) { 1.0 } else { 0.2 };
            let score = hybrid_match_score(0.5 + 0.5 * rng.unit(), string_similarity).unwrap_or(0.0);
            meters().remediation_match_score.record(score, &[]);
        }
        Ok(matches.len())
    }
}

struct Skills<'a>(&'a Contextd);

impl Skills<'_> {
    #[instrument_op("skill", "create")]
    fn create(&self, name: &str) -> Result<(), StoreError> {
        self.0.store.insert("skills", name.to_owned())
    }

    #[instrument_op("skill", "apply", skill_id = skill)]
    fn apply(&self, skill: &str) -> Result<(), String> {
        let mut rng = self.0.rng.lock().unwrap();
        std::thread::sleep(rng.millis(20, 120));
        if rng.chance(0.15) { Err(format!("{skill} did not converge")) } else { Ok(()) }
    }

    #[instrument_op("skill", "search")]
    fn search(&self) -> Result<usize, StoreError> {
        Ok(self.0.store.search("skills", 5)?.len())
    }

    #[instrument_op("skill", "update")]
    fn update(&self) -> Result<(), StoreError> {
        self.0.store.update("skills", 0, "skill: retry flaky test".into())
    }

    #[instrument_op("skill", "delete")]
    fn delete(&self) -> Result<(), StoreError> {
        self.0.store.delete("skills")
    }
}

/// The MCP tools an agent calls; each reports the size of its response.
struct Tools<'a>(&'a Contextd);

fn respond(tool: &'static str, body: String) -> String {
    meters().mcp_tool_response_bytes.record(body.len() as u64, &[KeyValue::new("tool_name", tool)]);
    body
}

impl Tools<'_> {
    #[instrument_op("mcp", "checkpoint_save")]
    fn checkpoint_save(&self, summary: String) -> Result<String, StoreError> {
        Checkpoints(self.0).create(summary)?;
        Ok(respond("checkpoint_save", "saved".into()))
    }
    #[instrument_op("mcp", "checkpoint_search")]
    fn checkpoint_search(&self, query: &str) -> Result<String, StoreError> {
        let n = Checkpoints(self.0).search(query)?;
        Ok(respond("checkpoint_search", "x".repeat(300 * n + 20)))
    }
    #[instrument_op("mcp", "checkpoint_list")]
    fn checkpoint_list(&self) -> Result<String, StoreError> {
        Ok(respond("checkpoint_list", "y".repeat(100 * Checkpoints(self.0).list()? + 10)))
    }
    #[instrument_op("mcp", "remediation_save")]
    fn remediation_save(&self, fix: String) -> Result<String, StoreError> {
        Remediations(self.0).save(fix)?;
        Ok(respond("remediation_save", "saved".into()))
    }
    #[instrument_op("mcp", "remediation_search")]
    fn remediation_search(&self, error: &str) -> Result<String, StoreError> {
        Ok(respond("remediation_search", "z".repeat(500 * Remediations(self.0).search(error)? + 10)))
    }
    #[instrument_op("mcp", "troubleshoot")]
    fn troubleshoot(&self, error: &str) -> Result<String, StoreError> {
        let n = Remediations(self.0).search(error)?;
        Ok(respond("troubleshoot", "t".repeat(2000 + 800 * n)))
    }
    #[instrument_op("mcp", "list_patterns")]
    fn list_patterns(&self) -> String {
        respond("list_patterns", "p".repeat(1200))
    }
    #[instrument_op("mcp", "index_repository")]
    fn index_repository(&self) -> Result<String, String> {
        let files: Vec<String> = (0..16).map(|i| format!("fn file_{i}() {{}}")).collect();
        self.0.embedder.embed(&files)?;
        Ok(respond("index_repository", "indexed 16 files".into()))
    }
    #[instrument_op("mcp", "status")]
    fn status(&self) -> String {
        respond("status", "ok".into())
    }
}

#[instrument_op("agent", "planner")]
fn run_agent(contextd: &Contextd, step: u64) -> Result<(), StoreError> {
    let tools = Tools(contextd);
    tools.checkpoint_save(format!("step {step}: refactor checkpoint search"))?;
    tools.checkpoint_search("refactor search")?;
    Ok(())
}

/// One round of mixed operations.
fn round(contextd: &Contextd, step: u64) {
    let tools = Tools(contextd);
    let skills = Skills(contextd);
    let _ = tools.checkpoint_save(format!("checkpoint {step}: fixed flaky embedding test"));
    let _ = tools.checkpoint_search("flaky test");
    let _ = tools.checkpoint_list();
    let _ = tools.remediation_save(format!("remediation {step}: timeout → retry with backoff"));
    let _ = tools.remediation_search("timeout");
    let _ = tools.troubleshoot("timeout");
    let _ = tools.list_patterns();
    let _ = tools.status();
    if step.is_multiple_of(5) {
        let _ = tools.index_repository();
        let _ = run_agent(contextd, step);
        let _ = skills.create(&format!("skill-{}", step % 7));
        let _ = skills.search();
        let _ = skills.update();
        let _ = Checkpoints(contextd).update(0);
        let _ = contextd.store.get("checkpoints", step as usize % 3);
    }
    for skill in ["retry-flaky-test", "bump-dependency"] {
        let _ = skills.apply(skill);
    }
    if step.is_multiple_of(11) {
        let _ = Checkpoints(contextd).delete();
        let _ = skills.delete();
    }
    let test_type = ["unit", "integration", "e2e"][step as usize % 3];
    meters().test_duration.record(0.002 * (1 + step % 50) as f64, &[KeyValue::new("type", test_type)]);
}

fn fixtures() -> PathBuf {
    // The gauges crate's test fixtures: real reports, one copy in the repository.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contextd-gauges/tests/fixtures")
}

/// The HTTP API, served on a loopback port by a background runtime; returns its address.
fn serve_api(contextd: Arc<Contextd>) -> std::io::Result<std::net::SocketAddr> {
    use axum::Router;
    use axum::extract::{Path, State};
    use axum::routing::get;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let app = Router::new()
                .route(
                    "/checkpoints/{id}",
                    get(|State(c): State<Arc<Contextd>>, Path(id): Path<usize>| async move {
                        c.store.get("checkpoints", id).map_err(|_| axum::http::StatusCode::NOT_FOUND)
                    }),
                )
                .route("/health", get(|| async { "ok" }))
                .with_state(contextd)
                .layer(contextd_telemetry::http::HttpMetricsLayer::new().with_scheme("http"));
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let _ = axum::serve(listener, app).await;
        });
    });
    Ok(address)
}

fn http_get(address: std::net::SocketAddr, path: &str) {
    use std::io::{Read, Write};
    if let Ok(mut stream) = std::net::TcpStream::connect(address) {
        let _ = write!(stream, "GET {path} HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n");
        let _ = stream.read_to_end(&mut Vec::new());
    }
}

fn main() -> ExitCode {
    // A malformed command line exits with status 2 and clap's message, naming the flag.
    let run = <Args as clap::Parser>::parse().run();
    match demo(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("contextd_demo: {error:?}");
            ExitCode::FAILURE
        }
    }
}

fn demo(run: Run) -> Result<(), Report> {
    let mut config = TelemetryConfig::from_env()?
        .with_service_name("contextd-demo")
        .with_service_version(env!("CARGO_PKG_VERSION"));
    let configured = |name| std::env::var_os(name).is_some();
    if !["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_METRICS_EXPORTER"]
        .into_iter()
        .any(configured)
    {
        config =
            config.with_metrics_exporter(MetricsExporter::Console).with_traces_exporter(TracesExporter::None);
    }
    let telemetry = config.init()?;

    let contextd = Arc::new(Contextd {
        store: VectorStore {
            database: "shared".into(),
            collections: Mutex::default(),
            rng: Mutex::new(Rng(0x9e3779b97f4a7c15)),
        },
        embedder: Embedder {
            provider: EmbeddingProvider::OpenAi,
            model: "text-embedding-3-small",
            cache: Mutex::default(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        },
        rng: Mutex::new(Rng(0x2545f4914f6cdd1d)),
    });
    let counts = contextd.clone();
    let (c1, c2, c3) = (counts.clone(), counts.clone(), counts);
    let cache = contextd.clone();
    let _gauges = GaugeSources::new()
        .refresh_interval(Duration::from_secs(1))
        .count(CountGauge::Checkpoints, move || Ok::<_, String>(c1.store.count("checkpoints")))
        .count(CountGauge::Remediations, move || Ok::<_, String>(c2.store.count("remediations")))
        .count(CountGauge::Skills, move || Ok::<_, String>(c3.store.count("skills")))
        .coverage_report(fixtures().join("lcov.info"))
        .junit_report(fixtures().join("nextest-junit.xml"), TestTypeRules::cargo_nextest())
        .regression_tree(fixtures().join("regression"))
        .embedding_cache(move || {
            let (hits, misses) =
                (cache.embedder.hits.load(Ordering::Relaxed), cache.embedder.misses.load(Ordering::Relaxed));
            Ok::<_, String>(vec![CacheStats { model: cache.embedder.model.into(), hits, misses }])
        })
        .skill_success(SkillSuccessTracker::global())
        .start()?;
    let api = serve_api(contextd.clone())?;

    let started = Instant::now();
    let mut step = 0u64;
    loop {
        let done = match run {
            Run::Operations(n) => step >= n,
            Run::Duration(d) => started.elapsed() >= d,
            Run::Serve => false,
        };
        if done {
            break;
        }
        round(&contextd, step);
        http_get(api, &format!("/checkpoints/{}", step % 4));
        http_get(api, "/health");
        step += 1;
    }
    eprintln!("contextd_demo: {step} rounds in {:.1} s; flushing", started.elapsed().as_secs_f64());
    // Give the gauge sources one refresh after the last round, then export everything.
    std::thread::sleep(Duration::from_millis(1200));
    telemetry.shutdown()?;
    Ok(())
}
