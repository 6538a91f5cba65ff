#[contextd_metrics::instrument_op("checkpoint", "create")]
struct Checkpoint;

fn main() {}
