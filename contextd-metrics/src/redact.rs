//! Redaction of secrets and personal paths from text that leaves the process (span status
//! messages, attributes). `#[instrument_op]` applies it to the error messages it records.
//!
//! Replaced with `[REDACTED]`: the token after `Bearer `/`Basic `; values of `key=value`,
//! `key: value` and `"key": "value"` pairs whose key names a secret (password, passwd, pwd,
//! secret, token, api_key, apikey, api-key, access_key, private_key, authorization, auth,
//! credential(s), client_secret); well-known key shapes (`sk-…`, `ghp_…`, `gho_…`, `github_pat_…`,
//! `xoxb-…`, `AKIA…`); the password of `scheme://user:password@host`. Home directories
//! (`/home/<user>/`, `/Users/<user>/`, `/root/`) become `~/`.
//!
//! ```
//! use contextd_metrics::redact::redact;
//!
//! let message = "401 from https://bot:hunter2@api.example/v1 with Bearer abc.def; see /home/alice/.config/x";
//! assert_eq!(
//!     redact(message),
//!     "401 from https://bot:[REDACTED]@api.example/v1 with Bearer [REDACTED]; see ~/.config/x"
//! );
//! ```

use std::borrow::Cow;

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "refresh_token",
    "api_key",
    "apikey",
    "api-key",
    "access_key",
    "private_key",
    "authorization",
    "auth",
    "credential",
    "credentials",
];

const KEY_PREFIXES: &[(&str, usize)] = &[
    ("sk-", 16),
    ("ghp_", 20),
    ("gho_", 20),
    ("github_pat_", 20),
    ("xoxb-", 16),
    ("xoxp-", 16),
    ("AKIA", 16),
];

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.~+/=".contains(c)
}

/// `text` with secrets replaced and home directories shortened; borrowed when nothing matched.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut rest = text;
    while !rest.is_empty() {
        match scan(rest) {
            Scan::Secret(consumed, replacement) => {
                out.push_str(&replacement);
                rest = &rest[consumed..];
                changed = true;
            }
            Scan::Plain(consumed) => {
                out.push_str(&rest[..consumed]);
                rest = &rest[consumed..];
            }
        }
    }
    shorten_homes(if changed { Cow::Owned(out) } else { Cow::Borrowed(text) })
}

/// What starts at the scanner's position.
enum Scan {
    /// Secret-bearing text of this length, and what replaces it.
    Secret(usize, String),
    /// Text of this length to copy unchanged.
    Plain(usize),
}

fn scan(rest: &str) -> Scan {
    if let Some((len, replacement)) = secret_at(rest) {
        return Scan::Secret(len, replacement);
    }
    // Copy a whole word at once, so a key shape is only matched at a word start.
    let word = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .map(char::len_utf8)
        .sum();
    Scan::Plain(if word > 0 { word } else { rest.chars().next().map_or(1, char::len_utf8) })
}

