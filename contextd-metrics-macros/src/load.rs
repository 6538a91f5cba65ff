//! Finding and reading the catalog of the crate being compiled.
//!
//! `#[instrument_op]` reads the crate's catalog: the file named by the `CONTEXTD_METRICS_CATALOG`
//! environment variable (for harnesses such as trybuild that build a crate's files elsewhere),
//! else by `[package.metadata.contextd-metrics] catalog = "…"` in its Cargo.toml, else
//! `telemetry.yaml` beside that Cargo.toml, else — a crate that declares no catalog — contextd's,
//! which this crate carries ([`BUILT_IN`]), as `contextd_telemetry::init()` records contextd's
//! catalog unless given another. `catalog!("file.yaml")` names its file relative to the source
//! file that invokes it, as `include_str!` does; `catalog!(contextd)` names a carried catalog.
//! Errors show paths relative to the crate's manifest, so messages read the same on every
//! machine and for every macro. Each file is read once per compilation (and again when it
//! changes), and its mistakes are listed in full once: later uses say where to look.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use contextd_metrics_catalog::Catalog;
use proc_macro2::{Span, TokenStream};
use quote::quote;

/// The catalog file of a crate that names none.
pub(crate) const DEFAULT_FILE: &str = "telemetry.yaml";
const METADATA_TABLE: &str = "contextd-metrics";
const OVERRIDE_VARIABLE: &str = "CONTEXTD_METRICS_CATALOG";

/// The catalogs this crate carries, by name. The first is what a crate without a catalog of its
/// own records (the runtime's default catalog is the same one).
const BUILT_IN: &[(&str, &str)] = &[("contextd", include_str!("../contextd.yaml"))];

/// Where a read catalog came from.
pub(crate) enum Origin {
    /// A file of the crate being compiled, at this absolute path.
    File(PathBuf),
    /// A catalog this crate carries, by name.
    BuiltIn(&'static str),
}

/// A read catalog and where it came from.
pub(crate) struct Loaded {
    pub(crate) catalog: &'static Catalog,
    pub(crate) origin: Origin,
}

impl Loaded {
    /// Tokens that make the compiler track a catalog file (an unused `include_bytes!`, so Cargo
    /// rebuilds when it changes); nothing for a carried catalog.
    pub(crate) fn track(&self) -> TokenStream {
        match &self.origin {
            Origin::File(absolute) => {
                let path = absolute.display().to_string();
                quote!(
                    const _: &[u8] = ::core::include_bytes!(#path);
                )
            }
            Origin::BuiltIn(_) => TokenStream::new(),
        }
    }

    /// What an error about a name that is not in the catalog adds: which catalog was read, when
    /// the crate did not choose it.
    pub(crate) fn note(&self) -> String {
        match self.origin {
            Origin::BuiltIn(name) => format!(
                " (this crate has no `{DEFAULT_FILE}` beside its Cargo.toml, so it records {name}'s \
                 catalog; write the service's own catalog there, see docs/own-catalog.md)"
            ),
            Origin::File(_) => String::new(),
        }
    }
}

/// A file read before: when it was modified, and its catalog or whether its errors were shown.
enum Seen {
    Read(&'static Catalog),
    Reported,
}

static CACHE: Mutex<Option<HashMap<PathBuf, (SystemTime, Seen)>>> = Mutex::new(None);
static CARRIED: Mutex<Vec<(&'static str, &'static Catalog)>> = Mutex::new(Vec::new());

fn manifest_dir(span: Span) -> syn::Result<PathBuf> {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .ok_or_else(|| syn::Error::new(span, "CARGO_MANIFEST_DIR is not set: build with cargo"))
}

/// The catalog of the crate being compiled (see the module docs).
pub(crate) fn crate_catalog(span: Span) -> syn::Result<Loaded> {
    let dir = manifest_dir(span)?;
    if let Some(path) = std::env::var_os(OVERRIDE_VARIABLE) {
        let path = dir.join(PathBuf::from(path));
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        return file(shown(&dir, &path).unwrap_or(name), &path, span);
    }
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| syn::Error::new(span, format!("cannot read {}: {e}", manifest.display())))?;
    let named =
        metadata_catalog(&text).map_err(|message| syn::Error::new(span, format!("Cargo.toml: {message}")))?;
    match named {
        Some(relative) if !dir.join(&relative).exists() => Err(syn::Error::new(
            span,
            format!(
                "`{relative}`, named by `[package.metadata.{METADATA_TABLE}] catalog` in Cargo.toml, \
                 does not exist"
            ),
        )),
        Some(relative) => file(relative.clone(), &dir.join(relative), span),
        None if dir.join(DEFAULT_FILE).exists() => {
            file(DEFAULT_FILE.to_owned(), &dir.join(DEFAULT_FILE), span)
        }
        None => built_in(BUILT_IN[0].0, span),
    }
}

/// The catalog `written` in `catalog!("…")`, relative to the directory of the invoking file (the
/// crate's manifest directory if the compiler cannot say which file that is).
pub(crate) fn invoked(written: &str, invoking_file: Option<PathBuf>, span: Span) -> syn::Result<Loaded> {
    let manifest = manifest_dir(span)?;
    let base = match invoking_file {
        Some(file) if file.is_absolute() => file.parent().map(Path::to_path_buf),
        // Relative to where the compiler runs: the workspace root under cargo, the crate's
        // directory under rustdoc. Take the first of the crate's directory and its ancestors
        // where the file is.
        Some(file) => manifest
            .ancestors()
            .map(|dir| dir.join(&file))
            .find(|path| path.is_file())
            .and_then(|path| path.parent().map(Path::to_path_buf)),
        None => None,
    };
    let absolute = base.unwrap_or_else(|| manifest.clone()).join(written);
    file(shown(&manifest, &absolute).unwrap_or_else(|| written.to_owned()), &absolute, span)
}

/// The carried catalog `name` (`catalog!(contextd)`).
pub(crate) fn built_in(name: &str, span: Span) -> syn::Result<Loaded> {
    let Some((name, text)) = BUILT_IN.iter().find(|(n, _)| *n == name) else {
        let names: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
        return Err(syn::Error::new(
            span,
            format!(
                "no catalog named `{name}` is built in; built in: {}; or name a file: `catalog!(\"telemetry.yaml\")`",
                contextd_metrics_catalog::source::backticked(&names)
            ),
        ));
    };
    let mut carried = CARRIED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, catalog)) = carried.iter().find(|(n, _)| n == name) {
        return Ok(Loaded { catalog, origin: Origin::BuiltIn(name) });
    }
    // Checked by this crate's tests: a carried catalog always reads.
    let catalog =
        contextd_metrics_catalog::source::read_str(&format!("{name}.yaml"), text).map_err(|errors| {
            syn::Error::new(span, format!("the built-in catalog `{name}` does not read: {}", errors.0.len()))
        })?;
    carried.push((name, catalog));
    Ok(Loaded { catalog, origin: Origin::BuiltIn(name) })
}

