//! Every attribute keyword, as a constant.

use std::fmt::{self, Display};

use syn::{Ident, Path};

#[derive(Copy, Clone, PartialEq, Eq)]
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
pub(crate) const VALIDATE: Symbol = Symbol("validate");
pub(crate) const BELONGS_TO: Symbol = Symbol("belongs_to");
pub(crate) const HAS_MANY: Symbol = Symbol("has_many");
pub(crate) const HAS_ONE: Symbol = Symbol("has_one");
pub(crate) const MANY_TO_MANY: Symbol = Symbol("many_to_many");
pub(crate) const KEY: Symbol = Symbol("key");
pub(crate) const FOREIGN_KEY: Symbol = Symbol("foreign_key");
pub(crate) const ON_DELETE: Symbol = Symbol("on_delete");
pub(crate) const THROUGH: Symbol = Symbol("through");
pub(crate) const VALIDATE_WITH: Symbol = Symbol("validate_with");
pub(crate) const LENGTH: Symbol = Symbol("length");
pub(crate) const RANGE: Symbol = Symbol("range");
pub(crate) const EMAIL: Symbol = Symbol("email");
pub(crate) const REGEX: Symbol = Symbol("regex");
pub(crate) const CUSTOM: Symbol = Symbol("custom");
pub(crate) const MIN: Symbol = Symbol("min");
pub(crate) const MAX: Symbol = Symbol("max");
pub(crate) const RENAMED_FROM: Symbol = Symbol("renamed_from");
pub(crate) const DEFAULT: Symbol = Symbol("default");

// serde's attributes, as `#[derive(Describe)]` reads them.
pub(crate) const SERDE: Symbol = Symbol("serde");
pub(crate) const SKIP: Symbol = Symbol("skip");
pub(crate) const SKIP_SERIALIZING: Symbol = Symbol("skip_serializing");
pub(crate) const SKIP_DESERIALIZING: Symbol = Symbol("skip_deserializing");
pub(crate) const TRANSPARENT: Symbol = Symbol("transparent");
/// serde attributes that change a type's postcard layout in ways a drift `Shape`
/// cannot say, or hand it to code the derive cannot see.
pub(crate) const LAYOUT_CHANGING: [Symbol; 13] = [
    Symbol("flatten"),
    Symbol("tag"),
    Symbol("untagged"),
    Symbol("content"),
    Symbol("with"),
    Symbol("serialize_with"),
    Symbol("deserialize_with"),
    Symbol("skip_serializing_if"),
    Symbol("other"),
    Symbol("remote"),
    Symbol("into"),
    Symbol("from"),
    Symbol("try_from"),
];

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
