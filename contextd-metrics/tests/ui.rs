//! Every compile error of `#[instrument_op]` and `#[instrument_ops]`, with the message a user
//! sees, spanned on their own tokens.

#[test]
fn compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
