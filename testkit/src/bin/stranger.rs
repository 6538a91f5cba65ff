//! The stranger's check: the library crates as a registry would hand them to a user, adopted by
//! crates that live outside the workspace, following the README and the guides as written.
//!
//! ```text
//! cargo run -p contextd-testkit --bin stranger [-- DOC.md …]
//! ```
//!
//! 1. `cargo package` packs every library crate; each is unpacked into the work folder
//!    (`$TMPDIR/contextd-stranger`, or `$STRANGER_DIR`; outside the workspace, which a crate made
//!    inside would join). Crates made here depend on them by version, as
//!    on crates.io, with a `[patch.crates-io]` table in their own manifest standing in for the
//!    registry: the one deviation from the docs.
//! 2. Every fenced block of `README.md` and `docs/*.md` carries a marker on the line before it,
//!    an HTML comment that readers do not see rendered:
//!    - `<!-- check: run -->`: a shell block, each line run in order (`cd` followed), with
//!      `127.0.0.1:8428` pointing at this check's VictoriaMetrics and `cargo install` of one of
//!      our crates installing its package;
//!    - `<!-- check: write PATH -->` / `<!-- check: append PATH -->`: the block is that file of
//!      the crate being built (made with `cargo new` if the document has not made one);
//!    - `<!-- check: program NAME -->`: a whole program, run as `src/bin/NAME.rs` with metrics
//!      to VictoriaMetrics and spans to a local OTLP receiver;
//!    - `<!-- fragment: why -->`: not run, and the reason why.
//!
//!    A block without a marker fails the check. `<!-- check: expect SELECTOR VALUE -->` anywhere
//!    in a document: after its blocks ran, `sum(SELECTOR)` in VictoriaMetrics must be `VALUE`;
//!    `<!-- check: absent SELECTOR -->`: then no series may match `SELECTOR`.
//! 3. Each document with `check:` markers runs in a crate of its own against a fresh
//!    VictoriaMetrics; its commands' output is shown as they run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use contextd_testkit::{OtlpRecorder, VictoriaMetrics, eventually};
use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};

/// Workspace members that are never published, so never packaged.
const NOT_PACKAGED: [&str; 4] =
    ["contextd-examples", "orders-service", "contextd-benches", "contextd-testkit"];

/// What a block's marker says to do with it.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Run,
    Write(String),
    Append(String),
    Program(String),
    Fragment,
}

/// One fenced block and its marker.
#[derive(Debug)]
struct Block {
    line: usize,
    step: Option<Step>,
    text: String,
}

/// A document's blocks and expectations.
struct Document {
    path: PathBuf,
    blocks: Vec<Block>,
    expectations: Vec<(String, f64)>,
    /// Selectors that must match no series once the expectations are met.
    absent: Vec<String>,
}

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf();
    let work = std::env::var_os("STRANGER_DIR")
        .map_or_else(|| std::env::temp_dir().join("contextd-stranger"), PathBuf::from);
    // Outside any workspace: `cargo new` inside one would join it.
    assert!(!work.starts_with(&repo), "the stranger's folder {} is inside the workspace", work.display());
    let only: Vec<String> = std::env::args().skip(1).collect();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(repo.join("docs"))
        .expect("docs/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    paths.sort();
    paths.insert(0, repo.join("README.md"));
    // With documents named, only those (while writing one).
    paths.retain(|p| only.is_empty() || only.iter().any(|o| p.ends_with(o)));
    let documents: Vec<Document> = paths.iter().map(|p| read_document(p)).collect();

    let mut unmarked = Vec::new();
    for document in &documents {
        for block in document.blocks.iter().filter(|b| b.step.is_none()) {
            unmarked.push(format!("{}:{}", shown(&repo, &document.path), block.line));
        }
    }
    assert!(
        unmarked.is_empty(),
        "code blocks without a marker (`<!-- check: … -->` or `<!-- fragment: why -->` on the line \
         before):\n  {}",
        unmarked.join("\n  ")
    );

    let patch = package(&repo, &work);
    let mut checked = 0;
    for document in &documents {
        let runs = document.blocks.iter().any(|b| b.step != Some(Step::Fragment));
        if !runs {
            continue;
        }
        eprintln!("stranger: {} ({} blocks)", shown(&repo, &document.path), document.blocks.len());
        follow(document, &work, &patch);
        checked += 1;
    }
    assert!(checked > 0, "no document was followed");
    eprintln!("stranger: {checked} documents followed with the packaged crates");
}

fn shown(repo: &Path, path: &Path) -> String {
    path.strip_prefix(repo).unwrap_or(path).display().to_string()
}

