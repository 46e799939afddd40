//! Parsing `#[drift(...)]` attributes into plain values, reporting every bad,
//! unknown or duplicate attribute on its own tokens.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::{Ident, LitInt, LitStr};

use super::ctxt::Ctxt;
use super::symbol::{
    AUTO_INCREMENT, DRIFT, FIELDS, INDEX, NAME, PRIMARY_KEY, Symbol, TABLE, UNIQUE, VERSION,
};

/// A value that may be set at most once (serde_derive's `Attr`).
pub(crate) struct Attr<'c, T> {
    cx: &'c Ctxt,
    name: Symbol,
    tokens: TokenStream,
    value: Option<T>,
}

impl<'c, T> Attr<'c, T> {
    fn none(cx: &'c Ctxt, name: Symbol) -> Self {
        Attr {
            cx,
            name,
            tokens: TokenStream::new(),
            value: None,
        }
    }

    fn set<A: ToTokens>(&mut self, obj: A, value: T) {
        let tokens = obj.into_token_stream();
        if self.value.is_some() {
            self.cx.error_spanned_by(
                tokens,
                format!("duplicate `#[drift({})]` attribute", self.name),
            );
        } else {
            self.tokens = tokens;
            self.value = Some(value);
        }
    }

    fn get(self) -> Option<(T, TokenStream)> {
        self.value.map(|v| (v, self.tokens))
    }
}

/// A flag attribute such as `#[drift(unique)]`: its span when present.
fn flag(attr: Attr<'_, ()>) -> Option<Span> {
    attr.get().map(|((), tokens)| {
        tokens
            .into_iter()
            .next()
            .map_or_else(Span::call_site, |t| t.span())
    })
}

/// `#[drift(index(...))]` on the struct.
pub(crate) struct IndexAttr {
    pub(crate) name: Option<LitStr>,
    pub(crate) fields: Vec<Ident>,
    pub(crate) unique: bool,
    pub(crate) span: Span,
}

/// Attributes on the struct.
pub(crate) struct Container {
    pub(crate) table: Option<LitStr>,
    pub(crate) version: Option<(u32, Span)>,
    pub(crate) indexes: Vec<IndexAttr>,
}

/// Attributes on a field.
pub(crate) struct FieldAttrs {
    pub(crate) primary_key: Option<Span>,
    pub(crate) auto_increment: Option<Span>,
    pub(crate) unique: Option<Span>,
    pub(crate) index: Option<Span>,
}

fn unknown(cx: &Ctxt, meta: &ParseNestedMeta<'_>, place: &str, expected: &str) {
    let path = meta.path.to_token_stream().to_string().replace(' ', "");
    cx.error_spanned_by(
        &meta.path,
        format!("unknown drift {place} attribute `{path}`; expected one of {expected}"),
    );
}

/// Skips whatever follows an attribute name so that parsing can go on after an error.
fn skip_rest(meta: &ParseNestedMeta<'_>) {
    if meta.input.peek(syn::Token![=]) {
        let _ = meta.value().and_then(|v| v.parse::<syn::Expr>());
    } else if meta.input.peek(syn::token::Paren) {
        let _ = meta.parse_nested_meta(|inner| {
            skip_rest(&inner);
            Ok(())
        });
    }
}

impl Container {
    pub(crate) fn from_ast(cx: &Ctxt, input: &syn::DeriveInput) -> Container {
        let mut table = Attr::none(cx, TABLE);
        let mut version = Attr::none(cx, VERSION);
        let mut indexes = Vec::new();
        for attr in &input.attrs {
            if attr.path() != DRIFT {
                continue;
            }
            if let syn::Meta::Path(_) = attr.meta {
                cx.error_spanned_by(attr, "expected `#[drift(...)]` with arguments, such as `#[drift(table = \"users\")]`");
                continue;
            }
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path == TABLE {
                    let s: LitStr = meta.value()?.parse()?;
                    table.set(&meta.path, s);
                } else if meta.path == VERSION {
                    let lit: LitInt = meta.value()?.parse()?;
                    match lit.base10_parse::<u32>() {
                        Ok(v) if v > 0 => version.set(&meta.path, (v, lit.span())),
                        _ => cx.error_spanned_by(
                            &lit,
                            "expected `#[drift(version = N)]` with N a positive integer",
                        ),
                    }
                } else if meta.path == INDEX {
                    indexes.push(parse_index(cx, &meta)?);
                } else {
                    unknown(
                        cx,
                        &meta,
                        "struct",
                        "`table`, `version`, `index(fields(...))`",
                    );
                    skip_rest(&meta);
                }
                Ok(())
            });
            if let Err(e) = parsed {
                cx.syn_error(e);
            }
        }
        Container {
            table: table.get().map(|(v, _)| v),
            version: version.get().map(|(v, _)| v),
            indexes,
        }
    }
}

