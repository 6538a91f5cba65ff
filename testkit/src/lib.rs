//! Test support for the workspace's suites: a real VictoriaMetrics process on a free loopback
//! port, started the way the project runs it, and helpers to query it.
//!
//! The binary comes from `$VICTORIA_METRICS_BIN` or the folder `scripts/install-victoriametrics`
//! installs into; when it is missing the test fails with the command that installs it.

pub mod points;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Waits until `check` returns `Some`, or panics with `what` after `timeout`.
pub fn eventually<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < until, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A loopback port that was free a moment ago (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

/// A VictoriaMetrics process on a free loopback port with its own data directory.
pub struct VictoriaMetrics {
    child: Child,
    binary: PathBuf,
    extra: Vec<String>,
    /// Its HTTP port on 127.0.0.1.
    pub port: u16,
    data: PathBuf,
}

/// A program the tests run, installed by one of the project's scripts.
#[derive(Debug, Clone, Copy)]
pub enum Tool {
    /// `victoria-metrics`, from `scripts/install-victoriametrics`.
    VictoriaMetrics,
    /// `vmalert-tool`, from `scripts/install-victoriametrics`.
    VmalertTool,
    /// `vmalert`, from `scripts/install-victoriametrics`.
    Vmalert,
    /// `promtool`, from `scripts/install-prometheus`.
    Promtool,
    /// The TypeScript compiler beside Grafana's dashboard schema, from
    /// `scripts/install-grafana-schema` (run with `node`).
    GrafanaSchemaTsc,
}

impl Tool {
    /// The binary: from its environment variable, or where the install script puts it. Fails
    /// (never skips) when it is missing, naming the command that installs it.
    pub fn path(self) -> PathBuf {
        let (variable, folder, name, script) = match self {
            Self::VictoriaMetrics => {
                ("VICTORIA_METRICS_BIN", "victoriametrics", "victoria-metrics", "install-victoriametrics")
            }
            Self::VmalertTool => {
                ("VMALERT_TOOL_BIN", "victoriametrics", "vmalert-tool", "install-victoriametrics")
            }
            Self::Vmalert => ("VMALERT_BIN", "victoriametrics", "vmalert", "install-victoriametrics"),
            Self::Promtool => ("PROMTOOL_BIN", "prometheus", "promtool", "install-prometheus"),
            Self::GrafanaSchemaTsc => (
                "GRAFANA_SCHEMA_TSC",
                "grafana-schema",
                "node_modules/typescript/bin/tsc",
                "install-grafana-schema",
            ),
        };
        let binary = std::env::var_os(variable).map(PathBuf::from).unwrap_or_else(|| {
            let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| "/root".into());
            let tools = home.join(".cache/contextd-tools").join(folder);
            if name.contains('/') { tools.join(name) } else { tools.join("bin").join(name) }
        });
        assert!(
            binary.is_file(),
            "{name} is not installed at {}; install it with `scripts/{script}` (or run the whole suite \
             with `scripts/test`), or point {variable} at the binary",
            binary.display()
        );
        binary
    }
}

impl VictoriaMetrics {
    /// Starts VictoriaMetrics the way the project runs it: Prometheus naming for OTLP, and no
    /// query latency offset so fresh samples are visible. Fails (never skips) when the binary
    /// is missing, naming the command that installs it.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// As [`start`](Self::start), with extra command-line flags.
    pub fn start_with(extra: &[String]) -> Self {
        let binary = Tool::VictoriaMetrics.path();
        let port = free_port();
        let data = std::env::temp_dir().join(format!("contextd-vm-{}-{port}", std::process::id()));
        let child = Self::spawn(&binary, port, &data, extra);
        let vm = Self { child, binary, extra: extra.to_vec(), port, data };
        vm.wait_healthy();
        vm
    }

