#[contextd_metrics::instrument_op("checkpoint", "create")]
fn create() -> Result<u32, std::num::ParseIntError> {
    let n: u32 = "1".parse()?;
    Ok(n + undefined_variable)
}

fn main() {}
