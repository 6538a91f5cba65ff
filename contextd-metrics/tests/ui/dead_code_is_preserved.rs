#![deny(dead_code)]

#[contextd_metrics::instrument_op("checkpoint", "delete")]
fn never_called() {}

fn main() {}