/// The fenced blocks of a markdown file, each with the marker on the line before it, and the
/// document's expectations.
fn read_document(path: &Path) -> Document {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut current: Option<Block> = None;
    let mut expectations = Vec::new();
    let mut absent = Vec::new();
    for (event, range) in Parser::new(&text).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(_))) => {
                let line = line_of(range.start);
                let marker = lines[..line - 1].iter().rev().find(|l| !l.trim().is_empty()).copied();
                current = Some(Block { line, step: marker.and_then(marker_step), text: String::new() });
            }
            Event::Text(body) => {
                if let Some(block) = &mut current {
                    block.text.push_str(&body);
                }
            }
            Event::End(TagEnd::CodeBlock) => blocks.extend(current.take()),
            Event::Html(html) | Event::InlineHtml(html) => {
                for line in html.lines() {
                    if let Some(selector) = comment(line).and_then(|c| c.strip_prefix("check: absent ")) {
                        absent.push(selector.to_owned());
                    }
                    if let Some(rest) = comment(line).and_then(|c| c.strip_prefix("check: expect ")) {
                        let (selector, value) = rest
                            .rsplit_once(' ')
                            .unwrap_or_else(|| panic!("{}: `check: expect SELECTOR VALUE`", path.display()));
                        let value = value
                            .parse()
                            .unwrap_or_else(|_| panic!("{}: `{value}` is no number", path.display()));
                        expectations.push((selector.to_owned(), value));
                    }
                }
            }
            _ => {}
        }
    }
    Document { path: path.to_path_buf(), blocks, expectations, absent }
}

/// The text inside `<!-- … -->`, if the line is one such comment.
fn comment(line: &str) -> Option<&str> {
    line.trim().strip_prefix("<!--")?.strip_suffix("-->").map(str::trim)
}

fn marker_step(line: &str) -> Option<Step> {
    let inner = comment(line)?;
    if inner.starts_with("fragment:") {
        return Some(Step::Fragment);
    }
    let rest = inner.strip_prefix("check: ")?;
    let (verb, argument) = rest.split_once(' ').unwrap_or((rest, ""));
    match verb {
        "run" => Some(Step::Run),
        "write" => Some(Step::Write(argument.to_owned())),
        "append" => Some(Step::Append(argument.to_owned())),
        "program" => Some(Step::Program(argument.to_owned())),
        _ => None,
    }
}

/// Packs the library crates and unpacks them into `work/packages`; returns the `[patch]` table
/// that stands in for the registry.
fn package(repo: &Path, work: &Path) -> String {
    let target = work.join("package-target");
    let _ = std::fs::remove_dir_all(target.join("package"));
    let mut command = Command::new(cargo());
    command.current_dir(repo).args(["package", "--workspace", "--no-verify", "--allow-dirty", "--quiet"]);
    for excluded in NOT_PACKAGED {
        command.args(["--exclude", excluded]);
    }
    run(command.arg("--target-dir").arg(&target), "cargo package");
    let packages = work.join("packages");
    let _ = std::fs::remove_dir_all(&packages);
    std::fs::create_dir_all(&packages).unwrap();
    let mut patch = String::from("[patch.crates-io]\n");
    let mut crates: Vec<PathBuf> = std::fs::read_dir(target.join("package"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "crate"))
        .collect();
    crates.sort();
    for file in crates {
        run(Command::new("tar").arg("xzf").arg(&file).arg("-C").arg(&packages), "tar");
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let (name, _version) = stem.rsplit_once('-').expect("<name>-<version>.crate");
        let path = packages.join(&stem).display().to_string();
        patch.push_str(&format!("{name} = {{ path = {path:?} }}\n"));
    }
    patch
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn run(command: &mut Command, what: &str) {
    let status = command.status().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(status.success(), "{what} failed ({status})");
}

/// Where a document's commands run, and the crate it is building.
struct Follower<'a> {
    name: String,
    work: &'a Path,
    patch: &'a str,
    vm_address: String,
    traces: String,
    dir: PathBuf,
    made: Option<PathBuf>,
}