fn parse_index(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<IndexAttr> {
    let span = meta
        .path
        .get_ident()
        .map_or_else(Span::call_site, Ident::span);
    let mut name = Attr::none(cx, NAME);
    let mut fields: Attr<'_, Vec<Ident>> = Attr::none(cx, FIELDS);
    let mut unique = Attr::none(cx, UNIQUE);
    if !meta.input.peek(syn::token::Paren) {
        cx.error_spanned_by(&meta.path, "expected `#[drift(index(fields(a, b)))]` on the struct; on a field write `#[drift(index)]`");
        return Ok(IndexAttr {
            name: None,
            fields: Vec::new(),
            unique: false,
            span,
        });
    }
    meta.parse_nested_meta(|inner| {
        if inner.path == NAME {
            let s: LitStr = inner.value()?.parse()?;
            name.set(&inner.path, s);
        } else if inner.path == FIELDS {
            let mut list = Vec::new();
            inner.parse_nested_meta(|f| {
                match f.path.get_ident() {
                    Some(id) => list.push(id.clone()),
                    None => cx.error_spanned_by(&f.path, "expected a field name"),
                }
                Ok(())
            })?;
            fields.set(&inner.path, list);
        } else if inner.path == UNIQUE {
            unique.set(&inner.path, ());
        } else {
            unknown(
                cx,
                &inner,
                "index",
                "`fields(...)`, `name = \"...\"`, `unique`",
            );
            skip_rest(&inner);
        }
        Ok(())
    })?;
    let fields = fields.get().map(|(v, _)| v).unwrap_or_default();
    Ok(IndexAttr {
        name: name.get().map(|(v, _)| v),
        fields,
        unique: flag(unique).is_some(),
        span,
    })
}

impl FieldAttrs {
    pub(crate) fn from_ast(cx: &Ctxt, field: &syn::Field) -> FieldAttrs {
        let mut primary_key = Attr::none(cx, PRIMARY_KEY);
        let mut auto_increment = Attr::none(cx, AUTO_INCREMENT);
        let mut unique = Attr::none(cx, UNIQUE);
        let mut index = Attr::none(cx, INDEX);
        for attr in &field.attrs {
            if attr.path() != DRIFT {
                continue;
            }
            if let syn::Meta::Path(_) = attr.meta {
                cx.error_spanned_by(
                    attr,
                    "expected `#[drift(...)]` with arguments, such as `#[drift(primary_key)]`",
                );
                continue;
            }
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path == PRIMARY_KEY {
                    primary_key.set(&meta.path, ());
                } else if meta.path == AUTO_INCREMENT {
                    auto_increment.set(&meta.path, ());
                } else if meta.path == UNIQUE {
                    unique.set(&meta.path, ());
                } else if meta.path == INDEX {
                    if meta.input.peek(syn::token::Paren) {
                        cx.error_spanned_by(
                            &meta.path,
                            "`#[drift(index(...))]` belongs on the struct; on a field write `#[drift(index)]`",
                        );
                        skip_rest(&meta);
                    } else {
                        index.set(&meta.path, ());
                    }
                } else if meta.path == TABLE || meta.path == VERSION {
                    let path = meta.path.to_token_stream().to_string();
                    cx.error_spanned_by(&meta.path, format!("`#[drift({path} = ...)]` belongs on the struct, not on a field"));
                    skip_rest(&meta);
                } else {
                    unknown(cx, &meta, "field", "`primary_key`, `auto_increment`, `unique`, `index`");
                    skip_rest(&meta);
                }
                Ok(())
            });
            if let Err(e) = parsed {
                cx.syn_error(e);
            }
        }
        FieldAttrs {
            primary_key: flag(primary_key),
            auto_increment: flag(auto_increment),
            unique: flag(unique),
            index: flag(index),
        }
    }
}
