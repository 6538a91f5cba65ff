//! The YAML document as a small tree whose every node knows its line, so that an error can
//! point at the entry it is about. yaml-rust2 parses; this only keeps the positions its event
//! stream carries (its own document type drops them). Aliases are refused: a catalog has no
//! need of them (shared buckets are named), and expanding them can grow without bound.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// Where a node starts: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct At {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum Value {
    Scalar(String),
    Seq(Vec<Node>),
    /// Keys in file order, each with where it was written.
    Map(Vec<(String, At, Node)>),
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) at: At,
    pub(crate) value: Value,
}

impl Node {
    pub(crate) fn kind(&self) -> &'static str {
        match self.value {
            Value::Scalar(_) => "a single value",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Parses one YAML document; `Err` carries the position and yaml-rust2's description.
pub(crate) fn parse(text: &str) -> Result<Node, (At, String)> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| (at(*e.marker()), e.info().to_owned()))?;
    if let Some(error) = builder.error {
        return Err(error);
    }
    builder.root.ok_or_else(|| (At { line: 1, column: 1 }, "the file holds no YAML document".to_owned()))
}

fn at(marker: Marker) -> At {
    // yaml-rust2 counts lines from 1 and columns from 0.
    At { line: marker.line(), column: marker.col() + 1 }
}

/// A container being filled: its node, and for a mapping the key waiting for its value.
struct Open {
    node: Node,
    key: Option<(String, At)>,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    root: Option<Node>,
    error: Option<(At, String)>,
}

impl Builder {
    fn push_value(&mut self, node: Node) {
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some(node);
            return;
        };
        match &mut parent.node.value {
            Value::Seq(items) => items.push(node),
            Value::Map(entries) => match parent.key.take() {
                Some((key, key_at)) => entries.push((key, key_at, node)),
                None => match node.value {
                    Value::Scalar(key) => parent.key = Some((key, node.at)),
                    _ => {
                        self.error.get_or_insert((node.at, "a mapping key must be a plain name".to_owned()));
                    }
                },
            },
            Value::Scalar(_) => unreachable!("only containers are pushed on the stack"),
        }
    }

    fn close(&mut self) {
        if let Some(open) = self.stack.pop() {
            self.push_value(open.node);
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, marker: Marker) {
        let at = at(marker);
        match event {
            Event::Scalar(value, ..) => self.push_value(Node { at, value: Value::Scalar(value) }),
            Event::SequenceStart(..) => {
                self.stack.push(Open { node: Node { at, value: Value::Seq(Vec::new()) }, key: None })
            }
            Event::MappingStart(..) => {
                self.stack.push(Open { node: Node { at, value: Value::Map(Vec::new()) }, key: None })
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(),
            Event::Alias(_) => {
                let message =
                    "aliases (`*name`) are not supported in a catalog; name shared buckets under `buckets:`";
                self.error.get_or_insert((at, message.to_owned()));
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}