/// `path` with `.` and `..` resolved lexically: one file, one key, however it was written.
fn normal(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

/// `path` relative to `base` if it is under it: the same file reads the same in the errors of
/// every macro of the crate.
fn shown(base: &Path, path: &Path) -> Option<String> {
    normal(path).strip_prefix(base).ok().map(|p| p.display().to_string())
}

/// The catalog file at `absolute`, shown as `relative` in errors.
fn file(relative: String, absolute: &Path, span: Span) -> syn::Result<Loaded> {
    let absolute = normal(absolute);
    let modified = std::fs::metadata(&absolute).and_then(|m| m.modified()).ok();
    let mut cache = CACHE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let cache = cache.get_or_insert_with(HashMap::new);
    if let (Some(modified), Some((seen, known))) = (modified, cache.get(&absolute))
        && *seen == modified
    {
        return match known {
            Seen::Read(catalog) => Ok(Loaded { catalog, origin: Origin::File(absolute) }),
            Seen::Reported => Err(syn::Error::new(
                span,
                format!("the catalog `{relative}` has errors, listed at its first use in this crate"),
            )),
        };
    }
    let text = std::fs::read_to_string(&absolute)
        .map_err(|e| syn::Error::new(span, format!("cannot read the catalog `{relative}`: {e}")))?;
    match contextd_metrics_catalog::source::read_str(&relative, &text) {
        Ok(catalog) => {
            if let Some(modified) = modified {
                cache.insert(absolute.clone(), (modified, Seen::Read(catalog)));
            }
            Ok(Loaded { catalog, origin: Origin::File(absolute) })
        }
        Err(errors) => {
            if let Some(modified) = modified {
                cache.insert(absolute, (modified, Seen::Reported));
            }
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
