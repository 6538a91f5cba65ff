//! Every compile error of `#[instrument_op]`, `#[instrument_ops]` and `catalog!`, with the
//! message a user sees, spanned on their own tokens.

#[test]
fn compile_errors() {
    // trybuild builds the cases in a crate of its own, without this crate's Cargo.toml
    // metadata: name contextd's catalog the way such harnesses can.
    // SAFETY: the only test of this binary; nothing else reads the environment meanwhile.
    unsafe {
        std::env::set_var(
            "CONTEXTD_METRICS_CATALOG",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../contextd-metrics-macros/contextd.yaml"),
        )
    };
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
