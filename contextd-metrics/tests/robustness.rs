//! Property tests: a planted secret never survives redaction, and redaction never panics.

use contextd_metrics::redact::redact;
use proptest::prelude::*;

proptest! {
    #[test]
    fn planted_secrets_never_survive(
        before in "[a-z ,.:;]{0,40}",
        after in "[a-z ,.:;]{0,40}",
        token in "[A-Za-z0-9]{12,40}",
        shape in 0usize..4,
    ) {
        let secret = match shape {
            0 => format!("password={token}"),
            1 => format!("Bearer {token}"),
            2 => format!("\"api_key\": \"{token}\""),
            _ => format!("https://user:{token}@host/path"),
        };
        let text = format!("{before} {secret} {after}");
        let redacted = redact(&text);
        prop_assert!(!redacted.contains(&token), "{} -> {}", text, redacted);
    }

    #[test]
    fn redaction_never_panics_and_keeps_plain_text(text in "\\PC{0,300}") {
        let _ = redact(&text);
        let plain: String = text.chars().filter(|c| c.is_ascii_digit() || *c == ' ').collect();
        prop_assert_eq!(redact(&plain), plain.as_str());
    }
}
