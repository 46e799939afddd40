//! Cross-field rules, one `check_<rule>` each. Generators rely on these.

use quote::ToTokens;

use super::ast::Entity;
use super::ctxt::Ctxt;

pub(crate) fn check(cx: &Ctxt, entity: &Entity<'_>) {
    check_generics(cx, entity);
    check_table_name(cx, entity);
    check_primary_key(cx, entity);
    check_auto_increment(cx, entity);
    check_indexes(cx, entity);
}

fn check_generics(cx: &Ctxt, entity: &Entity<'_>) {
    let generics = &entity.original.generics;
    if !generics.params.is_empty() {
        cx.error_spanned_by(
            generics,
            "`#[derive(Entity)]` does not support generic structs: an entity maps to one table",
        );
    }
}

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
