//! `contextd_bugs_total{severity,status}` and `contextd_regression_tests_total{category}` from a
//! scan of `tests/regression/` (format: `docs/regression-tests.md`):
//! - `bugs/*.md`: one bug each, with `severity:` and `status:` lines;
//! - every other file directly under `bugs/`, `security/` or `performance/`: one regression test.

use std::path::Path;

use contextd_metrics::contextd::labels;

use super::{ReportError, read};

/// The bug severities, in catalog order (the values of the `severity` label).
pub const SEVERITIES: &[&str] = labels::SEVERITY.values.listed();
/// The bug statuses, in catalog order (the values of the bugs' `status` label).
pub const STATUSES: &[&str] = labels::BUG_STATUS.values.listed();
/// The regression test categories, in catalog order (the values of the `category` label); each
/// is a directory of `tests/regression`.
pub const CATEGORIES: &[&str] = labels::CATEGORY.values.listed();
/// The category whose directory also holds the bug records.
const BUGS: usize = 0;

/// Bugs by severity and status: `counts[severity][status]`, indexed as [`SEVERITIES`] and [`STATUSES`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BugCounts {
    /// The counts.
    pub counts: [[i64; 3]; 4],
}

impl BugCounts {
    /// `(severity, status, count)` for all twelve combinations, zeros included.
    pub fn by_label(&self) -> Vec<(&'static str, &'static str, i64)> {
        let mut out = Vec::with_capacity(12);
        for (s, severity) in SEVERITIES.iter().enumerate().take(4) {
            for (t, status) in STATUSES.iter().enumerate().take(3) {
                out.push((*severity, *status, self.counts[s][t]));
            }
        }
        out
    }
}

/// Regression tests by category, indexed as [`CATEGORIES`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegressionCounts {
    /// The counts.
    pub counts: [i64; 3],
}

/// Scans `root` (a `tests/regression` directory).
///
/// # Errors
/// A missing `root`, an unreadable file, or a bug file without a valid `severity:` or
/// `status:` line (named with its line).
pub fn scan_regression_tree(root: &Path) -> Result<(BugCounts, RegressionCounts), ReportError> {
    if !root.is_dir() {
        return Err(ReportError::new(
            root,
            None,
            "not a directory; expected tests/regression with bugs/, security/, performance/",
        ));
    }
    let mut bugs = BugCounts::default();
    let mut tests = RegressionCounts::default();
    for (c, category) in CATEGORIES.iter().enumerate() {
        let dir = root.join(category);
        if !dir.is_dir() {
            continue; // a category without tests yet
        }
        let entries =
            std::fs::read_dir(&dir).map_err(|e| ReportError::new(&dir, None, format!("cannot list: {e}")))?;
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
            .collect();
        files.sort();
        for file in files {
            let is_record = file.extension().is_some_and(|e| e == "md");
            if !is_record {
                tests.counts[c] += 1;
            } else if c == BUGS && !file.file_name().is_some_and(|n| n.eq_ignore_ascii_case("README.md")) {
                let (severity, status) = bug_fields(&file, &read(&file)?)?;
                bugs.counts[severity][status] += 1;
            }
        }
    }
    Ok((bugs, tests))
}

/// The severity and status indices of one bug file.
fn bug_fields(path: &Path, text: &str) -> Result<(usize, usize), ReportError> {
    let field = |key: &str, valid: &[&str]| -> Result<usize, ReportError> {
        for (index, line) in text.lines().enumerate() {
            let Some((name, value)) = line.split_once(':') else { continue };
            if !name.trim().trim_start_matches(['-', '*', ' ']).eq_ignore_ascii_case(key) {
                continue;
            }
            let value = value.trim().trim_matches(['"', '\'', '`']).to_ascii_lowercase();
            return valid.iter().position(|v| *v == value).ok_or_else(|| {
                ReportError::new(
                    path,
                    Some(index + 1),
                    format!("`{key}: {value}` is not valid; expected one of {}", valid.join(", ")),
                )
            });
        }
        Err(ReportError::new(
            path,
            None,
            format!("no `{key}:` line; expected `{key}:` followed by one of {}", valid.join(", ")),
        ))
    };
    // The record's keys are the labels the counts go to.
    Ok((field(labels::SEVERITY.name, SEVERITIES)?, field(labels::BUG_STATUS.name, STATUSES)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bug_fields_are_found_anywhere_and_validated() {
        let p = Path::new("bugs/b1.md");
        assert_eq!(bug_fields(p, "---\nseverity: High\nstatus: fixed\n---\n# Crash"), Ok((1, 1)));
        assert_eq!(bug_fields(p, "- **Severity**: x").unwrap_err().line, None, "markdown bold is not a key");
        let invalid = bug_fields(p, "severity: urgent\nstatus: open").unwrap_err();
        assert_eq!(
            (invalid.line, invalid.to_string().contains("expected one of critical, high, medium, low")),
            (Some(1), true)
        );
        let missing = bug_fields(p, "status: open").unwrap_err();
        assert!(missing.to_string().contains("no `severity:` line"), "{missing}");
    }
}
