struct Store;

#[contextd_metrics::instrument_ops("database")]
impl Store {
    fn insert(&self) {}
}

fn main() {}
