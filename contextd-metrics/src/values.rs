//! Values derived before recording, where a caller would otherwise get them wrong.
//!
//! ```
//! use contextd_metrics::values::{EmbeddingProvider, embedding_cost_usd, hybrid_match_score};
//!
//! let cost = embedding_cost_usd(EmbeddingProvider::OpenAi, "text-embedding-3-small", 1_000_000)?;
//! assert!((cost - 0.02).abs() < 1e-12);
//! assert_eq!(hybrid_match_score(1.0, 0.0)?, 0.7);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

/// Who computes an embedding; the `provider` label of the embedding instruments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmbeddingProvider {
    /// The OpenAI embeddings API (billed per token).
    OpenAi,
    /// A self-hosted Text Embeddings Inference server (no per-token cost).
    Tei,
}

impl EmbeddingProvider {
    /// The label value, from the catalog's `provider` label: `openai` or `tei`.
    pub const fn as_str(self) -> &'static str {
        crate::contextd::labels::PROVIDER.values.listed()[self as usize]
    }
}

/// OpenAI list prices in USD per one million input tokens.
const OPENAI_USD_PER_MILLION_TOKENS: &[(&str, f64)] =
    &[("text-embedding-3-small", 0.02), ("text-embedding-3-large", 0.13), ("text-embedding-ada-002", 0.10)];

/// The cost in USD of `tokens` embedding tokens, for `contextd_embedding_cost_total`.
///
/// OpenAI models are priced from their list price (text-embedding-3-small: 0.02 USD per million
/// tokens); TEI is self-hosted and costs 0 whatever the model.
///
/// # Errors
/// [`UnknownModel`] for an OpenAI model without a known price, rather than a silent 0 that
/// would make the cost dashboard lie.
pub fn embedding_cost_usd(
    provider: EmbeddingProvider,
    model: &str,
    tokens: u64,
) -> Result<f64, UnknownModel> {
    match provider {
        EmbeddingProvider::Tei => Ok(0.0),
        EmbeddingProvider::OpenAi => OPENAI_USD_PER_MILLION_TOKENS
            .iter()
            .find(|(known, _)| *known == model)
            .map(|(_, usd)| tokens as f64 * usd / 1_000_000.0)
            .ok_or_else(|| UnknownModel { model: model.to_owned() }),
    }
}

/// An OpenAI embedding model with no known price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownModel {
    /// The model name that was given.
    pub model: String,
}

impl fmt::Display for UnknownModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no price known for OpenAI embedding model `{}`; known models: ", self.model)?;
        for (i, (name, _)) in OPENAI_USD_PER_MILLION_TOKENS.iter().enumerate() {
            write!(f, "{}{name}", if i == 0 { "" } else { ", " })?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownModel {}

/// Weight of the semantic (vector) similarity in the remediation hybrid score.
pub const SEMANTIC_WEIGHT: f64 = 0.7;
/// Weight of the string similarity in the remediation hybrid score.
pub const STRING_WEIGHT: f64 = 0.3;

/// The remediation hybrid match score, `0.7 × semantic + 0.3 × string`, clamped to [0, 1], for
/// `contextd_remediation_match_score`.
///
/// # Errors
/// [`NotAScore`] when either input is NaN: there is no meaningful score to record.
pub fn hybrid_match_score(semantic: f64, string: f64) -> Result<f64, NotAScore> {
    for (input, value) in [("semantic", semantic), ("string", string)] {
        if value.is_nan() {
            return Err(NotAScore { input });
        }
    }
    Ok((SEMANTIC_WEIGHT * semantic + STRING_WEIGHT * string).clamp(0.0, 1.0))
}

/// A NaN given as a similarity to [`hybrid_match_score`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAScore {
    /// Which input was NaN: `semantic` or `string`.
    pub input: &'static str,
}

impl fmt::Display for NotAScore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the {} similarity is NaN; a similarity is a number, normally in [0, 1]", self.input)
    }
}

impl std::error::Error for NotAScore {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_small_costs_two_cents_per_million_tokens() {
        let cost = embedding_cost_usd(EmbeddingProvider::OpenAi, "text-embedding-3-small", 250_000);
        assert!((cost.unwrap() - 0.005).abs() < 1e-12);
    }

    #[test]
    fn tei_is_free_for_any_model() {
        assert_eq!(embedding_cost_usd(EmbeddingProvider::Tei, "bge-small", 10_000), Ok(0.0));
    }

    #[test]
    fn unknown_openai_model_is_an_error_listing_known_ones() {
        let err = embedding_cost_usd(EmbeddingProvider::OpenAi, "text-embedding-4", 1).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("`text-embedding-4`"), "{message}");
        assert!(message.contains("text-embedding-3-small"), "{message}");
    }

    #[test]
    fn hybrid_score_weights_and_clamps() {
        assert!((hybrid_match_score(0.5, 1.0).unwrap() - 0.65).abs() < 1e-12);
        assert_eq!(hybrid_match_score(2.0, 2.0), Ok(1.0));
        assert_eq!(hybrid_match_score(-1.0, 0.0), Ok(0.0));
        assert_eq!(hybrid_match_score(f64::INFINITY, 0.0), Ok(1.0));
    }

    #[test]
    fn nan_similarity_is_an_error_naming_the_input() {
        assert_eq!(hybrid_match_score(0.5, f64::NAN), Err(NotAScore { input: "string" }));
        assert!(hybrid_match_score(f64::NAN, 0.5).unwrap_err().to_string().contains("semantic"));
    }
}
