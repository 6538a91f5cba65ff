//! Parsing and validating the attribute arguments against the catalog.

use contextd_metrics_catalog::{
    Component, LabelValues, OperationShape, SKILL_OUTCOME_OPERATION, labels, operation_shape,
};
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, LitStr, Token};

/// `#[instrument_op("component", "operation", name = expr, …)]`, validated.
pub(crate) struct OpArgs {
    pub(crate) component: Component,
    pub(crate) operation: String,
    /// Label expressions in the order the shape takes them (database, collection / provider, model).
    pub(crate) labels: Vec<Expr>,
    /// `skill_id = <expr>` on skill `apply`: feeds the skill success-rate tracker.
    pub(crate) skill_id: Option<Expr>,
}

/// `#[instrument_ops("component")]` on an impl block.
pub(crate) struct OpsArgs {
    pub(crate) component: Component,
    pub(crate) component_lit: LitStr,
}

struct RawOpArgs {
    component: LitStr,
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

impl Parse for OpArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let raw: RawOpArgs = input.parse()?;
        let (component, shape) = component(&raw.component)?;
        let operation = operation(&raw.operation, component, &shape)?;
        let expected = shape.label_arguments();
        let mut labels: Vec<Option<Expr>> = vec![None; expected.len()];
        let mut skill_id = None;
        let (skill_component, skill_operation) = SKILL_OUTCOME_OPERATION;
        let skill_id_name = labels::SKILL_ID.name;
        for (name, expr) in raw.named {
            if name == skill_id_name && component == skill_component && operation == skill_operation {
                if skill_id.replace(expr).is_some() {
                    return Err(syn::Error::new_spanned(
                        &name,
                        format!("duplicate argument `{skill_id_name}`"),
                    ));
                }
                continue;
            }
            if name == skill_id_name {
                return Err(syn::Error::new_spanned(
                    &name,
                    format!(
                        "`{skill_id_name}` feeds the skill success rate and is only taken by \
                         `#[instrument_op(\"{}\", \"{skill_operation}\", …)]`",
                        skill_component.as_str()
                    ),
                ));
            }
            let Some(index) = expected.iter().position(|e| name == e) else {
                let valid = if expected.is_empty() {
                    format!("`{}` takes no arguments", component.as_str())
                } else {
                    format!(
                        "valid arguments for `{}`: {}{}",
                        component.as_str(),
                        backticked(expected),
                        suggestion(&name.to_string(), expected)
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
                    component.as_str(),
                    backticked(&missing),
                    missing[0]
                ),
            ));
        }
        Ok(Self { component, operation, labels: labels.into_iter().flatten().collect(), skill_id })
    }
}

impl Parse for OpsArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let component_lit: LitStr = input.parse()?;
        let (component, shape) = component(&component_lit)?;
        if !shape.label_arguments().is_empty() {
            return Err(syn::Error::new_spanned(
                &component_lit,
                format!(
                    "`{}` operations need {} from each method's arguments; put \
                     `#[instrument_op(\"{}\", \"<operation>\", …)]` on each method instead",
                    component.as_str(),
                    backticked(shape.label_arguments()),
                    component.as_str()
                ),
            ));
        }
        if !input.is_empty() {
            return Err(
                input.error("`instrument_ops` takes only the component, e.g. `#[instrument_ops(\"skill\")]`")
            );
        }
        Ok(Self { component, component_lit })
    }
}

/// The component named by `lit`, with its operation shape.
fn component(lit: &LitStr) -> syn::Result<(Component, OperationShape)> {
    let name = lit.value();
    let valid: Vec<&str> =
        Component::ALL.iter().filter(|c| operation_shape(**c).is_some()).map(|c| c.as_str()).collect();
    match Component::from_name(&name).and_then(|c| Some((c, operation_shape(c)?))) {
        Some(found) => Ok(found),
        None => Err(syn::Error::new_spanned(
            lit,
            format!(
                "unknown component `{name}`; valid components: {}{}",
                backticked(&valid),
                suggestion(&name, &valid)
            ),
        )),
    }
}

/// Validates an operation literal of `component`.
pub(crate) fn operation(lit: &LitStr, component: Component, shape: &OperationShape) -> syn::Result<String> {
    let name = lit.value();
    match shape.operation_label().map(|label| label.values) {
        Some(LabelValues::Closed(valid)) => {
            if valid.contains(&name.as_str()) {
                Ok(name)
            } else {
                Err(syn::Error::new_spanned(
                    lit,
                    format!(
                        "`{name}` is not a `{}` operation in the catalog; valid operations: {}{}",
                        component.as_str(),
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
                        component.as_str()
                    ),
                ))
            }
        }
    }
}

fn backticked(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// ` (did you mean `x`?)` for the nearest valid name within a small edit distance.
fn suggestion(name: &str, valid: &[&str]) -> String {
    let nearest = valid.iter().map(|v| (edit_distance(name, v), *v)).min();
    match nearest {
        Some((distance, v)) if distance <= (name.len() / 3).max(2) => format!("; did you mean `{v}`?"),
        _ => String::new(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}
