#[contextd_metrics::instrument_op("checkpiont", "create")]
fn create() {}

fn main() {}
