//! Finding and reading the catalog file of the crate being compiled.
//!
//! `#[instrument_op]` reads the crate's catalog: the file named by the `CONTEXTD_METRICS_CATALOG`
//! environment variable (for harnesses such as trybuild that build a crate's files elsewhere),
//! else by `[package.metadata.contextd-metrics] catalog = "…"` in its Cargo.toml, else
//! `telemetry.yaml` beside that Cargo.toml. `catalog!("file.yaml")` names its file relative to
//! the source file that invokes it, as `include_str!` does. Errors show paths as written, so
//! messages read the same on every machine. Each file is read once per compilation (and again
//! when it changes).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use contextd_metrics_catalog::Catalog;
use proc_macro2::{Span, TokenStream};
use quote::quote;

/// The catalog file of a crate that names none.
pub(crate) const DEFAULT_FILE: &str = "telemetry.yaml";
const METADATA_TABLE: &str = "contextd-metrics";
const OVERRIDE_VARIABLE: &str = "CONTEXTD_METRICS_CATALOG";

/// A read catalog and where it came from.
pub(crate) struct Loaded {
    pub(crate) catalog: &'static Catalog,
    /// The absolute path, for `include_bytes!` (so Cargo rebuilds when the file changes).
    pub(crate) absolute: PathBuf,
}

impl Loaded {
    /// Tokens that make the compiler track the file: an unused `include_bytes!`.
    pub(crate) fn track(&self) -> TokenStream {
        let path = self.absolute.display().to_string();
        quote!(
            const _: &[u8] = ::core::include_bytes!(#path);
        )
    }
}

type Cache = HashMap<PathBuf, (SystemTime, &'static Catalog)>;
static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

fn manifest_dir(span: Span) -> syn::Result<PathBuf> {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .ok_or_else(|| syn::Error::new(span, "CARGO_MANIFEST_DIR is not set: build with cargo"))
}

/// The catalog of the crate being compiled (see the module docs).
pub(crate) fn crate_catalog(span: Span) -> syn::Result<Loaded> {
    let dir = manifest_dir(span)?;
    if let Some(path) = std::env::var_os(OVERRIDE_VARIABLE) {
        let path = PathBuf::from(path);
        let shown =
            path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        return file(&shown, &dir.join(&path), span);
    }
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| syn::Error::new(span, format!("cannot read {}: {e}", manifest.display())))?;
    let named =
        metadata_catalog(&text).map_err(|message| syn::Error::new(span, format!("Cargo.toml: {message}")))?;
    let relative = named.unwrap_or_else(|| DEFAULT_FILE.to_owned());
    if !dir.join(&relative).exists() {
        return Err(syn::Error::new(
            span,
            format!(
                "no catalog for this crate: `{relative}` does not exist beside its Cargo.toml; write the \
                 service's catalog there (see docs/own-catalog.md), or name the file with \
                 `[package.metadata.{METADATA_TABLE}] catalog = \"path/to/catalog.yaml\"`"
            ),
        ));
    }
    let absolute = dir.join(&relative);
    file(&relative, &absolute, span)
}

/// The catalog `written` in `catalog!(…)`, relative to the directory of the invoking file (the
/// crate's manifest directory if the compiler cannot say which file that is).
pub(crate) fn invoked(written: &str, invoking_file: Option<PathBuf>, span: Span) -> syn::Result<Loaded> {
    let manifest = manifest_dir(span)?;
    let base = match invoking_file {
        Some(file) if file.is_absolute() => file.parent().map(std::path::Path::to_path_buf),
        // Relative to where the compiler runs: the workspace root under cargo, the crate's
        // directory under rustdoc. Take the first of the crate's directory and its ancestors
        // where the file is.
        Some(file) => manifest
            .ancestors()
            .map(|dir| dir.join(&file))
            .find(|path| path.is_file())
            .and_then(|path| path.parent().map(std::path::Path::to_path_buf)),
        None => None,
    };
    file(written, &base.unwrap_or(manifest).join(written), span)
}

/// The catalog at `absolute`, shown as `relative` in errors.
fn file(relative: &str, absolute: &std::path::Path, span: Span) -> syn::Result<Loaded> {
    let absolute = absolute.to_path_buf();
    let modified = std::fs::metadata(&absolute).and_then(|m| m.modified()).ok();
    let mut cache = CACHE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let cache = cache.get_or_insert_with(HashMap::new);
    if let (Some(modified), Some((seen, catalog))) = (modified, cache.get(&absolute))
        && *seen == modified
    {
        return Ok(Loaded { catalog, absolute });
    }
    let text = std::fs::read_to_string(&absolute)
        .map_err(|e| syn::Error::new(span, format!("cannot read the catalog `{relative}`: {e}")))?;
    match contextd_metrics_catalog::source::read_str(relative, &text) {
        Ok(catalog) => {
            if let Some(modified) = modified {
                cache.insert(absolute.clone(), (modified, catalog));
            }
            Ok(Loaded { catalog, absolute })
        }
        Err(errors) => {
            let mut all: Option<syn::Error> = None;
            for error in errors.0 {
                let error = syn::Error::new(span, error.to_string());
                match &mut all {
                    Some(all) => all.combine(error),
                    None => all = Some(error),
                }
            }
            Err(all.unwrap_or_else(|| syn::Error::new(span, "the catalog has errors")))
        }
    }
}

/// `package.metadata.contextd-metrics.catalog`, if the manifest sets it.
fn metadata_catalog(manifest: &str) -> Result<Option<String>, String> {
    use toml::de::{DeTable, DeValue};
    let table = DeTable::parse(manifest).map_err(|e| e.to_string())?;
    fn get<'a>(table: &DeTable<'a>, key: &str) -> Option<DeValue<'a>> {
        table.iter().find(|(k, _)| k.get_ref().as_ref() == key).map(|(_, v)| v.get_ref().clone())
    }
    let Some(DeValue::Table(package)) = get(table.get_ref(), "package") else { return Ok(None) };
    let Some(DeValue::Table(metadata)) = get(&package, "metadata") else { return Ok(None) };
    let Some(DeValue::Table(ours)) = get(&metadata, METADATA_TABLE) else { return Ok(None) };
    match get(&ours, "catalog") {
        None => Ok(None),
        Some(DeValue::String(path)) => Ok(Some(path.as_ref().to_owned())),
        Some(_) => Err(format!("`package.metadata.{METADATA_TABLE}.catalog` must be a path string")),
    }
}

#[cfg(test)]
mod tests {
    use super::metadata_catalog;

    #[test]
    fn the_metadata_names_the_file_or_nothing() {
        let named = "[package]\nname = \"shop\"\n\n[package.metadata.contextd-metrics]\ncatalog = \"config/telemetry.yaml\"\n";
        assert_eq!(metadata_catalog(named), Ok(Some("config/telemetry.yaml".to_owned())));
        assert_eq!(metadata_catalog("[package]\nname = \"shop\"\n"), Ok(None));
        let other_tool = "[package]\nname = \"shop\"\n[package.metadata.docs.rs]\nall-features = true\n";
        assert_eq!(metadata_catalog(other_tool), Ok(None));
    }

    #[test]
    fn a_catalog_that_is_not_a_string_or_a_broken_manifest_is_an_error() {
        let number = "[package.metadata.contextd-metrics]\ncatalog = 3\n";
        assert!(metadata_catalog(number).unwrap_err().contains("must be a path string"));
        assert!(metadata_catalog("[package\n").is_err());
    }
}
