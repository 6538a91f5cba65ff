#![deny(unused_must_use)]

/// An instrumented function keeps its attributes and lints.
#[must_use]
#[contextd_metrics::instrument_op("checkpoint", "create")]
fn create() -> u8 {
    1
}

fn main() {
    create();
}
