//! Code generation: the wrapped function body.
//!
//! The signature, attributes and visibility stay as written; only the body changes. The
//! original body runs inside a closure (sync) or an async block (async) whose output type is
//! pinned to the declared return type, so `?`, `return` and inference behave as before.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::visit_mut::VisitMut;
use syn::{
    Attribute, Block, Expr, ExprAsync, ImplItem, ItemImpl, ReturnType, Signature, Stmt, Type, Visibility,
};

use crate::attr::{OpArgs, OpsArgs};
use crate::tokens;

/// A function's parts, as found on free functions and methods alike.
pub(crate) struct FnParts<'a> {
    pub(crate) attrs: &'a [Attribute],
    pub(crate) vis: &'a Visibility,
    pub(crate) sig: &'a Signature,
    pub(crate) block: &'a Block,
}

pub(crate) fn instrument_fn(args: &OpArgs, f: FnParts<'_>) -> syn::Result<TokenStream> {
    if let Some(constness) = &f.sig.constness {
        return Err(syn::Error::new_spanned(
            constness,
            "`#[instrument_op]` cannot wrap a `const fn`: recording metrics is not possible at compile time",
        ));
    }
    let FnParts { attrs, vis, sig, block } = f;
    let inner = if sig.asyncness.is_some() {
        let ret = return_type(sig);
        let future = quote!(::contextd_metrics::__private::typed_future::<#ret, _>(async move #block));
        wrap_async(args, future)
    } else if let Some(boxed_async) = async_trait_body(block) {
        // `#[async_trait]` ran first: wrap the future it boxes.
        let wrapped = wrap_async(args, quote!(#boxed_async));
        let leading = &block.stmts[..block.stmts.len() - 1];
        quote!(#(#leading)* ::std::boxed::Box::pin(async move { #wrapped }))
    } else {
        wrap_sync(args, return_type(sig), block)
    };
    // The body's braces keep the user's span, so the item still counts as the user's code
    // (lints such as dead_code skip items whose span comes from a macro expansion).
    let mut body = proc_macro2::Group::new(proc_macro2::Delimiter::Brace, inner);
    body.set_span(block_span(block));
    Ok(quote!(#(#attrs)* #vis #sig #body))
}

/// The statements that set up a call: the static site (its catalog entries written out, so a
/// site needs nothing but the runtime), the op timer and the span.
fn start(args: &OpArgs) -> TokenStream {
    let (namespace, component, operation) = (args.catalog.namespace, args.component.name, &args.operation);
    let span_name = format!("{component}.{operation}");
    let cancelled_key = format!("{namespace}.cancelled");
    let shape = tokens::shape(&args.shape, &|spec| {
        let spec = tokens::instrument(spec, None);
        quote!(&#spec)
    });
    let start = match args.labels.as_slice() {
        [first, second] => quote! {
            __CONTEXTD_SITE.start_labelled(
                ::core::convert::AsRef::<str>::as_ref(&(#first)),
                ::core::convert::AsRef::<str>::as_ref(&(#second)),
            )
        },
        [first] => quote! {
            __CONTEXTD_SITE.start_labelled(::core::convert::AsRef::<str>::as_ref(&(#first)), "")
        },
        _ => quote!(__CONTEXTD_SITE.start()),
    };
    let rate = args.success_rate.as_ref().map(|id| {
        quote!(let __contextd_rate_key = ::std::string::String::from(::core::convert::AsRef::<str>::as_ref(&(#id)));)
    });
    let track = &args.track;
    quote! {
        #track
        static __CONTEXTD_SITE: ::contextd_metrics::__private::OpSite =
            ::contextd_metrics::__private::OpSite::new(&::contextd_metrics::__private::SiteSpec {
                namespace: #namespace,
                component: #component,
                operation: #operation,
                span_name: #span_name,
                cancelled_key: #cancelled_key,
                shape: #shape,
            });
        #rate
        let mut __contextd_op = #start;
    }
}

/// Records the outcome of `__contextd_ret` and returns it.
fn finish(args: &OpArgs) -> TokenStream {
    let rate = args.success_rate.as_ref().map(|_| {
        quote!(::contextd_metrics::__private::record_success_rate(&__CONTEXTD_SITE, &__contextd_rate_key, &__contextd_outcome);)
    });
    quote! {
        {
            #[allow(unused_imports)]
            use ::contextd_metrics::__private::{
                ClassifyAny as _, ClassifyMessage as _, ClassifyResult as _, ClassifyTypedError as _, NoMessage as _,
            };
            let __contextd_outcome =
                (&&&::contextd_metrics::__private::Classify(&__contextd_ret)).__contextd_outcome();
            // The error's message (redacted) goes on the span, computed only when there is one.
            let __contextd_message = if __contextd_op.has_span()
                && __contextd_outcome.status == ::contextd_metrics::__private::Status::Error
            {
                (&&::contextd_metrics::__private::Classify(&__contextd_ret)).__contextd_message()
            } else {
                ::core::option::Option::None
            };
            #rate
            __contextd_op.finish(__contextd_outcome, __contextd_message);
        }
        __contextd_ret
    }
}

fn wrap_sync(args: &OpArgs, ret: TokenStream, block: &Block) -> TokenStream {
    let start = start(args);
    let finish = finish(args);
    // The closure carries the body's own span, so errors in the body point at the user's code.
    let call = quote_spanned!(block_span(block) =>
        ::contextd_metrics::__private::typed_call::<#ret, _>(move || #block)
    );
    // The guard is declared first so that it drops last, also when the body panics: the call
    // ends its span as the current one.
    quote! {
        let __contextd_span;
        #start
        __contextd_span = __contextd_op.attach();
        #[allow(clippy::redundant_closure_call)]
        let __contextd_ret = #call;
        #finish
    }
}

fn wrap_async(args: &OpArgs, future: TokenStream) -> TokenStream {
    let start = start(args);
    let finish = finish(args);
    quote! {
        #start
        let __contextd_future = #future;
        let __contextd_ret = match __contextd_op.context() {
            ::core::option::Option::Some(cx) => {
                ::contextd_metrics::__private::FutureExt::with_context(__contextd_future, cx).await
            }
            ::core::option::Option::None => __contextd_future.await,
        };
        #finish
    }
}

fn block_span(block: &Block) -> Span {
    block.brace_token.span.join()
}

/// The declared return type with every `impl Trait` replaced by `_`, which the helper's type
/// parameter can infer but could not name.
fn return_type(sig: &Signature) -> TokenStream {
    match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => {
            let mut ty = (**ty).clone();
            struct ImplToInfer;
            impl VisitMut for ImplToInfer {
                fn visit_type_mut(&mut self, ty: &mut Type) {
                    if let Type::ImplTrait(_) = ty {
                        *ty = syn::parse_quote!(_);
                    } else {
                        syn::visit_mut::visit_type_mut(self, ty);
                    }
                }
            }
            ImplToInfer.visit_type_mut(&mut ty);
            quote!(#ty)
        }
    }
}

/// The body `#[async_trait]` generates, `Box::pin(async move { … })`, if this is one.
fn async_trait_body(block: &Block) -> Option<&ExprAsync> {
    let Some(Stmt::Expr(Expr::Call(call), None)) = block.stmts.last() else { return None };
    let Expr::Path(path) = &*call.func else { return None };
    let segments: Vec<String> = path.path.segments.iter().map(|s| s.ident.to_string()).collect();
    if !segments.ends_with(&["Box".to_owned(), "pin".to_owned()]) || call.args.len() != 1 {
        return None;
    }
    match call.args.first() {
        Some(Expr::Async(async_block)) if async_block.capture.is_some() => Some(async_block),
        _ => None,
    }
}

/// `#[instrument_ops("component")]`: every method is an operation named after it, except those
/// marked `#[skip_instrument]` or carrying their own `#[instrument_op]`.
pub(crate) fn instrument_impl(args: &OpsArgs, mut item: ItemImpl) -> syn::Result<TokenStream> {
    let mut errors: Option<syn::Error> = None;
    for impl_item in &mut item.items {
        let ImplItem::Fn(method) = impl_item else { continue };
        let before = method.attrs.len();
        method.attrs.retain(|a| !a.path().is_ident("skip_instrument"));
        let has_own =
            method.attrs.iter().any(|a| a.path().segments.last().is_some_and(|s| s.ident == "instrument_op"));
        if method.attrs.len() != before || has_own {
            continue;
        }
        let name = method.sig.ident.to_string();
        let literal = syn::LitStr::new(&name, method.sig.ident.span());
        let result = crate::attr::operation(&literal, args.component, &args.shape).and_then(|operation| {
            let op = OpArgs {
                catalog: args.catalog,
                track: args.track.clone(),
                component: args.component,
                shape: args.shape,
                operation,
                labels: Vec::new(),
                success_rate: None,
            };
            let parts =
                FnParts { attrs: &method.attrs, vis: &method.vis, sig: &method.sig, block: &method.block };
            instrument_fn(&op, parts)
        });
        match result {
            Ok(tokens) => *impl_item = ImplItem::Verbatim(tokens),
            Err(error) => {
                let error = syn::Error::new(
                    method.sig.ident.span(),
                    format!("{error} (add `#[skip_instrument]` to leave this method out)"),
                );
                match &mut errors {
                    Some(all) => all.combine(error),
                    None => errors = Some(error),
                }
            }
        }
    }
    match errors {
        Some(errors) => Err(errors),
        None => Ok(quote!(#item)),
    }
}
