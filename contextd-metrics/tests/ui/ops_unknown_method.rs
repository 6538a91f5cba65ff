struct Skills;

#[contextd_metrics::instrument_ops("skill")]
impl Skills {
    fn create(&self) {}
    fn aply(&self) {}
    #[skip_instrument]
    fn helper(&self) {}
}

fn main() {}
