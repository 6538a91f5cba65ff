//! Line coverage from lcov tracefiles, Cobertura XML and `cargo llvm-cov --json`, detected by
//! content and computed the way each tool computes its headline figure:
//! - lcov (genhtml): Σ `LH` / Σ `LF` over all records (`DA:` lines counted where a record has
//!   no `LF`/`LH`);
//! - Cobertura: `lines-covered` / `lines-valid` of the root `<coverage>` (its `line-rate` when
//!   those are absent);
//! - llvm-cov JSON export: `data[*].totals.lines.covered` / `count`.

use std::path::Path;

use super::xml::TagKind;
use super::{ReportError, read, xml};

/// The format a coverage report was found to be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoverageFormat {
    /// An lcov tracefile (`SF:` … `end_of_record`).
    Lcov,
    /// Cobertura XML (`<coverage …>`).
    Cobertura,
    /// `cargo llvm-cov --json` (llvm-cov export JSON).
    LlvmCovJson,
}

/// Covered and coverable lines, and the format they came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineCoverage {
    /// The detected format.
    pub format: CoverageFormat,
    /// Lines executed at least once.
    pub covered: u64,
    /// Lines that could be executed.
    pub total: u64,
    /// covered / total in percent, as the tool reports it.
    pub percent: f64,
}

/// Reads and parses the coverage report at `path`.
///
/// # Errors
/// An unreadable file, an unknown format, or a malformed or empty report.
pub fn read_coverage(path: &Path) -> Result<LineCoverage, ReportError> {
    parse_coverage(path, &read(path)?)
}

/// Parses a coverage report's text; `path` names it in errors.
///
/// # Errors
/// An unknown format, or a malformed or empty report.
pub fn parse_coverage(path: &Path, text: &str) -> Result<LineCoverage, ReportError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        llvm_cov_json(path, text)
    } else if trimmed.starts_with('<') {
        cobertura(path, text)
    } else if text.lines().any(|l| l.starts_with("SF:") || l.trim() == "end_of_record") {
        lcov(path, text)
    } else if trimmed.is_empty() {
        Err(ReportError::new(path, None, "the coverage report is empty"))
    } else {
        Err(ReportError::new(
            path,
            Some(1),
            "not a coverage report: expected lcov, Cobertura XML or llvm-cov JSON",
        ))
    }
}

fn coverage(
    path: &Path,
    format: CoverageFormat,
    covered: u64,
    total: u64,
) -> Result<LineCoverage, ReportError> {
    if total == 0 {
        return Err(ReportError::new(
            path,
            None,
            "the report covers no lines, so there is no coverage to report",
        ));
    }
    if covered > total {
        return Err(ReportError::new(
            path,
            None,
            format!("{covered} lines covered out of {total}: impossible"),
        ));
    }
    Ok(LineCoverage { format, covered, total, percent: covered as f64 * 100.0 / total as f64 })
}

fn lcov(path: &Path, text: &str) -> Result<LineCoverage, ReportError> {
    let (mut covered, mut total) = (0u64, 0u64);
    // Per record: the LF/LH summary if present, else the DA lines.
    let (mut lf, mut lh, mut da_total, mut da_hit, mut in_record) = (None, None, 0u64, 0u64, false);
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        let bad =
            |what: &str| ReportError::new(path, Some(number), format!("malformed `{what}` line: `{line}`"));
        let count = |value: &str, what: &str| value.trim().parse::<u64>().map_err(|_| bad(what));
        if line.starts_with("SF:") {
            if in_record {
                return Err(ReportError::new(
                    path,
                    Some(number),
                    "`SF:` before the previous record's `end_of_record`",
                ));
            }
            in_record = true;
        } else if let Some(value) = line.strip_prefix("LF:") {
            lf = Some(count(value, "LF:")?);
        } else if let Some(value) = line.strip_prefix("LH:") {
            lh = Some(count(value, "LH:")?);
        } else if let Some(value) = line.strip_prefix("DA:") {
            let mut fields = value.split(',');
            let (_line, hits) = (fields.next(), fields.next().ok_or_else(|| bad("DA:"))?);
            da_total += 1;
            // Hit counts can be written as floats by some tools ("1.0").
            if hits.trim().parse::<f64>().map_err(|_| bad("DA:"))? > 0.0 {
                da_hit += 1;
            }
        } else if line == "end_of_record" {
            if !in_record {
                return Err(ReportError::new(path, Some(number), "`end_of_record` without a record"));
            }
            match (lf, lh) {
                (Some(f), Some(h)) => {
                    total += f;
                    covered += h;
                }
                _ => {
                    total += da_total;
                    covered += da_hit;
                }
            }
            (lf, lh, da_total, da_hit, in_record) = (None, None, 0, 0, false);
        }
    }
    if in_record {
        return Err(ReportError::new(
            path,
            Some(text.lines().count()),
            "the last record has no `end_of_record` (truncated report?)",
        ));
    }
    coverage(path, CoverageFormat::Lcov, covered, total)
}

