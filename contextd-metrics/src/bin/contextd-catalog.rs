//! `contextd-catalog json | markdown`: prints the metric catalog.

use std::process::ExitCode;

const USAGE: &str = "usage: contextd-catalog <json | markdown>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let catalog = contextd_metrics::catalog();
    let output = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["json"] => contextd_metrics::render::json(catalog),
        ["markdown"] => contextd_metrics::render::markdown(catalog),
        [] => {
            eprintln!("contextd-catalog: no format given\n{USAGE}");
            return ExitCode::from(2);
        }
        [other, ..] if args.len() == 1 => {
            eprintln!("contextd-catalog: unknown format `{other}`; valid formats: json, markdown\n{USAGE}");
            return ExitCode::from(2);
        }
        _ => {
            eprintln!("contextd-catalog: expected one argument, got {}: {args:?}\n{USAGE}", args.len());
            return ExitCode::from(2);
        }
    };
    print!("{output}");
    ExitCode::SUCCESS
}
