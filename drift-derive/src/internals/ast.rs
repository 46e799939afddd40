//! The entity model that the checks and generators read.

use proc_macro2::Span;
use syn::{Ident, Type};

use super::attr::{Container, FieldAttrs, RenamedFrom};
use super::ctxt::Ctxt;
use super::relation::RelKind;
use super::unraw::{join, same, unraw};

pub(crate) struct Entity<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) original: &'a syn::DeriveInput,
    pub(crate) table: String,
    pub(crate) table_span: Span,
    pub(crate) version: u32,
    pub(crate) fields: Vec<Field<'a>>,
    pub(crate) indexes: Vec<Index>,
    /// `#[drift(validate_with = path)]`.
    pub(crate) validate_with: Option<syn::Path>,
    /// Relation fields (with their attribute), in field order.
    pub(crate) relations: Vec<Relation>,
    /// `#[drift(renamed_from = "Old")]`.
    pub(crate) renamed_from: Option<RenamedFrom>,
}

/// A relation field: its position, its attribute, and the positions of its key
/// fields in this entity (for `belongs_to`).
pub(crate) struct Relation {
    pub(crate) field: usize,
    pub(crate) key_fields: Vec<usize>,
}

pub(crate) struct Field<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) ty: &'a Type,
    pub(crate) original: &'a syn::Field,
    pub(crate) attrs: FieldAttrs,
    /// What the type is, as far as its spelling tells.
    pub(crate) shape: Shape,
    /// `BelongsTo<R>` and kin: the proxy kind and `R`.
    pub(crate) proxy: Option<(RelKind, &'a Type)>,
    /// Whether the type is an `Option` (its last path segment is `Option`): decided
    /// here once, carried in the schema descriptor.
    pub(crate) optional: bool,
}

/// Whether `ty` is written as an `Option` (`Option<T>`, `std::option::Option<T>`).
pub(crate) fn is_option(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none() && p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

/// The relation proxy a type names (`BelongsTo<User>`, `drift::HasMany<Post>`).
fn proxy_of(ty: &Type) -> Option<(RelKind, &Type)> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    let kind = RelKind::from_proxy(&unraw(&seg.ident))?;
    let syn::PathArguments::AngleBracketed(args) = &seg.arguments else { return None };
    match args.args.first()? {
        syn::GenericArgument::Type(t) => Some((kind, t)),
        _ => None,
    }
}

