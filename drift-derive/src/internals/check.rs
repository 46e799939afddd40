//! Cross-field rules, one `check_<rule>` each, run on the model once attributes parse.
//! Rules that one attribute can check alone are checked while parsing it (`attr.rs`).
//! Generators rely on these: they never validate.

use quote::ToTokens;

use super::ast::{Entity, Field, Shape};
use super::attr::{NumValue, Number, Rule};
use super::ctxt::Ctxt;
use super::describe::{Body, Describe};
use super::relation::{OnDeleteAttr, RelKind};
use super::unraw::{same, unraw};

pub(crate) fn check(cx: &Ctxt, entity: &Entity<'_>) {
    check_relations(cx, entity);
    check_generics(cx, entity);
    check_table_name(cx, entity);
    check_primary_key(cx, entity);
    check_auto_increment(cx, entity);
    check_indexes(cx, entity);
    check_validate_applies(cx, entity);
    check_validate_bounds(cx, entity);
    check_validate_regex(cx, entity);
    check_renamed_from(cx, entity);
    check_migration_attrs_placement(cx, entity);
}

/// The rules of `#[derive(Describe)]` that span more than one attribute.
pub(crate) fn check_describe(cx: &Ctxt, describe: &Describe<'_>) {
    check_transparent(cx, describe);
}

/// `#[serde(transparent)]` sits on a struct with exactly one field that is not
/// skipped: that field's layout is the type's (serde's own rule, repeated so that the
/// shape is never made from a type serde rejects).
fn check_transparent(cx: &Ctxt, describe: &Describe<'_>) {
    let Some(span) = describe.transparent else { return };
    let ok = match &describe.body {
        Body::Struct(members) => members.iter().filter(|m| !m.skip).count() == 1,
        Body::Enum(_) => false,
    };
    if !ok {
        cx.syn_error(syn::Error::new(
            span,
            "`#[serde(transparent)]` needs a struct with exactly one field that is not `#[serde(skip)]`",
        ));
    }
}

/// The struct has no generic parameters: an entity is one table with one schema, and
/// the generated impls name the type without parameters.
fn check_generics(cx: &Ctxt, entity: &Entity<'_>) {
    let generics = &entity.original.generics;
    if !generics.params.is_empty() {
        cx.error_spanned_by(
            generics,
            "`#[derive(Entity)]` does not support generic structs: an entity maps to one table",
        );
    }
}

/// The table name, given or derived from the struct's name, is 1 to 64 ASCII letters,
/// digits or `_`, not starting with a digit: it names the table in the file and is
/// part of the `<table>#<index>` table names and the ASCII `schema/<table>` meta keys
/// (docs/format.md), which a `#`, `/` or non-ASCII character would make ambiguous.
fn check_table_name(cx: &Ctxt, entity: &Entity<'_>) {
    let t = &entity.table;
    let ok = !t.is_empty()
        && t.len() <= 64
        && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !t.starts_with(|c: char| c.is_ascii_digit());
    if !ok {
        cx.syn_error(syn::Error::new(
            entity.table_span,
            format!("invalid table name `{t}`: expected 1 to 64 ASCII letters, digits or `_`, not starting with a digit, as in `#[drift(table = \"my_table\")]`"),
        ));
    }
}

/// At least one field is `primary_key`, and at most 6 (a composite key is a tuple, and
/// `KeyCodec` is implemented for tuples of up to 6): every row is stored under its key.
fn check_primary_key(cx: &Ctxt, entity: &Entity<'_>) {
    let keys = entity.key_fields();
    if keys.is_empty() {
        cx.error_spanned_by(
            entity.ident,
            "expected `#[drift(primary_key)]` on exactly one field, or on each field of a composite key",
        );
    }
    if keys.len() > 6 {
        cx.error_spanned_by(entity.fields[keys[6]].ident, "a composite primary key has at most 6 fields");
    }
}

fn is_u64(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.qself.is_none() && p.path.is_ident("u64"))
}

/// `auto_increment` sits on the only `primary_key` field, of type `u64`: the runtime
/// assigns keys from a `u64` sequence, and a composite key has no next value.
fn check_auto_increment(cx: &Ctxt, entity: &Entity<'_>) {
    let keys = entity.key_fields();
    for f in &entity.fields {
        let Some(span) = f.attrs.auto_increment else {
            continue;
        };
        if f.attrs.primary_key.is_none() {
            cx.syn_error(syn::Error::new(
                span,
                "`#[drift(auto_increment)]` needs `#[drift(primary_key)]` on the same field",
            ));
        } else if keys.len() > 1 {
            cx.syn_error(syn::Error::new(
                span,
                "`#[drift(auto_increment)]` cannot be used with a composite primary key",
            ));
        } else if !is_u64(f.ty) {
            cx.error_spanned_by(
                f.ty,
                format!(
                    "`#[drift(auto_increment)]` needs a `u64` primary key, found `{}`",
                    f.ty.to_token_stream().to_string().replace(' ', "")
                ),
            );
        }
    }
}

