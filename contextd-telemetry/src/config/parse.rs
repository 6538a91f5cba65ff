//! Parsers of the values the variables take. Each says what is wrong in words, never quoting
//! the part of a value that may be a credential.

use super::{OtlpCompression, OtlpProtocol};

/// `key=value,key=value` with percent-encoded values, as in `OTEL_RESOURCE_ATTRIBUTES` and
/// `OTEL_EXPORTER_OTLP_HEADERS` (W3C Baggage octet rules). The error says which pair is wrong
/// and how, naming keys but never quoting a value.
pub(super) fn parse_key_values(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .enumerate()
        .map(|(index, pair)| {
            let number = index + 1;
            let (key, value) = pair.split_once('=').ok_or_else(|| format!("pair {number} has no `=`"))?;
            let key = key.trim();
            if key.is_empty() {
                return Err(format!("pair {number} has no key before `=`"));
            }
            let value = percent_decode(value.trim()).ok_or_else(|| {
                format!("the value of `{key}` has a malformed percent escape or is not UTF-8 once decoded")
            })?;
            Ok((key.to_owned(), value))
        })
        .collect()
}

/// Header pairs: [`parse_key_values`] whose keys are HTTP header names.
pub(super) fn parse_headers(text: &str) -> Result<Vec<(String, String)>, String> {
    let headers = parse_key_values(text)?;
    match headers.iter().find(|(name, _)| !is_header_name(name)) {
        Some((name, _)) => Err(format!("`{name}` is not an HTTP header name")),
        None => Ok(headers),
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub(super) fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

pub(super) fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

pub(super) fn parse_ratio(value: &str) -> Option<f64> {
    value.parse::<f64>().ok().filter(|r| (0.0..=1.0).contains(r))
}

pub(super) const PROTOCOLS: &str = "`http/protobuf` or `grpc`";

pub(super) fn parse_protocol(value: &str) -> Option<OtlpProtocol> {
    match value {
        "http/protobuf" => Some(OtlpProtocol::HttpProtobuf),
        "grpc" => Some(OtlpProtocol::Grpc),
        _ => None,
    }
}

pub(super) fn parse_compression(value: &str) -> Option<OtlpCompression> {
    match value {
        "gzip" => Some(OtlpCompression::Gzip),
        "none" => Some(OtlpCompression::None),
        _ => None,
    }
}

/// Checks the parts of an `http(s)://` URL that the exporter would otherwise reject with a
/// message quoting the whole URL: scheme, host, IPv6 brackets and port.
pub(super) fn check_http_url(url: &str) -> Result<(), String> {
    let Some(rest) = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")) else {
        return Err("it does not start with http:// or https://".into());
    };
    if url.contains(char::is_whitespace) {
        return Err("it contains whitespace".into());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host_port)| host_port);
    let (host, port) = match host_port.strip_prefix('[') {
        Some(ipv6) => {
            let (host, after) = ipv6.split_once(']').ok_or("the IPv6 address has no closing `]`")?;
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':').ok_or("unexpected text after the IPv6 address")?)),
            }
        }
        None => match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    if host.is_empty() {
        return Err("it has no host".into());
    }
    if host.contains(['[', ']', '@']) {
        return Err("the host contains `[`, `]` or `@`".into());
    }
    if port.is_some_and(|port| port.parse::<u16>().is_err()) {
        return Err("the port is not a number from 0 to 65535".into());
    }
    Ok(())
}

pub(super) const URL: &str = "an http:// or https:// URL, e.g. http://localhost:4318";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_decode_percent_escapes_and_reject_malformed_pairs() {
        assert_eq!(
            parse_key_values("a=1, b = x%20y ,"),
            Ok(vec![("a".into(), "1".into()), ("b".into(), "x y".into())])
        );
        assert_eq!(parse_key_values("novalue"), Err("pair 1 has no `=`".into()));
        assert_eq!(parse_key_values("a=1,=v"), Err("pair 2 has no key before `=`".into()));
        assert!(parse_key_values("a=%zz").unwrap_err().contains("`a` has a malformed percent escape"));
        assert!(parse_key_values("a=%ff").is_err(), "not UTF-8");
    }

    #[test]
    fn urls_are_checked_where_the_exporter_would_quote_them() {
        assert_eq!(check_http_url("http://localhost:4318/v1/metrics"), Ok(()));
        assert_eq!(check_http_url("https://u:p@[::1]:4318"), Ok(()));
        assert!(check_http_url("http://user:pw@[::1").unwrap_err().contains("closing `]`"));
        assert!(check_http_url("http://host:99999").unwrap_err().contains("port"));
        assert!(check_http_url("http://").unwrap_err().contains("no host"));
        assert!(check_http_url("localhost:4318").unwrap_err().contains("http://"));
    }
}
