#[contextd_metrics::instrument_op("checkpoint", "create")]
const fn create() -> u8 {
    1
}

fn main() {}
