#[contextd_metrics::instrument_op("agent", "Planner Agent")]
fn plan() {}

fn main() {}
