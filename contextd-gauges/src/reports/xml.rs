//! Just enough XML for test and coverage reports, on quick-xml: start and end tags with their
//! attributes, in document order, with line numbers, and a check that every element is closed.
//!
//! One pass over the text: tags are handed to a visitor as the reader meets them and line
//! numbers are counted forward with the reader, so the work is linear in the size of the report
//! (a report of a million elements is read in one sweep, never rescanned).

use std::borrow::Cow;

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

/// One tag, valid for the duration of the visit.
pub(crate) struct Tag<'e> {
    pub(crate) name: &'e str,
    /// `<a>` is `Start`, `</a>` is `End`, `<a/>` is `Empty`.
    pub(crate) kind: TagKind,
    /// 1-based line of the `<`.
    pub(crate) line: usize,
    element: Option<&'e BytesStart<'e>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagKind {
    Start,
    End,
    Empty,
}

impl<'e> Tag<'e> {
    /// The unescaped value of an attribute (`&amp;`, `&#39;` and the like decoded).
    pub(crate) fn attribute(&self, name: &str) -> Option<Cow<'e, str>> {
        let element: &'e BytesStart<'e> = self.element?;
        element
            .attributes()
            .flatten()
            .find(|a| a.key.as_ref() == name)
            .and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok())
    }
}

/// A malformation, with the 1-based line where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlError {
    pub(crate) line: usize,
    pub(crate) message: String,
}

/// Line numbers of byte offsets that only move forward: each byte is counted once.
struct Lines<'t> {
    text: &'t [u8],
    counted: usize,
    line: usize,
}

impl Lines<'_> {
    fn at(&mut self, offset: u64) -> usize {
        let offset = usize::try_from(offset).unwrap_or(usize::MAX).min(self.text.len());
        if offset < self.counted {
            // Only an error position can lie behind the reader; count that one from the start.
            return self.text[..offset].iter().filter(|b| **b == b'\n').count() + 1;
        }
        self.line += self.text[self.counted..offset].iter().filter(|b| **b == b'\n').count();
        self.counted = offset;
        self.line
    }
}

/// Calls `visit` with every tag of `text` in order, checking that attributes are well formed and
/// that elements nest and close properly. Comments, processing instructions, doctypes, CDATA
/// and text are skipped.
pub(crate) fn visit_tags(
    text: &str,
    mut visit: impl FnMut(&Tag<'_>) -> Result<(), XmlError>,
) -> Result<(), XmlError> {
    let mut reader = quick_xml::Reader::from_str(text);
    let config = reader.config_mut();
    // Our own stack says which element a wrong end tag closes and where it was opened.
    config.check_end_names = false;
    config.expand_empty_elements = false;
    let mut lines = Lines { text: text.as_bytes(), counted: 0, line: 1 };
    // Names of the open elements, end to end in one buffer, with their start and line.
    let (mut names, mut open) = (String::new(), Vec::<(usize, usize)>::new());
    let mut seen = 0usize;
    loop {
        let line = lines.at(reader.buffer_position());
        let event = reader
            .read_event()
            .map_err(|e| XmlError { line: lines.at(reader.error_position()), message: e.to_string() })?;
        let (element, kind) = match &event {
            Event::Start(element) => (element, TagKind::Start),
            Event::Empty(element) => (element, TagKind::Empty),
            Event::End(end) => {
                let name = end.name().into_inner();
                let Some((start, opened)) = open.pop() else {
                    return Err(XmlError { line, message: format!("`</{name}>` closes nothing") });
                };
                if names[start..] != *name {
                    let message =
                        format!("`</{name}>` closes `<{}>` opened on line {opened}", &names[start..]);
                    return Err(XmlError { line, message });
                }
                names.truncate(start);
                seen += 1;
                visit(&Tag { name, kind: TagKind::End, line, element: None })?;
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = element.name().into_inner();
        for attribute in element.attributes().with_checks(true) {
            let attribute =
                attribute.map_err(|e| XmlError { line, message: format!("in `<{name}>`: {e}") })?;
            attribute.normalized_value(XmlVersion::Implicit1_0).map_err(|e| XmlError {
                line,
                message: format!("in `<{name}>`, attribute `{}`: {e}", attribute.key.as_ref()),
            })?;
        }
        if kind == TagKind::Start {
            open.push((names.len(), line));
            names.push_str(name);
        }
        seen += 1;
        visit(&Tag { name, kind, line, element: Some(element) })?;
    }
    if let Some((start, opened)) = open.pop() {
        return Err(XmlError {
            line: lines.at(text.len() as u64),
            message: format!(
                "the document ends inside `<{}>` opened on line {opened} (truncated?)",
                &names[start..]
            ),
        });
    }
    if seen == 0 {
        return Err(XmlError { line: 1, message: "no XML elements".into() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Name, kind, line and the first of the attributes `x`, `y`.
    type Seen = (String, TagKind, usize, Option<String>);

    fn tags(text: &str) -> Result<Vec<Seen>, XmlError> {
        let mut tags = Vec::new();
        visit_tags(text, |tag| {
            let first = ["x", "y"].iter().find_map(|a| tag.attribute(a)).map(Cow::into_owned);
            tags.push((tag.name.to_owned(), tag.kind, tag.line, first));
            Ok(())
        })?;
        Ok(tags)
    }

    #[test]
    fn reads_tags_attributes_and_lines() {
        let text =
            "<?xml version=\"1.0\"?>\n<!-- c -->\n<a x=\"1 &amp; 2 &#39;q&#x27;\">\n  <b y='q>r'/>\n</a>\n";
        let tags = tags(text).unwrap();
        assert_eq!(tags.len(), 3);
        assert_eq!(tags[0], ("a".into(), TagKind::Start, 3, Some("1 & 2 'q'".into())));
        assert_eq!(tags[1], ("b".into(), TagKind::Empty, 4, Some("q>r".into())));
        assert_eq!((tags[2].1, tags[2].2), (TagKind::End, 5));
    }

    #[test]
    fn truncated_and_mismatched_documents_are_errors_with_lines() {
        let truncated = tags("<a>\n<b>\n</b>\n").unwrap_err();
        assert!(truncated.message.contains("ends inside `<a>` opened on line 1"), "{truncated:?}");
        let mismatched = tags("<a>\n<b>\n</a>").unwrap_err();
        assert_eq!(mismatched.line, 3);
        assert!(mismatched.message.contains("`</a>` closes `<b>` opened on line 2"), "{mismatched:?}");
        assert!(tags("<a>\n<b x=1/></a>").unwrap_err().line == 2);
        assert!(tags("plain text").unwrap_err().message.contains("no XML elements"));
        assert!(tags("<a x=\"&bogus;\"/>").is_err(), "unknown entity");
        assert_eq!(tags("<a/>\n</a>").unwrap_err().line, 2, "an end tag that closes nothing");
        let unterminated = tags("<a>\n<b").unwrap_err();
        assert_eq!(unterminated.line, 2, "{unterminated:?}");
    }
}
