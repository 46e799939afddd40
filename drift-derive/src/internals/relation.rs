//! Parsing relation attributes: `belongs_to`, `has_many`, `has_one`, `many_to_many`.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::{Expr, Ident, Path};

use super::ctxt::Ctxt;
use super::symbol::{BELONGS_TO, FOREIGN_KEY, HAS_MANY, HAS_ONE, KEY, MANY_TO_MANY, ON_DELETE, THROUGH};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum RelKind {
    BelongsTo,
    HasMany,
    HasOne,
    ManyToMany,
}

impl RelKind {
    pub(crate) fn attr(self) -> &'static str {
        match self {
            RelKind::BelongsTo => "belongs_to",
            RelKind::HasMany => "has_many",
            RelKind::HasOne => "has_one",
            RelKind::ManyToMany => "many_to_many",
        }
    }

    /// The proxy type a field of this kind must have.
    pub(crate) fn proxy(self) -> &'static str {
        match self {
            RelKind::BelongsTo => "BelongsTo",
            RelKind::HasMany => "HasMany",
            RelKind::HasOne => "HasOne",
            RelKind::ManyToMany => "ManyToMany",
        }
    }

    pub(crate) fn from_proxy(name: &str) -> Option<RelKind> {
        match name {
            "BelongsTo" => Some(RelKind::BelongsTo),
            "HasMany" => Some(RelKind::HasMany),
            "HasOne" => Some(RelKind::HasOne),
            "ManyToMany" => Some(RelKind::ManyToMany),
            _ => None,
        }
    }

    pub(crate) fn from_meta(meta: &ParseNestedMeta<'_>) -> Option<RelKind> {
        if meta.path == BELONGS_TO {
            Some(RelKind::BelongsTo)
        } else if meta.path == HAS_MANY {
            Some(RelKind::HasMany)
        } else if meta.path == HAS_ONE {
            Some(RelKind::HasOne)
        } else if meta.path == MANY_TO_MANY {
            Some(RelKind::ManyToMany)
        } else {
            None
        }
    }

    fn form(self) -> &'static str {
        match self {
            RelKind::BelongsTo => "`#[drift(belongs_to(Parent, key = parent_id, on_delete = restrict))]`",
            RelKind::HasMany => "`#[drift(has_many(Child, foreign_key = parent_id))]`",
            RelKind::HasOne => "`#[drift(has_one(Child, foreign_key = parent_id))]`",
            RelKind::ManyToMany => "`#[drift(many_to_many(Other, through = Join))]`",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum OnDeleteAttr {
    Restrict,
    Cascade,
    SetNull,
}

/// A parsed relation attribute.
pub(crate) struct RelationAttr {
    pub(crate) kind: RelKind,
    pub(crate) span: Span,
    pub(crate) target: Path,
    /// `key = ..` (belongs_to) or `foreign_key = ..` (has_many, has_one).
    pub(crate) key: Vec<Ident>,
    pub(crate) on_delete: OnDeleteAttr,
    pub(crate) on_delete_span: Option<Span>,
    pub(crate) through: Option<Path>,
}

fn idents(cx: &Ctxt, expr: &Expr) -> Vec<Ident> {
    let one = |e: &Expr| match e {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident().cloned(),
        _ => None,
    };
    let list: Vec<&Expr> = match expr {
        Expr::Tuple(t) => t.elems.iter().collect(),
        Expr::Paren(p) => vec![&*p.expr],
        e => vec![e],
    };
    let mut out = Vec::new();
    for e in list {
        match one(e) {
            Some(i) => out.push(i),
            None => cx.error_spanned_by(e, "expected a field name, or `(a, b)` for a composite key"),
        }
    }
    out
}

/// Parses the arguments of `belongs_to(..)` and its kin.
pub(crate) fn parse(cx: &Ctxt, meta: &ParseNestedMeta<'_>, kind: RelKind) -> syn::Result<Option<RelationAttr>> {
    let span = meta.path.get_ident().map_or_else(Span::call_site, Ident::span);
    if !meta.input.peek(syn::token::Paren) {
        cx.error_spanned_by(&meta.path, format!("expected {}", kind.form()));
        return Ok(None);
    }
    let mut target: Option<Path> = None;
    let mut key: Option<Vec<Ident>> = None;
    let mut on_delete = (OnDeleteAttr::Restrict, None);
    let mut through: Option<Path> = None;
    meta.parse_nested_meta(|inner| {
        let key_word = if kind == RelKind::BelongsTo { KEY } else { FOREIGN_KEY };
        if inner.path == key_word && kind != RelKind::ManyToMany {
            let e: Expr = inner.value()?.parse()?;
            if key.is_some() {
                cx.error_spanned_by(&inner.path, format!("duplicate `{key_word}` in `{}`", kind.attr()));
            }
            key = Some(idents(cx, &e));
        } else if inner.path == ON_DELETE && kind == RelKind::BelongsTo {
            let v: Ident = inner.value()?.parse()?;
            let mode = match v.to_string().as_str() {
                "restrict" => OnDeleteAttr::Restrict,
                "cascade" => OnDeleteAttr::Cascade,
                "set_null" => OnDeleteAttr::SetNull,
                _ => {
                    cx.error_spanned_by(&v, "expected `on_delete = restrict`, `cascade` or `set_null`");
                    OnDeleteAttr::Restrict
                }
            };
            on_delete = (mode, Some(v.span()));
        } else if inner.path == THROUGH && kind == RelKind::ManyToMany {
            through = Some(inner.value()?.parse()?);
        } else if !inner.input.peek(syn::Token![=]) && !inner.input.peek(syn::token::Paren) && target.is_none() {
            target = Some(inner.path.clone());
        } else {
            let what = quote::ToTokens::to_token_stream(&inner.path).to_string();
            cx.error_spanned_by(
                &inner.path,
                format!("unexpected `{what}` in `{}`: expected {}", kind.attr(), kind.form()),
            );
            if inner.input.peek(syn::Token![=]) {
                let _: Expr = inner.value()?.parse()?;
            }
        }
        Ok(())
    })?;
    let Some(target) = target else {
        cx.error_spanned_by(&meta.path, format!("missing the related entity: expected {}", kind.form()));
        return Ok(None);
    };
    let key = match (kind, key) {
        (RelKind::ManyToMany, _) => Vec::new(),
        (_, Some(k)) if !k.is_empty() => k,
        (_, _) => {
            let word = if kind == RelKind::BelongsTo { "key" } else { "foreign_key" };
            cx.error_spanned_by(&meta.path, format!("missing `{word} = ...`: expected {}", kind.form()));
            return Ok(None);
        }
    };
    if kind == RelKind::ManyToMany && through.is_none() {
        cx.error_spanned_by(&meta.path, format!("missing `through = Join`: expected {}", kind.form()));
        return Ok(None);
    }
    Ok(Some(RelationAttr { kind, span, target, key, on_delete: on_delete.0, on_delete_span: on_delete.1, through }))
}
