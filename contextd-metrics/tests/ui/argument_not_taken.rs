#[contextd_metrics::instrument_op("checkpoint", "create", database = "shared")]
fn create() {}

fn main() {}
