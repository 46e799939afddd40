//! The error of a value codec, with where in the value it happened.

use std::fmt;

/// Containers deeper than this are refused: decoding, encoding and fitting recurse
/// once per level, and stored shapes or bytes may be hostile.
pub(crate) const MAX_DEPTH: usize = 128;

/// One step into a value: a field, an item, a map entry's key or value.
#[derive(Debug, Clone)]
enum Step {
    Field(String),
    Variant(String),
    Index(usize),
}

/// What went wrong and where, rendered `msg (at `.address.zip`)`. The path is built
/// innermost first while the error travels out of the recursion.
#[derive(Debug, Clone)]
pub(crate) struct Fault {
    msg: String,
    path: Vec<Step>,
}

impl Fault {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        Fault { msg: msg.into(), path: Vec::new() }
    }

    pub(crate) fn too_deep() -> Self {
        Fault::new(format!("values nest deeper than {MAX_DEPTH} levels"))
    }

    pub(crate) fn opaque() -> Self {
        Fault::new("the field's type has no shape (derive Describe for it)")
    }

    pub(crate) fn end(what: impl fmt::Display) -> Self {
        Fault::new(format!("the bytes end inside a {what}"))
    }

    #[must_use]
    pub(crate) fn in_field(mut self, name: &str) -> Self {
        self.path.push(Step::Field(name.to_string()));
        self
    }

    #[must_use]
    pub(crate) fn in_variant(mut self, name: &str) -> Self {
        self.path.push(Step::Variant(name.to_string()));
        self
    }

    #[must_use]
    pub(crate) fn at(mut self, index: usize) -> Self {
        self.path.push(Step::Index(index));
        self
    }
}

/// Fails when `depth` is past [`MAX_DEPTH`]; returns the depth of the next level.
pub(crate) fn deeper(depth: usize) -> Result<usize, Fault> {
    if depth >= MAX_DEPTH { Err(Fault::too_deep()) } else { Ok(depth + 1) }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)?;
        if !self.path.is_empty() {
            f.write_str(" (at `")?;
            for step in self.path.iter().rev() {
                match step {
                    Step::Field(n) => write!(f, ".{n}")?,
                    Step::Variant(n) => write!(f, "::{n}")?,
                    Step::Index(i) => write!(f, "[{i}]")?,
                }
            }
            f.write_str("`)")?;
        }
        Ok(())
    }
}

impl From<Fault> for String {
    fn from(f: Fault) -> String {
        f.to_string()
    }
}