/// The length of the secret-bearing text at the start of `rest` and what replaces it.
fn secret_at(rest: &str) -> Option<(usize, String)> {
    // Authorization schemes.
    for scheme in ["Bearer ", "bearer ", "Basic ", "basic "] {
        if let Some(after) = rest.strip_prefix(scheme) {
            let token = after.chars().take_while(|c| is_token_char(*c)).map(char::len_utf8).sum::<usize>();
            if token > 0 {
                return Some((scheme.len() + token, format!("{scheme}{REDACTED}")));
            }
        }
    }
    // Well-known key shapes (only at a word start).
    for (prefix, min) in KEY_PREFIXES {
        if let Some(after) = rest.strip_prefix(prefix) {
            let body =
                after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').count();
            if body >= *min {
                return Some((prefix.len() + body, REDACTED.to_owned()));
            }
        }
    }
    // scheme://user:password@host
    if let Some(after) = rest.strip_prefix("://") {
        let authority_end =
            after.find(|c: char| c.is_whitespace() || "/?#".contains(c)).unwrap_or(after.len());
        let authority = &after[..authority_end];
        if let (Some(colon), Some(at)) = (authority.find(':'), authority.rfind('@'))
            && colon < at
        {
            return Some((3 + at, format!("://{}:{REDACTED}", &authority[..colon])));
        }
    }
    // key=value, key: value, "key": "value" for secret keys.
    let key_len = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').count();
    if key_len > 0 {
        let key = &rest[..key_len];
        let lower = key.to_ascii_lowercase();
        if SECRET_KEYS.iter().any(|k| lower == *k || lower.ends_with(&format!("_{k}"))) {
            let after_key = &rest[key_len..];
            let quote_close = usize::from(after_key.starts_with('"'));
            let separator =
                after_key[quote_close..].chars().take_while(|c| *c == ' ' || *c == ':' || *c == '=').count();
            let sep_text = &after_key[quote_close..quote_close + separator];
            if sep_text.contains([':', '=']) {
                let value_start = key_len + quote_close + separator;
                let value = &rest[value_start..];
                if ["bearer ", "basic "].iter().any(|scheme| value.to_ascii_lowercase().starts_with(scheme)) {
                    return None; // `Authorization: Bearer …`: the scheme rule keeps the scheme visible
                }
                let (open, body) = match value.strip_prefix('"') {
                    // An unclosed quote ends at the line's end.
                    Some(inner) => (1, inner.find(['"', '\n']).unwrap_or(inner.len())),
                    None => (
                        0,
                        value
                            .chars()
                            .take_while(|c| !c.is_whitespace() && *c != ',' && *c != ';' && *c != '&')
                            .map(char::len_utf8)
                            .sum(),
                    ),
                };
                if body > 0 {
                    let prefix = &rest[..value_start + open];
                    return Some((value_start + open + body, format!("{prefix}{REDACTED}")));
                }
            }
        }
    }
    None
}

fn shorten_homes(text: Cow<'_, str>) -> Cow<'_, str> {
    let needs = text.contains("/home/") || text.contains("/Users/") || text.contains("/root/");
    if !needs {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest: &str = &text;
    while let Some(index) =
        ["/home/", "/Users/", "/root/"].iter().filter_map(|p| rest.find(p).map(|i| (i, *p))).min()
    {
        let (at, prefix) = index;
        out.push_str(&rest[..at]);
        let after = &rest[at + prefix.len()..];
        if prefix == "/root/" {
            out.push_str("~/");
            rest = after;
        } else {
            match after.find('/') {
                Some(slash) if slash > 0 && !after[..slash].contains(char::is_whitespace) => {
                    out.push_str("~/");
                    rest = &after[slash + 1..];
                }
                _ => {
                    out.push_str(prefix);
                    rest = after;
                }
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let cases = [
            ("Authorization: Bearer eyJhbGciOi.x-y_z", "Authorization: Bearer [REDACTED]"),
            ("key sk-proj1234567890abcdefghij rejected", "key [REDACTED] rejected"),
            ("password=hunter2 user=bob", "password=[REDACTED] user=bob"),
            (r#"{"api_key": "abc123", "model": "m"}"#, r#"{"api_key": "[REDACTED]", "model": "m"}"#),
            ("db_password: s3cret; next", "db_password: [REDACTED]; next"),
            ("postgres://app:pa55@db:5432/x", "postgres://app:[REDACTED]@db:5432/x"),
            ("token=abc&x=1", "token=[REDACTED]&x=1"),
            ("AKIAABCDEFGHIJKLMNOP leaked", "[REDACTED] leaked"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact(input), expected, "{input}");
        }
    }

    #[test]
    fn home_directories_are_shortened_and_plain_text_is_borrowed() {
        assert_eq!(redact("open /home/alice/p/f.txt and /root/.ssh/id"), "open ~/p/f.txt and ~/.ssh/id");
        assert_eq!(redact("/Users/bob/src"), "~/src");
        assert!(matches!(redact("connection refused by 10.0.0.1:6333"), Cow::Borrowed(_)));
        assert_eq!(redact("tokenizer failed; passwords are fine"), "tokenizer failed; passwords are fine");
    }
}
