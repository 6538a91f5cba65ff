//! Parsing and validating the attribute arguments against the crate's catalog.

use contextd_metrics_catalog::source::{backticked, suggestion};
use contextd_metrics_catalog::{Catalog, ComponentSpec, LabelValues, OperationShape};
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, LitStr, Token};

/// `#[instrument_op("component", "operation", name = expr, …)]`, validated.
pub(crate) struct OpArgs {
    pub(crate) catalog: &'static Catalog,
    /// Makes the compiler track the catalog file.
    pub(crate) track: proc_macro2::TokenStream,
    pub(crate) component: &'static ComponentSpec,
    pub(crate) shape: OperationShape,
    pub(crate) operation: String,
    /// Label expressions in the order the shape takes them (database, collection / provider, model).
    pub(crate) labels: Vec<Expr>,
    /// The success-rate argument (`skill_id = <expr>` on skill `apply`).
    pub(crate) success_rate: Option<Expr>,
}

/// `#[instrument_ops("component")]` on an impl block.
pub(crate) struct OpsArgs {
    pub(crate) catalog: &'static Catalog,
    pub(crate) track: proc_macro2::TokenStream,
    pub(crate) component: &'static ComponentSpec,
    pub(crate) shape: OperationShape,
}

pub(crate) struct RawOpArgs {
    pub(crate) component: LitStr,
    operation: LitStr,
    named: Vec<(Ident, Expr)>,
}

impl Parse for RawOpArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let component: LitStr = input.parse()?;
        input.parse::<Token![,]>()?;
        let operation: LitStr = input.parse()?;
        let mut named = Vec::new();
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let name: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            named.push((name, input.parse()?));
        }
        Ok(Self { component, operation, named })
    }
}

impl OpArgs {
    pub(crate) fn validate(raw: RawOpArgs, loaded: &crate::load::Loaded) -> syn::Result<Self> {
        let catalog = loaded.catalog;
        let (component, shape) = component(&raw.component, loaded)?;
        let operation = operation(&raw.operation, component, &shape)?;
        let expected: Vec<&str> = shape.label_arguments().collect();
        let mut labels: Vec<Option<Expr>> = vec![None; expected.len()];
        let mut success_rate = None;
        let rate = shape.success_rate.map(|r| (r.argument.name, r.operation));
        for (name, expr) in raw.named {
            if let Some((rate_name, rate_operation)) = rate
                && name == rate_name
            {
                if operation != rate_operation {
                    return Err(syn::Error::new_spanned(
                        &name,
                        format!(
                            "`{rate_name}` feeds a success rate and is only taken by \
                             `#[instrument_op(\"{}\", \"{rate_operation}\", …)]`",
                            component.name
                        ),
                    ));
                }
                if success_rate.replace(expr).is_some() {
                    return Err(syn::Error::new_spanned(&name, format!("duplicate argument `{rate_name}`")));
                }
                continue;
            }
            let Some(index) = expected.iter().position(|e| name == e) else {
                let valid = if expected.is_empty() {
                    format!("`{}` takes no arguments", component.name)
                } else {
                    format!(
                        "valid arguments for `{}`: {}{}",
                        component.name,
                        backticked(&expected),
                        suggestion(&name.to_string(), &expected)
                    )
                };
                return Err(syn::Error::new_spanned(&name, format!("unknown argument `{name}`; {valid}")));
            };
            if labels[index].is_some() {
                return Err(syn::Error::new_spanned(&name, format!("duplicate argument `{name}`")));
            }
            labels[index] = Some(expr);
        }
        let missing: Vec<&str> =
            expected.iter().zip(&labels).filter(|(_, expr)| expr.is_none()).map(|(name, _)| *name).collect();
        if !missing.is_empty() {
            return Err(syn::Error::new_spanned(
                &raw.component,
                format!(
                    "`{}` operations need {} (label values, e.g. `{} = self.name()`)",
                    component.name,
                    backticked(&missing),
                    missing[0]
                ),
            ));
        }
        Ok(Self {
            catalog,
            track: loaded.track(),
            component,
            shape,
            operation,
            labels: labels.into_iter().flatten().collect(),
            success_rate,
        })
    }
}

impl OpsArgs {
    pub(crate) fn parse(input: ParseStream<'_>, loaded: &crate::load::Loaded) -> syn::Result<Self> {
        let catalog = loaded.catalog;
        let component_lit: LitStr = input.parse()?;
        let (component, shape) = component(&component_lit, loaded)?;
        if shape.label_arguments().len() != 0 {
            let needed: Vec<&str> = shape.label_arguments().collect();
            return Err(syn::Error::new_spanned(
                &component_lit,
                format!(
                    "`{}` operations need {} from each method's arguments; put \
                     `#[instrument_op(\"{}\", \"<operation>\", …)]` on each method instead",
                    component.name,
                    backticked(&needed),
                    component.name
                ),
            ));
        }
        if !input.is_empty() {
            return Err(
                input.error("`instrument_ops` takes only the component, e.g. `#[instrument_ops(\"skill\")]`")
            );
        }
        Ok(Self { catalog, track: loaded.track(), component, shape })
    }
}

/// The component named by `lit`, with its operation shape.
fn component(
    lit: &LitStr,
    loaded: &crate::load::Loaded,
) -> syn::Result<(&'static ComponentSpec, OperationShape)> {
    let catalog = loaded.catalog;
    let name = lit.value();
    let valid: Vec<&str> =
        catalog.components.iter().filter(|c| c.operations.is_some()).map(|c| c.name).collect();
    match catalog.component(&name).and_then(|c| Some((c, c.operations?))) {
        Some(found) => Ok(found),
        None => Err(syn::Error::new_spanned(
            lit,
            format!(
                "unknown component `{name}` in the `{}` catalog; components with operations: {}{}{}",
                catalog.namespace,
                backticked(&valid),
                suggestion(&name, &valid),
                loaded.note()
            ),
        )),
    }
}

/// Validates an operation literal of `component`.
pub(crate) fn operation(
    lit: &LitStr,
    component: &ComponentSpec,
    shape: &OperationShape,
) -> syn::Result<String> {
    let name = lit.value();
    match shape.operation.map(|label| label.values) {
        Some(LabelValues::Closed(valid)) => {
            if valid.contains(&name.as_str()) {
                Ok(name)
            } else {
                Err(syn::Error::new_spanned(
                    lit,
                    format!(
                        "`{name}` is not a `{}` operation in the catalog; valid operations: {}{}",
                        component.name,
                        backticked(valid),
                        suggestion(&name, valid)
                    ),
                ))
            }
        }
        _ => {
            let snake = !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                && name.as_bytes()[0].is_ascii_lowercase();
            if snake {
                Ok(name)
            } else {
                Err(syn::Error::new_spanned(
                    lit,
                    format!(
                        "`{name}` is not a valid `{}` operation name: use snake_case, e.g. `generate`",
                        component.name
                    ),
                ))
            }
        }
    }
}
