#[contextd_metrics::instrument_op("checkpoint", "craete")]
fn create() {}

fn main() {}
