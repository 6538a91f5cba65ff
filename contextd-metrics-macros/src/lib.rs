//! Procedural macros of `contextd-metrics`; use them through its re-exports
//! (`contextd_metrics::instrument_op`, `contextd_metrics::instrument_ops`).
//!
//! Component and operation names are validated against the same catalog table that
//! `contextd-metrics` uses at run time (`contextd-metrics-catalog`), so a name can never exist
//! in one and not the other. `attr.rs` parses and validates; `expand.rs` generates code.

mod attr;
mod expand;
mod meters;

use proc_macro::TokenStream;

/// Records every call of a function as one operation of a catalog component: the component's
/// operations counter (with `status`), its duration histogram and a span named
/// `<component>.<operation>`. See `contextd_metrics::instrument_op` for the full description.
#[proc_macro_attribute]
pub fn instrument_op(args: TokenStream, item: TokenStream) -> TokenStream {
    let args = syn::parse_macro_input!(args as attr::OpArgs);
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
    let args = syn::parse_macro_input!(args as attr::OpsArgs);
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

/// Generates `Meters` from the catalog inside `contextd-metrics`. Not a public API.
#[doc(hidden)]
#[proc_macro]
pub fn __meters(_input: TokenStream) -> TokenStream {
    meters::expand().into()
}
