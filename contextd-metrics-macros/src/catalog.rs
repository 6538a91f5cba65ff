//! `catalog!("telemetry.yaml")` (or `catalog!(contextd)`, a catalog this crate carries): a
//! catalog as static data and typed handles, in the module that invokes it.

use contextd_metrics_catalog::{Catalog, Indicator, InstrumentKind, InstrumentSpec, SelfMetric, ValueType};
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::LitStr;

use crate::load;
use crate::tokens::{self, const_name, model};

/// What `catalog!` names: a file, or a catalog this crate carries.
pub(crate) enum Named {
    File(LitStr),
    BuiltIn(syn::Ident),
}

impl syn::parse::Parse for Named {
    fn parse(input: syn::parse::ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            return Ok(Self::File(input.parse()?));
        }
        input.parse().map(Self::BuiltIn).map_err(|e| {
            syn::Error::new(e.span(), "expected a catalog file, `catalog!(\"telemetry.yaml\")`, or a built-in catalog's name, `catalog!(contextd)`")
        })
    }
}

pub(crate) fn expand(loaded: &load::Loaded) -> TokenStream {
    let track = loaded.track();
    let catalog = loaded.catalog;
    let m = model();
    let namespace = catalog.namespace;
    let description = catalog.description;

    let bucket_consts = catalog.buckets.iter().map(|b| {
        let name = const_name(b.name);
        let bounds = tokens::bounds(b.bounds);
        let doc = format!("Bucket bounds `{}`.", b.name);
        quote!(#[doc = #doc] pub const #name: &[f64] = #bounds;)
    });
    let bucket_specs = catalog.buckets.iter().map(|b| {
        let (name, id) = (b.name, const_name(b.name));
        quote!(#m::BucketSpec { name: #name, bounds: buckets::#id })
    });
    let label_consts = catalog.labels.iter().map(|l| {
        let name = const_name(l.id);
        let value = tokens::label(l);
        let doc = format!("`{}`: {}", l.name, l.description);
        quote!(#[doc = #doc] pub const #name: #m::LabelSpec = #value;)
    });
    let label_ids = catalog.labels.iter().map(|l| const_name(l.id));
    let instrument_const = |spec: &InstrumentSpec| const_name(short_name(catalog, spec));
    let instrument_consts = catalog.instruments.iter().map(|spec| {
        let name = instrument_const(spec);
        let named = spec.buckets.and_then(|bounds| catalog.buckets.iter().find(|b| b.bounds == bounds));
        let buckets = named.map(|b| {
            let id = const_name(b.name);
            quote!(super::buckets::#id)
        });
        let value = tokens::instrument(spec, buckets);
        let doc = format!("`{}`: {}.", spec.name, spec.description);
        quote!(#[doc = #doc] pub const #name: #m::InstrumentSpec = #value;)
    });
    let instrument_ids: Vec<_> = catalog.instruments.iter().map(instrument_const).collect();
    let count = instrument_ids.len();
    let self_consts = SelfMetric::ALL.iter().map(|metric| {
        let spec = catalog.self_metric(*metric);
        let name = const_name(metric.template().suffix.trim_start_matches("telemetry_"));
        let variant = syn::Ident::new(&format!("{metric:?}"), Span::call_site());
        let full = spec.name;
        let doc = format!("`{full}`: {}.", spec.description);
        quote!(#[doc = #doc] pub const #name: #m::InstrumentSpec = #m::SelfMetric::#variant.spec(#full);)
    });
    let self_ids = SelfMetric::ALL
        .iter()
        .map(|metric| const_name(metric.template().suffix.trim_start_matches("telemetry_")));
    let reference = |spec: &InstrumentSpec| {
        let id = instrument_const(spec);
        quote!(&super::instruments::#id)
    };
    let component_consts = catalog.components.iter().map(|c| {
        let name = const_name(c.name);
        let (id, brief) = (c.name, c.description);
        let operations = match &c.operations {
            Some(shape) => {
                let shape = tokens::shape(shape, &reference);
                quote!(::core::option::Option::Some(#shape))
            }
            None => quote!(::core::option::Option::None),
        };
        let doc = format!("Component `{id}`: {brief}.");
        let (error_ratio, p95) = (c.alerts.error_ratio, c.alerts.p95_seconds);
        let alerts = quote!(#m::AlertThresholds { error_ratio: #error_ratio, p95_seconds: #p95 });
        quote!(#[doc = #doc] pub const #name: #m::ComponentSpec = #m::ComponentSpec { name: #id, description: #brief, operations: #operations, alerts: #alerts };)
    });
    let component_ids = catalog.components.iter().map(|c| const_name(c.name));
    let objectives = catalog.objectives.iter().map(|o| {
        let indicator = match o.indicator {
            Indicator::Success { counter } => {
                let id = instrument_const(counter);
                quote!(#m::Indicator::Success { counter: &instruments::#id })
            }
            Indicator::Latency { histogram, threshold } => {
                let id = instrument_const(histogram);
                quote!(#m::Indicator::Latency { histogram: &instruments::#id, threshold: #threshold })
            }
        };
        let (name, component, target, period, brief) = (o.name, o.component, o.target, o.period_days, o.description);
        quote!(#m::Objective { name: #name, component: #component, indicator: #indicator, target: #target, period_days: #period, description: #brief })
    });
    let objective_count = catalog.objectives.len();
    let meters = meters(catalog, &instrument_const);
    let source = match &loaded.origin {
        load::Origin::File(path) => {
            format!("read from `{}`", path.file_name().unwrap_or_default().to_string_lossy())
        }
        load::Origin::BuiltIn(name) => format!("built into contextd-metrics (`{name}.yaml`)"),
    };
    let catalog_doc = format!(
        "The `{namespace}` catalog, {source} at compile time: {count} instruments in {} components.",
        catalog.components.len()
    );
    quote! {
        #track

        /// Named bucket bounds of the catalog.
        pub mod buckets {
            #(#bucket_consts)*
        }

        /// The catalog's labels, by id. Code that needs a label's key or its closed values
        /// takes them from here, never from a literal of its own.
        pub mod labels {
            #(#label_consts)*
        }

        /// Every instrument of the catalog by name (without the namespace).
        pub mod instruments {
            #(#instrument_consts)*
        }

        /// The telemetry pipeline's own metrics under this catalog's namespace.
        pub mod self_metrics {
            #(#self_consts)*
        }

        /// The catalog's components, with what one wrapped operation of each records.
        pub mod components {
            #(#component_consts)*
        }

        /// The catalog's instruments, in file order.
        pub static INSTRUMENTS: [#m::InstrumentSpec; #count] = [#(instruments::#instrument_ids),*];

        /// The catalog's service-level objectives.
        pub static OBJECTIVES: [#m::Objective; #objective_count] = [#(#objectives),*];

        #[doc = #catalog_doc]
        pub static CATALOG: #m::Catalog = #m::Catalog {
            namespace: #namespace,
            description: #description,
            buckets: &[#(#bucket_specs),*],
            labels: &[#(labels::#label_ids),*],
            instruments: &INSTRUMENTS,
            self_metrics: &[#(self_metrics::#self_ids),*],
            components: &[#(components::#component_ids),*],
            objectives: &OBJECTIVES,
        };

        #meters
    }
}

/// The name without the namespace: `contextd_checkpoint_operations_total` → `checkpoint_operations_total`.
fn short_name<'a>(catalog: &Catalog, spec: &'a InstrumentSpec) -> &'a str {
    spec.name.strip_prefix(catalog.namespace).and_then(|n| n.strip_prefix('_')).unwrap_or(spec.name)
}

/// The `Meters` field of an instrument: the short name without `_total` or `_seconds`.
fn field_name(catalog: &Catalog, spec: &InstrumentSpec) -> syn::Ident {
    let name = short_name(catalog, spec);
    let name = name.strip_suffix("_total").unwrap_or(name);
    let name = name.strip_suffix("_seconds").unwrap_or(name);
    syn::Ident::new(name, Span::call_site())
}

/// `Meters` (every synchronous instrument as a typed field) and `meters()`.
fn meters(catalog: &Catalog, instrument_const: &dyn Fn(&InstrumentSpec) -> syn::Ident) -> TokenStream {
    let p = quote!(::contextd_metrics::__private);
    let specs: Vec<&InstrumentSpec> = catalog.instruments.iter().filter(|s| s.is_synchronous()).collect();
    let field_type = |spec: &InstrumentSpec| match (spec.kind, spec.value_type) {
        (InstrumentKind::Counter, ValueType::F64) => quote!(::contextd_metrics::CheckedCounter),
        (InstrumentKind::Counter, _) => quote!(::contextd_metrics::CatalogCounter),
        (InstrumentKind::Histogram, ValueType::F64) => quote!(::contextd_metrics::CheckedHistogram),
        (_, _) => quote!(#p::opentelemetry::metrics::Histogram<u64>),
    };
    let fields = specs.iter().map(|spec| {
        let field = field_name(catalog, spec);
        let ty = field_type(spec);
        let labels: Vec<String> = spec.labels.iter().map(|l| format!("`{}`", l.name)).collect();
        let labels = if labels.is_empty() { "none".to_owned() } else { labels.join(", ") };
        let doc = format!("{}. Labels: {labels}.\n\nCatalog name: `{}`.", spec.description, spec.name);
        quote!(#[doc = #doc] pub #field: #ty,)
    });
    let builds = specs.iter().map(|spec| {
        let field = field_name(catalog, spec);
        let ty = field_type(spec);
        let id = instrument_const(spec);
        quote!(#field: <#ty as #p::CatalogInstrument>::build(destination, &instruments::#id),)
    });
    let names = specs.iter().map(|s| s.name);
    let count = specs.len();
    let doc = format!(
        "Every synchronous instrument of the `{}` catalog ({count}) as a typed field.\n\n\
         Build it once from a `Meter` and keep it (it is cheap to clone: each field is an `Arc`), \
         or take the process-wide one from [`meters()`]. Record with static attributes in the \
         catalog's label order: that path allocates nothing once the series exists.",
        catalog.namespace
    );
    quote! {
        #[doc = #doc]
        #[derive(Clone, Debug)]
        #[non_exhaustive]
        pub struct Meters {
            #(#fields)*
        }

        impl Meters {
            /// The catalog names of the fields, in field order.
            pub const INSTRUMENT_NAMES: &'static [&'static str] = &[#(#names),*];

            /// Creates every field on `meter`, with the catalog's names, units, descriptions and buckets.
            pub fn new(meter: &#p::opentelemetry::metrics::Meter) -> Self {
                Self::on(&#p::Destination::meter(meter))
            }

            /// Creates every field on `destination` (how `meters()` builds on a telemetry
            /// pipeline's striped histograms).
            #[doc(hidden)]
            pub fn on(destination: &#p::Destination<'_>) -> Self {
                Self { #(#builds)* }
            }
        }

        /// The process-wide [`Meters`], bound to the meter provider that telemetry was initialised
        /// with; before that (and after shutdown) it records into nothing. One atomic load: call
        /// it where you record rather than keeping the reference across an initialisation.
        #[inline]
        pub fn meters() -> &'static Meters {
            static CELL: #p::MetersCell<Meters> = #p::MetersCell::new();
            CELL.get(CATALOG.namespace, Meters::on)
        }
    }
}
