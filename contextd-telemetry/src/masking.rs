//! How values that can carry credentials are shown in errors, `Debug` output and logs.
//!
//! Header lists keep their names and lose their values; URLs lose their user-info, query values
//! and fragment. Both work on malformed text too, because a malformed value is exactly the one
//! that ends up in an error message.

/// What replaces a secret.
pub(crate) const MASK: &str = "***";

/// `value` as it may be shown for `variable`: masked for every variable that can carry a
/// credential (`*_HEADERS`, `*_ENDPOINT`), unchanged for the rest.
pub(crate) fn shown(variable: &str, value: &str) -> String {
    if variable.ends_with("_HEADERS") {
        masked_headers(value)
    } else if variable.ends_with("_ENDPOINT") {
        masked_url(value)
    } else {
        value.to_owned()
    }
}

/// `name=value,…` with every value masked; a pair without `=` is masked whole, since it may be
/// a credential pasted without its name.
pub(crate) fn masked_headers(text: &str) -> String {
    masked_pairs(text, ',')
}

/// `name=value` pairs separated by `separator`, values masked, names kept; an empty pair stays
/// empty, a pair without `=` is masked whole.
fn masked_pairs(text: &str, separator: char) -> String {
    let pairs: Vec<String> = text
        .split(separator)
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{name}={MASK}"),
            None if pair.trim().is_empty() => pair.to_owned(),
            None => MASK.to_owned(),
        })
        .collect();
    pairs.join(&separator.to_string())
}

/// A URL with its user-info, query values and fragment masked, whether or not it parses.
pub(crate) fn masked_url(text: &str) -> String {
    let (before_fragment, fragment) = match text.split_once('#') {
        Some((before, _)) => (before, Some(MASK)),
        None => (text, None),
    };
    let (before_query, query) = match before_fragment.split_once('?') {
        Some((before, query)) => (before, Some(masked_pairs(query, '&'))),
        None => (before_fragment, None),
    };
    // The user-info ends at the last `@` of the authority; without a `://` the authority cannot
    // be told from the path, so everything up to the last `@` is masked.
    let (scheme, rest) = match before_query.find("://") {
        Some(at) => before_query.split_at(at + 3),
        None => ("", before_query),
    };
    let authority_end = if scheme.is_empty() { rest.len() } else { rest.find('/').unwrap_or(rest.len()) };
    let (authority, path) = rest.split_at(authority_end);
    let mut out = String::with_capacity(text.len());
    out.push_str(scheme);
    match authority.rfind('@') {
        Some(at) => {
            out.push_str(MASK);
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    out.push_str(path);
    if let Some(query) = query {
        out.push('?');
        out.push_str(&query);
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// `text` with every occurrence of `url` replaced by its masked form: for messages of other
/// crates that quote an endpoint verbatim.
#[cfg(any(feature = "otlp-http", feature = "grpc"))]
pub(crate) fn scrub_url(text: &str, url: &str) -> String {
    if url.is_empty() { text.to_owned() } else { text.replace(url, &masked_url(url)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_masked_and_names_kept() {
        assert_eq!(masked_headers("authorization=Bearer%ZZsecret"), "authorization=***");
        assert_eq!(masked_headers("a=1,bad header=secret 2"), "a=***,bad header=***");
        assert_eq!(masked_headers("Bearer secret"), "***");
        assert_eq!(masked_headers("a=1,"), "a=***,");
    }

    #[test]
    fn url_credentials_query_values_and_fragments_are_masked() {
        assert_eq!(masked_url("http://user:hunter2@[::1"), "http://***@[::1");
        assert_eq!(
            masked_url("https://vm:8428/v1/metrics?key=s3&x&y=2#frag"),
            "https://vm:8428/v1/metrics?key=***&***&y=***#***"
        );
        assert_eq!(masked_url("user:hunter2@host:4318/v1"), "***@host:4318/v1");
        assert_eq!(masked_url("http://host/path@x"), "http://host/path@x");
        assert_eq!(masked_url("http://a:b@c@host/"), "http://***@host/");
        assert_eq!(masked_url("http://localhost:4318"), "http://localhost:4318");
    }

    #[test]
    fn only_credential_carrying_variables_are_masked() {
        assert_eq!(shown("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "a=b"), "a=***");
        assert_eq!(shown("OTEL_EXPORTER_OTLP_ENDPOINT", "http://u:p@h"), "http://***@h");
        assert_eq!(shown("OTEL_BSP_MAX_QUEUE_SIZE", "many"), "many");
    }
}
