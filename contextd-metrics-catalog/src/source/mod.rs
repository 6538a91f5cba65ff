//! Reading a catalog file: YAML → a checked [`Catalog`].
//!
//! Every mistake is reported with the file, line and column of the entry it is about and what
//! would be valid, all of them at once: duplicate names, unknown fields (with the nearest valid
//! one), a unit that Prometheus-style exporters would turn into a different series name, a
//! histogram without buckets, a closed label without values, an operation label missing from its
//! instruments, a label no operation role fills, an objective off its histogram's bounds.
//!
//! The result is leaked into `'static` data of the same types a generated catalog has: the
//! readers are the proc-macro (once per file and build) and the catalog tool (once per run).

mod read;
mod tree;

use std::fmt;
use std::path::Path;

use crate::Catalog;

/// One mistake in a catalog file, at the entry it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogError {
    /// The file, as given to the reader.
    pub file: String,
    /// 1-based line of the entry.
    pub line: usize,
    /// 1-based column of the entry.
    pub column: usize,
    /// What is wrong and what would be valid.
    pub message: String,
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

/// Every mistake found in one catalog file (at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogErrors(pub Vec<CatalogError>);

impl fmt::Display for CatalogErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CatalogErrors {}

/// Reads and checks the catalog in `text`; `file` names it in errors.
///
/// # Errors
/// Every mistake found, each with its line and column.
pub fn read_str(file: &str, text: &str) -> Result<&'static Catalog, CatalogErrors> {
    read::Reader::new(file).read(text)
}

/// Reads and checks the catalog file at `path`.
///
/// # Errors
/// The file cannot be read, or every mistake found in it.
pub fn read_file(path: &Path) -> Result<&'static Catalog, CatalogErrors> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => read_str(&file, &text),
        Err(error) => Err(CatalogErrors(vec![CatalogError {
            file,
            line: 1,
            column: 1,
            message: format!("cannot read the catalog file: {error}"),
        }])),
    }
}

/// `; did you mean `x`?` for the nearest of `valid` within a small edit distance, else empty.
pub fn suggestion(name: &str, valid: &[&str]) -> String {
    let nearest = valid.iter().map(|v| (edit_distance(name, v), *v)).min();
    match nearest {
        Some((distance, v)) if distance <= (name.len() / 3).max(2) => format!("; did you mean `{v}`?"),
        _ => String::new(),
    }
}

/// The names in backticks, comma-separated.
pub fn backticked<S: AsRef<str>>(names: &[S]) -> String {
    names.iter().map(|n| format!("`{}`", n.as_ref())).collect::<Vec<_>>().join(", ")
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}
