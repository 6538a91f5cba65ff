//! Parsers for the files the testing gauges read: coverage reports, JUnit XML, and the
//! `tests/regression/` tree. A malformed file is an error naming the file and line; the gauge
//! then reports nothing rather than a wrong number.

mod coverage;
mod junit;
mod regression;
mod xml;

use std::fmt;
use std::path::{Path, PathBuf};

pub use coverage::{CoverageFormat, LineCoverage, parse_coverage, read_coverage};
pub use junit::{TestTypeRules, TestsByType, parse_junit, read_junit};
pub use regression::{BugCounts, CATEGORIES, RegressionCounts, SEVERITIES, STATUSES, scan_regression_tree};

/// A report that could not be read or understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportError {
    /// The file (or directory) concerned.
    pub path: PathBuf,
    /// The 1-based line, where one applies.
    pub line: Option<usize>,
    /// What is wrong, and what would be valid.
    pub message: String,
}

impl ReportError {
    pub(crate) fn new(path: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        Self { path: path.to_owned(), line, message: message.into() }
    }
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for ReportError {}

fn read(path: &Path) -> Result<String, ReportError> {
    std::fs::read_to_string(path).map_err(|e| ReportError::new(path, None, format!("cannot read: {e}")))
}
