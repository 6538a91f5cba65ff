//! Shape checks every entry goes through: a mapping with known fields, single values, lists,
//! one of a set of words.

use super::super::tree::{At, Node, Value};
use super::super::{backticked, suggestion};
use super::{Fields, Reader, is_snake_name};

/// Words other schemas use for fields of ours (OpenTelemetry's semantic-convention registry,
/// Prometheus): what a newcomer types first.
const SYNONYMS: &[(&str, &str, &str)] = &[
    ("description", "brief", "as in OpenTelemetry's semantic-convention registry"),
    ("help", "brief", "Prometheus' HELP text"),
    ("summary", "brief", "one line saying what it is"),
    ("type", "instrument", "counter, histogram or gauge"),
    ("kind", "instrument", "counter, histogram or gauge"),
    ("labels", "attributes", "OpenTelemetry's word for labels"),
    ("values", "members", "the closed values of an attribute"),
    ("bounds", "buckets", "histogram bucket bounds"),
];

/// `; did you mean `brief`? (…)` when `key` is another schema's word for an allowed field.
fn synonym(key: &str, allowed: &[&str]) -> Option<String> {
    SYNONYMS
        .iter()
        .find(|(other, ours, _)| *other == key && allowed.contains(ours))
        .map(|(_, ours, why)| format!("; did you mean `{ours}`? ({why})"))
}

impl Reader {
    /// The entries of a mapping, reporting keys outside `allowed` (with the nearest valid one)
    /// and keys given twice.
    pub(super) fn fields<'a>(&mut self, node: &'a Node, what: &str, allowed: &[&str]) -> Option<Fields<'a>> {
        let Value::Map(entries) = &node.value else {
            self.error(
                node.at,
                format!("{what} must be a mapping of fields ({}), not {}", backticked(allowed), node.kind()),
            );
            return None;
        };
        let mut kept: Vec<(&str, &Node)> = Vec::new();
        for (key, at, value) in entries {
            if !allowed.contains(&key.as_str()) {
                let message = format!(
                    "unknown field `{key}` in {what}; valid fields: {}{}",
                    backticked(allowed),
                    synonym(key, allowed).unwrap_or_else(|| suggestion(key, allowed))
                );
                self.error(*at, message);
            } else if kept.iter().any(|(k, _)| *k == key) {
                self.error(*at, format!("field `{key}` is given twice in {what}"));
            } else {
                kept.push((key, value));
            }
        }
        Some(Fields { entries: kept, at: node.at })
    }

    pub(super) fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Scalar(s) => Some(s.clone()),
            _ => {
                self.error(node.at, format!("{what} must be a single value, not {}", node.kind()));
                None
            }
        }
    }

    pub(super) fn required<'a>(&mut self, fields: &Fields<'a>, key: &str, what: &str) -> Option<&'a Node> {
        let node = fields.get(key);
        if node.is_none() {
            self.error(fields.at, format!("{what} has no `{key}`"));
        }
        node
    }

    pub(super) fn required_string(&mut self, fields: &Fields<'_>, key: &str, what: &str) -> Option<String> {
        let node = self.required(fields, key, what)?;
        self.string(node, &format!("`{key}` of {what}"))
    }

    /// A required snake_case name (`[a-z][a-z0-9_]*`).
    pub(super) fn required_name(&mut self, fields: &Fields<'_>, key: &str, what: &str) -> Option<String> {
        let node = self.required(fields, key, what)?;
        let name = self.string(node, &format!("`{key}` of {what}"))?;
        if is_snake_name(&name) {
            Some(name)
        } else {
            self.error(node.at, format!("`{name}` is not a valid {key}: use snake_case (`a-z`, `0-9`, `_`, starting with a letter)"));
            None
        }
    }

    pub(super) fn list<'a>(&mut self, node: &'a Node, what: &str) -> &'a [Node] {
        match &node.value {
            Value::Seq(items) => items,
            _ => {
                self.error(node.at, format!("{what} must be a list, not {}", node.kind()));
                &[]
            }
        }
    }

    /// A list of single values.
    pub(super) fn strings(&mut self, node: &Node, what: &str) -> Vec<(String, At)> {
        let items = self.list(node, what);
        items
            .iter()
            .filter_map(|item| Some((self.string(item, &format!("an entry of {what}"))?, item.at)))
            .collect()
    }

    pub(super) fn one_of<T: Copy>(&mut self, node: &Node, what: &str, options: &[(&str, T)]) -> Option<T> {
        let value = self.string(node, what)?;
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        match options.iter().find(|(n, _)| *n == value) {
            Some((_, v)) => Some(*v),
            None => {
                self.error(
                    node.at,
                    format!(
                        "`{value}` is not a valid {what}; valid: {}{}",
                        backticked(&names),
                        suggestion(&value, &names)
                    ),
                );
                None
            }
        }
    }
}
