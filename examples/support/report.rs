//! How the examples' `main` prints an error: its message and each cause, one per line, as a
//! person reads them (a `main` returning `Box<dyn Error>` would print the struct's `Debug`).

use std::error::Error;
use std::fmt;

/// Any error, shown by `main` as `message` followed by `caused by: …` lines.
pub struct Report(Box<dyn Error + Send + Sync>);

impl<E: Into<Box<dyn Error + Send + Sync>>> From<E> for Report {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            write!(f, "\n  caused by: {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}
