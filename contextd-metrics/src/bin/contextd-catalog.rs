//! `contextd-catalog json | markdown`: prints the metric catalog;
//! `contextd-catalog grafana <dir>`: writes the three dashboards into `<dir>`.

use std::process::ExitCode;

const USAGE: &str = "usage: contextd-catalog <json | markdown | grafana <dir>>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let catalog = contextd_metrics::catalog();
    let output = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["json"] => contextd_metrics::render::json(catalog),
        ["markdown"] => contextd_metrics::render::markdown(catalog),
        ["grafana", dir] => {
            for dashboard in contextd_metrics::render::grafana(catalog) {
                let path = std::path::Path::new(dir).join(dashboard.file_name);
                let text = format!("{:#}\n", dashboard.json);
                if let Err(e) = std::fs::write(&path, text) {
                    eprintln!("contextd-catalog: cannot write {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
                println!("wrote {}", path.display());
            }
            return ExitCode::SUCCESS;
        }
        [] => {
            eprintln!("contextd-catalog: no format given\n{USAGE}");
            return ExitCode::from(2);
        }
        [other, ..] if args.len() == 1 => {
            eprintln!(
                "contextd-catalog: unknown format `{other}`; valid formats: json, markdown, grafana <dir>\n{USAGE}"
            );
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