impl Follower<'_> {
    fn shell(&self, line: &str, dir: &Path) {
        let line = line.replace("127.0.0.1:8428", &self.vm_address);
        eprintln!("stranger: {} $ {line}", dir.display());
        let path =
            format!("{}:{}", self.work.join("bin/bin").display(), std::env::var("PATH").unwrap_or_default());
        let mut command = Command::new("bash");
        command.current_dir(dir).args(["-euo", "pipefail", "-c", &line]);
        command.env("CARGO_TARGET_DIR", self.work.join("target")).env("PATH", path);
        // Spans go to a receiver of this check unless the command says otherwise.
        command.env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &self.traces);
        run(&mut command, &line);
    }

    /// The crate being built, made with `cargo new` if the document made none.
    fn krate(&mut self) -> PathBuf {
        if let Some(made) = &self.made {
            return made.clone();
        }
        self.shell(&format!("cargo new --quiet --bin {}", self.name), &self.dir);
        let created = self.dir.join(&self.name);
        add_patch(&created, self.patch);
        // Later commands run in it, as after `cargo new x && cd x`.
        self.dir = created.clone();
        self.made = Some(created.clone());
        created
    }

    fn run_line(&mut self, part: &str) {
        if let Some(target) = part.strip_prefix("cd ") {
            self.dir = self.dir.join(target.trim());
        } else if let Some(krate) = part.strip_prefix("cargo install ") {
            let krate = krate.split_whitespace().next().unwrap_or_default();
            let package = std::fs::read_dir(self.work.join("packages"))
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| {
                    p.file_name().unwrap().to_string_lossy().rsplit_once('-').map(|(n, _)| n) == Some(krate)
                })
                .unwrap_or_else(|| panic!("`cargo install {krate}`: not a package of ours"));
            let root = self.work.join("bin");
            // An installed package's manifest has no patch table: the same one comes as config.
            let config = self.work.join("patch.toml");
            std::fs::write(&config, self.patch).unwrap();
            let install = format!(
                "cargo install --quiet --config {} --path {} --root {}",
                config.display(),
                package.display(),
                root.display()
            );
            self.shell(&install, &self.dir.clone());
        } else {
            self.shell(part, &self.dir.clone());
            if let Some(new) = part.strip_prefix("cargo new ") {
                let created = self.dir.join(new.split_whitespace().last().unwrap_or_default());
                add_patch(&created, self.patch);
                self.made = Some(created);
            }
        }
    }
}

/// Follows one document in a folder of its own, against a fresh VictoriaMetrics.
fn follow(document: &Document, work: &Path, patch: &str) {
    let name = document.path.file_stem().unwrap().to_string_lossy().to_lowercase().replace('.', "_");
    let root = work.join("crates").join(&name);
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let vm = VictoriaMetrics::start();
    let traces = OtlpRecorder::start(None);
    let mut follower = Follower {
        name,
        work,
        patch,
        vm_address: format!("127.0.0.1:{}", vm.port),
        traces: traces.url("/v1/traces"),
        dir: root,
        made: None,
    };
    for block in &document.blocks {
        match block.step.as_ref().expect("every block is marked") {
            Step::Fragment => {}
            Step::Run => {
                for raw in block.text.lines() {
                    let line = raw.split(" # ").next().unwrap_or(raw).trim();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    for part in line.split("&&").map(str::trim) {
                        follower.run_line(part);
                    }
                }
            }
            Step::Write(file) | Step::Append(file) => {
                let krate = follower.krate();
                let target = krate.join(file);
                std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                let mut text = match block.step {
                    Some(Step::Append(_)) => {
                        without_patch(std::fs::read_to_string(&target).unwrap_or_default())
                    }
                    _ => String::new(),
                };
                text.push_str(&block.text);
                std::fs::write(&target, text).unwrap();
                // The patch table stays last: `append Cargo.toml` adds to `[dependencies]`.
                if file == "Cargo.toml" {
                    add_patch(&krate, patch);
                }
            }
            Step::Program(program) => {
                let krate = follower.krate();
                let bin = krate.join("src/bin");
                std::fs::create_dir_all(&bin).unwrap();
                std::fs::write(bin.join(format!("{program}.rs")), &block.text).unwrap();
                let command = format!(
                    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://127.0.0.1:8428/opentelemetry/v1/metrics \
                     cargo run --quiet --bin {program}"
                );
                follower.shell(&command, &krate);
            }
        }
    }
    for (selector, value) in &document.expectations {
        let query = format!("sum({selector})");
        eventually(Duration::from_secs(20), &query, || {
            let _ = reqwest::blocking::get(vm.url("/internal/force_flush"));
            let found =
                vm.try_query(&query).ok()?.first().and_then(|r| r["value"][1].as_str()?.parse::<f64>().ok());
            (found == Some(*value)).then_some(())
        });
        eprintln!("stranger: {query} = {value}");
    }
    for selector in &document.absent {
        let found = vm.query(&format!("count({selector})"));
        assert!(found.is_empty(), "{selector} matches series: {found:?}");
        eprintln!("stranger: no series matches {selector}");
    }
}

/// Puts the `[patch.crates-io]` table at the end of the crate's manifest (once).
fn add_patch(krate: &Path, patch: &str) {
    let manifest = krate.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    std::fs::write(&manifest, format!("{}\n\n{patch}", without_patch(text).trim_end())).unwrap();
}

/// A manifest without the `[patch.crates-io]` table this check put at its end.
fn without_patch(text: String) -> String {
    match text.find("\n[patch.crates-io]") {
        Some(at) => text[..=at].to_owned(),
        None => text,
    }
}