/// What a field's type is, read from how it is written: enough to reject a
/// validation rule that cannot apply (`range` on a `String`). A type alias or a
/// user type is `Unknown`, and the rules' trait bounds decide.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `String`, `str`, `Cow<str>`.
    Text,
    /// `Vec`, sets, maps, arrays, slices.
    Collection,
    /// An integer type, by name.
    Int(&'static str),
    /// `f32`, `f64`.
    Float,
    /// `bool`, `char`.
    Scalar(&'static str),
    Unknown,
}

/// A secondary index, on field positions: at least one, each once.
pub(crate) struct Index {
    pub(crate) name: String,
    pub(crate) fields: Vec<usize>,
    pub(crate) unique: bool,
    /// The index's name literal, else its `index` or `unique` keyword.
    pub(crate) span: Span,
}

impl Shape {
    /// The shape of `ty` after unwrapping `Option`, references, `Box` and `Cow`.
    pub(crate) fn of(ty: &Type) -> Shape {
        const INTS: [&str; 12] =
            ["u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize"];
        match ty {
            Type::Reference(r) => Shape::of(&r.elem),
            Type::Paren(p) => Shape::of(&p.elem),
            Type::Group(g) => Shape::of(&g.elem),
            Type::Array(_) | Type::Slice(_) => Shape::Collection,
            Type::Path(p) if p.qself.is_none() => {
                let Some(last) = p.path.segments.last() else { return Shape::Unknown };
                let first_arg = match &last.arguments {
                    syn::PathArguments::AngleBracketed(a) => a.args.iter().find_map(|g| match g {
                        syn::GenericArgument::Type(t) => Some(t),
                        _ => None,
                    }),
                    _ => None,
                };
                match unraw(&last.ident).as_str() {
                    "Option" | "Box" | "Cow" => first_arg.map_or(Shape::Unknown, Shape::of),
                    "String" | "str" => Shape::Text,
                    "Vec" | "VecDeque" | "HashSet" | "BTreeSet" | "HashMap" | "BTreeMap" => Shape::Collection,
                    "f32" | "f64" => Shape::Float,
                    "bool" => Shape::Scalar("bool"),
                    "char" => Shape::Scalar("char"),
                    other => INTS.iter().find(|i| **i == other).map_or(Shape::Unknown, |i| Shape::Int(i)),
                }
            }
            _ => Shape::Unknown,
        }
    }
}

impl<'a> Entity<'a> {
    /// Builds the model; `None` when the input is not a struct with named fields.
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a syn::DeriveInput) -> Option<Entity<'a>> {
        let named = match &input.data {
            syn::Data::Struct(syn::DataStruct { fields: syn::Fields::Named(named), .. }) => named,
            syn::Data::Struct(s) => {
                let what = if matches!(s.fields, syn::Fields::Unit) { "a unit struct" } else { "a tuple struct" };
                cx.error_spanned_by(
                    &input.ident,
                    format!("`#[derive(Entity)]` needs a struct with named fields, not {what}"),
                );
                return None;
            }
            syn::Data::Enum(e) => {
                cx.error_spanned_by(e.enum_token, "`#[derive(Entity)]` needs a struct with named fields, not an enum");
                return None;
            }
            syn::Data::Union(u) => {
                cx.error_spanned_by(u.union_token, "`#[derive(Entity)]` needs a struct with named fields, not a union");
                return None;
            }
        };
        let container = Container::from_ast(cx, input);
        let fields: Vec<Field<'a>> = named
            .named
            .iter()
            .filter_map(|f| {
                let ident = f.ident.as_ref()?;
                let shape = Shape::of(&f.ty);
                let proxy = proxy_of(&f.ty);
                let optional = is_option(&f.ty);
                Some(Field {
                    ident,
                    ty: &f.ty,
                    original: f,
                    attrs: FieldAttrs::from_ast(cx, f),
                    shape,
                    proxy,
                    optional,
                })
            })
            .collect();
        let mut indexes = Vec::new();
        for (pos, f) in fields.iter().enumerate() {
            if let Some(span) = f.attrs.unique.or(f.attrs.index) {
                indexes.push(Index { name: unraw(f.ident), fields: vec![pos], unique: f.attrs.unique.is_some(), span });
            }
        }
        for idx in container.indexes {
            let mut positions = Vec::new();
            for name in &idx.fields {
                match fields.iter().position(|f| same(f.ident, name)) {
                    Some(p) => positions.push(p),
                    None => cx.error_spanned_by(
                        name,
                        format!(
                            "unknown field `{}` in `#[drift(index(fields(...)))]`: the struct has no such field",
                            unraw(name)
                        ),
                    ),
                }
            }
            let name = idx.name.as_ref().map_or_else(|| join(&idx.fields, "_"), syn::LitStr::value);
            indexes.push(Index {
                name,
                fields: positions,
                unique: idx.unique,
                span: idx.name.as_ref().map_or(idx.span, syn::LitStr::span),
            });
        }
        let mut relations = Vec::new();
        for (pos, f) in fields.iter().enumerate() {
            let Some(rel) = &f.attrs.relation else { continue };
            let mut key_fields = Vec::new();
            if rel.kind == RelKind::BelongsTo {
                for k in &rel.key {
                    match fields.iter().position(|g| same(g.ident, k)) {
                        Some(p) => key_fields.push(p),
                        None => cx.error_spanned_by(
                            k,
                            format!(
                                "unknown field `{}` in `key = ...`: the struct has no field of that name",
                                unraw(k)
                            ),
                        ),
                    }
                }
                // Children are found through an index on their key: a primary-key
                // prefix, an index that leads with it and has an entry for every row,
                // or one made here. A unique index with an `Option` field past the key
                // has no entry for a row with `None` there, so it does not serve.
                let key_names: Vec<usize> = key_fields.clone();
                let pk: Vec<usize> = (0..fields.len()).filter(|&i| fields[i].attrs.primary_key.is_some()).collect();
                let serves = |i: &Index| {
                    i.fields.starts_with(&key_names)
                        && !(i.unique && i.fields[key_names.len()..].iter().any(|&p| fields[p].optional))
                };
                let served =
                    key_names.len() == rel.key.len() && (pk.starts_with(&key_names) || indexes.iter().any(serves));
                if !served && key_names.len() == rel.key.len() {
                    let name = join(&rel.key, "_");
                    indexes.push(Index { name, fields: key_names, unique: false, span: rel.span });
                }
            }
            relations.push(Relation { field: pos, key_fields });
        }
        let (table, table_span) = match &container.table {
            Some(lit) => (lit.value(), lit.span()),
            None => (snake_case(&unraw(&input.ident)), input.ident.span()),
        };
        Some(Entity {
            ident: &input.ident,
            original: input,
            table,
            table_span,
            version: container.version.map_or(1, |(v, _)| v),
            fields,
            indexes,
            validate_with: container.validate_with,
            relations,
            renamed_from: container.renamed_from,
        })
    }

    /// Positions of the primary-key fields, in declaration order.
    pub(crate) fn key_fields(&self) -> Vec<usize> {
        (0..self.fields.len()).filter(|&i| self.fields[i].attrs.primary_key.is_some()).collect()
    }

    pub(crate) fn auto_increment(&self) -> bool {
        self.fields.iter().any(|f| f.attrs.auto_increment.is_some())
    }
}

impl Field<'_> {
    /// A relation field: declared by its attribute or its proxy type. Never stored.
    pub(crate) fn is_relation(&self) -> bool {
        self.attrs.relation.is_some() || self.proxy.is_some()
    }
}

fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower = i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0 && (prev_lower || (next_lower && chars[i - 1].is_uppercase())) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn snake_case_splits_words_and_acronyms() {
        assert_eq!(snake_case("PostTag"), "post_tag");
        assert_eq!(snake_case("User"), "user");
        assert_eq!(snake_case("HTTPRequest"), "http_request");
    }
}
