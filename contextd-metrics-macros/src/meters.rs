//! `Meters`, generated from the catalog: one typed field per synchronous instrument, named
//! after the instrument (`contextd_checkpoint_operations_total` → `checkpoint_operations`).
//! Used by `contextd-metrics` itself; adding an instrument to the table adds its field.

use contextd_metrics_catalog::{CATALOG, InstrumentKind, InstrumentSpec, NAMESPACE, ValueType};
use proc_macro2::{Span, TokenStream};
use quote::quote;

/// The field name of an instrument: its name without the namespace and the unit suffix.
pub(crate) fn field_name(spec: &InstrumentSpec) -> String {
    let name = spec.name.strip_prefix(NAMESPACE).and_then(|n| n.strip_prefix('_')).unwrap_or(spec.name);
    let name = name.strip_suffix("_total").unwrap_or(name);
    name.strip_suffix("_seconds").unwrap_or(name).to_owned()
}

/// The Rust type of an instrument's field.
fn field_type(spec: &InstrumentSpec) -> TokenStream {
    match (spec.kind, spec.value_type) {
        (InstrumentKind::Counter, ValueType::F64) => quote!(crate::CheckedCounter),
        (InstrumentKind::Counter, _) => quote!(::opentelemetry::metrics::Counter<u64>),
        (InstrumentKind::Histogram, ValueType::F64) => quote!(crate::CheckedHistogram),
        (_, _) => quote!(::opentelemetry::metrics::Histogram<u64>),
    }
}

pub(crate) fn expand() -> TokenStream {
    let specs: Vec<&InstrumentSpec> = CATALOG.iter().filter(|s| s.is_synchronous()).collect();
    let count = specs.len();
    let fields = specs.iter().map(|spec| {
        let field = syn::Ident::new(&field_name(spec), Span::call_site());
        let ty = field_type(spec);
        let labels: Vec<String> = spec.labels.iter().map(|l| format!("`{}`", l.name)).collect();
        let labels = if labels.is_empty() { "none".to_owned() } else { labels.join(", ") };
        let doc = format!("{}. Labels: {labels}.\n\nCatalog name: `{}`.", spec.description, spec.name);
        quote!(#[doc = #doc] pub #field: #ty,)
    });
    let builds = specs.iter().map(|spec| {
        let field = syn::Ident::new(&field_name(spec), Span::call_site());
        let ty = field_type(spec);
        let name = spec.name;
        quote!(#field: <#ty as crate::meters::CatalogInstrument>::build(meter, contextd_metrics_catalog::require(#name)),)
    });
    let names = specs.iter().map(|s| s.name);
    let lookups = |kind: InstrumentKind, value: ValueType| {
        let arms = specs.iter().filter(|s| s.kind == kind && s.value_type == value).map(|spec| {
            let field = syn::Ident::new(&field_name(spec), Span::call_site());
            let name = spec.name;
            quote!(#name => ::core::option::Option::Some(&self.#field),)
        });
        quote!(match name { #(#arms)* _ => ::core::option::Option::None })
    };
    let u64_counters = lookups(InstrumentKind::Counter, ValueType::U64);
    let f64_histograms = lookups(InstrumentKind::Histogram, ValueType::F64);
    let doc = format!(
        "Every synchronous catalog instrument ({count}) as a typed field, generated from the catalog.\n\n\
         Build it once from a [`Meter`](opentelemetry::metrics::Meter) and keep it (it is cheap to \
         clone: each field is an `Arc`). Record with static attributes in the catalog's label order: \
         that path allocates nothing once the series exists.\n\n\
         ```\n\
         use opentelemetry::KeyValue;\n\
         # let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();\n\
         # use opentelemetry::metrics::MeterProvider as _;\n\
         let meters = contextd_metrics::Meters::new(&provider.meter(contextd_metrics::METER_NAME));\n\
         meters.embedding_tokens.add(812, &[KeyValue::new(\"model\", \"text-embedding-3-small\")]);\n\
         ```"
    );
    quote! {
        #[doc = #doc]
        #[derive(Clone, Debug)]
        #[non_exhaustive]
        pub struct Meters {
            #(#fields)*
        }

        impl Meters {
            /// The catalog names of the fields, in declaration order.
            pub const INSTRUMENT_NAMES: &'static [&'static str] = &[#(#names),*];

            /// Creates every instrument on `meter` with its catalog name, unit, description and,
            /// for histograms, bucket boundaries.
            pub fn new(meter: &::opentelemetry::metrics::Meter) -> Self {
                Self { #(#builds)* }
            }

            /// The `u64` counter of this catalog name, if `Meters` has one.
            pub(crate) fn u64_counter(&self, name: &str) -> ::core::option::Option<&::opentelemetry::metrics::Counter<u64>> {
                #u64_counters
            }

            /// The `f64` histogram of this catalog name, if `Meters` has one.
            pub(crate) fn f64_histogram(&self, name: &str) -> ::core::option::Option<&crate::CheckedHistogram> {
                #f64_histograms
            }
        }
    }
}
