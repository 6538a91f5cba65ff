//! Just enough XML for test and coverage reports: start and end tags with their attributes, in
//! order, with line numbers, and a check that every element is closed. Text content, comments,
//! processing instructions, doctypes and CDATA are skipped.

use std::borrow::Cow;

/// One tag.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tag<'a> {
    pub(crate) name: &'a str,
    pub(crate) attributes: Vec<(&'a str, Cow<'a, str>)>,
    /// `<a>` is `Start`, `</a>` is `End`, `<a/>` is `Empty`.
    pub(crate) kind: TagKind,
    /// 1-based line of the `<`.
    pub(crate) line: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagKind {
    Start,
    End,
    Empty,
}

impl Tag<'_> {
    pub(crate) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_ref())
    }
}

/// A malformation, with the 1-based line where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlError {
    pub(crate) line: usize,
    pub(crate) message: String,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].bytes().filter(|b| *b == b'\n').count() + 1
}

/// Every tag of `text`, after checking that elements nest and close properly.
pub(crate) fn tags(text: &str) -> Result<Vec<Tag<'_>>, XmlError> {
    let mut tags = Vec::new();
    let mut open: Vec<(&str, usize)> = Vec::new();
    let mut rest = 0;
    while let Some(found) = text[rest..].find('<') {
        let start = rest + found;
        let after = &text[start..];
        let skip_to = |terminator: &str, what: &str| {
            after.find(terminator).map(|end| start + end + terminator.len()).ok_or_else(|| XmlError {
                line: line_of(text, start),
                message: format!("unterminated {what}"),
            })
        };
        if after.starts_with("<!--") {
            rest = skip_to("-->", "comment")?;
            continue;
        }
        if after.starts_with("<![CDATA[") {
            rest = skip_to("]]>", "CDATA section")?;
            continue;
        }
        if after.starts_with("<?") {
            rest = skip_to("?>", "processing instruction")?;
            continue;
        }
        if after.starts_with("<!") {
            rest = skip_to(">", "declaration")?;
            continue;
        }
        let end = quoted_aware_end(after)
            .ok_or_else(|| XmlError { line: line_of(text, start), message: "unterminated tag".into() })?;
        let line = line_of(text, start);
        let inner = &after[1..end];
        rest = start + end + 1;
        let tag = parse_tag(inner, line)?;
        match tag.kind {
            TagKind::Start => open.push((tag.name, line)),
            TagKind::End => match open.pop() {
                Some((name, _)) if name == tag.name => {}
                Some((name, opened)) => {
                    return Err(XmlError {
                        line,
                        message: format!("`</{}>` closes `<{name}>` opened on line {opened}", tag.name),
                    });
                }
                None => return Err(XmlError { line, message: format!("`</{}>` closes nothing", tag.name) }),
            },
            TagKind::Empty => {}
        }
        tags.push(tag);
    }
    if let Some((name, opened)) = open.pop() {
        return Err(XmlError {
            line: line_of(text, text.len()),
            message: format!("the document ends inside `<{name}>` opened on line {opened} (truncated?)"),
        });
    }
    if tags.is_empty() {
        return Err(XmlError { line: 1, message: "no XML elements".into() });
    }
    Ok(tags)
}

/// The offset of the `>` that ends the tag starting at `tag[0] == '<'`, skipping quoted values.
fn quoted_aware_end(tag: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in tag.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            (None, '<') => return None,
            _ => {}
        }
    }
    None
}

fn parse_tag(inner: &str, line: usize) -> Result<Tag<'_>, XmlError> {
    let error = |message: String| XmlError { line, message };
    let (kind, body) = if let Some(body) = inner.strip_prefix('/') {
        (TagKind::End, body)
    } else if let Some(body) = inner.strip_suffix('/') {
        (TagKind::Empty, body)
    } else {
        (TagKind::Start, inner)
    };
    let body = body.trim();
    let name_end = body.find(|c: char| c.is_whitespace()).unwrap_or(body.len());
    let name = &body[..name_end];
    if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || "_-.:".contains(c)) {
        return Err(error(format!("invalid tag name `{name}`")));
    }
    let mut attributes = Vec::new();
    let mut rest = body[name_end..].trim_start();
    while !rest.is_empty() {
        let eq = rest.find('=').ok_or_else(|| error(format!("attribute without value in `<{name}>`")))?;
        let key = rest[..eq].trim();
        let value_part = rest[eq + 1..].trim_start();
        let quote = value_part.chars().next().filter(|c| *c == '"' || *c == '\'');
        let quote = quote.ok_or_else(|| error(format!("unquoted value of `{key}` in `<{name}>`")))?;
        let close = value_part[1..]
            .find(quote)
            .ok_or_else(|| error(format!("unterminated value of `{key}` in `<{name}>`")))?;
        attributes.push((key, unescape(&value_part[1..1 + close])));
        rest = value_part[close + 2..].trim_start();
    }
    Ok(Tag { name, attributes, kind, line })
}

fn unescape(value: &str) -> Cow<'_, str> {
    if !value.contains('&') {
        return Cow::Borrowed(value);
    }
    Cow::Owned(
        value
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tags_attributes_and_lines() {
        let text = "<?xml version=\"1.0\"?>\n<!-- c -->\n<a x=\"1 &amp; 2\">\n  <b y='q>r'/>\n</a>\n";
        let tags = tags(text).unwrap();
        assert_eq!(tags.len(), 3);
        assert_eq!((tags[0].name, tags[0].line, tags[0].attribute("x")), ("a", 3, Some("1 & 2")));
        assert_eq!((tags[1].kind, tags[1].attribute("y")), (TagKind::Empty, Some("q>r")));
        assert_eq!(tags[2].kind, TagKind::End);
    }

    #[test]
    fn truncated_and_mismatched_documents_are_errors_with_lines() {
        let truncated = tags("<a>\n<b>\n</b>\n").unwrap_err();
        assert!(truncated.message.contains("ends inside `<a>` opened on line 1"), "{truncated:?}");
        let mismatched = tags("<a>\n<b>\n</a>").unwrap_err();
        assert_eq!(mismatched.line, 3);
        assert!(tags("<a x=1/>").unwrap_err().message.contains("unquoted"));
        assert!(tags("plain text").unwrap_err().message.contains("no XML elements"));
        assert!(tags("<a").unwrap_err().message.contains("unterminated tag"));
    }
}
