//! Conversions from what a caller passes to the value type of a field.

/// A value that can be compared with a field of type `V`: `V` itself, and borrowed
/// forms such as `&str` for a `String` field.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be compared with a field of type `{V}`",
    label = "expected a `{V}` (or `&str` for a `String` field)",
    note = "filter operands have the field's type: `User::AGE.eq(30)`, `User::NAME.eq(\"Ann\")`"
)]
pub trait IntoOperand<V> {
    /// Converts into the field's type.
    fn into_operand(self) -> V;
}

impl<V> IntoOperand<V> for V {
    fn into_operand(self) -> V {
        self
    }
}

impl IntoOperand<String> for &str {
    fn into_operand(self) -> String {
        self.to_owned()
    }
}

impl IntoOperand<String> for &String {
    fn into_operand(self) -> String {
        self.clone()
    }
}

impl IntoOperand<String> for Box<str> {
    fn into_operand(self) -> String {
        self.into_string()
    }
}

impl IntoOperand<Vec<u8>> for &[u8] {
    fn into_operand(self) -> Vec<u8> {
        self.to_vec()
    }
}

impl IntoOperand<Option<String>> for Option<&str> {
    fn into_operand(self) -> Option<String> {
        self.map(str::to_owned)
    }
}
