//! Procedural macros of `contextd-metrics`; use them through its re-exports
//! (`contextd_metrics::catalog!`, `contextd_metrics::instrument_op`,
//! `contextd_metrics::instrument_ops`).
//!
//! Both read the service's catalog file at compile time with the same reader the catalog tool
//! uses (`contextd-metrics-catalog`, feature `source`), so a name can never exist in one and not
//! the other. `load.rs` finds and reads the file, `attr.rs` parses and validates the attribute,
//! `expand.rs` generates the wrapped function, `catalog.rs` the catalog's statics and `Meters`,
//! `tokens.rs` writes catalog data as Rust.

mod attr;
mod catalog;
mod expand;
mod load;
mod tokens;

use proc_macro::TokenStream;
use syn::parse::Parser as _;

/// Records every call of a function as one operation of a catalog component: the component's
/// operations counter (with `status`), its duration histogram and a span named
/// `<component>.<operation>`. See `contextd_metrics::instrument_op` for the full description.
#[proc_macro_attribute]
pub fn instrument_op(args: TokenStream, item: TokenStream) -> TokenStream {
    let raw = syn::parse_macro_input!(args as attr::RawOpArgs);
    let args = match load::crate_catalog(raw.component.span())
        .and_then(|loaded| attr::OpArgs::validate(raw, &loaded))
    {
        Ok(args) => args,
        Err(error) => return error.into_compile_error().into(),
    };
    let function = match syn::parse::<syn::Item>(item) {
        Ok(syn::Item::Fn(function)) => function,
        Ok(other) => {
            let message =
                "`#[instrument_op]` goes on a function or method; use `#[instrument_ops]` on an impl block";
            return syn::Error::new_spanned(other, message).into_compile_error().into();
        }
        Err(error) => return error.into_compile_error().into(),
    };
    let parts = expand::FnParts {
        attrs: &function.attrs,
        vis: &function.vis,
        sig: &function.sig,
        block: &function.block,
    };
    expand::instrument_fn(&args, parts).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// `#[instrument_op]` for every method of an impl block, each an operation named after the
/// method. See `contextd_metrics::instrument_ops`.
#[proc_macro_attribute]
pub fn instrument_ops(args: TokenStream, item: TokenStream) -> TokenStream {
    let span = proc_macro2::TokenStream::from(args.clone())
        .into_iter()
        .next()
        .map_or_else(proc_macro2::Span::call_site, |t| t.span());
    let parsed = load::crate_catalog(span).and_then(|loaded| {
        (|input: syn::parse::ParseStream<'_>| attr::OpsArgs::parse(input, &loaded)).parse(args)
    });
    let args = match parsed {
        Ok(args) => args,
        Err(error) => return error.into_compile_error().into(),
    };
    let item: syn::Item = syn::parse_macro_input!(item as syn::Item);
    let syn::Item::Impl(block) = item else {
        return syn::Error::new_spanned(
            item,
            "`#[instrument_ops]` goes on an `impl` block; use `#[instrument_op]` on a function",
        )
        .into_compile_error()
        .into();
    };
    expand::instrument_impl(&args, block).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Turns a catalog file into static data and typed handles. See `contextd_metrics::catalog!`.
#[proc_macro]
pub fn catalog(input: TokenStream) -> TokenStream {
    let invoking_file = proc_macro::Span::call_site().local_file();
    let named = syn::parse_macro_input!(input as catalog::Named);
    let loaded = match &named {
        catalog::Named::File(path) => load::invoked(&path.value(), invoking_file, path.span()),
        catalog::Named::BuiltIn(name) => load::built_in(&name.to_string(), name.span()),
    };
    loaded.map(|loaded| catalog::expand(&loaded)).unwrap_or_else(syn::Error::into_compile_error).into()
}