/// A field is `unique` or `index`, not both (a unique index is already an index); the
/// primary key is not indexed again (it is unique and ordered); index names differ,
/// as each names a table of the file.
fn check_indexes(cx: &Ctxt, entity: &Entity<'_>) {
    for f in &entity.fields {
        if let (Some(_), Some(span)) = (f.attrs.unique, f.attrs.index) {
            cx.syn_error(syn::Error::new(
                span,
                "use either `#[drift(unique)]` or `#[drift(index)]`: a unique field is already indexed",
            ));
        }
        if f.attrs.primary_key.is_some() {
            if let Some(span) = f.attrs.unique.or(f.attrs.index) {
                cx.syn_error(syn::Error::new(
                    span,
                    "a `#[drift(primary_key)]` field is already unique and ordered: remove this index",
                ));
            }
        }
    }
    for (i, idx) in entity.indexes.iter().enumerate() {
        if entity.indexes[..i].iter().any(|o| o.name == idx.name) {
            cx.syn_error(syn::Error::new(
                idx.span,
                format!(
                    "two indexes are named `{}`: index names must be unique, give one another `name = \"...\"`",
                    idx.name
                ),
            ));
        }
    }
}

fn type_text(ty: &syn::Type) -> String {
    ty.to_token_stream().to_string().replace(' ', "")
}

/// Each rule fits its field's type, where the type's spelling tells: `length` on
/// strings and collections, `range` on numbers, `email` and `regex` on strings. Said
/// here, on the rule, rather than as a trait-bound error inside the generated code.
fn check_validate_applies(cx: &Ctxt, entity: &Entity<'_>) {
    for f in &entity.fields {
        for rule in &f.attrs.validate {
            let (span, fits, what, instead) = match rule {
                Rule::Length { span, .. } => (
                    *span,
                    !matches!(f.shape, Shape::Int(_) | Shape::Float | Shape::Scalar(_)),
                    "strings and collections",
                    "; bound a number with `range(min = .., max = ..)`",
                ),
                Rule::Range { span, .. } => (
                    *span,
                    !matches!(f.shape, Shape::Text | Shape::Collection | Shape::Scalar(_)),
                    "numbers",
                    "; bound a string's or collection's size with `length(min = .., max = ..)`",
                ),
                Rule::Email { span } | Rule::Regex { span, .. } => {
                    (*span, matches!(f.shape, Shape::Text | Shape::Unknown), "strings", "")
                }
                Rule::Custom { .. } => continue,
            };
            if !fits {
                cx.syn_error(syn::Error::new(
                    span,
                    format!(
                        "`{}` applies to {what}, but `{}` has type `{}`{instead}",
                        rule.keyword(),
                        unraw(f.ident),
                        type_text(f.ty)
                    ),
                ));
            }
        }
    }
}

