#[contextd_metrics::instrument_op("embedding", "generate", provider = "openai")]
fn embed() {}

fn main() {}