fn cobertura(path: &Path, text: &str) -> Result<LineCoverage, ReportError> {
    // The `<coverage>` element's counts; the rest of the document is only checked to be whole.
    let mut root: Option<(usize, [Option<String>; 3])> = None;
    xml::visit_tags(text, |tag| {
        if root.is_none() && tag.name == "coverage" && tag.kind != TagKind::End {
            let attribute = |name| tag.attribute(name).map(std::borrow::Cow::into_owned);
            root = Some((
                tag.line,
                [attribute("lines-covered"), attribute("lines-valid"), attribute("line-rate")],
            ));
        }
        Ok(())
    })
    .map_err(|e| ReportError::new(path, Some(e.line), e.message))?;
    let (line, [covered, valid, rate]) =
        root.ok_or_else(|| ReportError::new(path, Some(1), "no `<coverage>` element: not Cobertura XML"))?;
    let number = |name: &str, value: Option<String>| -> Result<Option<f64>, ReportError> {
        value
            .map(|v| {
                v.parse::<f64>().map_err(|_| {
                    ReportError::new(path, Some(line), format!("`{name}=\"{v}\"` is not a number"))
                })
            })
            .transpose()
    };
    match (number("lines-covered", covered)?, number("lines-valid", valid)?) {
        (Some(covered), Some(valid)) => {
            coverage(path, CoverageFormat::Cobertura, covered as u64, valid as u64)
        }
        _ => {
            let rate = number("line-rate", rate)?.ok_or_else(|| {
                ReportError::new(
                    path,
                    Some(line),
                    "`<coverage>` has neither lines-covered/lines-valid nor line-rate",
                )
            })?;
            if !(0.0..=1.0).contains(&rate) {
                return Err(ReportError::new(
                    path,
                    Some(line),
                    format!("line-rate {rate} is outside [0, 1]"),
                ));
            }
            Ok(LineCoverage {
                format: CoverageFormat::Cobertura,
                covered: 0,
                total: 0,
                percent: rate * 100.0,
            })
        }
    }
}

fn llvm_cov_json(path: &Path, text: &str) -> Result<LineCoverage, ReportError> {
    let json: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ReportError::new(path, Some(e.line()), format!("invalid JSON: {e}")))?;
    let data = json["data"].as_array().ok_or_else(|| {
        ReportError::new(path, None, "no `data` array: not an llvm-cov export (`cargo llvm-cov --json`)")
    })?;
    let (mut covered, mut total) = (0u64, 0u64);
    for export in data {
        let lines = &export["totals"]["lines"];
        match (lines["covered"].as_u64(), lines["count"].as_u64()) {
            (Some(c), Some(n)) => {
                covered += c;
                total += n;
            }
            _ => return Err(ReportError::new(path, None, "an export has no `totals.lines.covered`/`count`")),
        }
    }
    coverage(path, CoverageFormat::LlvmCovJson, covered, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LineCoverage, ReportError> {
        parse_coverage(Path::new("report"), text)
    }

    #[test]
    fn lcov_sums_lf_and_lh_across_records() {
        // From the geninfo(1) format description: per-file records with DA, LF and LH.
        let text = "TN:\nSF:/src/a.c\nDA:1,1\nDA:2,0\nLF:2\nLH:1\nend_of_record\nSF:/src/b.c\nDA:3,4\nDA:4,1\nDA:5,0\nend_of_record\n";
        let c = parse(text).unwrap();
        assert_eq!((c.format, c.covered, c.total), (CoverageFormat::Lcov, 3, 5));
        assert!((c.percent - 60.0).abs() < 1e-9);
    }

    #[test]
    fn cobertura_uses_line_counts_then_line_rate() {
        let text = r#"<?xml version="1.0" ?><coverage line-rate="0.5" lines-covered="3" lines-valid="4"><packages/></coverage>"#;
        assert_eq!(parse(text).unwrap().percent, 75.0);
        let rate_only = r#"<coverage line-rate="0.25"></coverage>"#;
        assert_eq!(parse(rate_only).unwrap().percent, 25.0);
    }

    #[test]
    fn llvm_cov_json_uses_totals() {
        let text = r#"{"data":[{"totals":{"lines":{"count":200,"covered":150,"percent":75.0}}}],"type":"llvm.coverage.json.export","version":"2.0.1"}"#;
        let c = parse(text).unwrap();
        assert_eq!((c.format, c.covered, c.total, c.percent), (CoverageFormat::LlvmCovJson, 150, 200, 75.0));
    }

    #[test]
    fn malformed_reports_name_the_line() {
        assert!(parse("").unwrap_err().message.contains("empty"));
        let truncated = parse("SF:a\nDA:1,1\n").unwrap_err();
        assert!(truncated.message.contains("truncated"), "{truncated}");
        let bad = parse("SF:a\nLF:x\nend_of_record\n").unwrap_err();
        assert_eq!(bad.line, Some(2));
        assert!(parse("SF:a\nend_of_record\n").unwrap_err().message.contains("no lines"));
        assert!(parse("<coverage line-rate=\"0.5\">").unwrap_err().message.contains("truncated"));
        assert!(parse("{\"data\": [").unwrap_err().message.contains("invalid JSON"));
        assert!(parse("hello").unwrap_err().message.contains("not a coverage report"));
    }
}
