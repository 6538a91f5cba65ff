#[contextd_metrics::instrument_op("skill", "create", skill_id = "x")]
fn create() {}

fn main() {}
