//! Catalog data as Rust constant expressions, for `catalog!`'s statics and the call sites of
//! `#[instrument_op]` alike. Generated code names the runtime only through the versioned
//! `::contextd_metrics::__private` path.

use contextd_metrics_catalog::{
    Aggregation, InstrumentKind, InstrumentSpec, LabelSpec, LabelValues, OperationShape, SuccessRate,
    ValueType,
};
use proc_macro2::TokenStream;
use quote::quote;

/// The path of the catalog model in generated code.
pub(crate) fn model() -> TokenStream {
    quote!(::contextd_metrics::__private::model)
}

pub(crate) fn label(label: &LabelSpec) -> TokenStream {
    let m = model();
    let LabelSpec { id, name, values, description } = label;
    let values = match values {
        LabelValues::Closed(values) => quote!(#m::LabelValues::Closed(&[#(#values),*])),
        LabelValues::Open(values) => quote!(#m::LabelValues::Open(&[#(#values),*])),
    };
    quote!(#m::LabelSpec { id: #id, name: #name, values: #values, description: #description })
}

fn labels(labels: &[LabelSpec]) -> TokenStream {
    let labels = labels.iter().map(label);
    quote!(&[#(#labels),*])
}

pub(crate) fn bounds(bounds: &[f64]) -> TokenStream {
    // Written as literals with a decimal point, so every bound is an f64 as read.
    let bounds = bounds.iter().map(|b| proc_macro2::Literal::f64_suffixed(*b));
    quote!(&[#(#bounds),*])
}

/// An instrument; `buckets` overrides how its bounds are written (a named constant).
pub(crate) fn instrument(spec: &InstrumentSpec, buckets: Option<TokenStream>) -> TokenStream {
    let m = model();
    let InstrumentSpec {
        name,
        kind,
        value_type,
        unit,
        description,
        component,
        labels: spec_labels,
        buckets: bounds_of,
        aggregation,
    } = spec;
    let kind = match kind {
        InstrumentKind::Counter => quote!(Counter),
        InstrumentKind::Histogram => quote!(Histogram),
        InstrumentKind::Gauge => quote!(Gauge),
        InstrumentKind::ObservedCounter => quote!(ObservedCounter),
    };
    let value_type = match value_type {
        ValueType::U64 => quote!(U64),
        ValueType::F64 => quote!(F64),
        ValueType::I64 => quote!(I64),
    };
    let aggregation = match aggregation {
        Aggregation::Sum => quote!(Sum),
        Aggregation::Max => quote!(Max),
        Aggregation::Avg => quote!(Avg),
    };
    let labels = labels(spec_labels);
    let buckets = match (buckets, bounds_of) {
        (Some(named), _) => quote!(::core::option::Option::Some(#named)),
        (None, Some(b)) => {
            let b = bounds(b);
            quote!(::core::option::Option::Some(#b))
        }
        (None, None) => quote!(::core::option::Option::None),
    };
    quote! {
        #m::InstrumentSpec {
            name: #name,
            kind: #m::InstrumentKind::#kind,
            value_type: #m::ValueType::#value_type,
            unit: #unit,
            description: #description,
            component: #component,
            labels: #labels,
            buckets: #buckets,
            aggregation: #m::Aggregation::#aggregation,
        }
    }
}

/// An operation shape; `instrument` writes a reference to one of its instruments.
pub(crate) fn shape(
    shape: &OperationShape,
    instrument: &dyn Fn(&InstrumentSpec) -> TokenStream,
) -> TokenStream {
    let m = model();
    let some = |t: Option<TokenStream>| match t {
        Some(t) => quote!(::core::option::Option::Some(#t)),
        None => quote!(::core::option::Option::None),
    };
    let counter = some(shape.counter.map(instrument));
    let duration = instrument(shape.duration);
    let errors = some(shape.errors.map(instrument));
    let role = |l: Option<&LabelSpec>| {
        some(l.map(|l| {
            let l = label(l);
            quote!(&#l)
        }))
    };
    let operation = role(shape.operation);
    let status = role(shape.status);
    let error_type = role(shape.error_type);
    let arguments = labels(shape.arguments);
    let success_rate = some(shape.success_rate.map(|SuccessRate { operation, argument, gauge }| {
        let argument = label(argument);
        let gauge = instrument(gauge);
        quote!(#m::SuccessRate { operation: #operation, argument: &#argument, gauge: #gauge })
    }));
    quote! {
        #m::OperationShape {
            counter: #counter,
            duration: #duration,
            errors: #errors,
            operation: #operation,
            status: #status,
            error_type: #error_type,
            arguments: #arguments,
            success_rate: #success_rate,
        }
    }
}

/// `SCREAMING_CASE` for a snake_case name.
pub(crate) fn const_name(name: &str) -> syn::Ident {
    let upper = name.to_ascii_uppercase();
    let upper = if upper.starts_with(|c: char| c.is_ascii_digit()) { format!("_{upper}") } else { upper };
    syn::Ident::new(&upper, proc_macro2::Span::call_site())
}
