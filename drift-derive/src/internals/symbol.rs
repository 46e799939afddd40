//! Every attribute keyword, as a constant.

use std::fmt::{self, Display};

use syn::{Ident, Path};

#[derive(Copy, Clone)]
pub(crate) struct Symbol(&'static str);

pub(crate) const DRIFT: Symbol = Symbol("drift");
pub(crate) const TABLE: Symbol = Symbol("table");
pub(crate) const VERSION: Symbol = Symbol("version");
pub(crate) const INDEX: Symbol = Symbol("index");
pub(crate) const UNIQUE: Symbol = Symbol("unique");
pub(crate) const FIELDS: Symbol = Symbol("fields");
pub(crate) const NAME: Symbol = Symbol("name");
pub(crate) const PRIMARY_KEY: Symbol = Symbol("primary_key");
pub(crate) const AUTO_INCREMENT: Symbol = Symbol("auto_increment");

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for &Ident {
    fn eq(&self, word: &Symbol) -> bool {
        *self == word.0
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}
