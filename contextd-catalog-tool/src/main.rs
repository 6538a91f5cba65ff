//! `contextd-catalog --catalog FILE <output>`: a catalog file rendered as JSON, markdown, Grafana
//! dashboards, or alert and SLO rules.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

/// Renders a metric catalog.
#[derive(Parser)]
#[command(name = "contextd-catalog", version)]
struct Cli {
    /// The catalog file (YAML), e.g. telemetry.yaml or contextd-metrics-macros/contextd.yaml.
    #[arg(long, global = true, default_value = "telemetry.yaml")]
    catalog: PathBuf,
    #[command(subcommand)]
    output: Output,
}

#[derive(Subcommand)]
enum Output {
    /// The catalog as a JSON array, one object per instrument.
    Json,
    /// The reference page (contextd's: docs/metrics-catalog.md).
    Markdown,
    /// The Grafana dashboards, written into DIR (e.g. monitoring/grafana/dashboards; created if
    /// missing).
    Grafana {
        /// The folder to write the dashboards into.
        dir: PathBuf,
    },
    /// A runbook with a section per generated alert, where the rules' runbook links point
    /// (docs/runbook.md).
    Runbook,
    /// Alert rules: error ratio and p95 latency per component, and the self-metrics.
    AlertRules,
    /// The SLO recording and alerting rules (contextd's: monitoring/alerts/slo.yml).
    SloRules,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            if matches!(
                error.kind(),
                clap::error::ErrorKind::InvalidSubcommand | clap::error::ErrorKind::MissingSubcommand
            ) {
                let valid: Vec<String> =
                    Cli::command().get_subcommands().map(|c| c.get_name().to_owned()).collect();
                eprintln!("valid outputs: {}", valid.join(", "));
            }
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    let catalog = match contextd_metrics_catalog::source::read_file(&cli.catalog) {
        Ok(catalog) => catalog,
        Err(errors) => {
            eprintln!("contextd-catalog: the catalog has errors:\n{errors}");
            return ExitCode::FAILURE;
        }
    };
    let source = cli.catalog.display().to_string();
    match cli.output {
        Output::Json => print!("{}", contextd_catalog_tool::json(catalog.instruments)),
        Output::Markdown => print!("{}", contextd_catalog_tool::markdown(catalog, &source)),
        Output::Grafana { dir } => {
            if let Err(e) = std::fs::create_dir_all(&dir) {
                eprintln!("contextd-catalog: cannot create {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
            for dashboard in contextd_catalog_tool::grafana(catalog) {
                let path = dir.join(&dashboard.file_name);
                if let Err(e) = std::fs::write(&path, format!("{:#}\n", dashboard.json)) {
                    eprintln!("contextd-catalog: cannot write {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
                println!("wrote {}", path.display());
            }
        }
        Output::Runbook => print!("{}", contextd_catalog_tool::runbook(catalog, &source)),
        Output::AlertRules => print!("{}", contextd_catalog_tool::alert_rules(catalog, &source)),
        Output::SloRules => match contextd_catalog_tool::slo_rules(catalog, &source) {
            Ok(rules) => print!("{rules}"),
            Err(error) => {
                eprintln!("contextd-catalog: {error}");
                return ExitCode::FAILURE;
            }
        },
    }
    ExitCode::SUCCESS
}
