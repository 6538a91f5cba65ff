#[contextd_metrics::instrument_op("database", "insert", database = "a", database = "b", collection = "skills")]
fn insert() {}

fn main() {}
