//! Compile-fail cases for `#[derive(Entity)]` misuse: one failure mode a file,
//! each with the expected compiler output beside it.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*/*.rs");
}
