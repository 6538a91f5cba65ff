#[contextd_metrics::instrument_op("database", "insert", databse = "shared", collection = "skills")]
fn insert() {}

fn main() {}