/// Bounds are in order and, on a field of a known number type, of that type: a rule
/// no value can pass, or a bound that does not compile as the field's type, is a
/// mistake better named here than at run time or in a type error.
fn check_validate_bounds(cx: &Ctxt, entity: &Entity<'_>) {
    for f in &entity.fields {
        for rule in &f.attrs.validate {
            match rule {
                Rule::Length { min: Some((lo, _)), max: Some((hi, hi_expr)), .. } if lo > hi => {
                    cx.error_spanned_by(
                        hi_expr,
                        format!("`length` has `min = {lo}` above `max = {hi}`: no value could pass"),
                    );
                }
                Rule::Range { min, max, .. } => {
                    for bound in min.iter().chain(max) {
                        check_number_fits(cx, f, bound);
                    }
                    if let (Some(lo), Some(hi)) = (min, max) {
                        if lo.value.as_f64() > hi.value.as_f64() {
                            cx.error_spanned_by(
                                &hi.expr,
                                format!(
                                    "`range` has `min = {}` above `max = {}`: no value could pass",
                                    lo.expr.to_token_stream().to_string().replace(' ', ""),
                                    hi.expr.to_token_stream().to_string().replace(' ', "")
                                ),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

fn check_number_fits(cx: &Ctxt, f: &Field<'_>, bound: &Number) {
    let Shape::Int(ty) = f.shape else { return };
    let (lo, hi): (i128, i128) = match ty {
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "u64" | "usize" => (0, u64::MAX.into()),
        "u128" => (0, i128::MAX),
        "i8" => (i8::MIN.into(), i8::MAX.into()),
        "i16" => (i16::MIN.into(), i16::MAX.into()),
        "i32" => (i32::MIN.into(), i32::MAX.into()),
        "i64" | "isize" => (i64::MIN.into(), i64::MAX.into()),
        _ => (i128::MIN, i128::MAX),
    };
    let shown = bound.expr.to_token_stream().to_string().replace(' ', "");
    match bound.value {
        NumValue::Float(_) => cx.error_spanned_by(
            &bound.expr,
            format!("`range` on the integer field `{}` needs integer bounds, found `{shown}`", unraw(f.ident)),
        ),
        NumValue::Int(v) if v < lo || v > hi => {
            cx.error_spanned_by(
                &bound.expr,
                format!("`{shown}` is out of range for `{ty}`, the type of `{}`", unraw(f.ident)),
            );
        }
        NumValue::Int(_) => {}
    }
}

/// Each `regex` pattern compiles, with the syntax of the `regex` crate that runs it:
/// a bad pattern would otherwise fail on the first validation, at run time.
fn check_validate_regex(cx: &Ctxt, entity: &Entity<'_>) {
    for f in &entity.fields {
        for rule in &f.attrs.validate {
            let Rule::Regex { pattern, .. } = rule else { continue };
            if let Err(e) = regex_syntax::Parser::new().parse(&pattern.value()) {
                let (kind, offset) = match &e {
                    regex_syntax::Error::Parse(e) => (e.kind().to_string(), e.span().start.offset),
                    regex_syntax::Error::Translate(e) => (e.kind().to_string(), e.span().start.offset),
                    other => (other.to_string(), 0),
                };
                cx.error_spanned_by(
                    pattern,
                    format!("`regex` pattern does not compile: {kind} (at byte {offset} of the pattern)"),
                );
            }
        }
    }
}

/// A relation field has both its attribute and the matching proxy type
/// (`BelongsTo<P>` for `belongs_to(P, ..)`), and is not stored, so neither a key nor
/// indexed. A `belongs_to` key is made of stored fields; `set_null` needs every key
/// field to be an `Option` and none in the primary key (a row's key never changes); a
/// composite key has no `Option` fields (a half-null key points nowhere).
fn check_relations(cx: &Ctxt, entity: &Entity<'_>) {
    for f in &entity.fields {
        match (&f.attrs.relation, f.proxy) {
            (None, Some((kind, target))) => {
                let target = quote::ToTokens::to_token_stream(target).to_string().replace(' ', "");
                let hint = match kind {
                    RelKind::BelongsTo => format!("`#[drift(belongs_to({target}, key = {}_id))]`", unraw(f.ident)),
                    RelKind::HasMany => format!("`#[drift(has_many({target}, foreign_key = ...))]`"),
                    RelKind::HasOne => format!("`#[drift(has_one({target}, foreign_key = ...))]`"),
                    RelKind::ManyToMany => format!("`#[drift(many_to_many({target}, through = ...))]`"),
                };
                cx.error_spanned_by(f.ty, format!("relation field `{}` needs its attribute: {hint}", unraw(f.ident)));
            }
            (Some(rel), proxy) => {
                if proxy.map(|(k, _)| k) != Some(rel.kind) {
                    let target = quote::ToTokens::to_token_stream(&rel.target).to_string().replace(' ', "");
                    cx.error_spanned_by(
                        f.ty,
                        format!(
                            "`#[drift({}(..))]` needs a field of type `{}<{target}>`",
                            rel.kind.attr(),
                            rel.kind.proxy()
                        ),
                    );
                }
                let extra = f.attrs.primary_key.or(f.attrs.index).or(f.attrs.unique).or(f.attrs.auto_increment);
                if let Some(span) = extra {
                    cx.syn_error(syn::Error::new(
                        span,
                        "a relation field is not stored: it cannot be a key or indexed",
                    ));
                }
                if rel.kind == RelKind::BelongsTo {
                    let keys: Vec<&crate::internals::ast::Field<'_>> =
                        rel.key.iter().filter_map(|k| entity.fields.iter().find(|g| same(g.ident, k))).collect();
                    for k in &keys {
                        if k.is_relation() {
                            cx.error_spanned_by(
                                k.ident,
                                "the key of a `belongs_to` must be a stored field, not a relation",
                            );
                        }
                    }
                    let optional: Vec<bool> = keys.iter().map(|k| k.optional).collect();
                    if rel.on_delete == OnDeleteAttr::SetNull && optional.iter().any(|o| !o) {
                        let span = rel.on_delete_span.unwrap_or(rel.span);
                        let k = keys.iter().zip(&optional).find(|(_, o)| !**o).map(|(k, _)| k);
                        let (name, ty) = k.map_or_else(
                            || (String::new(), String::new()),
                            |k| (unraw(k.ident), quote::ToTokens::to_token_stream(k.ty).to_string().replace(' ', "")),
                        );
                        cx.syn_error(syn::Error::new(
                            span,
                            format!("`on_delete = set_null` needs an `Option` key: `{name}` is `{ty}`; make it `Option<{ty}>` or use `restrict` or `cascade`"),
                        ));
                    }
                    if rel.on_delete == OnDeleteAttr::SetNull {
                        if let Some(k) = keys.iter().find(|k| k.attrs.primary_key.is_some()) {
                            cx.syn_error(syn::Error::new(
                                rel.on_delete_span.unwrap_or(rel.span),
                                format!(
                                    "`on_delete = set_null` cannot clear `{}`: it is part of the primary key, and a row's key cannot change; use `restrict` or `cascade`",
                                    unraw(k.ident)
                                ),
                            ));
                        }
                    }
                    if keys.len() > 1 && optional.iter().any(|o| *o) {
                        cx.syn_error(syn::Error::new(
                            rel.span,
                            "a composite `belongs_to` key cannot have `Option` fields",
                        ));
                    }
                }
            }
            (None, None) => {}
        }
    }
}

/// A `renamed_from` names what was there before: not the struct's or field's own name
/// (that is no rename), not a name another field has now (a migration could not tell
/// the two apart), and each old field name once (one stored field becomes one field).
fn check_renamed_from(cx: &Ctxt, entity: &Entity<'_>) {
    if let Some(r) = &entity.renamed_from {
        if r.name == unraw(entity.ident) {
            cx.error_spanned_by(
                &r.lit,
                format!("`renamed_from = \"{}\"` is the struct's own name: give the name it had before", r.name),
            );
        }
    }
    for (i, f) in entity.fields.iter().enumerate() {
        let Some(r) = &f.attrs.renamed_from else { continue };
        let own = unraw(f.ident);
        if r.name == own {
            cx.error_spanned_by(
                &r.lit,
                format!("`renamed_from = \"{own}\"` is the field's own name: give the name it had before"),
            );
        } else if entity.fields.iter().any(|g| unraw(g.ident) == r.name) {
            cx.error_spanned_by(
                &r.lit,
                format!(
                    "`{own}` cannot be renamed from `{0}`: the struct still has a field named `{0}`, and a stored `{0}` cannot become both",
                    r.name
                ),
            );
        } else if let Some(g) =
            entity.fields[..i].iter().find(|g| g.attrs.renamed_from.as_ref().is_some_and(|o| o.name == r.name))
        {
            cx.error_spanned_by(
                &r.lit,
                format!(
                    "`{}` is already renamed from `{}`: one stored field becomes one field, so name it in one `renamed_from`",
                    unraw(g.ident),
                    r.name
                ),
            );
        }
    }
}

/// `renamed_from` and `default` sit on stored fields, and `default` not on the key: a
/// relation has nothing stored to rename or fill in, and every stored row already has
/// its key (a new key field changes every key, which takes a transform).
fn check_migration_attrs_placement(cx: &Ctxt, entity: &Entity<'_>) {
    for f in &entity.fields {
        if f.is_relation() {
            if let Some(r) = &f.attrs.renamed_from {
                cx.syn_error(syn::Error::new(
                    r.span,
                    format!(
                        "`renamed_from` applies to stored fields, and `{}` is a relation, which is not stored",
                        unraw(f.ident)
                    ),
                ));
            }
            if let Some(d) = &f.attrs.default {
                cx.syn_error(syn::Error::new(
                    d.span,
                    format!(
                        "`default` applies to stored fields, and `{}` is a relation, which is not stored",
                        unraw(f.ident)
                    ),
                ));
            }
        } else if let (Some(_), Some(d)) = (f.attrs.primary_key, &f.attrs.default) {
            cx.syn_error(syn::Error::new(
                d.span,
                "a `#[drift(primary_key)]` field cannot have a `default`: every stored row has its key, and a new key field changes every key, which takes a transform",
            ));
        }
    }
}
