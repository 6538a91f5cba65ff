#[contextd_metrics::instrument_ops("skill")]
fn apply() {}

fn main() {}