    fn spawn(binary: &Path, port: u16, data: &Path, extra: &[String]) -> Child {
        Command::new(binary)
            .arg(format!("-storageDataPath={}", data.display()))
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg("-opentelemetry.usePrometheusNaming")
            .arg("-search.latencyOffset=0s")
            .arg("-loggerLevel=ERROR")
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()))
    }

    fn wait_healthy(&self) {
        eventually(Duration::from_secs(30), "VictoriaMetrics /health", || {
            let ok = http().get(self.url("/health")).send().ok()?.text().ok()?;
            (ok.trim() == "OK").then_some(())
        });
    }

    /// Kills the process (SIGKILL: no graceful flush), keeping its data directory.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port and data directory, and waits until it is healthy.
    pub fn restart(&mut self) {
        self.child = Self::spawn(&self.binary, self.port, &self.data, &self.extra);
        self.wait_healthy();
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The OTLP/HTTP metrics endpoint, for `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`.
    pub fn otlp_metrics_endpoint(&self) -> String {
        self.url("/opentelemetry/v1/metrics")
    }

    /// Runs a PromQL instant query (after making fresh samples searchable) and returns the
    /// `data.result` array.
    pub fn query(&self, promql: &str) -> Vec<serde_json::Value> {
        let client = http();
        client.get(self.url("/internal/force_flush")).send().expect("force_flush");
        let url = self.url(&format!("/api/v1/query?query={}", url_encode(promql)));
        let response: serde_json::Value =
            serde_json::from_str(&client.get(url).send().unwrap().text().unwrap()).unwrap();
        assert_eq!(response["status"], "success", "query {promql}: {response}");
        response["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// Runs a PromQL instant query, returning VictoriaMetrics' error (e.g. a parse error) instead
    /// of failing.
    ///
    /// # Errors
    /// The error message VictoriaMetrics answered with.
    pub fn try_query(&self, promql: &str) -> Result<Vec<serde_json::Value>, String> {
        self.try_query_at(promql, None)
    }

    /// As [`try_query`](Self::try_query), evaluated at `time` (Unix seconds) when given, so
    /// that several queries see the same moment.
    ///
    /// # Errors
    /// The error message VictoriaMetrics answered with.
    pub fn try_query_at(&self, promql: &str, time: Option<u64>) -> Result<Vec<serde_json::Value>, String> {
        let client = http();
        client.get(self.url("/internal/force_flush")).send().map_err(|e| e.to_string())?;
        let at = time.map(|t| format!("&time={t}")).unwrap_or_default();
        let url = self.url(&format!("/api/v1/query?query={}{at}", url_encode(promql)));
        let body = client.get(url).send().and_then(|r| r.text()).map_err(|e| e.to_string())?;
        let response: serde_json::Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        if response["status"] != "success" {
            return Err(response["error"].as_str().unwrap_or(&body).to_owned());
        }
        Ok(response["data"]["result"].as_array().cloned().unwrap_or_default())
    }

    /// Runs vmalert over `rules` against this instance (queries and remote write) until every
    /// name of `recorded` is stored with `series_each` series, i.e. every recording rule has been
    /// evaluated and written; then stops it.
    ///
    /// # Panics
    /// When vmalert is missing, or the series do not appear within 30 s (with vmalert's output).
    pub fn evaluate_rules(&self, rules: &[PathBuf], recorded: &[&str], series_each: usize) {
        let mut command = Command::new(Tool::Vmalert.path());
        for rule in rules {
            command.arg(format!("-rule={}", rule.display()));
        }
        let log =
            std::env::temp_dir().join(format!("contextd-vmalert-{}-{}.log", std::process::id(), self.port));
        let mut child = command
            .arg(format!("-datasource.url={}", self.url("")))
            .arg(format!("-remoteWrite.url={}", self.url("")))
            .arg("-remoteWrite.flushInterval=500ms")
            .arg("-evaluationInterval=2s")
            // Equal to VictoriaMetrics' `-search.latencyOffset=0s`, as vmalert's docs advise.
            .arg("-rule.evalDelay=0s")
            .arg("-notifier.blackhole")
            .arg(format!("-httpListenAddr=127.0.0.1:{}", free_port()))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("vmalert log"))
            .spawn()
            .expect("start vmalert");
        let started = Instant::now();
        let stored = |name: &str| {
            let count = self.try_query(&format!("count({{__name__=\"{name}\"}})")).unwrap_or_default();
            count
                .first()
                .and_then(|r| r["value"][1].as_str())
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0)
        };
        loop {
            if recorded.iter().all(|name| stored(name) >= series_each) {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                let counts: Vec<String> =
                    recorded.iter().map(|name| format!("{name}: {}", stored(name))).collect();
                panic!(
                    "vmalert did not record {series_each} series of each name in 30 s ({}):\n{}",
                    counts.join(", "),
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Every metric name VictoriaMetrics has stored.
    pub fn metric_names(&self) -> Vec<String> {
        let client = http();
        client.get(self.url("/internal/force_flush")).send().expect("force_flush");
        let body = client.get(self.url("/api/v1/label/__name__/values")).send().unwrap().text().unwrap();
        let response: serde_json::Value = serde_json::from_str(&body).unwrap();
        response["data"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
    }
}

impl Drop for VictoriaMetrics {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The path of an example of the `contextd-examples` package, built first (once per test
/// process) with the cargo that runs the tests, so a test never runs a stale binary.
///
/// # Panics
/// When the build fails, with cargo's output.
pub fn example_binary(name: &str) -> PathBuf {
    built("contextd-examples", "--example", name).join("examples").join(name)
}

/// The path of the binary `name` of `package`, built first as [`example_binary`] does.
///
/// # Panics
/// When the build fails, with cargo's output.
pub fn package_binary(package: &str, name: &str) -> PathBuf {
    built(package, "--bin", name).join(name)
}

/// Builds a target of `package` once per test process; returns the profile directory.
fn built(package: &str, kind: &str, name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    // target/<profile>/deps/<test binary> → target/<profile>
    let profile_dir = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().to_path_buf();
    let key = format!("{package} {kind} {name}");
    if !built.contains(&key) {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let target_dir = profile_dir.parent().unwrap();
        let output = Command::new(cargo)
            .args(["build", "--quiet", "-p", package, kind, name, "--target-dir"])
            .arg(target_dir)
            .output()
            .expect("run cargo");
        assert!(
            output.status.success(),
            "building {package} {name} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        built.push(key);
    }
    profile_dir
}

/// A dashboard query as Grafana runs it with "All" selected in every variable.
pub fn all_selected(query: &str) -> String {
    query
        .replace("$environment", ".*")
        .replace("$instance", ".*")
        .replace("$operation", ".*")
        .replace("$__rate_interval", "1m")
}

/// Requests an [`OtlpRecorder`] received: request line and body.
type Requests = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>;

/// An OTLP/HTTP endpoint on a loopback port that keeps every request body and, if given a
/// target, forwards it there unchanged (as the collector's OTLP pipeline does) and answers
/// with the target's status; without one it answers 200.
pub struct OtlpRecorder {
    address: std::net::SocketAddr,
    bodies: Requests,
}

impl OtlpRecorder {
    /// Starts one; `target` is the URL requests are forwarded to.
    pub fn start(target: Option<String>) -> Self {
        use std::io::Write as _;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let bodies: Requests = Requests::default();
        let kept = bodies.clone();
        std::thread::spawn(move || {
            let client = http();
            for stream in listener.incoming().flatten() {
                let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                while let Some((request_line, body)) = read_http_request(&mut reader) {
                    let status = match &target {
                        Some(target) => client
                            .post(target)
                            .header("content-type", "application/x-protobuf")
                            .body(body.clone())
                            .send()
                            .map_or(502, |r| r.status().as_u16()),
                        None => 200,
                    };
                    kept.lock().unwrap_or_else(|p| p.into_inner()).push((request_line, body));
                    if write!(writer, "HTTP/1.1 {status} OK\r\nContent-Length: 0\r\n\r\n").is_err() {
                        break;
                    }
                }
            }
        });
        Self { address, bodies }
    }

    /// The URL of `path` on this endpoint, e.g. `/v1/metrics`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Every request so far: its request line and body.
    pub fn requests(&self) -> Vec<(String, Vec<u8>)> {
        self.bodies.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Reads one HTTP/1.1 request (request line, headers, `Content-Length` body) from a test
/// server's connection; `None` at the end of the connection.
pub fn read_http_request(reader: &mut impl std::io::BufRead) -> Option<(String, Vec<u8>)> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).ok()? == 0 {
        return None;
    }
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((request_line.trim_end().to_owned(), body))
}
