//! `contextd-catalog`: the metric catalog as JSON or markdown on standard output, or the
//! Grafana dashboards written into a folder.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};
use contextd_metrics_catalog::{CATALOG, OBJECTIVES, SELF_METRICS};

/// Renders the contextd metric catalog.
#[derive(Parser)]
#[command(name = "contextd-catalog", version)]
struct Cli {
    #[command(subcommand)]
    output: Output,
}

#[derive(Subcommand)]
enum Output {
    /// The catalog as a JSON array, one object per instrument.
    Json,
    /// The reference page `docs/metrics-catalog.md`.
    Markdown,
    /// The Grafana dashboards, written into DIR (e.g. monitoring/grafana/dashboards).
    Grafana {
        /// The folder to write the dashboards into.
        dir: PathBuf,
    },
    /// The SLO recording and alerting rules (monitoring/alerts/slo.yml), in vmalert/Prometheus format.
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
    match cli.output {
        Output::Json => print!("{}", contextd_catalog_tool::json(&CATALOG)),
        Output::Markdown => print!("{}", contextd_catalog_tool::markdown(&CATALOG, &SELF_METRICS)),
        Output::Grafana { dir } => {
            for dashboard in contextd_catalog_tool::grafana(&CATALOG, &OBJECTIVES) {
                let path = dir.join(dashboard.file_name);
                if let Err(e) = std::fs::write(&path, format!("{:#}\n", dashboard.json)) {
                    eprintln!("contextd-catalog: cannot write {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
                println!("wrote {}", path.display());
            }
        }
        Output::SloRules => match contextd_catalog_tool::slo_rules(&OBJECTIVES) {
            Ok(rules) => print!("{rules}"),
            Err(error) => {
                eprintln!("contextd-catalog: {error}");
                return ExitCode::FAILURE;
            }
        },
    }
    ExitCode::SUCCESS
}
