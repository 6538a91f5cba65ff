//! Every compile error of `#[instrument_op]`, `#[instrument_ops]` and `catalog!`, with the
//! message a user sees, spanned on their own tokens. trybuild builds the cases in a crate of its
//! own without a catalog file, so `#[instrument_op]` records contextd's built-in catalog there,
//! as in any crate that declares none.

#[test]
fn compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
